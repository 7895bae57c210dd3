//! The send log: every piece that went out, by its stable key, persisted per account, so a reply
//! that is sent again (a turn replayed after a crash, a host retry, a restarted channel) never
//! reaches the chat twice.
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), channel_core::ChannelError> {
//! use channel_core::SendLog;
//! let log = SendLog::for_account(dir, "primary");
//! // `Some(key)` for a piece the caller named (`Outbound::piece_key`); `None` sends unlogged.
//! let id = log
//!     .once(Some("reply:42#0"), || async { Ok("server-id-1".to_owned()) })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! One file per account, `<channel dir>/sent/<account>.jsonl`, one JSON line per piece. Lines
//! are appended (and fsynced) right after the server accepted the piece, before the send
//! returns. Every process that sends for the account (the gateway, `openclaw message send`)
//! reads the lines others appended before it decides, so they share one record. The newest
//! [`KEPT`] keys are kept; replays come within minutes, not thousands of sends later.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::ChannelError;
use crate::{lock, now_ms, state};

/// Keys remembered per account; the file is compacted to these when it holds twice as many.
pub const KEPT: usize = 4096;

/// One account's send log; clones share it.
#[derive(Debug, Clone)]
pub struct SendLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    state: Mutex<State>,
    /// Keys being sent now: a second send of the same key waits for the first.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Default)]
struct State {
    by_key: HashMap<String, String>,
    order: VecDeque<String>,
    /// Lines in the file (compaction is due at twice [`KEPT`]).
    lines: usize,
    /// How far the file has been read, and which file it was (compaction replaces it).
    read_to: u64,
    file_id: Option<FileId>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    key: String,
    id: String,
    at: i64,
}

type FileId = (u64, u64);

fn file_id(meta: &fs::Metadata) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// One log per file in a process, so concurrent sends of an account see each other at once.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, SendLog>>> = LazyLock::new(Mutex::default);

impl SendLog {
    /// The log of `account`, in `<channel_dir>/sent/`. The account id must already be checked
    /// ([`crate::config::account_id_is_safe`]): it names the file.
    pub fn for_account(channel_dir: &Path, account: &str) -> Self {
        let path = channel_dir.join("sent").join(format!("{account}.jsonl"));
        lock(&OPEN)
            .entry(path.clone())
            .or_insert_with(|| Self::at(path))
            .clone()
    }

    /// A log of its own at `path` (tests use it to read the file as a restarted process would).
    pub fn at(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                state: Mutex::default(),
                in_flight: Mutex::default(),
            }),
        }
    }

    /// Forgets the logs this process has open, so the next [`SendLog::for_account`] reads its
    /// file afresh, as a restarted process would. For tests.
    #[doc(hidden)]
    pub fn forget_open_logs() {
        lock(&OPEN).clear();
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Sends the piece `key` once. When it went out before, its recorded server id comes back
    /// and `send` is not called; otherwise `send` runs and its id is recorded. `None` (a piece
    /// nobody will ask for again) just sends.
    pub async fn once<F, Fut>(&self, key: Option<&str>, send: F) -> Result<String, ChannelError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, ChannelError>>,
    {
        let Some(key) = key else {
            return send().await;
        };
        let gate = Arc::clone(
            lock(&self.inner.in_flight)
                .entry(key.to_owned())
                .or_default(),
        );
        let result = {
            let _turn = gate.lock().await;
            self.once_locked(key, send).await
        };
        let mut in_flight = lock(&self.inner.in_flight);
        // Ours and the map's: nobody else waits for this key.
        if Arc::strong_count(&gate) == 2 {
            in_flight.remove(key);
        }
        result
    }

    async fn once_locked<F, Fut>(&self, key: &str, send: F) -> Result<String, ChannelError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, ChannelError>>,
    {
        if let Some(id) = self.sent(key)? {
            tracing::info!(key, "already sent; not sending it again");
            return Ok(id);
        }
        let id = send().await?;
        self.record_sent(key, &id);
        Ok(id)
    }

    /// Records that `key` went out as `id`, for a caller that already sent it: a failure is
    /// logged, not returned, because failing now would make the caller send it again.
    pub fn record_sent(&self, key: &str, id: &str) {
        if let Err(err) = self.record(key, id) {
            tracing::error!(key, path = %self.inner.path.display(), %err, "sent, but could not record it in the send log; a replay may send it again");
        }
    }

    /// The server id of `key`, when it went out (from this process or another).
    pub fn sent(&self, key: &str) -> Result<Option<String>, ChannelError> {
        let mut state = lock(&self.inner.state);
        self.catch_up(&mut state).map_err(|e| self.error(e))?;
        Ok(state.by_key.get(key).cloned())
    }

    /// Records that `key` went out as `id`.
    pub fn record(&self, key: &str, id: &str) -> io::Result<()> {
        let mut state = lock(&self.inner.state);
        self.catch_up(&mut state)?;
        if state.by_key.contains_key(key) {
            return Ok(());
        }
        let line = Line {
            key: key.to_owned(),
            id: id.to_owned(),
            at: now_ms(),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.append(&bytes)?;
        // Reads our line back, with any another process appended meanwhile.
        self.catch_up(&mut state)?;
        if state.lines > 2 * KEPT {
            self.compact(&mut state)?;
        }
        Ok(())
    }

    fn error(&self, err: io::Error) -> ChannelError {
        ChannelError::from(err).context(format!(
            "reading the send log {}",
            self.inner.path.display()
        ))
    }

    /// Reads what was appended since the last read; everything again when the file was
    /// replaced (compacted by another process).
    fn catch_up(&self, state: &mut State) -> io::Result<()> {
        let mut file = match fs::File::open(&self.inner.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                *state = State::default();
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        let meta = file.metadata()?;
        let id = file_id(&meta);
        if id != state.file_id || meta.len() < state.read_to {
            *state = State {
                file_id: id,
                ..State::default()
            };
        }
        if meta.len() == state.read_to {
            return Ok(());
        }
        file.seek(SeekFrom::Start(state.read_to))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        // A line still being written (no newline yet) is read next time.
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for raw in bytes[..complete].split(|b| *b == b'\n') {
            state.lines += usize::from(!raw.is_empty());
            match serde_json::from_slice::<Line>(raw) {
                Ok(line) => remember(state, line.key, line.id),
                // A torn line from a crash: what it named was not recorded, so it may go again.
                Err(_) if !raw.is_empty() => {
                    tracing::warn!(path = %self.inner.path.display(), "skipping an unreadable send-log line")
                }
                Err(_) => {}
            }
        }
        state.read_to += complete as u64;
        Ok(())
    }

    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        if let Some(dir) = self.inner.path.parent() {
            state::ensure_private_dir(dir)?;
        }
        let mut options = fs::OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&self.inner.path)?;
        let len = file.metadata()?.len();
        if len > 0 {
            // A crash may have left half a line: start on a fresh one.
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        file.write_all(bytes)?;
        file.sync_data()
    }

    /// Rewrites the file with the newest [`KEPT`] keys.
    fn compact(&self, state: &mut State) -> io::Result<()> {
        let mut bytes = Vec::new();
        for key in state
            .order
            .iter()
            .skip(state.order.len().saturating_sub(KEPT))
        {
            let line = Line {
                key: key.clone(),
                id: state.by_key[key].clone(),
                at: now_ms(),
            };
            serde_json::to_writer(&mut bytes, &line).map_err(io::Error::other)?;
            bytes.push(b'\n');
        }
        state::write_atomic(&self.inner.path, &bytes)?;
        *state = State::default();
        self.catch_up(state)
    }
}

fn remember(state: &mut State, key: String, id: String) {
    if state.by_key.insert(key.clone(), id).is_none() {
        state.order.push_back(key);
    }
    while state.order.len() > KEPT {
        if let Some(old) = state.order.pop_front() {
            state.by_key.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests;
