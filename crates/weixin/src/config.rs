//! `channels.openclaw-weixin`: the keys of Tencent's plugin, plus the DM keys it ignored.

use std::collections::BTreeMap;

use channel_core::media::MediaKeys;
use channel_core::{DmKeys, TurnKeys};
use schemars::JsonSchema;
use serde::Deserialize;

pub use channel_core::StringOrNumber;

/// Settings of the WeChat channel (`channels.openclaw-weixin`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeixinConfig {
    /// Display name.
    pub name: Option<String>,
    /// Turns the whole channel off when false.
    #[schemars(extend("x-basic" = true))]
    pub enabled: Option<bool>,
    /// iLink API base URL for every account, overriding the one saved at login (private
    /// deployments and tests).
    pub base_url: Option<String>,
    /// CDN base URL for media. Default `https://novac2c.cdn.weixin.qq.com/c2c`.
    pub cdn_base_url: Option<String>,
    /// Directories (absolute) that local files sent as media may come from, besides
    /// `<state>/media`, `<state>/workspace` and the host's own media roots. Other local paths,
    /// and symlinks leading out of these directories, are refused.
    pub media_local_roots: Option<Vec<String>>,
    /// `mediaMaxMb`, `mediaAllowHosts`, `mediaAllowPrivateNetwork`: the size cap and where
    /// media may be fetched from (the CDN and API hosts are always allowed).
    #[serde(flatten)]
    pub media: MediaKeys,
    /// Where QR logins start. Default `https://ilinkai.weixin.qq.com`.
    pub login_base_url: Option<String>,
    /// `SKRouteTag` header value, if your deployment routes on it.
    pub route_tag: Option<StringOrNumber>,
    /// `base_info.bot_agent`: space-separated `name/version` tokens. Default `OpenClaw`.
    pub bot_agent: Option<String>,
    /// `dmPolicy` and `allowFrom` (WeChat user ids, `…@im.wechat`). The WeChat user who bound
    /// the bot is always allowed.
    #[serde(flatten)]
    pub dm: DmKeys,
    /// `turnTimeoutSeconds`: how long one agent turn may hold its peer (read by channel-core).
    #[serde(flatten)]
    pub turn: TurnKeys,
    /// Per-account overrides, keyed by normalized account id (e.g. `b0f5860fdecb-im-bot`).
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
    /// Longest text of one WeChat message, in characters; longer replies are split on
    /// paragraph and line boundaries. Default 2000.
    pub text_chunk_limit: Option<usize>,
    /// Bot messages allowed per message of the peer before sends are queued. Default 10.
    pub context_token_max_sends: Option<u32>,
    /// Hours after the peer's last message during which the bot may still write. Default 23.
    pub context_token_max_age_hours: Option<u32>,
    /// Send tool-progress messages (accepted for compatibility).
    pub reply_progress_messages: Option<bool>,
    /// Quote-cache settings (accepted for compatibility).
    pub quote_cache: Option<serde_json::Value>,
    /// Bumped after a login so the gateway reloads the channel.
    pub channel_config_updated_at: Option<String>,
}

/// Settings of one account (`channels.openclaw-weixin.accounts.<id>`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountConfig {
    /// Display name of this account, overriding the channel's.
    pub name: Option<String>,
    /// Turns this account off when false.
    #[schemars(extend("x-basic" = true))]
    pub enabled: Option<bool>,
    /// iLink API base URL of this account, overriding the channel's and the saved one.
    pub base_url: Option<String>,
    /// CDN base URL of this account's media, overriding the channel's.
    pub cdn_base_url: Option<String>,
    /// Local media roots of this account, replacing the channel's `mediaLocalRoots`.
    pub media_local_roots: Option<Vec<String>>,
    /// Overrides the channel's media keys for this account.
    #[serde(flatten)]
    pub media: MediaKeys,
    /// `SKRouteTag` header value of this account, overriding the channel's.
    pub route_tag: Option<StringOrNumber>,
    /// `base_info.bot_agent` of this account, overriding the channel's.
    pub bot_agent: Option<String>,
    /// Overrides the channel's `dmPolicy` and `allowFrom` for this account.
    #[serde(flatten)]
    pub dm: DmKeys,
    /// `turnTimeoutSeconds`: how long one agent turn may hold its peer (read by channel-core).
    #[serde(flatten)]
    pub turn: TurnKeys,
}

impl WeixinConfig {
    /// Parses the section; errors name the full path of the bad key.
    pub fn parse(section: &serde_json::Value) -> Result<Self, channel_core::ChannelError> {
        if section.is_null() {
            return Ok(Self::default());
        }
        channel_core::config::check_shared_keys(SECTION, section)?;
        channel_core::parse_config(SECTION, section)
    }
}

const SECTION: &str = "channels.openclaw-weixin";

/// The JSON Schema of [`WeixinConfig`], as the manifest carries it.
pub fn schema() -> serde_json::Value {
    channel_core::schema::for_type::<WeixinConfig>()
}

/// OpenClaw's `uiHints` for the section, from the same types: labels, help, secrets marked.
pub fn ui_hints() -> serde_json::Value {
    channel_core::schema::ui_hints_for::<WeixinConfig>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_snapshot() {
        insta::assert_json_snapshot!(schema());
    }

    #[test]
    fn accepts_tencents_keys_and_ours() {
        let raw = serde_json::json!({
            "enabled": true, "routeTag": 1001, "botAgent": "OpenClaw", "cdnBaseUrl": "https://cdn",
            "replyProgressMessages": false, "quoteCache": {"enabled": true},
            "channelConfigUpdatedAt": "2026-11-01T00:00:00Z", "dmPolicy": "allowlist",
            "allowFrom": ["a@im.wechat", 42], "mediaMaxMb": 2.5, "mediaLocalRoots": ["/srv/files"],
            "mediaAllowPrivateNetwork": true,
            "accounts": {"b0-im-bot": {"baseUrl": "http://127.0.0.1:1", "routeTag": "x", "enabled": false}}
        });
        let config: WeixinConfig =
            channel_core::parse_config("channels.openclaw-weixin", &raw).expect("parse");
        assert_eq!(config.dm.dm_policy, Some(channel_core::DmPolicy::Allowlist));
        assert_eq!(config.accounts["b0-im-bot"].enabled, Some(false));
        assert_eq!(config.media.media_max_mb, Some(2.5));
        assert_eq!(config.media.media_allow_private_network, Some(true));
    }

    #[test]
    fn bad_values_name_the_field() {
        let raw = serde_json::json!({"accounts": {"b0": {"dmPolicy": "sometimes"}}});
        let err = WeixinConfig::parse(&raw).expect_err("bad");
        assert!(
            err.message
                .contains("channels.openclaw-weixin.accounts.b0.dmPolicy"),
            "{err}"
        );
    }
}
