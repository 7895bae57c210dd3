//! Conversation ids: `<self>|<type>|<target>`, type 1 P2P, 2 team, 3 super team.
//!
//! The SDK's own parser answers 0 for an id whose first part is not the logged-in account, so
//! we parse them ourselves.

use std::fmt;

use channel_core::ChannelError;

use super::ConversationType;

/// A parsed conversation id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationId {
    /// The account the conversation belongs to (the bot's `accid`).
    pub me: String,
    pub kind: ConversationType,
    /// The peer's `accid`, or the team id.
    pub target: String,
}

impl ConversationId {
    pub fn p2p(me: impl Into<String>, peer: impl Into<String>) -> Self {
        Self {
            me: me.into(),
            kind: ConversationType::P2p,
            target: peer.into(),
        }
    }

    pub fn team(me: impl Into<String>, team: impl Into<String>) -> Self {
        Self {
            me: me.into(),
            kind: ConversationType::Team,
            target: team.into(),
        }
    }

    /// Parses `a|t|b`. Account ids may not contain `|`, so exactly three parts are expected.
    pub fn parse(raw: &str) -> Result<Self, ChannelError> {
        let bad = |why: &str| {
            ChannelError::bad_input(format!(
                "conversation id {raw:?}: {why} (expected <self>|<type>|<target>)"
            ))
        };
        let mut parts = raw.split('|');
        let (Some(me), Some(kind), Some(target), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three parts"));
        };
        let kind: i64 = kind.parse().map_err(|_| bad("the type is not a number"))?;
        let kind = ConversationType::from(kind);
        if !matches!(
            kind,
            ConversationType::P2p | ConversationType::Team | ConversationType::SuperTeam
        ) {
            return Err(bad("unknown conversation type"));
        }
        if me.is_empty() || target.is_empty() {
            return Err(bad("empty account or target"));
        }
        Ok(Self {
            me: me.to_owned(),
            kind,
            target: target.to_owned(),
        })
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.me, i64::from(self.kind), self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = ConversationId::p2p("bot", "alice");
        assert_eq!(id.to_string(), "bot|1|alice");
        assert_eq!(ConversationId::parse("bot|1|alice").unwrap(), id);
        let team = ConversationId::parse("bot|3|9001").unwrap();
        assert_eq!(team.kind, ConversationType::SuperTeam);
        assert_eq!(ConversationId::team("bot", "42").to_string(), "bot|2|42");
    }

    #[test]
    fn malformed_ids_name_the_problem() {
        for (raw, why) in [
            ("bot|1", "not three parts"),
            ("bot|1|a|b", "not three parts"),
            ("bot|x|a", "not a number"),
            ("bot|7|a", "unknown conversation type"),
            ("|1|a", "empty"),
        ] {
            let err = ConversationId::parse(raw).unwrap_err();
            assert!(err.message.contains(why), "{raw}: {err}");
        }
    }
}
