//! The group gate: which group messages reach the agent, with OpenClaw's keys and meaning
//! (its `docs/channels/groups.md`): `groupPolicy`, then the group and sender allowlists
//! (`groups`, `groupAllowFrom`), then mention gating (`requireMention`).
//!
//! ```
//! use channel_core::group::{GroupConfig, GroupKeys, GroupPolicy, GroupVerdict};
//! let keys: GroupKeys = serde_json::from_value(serde_json::json!({
//!     "groupPolicy": "allowlist", "groupAllowFrom": ["alice"],
//! })).unwrap();
//! let gate = GroupConfig::layered(&keys, None, GroupPolicy::Allowlist, true);
//! assert!(matches!(gate.decide("demo", "g1", "alice", true), GroupVerdict::Allow { .. }));
//! assert!(matches!(gate.decide("demo", "g1", "mallory", true), GroupVerdict::Drop(_)));
//! ```
//!
//! Pairing approvals are for DMs only: the host's pairing store never lets anyone into a group.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::StringOrNumber;
use crate::dm::{normalize_entry, sender_key};

/// `groupPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupPolicy {
    /// Every group; sender allowlists are not consulted, mention gating still applies.
    Open,
    /// Only groups listed in `groups` (or all, with `"*"`), and only senders listed in
    /// `groupAllowFrom` (or the group's `allowFrom`) when such a list is set.
    Allowlist,
    /// No group message reaches the agent.
    Disabled,
}

impl GroupPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Allowlist => "allowlist",
            Self::Disabled => "disabled",
        }
    }
}

/// One entry of `groups` (`"*"` is every group's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupEntry {
    /// Answer only messages that mention the bot.
    pub require_mention: Option<bool>,
    /// Senders who may trigger the agent in this group, replacing `groupAllowFrom`.
    pub allow_from: Option<Vec<StringOrNumber>>,
    /// `false` takes the group off the allowlist.
    pub enabled: Option<bool>,
}

/// The group keys of a channel section and of each `accounts.<id>` (flattened into the
/// channel's config type).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupKeys {
    /// `open`, `allowlist` or `disabled`: which groups the bot answers in.
    pub group_policy: Option<GroupPolicy>,
    /// Senders who may trigger the agent in groups (`"*"` for everyone). DM pairing
    /// approvals do not count here.
    pub group_allow_from: Option<Vec<StringOrNumber>>,
    /// The group allowlist, by group id, with per-group settings; `"*"` applies to every
    /// group.
    pub groups: Option<BTreeMap<String, GroupEntry>>,
}

/// One group's resolved settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRule {
    pub require_mention: Option<bool>,
    pub allow_from: Option<Vec<String>>,
    pub enabled: bool,
}

/// The effective group settings of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupConfig {
    pub policy: GroupPolicy,
    /// Whether `groupPolicy` was configured (else `policy` is the channel's default).
    pub policy_configured: bool,
    pub allow_from: Vec<String>,
    pub groups: BTreeMap<String, GroupRule>,
    /// Mention gating where neither the group nor `"*"` says.
    pub require_mention: bool,
}

impl Default for GroupConfig {
    /// Closed: OpenClaw's default for a channel without group settings.
    fn default() -> Self {
        Self {
            policy: GroupPolicy::Allowlist,
            policy_configured: false,
            allow_from: Vec::new(),
            groups: BTreeMap::new(),
            require_mention: true,
        }
    }
}

/// Why a group message did not reach the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupDrop {
    /// `groupPolicy: disabled`.
    Disabled,
    /// Not in `groups` (or disabled there), or the allowlist is empty.
    GroupNotAllowed,
    /// Not in `groupAllowFrom` / the group's `allowFrom`.
    SenderNotAllowed,
    /// `requireMention` and the message does not mention the bot.
    NotMentioned,
}

/// The gate's decision for one group message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupVerdict {
    /// `command_authorized`: the sender is on a sender allowlist, so its commands count.
    Allow {
        command_authorized: bool,
    },
    Drop(GroupDrop),
}

fn strings(list: &Option<Vec<StringOrNumber>>) -> Option<Vec<String>> {
    list.clone()
        .map(|l| l.into_iter().map(StringOrNumber::into_string).collect())
}

impl GroupConfig {
    /// The account's keys over the channel's; `default_policy` and `default_require_mention`
    /// where neither says (a channel keeps its users' old behaviour through them).
    pub fn layered(
        channel_keys: &GroupKeys,
        account_keys: Option<&GroupKeys>,
        default_policy: GroupPolicy,
        default_require_mention: bool,
    ) -> Self {
        let own = account_keys.cloned().unwrap_or_default();
        let policy = own.group_policy.or(channel_keys.group_policy);
        let groups = own
            .groups
            .as_ref()
            .or(channel_keys.groups.as_ref())
            .map(|groups| {
                groups
                    .iter()
                    .map(|(id, entry)| {
                        let rule = GroupRule {
                            require_mention: entry.require_mention,
                            allow_from: strings(&entry.allow_from),
                            enabled: entry.enabled.unwrap_or(true),
                        };
                        (id.trim().to_owned(), rule)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            policy: policy.unwrap_or(default_policy),
            policy_configured: policy.is_some(),
            allow_from: strings(&own.group_allow_from)
                .or_else(|| strings(&channel_keys.group_allow_from))
                .unwrap_or_default(),
            groups,
            require_mention: default_require_mention,
        }
    }

    /// The rule for `group`: its own entry (ids compared exactly, then case-insensitively),
    /// else `"*"`.
    fn rule(&self, group: &str) -> Option<&GroupRule> {
        self.groups
            .get(group)
            .or_else(|| {
                self.groups
                    .iter()
                    .find(|(id, _)| id.as_str() != "*" && id.eq_ignore_ascii_case(group))
                    .map(|(_, rule)| rule)
            })
            .or_else(|| self.groups.get("*"))
    }

    /// Decides for `sender` in `group`; `mentioned` is whether the message mentions the bot.
    pub fn decide(
        &self,
        channel: &str,
        group: &str,
        sender: &str,
        mentioned: bool,
    ) -> GroupVerdict {
        let rule = self.rule(group);
        let senders = rule
            .and_then(|r| r.allow_from.as_deref())
            .unwrap_or(&self.allow_from);
        let me = sender_key(sender);
        let sender_listed = senders
            .iter()
            .any(|e| e.trim() == "*" || normalize_entry(channel, e) == me);
        match self.policy {
            GroupPolicy::Disabled => return GroupVerdict::Drop(GroupDrop::Disabled),
            GroupPolicy::Open => {}
            GroupPolicy::Allowlist => {
                if rule.is_some_and(|r| !r.enabled) {
                    return GroupVerdict::Drop(GroupDrop::GroupNotAllowed);
                }
                // An allowlist with nothing in it admits nobody.
                if self.groups.is_empty() && senders.is_empty() {
                    return GroupVerdict::Drop(GroupDrop::GroupNotAllowed);
                }
                if !self.groups.is_empty() && rule.is_none() {
                    return GroupVerdict::Drop(GroupDrop::GroupNotAllowed);
                }
                if !senders.is_empty() && !sender_listed {
                    return GroupVerdict::Drop(GroupDrop::SenderNotAllowed);
                }
            }
        }
        let require_mention = rule
            .and_then(|r| r.require_mention)
            .unwrap_or(self.require_mention);
        if require_mention && !mentioned {
            return GroupVerdict::Drop(GroupDrop::NotMentioned);
        }
        GroupVerdict::Allow {
            command_authorized: sender_listed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(keys: serde_json::Value, policy: GroupPolicy, mention: bool) -> GroupConfig {
        let keys: GroupKeys = serde_json::from_value(keys).expect("keys");
        GroupConfig::layered(&keys, None, policy, mention)
    }

    const ALLOW: GroupVerdict = GroupVerdict::Allow {
        command_authorized: true,
    };
    const ALLOW_UNLISTED: GroupVerdict = GroupVerdict::Allow {
        command_authorized: false,
    };

    #[test]
    fn the_default_is_closed() {
        let g = GroupConfig::default();
        assert_eq!(
            g.decide("c", "g1", "alice", true),
            GroupVerdict::Drop(GroupDrop::GroupNotAllowed)
        );
        let g = gate(serde_json::json!({}), GroupPolicy::Allowlist, true);
        assert_eq!(
            g.decide("c", "g1", "alice", true),
            GroupVerdict::Drop(GroupDrop::GroupNotAllowed)
        );
    }

    #[test]
    fn policy_then_allowlists_then_mentions() {
        let g = gate(
            serde_json::json!({"groupPolicy": "allowlist", "groupAllowFrom": ["Alice", "c:bob"]}),
            GroupPolicy::Open,
            false,
        );
        assert!(g.policy_configured);
        assert_eq!(g.decide("c", "g1", "alice", false), ALLOW);
        assert_eq!(g.decide("c", "g2", "BOB", false), ALLOW);
        assert_eq!(
            g.decide("c", "g1", "mallory", true),
            GroupVerdict::Drop(GroupDrop::SenderNotAllowed)
        );

        let g = gate(
            serde_json::json!({"groupPolicy": "allowlist", "groups": {
                "g1": {"requireMention": false},
                "g2": {"allowFrom": ["carol"]},
                "g3": {"enabled": false},
            }}),
            GroupPolicy::Open,
            true,
        );
        assert_eq!(g.decide("c", "g1", "anyone", false), ALLOW_UNLISTED);
        assert_eq!(
            g.decide("c", "G1", "anyone", false),
            ALLOW_UNLISTED,
            "ids case-insensitive"
        );
        assert_eq!(
            g.decide("c", "g2", "carol", false),
            GroupVerdict::Drop(GroupDrop::NotMentioned)
        );
        assert_eq!(g.decide("c", "g2", "carol", true), ALLOW);
        assert_eq!(
            g.decide("c", "g2", "dave", true),
            GroupVerdict::Drop(GroupDrop::SenderNotAllowed)
        );
        assert_eq!(
            g.decide("c", "g3", "carol", true),
            GroupVerdict::Drop(GroupDrop::GroupNotAllowed)
        );
        assert_eq!(
            g.decide("c", "g4", "carol", true),
            GroupVerdict::Drop(GroupDrop::GroupNotAllowed)
        );

        let g = gate(
            serde_json::json!({"groupPolicy": "allowlist", "groups": {"*": {"requireMention": true}}, "groupAllowFrom": ["*"]}),
            GroupPolicy::Open,
            false,
        );
        assert_eq!(g.decide("c", "any", "x", true), ALLOW);
        assert_eq!(
            g.decide("c", "any", "x", false),
            GroupVerdict::Drop(GroupDrop::NotMentioned)
        );
    }

    #[test]
    fn open_ignores_allowlists_and_disabled_drops_everything() {
        let g = gate(
            serde_json::json!({"groupAllowFrom": ["alice"]}),
            GroupPolicy::Open,
            false,
        );
        assert!(!g.policy_configured);
        assert_eq!(g.decide("c", "g", "mallory", false), ALLOW_UNLISTED);
        assert_eq!(g.decide("c", "g", "alice", false), ALLOW);
        let g = gate(
            serde_json::json!({"groupPolicy": "disabled", "groupAllowFrom": ["*"]}),
            GroupPolicy::Open,
            false,
        );
        assert_eq!(
            g.decide("c", "g", "alice", true),
            GroupVerdict::Drop(GroupDrop::Disabled)
        );
    }

    #[test]
    fn an_account_overrides_the_channel() {
        let channel: GroupKeys = serde_json::from_value(serde_json::json!({
            "groupPolicy": "disabled", "groupAllowFrom": ["alice"],
        }))
        .expect("keys");
        let account: GroupKeys = serde_json::from_value(serde_json::json!({
            "groupPolicy": "allowlist",
        }))
        .expect("keys");
        let g = GroupConfig::layered(&channel, Some(&account), GroupPolicy::Open, false);
        assert_eq!(g.policy, GroupPolicy::Allowlist);
        assert_eq!(g.allow_from, ["alice"], "unset keys come from the channel");
        assert_eq!(g.decide("c", "g", "alice", false), ALLOW);
    }
}
