//! [`OpenimChannel`]: the `multi-openim` channel on top of the gateway client, the REST client
//! and token recovery.
//!
//! Each running account registers its [`Link`] here, so sends made by the host (replies,
//! `openclaw message send`, agent tools) go over that account's live connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channel_core::GroupPolicy;
use channel_core::action::{ActionSpec, CommandOutcome, CommandSpec, Prompter};
use channel_core::lock;
use channel_core::media::MediaPolicy;
use channel_core::{
    AccountView, Channel, ChannelError, ChatKind, Connector, Descriptor, Fetched, Inbound,
    Lifecycle, LiveAccounts, LiveEntry, Media, Meta, Outbound, Probe, Receipt, Result, RunContext,
    SendLog, StateDir, Target,
};
use tokio_util::sync::CancellationToken;

use crate::config::{AccountSettings, OpenimConfig, Secret};
use crate::gateway::{Link, Login, Recover, Runner, Seqs, Sequencer, Sink, Timing};
use crate::normalize::{Gate, normalize};
use crate::outbound;
use crate::recovery::{Recovery, RecoveryHost, Trigger};
use crate::rest::{RestClient, RestConfig};
use crate::wire::proto::MsgData;
use crate::{CHANNEL_ID, actions, errors};

/// How long a send waits for its account to be connected.
const SEND_WITHIN: Duration = Duration::from_secs(60);

/// What a running account shares with senders.
#[derive(Debug, Clone)]
struct Live {
    link: Arc<Link>,
    rest: RestClient,
    me: String,
    platform_id: i32,
    nickname: String,
    media: MediaPolicy,
}

/// The OpenIM channel. Accounts are named entries of `channels.multi-openim.accounts`.
#[derive(Debug, Clone)]
pub struct OpenimChannel {
    dir: PathBuf,
    live: LiveAccounts<Live>,
}

/// One account, resolved from config.
#[derive(Debug, Clone)]
pub struct Account {
    pub settings: AccountSettings,
    /// Guarded fetches and the size cap, for attachments both ways.
    pub media: MediaPolicy,
}

impl OpenimChannel {
    pub fn new(state: &StateDir) -> Self {
        Self {
            dir: state.channel(CHANNEL_ID),
            live: LiveAccounts::default(),
        }
    }

    /// Where one account's seq marks live. Ids become file names, so path separators go.
    pub fn seqs_path(&self, account: &str) -> PathBuf {
        let safe: String = account
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | '\0') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        self.dir.join("accounts").join(format!("{safe}.seqs.json"))
    }

    fn live(&self, account: &str) -> Result<Live, ChannelError> {
        self.live.get(account).ok_or_else(|| {
            ChannelError::transient(format!(
                "multi-openim account {account} is not running in this gateway: start the \
                 gateway (sends use the account's live connection)"
            ))
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The REST client of a running account (it holds the newest token).
    pub(crate) fn live_rest(&self, account: &str) -> Option<RestClient> {
        self.live.get(account).map(|live| live.rest)
    }

    /// Sends `message` from running account `account` over its connection; the server's ids
    /// of every part, in order. `attach` forces the kind of the attachments.
    pub(crate) async fn send_as(
        &self,
        account: &str,
        target: &Target,
        message: &Outbound,
        attach: Option<outbound::Attach>,
    ) -> Result<Vec<String>, ChannelError> {
        let live = self.live(account)?;
        let sender = outbound::Sender {
            account,
            me: &live.me,
            platform_id: live.platform_id,
            nickname: &live.nickname,
            rest: &live.rest,
            media: &live.media,
        };
        // Each part's `clientMsgID` derives from the message's client id, and the link's send
        // log knows every one the server stored: a replayed reply is not sent again.
        let messages = outbound::build(&sender, target, message, attach).await?;
        let mut ids = Vec::with_capacity(messages.len());
        for msg in &messages {
            let stored =
                live.link.send(msg, SEND_WITHIN).await.map_err(|e| {
                    e.context(format!("multi-openim {account}: sending to {target}"))
                })?;
            ids.push(stored.server_msg_id);
        }
        Ok(ids)
    }
}

/// Hands in-order messages to the pipeline, through the group gate.
struct ChannelSink {
    account: String,
    gate: Gate,
    ctx: RunContext,
    link: Arc<Link>,
    rest: RestClient,
    /// Group names by id, looked up once per group (the agent sees which group it is in).
    group_names: Mutex<HashMap<String, String>>,
}

impl ChannelSink {
    async fn group_name(&self, group_id: &str) -> Option<String> {
        if let Some(name) = lock(&self.group_names).get(group_id) {
            return Some(name.clone());
        }
        match self.rest.groups_info(&[group_id.to_owned()]).await {
            Ok(groups) => {
                let name = groups
                    .into_iter()
                    .find(|g| g.group_id == group_id)
                    .map(|g| g.group_name)
                    .filter(|n| !n.is_empty())?;
                lock(&self.group_names).insert(group_id.to_owned(), name.clone());
                Some(name)
            }
            Err(err) => {
                // Asked again with the group's next message.
                tracing::debug!(account = %self.account, group = %group_id, %err, "group name lookup failed");
                None
            }
        }
    }
}

impl ChannelSink {
    /// The message as the agent sees it, or `None` if it is not for the agent.
    async fn inbound(&self, conversation_id: &str, msg: &MsgData) -> Option<Inbound> {
        if let Err(skip) = self.gate.check(msg) {
            tracing::debug!(account = %self.account, conversation = %conversation_id, ?skip, "not for the agent");
            return None;
        }
        let mut inbound = match normalize(&self.account, conversation_id, msg) {
            Ok(inbound) => inbound,
            Err(err) => {
                // It can never be read; holding the seq for it would block the conversation.
                tracing::error!(account = %self.account, %err, "skipping an unreadable message");
                return None;
            }
        };
        if inbound.chat.kind == ChatKind::Group {
            inbound.was_mentioned = self.gate.mentions_me(msg);
            if inbound.chat.title.is_none() {
                inbound.chat.title = self.group_name(&inbound.chat.id).await;
            }
            inbound.chat.host_peer = Some(outbound::group_peer(&self.account, &inbound.chat.id));
        }
        Some(inbound)
    }
}

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn deliver(&self, batch: Vec<(String, MsgData)>) -> Result<(), ChannelError> {
        let mut inbounds = Vec::with_capacity(batch.len());
        for (conversation_id, msg) in &batch {
            inbounds.extend(self.inbound(conversation_id, msg).await);
        }
        if inbounds.is_empty() {
            return Ok(());
        }
        let outcomes = self.ctx.accept_many(inbounds).await?;
        tracing::debug!(account = %self.account, ?outcomes, "inbound handled");
        Ok(())
    }

    fn own(&self, msg: &MsgData) {
        self.link.confirm(&msg.client_msg_id, &msg.server_msg_id);
    }
}

/// The gateway connection of a running account, registered for sends while it lives.
struct Registered {
    runner: Runner,
    _live: LiveEntry<Live>,
}

#[async_trait::async_trait]
impl Connector for Registered {
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        self.runner.session(life).await
    }

    async fn recover(&mut self, error: &ChannelError) -> Option<Result<(), ChannelError>> {
        self.runner.recover(error).await
    }

    fn kick_advice(&self) -> String {
        self.runner.kick_advice()
    }

    async fn close(&mut self) {
        self.runner.close().await;
    }
}

/// Token recovery, bound to one account and to the host's services.
struct AccountRecovery {
    recovery: tokio::sync::Mutex<Recovery>,
    host: Arc<dyn RecoveryHost>,
    rest: RestClient,
    cancel: CancellationToken,
}

#[async_trait::async_trait]
impl Recover for AccountRecovery {
    async fn recover(&self, error: &ChannelError) -> Result<String, ChannelError> {
        let code = errors::code_of(error).unwrap_or(0);
        let trigger = Trigger::from_code(code, error.message.clone());
        let mut recovery = self.recovery.lock().await;
        match recovery
            .recover(&trigger, self.host.as_ref(), &self.cancel)
            .await
        {
            Ok(recovered) => {
                for warning in &recovered.warnings {
                    tracing::warn!(account = %recovery.account_id(), %warning, "token refreshed with a problem");
                }
                self.rest.set_token(recovered.token.clone());
                Ok(recovered.token.expose().to_owned())
            }
            Err(failed) => Err(failed.into_error()),
        }
    }

    async fn accepted(&self) {
        self.recovery.lock().await.token_accepted();
    }
}

/// The host services recovery needs, over whatever the running host offers.
struct HostServices {
    host: Arc<dyn channel_core::Host>,
}

#[async_trait::async_trait]
impl RecoveryHost for HostServices {
    async fn call_hook(
        &self,
        account_id: &str,
        reason: &str,
    ) -> Result<Option<crate::recovery::HookToken>, ChannelError> {
        let answer = self
            .host
            .call_global(
                crate::recovery::HOOK_NAME.trim_start_matches("globalThis."),
                vec![account_id.into(), reason.into()],
            )
            .await?;
        match answer {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value).map(Some).map_err(|e| {
                ChannelError::bad_input(format!(
                    "{}: expected {{token, userID?}} or null: {e}",
                    crate::recovery::HOOK_NAME
                ))
            }),
        }
    }

    async fn save_token(&self, account_id: &str, token: &Secret) -> Result<(), ChannelError> {
        let path = ["channels", CHANNEL_ID, "accounts", account_id, "token"].map(str::to_owned);
        self.host
            .set_config(&path, token.expose().to_owned().into())
            .await
    }
}

#[async_trait::async_trait]
impl Channel for OpenimChannel {
    type Account = Account;

    fn descriptor(&self) -> Descriptor {
        let meta = Meta::new(CHANNEL_ID, "OpenIM", "OpenIM (multi-account, Rust)")
            .blurb(
                "OpenIM servers, several accounts on several servers at once; gap-free \
                        catch-up and config-driven token refresh.",
            )
            .order(76)
            .aliases(&["openim"]);
        Descriptor {
            replaces: vec!["multi-openim-channel".into()],
            text_chunk_limit: outbound::CHUNK_CHARS,
            target_hint: "<userID> or group:<groupID>".into(),
            id_label: "Your OpenIM user id".into(),
            interactive_login: false,
            tool_hints: vec![
                "OpenIM targets are user ids (direct) or group:<groupID>; every account is named, so set the accountId."
                    .into(),
            ],
            ui_hints: crate::config::ui_hints(),
            ..Descriptor::new(CHANNEL_ID, meta, vec![ChatKind::Direct, ChatKind::Group], crate::config::schema())
        }
    }

    fn actions(&self) -> Vec<ActionSpec> {
        actions::specs()
    }

    async fn call_action(
        &self,
        section: &serde_json::Value,
        name: &str,
        args: serde_json::Value,
        host: Arc<dyn channel_core::Host>,
    ) -> Result<serde_json::Value, ChannelError> {
        actions::call(self, section, name, args, host).await
    }

    fn commands(&self) -> Vec<CommandSpec> {
        actions::commands()
    }

    async fn run_command(
        &self,
        section: &serde_json::Value,
        command: &str,
        subcommand: &str,
        options: serde_json::Value,
        ui: Arc<dyn Prompter>,
    ) -> Result<CommandOutcome, ChannelError> {
        actions::run_command(section, command, subcommand, options, ui).await
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    fn account_ids(&self, section: &serde_json::Value) -> Result<Vec<String>, ChannelError> {
        Ok(OpenimConfig::parse(section)?.account_ids())
    }

    fn account(&self, section: &serde_json::Value, id: &str) -> Result<Account, ChannelError> {
        let config = OpenimConfig::parse(section)?;
        let settings = config.account(id)?;
        let media = config.media_policy(&settings, self.dir.join("tmp"))?;
        Ok(Account { settings, media })
    }

    fn view(&self, account: &Account) -> AccountView {
        account.settings.base.view()
    }

    async fn connect(&self, account: Account, ctx: RunContext) -> Result<Box<dyn Connector>> {
        let settings = account.settings;
        let credentials = settings.base.credentials.clone()?;
        if !settings.base.group.policy_configured && settings.base.group.policy == GroupPolicy::Open
        {
            tracing::info!(
                account = %settings.base.id,
                "groups are open to every member, as in the multi-openim plugin; set \
                 channels.multi-openim.groupPolicy (with groupAllowFrom or groups) to restrict them"
            );
        }
        let rest = RestClient::new(RestConfig::from_account(&settings)?)?;
        let link = Arc::new(Link::new(SendLog::for_account(
            &self.dir,
            &settings.base.id,
        )));
        let me = credentials.user_id.clone();
        // The sender nickname travels in every message (the server does not fill it in).
        let nickname = match rest.users_info(std::slice::from_ref(&me)).await {
            Ok(users) => users
                .into_iter()
                .find(|u| u.user_id == me)
                .map(|u| u.nickname)
                .unwrap_or_default(),
            Err(err) => {
                tracing::warn!(account = %settings.base.id, %err, "could not read the bot's own profile");
                String::new()
            }
        };
        let registered = self.live.register(
            &settings.base.id,
            Live {
                link: Arc::clone(&link),
                rest: rest.clone(),
                me: me.clone(),
                platform_id: credentials.platform_id,
                nickname,
                media: account.media.clone(),
            },
        );
        let seqs = Seqs::open(self.seqs_path(&settings.base.id))?;
        let sink = Arc::new(ChannelSink {
            account: settings.base.id.clone(),
            gate: Gate {
                me: me.clone(),
                whitelist: settings.inbound_whitelist.clone(),
            },
            ctx: ctx.clone(),
            link: Arc::clone(&link),
            rest: rest.clone(),
            group_names: Mutex::default(),
        });
        let recover = Arc::new(AccountRecovery {
            recovery: tokio::sync::Mutex::new(Recovery::new(
                settings.base.id.clone(),
                settings.token_refresh.clone(),
            )),
            host: Arc::new(HostServices {
                host: ctx.pipeline.host(),
            }),
            rest,
            cancel: ctx.cancel.clone(),
        });
        let runner = Runner {
            login: Login {
                ws_addr: credentials.ws_addr.clone(),
                user_id: me,
                token: credentials.token.expose().to_owned(),
                platform_id: credentials.platform_id,
            },
            timing: Timing::default(),
            health_every: settings.health_check_interval,
            link,
            sync: Sequencer::new(seqs, credentials.user_id.clone()),
            sink,
            recover,
        };
        Ok(Box::new(Registered {
            runner,
            _live: registered,
        }))
    }

    async fn send(&self, account: &Account, to: &Target, message: &Outbound) -> Result<Receipt> {
        let ids = self
            .send_as(&account.settings.base.id, to, message, None)
            .await?;
        Ok(Receipt::Sent {
            parts: ids.len(),
            message_id: ids.last().cloned().unwrap_or_default(),
        })
    }

    async fn fetch_media(&self, account: &Account, media: &Media) -> Result<Fetched, ChannelError> {
        // No token goes with it: object GETs need none, and no other host may see it.
        account.media.fetch_attachment(media).await
    }

    async fn probe(&self, account: &Account) -> Result<Probe, ChannelError> {
        let rest = RestClient::new(RestConfig::from_account(&account.settings)?)?;
        let started = Instant::now();
        // Authenticated and side-effect free: proves the server is reachable and the token good.
        let result = rest.server_time().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let connected = self
            .live(&account.settings.base.id)
            .map(|l| l.link.is_up())
            .unwrap_or(false);
        Ok(match result {
            Ok(_) => Probe {
                ok: true,
                detail: format!(
                    "OpenIM API reachable at {}; gateway {}",
                    rest.api_base(),
                    if connected {
                        "connected"
                    } else {
                        "not connected in this process"
                    }
                ),
                elapsed_ms,
            },
            Err(err) => Probe {
                ok: false,
                detail: err.to_string(),
                elapsed_ms,
            },
        })
    }

    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
        outbound::parse_target(raw)
    }
}
