//! Session keys. The host's `resolveAgentRoute` is canonical; channels hand over peer, account
//! and chat kind and never invent keys. [`ScopeResolver`] mirrors OpenClaw's `dmScope` rules
//! for tests and standalone use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ChannelError;
use crate::message::ChatKind;

/// What the host needs to pick an agent and a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteQuery {
    pub channel: String,
    pub account: String,
    pub peer_kind: ChatKind,
    pub peer_id: String,
}

/// The host's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub agent_id: String,
    pub session_key: String,
    pub main_session_key: String,
}

#[async_trait::async_trait]
pub trait SessionKeyResolver: Send + Sync {
    async fn resolve_route(&self, query: &RouteQuery) -> Result<Route, ChannelError>;
}

/// OpenClaw's `session.dmScope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DmScope {
    #[default]
    Main,
    PerPeer,
    PerChannelPeer,
    PerAccountChannelPeer,
}

/// The built-in resolver: OpenClaw's key grammar, one agent.
#[derive(Debug, Clone)]
pub struct ScopeResolver {
    pub agent_id: String,
    pub dm_scope: DmScope,
}

impl Default for ScopeResolver {
    fn default() -> Self {
        Self {
            agent_id: "main".into(),
            dm_scope: DmScope::Main,
        }
    }
}

impl ScopeResolver {
    pub fn new(dm_scope: DmScope) -> Self {
        Self {
            dm_scope,
            ..Self::default()
        }
    }

    pub fn route(&self, q: &RouteQuery) -> Route {
        let agent = &self.agent_id;
        // The host lower-cases peer ids in keys; we do the same so keys agree.
        let peer = q.peer_id.to_lowercase();
        let session_key = match (q.peer_kind, self.dm_scope) {
            (ChatKind::Group, _) => format!("agent:{agent}:{}:group:{peer}", q.channel),
            (ChatKind::Direct, DmScope::Main) => format!("agent:{agent}:main"),
            (ChatKind::Direct, DmScope::PerPeer) => format!("agent:{agent}:direct:{peer}"),
            (ChatKind::Direct, DmScope::PerChannelPeer) => {
                format!("agent:{agent}:{}:direct:{peer}", q.channel)
            }
            (ChatKind::Direct, DmScope::PerAccountChannelPeer) => {
                format!(
                    "agent:{agent}:{}:{}:direct:{peer}",
                    q.channel,
                    q.account.to_lowercase()
                )
            }
        };
        Route {
            agent_id: agent.clone(),
            session_key,
            main_session_key: format!("agent:{agent}:main"),
        }
    }
}

#[async_trait::async_trait]
impl SessionKeyResolver for ScopeResolver {
    async fn resolve_route(&self, query: &RouteQuery) -> Result<Route, ChannelError> {
        Ok(self.route(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(kind: ChatKind, peer: &str) -> RouteQuery {
        RouteQuery {
            channel: "openclaw-weixin".into(),
            account: "B0F5-im-bot".into(),
            peer_kind: kind,
            peer_id: peer.into(),
        }
    }

    #[test]
    fn keys_follow_openclaw_dm_scope_grammar() {
        let peer = "o9cq80AbC@im.wechat";
        let cases = [
            (DmScope::Main, "agent:main:main"),
            (DmScope::PerPeer, "agent:main:direct:o9cq80abc@im.wechat"),
            (
                DmScope::PerChannelPeer,
                "agent:main:openclaw-weixin:direct:o9cq80abc@im.wechat",
            ),
            (
                DmScope::PerAccountChannelPeer,
                "agent:main:openclaw-weixin:b0f5-im-bot:direct:o9cq80abc@im.wechat",
            ),
        ];
        for (scope, key) in cases {
            let route = ScopeResolver::new(scope).route(&query(ChatKind::Direct, peer));
            assert_eq!(route.session_key, key, "{scope:?}");
            assert_eq!(route.main_session_key, "agent:main:main");
        }
        let group = ScopeResolver::default().route(&query(ChatKind::Group, "G1"));
        assert_eq!(group.session_key, "agent:main:openclaw-weixin:group:g1");
    }
}
