//! One account's peers as this process knows them: context tokens (`<id>.context-tokens.json`,
//! Tencent's shape), windows (`<id>.windows.json`) and texts kept for quotes (`<id>.recent.json`).
//!
//! Every read-modify-write of these files, and of the outbox, happens under the account's one
//! lock, so two writers in the process never lose each other's update. What an inbound message
//! brings is noted in memory first and written once per poll batch ([`Peers::persist`]) instead
//! of with an fsync per message; sends read the notes as well. A note of a message the pipeline
//! drops is taken back, so strangers the DM gate refuses do not grow the files. Both maps keep
//! the [`MAX_PEERS`] peers seen last: a window is useless a day after the peer's last message.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use channel_core::{lock, state};
use serde::{Deserialize, Serialize};

use crate::window::PeerWindow;

/// Peers whose context token and window are kept; the ones seen longest ago go first.
pub const MAX_PEERS: usize = 3000;
/// Messages whose text is kept for resolving quotes, per account.
pub const RECENT_KEPT: usize = 500;
const RECENT_TEXT_CHARS: usize = 2000;

/// What inbound messages brought since the files were last written.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    tokens: BTreeMap<String, String>,
    windows: BTreeMap<String, PeerWindow>,
    recent: Vec<Recent>,
}

/// A message kept for quotes, with the peer of its conversation: a quote resolves only within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recent {
    id: String,
    peer: String,
    text: String,
}

/// `recent.json` entries; before quotes were per peer they were `[id, text]` pairs, which name
/// no conversation and so resolve no quote.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredRecent {
    Current(Recent),
    Unattributed(serde::de::IgnoredAny, serde::de::IgnoredAny),
}

/// One lock and one set of notes per account in the process, whoever asks.
static BOOKS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<Pending>>>>> =
    LazyLock::new(Mutex::default);

/// The peer files of one account.
#[derive(Debug, Clone)]
pub struct Peers {
    tokens: PathBuf,
    windows: PathBuf,
    recent: PathBuf,
    book: Arc<Mutex<Pending>>,
}

/// What noting one inbound message replaced, so it can be taken back.
#[derive(Debug)]
pub(crate) struct Noted {
    peer: String,
    message_at: i64,
    token: Option<String>,
    window: Option<PeerWindow>,
}

impl Peers {
    pub fn new(accounts_dir: &Path, account: &str) -> Self {
        let book = lock(&BOOKS)
            .entry(accounts_dir.join(account))
            .or_default()
            .clone();
        let path = |suffix: &str| accounts_dir.join(format!("{account}{suffix}"));
        Self {
            tokens: path(".context-tokens.json"),
            windows: path(".windows.json"),
            recent: path(".recent.json"),
            book,
        }
    }

    /// Drops what was noted and not written (the account is being removed).
    pub(crate) fn forget(&self) {
        *lock(&self.book) = Pending::default();
    }

    /// The account's lock; whoever rewrites one of its peer files or its outbox holds it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Pending> {
        lock(&self.book)
    }

    fn read_tokens(&self) -> io::Result<BTreeMap<String, String>> {
        Ok(state::read_json(&self.tokens)?.unwrap_or_default())
    }

    fn read_windows(&self) -> io::Result<BTreeMap<String, PeerWindow>> {
        Ok(state::read_json(&self.windows)?.unwrap_or_default())
    }

    /// Notes the token and fresh window an inbound message brings (`message_at`: its create
    /// time, 0 when unknown). Sends see them at once; [`Peers::persist`] writes them.
    pub(crate) fn note_inbound(&self, peer: &str, token: &str, message_at: i64, now: i64) -> Noted {
        let mut pending = self.lock();
        let window = PeerWindow {
            received_at: now,
            token_at: message_at,
            ..PeerWindow::default()
        };
        Noted {
            peer: peer.to_owned(),
            message_at,
            token: pending.tokens.insert(peer.to_owned(), token.to_owned()),
            window: pending.windows.insert(peer.to_owned(), window),
        }
    }

    /// Undoes a note: the message was dropped, or it is a redelivery older than what is known.
    pub(crate) fn take_back(&self, noted: Noted) {
        let mut pending = self.lock();
        match noted.token {
            Some(token) => pending.tokens.insert(noted.peer.clone(), token),
            None => pending.tokens.remove(&noted.peer),
        };
        match noted.window {
            Some(window) => pending.windows.insert(noted.peer, window),
            None => pending.windows.remove(&noted.peer),
        };
    }

    /// Whether a redelivered message still brings news: no token is known for its peer (the
    /// first delivery was accepted, but the process stopped before the batch was written), or
    /// the known one came with an older message. A plain redelivery must not bring back an
    /// older token, which the server would refuse.
    pub(crate) fn is_news(&self, noted: &Noted) -> io::Result<bool> {
        let known_at = match (&noted.token, &noted.window) {
            (Some(_), window) => Some(window.as_ref().map_or(0, |w| w.token_at)),
            (None, _) => {
                let known = self.read_tokens()?.keys().any(|k| k == &noted.peer);
                known.then(|| {
                    self.read_windows()
                        .ok()
                        .and_then(|w| w.get(&noted.peer).map(|w| w.token_at))
                        .unwrap_or(0)
                })
            }
        };
        Ok(match known_at {
            None => true,
            Some(at) => noted.message_at > 0 && noted.message_at > at,
        })
    }

    /// Finds a peer case-insensitively: its byte-exact wire id and latest context token.
    pub fn context_token(&self, peer: &str) -> io::Result<Option<(String, String)>> {
        // The file is read under the lock: a batch being written moves its notes there.
        let pending = self.lock();
        let mut tokens = self.read_tokens()?;
        merge_tokens(&mut tokens, &pending.tokens);
        drop(pending);
        if let Some(token) = tokens.get(peer) {
            return Ok(Some((peer.to_owned(), token.clone())));
        }
        Ok(tokens
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(peer)))
    }

    pub fn window(&self, peer: &str) -> io::Result<Option<PeerWindow>> {
        let pending = self.lock();
        if let Some(window) = pending.windows.get(peer) {
            return Ok(Some(window.clone()));
        }
        Ok(self.read_windows()?.remove(peer))
    }

    /// Writes what was noted, then records the latest context token of `peer` at once.
    pub fn record_token(&self, peer: &str, token: &str) -> io::Result<()> {
        let mut pending = self.lock();
        pending.tokens.insert(peer.to_owned(), token.to_owned());
        self.write(&mut pending, |_| {})
    }

    /// Writes what was noted, then changes `peer`'s window, in one read-modify-write.
    pub fn update_window(
        &self,
        peer: &str,
        change: impl FnOnce(&mut PeerWindow),
    ) -> io::Result<()> {
        let mut pending = self.lock();
        self.write(&mut pending, |windows| {
            change(windows.entry(peer.to_owned()).or_default());
        })
    }

    /// Marks `peer`'s window refused if `token` is still its newest token, in one step under
    /// the lock, so a newer token noted meanwhile is never shadowed by a stale refusal.
    pub(crate) fn refuse_if_current(&self, peer: &str, token: &str) -> io::Result<bool> {
        let mut pending = self.lock();
        let current = match pending.tokens.get(peer) {
            Some(noted) => Some(noted.clone()),
            None => self.read_tokens()?.remove(peer),
        };
        if current.as_deref() != Some(token) {
            return Ok(false);
        }
        self.write(&mut pending, |windows| {
            windows.entry(peer.to_owned()).or_default().refused = true;
        })?;
        Ok(true)
    }

    /// Writes what inbound messages brought: once per poll batch, before the cursor moves.
    pub fn persist(&self) -> io::Result<()> {
        let mut pending = self.lock();
        if !pending.tokens.is_empty() || !pending.windows.is_empty() {
            self.write(&mut pending, |_| {})?;
        }
        self.write_recent(&mut pending)
    }

    /// Tokens first: a window on disk whose token is not would make a redelivery look old.
    fn write(
        &self,
        pending: &mut Pending,
        change: impl FnOnce(&mut BTreeMap<String, PeerWindow>),
    ) -> io::Result<()> {
        let mut tokens = self.read_tokens()?;
        let mut windows = self.read_windows()?;
        let (tokens_before, windows_before) = (tokens.clone(), windows.clone());
        merge_tokens(&mut tokens, &pending.tokens);
        windows.extend(pending.windows.iter().map(|(k, v)| (k.clone(), v.clone())));
        change(&mut windows);
        cap(&mut tokens, &mut windows);
        if tokens != tokens_before {
            state::write_json(&self.tokens, &tokens, false)?;
        }
        if windows != windows_before {
            state::write_json(&self.windows, &windows, false)?;
        }
        pending.tokens.clear();
        pending.windows.clear();
        Ok(())
    }

    /// Keeps a message's text for later quotes of it within `peer`'s conversation; written with
    /// the batch ([`Peers::persist`]) or the send ([`Peers::remember_now`]).
    pub(crate) fn remember(&self, peer: &str, server_id: &str, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.lock().recent.push(Recent {
            id: server_id.to_owned(),
            peer: peer.to_owned(),
            text: text.chars().take(RECENT_TEXT_CHARS).collect(),
        });
    }

    /// [`Peers::remember`], written at once.
    pub fn remember_now(&self, peer: &str, server_id: &str, text: &str) -> io::Result<()> {
        self.remember(peer, server_id, text);
        self.write_recent(&mut self.lock())
    }

    fn read_recent(&self) -> io::Result<Vec<Recent>> {
        let stored: Vec<StoredRecent> = state::read_json(&self.recent)?.unwrap_or_default();
        Ok(stored
            .into_iter()
            .filter_map(|entry| match entry {
                StoredRecent::Current(recent) => Some(recent),
                StoredRecent::Unattributed(..) => None,
            })
            .collect())
    }

    fn write_recent(&self, pending: &mut Pending) -> io::Result<()> {
        if pending.recent.is_empty() {
            return Ok(());
        }
        let mut recent = self.read_recent()?;
        for entry in &pending.recent {
            recent.retain(|known| known.id != entry.id || known.peer != entry.peer);
            recent.push(entry.clone());
        }
        let excess = recent.len().saturating_sub(RECENT_KEPT);
        recent.drain(..excess);
        state::write_json(&self.recent, &recent, false)?;
        pending.recent.clear();
        Ok(())
    }

    /// The text of message `server_id` when it belongs to `peer`'s conversation and is still
    /// among the recent ones. Another peer's message is never found, whatever id is quoted.
    pub fn recall(&self, peer: &str, server_id: &str) -> io::Result<Option<String>> {
        let found = |r: &Recent| r.peer == peer && r.id == server_id;
        let pending = self.lock();
        if let Some(hit) = pending.recent.iter().rev().find(|r| found(r)) {
            return Ok(Some(hit.text.clone()));
        }
        Ok(self
            .read_recent()?
            .into_iter()
            .rev()
            .find(found)
            .map(|r| r.text))
    }
}

/// One entry per peer, whatever case an older file used for the key.
fn merge_tokens(tokens: &mut BTreeMap<String, String>, newer: &BTreeMap<String, String>) {
    for (peer, token) in newer {
        tokens.retain(|known, _| known == peer || !known.eq_ignore_ascii_case(peer));
        tokens.insert(peer.clone(), token.clone());
    }
}

/// Keeps the [`MAX_PEERS`] peers seen last in each map. Tokens from before windows were kept
/// (Tencent's plugin) count as seen longest ago.
fn cap(tokens: &mut BTreeMap<String, String>, windows: &mut BTreeMap<String, PeerWindow>) {
    let seen = |windows: &BTreeMap<String, PeerWindow>, peer: &str| {
        windows.get(peer).map_or(i64::MIN, |w| w.received_at)
    };
    if windows.len() > MAX_PEERS {
        let mut order: Vec<(i64, String)> = windows
            .iter()
            .map(|(peer, w)| (w.received_at, peer.clone()))
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        for (_, peer) in order.drain(MAX_PEERS..) {
            windows.remove(&peer);
        }
    }
    if tokens.len() > MAX_PEERS {
        let mut order: Vec<(i64, String)> = tokens
            .keys()
            .map(|peer| (seen(windows, peer), peer.clone()))
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        for (_, peer) in order.drain(MAX_PEERS..) {
            tokens.remove(&peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(dir: &Path, account: &str) -> Peers {
        Peers::new(dir, account)
    }

    #[test]
    fn notes_are_seen_at_once_written_once_and_taken_back_when_dropped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let book = peers(tmp.path(), "notes");
        let kept = book.note_inbound("alice", "TA", 10, 100);
        let dropped = book.note_inbound("mallory", "TM", 11, 101);
        book.take_back(dropped);
        let _ = kept;
        assert_eq!(
            book.context_token("ALICE").expect("lookup"),
            Some(("alice".into(), "TA".into())),
            "a send sees the note before it is written"
        );
        assert!(!tmp.path().join("notes.context-tokens.json").exists());
        assert!(!tmp.path().join("notes.windows.json").exists());
        book.persist().expect("persist");
        let raw =
            std::fs::read_to_string(tmp.path().join("notes.context-tokens.json")).expect("tokens");
        assert_eq!(
            raw, r#"{"alice":"TA"}"#,
            "the dropped stranger left no trace"
        );
        let windows =
            std::fs::read_to_string(tmp.path().join("notes.windows.json")).expect("windows");
        assert!(
            windows.contains("alice") && !windows.contains("mallory"),
            "{windows}"
        );
        assert_eq!(
            book.window("alice").expect("read").map(|w| w.received_at),
            Some(100)
        );
    }

    #[test]
    fn taking_back_restores_an_earlier_note_of_the_same_peer() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let book = peers(tmp.path(), "undo");
        let _first = book.note_inbound("bob", "T1", 1, 1);
        let second = book.note_inbound("bob", "T2", 2, 2);
        book.take_back(second);
        assert_eq!(
            book.context_token("bob")
                .expect("lookup")
                .map(|(_, t)| t)
                .as_deref(),
            Some("T1")
        );
    }

    #[test]
    fn a_redelivery_brings_news_only_when_newer_than_the_known_token() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let book = peers(tmp.path(), "news");
        let fresh = book.note_inbound("carol", "T1", 0, 1);
        assert!(book.is_news(&fresh).expect("news"), "nothing was known");
        book.persist().expect("persist");
        book.record_token("carol", "T5").expect("record");
        book.update_window("carol", |w| w.token_at = 500)
            .expect("window");
        let old = book.note_inbound("carol", "T4", 400, 2);
        assert!(!book.is_news(&old).expect("news"));
        book.take_back(old);
        let newer = book.note_inbound("carol", "T6", 600, 3);
        assert!(book.is_news(&newer).expect("news"));
        assert_eq!(
            book.context_token("carol")
                .expect("lookup")
                .map(|(_, t)| t)
                .as_deref(),
            Some("T6")
        );
    }

    #[test]
    fn a_refusal_counts_only_against_the_newest_token() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let book = peers(tmp.path(), "refuse");
        let _ = book.note_inbound("dave", "T1", 1, 1);
        book.persist().expect("persist");
        // Two arrived (noted, not written yet) while a send with T1 was on its way.
        let _ = book.note_inbound("dave", "T2", 2, 2);
        assert!(!book.refuse_if_current("dave", "T1").expect("refuse"));
        assert_eq!(
            book.window("dave").expect("read").map(|w| w.refused),
            Some(false),
            "two's window stays open"
        );
        assert!(book.refuse_if_current("dave", "T2").expect("refuse"));
        assert_eq!(
            book.window("dave").expect("read").map(|w| w.refused),
            Some(true)
        );
        assert!(
            !book.refuse_if_current("erin", "T9").expect("refuse"),
            "no token known, nothing to refuse"
        );
    }

    #[test]
    fn maps_keep_the_peers_seen_last() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let book = peers(tmp.path(), "cap");
        // A token from Tencent's plugin, without a window: seen longest ago.
        std::fs::write(
            tmp.path().join("cap.context-tokens.json"),
            r#"{"legacy":"TL"}"#,
        )
        .expect("legacy tokens");
        for n in 0..MAX_PEERS + 10 {
            let at = i64::try_from(n).expect("small") + 1;
            let _ = book.note_inbound(&format!("p{n:05}"), "T", at, at);
        }
        book.persist().expect("persist");
        let tokens: BTreeMap<String, String> =
            state::read_json(&tmp.path().join("cap.context-tokens.json"))
                .expect("read")
                .expect("present");
        let windows: BTreeMap<String, PeerWindow> =
            state::read_json(&tmp.path().join("cap.windows.json"))
                .expect("read")
                .expect("present");
        assert_eq!((tokens.len(), windows.len()), (MAX_PEERS, MAX_PEERS));
        assert!(!tokens.contains_key("legacy") && !tokens.contains_key("p00009"));
        assert!(
            tokens.contains_key("p00010")
                && windows.contains_key(&format!("p{:05}", MAX_PEERS + 9))
        );
    }

    #[test]
    fn quotes_resolve_only_within_the_quoting_peers_conversation() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Written before quotes were per peer: readable, attributed to nobody.
        std::fs::write(tmp.path().join("q.recent.json"), r#"[["old","before"]]"#).expect("old");
        let book = peers(tmp.path(), "q");
        assert_eq!(book.recall("alice", "old").expect("recall"), None);
        book.remember("alice", "m1", "alice's secret");
        assert_eq!(
            book.recall("bob", "m1").expect("recall"),
            None,
            "before the write"
        );
        book.persist().expect("persist");
        assert_eq!(
            book.recall("bob", "m1").expect("recall"),
            None,
            "after the write"
        );
        assert_eq!(
            book.recall("alice", "m1").expect("recall").as_deref(),
            Some("alice's secret")
        );
        book.remember_now("bob", "m2", "to bob").expect("remember");
        let raw = std::fs::read_to_string(tmp.path().join("q.recent.json")).expect("file");
        assert!(
            !raw.contains("before"),
            "unattributed entries are dropped: {raw}"
        );
    }
}
