//! [`YunxinChannel`]: the `netease-yunxin` channel over any [`NimTransport`].
//!
//! One account is one login. The transport reconnects by itself after network trouble and says
//! so in `connectStatus` events; the channel only steps in when the SDK gives up: a kick or a
//! refused token ends the session, and the account either logs in again after a backoff or
//! stops until a person fixes its credentials.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use channel_core::media::MediaPolicy;
use channel_core::{
    AccountView, Channel, ChannelError, ChatKind, Connector, Descriptor, ErrorKind, Fetched, Host,
    Inbound, Lifecycle, LiveAccounts, Media, Meta, Outbound, Probe, Receipt, Result, RunContext,
    SendLog, StateDir, Target, TransportModule,
};
use tokio::sync::mpsc;

use crate::config::{AccountSettings, TransportKind, YunxinConfig, process_env};
use crate::nim::{
    ConnectStatus, Durable, Kicked, Login, LoginStatus, Message, NimEvent, NimTransport, Opened,
    ReadReceipt,
};
use crate::normalize::normalize;
use crate::{CHANNEL_ID, outbound};

/// The SDK reports a kick as a logout first, then the link going down, then the kick itself:
/// after a logout, its reason may still come this long.
const LOGOUT_REASON_GRACE: Duration = Duration::from_millis(500);

/// Opens the transport an account is configured for.
#[async_trait::async_trait]
pub trait Transports: Send + Sync + std::fmt::Debug {
    async fn open(
        &self,
        settings: &AccountSettings,
        host: Arc<dyn Host>,
    ) -> Result<Opened, ChannelError>;
}

/// `sdk` through the host's JS transport module, `server-api` through REST and the webhook.
#[derive(Debug, Default)]
pub struct ConfiguredTransports;

#[async_trait::async_trait]
impl Transports for ConfiguredTransports {
    async fn open(
        &self,
        settings: &AccountSettings,
        host: Arc<dyn Host>,
    ) -> Result<Opened, ChannelError> {
        match settings.transport {
            crate::config::TransportKind::Sdk => crate::sdk::open(host.as_ref(), settings).await,
            crate::config::TransportKind::ServerApi => crate::server_api::open(settings),
        }
    }
}

/// What a logged-in account shares with senders.
#[derive(Debug, Clone)]
struct Live {
    transport: Arc<dyn NimTransport>,
    me: String,
}

/// The Yunxin channel.
#[derive(Debug, Clone)]
pub struct YunxinChannel {
    dir: PathBuf,
    transports: Arc<dyn Transports>,
    live: LiveAccounts<Live>,
}

/// One account, resolved from config.
#[derive(Debug, Clone)]
pub struct Account {
    pub settings: AccountSettings,
    /// Guarded fetches and the size cap, for attachments both ways.
    pub media: MediaPolicy,
}

impl YunxinChannel {
    pub fn new(state: &StateDir) -> Self {
        Self::with_transports(state, Arc::new(ConfiguredTransports))
    }

    /// A channel whose accounts use `transports` (tests use a scripted one).
    pub fn with_transports(state: &StateDir, transports: Arc<dyn Transports>) -> Self {
        Self {
            dir: state.channel(CHANNEL_ID),
            transports,
            live: LiveAccounts::default(),
        }
    }

    fn live(&self, account: &str) -> Result<Live, ChannelError> {
        self.live.get(account).ok_or_else(|| {
            ChannelError::transient(format!(
                "netease-yunxin account {account} is not logged in in this gateway (sends use \
                 its long connection)"
            ))
        })
    }
}

/// One account's logins: each session opens the transport, logs in, receives until the login
/// ends, and closes the transport again.
struct Logins {
    settings: AccountSettings,
    transports: Arc<dyn Transports>,
    live: LiveAccounts<Live>,
    ctx: RunContext,
}

#[async_trait::async_trait]
impl Connector for Logins {
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        let mut opened = tokio::select! {
            () = life.cancel().cancelled() => return Ok(()),
            opened = self.transports.open(&self.settings, self.ctx.host()) => opened?,
        };
        let ended = self.logged_in(&mut opened, life).await;
        if ended.is_ok() {
            // Logged out on purpose, so the server does not hold the session.
            let _ = opened.transport.logout().await;
        }
        opened.transport.close().await;
        ended
    }
}

impl Logins {
    /// Gives messages to the pipeline as one batch (one fsync), and tells each webhook copy's
    /// `Durable` whether it is kept: durable, or not for the agent.
    async fn hand_over(&self, me: &str, received: Vec<(Message, Option<Durable>)>) {
        let account = &self.settings.base.id;
        let mut inbounds = Vec::with_capacity(received.len());
        let mut waiting = Vec::new();
        for (msg, durable) in received {
            match normalize(account, me, &msg) {
                Ok(inbound) => {
                    inbounds.push(inbound);
                    waiting.extend(durable);
                }
                Err(skip) => {
                    tracing::debug!(account = %account, ?skip, "not for the agent");
                    if let Some(durable) = durable {
                        durable.done(true);
                    }
                }
            }
        }
        if inbounds.is_empty() {
            return;
        }
        let kept = match self.ctx.accept_many(inbounds).await {
            Ok(_) => true,
            Err(err) => {
                tracing::error!(account = %account, %err, "inbound messages could not be handed over");
                false
            }
        };
        for durable in waiting {
            durable.done(kept);
        }
    }

    /// Logs in on `opened` and receives until the login ends (`Ok` when cancelled).
    async fn logged_in(&self, opened: &mut Opened, life: &Lifecycle) -> Result<(), ChannelError> {
        let settings = &self.settings;
        let credentials = settings.base.credentials.clone()?;
        let login = Login {
            app_key: credentials.app_key.clone(),
            account_id: credentials.account_id.clone(),
            token: credentials.token.expose().to_owned(),
            ai_bot: settings.ai_bot,
        };
        let transport = Arc::clone(&opened.transport);
        tokio::select! {
            () = life.cancel().cancelled() => return Ok(()),
            result = transport.login(&login) => result.map_err(|e| ChannelError::from(e).context("login"))?,
        }
        let me = credentials.account_id.clone();
        let _registered = self.live.register(
            &settings.base.id,
            Live {
                transport: Arc::clone(&transport),
                me: me.clone(),
            },
        );
        life.connected();
        match settings.transport {
            TransportKind::Sdk => {
                tracing::info!(account = %settings.base.id, "[netease-yunxin] SDK connected; send and receive via long connection")
            }
            TransportKind::ServerApi => {
                tracing::info!(account = %settings.base.id, "[netease-yunxin] server API ready; sending over REST, receiving through the message-copy webhook")
            }
        }
        // An event read while a batch of messages was gathered, handled next.
        let mut held = None;
        loop {
            let event = match held.take() {
                Some(event) => Some(event),
                None => tokio::select! {
                    () = life.cancel().cancelled() => return Ok(()),
                    event = opened.events.recv() => event,
                },
            };
            let Some(event) = event else {
                return Err(ChannelError::transient("the NIM transport went away"));
            };
            match event {
                NimEvent::ReceiveMessages(_) | NimEvent::Copied(..) => {
                    let (received, next) = messages_waiting(event, &mut opened.events);
                    self.hand_over(&me, received).await;
                    held = next;
                }
                NimEvent::ConnectStatus(ConnectStatus::Connected)
                | NimEvent::LoginStatus(LoginStatus::Logined) => life.connected(),
                NimEvent::ConnectStatus(status) => {
                    tracing::warn!(account = %settings.base.id, ?status, "NIM link down; the SDK reconnects");
                    life.degraded(&ChannelError::transient(format!(
                        "NIM link {status:?}; the SDK reconnects"
                    )));
                }
                NimEvent::KickedOffline(kicked) => return Err(kicked_error(&kicked)),
                NimEvent::LoginFailed(error) => {
                    return Err(ChannelError::from(error).context("login"));
                }
                NimEvent::ConnectFailed(error) | NimEvent::Disconnected(Some(error))
                    if !error.kind().is_retryable() =>
                {
                    return Err(error.into());
                }
                NimEvent::ConnectFailed(error) | NimEvent::Disconnected(Some(error)) => {
                    life.degraded(&error.into());
                }
                NimEvent::LoginStatus(LoginStatus::Logout) => {
                    return Err(logout_reason(&mut opened.events).await);
                }
                NimEvent::Closed(error) => {
                    return Err(error
                        .map(Into::into)
                        .unwrap_or_else(|| ChannelError::transient("the NIM transport closed")));
                }
                other => tracing::debug!(account = %settings.base.id, ?other, "NIM event"),
            }
        }
    }
}

/// Messages taken into one batch at most.
const RECEIVE_BATCH: usize = 1_024;

/// The messages of `first` and of the message events already waiting behind it (up to
/// [`RECEIVE_BATCH`]), each with the webhook's `Durable` if it is a copy; and the first other
/// event, which ended the batch.
fn messages_waiting(
    first: NimEvent,
    events: &mut mpsc::UnboundedReceiver<NimEvent>,
) -> (Vec<(Message, Option<Durable>)>, Option<NimEvent>) {
    let mut received = Vec::new();
    let mut next = Some(first);
    while let Some(event) = next.take() {
        match event {
            NimEvent::ReceiveMessages(messages) => {
                received.extend(messages.into_iter().map(|msg| (msg, None)));
            }
            NimEvent::Copied(msg, durable) => received.push((*msg, Some(durable))),
            other => return (received, Some(other)),
        }
        if received.len() >= RECEIVE_BATCH {
            break;
        }
        next = events.try_recv().ok();
    }
    (received, None)
}

fn kicked_error(kicked: &Kicked) -> ChannelError {
    ChannelError::new(
        ErrorKind::Kicked,
        format!(
            "kicked offline ({:?}, client type {}): {}",
            kicked.reason, kicked.client_type, kicked.reason_desc
        ),
    )
}

/// Why the SDK logged out: a kick or a refused login when it says so right after the logout,
/// else it gave up reconnecting.
async fn logout_reason(events: &mut mpsc::UnboundedReceiver<NimEvent>) -> ChannelError {
    let deadline = tokio::time::Instant::now() + LOGOUT_REASON_GRACE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(NimEvent::KickedOffline(kicked))) => return kicked_error(&kicked),
            Ok(Some(NimEvent::LoginFailed(error))) => {
                return ChannelError::from(error).context("login");
            }
            // The logout's own trail: link status, `disconnected`.
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return ChannelError::transient("the SDK logged out (it gave up reconnecting)");
            }
        }
    }
}

#[async_trait::async_trait]
impl Channel for YunxinChannel {
    type Account = Account;

    fn descriptor(&self) -> Descriptor {
        let meta = Meta::new(
            CHANNEL_ID,
            "NetEase Yunxin IM",
            "NetEase Yunxin IM (NIM, Rust)",
        )
        .blurb(
            "NetEase Yunxin IM: appKey + accountId + token over NetEase's JS SDK, or \
                        the NIM server API.",
        )
        .order(77)
        .aliases(&["yunxin", "nim"]);
        Descriptor {
            replaces: vec!["netease-yunxin".into()],
            text_chunk_limit: outbound::CHUNK_CHARS,
            target_hint: "<accid> or team:<teamId>".into(),
            id_label: "Your NIM account id (accid)".into(),
            interactive_login: false,
            tool_hints: Vec::new(),
            ui_hints: crate::config::ui_hints(),
            default_account_env: [
                crate::config::ENV_APP_KEY,
                crate::config::ENV_ACCOUNT_ID,
                crate::config::ENV_TOKEN,
            ]
            .map(String::from)
            .to_vec(),
            ..Descriptor::new(
                CHANNEL_ID,
                meta,
                vec![ChatKind::Direct, ChatKind::Group],
                crate::config::schema(),
            )
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    fn account_ids(&self, section: &serde_json::Value) -> Result<Vec<String>, ChannelError> {
        Ok(YunxinConfig::parse(section)?.account_ids(&process_env))
    }

    fn account(&self, section: &serde_json::Value, id: &str) -> Result<Account, ChannelError> {
        let config = YunxinConfig::parse(section)?;
        let settings = config.account(id, &process_env)?;
        let media = config.media_policy(&settings, self.dir.join("tmp"))?;
        Ok(Account { settings, media })
    }

    fn view(&self, account: &Account) -> AccountView {
        let settings = &account.settings;
        AccountView {
            name: settings
                .base
                .credentials
                .as_ref()
                .ok()
                .map(|c| c.account_id.clone()),
            ..settings.base.view()
        }
    }

    async fn connect(&self, account: Account, ctx: RunContext) -> Result<Box<dyn Connector>> {
        // Credentials are checked by each login (and an unconfigured account never gets here).
        Ok(Box::new(Logins {
            settings: account.settings,
            transports: Arc::clone(&self.transports),
            live: self.live.clone(),
            ctx,
        }))
    }

    async fn send(&self, account: &Account, to: &Target, message: &Outbound) -> Result<Receipt> {
        let live = self.live(&account.settings.base.id)?;
        let conversation = outbound::conversation(&live.me, to);
        let mention = outbound::mention_for(account.settings.mention_asker, &live.me, to, message);
        // Downloaded attachments stay on disk until every part is sent.
        let prepared = outbound::build(
            &account.settings.base.id,
            &conversation,
            message,
            mention,
            &account.media,
        )
        .await?;
        let requests = &prepared.parts;
        // The SDK refuses an id it already sent (191004) instead of answering with the first
        // result, so a retried or replayed reply is answered from the send log.
        let log = SendLog::for_account(&self.dir, &account.settings.base.id);
        let mut last = String::new();
        for (part, request) in requests.iter().enumerate() {
            last = log
                .once(message.piece_key(part).as_deref(), || async {
                    let sent = live.transport.send(&request.request).await?;
                    Ok(sent.message_server_id)
                })
                .await
                .map_err(|e| {
                    e.context(format!(
                        "netease-yunxin {}: sending to {to}",
                        account.settings.base.id
                    ))
                })?;
        }
        Ok(Receipt::Sent {
            message_id: last,
            parts: requests.len(),
        })
    }

    /// With `sendReadReceipts`, a handled direct message is marked read for its sender.
    async fn handled(&self, account: &Account, inbound: &Inbound) -> Result<(), ChannelError> {
        if !account.settings.send_read_receipts || inbound.chat.kind != ChatKind::Direct {
            return Ok(());
        }
        let message: Message = serde_json::from_value(inbound.raw.clone()).map_err(|e| {
            ChannelError::permanent(format!(
                "no NIM message to mark read in {}: {e}",
                inbound.server_id
            ))
        })?;
        let live = self.live(&account.settings.base.id)?;
        live.transport
            .send_read_receipt(&ReadReceipt::of(&message))
            .await
            .map_err(|e| ChannelError::from(e).context("sending a read receipt"))
    }

    async fn fetch_media(&self, account: &Account, media: &Media) -> Result<Fetched, ChannelError> {
        let url = media.locator["url"].as_str().ok_or_else(|| {
            ChannelError::permanent(format!("{} attachment without a URL", media.kind))
        })?;
        account
            .media
            .fetch_to_temp(
                url,
                &media.kind,
                media.mime.as_deref(),
                media.file_name.as_deref(),
            )
            .await
    }

    async fn probe(&self, account: &Account) -> Result<Probe, ChannelError> {
        let logged_in = self.live.is_running(&account.settings.base.id);
        Ok(Probe {
            ok: logged_in,
            detail: if logged_in {
                "logged in over the long connection".into()
            } else {
                "not logged in in this gateway".into()
            },
            elapsed_ms: 0,
        })
    }

    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
        outbound::parse_target(raw)
    }

    fn transport_modules(&self) -> Vec<TransportModule> {
        crate::sdk::TRANSPORT_MODULES.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message {
            message_server_id: id.into(),
            ..Message::default()
        }
    }

    /// Messages waiting behind the first go into its batch, in order; the first other event
    /// ends the batch and is handed back, not lost.
    #[test]
    fn a_batch_takes_the_messages_waiting_and_stops_at_another_event() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (durable, _answer) = Durable::new();
        tx.send(NimEvent::Copied(Box::new(message("3")), durable))
            .unwrap();
        tx.send(NimEvent::ReceiveMessages(vec![message("4")]))
            .unwrap();
        tx.send(NimEvent::Closed(None)).unwrap();
        tx.send(NimEvent::ReceiveMessages(vec![message("5")]))
            .unwrap();
        let first = NimEvent::ReceiveMessages(vec![message("1"), message("2")]);
        let (batch, next) = messages_waiting(first, &mut rx);
        let ids: Vec<_> = batch
            .iter()
            .map(|(m, d)| (m.message_server_id.as_str(), d.is_some()))
            .collect();
        assert_eq!(ids, [("1", false), ("2", false), ("3", true), ("4", false)]);
        assert!(matches!(next, Some(NimEvent::Closed(None))));
        assert!(matches!(rx.try_recv(), Ok(NimEvent::ReceiveMessages(_))));
    }
}
