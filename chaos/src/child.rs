//! `imchaos account`: one account under `AnyChannel::run`, with a host whose agent echoes and
//! writes the ledger, and the proactive messages sent through the channel's send path.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use channel_core::dm::{PairingCode, PairingStore};
use channel_core::host::{HostTransport, Replier, ReplyPayload, StatusPatch, Turn, TurnOutcome};
use channel_core::testing::StandaloneHost;
use channel_core::{
    AnyChannel, CancellationToken, ChannelError, ErrorKind, Host, Outbound, Receipt, Route,
    RouteQuery, SessionKeyResolver, StateDir,
};
use serde_json::{Value, json};

use crate::ledger::{self, Ledger};
use crate::{ChildPlan, EXIT_NEEDS_LOGIN, Net, Result};

#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    #[arg(long, value_enum)]
    channel: Net,
    /// `{"channels": {<id>: section}, "chaos": plan}`; refreshed tokens are written back here.
    #[arg(long)]
    config: PathBuf,
    /// The channel state root (`StateDir`).
    #[arg(long)]
    state: PathBuf,
    #[arg(long)]
    ledger: PathBuf,
}

/// The standalone host, except that the agent's run is recorded in the ledger around its reply.
struct ChaosHost {
    inner: StandaloneHost,
    ledger: Arc<Ledger>,
}

fn sid(turn: &Turn, key: &str) -> String {
    turn.context[key].as_str().unwrap_or_default().to_owned()
}

#[async_trait::async_trait]
impl Host for ChaosHost {
    async fn run_turn(
        &self,
        turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> std::result::Result<TurnOutcome, ChannelError> {
        let full = sid(&turn, "MessageSidFull");
        // The agent "ran" once this line is durable, whatever happens to the reply.
        self.ledger
            .append(json!({
                "turn": full,
                "sid": sid(&turn, "MessageSid"),
                "peer": turn.inbound.chat.id,
                "text": turn.inbound.text,
            }))
            .map_err(|e| ChannelError::permanent(format!("ledger: {e}")))?;
        let reply = ReplyPayload {
            text: format!("echo: {}", turn.inbound.text),
            media: vec![],
            kind: "final".into(),
        };
        match replier.reply(reply).await {
            Ok(_) => {
                self.ledger
                    .append(json!({"answered": full}))
                    .map_err(|e| ChannelError::permanent(format!("ledger: {e}")))?;
                Ok(TurnOutcome {
                    replies: 1,
                    ..TurnOutcome::default()
                })
            }
            Err(err) => {
                let _ = self
                    .ledger
                    .append(json!({"reply_failed": full, "error": err.to_string()}));
                Err(err)
            }
        }
    }

    async fn save_media(
        &self,
        file: &std::path::Path,
        mime: &str,
        file_name: Option<&str>,
    ) -> std::result::Result<String, ChannelError> {
        self.inner.save_media(file, mime, file_name).await
    }

    fn report_status(&self, channel: &str, account: &str, patch: StatusPatch) {
        self.inner.report_status(channel, account, patch);
    }

    async fn call_global(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> std::result::Result<Option<Value>, ChannelError> {
        self.inner.call_global(name, args).await
    }

    async fn set_config(
        &self,
        path: &[String],
        value: Value,
    ) -> std::result::Result<(), ChannelError> {
        self.inner.set_config(path, value).await
    }

    async fn media_roots(&self) -> std::result::Result<Vec<String>, ChannelError> {
        self.inner.media_roots().await
    }

    async fn open_transport(
        &self,
        module: &str,
        options: Value,
        events: tokio::sync::mpsc::UnboundedSender<Value>,
    ) -> std::result::Result<Arc<dyn HostTransport>, ChannelError> {
        self.inner.open_transport(module, options, events).await
    }
}

#[async_trait::async_trait]
impl PairingStore for ChaosHost {
    async fn read_allow_from(
        &self,
        channel: &str,
        account: &str,
    ) -> std::result::Result<Vec<String>, ChannelError> {
        self.inner.read_allow_from(channel, account).await
    }

    async fn upsert_request(
        &self,
        channel: &str,
        account: &str,
        id: &str,
        meta: Value,
    ) -> std::result::Result<PairingCode, ChannelError> {
        self.inner.upsert_request(channel, account, id, meta).await
    }

    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> std::result::Result<String, ChannelError> {
        self.inner.reply_text(channel, id_line, code).await
    }
}

#[async_trait::async_trait]
impl SessionKeyResolver for ChaosHost {
    async fn resolve_route(&self, query: &RouteQuery) -> std::result::Result<Route, ChannelError> {
        self.inner.resolve_route(query).await
    }
}

pub fn channel_for(net: Net, state: &StateDir) -> Arc<dyn AnyChannel> {
    match net {
        Net::Openim => Arc::new(Arc::new(openim::OpenimChannel::new(state))),
        Net::Weixin => Arc::new(Arc::new(weixin::WeixinChannel::new(state))),
        Net::Yunxin => Arc::new(Arc::new(yunxin::YunxinChannel::new(state))),
    }
}

pub async fn run(args: AccountArgs) -> Result<ExitCode> {
    let doc: Value = serde_json::from_slice(&std::fs::read(&args.config)?)?;
    let plan: ChildPlan = serde_json::from_value(doc["chaos"].clone())?;
    let channel = channel_for(args.channel, &StateDir::new(&args.state));
    let section = doc["channels"][channel.descriptor().id.as_str()].clone();
    let ledger = Arc::new(Ledger::open(&args.ledger)?);
    let host = Arc::new(ChaosHost {
        inner: StandaloneHost::default().with_config_file(&args.config),
        ledger: Arc::clone(&ledger),
    });
    let cancel = CancellationToken::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            term.recv().await;
            tracing::info!("SIGTERM: stopping the account");
            cancel.cancel();
        }
    });
    let account = tokio::spawn({
        let (channel, section, host, cancel) = (
            Arc::clone(&channel),
            section.clone(),
            Arc::clone(&host),
            cancel.clone(),
        );
        let id = plan.account.clone();
        async move { channel.run(&section, &id, host, cancel).await }
    });
    let sender = tokio::spawn(outbound(
        channel,
        section,
        plan,
        host,
        args.ledger.clone(),
        ledger,
        cancel.clone(),
    ));
    let result = account.await?;
    cancel.cancel();
    let _ = sender.await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind == ErrorKind::NeedsLogin => {
            tracing::warn!(%err, "the account needs a new login");
            Ok(ExitCode::from(EXIT_NEEDS_LOGIN))
        }
        Err(err) => Err(format!("the account stopped: {err}").into()),
    }
}

/// Notes in the ledger when the account first connected, then sends `out-<n>` to peer `n mod peers`, one every `outbound_every_ms`, each under the stable
/// client id `out-<n>`; after a restart, every one without a `sent` line goes again.
async fn outbound(
    channel: Arc<dyn AnyChannel>,
    section: Value,
    plan: ChildPlan,
    host: Arc<ChaosHost>,
    ledger_path: PathBuf,
    ledger: Arc<Ledger>,
    cancel: CancellationToken,
) {
    // Sends before the first connection would only wait out their own timeouts.
    let connected = host
        .inner
        .wait_for(Duration::from_secs(3600), |h| h.is_connected(&plan.account));
    tokio::select! {
        () = cancel.cancelled() => return,
        _ = connected => {}
    }
    if let Err(err) = ledger.append(json!({"ready": true})) {
        tracing::error!(%err, "ledger write failed");
    }
    if plan.targets.is_empty() {
        return;
    }
    let done: HashSet<String> = match ledger::read(&ledger_path) {
        Ok(lines) => lines.into_iter().filter_map(|l| l.sent).collect(),
        Err(err) => {
            tracing::error!(%err, "cannot read the ledger; no proactive messages from this run");
            return;
        }
    };
    let every = Duration::from_millis(plan.outbound_every_ms);
    let start = tokio::time::Instant::now();
    let mut due = start;
    for n in 0..plan.outbound {
        let id = format!("out-{n}");
        if done.contains(&id) {
            continue;
        }
        due = due.max(start) + every;
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let target = &plan.targets[n % plan.targets.len()];
        let message = Outbound {
            client_id: Some(id.clone()),
            ..Outbound::text(id.clone())
        };
        loop {
            let sent = tokio::select! {
                () = cancel.cancelled() => return,
                sent = channel.send(&section, &plan.account, target, &message) => sent,
            };
            match sent {
                Ok(receipt) => {
                    let kind = match receipt {
                        Receipt::Sent { .. } => "sent",
                        Receipt::Queued { .. } => "queued",
                    };
                    if let Err(err) = ledger.append(json!({"sent": id, "receipt": kind})) {
                        tracing::error!(%err, "ledger write failed");
                    }
                    break;
                }
                Err(err) => {
                    tracing::warn!(%err, id, "proactive send failed; trying again");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
}
