//! The context-token window (spec §9): a bot may write to a peer only within some hours of the
//! peer's last message, and at most ten times per message. Sends outside the window fail with
//! `ret=-2`, which the official plugin reported as success or as a bare error.
//!
//! Here every peer's window is tracked on disk; a send that does not fit is queued in the
//! account's outbox, the caller is told it was queued, and the queue is flushed when the peer
//! writes again. An item leaves the outbox only once it was delivered, so a crash mid-flush
//! leaves what was not sent; the outbox is bounded per peer and in total.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use channel_core::state;
use serde::{Deserialize, Serialize};

use crate::peers::Peers;

/// Messages that may wait for one peer.
pub const OUTBOX_PER_PEER: usize = 50;
/// Messages that may wait in one account's outbox.
pub const OUTBOX_TOTAL: usize = 1000;

/// Blocks of one streamed answer that go out one by one at most; the rest follows as one
/// message when the answer is complete.
pub const STREAM_BLOCKS: usize = 3;
/// Sends of the peer's window a streamed answer leaves for its rest: a block goes out on its
/// own only while this many would remain after it, so streaming never pushes the end of an
/// answer into the outbox that the whole answer, sent at once, would have fitted.
pub const FINAL_RESERVE: usize = 5;

/// How many blocks of an answer to a peer with `window` may go out one by one now.
pub fn block_budget(window: Option<&PeerWindow>, limits: Limits, now: i64) -> usize {
    if window.is_some_and(|w| w.closed(limits, now).is_some()) {
        return 0;
    }
    let used = window.map_or(0, |w| w.sends) as usize;
    let left = (limits.max_sends as usize).saturating_sub(used);
    STREAM_BLOCKS.min(left.saturating_sub(FINAL_RESERVE))
}

/// Whether `window` is open now and closes (by age) within `horizon` of `now`: what waits for
/// its peer must go out before then, or wait for the peer's next message.
pub fn closes_within(window: &PeerWindow, limits: Limits, now: i64, horizon: Duration) -> bool {
    if window.closed(limits, now).is_some() {
        return false;
    }
    let closes_at = window
        .received_at
        .saturating_add(i64::try_from(limits.max_age.as_millis()).unwrap_or(i64::MAX));
    closes_at.saturating_sub(now) <= i64::try_from(horizon.as_millis()).unwrap_or(i64::MAX)
}

/// Window limits; both configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_sends: u32,
    pub max_age: Duration,
}

impl Limits {
    /// Ten sends per inbound message (the documented rule); 23 hours, an hour inside the
    /// documented 24 because failures were reported earlier in practice.
    pub const DEFAULT: Limits = Limits {
        max_sends: 10,
        max_age: Duration::from_secs(23 * 3600),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One peer's window, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerWindow {
    /// When the peer's latest message (and so its context token) arrived, epoch ms.
    pub received_at: i64,
    /// Bot messages sent since then.
    pub sends: u32,
    /// The server refused a send (`ret=-2`) although the window looked open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
    /// Create time (epoch ms) of the message that brought the peer's current context token; 0
    /// when unknown. A redelivered message older than this must not bring its token back.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub token_at: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl PeerWindow {
    /// Why the window is closed at `now`, if it is.
    pub fn closed(&self, limits: Limits, now: i64) -> Option<String> {
        if self.refused {
            return Some(
                "the server refused the last send (ret -2): waiting for the peer's next message"
                    .into(),
            );
        }
        if self.sends >= limits.max_sends {
            return Some(format!(
                "{} messages were already sent since the peer's last message (limit {})",
                self.sends, limits.max_sends
            ));
        }
        let age = now.saturating_sub(self.received_at).max(0) as u64;
        if Duration::from_millis(age) >= limits.max_age {
            return Some(format!(
                "the peer's last message is {}h old (limit {}h)",
                age / 3_600_000,
                limits.max_age.as_secs() / 3600
            ));
        }
        None
    }
}

/// A media message that is uploaded and waits to be sent: its ready `sendmessage` item.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMedia {
    /// `image`, `video` or `file`.
    pub kind: String,
    /// The item (`{"type":2,"image_item":{…}}` …), pointing at the uploaded file.
    pub item: serde_json::Value,
}

impl std::fmt::Debug for QueuedMedia {
    // The item holds the file's key: only its kind is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedMedia")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A message waiting for a peer's window to open again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub queue_id: String,
    /// Byte-exact wire id of the peer.
    pub peer: String,
    /// Text pieces not sent yet, in order.
    pub pieces: Vec<String>,
    /// Media messages not sent yet, in order; they go after the text pieces. Absent in outboxes
    /// written before media existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<QueuedMedia>,
    /// Wire id prefix of the logical message; piece n goes out as `<client_id>:<n>`.
    pub client_id: String,
    /// Index of the first piece in `pieces` within the logical message.
    pub first_piece: usize,
    pub queued_at: i64,
    pub reason: String,
}

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("{waiting} messages already wait for {peer} (at most {OUTBOX_PER_PEER} per peer)")]
    PeerFull { peer: String, waiting: usize },
    #[error("the account's outbox already holds {0} messages (at most {OUTBOX_TOTAL})")]
    Full(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// `accounts/<id>.windows.json` and `accounts/<id>.outbox.json`; every change is a
/// read-modify-write under the account's one lock ([`Peers`]).
#[derive(Debug, Clone)]
pub struct WindowStore {
    peers: Peers,
    outbox: PathBuf,
}

impl WindowStore {
    pub fn new(accounts_dir: PathBuf, account: &str) -> Self {
        Self {
            peers: Peers::new(&accounts_dir, account),
            outbox: accounts_dir.join(format!("{account}.outbox.json")),
        }
    }

    pub fn window(&self, peer: &str) -> io::Result<Option<PeerWindow>> {
        self.peers.window(peer)
    }

    /// The peer wrote: a fresh window, written at once (the poll loop notes it instead and
    /// writes once per batch).
    pub fn opened(&self, peer: &str, at: i64) -> io::Result<()> {
        self.peers.update_window(peer, |w| {
            *w = PeerWindow {
                received_at: at,
                token_at: w.token_at,
                ..PeerWindow::default()
            };
        })
    }

    pub fn record_send(&self, peer: &str) -> io::Result<()> {
        self.peers.update_window(peer, |w| w.sends += 1)
    }

    /// The server refused a send made with `token` (`ret -2`). Recorded, and `true`, only while
    /// `token` is still the newest one known for `peer`: iLink takes only a peer's newest token,
    /// so a refusal of an older one says nothing about the window a newer message opened, and
    /// marking that window refused would hold the reply until the peer writes yet again.
    pub fn record_refusal(&self, peer: &str, token: &str) -> io::Result<bool> {
        self.peers.refuse_if_current(peer, token)
    }

    /// The queued entry of the logical message `client_id`, if it waits.
    pub fn queued(&self, client_id: &str) -> io::Result<Option<Queued>> {
        Ok(self
            .outbox()?
            .into_iter()
            .find(|q| q.client_id == client_id))
    }

    pub fn outbox(&self) -> io::Result<Vec<Queued>> {
        Ok(state::read_json(&self.outbox)?.unwrap_or_default())
    }

    /// Queues a message behind the others. `remainder`: the rest of a message that already
    /// went out in part, which is kept even past the bounds (at most one such past them, since
    /// a full outbox means a closed window), so no message is left cut in two.
    pub fn enqueue(&self, item: Queued, remainder: bool) -> Result<(), EnqueueError> {
        let _turn = self.peers.lock();
        let mut all = self.outbox()?;
        if !remainder {
            let waiting = all.iter().filter(|q| q.peer == item.peer).count();
            if waiting >= OUTBOX_PER_PEER {
                return Err(EnqueueError::PeerFull {
                    peer: item.peer,
                    waiting,
                });
            }
            if all.len() >= OUTBOX_TOTAL {
                return Err(EnqueueError::Full(all.len()));
            }
        }
        all.push(item);
        state::write_json(&self.outbox, &all, false)?;
        Ok(())
    }

    /// The peer's oldest queued message; it stays queued until [`WindowStore::remove`].
    pub fn first_for(&self, peer: &str) -> io::Result<Option<Queued>> {
        Ok(self.outbox()?.into_iter().find(|q| q.peer == peer))
    }

    /// A delivered message leaves the outbox.
    pub fn remove(&self, queue_id: &str) -> io::Result<()> {
        let _turn = self.peers.lock();
        let mut all = self.outbox()?;
        let before = all.len();
        all.retain(|q| q.queue_id != queue_id);
        if all.len() != before {
            state::write_json(&self.outbox, &all, false)?;
        }
        Ok(())
    }

    /// The first `sent` parts of a queued message went out; the rest keeps its place.
    pub fn advance(&self, queue_id: &str, sent: usize, reason: &str) -> io::Result<()> {
        let _turn = self.peers.lock();
        let mut all = self.outbox()?;
        let Some(item) = all.iter_mut().find(|q| q.queue_id == queue_id) else {
            return Ok(());
        };
        let from_text = sent.min(item.pieces.len());
        item.pieces.drain(..from_text);
        let from_media = (sent - from_text).min(item.media.len());
        item.media.drain(..from_media);
        item.first_piece += from_text + from_media;
        reason.clone_into(&mut item.reason);
        state::write_json(&self.outbox, &all, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_streamed_answer_keeps_room_for_its_end() {
        let limits = Limits::DEFAULT;
        let at = |sends| PeerWindow {
            received_at: HOUR,
            sends,
            ..PeerWindow::default()
        };
        assert_eq!(block_budget(None, limits, HOUR), STREAM_BLOCKS);
        assert_eq!(block_budget(Some(&at(0)), limits, HOUR), 3);
        assert_eq!(block_budget(Some(&at(3)), limits, HOUR), 2);
        assert_eq!(block_budget(Some(&at(5)), limits, HOUR), 0);
        assert_eq!(block_budget(Some(&at(10)), limits, HOUR), 0);
        let refused = PeerWindow {
            refused: true,
            ..at(0)
        };
        assert_eq!(block_budget(Some(&refused), limits, HOUR), 0);
        let stale = at(0);
        assert_eq!(block_budget(Some(&stale), limits, HOUR + 24 * HOUR), 0);
    }

    #[test]
    fn a_window_closing_within_the_hour_is_one_still_open() {
        let limits = Limits::DEFAULT;
        let hour = Duration::from_secs(3600);
        let opened = |received_at| PeerWindow {
            received_at,
            ..PeerWindow::default()
        };
        let max_age = 23 * HOUR;
        assert!(!closes_within(&opened(0), limits, HOUR, hour));
        assert!(closes_within(&opened(0), limits, max_age - HOUR / 2, hour));
        assert!(
            !closes_within(&opened(0), limits, max_age + 1, hour),
            "already closed"
        );
        let full = PeerWindow {
            sends: 10,
            ..opened(0)
        };
        assert!(
            !closes_within(&full, limits, max_age - HOUR / 2, hour),
            "closed by count"
        );
    }

    #[test]
    fn windows_close_on_count_age_and_refusal() {
        let limits = Limits {
            max_sends: 3,
            max_age: Duration::from_secs(2 * 3600),
        };
        let open = PeerWindow {
            received_at: 0,
            sends: 2,
            ..PeerWindow::default()
        };
        assert_eq!(open.closed(limits, HOUR), None);
        let full = PeerWindow {
            sends: 3,
            ..open.clone()
        };
        assert!(
            full.closed(limits, HOUR)
                .is_some_and(|r| r.contains("3 messages"))
        );
        assert!(
            open.closed(limits, 2 * HOUR)
                .is_some_and(|r| r.contains("2h old"))
        );
        let refused = PeerWindow {
            refused: true,
            ..open
        };
        assert!(
            refused
                .closed(limits, 0)
                .is_some_and(|r| r.contains("ret -2"))
        );
    }

    #[test]
    fn outboxes_without_media_still_read_and_media_round_trips() {
        let old = r#"[{"queueId":"q","peer":"p","pieces":["hi"],"clientId":"c","firstPiece":0,"queuedAt":1,"reason":"r"}]"#;
        let items: Vec<Queued> = serde_json::from_str(old).expect("old outbox");
        assert!(items[0].media.is_empty());
        assert_eq!(
            serde_json::to_string(&items).expect("write"),
            old,
            "text-only entries are written as before"
        );
        let with_media = Queued {
            media: vec![QueuedMedia {
                kind: "image".into(),
                item: serde_json::json!({"type": 2, "image_item": {"media": {"aes_key": "secret"}}}),
            }],
            ..items[0].clone()
        };
        let text = serde_json::to_string(&with_media).expect("write");
        assert_eq!(
            serde_json::from_str::<Queued>(&text).expect("read"),
            with_media
        );
        assert!(!format!("{with_media:?}").contains("secret"));
    }

    fn item(id: &str, peer: &str) -> Queued {
        Queued {
            queue_id: id.into(),
            peer: peer.into(),
            pieces: vec![format!("text {id}")],
            media: vec![],
            client_id: id.into(),
            first_piece: 0,
            queued_at: 0,
            reason: "full".into(),
        }
    }

    #[test]
    fn outbox_is_per_peer_and_ordered_and_items_leave_only_when_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = WindowStore::new(tmp.path().to_path_buf(), "a");
        store.enqueue(item("q1", "alice"), false).expect("enqueue");
        store.enqueue(item("q2", "bob"), false).expect("enqueue");
        store.enqueue(item("q3", "alice"), false).expect("enqueue");
        let first = store.first_for("alice").expect("read").expect("waiting");
        assert_eq!(first.queue_id, "q1");
        assert_eq!(
            store.outbox().expect("outbox").len(),
            3,
            "looking takes nothing"
        );
        store.remove("q1").expect("remove");
        let order: Vec<_> = store
            .outbox()
            .expect("outbox")
            .into_iter()
            .map(|q| q.queue_id)
            .collect();
        assert_eq!(order, ["q2", "q3"]);
        store.opened("alice", 5).expect("open");
        store.record_send("alice").expect("send");
        assert_eq!(
            store.window("alice").expect("read"),
            Some(PeerWindow {
                received_at: 5,
                sends: 1,
                ..PeerWindow::default()
            })
        );
    }

    #[test]
    fn a_partly_sent_message_keeps_its_place_with_what_is_left() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = WindowStore::new(tmp.path().to_path_buf(), "a");
        let three = Queued {
            pieces: vec!["p0".into(), "p1".into()],
            media: vec![QueuedMedia {
                kind: "file".into(),
                item: serde_json::json!({"type": 4}),
            }],
            ..item("q1", "alice")
        };
        store.enqueue(three, false).expect("enqueue");
        store.enqueue(item("q2", "alice"), false).expect("enqueue");
        store.advance("q1", 2, "window closed").expect("advance");
        let all = store.outbox().expect("outbox");
        assert_eq!(all[0].queue_id, "q1");
        assert!(all[0].pieces.is_empty());
        assert_eq!((all[0].media.len(), all[0].first_piece), (1, 2));
        assert_eq!(all[0].reason, "window closed");
    }

    #[test]
    fn the_outbox_is_bounded_per_peer_and_in_total_with_a_clear_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = WindowStore::new(tmp.path().to_path_buf(), "a");
        for n in 0..OUTBOX_PER_PEER {
            store
                .enqueue(item(&format!("a{n}"), "alice"), false)
                .expect("room");
        }
        let full = store
            .enqueue(item("over", "alice"), false)
            .expect_err("full");
        assert!(
            full.to_string().contains(&format!(
                "{OUTBOX_PER_PEER} messages already wait for alice"
            )),
            "{full}"
        );
        store
            .enqueue(item("rest", "alice"), true)
            .expect("the rest of a half-sent message is kept");
        let mut peer = 0;
        while store.outbox().expect("outbox").len() < OUTBOX_TOTAL {
            for n in 0..OUTBOX_PER_PEER - 1 {
                if store.outbox().expect("outbox").len() == OUTBOX_TOTAL {
                    break;
                }
                store
                    .enqueue(item(&format!("{peer}-{n}"), &format!("peer{peer}")), false)
                    .expect("room");
            }
            peer += 1;
        }
        let full = store
            .enqueue(item("x", "someone-new"), false)
            .expect_err("full");
        assert!(matches!(full, EnqueueError::Full(OUTBOX_TOTAL)), "{full}");
        assert!(full.to_string().contains("at most 1000"), "{full}");
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    // Each writer has a handle of its own, as the poll loop and sends do.
                    let store = WindowStore::new(dir, "race");
                    for n in 0..10 {
                        let peer = format!("peer{t}-{n}");
                        store.opened(&peer, 1).expect("open");
                        store.record_send(&peer).expect("send");
                        store.record_send("shared").expect("send");
                        store.enqueue(item(&peer, &peer), false).expect("enqueue");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer");
        }
        let store = WindowStore::new(dir, "race");
        for t in 0..16 {
            for n in 0..10 {
                let peer = format!("peer{t}-{n}");
                assert_eq!(
                    store.window(&peer).expect("read").map(|w| w.sends),
                    Some(1),
                    "{peer}"
                );
            }
        }
        assert_eq!(
            store.window("shared").expect("read").map(|w| w.sends),
            Some(160)
        );
        assert_eq!(store.outbox().expect("outbox").len(), 160);
    }
}
