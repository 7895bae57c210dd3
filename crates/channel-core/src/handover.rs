//! Replayed turns the host may answer itself.
//!
//! After a kill, OpenClaw's restart recovery resumes the run that was cut off and delivers its
//! answer through the channel's outbound `send`, not through the turn; a replay of that turn is
//! then answered with nothing. A message the host sends on its own to a peer whose oldest
//! unfinished turn is a replay waiting on the host completes that turn: asking the agent again
//! would answer the peer twice. The recovery's "continuing your request" notice, sent before the
//! run, is not an answer. A replay the host answers with nothing, and for which no such message
//! came, is asked again (see the pipeline).
//!
//! The outbound path knows an account only by its state: each running pipeline is found by its
//! journal's path.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use crate::live::{LiveAccounts, LiveEntry};
use crate::lock;
use crate::pipeline::Pipeline;

/// The running pipelines, by journal path.
static LIVE: LazyLock<LiveAccounts<Weak<Pipeline>>> = LazyLock::new(LiveAccounts::default);

/// Makes `pipeline` the one the outbound path reaches for `journal`, until the entry drops.
pub(crate) fn register(journal: &Path, pipeline: &Arc<Pipeline>) -> LiveEntry<Weak<Pipeline>> {
    LIVE.register(&journal.to_string_lossy(), Arc::downgrade(pipeline))
}

/// The running pipeline whose journal is `journal`, in this process.
pub(crate) fn live(journal: &Path) -> Option<Arc<Pipeline>> {
    LIVE.get(&journal.to_string_lossy())?.upgrade()
}

/// How OpenClaw 2026.9.6's restart recovery opens the notice it sends before resuming a run
/// (`announceRestartRecoveryResumption`). Measured in the gateway: the notice and the
/// recovery's answer reach the adapter with the same fields (neither has a delivery-queue id;
/// only an empty `threadId` key differs), so the text is what tells them apart.
pub const RESUME_NOTICE: &str = "I'm continuing your interrupted request now";

/// What the host is about to send on its own to `peer` of the account whose journal is
/// `journal`, less what the peer already has: a replay whose cut-off run streamed blocks of
/// its answer leaves those words here, and OpenClaw's restart recovery, finishing that run,
/// sends its notice and then its whole answer again. `None` when nothing is known to have
/// gone out before; an empty text when nothing new is left to send now.
pub fn unsent_part(journal: &Path, peer: &str, text: &str) -> Option<String> {
    live(journal)?.unsent_part(peer, text)
}

/// The host sent `text` on its own to `peer` of the account whose journal is `journal`: the
/// replay it answered, if one was waiting on it.
pub fn host_sent(journal: &Path, peer: &str, text: &str) -> Option<String> {
    if text.trim_start().starts_with(RESUME_NOTICE) {
        return None;
    }
    live(journal)?.credit_host_answer(peer)
}

/// Which replays wait on the host, by peer, and which of them the host answered.
#[derive(Debug, Default)]
pub(crate) struct Handover {
    /// A peer's replay whose cut-off run the host may still answer (one per peer: a peer's
    /// turns run one at a time).
    waiting: Mutex<HashMap<String, String>>,
    answered: Mutex<HashSet<String>>,
    /// By peer, what a cut-off run already streamed and the host's recovery has not
    /// repeated yet.
    streamed: Mutex<HashMap<String, Streamed>>,
}

/// How long after a start the host's recovery may still repeat a streamed answer: past it,
/// what is left is forgotten, so a later message that happens to start with the same words
/// goes out whole.
const STREAMED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// The words a cut-off run streamed to a peer, in order, and the recovery's notice, held
/// until the recovery says something new (it is dropped when the recovery only repeats).
#[derive(Debug)]
struct Streamed {
    words: VecDeque<String>,
    notice: Option<String>,
    since: std::time::Instant,
}

impl Handover {
    /// `id`, a replay of `peer`, waits on the host until the returned guard is dropped.
    pub(crate) fn hold<'a>(&'a self, peer: &str, id: &str) -> Waiting<'a> {
        lock(&self.waiting).insert(peer.to_owned(), id.to_owned());
        Waiting {
            handover: self,
            peer: peer.to_owned(),
            id: id.to_owned(),
        }
    }

    /// `id`, a replay of `peer`, waits on the host unless an older one of the peer does.
    pub(crate) fn wait_if_first(&self, peer: &str, id: &str) {
        lock(&self.waiting)
            .entry(peer.to_owned())
            .or_insert_with(|| id.to_owned());
    }

    /// `id` no longer waits: it ran, or is being asked again.
    pub(crate) fn release(&self, peer: &str, id: &str) {
        let mut waiting = lock(&self.waiting);
        if waiting.get(peer).is_some_and(|w| w == id) {
            waiting.remove(peer);
        }
    }

    /// Credits a delivery to `peer` to its waiting replay, which is returned.
    pub(crate) fn credit(&self, peer: &str) -> Option<String> {
        let id = lock(&self.waiting).remove(peer)?;
        lock(&self.answered).insert(id.clone());
        Some(id)
    }

    /// `text` went out to `peer` in blocks before the process died.
    pub(crate) fn streamed(&self, peer: &str, text: &str) {
        let words: VecDeque<String> = text.split_whitespace().map(str::to_owned).collect();
        if !words.is_empty() {
            let streamed = Streamed {
                words,
                notice: None,
                since: std::time::Instant::now(),
            };
            lock(&self.streamed).insert(peer.to_owned(), streamed);
        }
    }

    /// `text` less its leading words that repeat, in order, what went out to `peer` before;
    /// `None` when nothing went out before. Matching is by words, since the host cuts its
    /// answer into messages at other places than the blocks were cut; it ends at the first
    /// word that differs, and from there all is sent. The recovery's notice waits for the
    /// first new words and goes out with them; an answer with none drops it, since nothing
    /// continues.
    pub(crate) fn unsent(&self, peer: &str, text: &str) -> Option<String> {
        let mut all = lock(&self.streamed);
        let streamed = all.get_mut(peer)?;
        if streamed.since.elapsed() > STREAMED_FOR {
            all.remove(peer);
            return None;
        }
        if text.trim_start().starts_with(RESUME_NOTICE) {
            streamed.notice = Some(text.trim().to_owned());
            return Some(String::new());
        }
        let mut rest = text;
        while let Some(next) = streamed.words.front() {
            let trimmed = rest.trim_start();
            let Some(word) = trimmed.split_whitespace().next() else {
                break;
            };
            if word != next {
                streamed.words.clear();
                break;
            }
            streamed.words.pop_front();
            rest = &trimmed[word.len()..];
        }
        let rest = rest.trim_start();
        let out = match (rest.is_empty(), &streamed.notice) {
            (false, Some(notice)) => format!("{notice}\n\n{rest}"),
            _ => rest.to_owned(),
        };
        if !rest.is_empty() {
            streamed.notice = None;
        }
        if streamed.words.is_empty() {
            all.remove(peer);
        }
        Some(out)
    }

    /// Whether the host delivered the answer of `id` (forgotten once asked).
    pub(crate) fn take_answered(&self, id: &str) -> bool {
        lock(&self.answered).remove(id)
    }
}

/// A replay waiting on the host while its worker handles it.
pub(crate) struct Waiting<'a> {
    handover: &'a Handover,
    peer: String,
    id: String,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.handover.release(&self.peer, &self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recovery's answer, cut where the host cuts it, loses the words the peer already
    /// has; from the first word that differs, everything goes out.
    #[test]
    fn a_repeated_answer_sends_only_what_is_new() {
        let handover = Handover::default();
        assert_eq!(handover.unsent("p", "anything"), None, "nothing streamed");
        handover.streamed("p", "P1 one two.\n\nP2 three");
        assert_eq!(handover.unsent("p", "P1 one").as_deref(), Some(""));
        assert_eq!(
            handover
                .unsent("p", "two.\n\nP2 three\n\nP3 four")
                .as_deref(),
            Some("P3 four")
        );
        assert_eq!(
            handover.unsent("p", "P3 again"),
            None,
            "all matched: forgotten"
        );
        handover.streamed("q", "alpha beta");
        assert_eq!(
            handover.unsent("q", "alpha gamma delta").as_deref(),
            Some("gamma delta")
        );
        assert_eq!(handover.unsent("q", "beta"), None, "a difference ends it");
        handover.streamed("r", "   ");
        assert_eq!(
            handover.unsent("r", "x"),
            None,
            "no words, nothing to match"
        );
    }

    /// The recovery's notice waits: it goes out with the first new words, and with nothing
    /// when the recovery only repeats what the peer has.
    #[test]
    fn the_recovery_notice_goes_out_only_before_something_new() {
        let handover = Handover::default();
        let notice = format!("{RESUME_NOTICE}.");
        handover.streamed("p", "one two");
        assert_eq!(handover.unsent("p", &notice).as_deref(), Some(""));
        assert_eq!(handover.unsent("p", "one two").as_deref(), Some(""));
        assert_eq!(
            handover.unsent("p", "three"),
            None,
            "a full repeat: notice dropped"
        );
        handover.streamed("q", "one two");
        assert_eq!(handover.unsent("q", &notice).as_deref(), Some(""));
        assert_eq!(
            handover.unsent("q", "one two three").as_deref(),
            Some(format!("{notice}\n\nthree").as_str())
        );
    }
}
