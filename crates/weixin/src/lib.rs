//! WeChat through Tencent's iLink bot API: channel id `openclaw-weixin`.
//!
//! A drop-in for `@tencent-weixin/openclaw-weixin`: same channel id, config keys and state
//! files, with the fixes its users asked for (dedup of redeliveries, a cursor that never skips
//! unfinished work, `-14` reported as "needs login" instead of a silent pause, case-insensitive
//! targets, a real `dmPolicy`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use channel_core::{AnyChannel, StateDir, testing::StandaloneHost, CancellationToken};
//!
//! # async fn demo() -> Result<(), channel_core::ChannelError> {
//! let channel = Arc::new(weixin::WeixinChannel::new(&StateDir::from_env()));
//! let section = serde_json::json!({ "dmPolicy": "pairing" });
//! let host = Arc::new(StandaloneHost::default());
//! for account in channel.account_ids(&section)? {
//!     channel.run(&section, &account, host.clone(), CancellationToken::new()).await?;
//! }
//! # Ok(()) }
//! ```

pub mod client;
pub mod config;
mod flusher;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod locks;
pub mod login;
pub mod media;
pub mod normalize;
pub mod peers;
mod receive;
pub(crate) mod send;
pub mod store;
pub mod text;
pub mod window;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channel_core::{
    AccountBase, AccountView, CancellationToken, Channel, ChannelError, ChatKind, Connector,
    Descriptor, DmConfig, Fetched, GroupConfig, LoginResult, LoginUi, Media, Meta, Outbound, Probe,
    Receipt, Result, RunContext, StateDir, Target,
};

use channel_core::media::MediaPolicy;

use crate::client::{Endpoint, IlinkClient};
use crate::config::WeixinConfig;
use crate::store::Store;

pub const CHANNEL_ID: &str = "openclaw-weixin";

/// The WeChat channel. Cheap to clone into an `Arc`; accounts hold the per-bot state.
#[derive(Debug, Clone)]
pub struct WeixinChannel {
    store: Store,
}

/// One bot account, resolved from config and its state file.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id, whether it runs, its DM gate, and where and as whom it talks (or why it cannot).
    /// iLink bots have direct chats only: the group gate stays closed.
    pub base: AccountBase<Endpoint>,
    pub name: Option<String>,
    /// The WeChat user who bound the bot.
    pub owner: Option<String>,
    /// Longest text of one wire message.
    pub chunk_limit: usize,
    pub limits: window::Limits,
    /// CDN, size cap, local roots and network policy for attachments.
    pub media: media::MediaSettings,
    store: Store,
    /// Typing tickets by peer, fetched with `getconfig` once per account run.
    tickets: Arc<Mutex<HashMap<String, String>>>,
}

impl Account {
    /// Where and as whom to talk, or why this account cannot.
    pub fn endpoint(&self) -> Result<Endpoint, ChannelError> {
        self.base.credentials.clone()
    }

    pub fn windows(&self) -> window::WindowStore {
        window::WindowStore::new(self.store.accounts_dir(), &self.base.id)
    }

    /// Whole messages that went out, by the caller's id (a queued one is resumed by the outbox,
    /// so pieces need no record of their own).
    pub fn send_log(&self) -> channel_core::SendLog {
        channel_core::SendLog::for_account(self.store.dir(), &self.base.id)
    }
}

impl WeixinChannel {
    pub fn new(state: &StateDir) -> Self {
        Self {
            store: Store::new(state.channel(CHANNEL_ID)),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The media settings of one account: its overrides, then the channel's keys, then defaults.
    fn media_settings(
        &self,
        config: &WeixinConfig,
        key: &str,
        overrides: &config::AccountConfig,
        api: Option<&url::Url>,
    ) -> Result<media::MediaSettings, ChannelError> {
        let mut settings = media::MediaSettings::defaults(self.store.dir());
        let channel_field = |name: &str| format!("channels.openclaw-weixin.{name}");
        let account_field = |name: &str| format!("channels.openclaw-weixin.accounts.{key}.{name}");
        match (&overrides.cdn_base_url, &config.cdn_base_url) {
            (Some(url), _) => {
                settings.cdn_base_url = client::parse_base_url(&account_field("cdnBaseUrl"), url)
            }
            (None, Some(url)) => {
                settings.cdn_base_url = client::parse_base_url(&channel_field("cdnBaseUrl"), url)
            }
            (None, None) => {}
        }
        let (field, roots) = match (&overrides.media_local_roots, &config.media_local_roots) {
            (Some(roots), _) => (account_field("mediaLocalRoots"), roots.clone()),
            (None, Some(roots)) => (channel_field("mediaLocalRoots"), roots.clone()),
            (None, None) => (String::new(), Vec::new()),
        };
        for root in roots {
            let path = PathBuf::from(root.trim());
            if !path.is_absolute() {
                return Err(ChannelError::bad_input(format!(
                    "{field}: media roots must be absolute paths, got {root:?}"
                )));
            }
            settings.local_roots.push(path);
        }
        let tmp_dir = settings.policy.tmp_dir.clone();
        settings.policy = MediaPolicy::layered(
            "channels.openclaw-weixin",
            &config.media,
            Some((key, &overrides.media)),
            tmp_dir,
        )?;
        // The account's own servers: its CDN and its iLink API.
        if let Ok(cdn) = &settings.cdn_base_url {
            settings.policy.trust_url(cdn);
        }
        if let Some(api) = api {
            settings.policy.trust_url(api);
        }
        Ok(settings)
    }
}

#[async_trait::async_trait]
impl Channel for WeixinChannel {
    type Account = Account;

    fn descriptor(&self) -> Descriptor {
        let meta = Meta::new(CHANNEL_ID, "WeChat", "WeChat (iLink bot, Rust)")
            .blurb("Personal WeChat through Tencent's iLink bot API; log in by scanning a QR code.")
            .order(75)
            .aliases(&["weixin", "wechat", "微信"]);
        Descriptor {
            replaces: vec!["openclaw-weixin".into()],
            text_chunk_limit: 4000,
            target_hint: "<user id>@im.wechat".into(),
            id_label: "Your WeChat user id".into(),
            interactive_login: true,
            tool_hints: vec![
                "WeChat targets are user ids ending in @im.wechat; a bot can only write to users who messaged it first."
                    .into(),
                "Cron deliveries to WeChat must set both delivery.to (the @im.wechat id) and delivery.accountId.".into(),
                "WeChat sends images, videos and files (audio goes as a file); local files must lie under the state dir's media/ or workspace/ or channels.openclaw-weixin.mediaLocalRoots.".into(),
            ],
            // Few, full blocks: each one spends a send of the peer's window.
            block_coalesce: channel_core::BlockCoalesce {
                min_chars: 1000,
                idle_ms: 2000,
            },
            ui_hints: crate::config::ui_hints(),
            ..Descriptor::new(CHANNEL_ID, meta, vec![ChatKind::Direct], crate::config::schema())
        }
    }

    /// The outbox, and the peers whose window closes within the hour while a pending turn or
    /// a queued reply waits for them.
    fn backlog(
        &self,
        account: &Account,
        pending_peers: &[String],
    ) -> Result<channel_core::ChannelBacklog, ChannelError> {
        let windows = account.windows();
        let read =
            |what: &'static str| move |e: std::io::Error| ChannelError::from(e).context(what);
        let outbox = windows.outbox().map_err(read("reading the outbox"))?;
        let mut waiting: std::collections::BTreeSet<&str> =
            pending_peers.iter().map(String::as_str).collect();
        waiting.extend(outbox.iter().map(|queued| queued.peer.as_str()));
        let now = channel_core::now_ms();
        let mut closing = 0;
        for peer in waiting {
            let window = windows
                .window(peer)
                .map_err(read("reading the peer windows"))?;
            if window.is_some_and(|w| {
                window::closes_within(&w, account.limits, now, Duration::from_secs(3600))
            }) {
                closing += 1;
            }
        }
        Ok(channel_core::ChannelBacklog {
            queued_replies: Some(outbox.len()),
            windows_closing: Some(closing),
        })
    }

    /// At most three blocks one by one, and only while the peer's window keeps room for the
    /// rest of the answer (see [`window::block_budget`]).
    async fn block_budget(&self, account: &Account, target: &Target) -> Option<usize> {
        let window = account.windows().window(&target.id).ok().flatten();
        Some(window::block_budget(
            window.as_ref(),
            account.limits,
            channel_core::now_ms(),
        ))
    }

    fn state_dir(&self) -> PathBuf {
        self.store.dir().to_path_buf()
    }

    /// Accounts are the logged-in ones (`accounts.json`), as with Tencent's plugin; entries
    /// under `accounts` in config only adjust them, so a bot replaced by a new login does not
    /// linger as a dead account.
    /// The logged-in accounts (Tencent's `accounts.json`); a bad section shows on each of them
    /// (`describe`), it does not hide them.
    fn account_ids(&self, _section: &serde_json::Value) -> Result<Vec<String>, ChannelError> {
        self.store
            .account_ids()
            .map_err(|e| ChannelError::from(e).context("reading openclaw-weixin/accounts.json"))
    }

    fn account(&self, section: &serde_json::Value, id: &str) -> Result<Account, ChannelError> {
        let config = WeixinConfig::parse(section)?;
        let id = store::normalize_account_id(id);
        let (key, overrides) = config
            .accounts
            .iter()
            .find(|(k, _)| store::normalize_account_id(k) == id)
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap_or_else(|| (id.clone(), config::AccountConfig::default()));
        let file = self.store.load_account(&id).map_err(|e| {
            ChannelError::from(e).context(format!("reading the state of account {id}"))
        })?;
        let owner = file
            .as_ref()
            .and_then(|f| f.user_id.clone())
            .filter(|u| !u.is_empty());
        let endpoint = match file.filter(|f| !f.token.trim().is_empty()) {
            None => Err(ChannelError::needs_login(format!(
                "account {id} is not logged in: run `openclaw channels login --channel openclaw-weixin`"
            ))),
            Some(file) => {
                let (field, raw) = match (&overrides.base_url, &config.base_url, &file.base_url) {
                    (Some(url), _, _) => (
                        format!("channels.openclaw-weixin.accounts.{key}.baseUrl"),
                        url.clone(),
                    ),
                    (None, Some(url), _) => {
                        ("channels.openclaw-weixin.baseUrl".into(), url.clone())
                    }
                    (None, None, Some(url)) if !url.is_empty() => {
                        (format!("accounts/{id}.json baseUrl"), url.clone())
                    }
                    _ => ("default".into(), client::DEFAULT_BASE_URL.into()),
                };
                // A bad URL makes this account unusable, not the whole channel.
                client::parse_base_url(&field, &raw).map(|base_url| Endpoint {
                    base_url,
                    token: file.token,
                    route_tag: overrides
                        .route_tag
                        .clone()
                        .or(config.route_tag.clone())
                        .map(config::StringOrNumber::into_string),
                    bot_agent: overrides
                        .bot_agent
                        .clone()
                        .or(config.bot_agent.clone())
                        .unwrap_or_default(),
                })
            }
        };
        let api = endpoint.as_ref().ok().map(|e| &e.base_url);
        let media = self.media_settings(&config, &key, &overrides, api)?;
        let dm = DmConfig {
            // The WeChat user who bound the bot may always write to it.
            implicit_allow: owner.iter().cloned().collect(),
            ..DmConfig::layered(&config.dm, Some(&overrides.dm))
        };
        let defaults = window::Limits::DEFAULT;
        let limits = window::Limits {
            max_sends: config
                .context_token_max_sends
                .unwrap_or(defaults.max_sends)
                .max(1),
            max_age: config
                .context_token_max_age_hours
                .map(|h| std::time::Duration::from_secs(u64::from(h.max(1)) * 3600))
                .unwrap_or(defaults.max_age),
        };
        Ok(Account {
            media,
            tickets: Arc::default(),
            chunk_limit: config
                .text_chunk_limit
                .unwrap_or(text::DEFAULT_CHUNK_CHARS)
                .clamp(64, 4000),
            limits,
            name: overrides.name.or(config.name),
            owner,
            store: self.store.clone(),
            base: AccountBase {
                id,
                enabled: overrides.enabled.unwrap_or(true) && config.enabled.unwrap_or(true),
                credentials: endpoint,
                dm,
                group: GroupConfig::default(),
            },
        })
    }

    fn view(&self, account: &Account) -> AccountView {
        AccountView {
            name: account.name.clone(),
            ..account.base.view()
        }
    }

    async fn connect(&self, account: Account, ctx: RunContext) -> Result<Box<dyn Connector>> {
        Ok(Box::new(receive::Poller::new(account, ctx)?))
    }

    async fn send(&self, account: &Account, to: &Target, message: &Outbound) -> Result<Receipt> {
        send::send(account, to, message).await
    }

    async fn fetch_media(&self, account: &Account, media: &Media) -> Result<Fetched, ChannelError> {
        media::inbound::fetch(&account.media, media).await
    }

    async fn probe(&self, account: &Account) -> Result<Probe, ChannelError> {
        let client = IlinkClient::new(account.endpoint()?)?;
        let started = Instant::now();
        // getconfig is authenticated and has no side effects: a cheap proof the token works.
        let who = account
            .owner
            .clone()
            .unwrap_or_else(|| account.base.id.clone());
        let result = client.get_config(&who, None).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(match result {
            Ok(_) => Probe {
                ok: true,
                detail: format!("iLink reachable at {}", client.base_url()),
                elapsed_ms,
            },
            Err(err) => Probe {
                ok: false,
                detail: err.to_string(),
                elapsed_ms,
            },
        })
    }

    async fn login(
        &self,
        section: &serde_json::Value,
        account: Option<&str>,
        ui: Arc<dyn LoginUi>,
        cancel: CancellationToken,
    ) -> Result<LoginResult, ChannelError> {
        let config = WeixinConfig::parse(section)?;
        let base = config
            .login_base_url
            .as_deref()
            .unwrap_or(client::DEFAULT_BASE_URL);
        let options = login::LoginOptions {
            base_url: client::parse_base_url("channels.openclaw-weixin.loginBaseUrl", base)?,
            route_tag: config.route_tag.map(config::StringOrNumber::into_string),
            deadline: login::DEADLINE,
            poll_pause: login::POLL_PAUSE,
        };
        login::login_and_save(&self.store, &options, account, ui, cancel).await
    }

    async fn logout(
        &self,
        _section: &serde_json::Value,
        account: &str,
    ) -> Result<bool, ChannelError> {
        let id = store::normalize_account_id(account);
        self.store
            .remove_account(&id)
            .map_err(|e| ChannelError::from(e).context(format!("removing account {id}")))
    }

    async fn typing(
        &self,
        account: &Account,
        target: &Target,
        active: bool,
    ) -> Result<(), ChannelError> {
        let Some((peer, token)) = account
            .store
            .context_token(&account.base.id, &target.id)
            .ok()
            .flatten()
        else {
            return Ok(());
        };
        let client = IlinkClient::new(account.endpoint()?)?;
        let cached = account
            .tickets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&peer)
            .cloned();
        let ticket = match cached {
            Some(ticket) => ticket,
            None => {
                let config = client.get_config(&peer, Some(&token)).await?;
                let Some(ticket) = config.typing_ticket.filter(|t| !t.is_empty()) else {
                    return Ok(());
                };
                account
                    .tickets
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(peer.clone(), ticket.clone());
                ticket
            }
        };
        let result = client.send_typing(&peer, &ticket, active).await;
        if result.is_err() {
            // A refused ticket is fetched anew next time.
            account
                .tickets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer);
        }
        result
    }

    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
        // The caller's spelling is kept; sends look the peer up case-insensitively.
        let id = channel_core::dm::strip_prefixes(CHANNEL_ID, raw);
        if id.is_empty() {
            return Err(ChannelError::bad_input(format!(
                "openclaw-weixin: empty target {raw:?}"
            )));
        }
        Ok(Target::direct(id))
    }
}
