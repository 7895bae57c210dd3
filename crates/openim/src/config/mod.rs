//! `channels.multi-openim`: the keys of the `multi-openim-channel` plugin.
//!
//! Accounts are named (`accounts.<id>`), each with its own server and token; the plugin's old
//! single-account keys at the top level are refused with a message saying where they go,
//! rather than silently becoming a `default` account. `userID` and `platformID` may be left
//! out: they are read from the token's claims, which the gateway requires them to match.

pub(crate) mod paths;
mod refresh;

use std::collections::BTreeMap;
use std::time::Duration;

use channel_core::media::{MediaKeys, MediaPolicy};
use channel_core::{
    AccountBase, ChannelError, DmConfig, DmKeys, GroupConfig, GroupKeys, GroupPolicy, TurnKeys,
    parse_config,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::IgnoredAny;
use url::Url;

use crate::jwt::{self, Claims};
use crate::wire::platform;

pub use refresh::{
    BackoffConfig, DEFAULT_MARKER_PATH, DEFAULT_TIMEOUT, DEFAULT_TOKEN_PATH, HttpRefresh,
    HttpRefreshConfig, OneOrMany, RefreshBackoff, RefreshMode, TokenRefresh, TokenRefreshConfig,
};

const SECTION: &str = "channels.multi-openim";

/// `healthCheckIntervalMinutes` when not set.
pub const DEFAULT_HEALTH_CHECK_MINUTES: u32 = 30;

/// The error code the seed plugin's friend guard throws; ours refuses friend operations with
/// the same grep-able text while `disableFriendSdk` is on.
pub const FRIEND_API_DISABLED: &str = "MULTI_OPENIM_FRIEND_API_DISABLED";

pub use channel_core::StringOrNumber;

pub use channel_core::config::Secret;

/// Settings of the OpenIM channel (`channels.multi-openim`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenimConfig {
    /// Turns the whole channel off when false.
    #[schemars(extend("x-basic" = true))]
    pub enabled: Option<bool>,
    /// Minutes between health checks of each account's connection. Default 30.
    #[schemars(range(min = 1))]
    pub health_check_interval_minutes: Option<u32>,
    /// Refuse friend operations (add, accept, delete, black list, friend lists) with
    /// `MULTI_OPENIM_FRIEND_API_DISABLED`, for deployments where another system owns friend
    /// relationships. Default true; accounts may override it.
    pub disable_friend_sdk: Option<bool>,
    /// `dmPolicy` and `allowFrom` (OpenIM user ids); accounts may override them.
    #[serde(flatten)]
    pub dm: DmKeys,
    /// What to do when a token expires, is refused or is kicked.
    pub token_refresh: Option<TokenRefreshConfig>,
    /// Media size cap and the hosts media may be fetched from; accounts may override them.
    #[serde(flatten)]
    pub media: MediaKeys,
    /// `groupPolicy`, `groupAllowFrom`, `groups`: OpenClaw's group gate; accounts may override
    /// them. Without any of them, groups stay open as in the seed plugin (`requireMention` and
    /// `inboundWhitelist` still apply).
    #[serde(flatten)]
    pub group: GroupKeys,
    /// `turnTimeoutSeconds`: how long one agent turn may hold its peer (read by channel-core).
    #[serde(flatten)]
    pub turn: TurnKeys,
    /// The accounts, by name (e.g. `primary`). There is no implicit default account.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
    // The seed plugin's removed single-account keys, caught to explain where they go.
    #[serde(default)]
    #[schemars(skip)]
    token: Option<IgnoredAny>,
    #[serde(default)]
    #[schemars(skip)]
    ws_addr: Option<IgnoredAny>,
    #[serde(default)]
    #[schemars(skip)]
    api_addr: Option<IgnoredAny>,
}

/// Settings of one account (`channels.multi-openim.accounts.<id>`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountConfig {
    /// Default true.
    #[schemars(extend("x-basic" = true))]
    pub enabled: Option<bool>,
    /// The account's OpenIM user token (a JWT issued by `/auth/get_user_token`). Replaced in
    /// place when a token refresh succeeds. The account does not start without it.
    #[schemars(extend("x-basic" = true))]
    pub token: Option<Secret>,
    /// Message gateway WebSocket URL, e.g. `ws://im.example.com:10001`. The account does not
    /// start without it.
    #[schemars(extend("x-basic" = true))]
    pub ws_addr: Option<String>,
    /// REST API base URL, e.g. `http://im.example.com:10002`. The account does not start
    /// without it.
    #[schemars(extend("x-basic" = true))]
    pub api_addr: Option<String>,
    /// The OpenIM user id. Default: the token's `UserID` claim.
    #[serde(rename = "userID")]
    #[schemars(extend("x-basic" = true))]
    pub user_id: Option<StringOrNumber>,
    /// The platform id (1–11). Default: the token's `PlatformID` claim.
    #[serde(rename = "platformID")]
    #[schemars(range(min = 1, max = 11))]
    pub platform_id: Option<i64>,
    /// In groups, answer only messages that mention the bot (or @everyone). Default false.
    pub require_mention: Option<bool>,
    /// User or group ids whose messages are handled; others are ignored before the DM policy.
    /// Empty or absent: no restriction.
    pub inbound_whitelist: Option<Vec<StringOrNumber>>,
    /// Overrides the channel's `disableFriendSdk` for this account.
    pub disable_friend_sdk: Option<bool>,
    /// Overrides the channel's `dmPolicy` and `allowFrom` for this account.
    #[serde(flatten)]
    pub dm: DmKeys,
    /// Overrides the channel's media keys for this account.
    #[serde(flatten)]
    pub media: MediaKeys,
    /// Overrides the channel's group keys for this account.
    #[serde(flatten)]
    pub group: GroupKeys,
    /// `turnTimeoutSeconds`: how long one agent turn may hold its peer (read by channel-core).
    #[serde(flatten)]
    pub turn: TurnKeys,
}

/// The JSON Schema of [`OpenimConfig`], as the manifest carries it.
///
/// The refused top-level `token`/`wsAddr`/`apiAddr` are not in it: the schema allows unknown
/// keys, so [`OpenimConfig::parse`] gets to explain them instead of a generic validator error.
pub fn schema() -> serde_json::Value {
    channel_core::schema::for_type::<OpenimConfig>()
}

/// OpenClaw's `uiHints` for the section, from the same types: labels, help, secrets marked.
pub fn ui_hints() -> serde_json::Value {
    channel_core::schema::ui_hints_for::<OpenimConfig>()
}

/// One account's effective settings: its keys, then the channel's, then defaults.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Its id, whether it runs, its DM and group gates (`requireMention` is the default
    /// mention rule), and where and as whom it connects.
    pub base: AccountBase<Credentials>,
    pub inbound_whitelist: Vec<String>,
    pub disable_friend_sdk: bool,
    pub health_check_interval: Duration,
    pub token_refresh: TokenRefresh,
}

/// Where and as whom one account connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub token: Secret,
    pub ws_addr: Url,
    pub api_addr: Url,
    /// The `sendID`: configured, or the token's `UserID`.
    pub user_id: String,
    /// The `platformID`: configured, or the token's `PlatformID`.
    pub platform_id: i32,
    /// The token's claims, when it could be decoded (it need not be when `userID` and
    /// `platformID` are both configured: the server is the judge of the token).
    pub claims: Option<Claims>,
}

impl OpenimConfig {
    /// Parses and checks the section. Errors name the offending key.
    pub fn parse(section: &serde_json::Value) -> Result<Self, ChannelError> {
        if section.is_null() {
            return Ok(Self::default());
        }
        channel_core::config::check_shared_keys(SECTION, section)?;
        let config: Self = parse_config(SECTION, section)?;
        let legacy: Vec<&str> = [
            ("token", config.token.is_some()),
            ("wsAddr", config.ws_addr.is_some()),
            ("apiAddr", config.api_addr.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, present)| present.then_some(key))
        .collect();
        if let Some(first) = legacy.first() {
            let keys = legacy
                .iter()
                .map(|k| format!("{SECTION}.{k}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ChannelError::bad_input(format!(
                "{keys}: top-level {first} is not supported: multi-openim has no implicit \
                 default account, so token, wsAddr and apiAddr must be set per named account; \
                 move them under {SECTION}.accounts.<id> (for example accounts.primary.{first})"
            )));
        }
        config.health_check_interval()?;
        config.token_refresh()?;
        Ok(config)
    }

    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// Configured account ids, sorted, byte-exact.
    pub fn account_ids(&self) -> Vec<String> {
        self.accounts.keys().cloned().collect()
    }

    pub fn health_check_interval(&self) -> Result<Duration, ChannelError> {
        let minutes = self
            .health_check_interval_minutes
            .unwrap_or(DEFAULT_HEALTH_CHECK_MINUTES);
        if minutes == 0 {
            return Err(ChannelError::bad_input(format!(
                "{SECTION}.healthCheckIntervalMinutes: must be at least 1"
            )));
        }
        Ok(Duration::from_secs(u64::from(minutes) * 60))
    }

    /// The effective `tokenRefresh` settings (shared by all accounts).
    pub fn token_refresh(&self) -> Result<TokenRefresh, ChannelError> {
        TokenRefresh::resolve(
            &format!("{SECTION}.tokenRefresh"),
            self.token_refresh.as_ref(),
        )
    }

    /// One account's group gate. Without `groupPolicy`, groups are open as in the seed plugin,
    /// unless a group or sender allowlist is configured, which only makes sense as an
    /// allowlist. `requireMention` (default false) is the mention rule unless `groups` says.
    fn group_config(&self, account: &AccountConfig) -> GroupConfig {
        let listed = [&account.group, &self.group]
            .iter()
            .any(|k| k.groups.is_some() || k.group_allow_from.is_some());
        let default = if listed {
            GroupPolicy::Allowlist
        } else {
            GroupPolicy::Open
        };
        GroupConfig::layered(
            &self.group,
            Some(&account.group),
            default,
            account.require_mention.unwrap_or(false),
        )
    }

    /// One account's media rules: its keys over the channel's, with the hosts of its own
    /// servers (`wsAddr`, `apiAddr`) trusted, since self-hosted OpenIM often lives on a
    /// private network. Temporary files go to `tmp_dir`.
    pub fn media_policy(
        &self,
        settings: &AccountSettings,
        tmp_dir: std::path::PathBuf,
    ) -> Result<MediaPolicy, ChannelError> {
        let own = self.accounts.get(&settings.base.id).map(|a| &a.media);
        let mut policy = MediaPolicy::layered(
            SECTION,
            &self.media,
            own.map(|keys| (settings.base.id.as_str(), keys)),
            tmp_dir,
        )?;
        if let Ok(credentials) = &settings.base.credentials {
            policy.trust_url(&credentials.ws_addr);
            policy.trust_url(&credentials.api_addr);
        }
        Ok(policy)
    }

    /// One account's effective settings. Problems with its credentials do not fail this call:
    /// they are in [`AccountSettings::credentials`].
    pub fn account(&self, id: &str) -> Result<AccountSettings, ChannelError> {
        let Some(account) = self.accounts.get(id) else {
            let known = if self.accounts.is_empty() {
                "none are configured".to_owned()
            } else {
                format!("configured: {}", self.account_ids().join(", "))
            };
            return Err(ChannelError::bad_input(format!(
                "{SECTION}.accounts.{id}: no such account ({known})"
            )));
        };
        let strings = |list: &Option<Vec<StringOrNumber>>| {
            list.clone()
                .map(|l| l.into_iter().map(StringOrNumber::into_string).collect())
        };
        Ok(AccountSettings {
            base: AccountBase {
                id: id.to_owned(),
                enabled: self.enabled() && account.enabled.unwrap_or(true),
                credentials: credentials(id, account),
                dm: DmConfig::layered(&self.dm, Some(&account.dm)),
                group: self.group_config(account),
            },
            inbound_whitelist: strings(&account.inbound_whitelist).unwrap_or_default(),
            disable_friend_sdk: account
                .disable_friend_sdk
                .or(self.disable_friend_sdk)
                .unwrap_or(true),
            health_check_interval: self.health_check_interval()?,
            token_refresh: self.token_refresh()?,
        })
    }
}

fn credentials(id: &str, account: &AccountConfig) -> Result<Credentials, ChannelError> {
    let field = |name: &str| format!("{SECTION}.accounts.{id}.{name}");
    let Some(token) = account
        .token
        .as_ref()
        .map(|t| t.expose().trim())
        .filter(|t| !t.is_empty())
    else {
        return Err(ChannelError::needs_login(format!(
            "{}: missing: set the account's OpenIM user token",
            field("token")
        )));
    };
    let ws_addr = parse_addr(&field("wsAddr"), account.ws_addr.as_deref(), &["ws", "wss"])?;
    let api_addr = parse_addr(
        &field("apiAddr"),
        account.api_addr.as_deref(),
        &["http", "https"],
    )?;
    // Kept without the `token:` prefix, to be reported under the field's own path.
    let claims = jwt::decode(token).map_err(|e| e.message.trim_start_matches("token: ").to_owned());
    let unreadable = |why: &String, key: &str| {
        ChannelError::bad_input(format!(
            "{}: {why} ({key} is not configured, so it must come from the token's claims)",
            field("token")
        ))
    };
    let user_id = match (
        account.user_id.clone().map(StringOrNumber::into_string),
        &claims,
    ) {
        (Some(configured), Ok(claims)) if configured != claims.user_id => {
            return Err(ChannelError::bad_input(format!(
                "{}: {configured:?} does not match the token's UserID claim {:?}; the gateway \
                 refuses such a connection (1502): remove userID or use a token for this user",
                field("userID"),
                claims.user_id
            )));
        }
        (Some(configured), _) if configured.is_empty() => {
            return Err(ChannelError::bad_input(format!(
                "{}: empty; remove it to use the token's UserID claim",
                field("userID")
            )));
        }
        (Some(configured), _) => configured,
        (None, Ok(claims)) => claims.user_id.clone(),
        (None, Err(why)) => return Err(unreadable(why, "userID")),
    };
    let platform_id = match (account.platform_id, &claims) {
        (Some(configured), _) if !platform::is_known(configured) => {
            return Err(ChannelError::bad_input(format!(
                "{}: {configured} is not an OpenIM platform id (1–11)",
                field("platformID")
            )));
        }
        (Some(configured), Ok(claims)) if configured != i64::from(claims.platform_id) => {
            return Err(ChannelError::bad_input(format!(
                "{}: {configured} does not match the token's PlatformID claim {}; the gateway \
                 refuses such a connection (1502): remove platformID or use a token for this \
                 platform",
                field("platformID"),
                claims.platform_id
            )));
        }
        // In range, so it fits.
        (Some(configured), _) => configured as i32,
        (None, Ok(claims)) if !platform::is_known(i64::from(claims.platform_id)) => {
            return Err(ChannelError::bad_input(format!(
                "{}: the token's PlatformID claim {} is not an OpenIM platform id (1–11)",
                field("token"),
                claims.platform_id
            )));
        }
        (None, Ok(claims)) => claims.platform_id,
        (None, Err(why)) => return Err(unreadable(why, "platformID")),
    };
    Ok(Credentials {
        token: Secret::new(token),
        ws_addr,
        api_addr,
        user_id,
        platform_id,
        claims: claims.ok(),
    })
}

fn parse_addr(field: &str, raw: Option<&str>, schemes: &[&str]) -> Result<Url, ChannelError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(ChannelError::bad_input(format!("{field}: missing")));
    };
    let url = Url::parse(raw)
        .map_err(|e| ChannelError::bad_input(format!("{field}: not a URL ({e}): {raw:?}")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(ChannelError::bad_input(format!(
            "{field}: must start with {}, got {raw:?}",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ChannelError::bad_input(format!(
            "{field}: no host in {raw:?}"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use channel_core::{DmPolicy, ErrorKind};
    use serde_json::json;

    use super::*;
    use crate::jwt::tests::{token_with, user_token};

    fn parse(value: serde_json::Value) -> Result<OpenimConfig, ChannelError> {
        OpenimConfig::parse(&value)
    }

    /// Account `id`'s credentials, or why it has none it can use.
    fn credentials(config: &OpenimConfig, id: &str) -> Result<Credentials, ChannelError> {
        config.account(id).expect(id).base.credentials
    }

    fn account(extra: serde_json::Value) -> serde_json::Value {
        let mut base = json!({
            "token": user_token("bot1", 7),
            "wsAddr": "ws://im-a.example.com:10001",
            "apiAddr": "http://im-a.example.com:10002"
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        base
    }

    #[test]
    fn schema_snapshot() {
        insta::assert_json_snapshot!(schema());
    }

    #[test]
    fn the_seed_example_parses() {
        let config = parse(json!({
            "enabled": true,
            "healthCheckIntervalMinutes": 30,
            "disableFriendSdk": true,
            "tokenRefresh": {
                "mode": "http",
                "http": {
                    "stateFile": "/abs/path/to/tokens.json",
                    "endpoint": "https://auth.example.com/refresh",
                    "headers": { "content-type": "application/json" },
                    "body": { "refreshToken": "{state.refresh_token}" },
                    "responseTokenPath": "token"
                }
            },
            "accounts": {
                "primary": {
                    "enabled": true,
                    "token": user_token("bot1", 7),
                    "wsAddr": "ws://im-a.example.com:10001",
                    "apiAddr": "http://im-a.example.com:10002"
                },
                "team-b": {
                    "enabled": true,
                    "token": user_token("bot2", 5),
                    "wsAddr": "ws://im-b.example.com:10001",
                    "apiAddr": "http://im-b.example.com:10002",
                    "requireMention": true,
                    "inboundWhitelist": []
                }
            }
        }))
        .expect("parse");
        assert_eq!(config.account_ids(), ["primary", "team-b"]);
        let primary = config.account("primary").expect("primary");
        assert!(
            primary.base.enabled
                && !primary.base.group.require_mention
                && primary.disable_friend_sdk
        );
        // The seed's groups: open, with its requireMention.
        assert_eq!(primary.base.group.policy, GroupPolicy::Open);
        assert!(!primary.base.group.policy_configured);
        assert_eq!(primary.health_check_interval, Duration::from_secs(1800));
        let team_b = config.account("team-b").expect("team-b");
        assert!(team_b.base.group.require_mention);
        assert!(team_b.inbound_whitelist.is_empty());
        let creds = team_b.base.credentials.expect("credentials");
        assert_eq!(creds.ws_addr.as_str(), "ws://im-b.example.com:10001/");
        assert_eq!((creds.user_id.as_str(), creds.platform_id), ("bot2", 5));
        assert_eq!(team_b.token_refresh.mode, RefreshMode::Http);
    }

    #[test]
    fn top_level_single_account_keys_are_refused() {
        for key in ["token", "wsAddr", "apiAddr"] {
            let err = parse(json!({ key: "x", "accounts": {} })).expect_err(key);
            assert_eq!(err.kind, ErrorKind::BadInput);
            assert!(
                err.message
                    .starts_with(&format!("channels.multi-openim.{key}: top-level {key}")),
                "{err}"
            );
            assert!(err.message.contains("accounts.<id>"), "{err}");
            assert!(err.message.contains("no implicit default account"), "{err}");
        }
        let err = parse(json!({"token": "t", "wsAddr": "ws://a", "apiAddr": "http://a"}))
            .expect_err("all three");
        assert!(
            err.message.starts_with(
                "channels.multi-openim.token, channels.multi-openim.wsAddr, \
                 channels.multi-openim.apiAddr: "
            ),
            "{err}"
        );
        // The refused token is not echoed.
        let err = parse(json!({"token": "eyJsecret.x.y"})).expect_err("token");
        assert!(!err.message.contains("eyJsecret"), "{err}");
    }

    #[test]
    fn user_and_platform_come_from_the_token_when_omitted() {
        let config = parse(json!({"accounts": {"a": account(json!({}))}})).expect("parse");
        let creds = credentials(&config, "a").expect("creds");
        assert_eq!(creds.user_id, "bot1");
        assert_eq!(creds.platform_id, 7);
        assert_eq!(
            creds.claims.as_ref().and_then(|c| c.expires_at),
            Some(4_102_444_800)
        );
        assert!(!format!("{creds:?}").contains(creds.token.expose()));
    }

    #[test]
    fn configured_ids_must_match_the_token() {
        let config = parse(json!({"accounts": {
            "same": account(json!({"userID": "bot1", "platformID": 7})),
            "numeric": account(json!({"token": user_token("10086", 3), "userID": 10086})),
            "other-user": account(json!({"userID": "bot9"})),
            "other-platform": account(json!({"platformID": 5})),
            "bad-platform": account(json!({"platformID": 12})),
        }}))
        .expect("parse");
        let creds = |id: &str| credentials(&config, id);
        assert_eq!(creds("same").expect("same").user_id, "bot1");
        assert_eq!(creds("numeric").expect("numeric").user_id, "10086");
        let err = creds("other-user").expect_err("mismatch");
        assert!(
            err.message
                .starts_with("channels.multi-openim.accounts.other-user.userID: \"bot9\""),
            "{err}"
        );
        assert!(err.message.contains("1502"), "{err}");
        let err = creds("other-platform").expect_err("mismatch");
        assert!(
            err.message
                .starts_with("channels.multi-openim.accounts.other-platform.platformID: 5"),
            "{err}"
        );
        let err = creds("bad-platform").expect_err("range");
        assert!(err.message.contains("not an OpenIM platform id"), "{err}");
    }

    #[test]
    fn an_opaque_token_needs_both_ids() {
        let config = parse(json!({"accounts": {
            "explicit": account(json!({"token": "opaque", "userID": "bot1", "platformID": 7})),
            "implicit": account(json!({"token": "opaque"})),
            "half": account(json!({"token": "opaque", "userID": "bot1"})),
        }}))
        .expect("parse");
        let explicit = credentials(&config, "explicit").expect("the server judges the token");
        assert_eq!(explicit.claims, None);
        for (id, missing) in [("implicit", "userID"), ("half", "platformID")] {
            let err = credentials(&config, id).expect_err(id);
            assert_eq!(err.kind, ErrorKind::BadInput);
            assert!(
                err.message.starts_with(&format!(
                    "channels.multi-openim.accounts.{id}.token: not a JWT"
                )),
                "{err}"
            );
            assert!(
                err.message
                    .contains(&format!("({missing} is not configured")),
                "{err}"
            );
            assert!(!err.message.contains("opaque"), "{err}");
        }
    }

    #[test]
    fn missing_or_bad_credentials_are_per_account() {
        let config = parse(json!({"accounts": {
            "ok": account(json!({})),
            "no-token": {"wsAddr": "ws://a", "apiAddr": "http://a"},
            "no-ws": account(json!({"wsAddr": null})),
            "http-ws": account(json!({"wsAddr": "http://a:10001"})),
            "bad-api": account(json!({"apiAddr": "im.example.com:10002"})),
            "ws-api": account(json!({"apiAddr": "ws://a"})),
            "bad-claims": account(json!({"token": token_with(&json!({"UserID": "u", "PlatformID": 42}))})),
        }}))
        .expect("one bad account does not sink the channel");
        assert!(credentials(&config, "ok").is_ok());
        let cases = [
            (
                "no-token",
                ErrorKind::NeedsLogin,
                "accounts.no-token.token: missing",
            ),
            (
                "no-ws",
                ErrorKind::BadInput,
                "accounts.no-ws.wsAddr: missing",
            ),
            (
                "http-ws",
                ErrorKind::BadInput,
                "accounts.http-ws.wsAddr: must start with ws:// or wss://",
            ),
            (
                "bad-api",
                ErrorKind::BadInput,
                "accounts.bad-api.apiAddr: must start with http:// or https://",
            ),
            (
                "ws-api",
                ErrorKind::BadInput,
                "accounts.ws-api.apiAddr: must start with http://",
            ),
            (
                "bad-claims",
                ErrorKind::BadInput,
                "accounts.bad-claims.token: the token's PlatformID claim 42",
            ),
        ];
        for (id, kind, expected) in cases {
            let err = credentials(&config, id).expect_err(id);
            assert_eq!(err.kind, kind, "{err}");
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
        let err = config.account("nobody").expect_err("unknown");
        assert!(
            err.message
                .contains("accounts.nobody: no such account (configured: bad-api, bad-claims"),
            "{err}"
        );
    }

    #[test]
    fn account_keys_override_channel_keys() {
        let config = parse(json!({
            "enabled": true, "disableFriendSdk": false, "dmPolicy": "allowlist",
            "allowFrom": ["alice", 42], "healthCheckIntervalMinutes": 5,
            "accounts": {
                "a": account(json!({})),
                "b": account(json!({"enabled": false, "disableFriendSdk": true, "dmPolicy": "open",
                    "allowFrom": ["*"], "inboundWhitelist": ["alice", 7]}))
            }
        }))
        .expect("parse");
        let a = config.account("a").expect("a");
        assert!(!a.disable_friend_sdk);
        assert_eq!(a.base.dm.policy, DmPolicy::Allowlist);
        assert_eq!(a.base.dm.allow_from, ["alice", "42"]);
        assert_eq!(a.health_check_interval, Duration::from_secs(300));
        let b = config.account("b").expect("b");
        assert!(!b.base.enabled && b.disable_friend_sdk);
        assert_eq!(b.base.dm.policy, DmPolicy::Open);
        assert_eq!(b.base.dm.allow_from, ["*"]);
        assert_eq!(b.inbound_whitelist, ["alice", "7"]);
        let off =
            parse(json!({"enabled": false, "accounts": {"a": account(json!({}))}})).expect("parse");
        assert!(!off.account("a").expect("a").base.enabled);
    }

    #[test]
    fn group_keys_follow_openclaw_and_a_bare_allowlist_closes_groups() {
        let config = parse(json!({
            "groupAllowFrom": ["alice"],
            "accounts": {
                "listed": account(json!({"requireMention": true})),
                "explicit": account(json!({"groupPolicy": "open"})),
                "closed": account(json!({"groupPolicy": "disabled"})),
            }
        }))
        .expect("parse");
        let listed = config.account("listed").expect("listed").base.group;
        assert_eq!(
            listed.policy,
            GroupPolicy::Allowlist,
            "an allowlist means allowlist"
        );
        assert_eq!(listed.allow_from, ["alice"]);
        assert!(listed.require_mention);
        assert_eq!(
            config
                .account("explicit")
                .expect("explicit")
                .base
                .group
                .policy,
            GroupPolicy::Open
        );
        assert_eq!(
            config.account("closed").expect("closed").base.group.policy,
            GroupPolicy::Disabled
        );
        let err = parse(json!({"groupPolicy": "sometimes"})).expect_err("bad policy");
        assert!(
            err.message
                .starts_with("channels.multi-openim.groupPolicy: unknown variant `sometimes`"),
            "{err}"
        );
    }

    #[test]
    fn defaults() {
        let config = parse(serde_json::Value::Null).expect("null section");
        assert!(config.enabled() && config.account_ids().is_empty());
        let config = parse(json!({"accounts": {"a": account(json!({}))}})).expect("parse");
        let a = config.account("a").expect("a");
        assert_eq!(a.health_check_interval, Duration::from_secs(30 * 60));
        assert!(a.disable_friend_sdk && !a.base.group.require_mention && a.base.enabled);
        assert_eq!(a.base.dm.policy, DmPolicy::Pairing);
        assert_eq!(a.token_refresh.mode, RefreshMode::Hook);
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            (
                json!({"healthCheckIntervalMinutes": 0}),
                "channels.multi-openim.healthCheckIntervalMinutes: must be at least 1",
            ),
            (
                json!({"healthCheckIntervalMinutes": "30"}),
                "channels.multi-openim.healthCheckIntervalMinutes: invalid type",
            ),
            (
                json!({"accounts": {"a": {"dmPolicy": "sometimes"}}}),
                "channels.multi-openim.accounts.a.dmPolicy: unknown variant",
            ),
            (
                json!({"accounts": {"a": {"platformID": "seven"}}}),
                "channels.multi-openim.accounts.a.platformID: invalid type",
            ),
            (
                json!({"accounts": {"a": {"requireMention": "yes"}}}),
                "channels.multi-openim.accounts.a.requireMention: invalid type",
            ),
            (
                json!({"accounts": []}),
                "channels.multi-openim.accounts: invalid type",
            ),
        ];
        for (section, expected) in cases {
            let err = parse(section).expect_err(expected);
            assert_eq!(err.kind, ErrorKind::BadInput);
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }
}
