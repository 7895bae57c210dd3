//! The figures, from the simulator's records and the child's ledger only.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::ledger::Line;
use crate::net::Stored;

/// One injected message, as the parent remembers it.
#[derive(Debug, Clone)]
pub struct Injection {
    pub marker: String,
    pub peer: usize,
    /// Its place among the peer's messages.
    pub n: usize,
    /// Injected while the bot's token was expired.
    pub while_expired: bool,
}

/// One fault or kill, when it was applied.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The inbound message index it was applied before (a kill lands when the child has lived
    /// a little, so it has none).
    pub before_message: Option<usize>,
    pub kind: String,
    pub at: u64,
    pub detail: String,
    /// From the fault to the next turn in the ledger.
    pub recovered_ms: Option<u64>,
    /// It found nothing to break (a frame fault while the account was between connections):
    /// a real network's fault hits the connection of its moment, it does not wait for the next.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missed: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Figures {
    pub inbound_injected: usize,
    /// The agent was asked once and the server stored one reply (a run cut by a kill after its
    /// answer was recorded counts: the next run sends that answer without asking again).
    pub delivered_exactly_once: usize,
    /// Never ran and never answered.
    pub lost: usize,
    /// Runs again after a run that had answered.
    pub duplicated: usize,
    /// Runs again after a run a SIGKILL cut before `answered` (at-least-once for cut runs).
    pub reruns_after_kill: usize,
    /// Runs again after a run that was neither answered nor cut by a kill.
    pub reruns_without_kill: usize,
    /// Per peer, messages whose first run came after a later message's first run.
    pub out_of_order: usize,
    /// Inbound messages for which the server stored two or more `echo:` replies.
    pub replies_sent_twice: usize,
    /// Of those, replies a SIGKILL cut after the server took them and before the send log
    /// recorded them (the first run was cut before its answer was recorded, or a kill landed
    /// between the two stored copies, as when a flush of the outbox is cut): the next process
    /// sends them again. Gated only on a network whose
    /// sends are idempotent or can be read back (OpenIM's catch-up sees our stored copies).
    pub replies_twice_after_kill: usize,
    /// The network tells a repeated send (or lets the channel read its stored copies back).
    pub idempotent_sends: bool,
    /// Answered in the ledger, no reply at the server.
    pub replies_lost: usize,
    /// Replies stored for another peer than the one who wrote.
    pub replies_misrouted: usize,
    /// Reply attempts the channel refused (the turn then ended; the ledger has the error).
    pub reply_failures: usize,
    /// Ran, never answered (the reply failed or the run was cut), and no reply at the server.
    pub ran_never_answered: usize,
    pub outbound_planned: usize,
    /// Proactive messages the server stored once.
    pub outbound_sent: usize,
    pub outbound_twice: usize,
    /// Of the proactive messages stored twice, those whose copies straddle a SIGKILL (gated as
    /// `replies_twice_after_kill` is).
    pub outbound_twice_after_kill: usize,
    pub outbound_lost: usize,
    /// The channel reported a proactive message queued (not sent) at least once.
    pub outbound_reported_queued: usize,
    /// Messages injected while the bot's token was expired, and how many of them were lost.
    pub while_token_expired: usize,
    pub while_token_expired_lost: usize,
    pub recovery_ms_p50: Option<u64>,
    pub recovery_ms_max: Option<u64>,
    pub faults_unrecovered: usize,
    /// Faults that found no connection to break; not in the recovery figures.
    pub faults_missed: usize,
}

impl Figures {
    /// The gated figures that are not zero, by name.
    pub fn failures(&self) -> Vec<String> {
        [
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("out_of_order", self.out_of_order),
            ("replies_sent_twice", self.replies_sent_twice),
            (
                "replies_twice_after_kill",
                if self.idempotent_sends {
                    self.replies_twice_after_kill
                } else {
                    0
                },
            ),
            ("replies_misrouted", self.replies_misrouted),
            ("outbound_twice", self.outbound_twice),
            (
                "outbound_twice_after_kill",
                if self.idempotent_sends {
                    self.outbound_twice_after_kill
                } else {
                    0
                },
            ),
            ("outbound_lost", self.outbound_lost),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name}={n}"))
        .collect()
    }
}

/// Up to ten markers per non-zero figure, to find them in the logs.
pub type Examples = BTreeMap<String, Vec<String>>;

fn marker_of(text: &str) -> Option<&str> {
    let start = text.find("[c")?;
    let end = text[start..].find(']')?;
    Some(&text[start..=start + end])
}

/// Fills in each fault's recovery time: the first turn the ledger shows after it.
pub fn recoveries(applied: &mut [Applied], ledger: &[Line]) {
    let mut turns: Vec<u64> = ledger
        .iter()
        .filter(|l| l.turn.is_some())
        .map(|l| l.at)
        .collect();
    turns.sort_unstable();
    for fault in applied.iter_mut().filter(|a| !a.missed) {
        let next = turns.partition_point(|at| *at < fault.at);
        fault.recovered_ms = turns.get(next).map(|at| at - fault.at);
    }
}

pub fn compute(
    injected: &[Injection],
    targets: &[String],
    outbound: usize,
    ledger: &[Line],
    stored: &[Stored],
    killed: &HashSet<u32>,
    applied: &[Applied],
) -> (Figures, Examples) {
    let mut f = Figures {
        inbound_injected: injected.len(),
        outbound_planned: outbound,
        ..Figures::default()
    };
    let mut examples = Examples::new();
    let mut note = |name: &str, what: String| {
        let list = examples.entry(name.to_owned()).or_default();
        if list.len() < 10 {
            list.push(what);
        }
    };

    // Runs per marker in ledger order: (pid, answered, failed).
    struct Run {
        pid: u32,
        answered: bool,
    }
    let mut runs: HashMap<String, Vec<Run>> = HashMap::new();
    let mut marker_of_sid: HashMap<String, String> = HashMap::new();
    let mut first_runs: Vec<String> = Vec::new();
    for line in ledger {
        if let (Some(full), Some(text)) = (&line.turn, &line.text) {
            let Some(marker) = marker_of(text) else {
                continue;
            };
            marker_of_sid.insert(full.clone(), marker.to_owned());
            let list = runs.entry(marker.to_owned()).or_default();
            if list.is_empty() {
                first_runs.push(marker.to_owned());
            }
            list.push(Run {
                pid: line.pid,
                answered: false,
            });
        } else if let Some(full) = &line.answered
            && let Some(run) = marker_of_sid
                .get(full)
                .and_then(|m| runs.get_mut(m))
                .and_then(|r| r.last_mut())
        {
            run.answered = true;
        }
    }

    let mut echoes: HashMap<&str, usize> = HashMap::new();
    let mut outs: HashMap<&str, usize> = HashMap::new();
    // When each reply or proactive message was stored, to tell a copy sent again because a
    // kill cut the process between the server's accept and its send log (a kill lands between
    // the two copies) from one sent twice by a live process.
    let mut copies_at: HashMap<&str, Vec<u64>> = HashMap::new();
    let kills: Vec<u64> = applied
        .iter()
        .filter(|a| a.kind == "sigkill")
        .map(|a| a.at)
        .collect();
    let straddles_kill = |times: Option<&Vec<u64>>| {
        let mut times = times.cloned().unwrap_or_default();
        times.sort_unstable();
        times.len() >= 2 && kills.iter().any(|k| (times[0]..=times[1]).contains(k))
    };
    let peer_of: HashMap<&str, usize> = injected
        .iter()
        .map(|i| (i.marker.as_str(), i.peer))
        .collect();
    for s in stored {
        if let Some(rest) = s.text.strip_prefix("echo: ") {
            if let Some(marker) = marker_of(rest) {
                let right = peer_of
                    .get(marker)
                    .and_then(|p| targets.get(*p))
                    .is_some_and(|t| *t == s.to);
                if right {
                    *echoes.entry(marker).or_default() += 1;
                    copies_at.entry(marker).or_default().push(s.at_ms);
                } else {
                    f.replies_misrouted += 1;
                    note("replies_misrouted", format!("{marker} to {}", s.to));
                }
            }
        } else if s.text.starts_with("out-") {
            *outs.entry(s.text.as_str()).or_default() += 1;
            copies_at.entry(s.text.as_str()).or_default().push(s.at_ms);
        }
    }

    for inj in injected {
        let marker = inj.marker.as_str();
        let list = runs.get(marker).map(Vec::as_slice).unwrap_or_default();
        let replies = echoes.get(marker).copied().unwrap_or(0);
        if list.is_empty() {
            f.lost += 1;
            note("lost", marker.to_owned());
            if inj.while_expired {
                f.while_token_expired_lost += 1;
            }
        }
        if inj.while_expired {
            f.while_token_expired += 1;
        }
        let mut answered_before = false;
        for (i, run) in list.iter().enumerate() {
            if i > 0 {
                let previous = &list[i - 1];
                if answered_before {
                    f.duplicated += 1;
                    note("duplicated", marker.to_owned());
                } else if killed.contains(&previous.pid) {
                    f.reruns_after_kill += 1;
                    note("reruns_after_kill", marker.to_owned());
                } else {
                    f.reruns_without_kill += 1;
                    note("reruns_without_kill", marker.to_owned());
                }
            }
            answered_before |= run.answered;
        }
        // The first run ended by a kill before it could record its answer as sent.
        let cut_mid_send = list
            .first()
            .is_some_and(|run| !run.answered && killed.contains(&run.pid));
        if replies >= 2 && (cut_mid_send || straddles_kill(copies_at.get(marker))) {
            f.replies_twice_after_kill += 1;
            note("replies_twice_after_kill", format!("{marker} x{replies}"));
        } else if replies >= 2 {
            f.replies_sent_twice += 1;
            note("replies_sent_twice", format!("{marker} x{replies}"));
        }
        if replies == 0 && answered_before {
            f.replies_lost += 1;
            note("replies_lost", marker.to_owned());
        }
        if replies == 0 && !list.is_empty() && !answered_before {
            f.ran_never_answered += 1;
            note("ran_never_answered", marker.to_owned());
        }
        if list.len() == 1 && replies == 1 {
            f.delivered_exactly_once += 1;
        }
    }

    // Order: per peer, the first runs against the injection order.
    let place: HashMap<&str, (usize, usize)> = injected
        .iter()
        .map(|i| (i.marker.as_str(), (i.peer, i.n)))
        .collect();
    let mut highest: HashMap<usize, usize> = HashMap::new();
    for marker in &first_runs {
        let Some(&(peer, n)) = place.get(marker.as_str()) else {
            continue;
        };
        let top = highest.entry(peer).or_insert(n);
        if n < *top {
            f.out_of_order += 1;
            note("out_of_order", marker.clone());
        } else {
            *top = n;
        }
    }

    for line in ledger {
        if let Some(full) = &line.reply_failed {
            f.reply_failures += 1;
            note(
                "reply_failures",
                format!("{full}: {}", line.error.as_deref().unwrap_or_default()),
            );
        }
    }

    let queued: HashSet<&str> = ledger
        .iter()
        .filter(|l| l.receipt.as_deref() == Some("queued"))
        .filter_map(|l| l.sent.as_deref())
        .collect();
    f.outbound_reported_queued = queued.len();
    for n in 0..outbound {
        let id = format!("out-{n}");
        match outs.get(id.as_str()).copied().unwrap_or(0) {
            0 => {
                f.outbound_lost += 1;
                note("outbound_lost", id);
            }
            1 => f.outbound_sent += 1,
            many if straddles_kill(copies_at.get(id.as_str())) => {
                f.outbound_twice_after_kill += 1;
                note("outbound_twice_after_kill", format!("{id} x{many}"));
            }
            many => {
                f.outbound_twice += 1;
                note("outbound_twice", format!("{id} x{many}"));
            }
        }
    }

    let mut times: Vec<u64> = applied.iter().filter_map(|a| a.recovered_ms).collect();
    times.sort_unstable();
    f.faults_missed = applied.iter().filter(|a| a.missed).count();
    f.faults_unrecovered = applied
        .iter()
        .filter(|a| !a.missed && a.recovered_ms.is_none())
        .count();
    f.recovery_ms_p50 = times.get(times.len() / 2).copied();
    f.recovery_ms_max = times.last().copied();
    (f, examples)
}

/// Recovery p50/max per fault kind.
pub fn recovery_by_kind(
    applied: &[Applied],
) -> BTreeMap<String, (usize, Option<u64>, Option<u64>)> {
    let mut by: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in applied.iter().filter(|a| !a.missed) {
        *counts.entry(a.kind.clone()).or_default() += 1;
        if let Some(ms) = a.recovered_ms {
            by.entry(a.kind.clone()).or_default().push(ms);
        }
    }
    counts
        .into_iter()
        .map(|(kind, count)| {
            let mut times = by.remove(&kind).unwrap_or_default();
            times.sort_unstable();
            let p50 = times.get(times.len() / 2).copied();
            (kind, (count, p50, times.last().copied()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        turn: Option<&str>,
        text: Option<&str>,
        answered: Option<&str>,
        pid: u32,
        at: u64,
    ) -> Line {
        Line {
            turn: turn.map(Into::into),
            text: text.map(Into::into),
            answered: answered.map(Into::into),
            reply_failed: None,
            error: None,
            sent: None,
            receipt: None,
            ready: false,
            pid,
            at,
        }
    }

    fn inj(marker: &str, peer: usize, n: usize) -> Injection {
        Injection {
            marker: marker.into(),
            peer,
            n,
            while_expired: false,
        }
    }

    fn echo(marker: &str) -> Stored {
        echo_at(marker, 0)
    }

    fn echo_at(marker: &str, at_ms: u64) -> Stored {
        stored_at(&format!("echo: {marker}"), at_ms)
    }

    fn stored_at(text: &str, at_ms: u64) -> Stored {
        Stored {
            to: "p".into(),
            text: text.into(),
            at_ms,
        }
    }

    #[test]
    fn each_figure_counts_what_it_names() {
        let injected = [
            inj("[c00-000000]", 0, 0),
            inj("[c00-000001]", 0, 1),
            inj("[c00-000002]", 0, 2),
            inj("[c00-000003]", 0, 3),
            inj("[c01-000000]", 1, 0),
        ];
        let ledger = [
            // once, answered
            line(Some("a"), Some("[c00-000000]"), None, 1, 10),
            line(None, None, Some("a"), 1, 11),
            // cut by a kill of pid 1, run again by pid 2
            line(Some("b"), Some("[c00-000001]"), None, 1, 12),
            line(Some("b"), Some("[c00-000001]"), None, 2, 20),
            line(None, None, Some("b"), 2, 21),
            // c00-3 runs before c00-2: out of order; and answered twice: duplicated
            line(Some("d"), Some("[c00-000003]"), None, 2, 22),
            line(None, None, Some("d"), 2, 23),
            line(Some("c"), Some("[c00-000002]"), None, 2, 24),
            line(None, None, Some("c"), 2, 25),
            line(Some("d"), Some("[c00-000003]"), None, 2, 26),
            line(None, None, Some("d"), 2, 27),
        ];
        let stored = [
            echo("[c00-000000]"),
            echo("[c00-000001]"),
            echo("[c00-000003]"),
            echo("[c00-000003]"),
            stored_at("out-0", 0),
            stored_at("out-1", 0),
            stored_at("out-1", 0),
        ];
        let killed = HashSet::from([1]);
        let targets = ["p".to_owned(), "p".to_owned()];
        let (f, examples) = compute(&injected, &targets, 3, &ledger, &stored, &killed, &[]);
        assert_eq!(f.lost, 1, "{examples:?}");
        assert_eq!(examples["lost"], ["[c01-000000]"]);
        assert_eq!(f.reruns_after_kill, 1);
        assert_eq!(f.duplicated, 1);
        assert_eq!(f.out_of_order, 1);
        assert_eq!(examples["out_of_order"], ["[c00-000002]"]);
        assert_eq!(f.replies_sent_twice, 1);
        assert_eq!(f.replies_lost, 1, "c00-2 answered, no echo stored");
        assert_eq!(f.delivered_exactly_once, 1);
        assert_eq!(
            (f.outbound_sent, f.outbound_twice, f.outbound_lost),
            (1, 1, 1)
        );
        assert_eq!(
            f.failures(),
            [
                "lost=1",
                "duplicated=1",
                "out_of_order=1",
                "replies_sent_twice=1",
                "outbound_twice=1",
                "outbound_lost=1"
            ]
        );
    }

    /// Two stored copies with a kill between them are the window a kill between the server's
    /// accept and the send log leaves; two without one are a live process sending twice.
    #[test]
    fn copies_that_straddle_a_kill_are_counted_apart() {
        let injected = [inj("[c00-000000]", 0, 0), inj("[c00-000001]", 0, 1)];
        let ledger = [
            line(Some("a"), Some("[c00-000000]"), None, 1, 10),
            line(None, None, Some("a"), 1, 11),
            line(Some("b"), Some("[c00-000001]"), None, 1, 12),
            line(None, None, Some("b"), 1, 13),
        ];
        let stored = [
            echo_at("[c00-000000]", 100),
            echo_at("[c00-000000]", 300),
            echo_at("[c00-000001]", 100),
            echo_at("[c00-000001]", 150),
            stored_at("out-0", 150),
            stored_at("out-0", 250),
            stored_at("out-1", 100),
            stored_at("out-1", 120),
        ];
        let kill = Applied {
            before_message: None,
            kind: "sigkill".into(),
            at: 200,
            detail: String::new(),
            recovered_ms: None,
            missed: false,
        };
        let targets = ["p".to_owned()];
        let (mut f, _) = compute(
            &injected,
            &targets,
            2,
            &ledger,
            &stored,
            &HashSet::new(),
            &[kill],
        );
        assert_eq!((f.replies_twice_after_kill, f.replies_sent_twice), (1, 1));
        assert_eq!((f.outbound_twice_after_kill, f.outbound_twice), (1, 1));
        assert_eq!(f.failures(), ["replies_sent_twice=1", "outbound_twice=1"]);
        f.idempotent_sends = true;
        assert_eq!(
            f.failures(),
            [
                "replies_sent_twice=1",
                "replies_twice_after_kill=1",
                "outbound_twice=1",
                "outbound_twice_after_kill=1"
            ]
        );
    }

    #[test]
    fn recovery_is_the_next_turn_after_the_fault() {
        let ledger = [
            line(Some("a"), Some("[c00-000000]"), None, 1, 100),
            line(Some("b"), Some("[c00-000001]"), None, 1, 250),
        ];
        let mut applied = vec![
            Applied {
                before_message: None,
                kind: "kill".into(),
                at: 120,
                detail: String::new(),
                recovered_ms: None,
                missed: false,
            },
            Applied {
                before_message: None,
                kind: "drop".into(),
                at: 300,
                detail: String::new(),
                recovered_ms: None,
                missed: false,
            },
        ];
        applied.push(Applied {
            kind: "frame_drop".into(),
            at: 110,
            missed: true,
            ..applied[0].clone()
        });
        recoveries(&mut applied, &ledger);
        assert_eq!(applied[0].recovered_ms, Some(130));
        assert_eq!(applied[1].recovered_ms, None);
        assert_eq!(
            applied[2].recovered_ms, None,
            "a missed fault has nothing to recover"
        );
        let by_kind = recovery_by_kind(&applied);
        assert!(!by_kind.contains_key("frame_drop"));
    }
}
