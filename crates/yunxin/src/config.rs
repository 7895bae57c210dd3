//! `channels.netease-yunxin`: the seed plugin's keys (`appKey`, `accountId`, `token`,
//! `enabled`, `allowFrom`, `dmPolicy`), its environment variables for the default account, plus
//! named `accounts.<id>` for several bots and the `transport` that carries them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use channel_core::media::{MediaKeys, MediaPolicy};
use channel_core::{AccountBase, ChannelError, DmConfig, DmKeys, parse_config};
use channel_core::{GroupConfig, GroupKeys, GroupPolicy, TurnKeys};
use schemars::JsonSchema;
use serde::Deserialize;
use url::Url;

const SECTION: &str = "channels.netease-yunxin";
/// The account the top-level keys and the environment variables describe.
pub const DEFAULT_ACCOUNT: &str = "default";
pub const ENV_APP_KEY: &str = "NETEASE_YUNXIN_APP_KEY";
pub const ENV_ACCOUNT_ID: &str = "NETEASE_YUNXIN_ACCOUNT_ID";
pub const ENV_TOKEN: &str = "NETEASE_YUNXIN_TOKEN";
/// The NIM server API (V2 routes).
pub const DEFAULT_SERVER_API: &str = "https://open.yunxinapi.com";
/// How old a webhook's `CurTime` may be before it is refused as a replay.
pub use channel_core::config::Secret;

/// How an account reaches NIM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// NetEase's JS SDK inside the gateway: log in with appKey + accountId + token, send and
    /// receive over the SDK's long connection. The default.
    #[default]
    Sdk,
    /// The NIM server API: sends signed with the app secret, receives through the
    /// message-copy webhook. For server deployments; needs `serverApi.appSecret`.
    ServerApi,
}

/// Settings of one more bot (`channels.netease-yunxin.accounts.<id>`); a key left out takes
/// the channel's value, except `accountId` and `token`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountKeys {
    /// Enable or disable (default true).
    #[schemars(extend("x-basic" = true))]
    pub enabled: Option<bool>,
    /// The NetEase app key (from the NIM console). For the account `default`,
    /// `NETEASE_YUNXIN_APP_KEY` when not set. An account does not start without it.
    #[schemars(extend("x-basic" = true))]
    pub app_key: Option<String>,
    /// The NIM account id (accid) the bot logs in as. For the account `default`,
    /// `NETEASE_YUNXIN_ACCOUNT_ID` when not set; a named account must set its own. An account
    /// does not start without it.
    #[schemars(extend("x-basic" = true))]
    pub account_id: Option<String>,
    /// The account's login token. For the account `default`, `NETEASE_YUNXIN_TOKEN` when
    /// not set; a named account must set its own. Needed by transport `sdk` only.
    #[schemars(extend("x-basic" = true))]
    pub token: Option<Secret>,
    /// `dmPolicy` and `allowFrom` (accids).
    #[serde(flatten)]
    pub dm: DmKeys,
    /// `sdk` (default) or `server-api`.
    #[schemars(extend("x-basic" = true))]
    pub transport: Option<TransportKind>,
    /// The SDK login's `aiBot` flag; NIM expects 2 for bot accounts. Default 2.
    pub ai_bot: Option<i64>,
    /// Private deployments: LBS addresses for the SDK.
    pub lbs_urls: Option<Vec<String>>,
    /// Private deployments: the SDK's link address.
    pub link_url: Option<String>,
    /// The SDK module to load instead of the bundled one (a path or package specifier).
    pub sdk_module: Option<String>,
    /// Settings of the `server-api` transport.
    pub server_api: Option<ServerApiConfig>,
    /// A reply in a team starts with `@<asker>` and force-pushes the member who asked, as a
    /// mention from NetEase's apps does. Default true.
    pub mention_asker: Option<bool>,
    /// Send a read receipt for each direct message once the agent has handled it, so the
    /// peer's app shows it as read. Default false.
    pub send_read_receipts: Option<bool>,
    /// Media size cap and the hosts media may be fetched from.
    #[serde(flatten)]
    pub media: MediaKeys,
    /// `groupPolicy` (default `allowlist`: teams are closed until configured),
    /// `groupAllowFrom` and `groups`, as OpenClaw defines them. Replies in teams need a
    /// mention unless `groups` says otherwise.
    #[serde(flatten)]
    pub group: GroupKeys,
    /// `turnTimeoutSeconds`: how long one agent turn may hold its peer (read by channel-core).
    #[serde(flatten)]
    pub turn: TurnKeys,
}

/// `serverApi`: the NIM server REST API and the message-copy webhook.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerApiConfig {
    /// The app secret: signs REST calls and verifies webhooks.
    pub app_secret: Option<Secret>,
    /// REST base URL. Default `https://open.yunxinapi.com`.
    pub base_url: Option<String>,
    /// Where the message-copy webhook is received, e.g. `127.0.0.1:8788`. Use a loopback or LAN
    /// address behind your HTTPS proxy.
    pub webhook_listen: Option<String>,
    /// The webhook's path. Default `/netease-yunxin/webhook`.
    pub webhook_path: Option<String>,
    /// Refuse webhook copies whose `CurTime` is more than this many seconds from this host's
    /// clock. Unset by default: the dedup journal, not the clock, stops a copy that comes again.
    #[schemars(range(min = 1))]
    pub max_skew_seconds: Option<u64>,
}

/// Settings of the NetEase Yunxin IM channel (`channels.netease-yunxin`): the top-level keys
/// describe the account `default`, and are the defaults of every named account.
// Parsed in two steps (see [`YunxinConfig::parse`]) so that errors name the exact key; the
// derive only describes the schema.
#[derive(Debug, Clone, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct YunxinConfig {
    #[serde(flatten)]
    pub keys: AccountKeys,
    /// More bots, by name. Each takes the channel's keys as defaults.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountKeys>,
}

/// The JSON Schema of the section, as the manifest carries it.
pub fn schema() -> serde_json::Value {
    channel_core::schema::for_type::<YunxinConfig>()
}

/// OpenClaw's `uiHints` for the section, from the same types: labels, help, secrets marked.
pub fn ui_hints() -> serde_json::Value {
    channel_core::schema::ui_hints_for::<YunxinConfig>()
}

/// One account's effective settings.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Its id, whether it runs, its DM and team gates, and who logs in (or why it cannot).
    pub base: AccountBase<Credentials>,
    pub transport: TransportKind,
    pub ai_bot: i64,
    pub lbs_urls: Vec<String>,
    pub link_url: Option<String>,
    pub sdk_module: Option<String>,
    /// Set when `transport` is `server-api`.
    pub server_api: Option<ServerApi>,
    /// `mentionAsker`.
    pub mention_asker: bool,
    /// `sendReadReceipts`.
    pub send_read_receipts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub app_key: String,
    pub account_id: String,
    pub token: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerApi {
    pub app_secret: Secret,
    pub base_url: Url,
    pub webhook_listen: Option<SocketAddr>,
    pub webhook_path: String,
    /// `maxSkewSeconds`, when set.
    pub max_skew: Option<Duration>,
}

impl YunxinConfig {
    /// Parses the section; errors name the key.
    pub fn parse(section: &serde_json::Value) -> Result<Self, ChannelError> {
        channel_core::config::check_shared_keys(SECTION, section)?;
        let mut section = match section {
            serde_json::Value::Null => return Ok(Self::default()),
            serde_json::Value::Object(map) => map.clone(),
            _ => {
                return Err(ChannelError::bad_input(format!(
                    "{SECTION}: expected an object"
                )));
            }
        };
        let accounts = section.remove("accounts").unwrap_or_default();
        let keys = parse_config(SECTION, &serde_json::Value::Object(section))?;
        let accounts = if accounts.is_null() {
            BTreeMap::new()
        } else {
            parse_config(&format!("{SECTION}.accounts"), &accounts)?
        };
        Ok(Self { keys, accounts })
    }

    pub fn enabled(&self) -> bool {
        self.keys.enabled.unwrap_or(true)
    }

    /// `default` (the top-level keys and environment variables) unless only named accounts
    /// are configured, then the named ones.
    pub fn account_ids(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let top = &self.keys;
        let has_default = top.account_id.is_some()
            || top.token.is_some()
            || env(ENV_ACCOUNT_ID).is_some()
            || env(ENV_TOKEN).is_some();
        let mut ids: Vec<String> = self.accounts.keys().cloned().collect();
        if (has_default || ids.is_empty()) && !self.accounts.contains_key(DEFAULT_ACCOUNT) {
            ids.insert(0, DEFAULT_ACCOUNT.to_owned());
        }
        ids
    }

    /// One account's settings: its own keys, then the channel's, then (for `default` only)
    /// the environment variables.
    pub fn account(
        &self,
        id: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AccountSettings, ChannelError> {
        let empty = AccountKeys::default();
        let (own, prefix) = match self.accounts.get(id) {
            Some(keys) => (keys, format!("{SECTION}.accounts.{id}")),
            None if id == DEFAULT_ACCOUNT => (&empty, SECTION.to_owned()),
            None => {
                return Err(ChannelError::bad_input(format!(
                    "{SECTION}.accounts.{id}: no such account (configured: {})",
                    self.account_ids(env).join(", ")
                )));
            }
        };
        let top = &self.keys;
        let is_default = id == DEFAULT_ACCOUNT;
        let from_env = |name: &str| {
            is_default
                .then(|| env(name))
                .flatten()
                .filter(|v| !v.trim().is_empty())
        };
        let string = |own: &Option<String>, top: &Option<String>, env_name: &str| {
            own.clone()
                .or_else(|| top.clone())
                .or_else(|| from_env(env_name))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let app_key = string(&own.app_key, &top.app_key, ENV_APP_KEY);
        // An account's own accid and token never fall back to the channel's: two named bots
        // would otherwise log in as the same account and kick each other.
        let named = self.accounts.contains_key(id) && !is_default;
        let account_id = if named {
            own.account_id.clone().filter(|v| !v.trim().is_empty())
        } else {
            string(&own.account_id, &top.account_id, ENV_ACCOUNT_ID)
        };
        let token = if named {
            own.token.clone()
        } else {
            own.token
                .clone()
                .or_else(|| top.token.clone())
                .or_else(|| from_env(ENV_TOKEN).map(Secret::new))
        }
        .filter(|t| !t.expose().trim().is_empty());
        let transport = own.transport.or(top.transport).unwrap_or_default();
        let credentials = match (app_key, account_id, token) {
            (Some(app_key), Some(account_id), Some(token)) => Ok(Credentials {
                app_key,
                account_id,
                token,
            }),
            (app_key, account_id, token) => {
                let mut missing = Vec::new();
                for (present, key, env_name) in [
                    (app_key.is_some(), "appKey", ENV_APP_KEY),
                    (account_id.is_some(), "accountId", ENV_ACCOUNT_ID),
                    (token.is_some(), "token", ENV_TOKEN),
                ] {
                    if !present {
                        missing.push(if is_default {
                            format!("{prefix}.{key} (or {env_name})")
                        } else {
                            format!("{prefix}.{key}")
                        });
                    }
                }
                // A server-api account never logs in with a token, but names its accid.
                if transport == TransportKind::ServerApi && missing.len() == 1 && token.is_none() {
                    Ok(Credentials {
                        app_key: app_key.unwrap_or_default(),
                        account_id: account_id.unwrap_or_default(),
                        token: Secret::new(""),
                    })
                } else {
                    Err(ChannelError::needs_login(format!(
                        "missing: {}",
                        missing.join(", ")
                    )))
                }
            }
        };
        let server_api = match transport {
            TransportKind::Sdk => None,
            TransportKind::ServerApi => Some(server_api(
                &prefix,
                own.server_api.as_ref(),
                top.server_api.as_ref(),
            )?),
        };
        let ai_bot = own.ai_bot.or(top.ai_bot).unwrap_or(2);
        if !(0..=2).contains(&ai_bot) {
            return Err(ChannelError::bad_input(format!(
                "{prefix}.aiBot: {ai_bot} is not 0, 1 or 2"
            )));
        }
        Ok(AccountSettings {
            base: AccountBase {
                id: id.to_owned(),
                enabled: self.enabled() && own.enabled.unwrap_or(true),
                credentials,
                dm: DmConfig::layered(&top.dm, Some(&own.dm)),
                group: GroupConfig::layered(
                    &top.group,
                    Some(&own.group),
                    GroupPolicy::Allowlist,
                    true,
                ),
            },
            transport,
            ai_bot,
            lbs_urls: own
                .lbs_urls
                .clone()
                .or_else(|| top.lbs_urls.clone())
                .unwrap_or_default(),
            link_url: own.link_url.clone().or_else(|| top.link_url.clone()),
            sdk_module: own.sdk_module.clone().or_else(|| top.sdk_module.clone()),
            server_api,
            mention_asker: own.mention_asker.or(top.mention_asker).unwrap_or(true),
            send_read_receipts: own
                .send_read_receipts
                .or(top.send_read_receipts)
                .unwrap_or(false),
        })
    }
}

impl YunxinConfig {
    /// One account's media rules: its keys over the channel's, with the hosts of its own
    /// servers trusted (the server API's `baseUrl`, and `linkUrl`/`lbsUrls` of a private
    /// deployment). Temporary files go to `tmp_dir`.
    pub fn media_policy(
        &self,
        settings: &AccountSettings,
        tmp_dir: std::path::PathBuf,
    ) -> Result<MediaPolicy, ChannelError> {
        let own = self
            .accounts
            .get(&settings.base.id)
            .map(|keys| (settings.base.id.as_str(), &keys.media));
        let mut policy = MediaPolicy::layered(SECTION, &self.keys.media, own, tmp_dir)?;
        if let Some(server_api) = &settings.server_api {
            policy.trust_url(&server_api.base_url);
        }
        for own_server in settings.link_url.iter().chain(&settings.lbs_urls) {
            // A bare `host:port` (the SDK takes those too) reads as a host as well.
            if let Some(host) = channel_core::media::TrustedHost::parse(own_server) {
                policy.trust(host);
            }
        }
        Ok(policy)
    }
}

fn server_api(
    prefix: &str,
    own: Option<&ServerApiConfig>,
    top: Option<&ServerApiConfig>,
) -> Result<ServerApi, ChannelError> {
    let pick =
        |f: fn(&ServerApiConfig) -> Option<String>| own.and_then(f).or_else(|| top.and_then(f));
    let key = |name: &str| format!("{prefix}.serverApi.{name}");
    let app_secret = own
        .and_then(|c| c.app_secret.clone())
        .or_else(|| top.and_then(|c| c.app_secret.clone()))
        .filter(|s| !s.expose().trim().is_empty())
        .ok_or_else(|| {
            ChannelError::bad_input(format!(
                "{}: required for transport server-api",
                key("appSecret")
            ))
        })?;
    let base = pick(|c| c.base_url.clone()).unwrap_or_else(|| DEFAULT_SERVER_API.to_owned());
    let base_url = Url::parse(&base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            ChannelError::bad_input(format!(
                "{}: {base:?} is not an http(s) URL",
                key("baseUrl")
            ))
        })?;
    let webhook_listen = match pick(|c| c.webhook_listen.clone()) {
        None => None,
        Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
            ChannelError::bad_input(format!(
                "{}: {raw:?} is not an address like 127.0.0.1:8788",
                key("webhookListen")
            ))
        })?),
    };
    let webhook_path =
        pick(|c| c.webhook_path.clone()).unwrap_or_else(|| "/netease-yunxin/webhook".to_owned());
    if !webhook_path.starts_with('/') {
        return Err(ChannelError::bad_input(format!(
            "{}: must start with /",
            key("webhookPath")
        )));
    }
    let skew = own
        .and_then(|c| c.max_skew_seconds)
        .or_else(|| top.and_then(|c| c.max_skew_seconds));
    Ok(ServerApi {
        app_secret,
        base_url,
        webhook_listen,
        webhook_path,
        max_skew: skew.map(Duration::from_secs),
    })
}

/// The process environment, for [`YunxinConfig::account`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_core::DmPolicy;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_seed_config_is_the_default_account() {
        let config = YunxinConfig::parse(&json!({
            "enabled": true, "appKey": "k", "accountId": "bot", "token": "t", "dmPolicy": "pairing"
        }))
        .unwrap();
        assert_eq!(config.account_ids(&no_env), ["default"]);
        let account = config.account("default", &no_env).unwrap();
        let creds = account.base.credentials.unwrap();
        assert_eq!(
            (creds.app_key.as_str(), creds.account_id.as_str()),
            ("k", "bot")
        );
        assert_eq!(account.transport, TransportKind::Sdk);
        assert_eq!(account.ai_bot, 2);
        assert_eq!(account.base.dm.policy, DmPolicy::Pairing);
    }

    #[test]
    fn the_accounts_own_servers_are_trusted_for_media() {
        use channel_core::media::TrustedHost;
        let config = YunxinConfig::parse(&json!({
            "appKey": "k", "accountId": "bot", "token": "t",
            "transport": "server-api",
            "serverApi": {"appSecret": "s", "baseUrl": "http://10.0.0.5:8080"},
            "linkUrl": "link.private:443",
            "lbsUrls": ["http://10.0.0.7/lbs"],
            "mediaAllowHosts": ["nos.private"],
        }))
        .expect("parse");
        let settings = config.account("default", &no_env).expect("account");
        let policy = config
            .media_policy(&settings, "/tmp/unused".into())
            .expect("policy");
        for host in ["nos.private", "10.0.0.5", "link.private", "10.0.0.7"] {
            assert!(
                policy
                    .trusted()
                    .contains(&TrustedHost::parse(host).expect(host)),
                "{host} not trusted: {:?}",
                policy.trusted()
            );
        }
        assert_eq!(policy.trusted().len(), 4);
    }

    #[test]
    fn environment_variables_fill_the_default_account_only() {
        let env = |name: &str| match name {
            ENV_APP_KEY => Some("env-key".to_owned()),
            ENV_ACCOUNT_ID => Some("env-bot".to_owned()),
            ENV_TOKEN => Some("env-token".to_owned()),
            _ => None,
        };
        let config = YunxinConfig::parse(&json!({
            "accounts": {"second": {"accountId": "bot2", "token": "t2"}}
        }))
        .unwrap();
        assert_eq!(config.account_ids(&env), ["default", "second"]);
        let default = config
            .account("default", &env)
            .unwrap()
            .base
            .credentials
            .unwrap();
        assert_eq!(default.account_id, "env-bot");
        assert_eq!(default.token.expose(), "env-token");
        // A named account takes the channel's appKey but never the environment's.
        let second = config.account("second", &env).unwrap();
        let err = second.base.credentials.unwrap_err();
        assert!(err.message.contains("accounts.second.appKey"), "{err}");
        assert!(!err.message.contains("NETEASE"), "{err}");
    }

    #[test]
    fn bad_config_names_the_key() {
        let err = YunxinConfig::parse(&json!({"appKey": 5})).unwrap_err();
        assert!(
            err.message.contains("channels.netease-yunxin.appKey"),
            "{err}"
        );
        let err = YunxinConfig::parse(&json!({"accounts": {"b": {"transport": "carrier-pigeon"}}}))
            .unwrap_err();
        assert!(err.message.contains("accounts.b.transport"), "{err}");
        let config = YunxinConfig::parse(&json!({"appKey": "k", "accountId": "bot"})).unwrap();
        let err = config
            .account("default", &no_env)
            .unwrap()
            .base
            .credentials
            .unwrap_err();
        assert!(
            err.message
                .contains("channels.netease-yunxin.token (or NETEASE_YUNXIN_TOKEN)"),
            "{err}"
        );
        let config = YunxinConfig::parse(
            &json!({"appKey": "k", "accountId": "bot", "transport": "server-api"}),
        )
        .unwrap();
        let err = config.account("default", &no_env).unwrap_err();
        assert!(
            err.message.contains("serverApi.appSecret: required"),
            "{err}"
        );
    }

    #[test]
    fn server_api_accounts_need_no_token() {
        let config = YunxinConfig::parse(&json!({
            "appKey": "k", "accountId": "bot", "transport": "server-api",
            "serverApi": {"appSecret": "s", "baseUrl": "http://127.0.0.1:9", "webhookListen": "127.0.0.1:0"}
        }))
        .unwrap();
        let account = config.account("default", &no_env).unwrap();
        assert!(account.base.credentials.is_ok());
        let api = account.server_api.unwrap();
        assert_eq!(api.webhook_path, "/netease-yunxin/webhook");
        assert_eq!(format!("{:?}", api.app_secret), "<redacted>");
    }
}
