//! [`Backlog`]: what waits in one account, as `openclaw channels status` shows it: messages
//! whose turns have not ended, replies the network has not taken yet, and peers whose window
//! closes soon while something still waits for them.
//!
//! Read when the status is asked for, never pushed: it changes with every message, and
//! nobody looks at it between two status calls.

use serde::Serialize;

/// One account's backlog; its fields join the account snapshot (`--json`, the Control UI), and
/// its warnings the status's warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backlog {
    /// Messages accepted whose turns have not ended: queued behind their peer's earlier ones,
    /// running, or waiting for the account's next start.
    pub pending_turns: usize,
    /// The peers those messages come from.
    pub pending_peers: usize,
    /// Replies the network has not taken yet (WeChat's outbox: each waits for its peer to
    /// write again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_replies: Option<usize>,
    /// Peers whose window closes within the hour while a turn or a reply still waits for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_closing: Option<usize>,
    /// What an operator should know of the above, in a sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backlog_warnings: Vec<String>,
}

/// What a channel adds to an account's backlog ([`crate::Channel::backlog`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelBacklog {
    pub queued_replies: Option<usize>,
    pub windows_closing: Option<usize>,
}

impl Backlog {
    /// The backlog of pending turns from `peers` (one entry per turn) and what the channel
    /// adds, with its warnings.
    pub fn new(peers: &[String], channel: ChannelBacklog) -> Self {
        let distinct: std::collections::BTreeSet<&String> = peers.iter().collect();
        let mut warnings = Vec::new();
        if let Some(n) = channel.queued_replies.filter(|n| *n > 0) {
            warnings.push(format!(
                "{n} {} in the outbox, each until its peer writes again",
                plural(n, "reply waits", "replies wait")
            ));
        }
        if let Some(n) = channel.windows_closing.filter(|n| *n > 0) {
            warnings.push(format!(
                "{n} {} within the hour while messages still wait for {}",
                plural(n, "peer's window closes", "peers' windows close"),
                plural(n, "it", "them")
            ));
        }
        Self {
            pending_turns: peers.len(),
            pending_peers: distinct.len(),
            queued_replies: channel.queued_replies,
            windows_closing: channel.windows_closing,
            backlog_warnings: warnings,
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_turns_and_peers_and_warns_only_of_what_waits() {
        let peers = ["a".to_owned(), "b".to_owned(), "a".to_owned()];
        let quiet = Backlog::new(&peers, ChannelBacklog::default());
        assert_eq!((quiet.pending_turns, quiet.pending_peers), (3, 2));
        assert!(quiet.backlog_warnings.is_empty());
        assert_eq!(
            serde_json::to_value(&quiet).unwrap(),
            serde_json::json!({"pendingTurns": 3, "pendingPeers": 2})
        );
        let weixin = Backlog::new(
            &[],
            ChannelBacklog {
                queued_replies: Some(2),
                windows_closing: Some(1),
            },
        );
        assert_eq!(
            weixin.backlog_warnings,
            [
                "2 replies wait in the outbox, each until its peer writes again",
                "1 peer's window closes within the hour while messages still wait for it"
            ]
        );
        let idle = Backlog::new(
            &[],
            ChannelBacklog {
                queued_replies: Some(0),
                windows_closing: Some(0),
            },
        );
        assert!(idle.backlog_warnings.is_empty());
        assert_eq!(
            idle.queued_replies,
            Some(0),
            "a zero is shown, not left out"
        );
    }
}
