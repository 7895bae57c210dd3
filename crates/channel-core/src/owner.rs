//! One owner per account: a running account holds an exclusive lock on
//! `<channel state>/locks/<account>.lock`, so two gateways (or a gateway and a CLI) on one state
//! directory never both run it, each with its own journal, send log and cursor.
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), channel_core::ChannelError> {
//! use channel_core::owner::AccountLock;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let _owner = AccountLock::acquire(dir, "team-b", &cancel).await?;
//! // … run the account; the lock goes with `_owner`.
//! # Ok(()) }
//! ```
//!
//! The lock is `flock(2)`: the kernel releases it when the process dies, SIGKILL included, so a
//! crash never leaves an account locked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::ChannelError;

/// How long a start waits for the account's previous owner: the run a restart replaces may
/// still be closing in this process, and a gateway being replaced may still be exiting.
pub const WAIT_FOR_OWNER: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

/// The held lock; dropping it lets the next owner in.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
    path: PathBuf,
}

impl AccountLock {
    /// Takes the lock of `account` under `state_dir`, waiting up to [`WAIT_FOR_OWNER`] for its
    /// current owner. A `Permanent` error names the owning process and the file when it will
    /// not let go.
    pub async fn acquire(
        state_dir: &Path,
        account: &str,
        cancel: &CancellationToken,
    ) -> Result<Self, ChannelError> {
        let dir = state_dir.join("locks");
        crate::state::ensure_private_dir(&dir)
            .map_err(|e| ChannelError::from(e).context(format!("creating {}", dir.display())))?;
        let path = dir.join(format!("{account}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| ChannelError::from(e).context(format!("opening {}", path.display())))?;
        let deadline = tokio::time::Instant::now() + WAIT_FOR_OWNER;
        loop {
            // Qualified: std's own `File::try_lock` is newer than this crate's MSRV.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => break,
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(
                        ChannelError::from(e).context(format!("locking {}", path.display()))
                    );
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let owner = read_owner(&mut file);
                return Err(ChannelError::permanent(format!(
                    "account {account} is already running in another process{owner} on this state \
                     directory ({}); stop that one, or give each gateway its own OPENCLAW_STATE_DIR",
                    path.display()
                )));
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    return Err(ChannelError::transient(format!(
                        "account {account}: stopped while waiting for its previous run to end"
                    )));
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
        // Who owns it, for the message a second process shows. Best-effort: the lock is what
        // counts, not the text.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// ` (pid N)` from the lock file, or nothing.
fn read_owner(file: &mut File) -> String {
    let mut text = String::new();
    let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
    match (read, text.trim().parse::<u32>()) {
        (Ok(_), Ok(pid)) => format!(" (pid {pid})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_owner_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let first = AccountLock::acquire(tmp.path(), "team-b", &cancel)
            .await
            .expect("first");
        // flock locks belong to an open file: a second open, even in this process, is another
        // owner, as a second gateway would be.
        let err = AccountLock::acquire(tmp.path(), "team-b", &cancel)
            .await
            .expect_err("second");
        assert_eq!(err.kind, crate::ErrorKind::Permanent);
        assert!(
            err.message
                .contains(&format!("(pid {})", std::process::id()))
                && err.message.contains("team-b.lock"),
            "{err}"
        );
        AccountLock::acquire(tmp.path(), "other", &cancel)
            .await
            .expect("another account is another lock");

        // A restart: the new run waits for the old one to close.
        let waiting = {
            let (dir, cancel) = (tmp.path().to_owned(), cancel.clone());
            tokio::spawn(async move { AccountLock::acquire(&dir, "team-b", &cancel).await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.expect("join").expect("taken over");
        assert!(second.path().ends_with("locks/team-b.lock"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_while_waiting_ends_the_wait() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let _held = AccountLock::acquire(tmp.path(), "a", &cancel)
            .await
            .expect("held");
        let stop = CancellationToken::new();
        let waiting = {
            let (dir, stop) = (tmp.path().to_owned(), stop.clone());
            tokio::spawn(async move { AccountLock::acquire(&dir, "a", &stop).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.cancel();
        let err = waiting.await.expect("join").expect_err("stopped");
        assert_eq!(err.kind, crate::ErrorKind::Transient);
    }
}
