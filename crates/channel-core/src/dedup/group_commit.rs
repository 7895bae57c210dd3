//! Group commit: one fsync for every journal line written while the previous fsync ran.
//!
//! An fsync costs 0.2 to 10 ms on the machines this runs on, and a message was once one
//! fsync: a burst of 10,000 took seconds however fast the rest was. Writers now append without
//! syncing and then wait for [`GroupCommit::durable`]. Only one fsync runs at a time; whoever
//! comes next syncs everything written by then, so the lines written while one fsync ran share
//! the next one, and a writer whose line an fsync already covered does not wait for another.
//! The fsync runs on the blocking pool, not on the runtime's workers.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::Journal;

/// An account's journal, shared by its receive loop and its turns.
#[derive(Debug)]
pub struct GroupCommit {
    journal: Mutex<Journal>,
    /// Held while an fsync runs: the next writer waits here, then syncs for everyone.
    syncing: tokio::sync::Mutex<()>,
    fsyncs: AtomicU64,
}

impl GroupCommit {
    pub fn new(journal: Journal) -> Self {
        Self {
            journal: Mutex::new(journal),
            syncing: tokio::sync::Mutex::new(()),
            fsyncs: AtomicU64::new(0),
        }
    }

    /// The journal, for a write. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, Journal> {
        crate::lock(&self.journal)
    }

    /// Returns once the journal's first `upto` lines (a [`Journal::written`] count) are on
    /// disk.
    pub async fn durable(&self, upto: u64) -> io::Result<()> {
        if self.lock().synced() >= upto {
            return Ok(());
        }
        let _turn = self.syncing.lock().await;
        // The fsync that ran while this one waited may have covered it.
        let (file, target) = {
            let journal = self.lock();
            if journal.synced() >= upto {
                return Ok(());
            }
            (journal.handle()?, journal.written())
        };
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(io::Error::other)??;
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.lock().set_synced(target);
        Ok(())
    }

    /// Fsyncs run by [`GroupCommit::durable`] so far (tests and benchmarks).
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dedup::{Admit, Window};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_come_while_an_fsync_runs_share_the_next_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path().join("j.jsonl"), Window::default()).expect("open");
        let commit = Arc::new(GroupCommit::new(journal));
        let writers = (0..64).map(|n| {
            let commit = Arc::clone(&commit);
            tokio::spawn(async move {
                let upto = {
                    let mut journal = commit.lock();
                    assert_eq!(
                        journal.admit_unsynced(&format!("m{n}")).expect("write"),
                        Admit::New
                    );
                    journal.written()
                };
                commit.durable(upto).await.expect("durable");
                assert!(
                    commit.lock().synced() >= upto,
                    "returned before its line was synced"
                );
            })
        });
        for writer in futures::future::join_all(writers).await {
            writer.expect("writer");
        }
        let fsyncs = commit.fsyncs();
        assert!(
            (1..64).contains(&fsyncs),
            "64 writers at once should share fsyncs, ran {fsyncs}"
        );
        assert_eq!(commit.lock().synced(), 64);
    }

    #[tokio::test]
    async fn a_line_already_synced_needs_no_fsync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path().join("j.jsonl"), Window::default()).expect("open");
        let commit = GroupCommit::new(journal);
        let upto = {
            let mut journal = commit.lock();
            journal.admit_unsynced("a").expect("write");
            // A line that syncs (a recorded reply, an admit) syncs what came before it.
            journal.admit("b").expect("write");
            journal.written()
        };
        commit.durable(upto - 1).await.expect("durable");
        assert_eq!(commit.fsyncs(), 0);
    }
}
