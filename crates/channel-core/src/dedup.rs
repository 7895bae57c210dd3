//! Persistent inbound dedup, which doubles as the inbox of accepted-but-unfinished turns.
//!
//! IM servers deliver at least once: the same message comes back a second later, or half an hour
//! later after a slow turn, or again after a restart. The journal remembers every server message
//! id of one account in a bounded window, on disk, so none of those reach the agent twice.
//!
//! An accepted message is written as *pending* together with its content before the channel
//! moves its cursor past it, and marked *done* when the host finished the turn. After a crash the
//! pending ones are handed back for replay, so moving the cursor early never loses a message.
//!
//! The file is append-only JSON lines, compacted atomically when it grows. A torn last line (a
//! crash mid-append) is skipped on load.
//!
//! A line is durable once fsynced. [`Journal::admit`] and friends sync before they return; the
//! `*_unsynced` variants only write, and [`GroupCommit`] then makes every line written so far
//! durable with one fsync, however many messages (or tasks) wrote them.

mod group_commit;

pub use group_commit::GroupCommit;

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::host::ReplyPayload;
use crate::message::Inbound;
use crate::state;

/// The journal stores unsigned times.
fn now_ms() -> u64 {
    crate::now_ms().max(0) as u64
}

/// How much history the journal keeps.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub max_entries: usize,
    pub max_age: Duration,
}

impl Default for Window {
    /// Redeliveries were seen up to ~50 minutes late; a week covers restarts and long outages.
    fn default() -> Self {
        Self {
            max_entries: 20_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Done {
        done: String,
    },
    /// Reply `n` (1-based) of a pending turn, recorded before it is sent.
    Reply {
        reply: String,
        n: usize,
        payload: ReplyPayload,
    },
    /// A start replayed the pending turn (one line per start).
    Started {
        started: String,
    },
    Seen {
        id: String,
        at: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pending: Option<Box<Inbound>>,
    },
}

#[derive(Debug)]
struct Entry {
    at: u64,
    pending: Option<Box<Inbound>>,
    /// The replies a pending turn produced so far, in order.
    replies: Vec<ReplyPayload>,
    /// How many starts replayed this pending turn.
    starts: u32,
}

impl Entry {
    fn new(at: u64, pending: Option<Box<Inbound>>) -> Self {
        Self {
            at,
            pending,
            replies: Vec::new(),
            starts: 0,
        }
    }

    /// Takes reply `n` if it is the next one of a pending turn.
    fn add_reply(&mut self, n: usize, payload: &ReplyPayload) -> bool {
        let next = self.pending.is_some() && n == self.replies.len() + 1;
        if next {
            self.replies.push(payload.clone());
        }
        next
    }
}

/// How far the journal may grow past its window (or past its last sweep) before a sweep: an
/// eighth, so that the sweep's cost, spread over that many inserts, is a few steps each.
fn sweep_slack(window: &Window) -> usize {
    window.max_entries / 8 + 1
}

/// When an appended line must reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Before the call returns: a message accepted, a reply recorded before it is sent.
    Now,
    /// With the next line that syncs (or the next compaction). A turn's end and a replay's
    /// start: once written they survive the process (the kernel has them); only a crash of the
    /// machine before the next sync loses them, and then the turn runs once more, which the
    /// send log keeps from sending its replies twice.
    WithNext,
}

/// What happened to an id offered to [`Journal::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// First sighting: recorded.
    New,
    /// Seen before (finished or still in flight).
    Duplicate,
}

/// The dedup journal of one account.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    window: Window,
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
    /// Past this many entries, [`Journal::evict`] sweeps the whole order (see there).
    sweep_above: usize,
    file: File,
    lines: usize,
    /// Lines appended since open (never reset), and how many of them are known durable.
    written: u64,
    synced: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, dropping entries outside `window`.
    pub fn open(path: impl Into<PathBuf>, window: Window) -> io::Result<Self> {
        let path = path.into();
        let mut entries: HashMap<String, Entry> = HashMap::new();
        let mut order = VecDeque::new();
        match File::open(&path) {
            Ok(file) => {
                for (n, line) in BufReader::new(file).lines().enumerate() {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Line>(&line) {
                        Ok(Line::Seen { id, at, pending }) => {
                            if entries
                                .insert(id.clone(), Entry::new(at, pending))
                                .is_none()
                            {
                                order.push_back(id);
                            }
                        }
                        Ok(Line::Done { done }) => {
                            if let Some(entry) = entries.get_mut(&done) {
                                entry.pending = None;
                                entry.replies.clear();
                            }
                        }
                        Ok(Line::Reply { reply, n, payload }) => {
                            if let Some(entry) = entries.get_mut(&reply) {
                                entry.add_reply(n, &payload);
                            }
                        }
                        Ok(Line::Started { started }) => {
                            if let Some(entry) = entries.get_mut(&started)
                                && entry.pending.is_some()
                            {
                                entry.starts = entry.starts.saturating_add(1);
                            }
                        }
                        Err(err) => tracing::warn!(
                            path = %path.display(),
                            line = n + 1,
                            %err,
                            "skipping unreadable dedup journal line"
                        ),
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        if let Some(dir) = path.parent() {
            state::ensure_private_dir(dir)?;
        }
        let mut journal = Self {
            file: Self::open_append(&path)?,
            path,
            window,
            entries,
            order,
            sweep_above: 0,
            lines: 0,
            written: 0,
            synced: 0,
        };
        journal.sweep(now_ms());
        journal.compact()?;
        Ok(journal)
    }

    fn open_append(path: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Records `id` as seen, with nothing left to do (e.g. a message the DM gate dropped).
    pub fn admit(&mut self, id: &str) -> io::Result<Admit> {
        self.insert(id, None, Sync::Now)
    }

    /// Records an accepted message whose turn has not finished yet.
    pub fn admit_pending(&mut self, inbound: &Inbound) -> io::Result<Admit> {
        self.insert(
            &inbound.server_id,
            Some(Box::new(inbound.clone())),
            Sync::Now,
        )
    }

    /// [`Journal::admit`], written but not yet durable: see [`Journal::written`].
    pub fn admit_unsynced(&mut self, id: &str) -> io::Result<Admit> {
        self.insert(id, None, Sync::WithNext)
    }

    /// [`Journal::admit_pending`], written but not yet durable: see [`Journal::written`].
    pub fn admit_pending_unsynced(&mut self, inbound: &Inbound) -> io::Result<Admit> {
        self.insert(
            &inbound.server_id,
            Some(Box::new(inbound.clone())),
            Sync::WithNext,
        )
    }

    /// How many lines were written since open; the lines up to a count are durable once
    /// [`Journal::synced`] reached it.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// How many of the [`Journal::written`] lines are known to be on disk.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// A second handle on the file, so that an fsync need not hold the journal.
    pub fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Records that an fsync of [`Journal::handle`] covered the first `upto` lines.
    pub fn set_synced(&mut self, upto: u64) {
        self.synced = self.synced.max(upto.min(self.written));
    }

    fn insert(&mut self, id: &str, pending: Option<Box<Inbound>>, sync: Sync) -> io::Result<Admit> {
        if self.entries.contains_key(id) {
            return Ok(Admit::Duplicate);
        }
        let at = now_ms();
        self.append(
            &Line::Seen {
                id: id.to_owned(),
                at,
                pending: pending.clone(),
            },
            sync,
        )?;
        self.entries.insert(id.to_owned(), Entry::new(at, pending));
        self.order.push_back(id.to_owned());
        self.evict(at);
        Ok(Admit::New)
    }

    /// Marks a pending message's turn as finished.
    pub fn complete(&mut self, id: &str) -> io::Result<()> {
        match self.entries.get_mut(id) {
            Some(entry) if entry.pending.is_some() => {
                entry.pending = None;
                entry.replies.clear();
                self.append(
                    &Line::Done {
                        done: id.to_owned(),
                    },
                    Sync::WithNext,
                )
            }
            _ => Ok(()),
        }
    }

    /// Records reply `n` (1-based) of the pending turn `id` before it is sent, so a turn cut
    /// short after its agent answered can still deliver that answer. A reply recorded before
    /// (a replay producing it again) keeps its first content.
    pub fn record_reply(&mut self, id: &str, n: usize, payload: &ReplyPayload) -> io::Result<()> {
        let Some(entry) = self.entries.get_mut(id) else {
            return Ok(());
        };
        if !entry.add_reply(n, payload) {
            return Ok(());
        }
        self.append(
            &Line::Reply {
                reply: id.to_owned(),
                n,
                payload: payload.clone(),
            },
            Sync::Now,
        )
    }

    /// Messages accepted before a crash whose turns never finished, oldest first, each with the
    /// replies its turn had produced.
    pub fn pending(&self) -> Vec<(Inbound, Vec<ReplyPayload>)> {
        self.pending_with_starts()
            .into_iter()
            .map(|(inbound, replies, _)| (inbound, replies))
            .collect()
    }

    /// [`Journal::pending`], each with the number of starts that replayed it already.
    pub fn pending_with_starts(&self) -> Vec<(Inbound, Vec<ReplyPayload>, u32)> {
        self.order
            .iter()
            .filter_map(|id| {
                let entry = self.entries.get(id)?;
                let inbound = entry.pending.as_deref()?.clone();
                Some((inbound, entry.replies.clone(), entry.starts))
            })
            .collect()
    }

    /// Counts one more start replaying the pending turn `id`.
    pub fn started(&mut self, id: &str) -> io::Result<()> {
        match self.entries.get_mut(id) {
            Some(entry) if entry.pending.is_some() => {
                entry.starts = entry.starts.saturating_add(1);
                self.append(
                    &Line::Started {
                        started: id.to_owned(),
                    },
                    Sync::WithNext,
                )
            }
            _ => Ok(()),
        }
    }

    fn append(&mut self, line: &Line, sync: Sync) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.written += 1;
        if sync == Sync::Now {
            self.file.sync_data()?;
            self.synced = self.written;
        }
        self.lines += 1;
        if self.lines > 2 * self.entries.len() + 256 {
            self.compact()?;
        }
        Ok(())
    }

    /// Drops the oldest finished entries beyond the window, in amortized constant time per
    /// insert. Pending entries always stay: one at the front stops the cheap path, and the
    /// entries behind it wait for a sweep, which runs only once the journal grew by a slack
    /// since the last one.
    fn evict(&mut self, now: u64) {
        let max_age = self.window.max_age.as_millis() as u64;
        while let Some(id) = self.order.front() {
            let Some(entry) = self.entries.get(id) else {
                self.order.pop_front();
                continue;
            };
            let beyond = self.order.len() > self.window.max_entries
                || now.saturating_sub(entry.at) > max_age;
            if !beyond || entry.pending.is_some() {
                break;
            }
            if let Some(id) = self.order.pop_front() {
                self.entries.remove(&id);
            }
        }
        if self.order.len() > self.sweep_above {
            self.sweep(now);
        }
    }

    /// Drops every finished entry beyond the window, wherever it stands in the order.
    fn sweep(&mut self, now: u64) {
        let max_age = self.window.max_age.as_millis() as u64;
        let mut kept = VecDeque::with_capacity(self.order.len());
        let excess = self.order.len().saturating_sub(self.window.max_entries);
        for (index, id) in std::mem::take(&mut self.order).into_iter().enumerate() {
            let Some(entry) = self.entries.get(&id) else {
                continue;
            };
            let too_old = now.saturating_sub(entry.at) > max_age;
            if entry.pending.is_none() && (index < excess || too_old) {
                self.entries.remove(&id);
            } else {
                kept.push_back(id);
            }
        }
        self.order = kept;
        self.sweep_above =
            self.order.len().max(self.window.max_entries) + sweep_slack(&self.window);
    }

    /// Rewrites the file with only the live entries, atomically.
    fn compact(&mut self) -> io::Result<()> {
        let mut bytes = Vec::new();
        for id in &self.order {
            if let Some(entry) = self.entries.get(id) {
                let line = Line::Seen {
                    id: id.clone(),
                    at: entry.at,
                    pending: entry.pending.clone(),
                };
                serde_json::to_writer(&mut bytes, &line).map_err(io::Error::other)?;
                bytes.push(b'\n');
                for (n, payload) in entry.replies.iter().enumerate() {
                    let line = Line::Reply {
                        reply: id.clone(),
                        n: n + 1,
                        payload: payload.clone(),
                    };
                    serde_json::to_writer(&mut bytes, &line).map_err(io::Error::other)?;
                    bytes.push(b'\n');
                }
                for _ in 0..entry.starts {
                    let line = Line::Started {
                        started: id.clone(),
                    };
                    serde_json::to_writer(&mut bytes, &line).map_err(io::Error::other)?;
                    bytes.push(b'\n');
                }
            }
        }
        state::write_atomic(&self.path, &bytes)?;
        self.file = Self::open_append(&self.path)?;
        self.lines = self.entries.len();
        // The rewrite was synced, and it holds everything written before.
        self.synced = self.written;
        Ok(())
    }
}

/// Removes a journal file (account logout).
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Chat, ChatKind, Sender};

    fn inbound(id: &str) -> Inbound {
        Inbound {
            channel: "test".into(),
            account: "a1".into(),
            chat: Chat {
                kind: ChatKind::Direct,
                id: "peer".into(),
                title: None,
                host_peer: None,
            },
            sender: Sender {
                id: "peer".into(),
                name: None,
            },
            text: format!("text of {id}"),
            media: vec![],
            mentions: vec![],
            was_mentioned: false,
            command_authorized: false,
            reply_to: None,
            server_id: id.into(),
            timestamp_ms: 1,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn duplicates_are_caught_in_process_and_across_restart() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a1.dedup.jsonl");
        {
            let mut journal = Journal::open(&path, Window::default()).expect("open");
            assert_eq!(journal.admit("m1").expect("admit"), Admit::New);
            assert_eq!(journal.admit("m1").expect("admit"), Admit::Duplicate);
            assert_eq!(
                journal.admit_pending(&inbound("m2")).expect("admit"),
                Admit::New
            );
            assert_eq!(
                journal.admit_pending(&inbound("m2")).expect("admit"),
                Admit::Duplicate
            );
        }
        let mut journal = Journal::open(&path, Window::default()).expect("reopen");
        assert_eq!(journal.admit("m1").expect("admit"), Admit::Duplicate);
        assert_eq!(journal.admit("m2").expect("admit"), Admit::Duplicate);
        assert_eq!(journal.admit("m3").expect("admit"), Admit::New);
    }

    #[test]
    fn unfinished_turns_survive_a_crash_and_finished_ones_do_not_replay() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        {
            let mut journal = Journal::open(&path, Window::default()).expect("open");
            journal.admit_pending(&inbound("done")).expect("admit");
            journal.admit_pending(&inbound("crashed")).expect("admit");
            journal.complete("done").expect("complete");
        }
        let journal = Journal::open(&path, Window::default()).expect("reopen");
        let pending = journal.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].0.server_id, "crashed");
        assert_eq!(pending[0].0.text, "text of crashed");
        assert!(pending[0].1.is_empty());
    }

    #[test]
    fn replies_of_a_pending_turn_survive_a_crash_and_compaction_until_it_is_done() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        let reply = |text: &str| ReplyPayload {
            text: text.into(),
            ..ReplyPayload::default()
        };
        {
            let mut journal = Journal::open(&path, Window::default()).expect("open");
            journal.admit_pending(&inbound("cut")).expect("admit");
            journal.record_reply("cut", 1, &reply("first")).expect("r1");
            journal
                .record_reply("cut", 2, &reply("second"))
                .expect("r2");
            // A replay producing reply 1 again keeps the first content; a gap is refused.
            journal
                .record_reply("cut", 1, &reply("other"))
                .expect("r1 again");
            journal.record_reply("cut", 4, &reply("gap")).expect("gap");
            journal.admit("dropped").expect("admit");
            journal
                .record_reply("dropped", 1, &reply("x"))
                .expect("not pending");
        }
        // Opening compacts the file: the replies must be kept with their turn.
        let journal = Journal::open(&path, Window::default()).expect("reopen");
        let mut journal = Journal::open(journal.path(), Window::default()).expect("reopen again");
        let pending = journal.pending();
        assert_eq!(pending.len(), 1);
        let texts: Vec<_> = pending[0].1.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
        journal.complete("cut").expect("complete");
        drop(journal);
        let journal = Journal::open(&path, Window::default()).expect("reopen");
        assert!(journal.pending().is_empty());
    }

    #[test]
    fn window_is_bounded_by_count_but_keeps_pending() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        let window = Window {
            max_entries: 10,
            max_age: Duration::from_secs(3600),
        };
        let mut journal = Journal::open(&path, window).expect("open");
        journal.admit_pending(&inbound("keep-me")).expect("admit");
        for n in 0..100 {
            journal.admit(&format!("m{n}")).expect("admit");
        }
        // The window, the pending entry, and the slack a pending front entry lets build up.
        let bound = 10 + 1 + sweep_slack(&window);
        assert!(journal.len() <= bound, "len {}", journal.len());
        assert!(
            journal.contains("keep-me"),
            "pending entries are never evicted"
        );
        assert!(journal.contains("m99"));
        assert!(!journal.contains("m0"), "oldest finished entries go first");
        drop(journal);
        let lines = fs::read_to_string(&path).expect("read").lines().count();
        assert!(
            lines <= 2 * bound + 256 + 1,
            "file is compacted, has {lines} lines"
        );
    }

    #[test]
    fn old_entries_age_out_on_open() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        fs::write(&path, "{\"id\":\"ancient\",\"at\":1}\n").expect("seed");
        let journal = Journal::open(&path, Window::default()).expect("open");
        assert!(!journal.contains("ancient"));
    }

    #[test]
    fn torn_last_line_is_skipped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        let at = now_ms();
        fs::write(
            &path,
            format!("{{\"id\":\"good\",\"at\":{at}}}\n{{\"id\":\"torn\",\"a"),
        )
        .expect("seed");
        let mut journal = Journal::open(&path, Window::default()).expect("open despite torn line");
        assert!(journal.contains("good"));
        assert_eq!(journal.admit("torn").expect("admit"), Admit::New);
    }

    #[cfg(unix)]
    #[test]
    fn journal_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("j.jsonl");
        let mut journal = Journal::open(&path, Window::default()).expect("open");
        journal.admit("x").expect("admit");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
