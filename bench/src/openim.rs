//! `imbench openim-live` and `imbench openim-catchup`: an OpenIM account of ours (`AnyChannel::run`
//! under the standalone host: channel → journal → gate → per-peer queue → host, state on real
//! disk), or a raw WebSocket reader that only counts frames (the physical limit), against a
//! running `imsim --openim`.
//!
//! The side under test logs in as a bot of its own, then the messages are injected through the
//! simulator's admin API from several senders at once. The clock runs from the first injection
//! to the last message at the host (or the last frame read). For the catch-up, the messages are
//! stored while the account is down, and the clock runs from its start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, StateDir};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::cpu;

type Error = Box<dyn std::error::Error>;

/// How long a side may take before the run counts as failed: far beyond any figure.
const LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// Our OpenIM account, full path.
    Ours,
    /// A WebSocket reader that counts push frames and decodes nothing.
    Raw,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ready line `imsim --openim` printed, or a file holding it.
    #[arg(long)]
    ready: String,
    #[arg(long, value_enum, default_value = "ours")]
    side: Side,
    /// The bot's user id (a fresh one per run: the simulator creates it).
    #[arg(long)]
    bot: String,
    /// Messages in all.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Senders (users of the simulator), comma-separated; the messages are spread over them.
    #[arg(long, value_delimiter = ',')]
    senders: Vec<String>,
    /// The state directory of our account (on the disk being measured).
    #[arg(long)]
    state: Option<PathBuf>,
}

/// The simulator as its ready line describes it.
pub(crate) struct Sim {
    pub(crate) ws: String,
    pub(crate) api: String,
    admin: String,
    http: reqwest::Client,
}

impl Sim {
    pub(crate) fn read(ready: &str) -> Result<Self, Error> {
        let text = if ready.trim_start().starts_with('{') {
            ready.to_owned()
        } else {
            std::fs::read_to_string(ready)?
        };
        let ready: Value = serde_json::from_str(text.trim())?;
        let server = &ready["openim"][0];
        let field = |key: &str| {
            server[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the ready line has no openim[0].{key}"))
        };
        Ok(Self {
            ws: field("ws")?,
            api: field("api")?,
            admin: field("admin")?,
            http: reqwest::Client::new(),
        })
    }

    async fn admin(&self, path: &str, body: Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.admin))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("/_admin/{path}: HTTP {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text)?)
    }

    pub(crate) async fn token(&self, user: &str) -> Result<String, Error> {
        let answer = self
            .admin("token", json!({ "userID": user, "platformID": 5 }))
            .await?;
        answer["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("/_admin/token gave no token: {answer}").into())
    }

    /// Stores `messages` for `bot`, spread over `senders`, all senders at once.
    async fn inject(&self, bot: &str, senders: &[String], messages: usize) -> Result<(), Error> {
        let per = messages / senders.len().max(1);
        let extra = messages % senders.len().max(1);
        let calls = senders.iter().enumerate().map(|(n, from)| {
            let count = per + usize::from(n < extra);
            self.admin(
                "inject_many",
                json!({ "from": from, "to": [bot], "count": count }),
            )
        });
        for answer in futures::future::join_all(calls).await {
            answer?;
        }
        Ok(())
    }
}

pub async fn live(args: &Args) -> Result<Value, Error> {
    run(args, false).await
}

pub async fn catch_up(args: &Args) -> Result<Value, Error> {
    run(args, true).await
}

async fn run(args: &Args, offline: bool) -> Result<Value, Error> {
    if args.senders.is_empty() {
        return Err("--senders names no sender".into());
    }
    let sim = Sim::read(&args.ready)?;
    let token = sim.token(&args.bot).await?;
    let (received, seconds, cpu) = match args.side {
        Side::Ours => ours(args, &sim, &token, offline).await?,
        Side::Raw => raw(args, &sim, &token, offline).await?,
    };
    Ok(json!({
        "bench": if offline { "openim-catchup" } else { "openim-live" },
        "side": format!("{:?}", args.side).to_lowercase(),
        "messages": args.messages,
        "received": received,
        "lost": args.messages.saturating_sub(received),
        "seconds": seconds,
        "perSecond": received as f64 / seconds.max(1e-9),
        "cpuSeconds": cpu,
    }))
}

/// Our account: logs in (and, for the catch-up, once more after the messages were stored).
async fn ours(
    args: &Args,
    sim: &Sim,
    token: &str,
    offline: bool,
) -> Result<(usize, f64, f64), Error> {
    let state = args
        .state
        .clone()
        .ok_or("--state is needed for --side ours")?;
    std::fs::create_dir_all(&state)?;
    let section = json!({
        "dmPolicy": "open",
        "allowFrom": ["*"],
        "accounts": { "bench": { "token": token, "wsAddr": sim.ws, "apiAddr": sim.api } },
    });
    let channel: Arc<dyn AnyChannel> =
        Arc::new(Arc::new(openim::OpenimChannel::new(&StateDir::new(&state))));
    // The first start syncs the account, so that the catch-up reads what came after it
    // (an account's very first sync reads no history).
    let first = Account::start(&channel, &section);
    first.connected().await?;
    // Live: the messages come while this account runs. Catch-up: they are stored while it is
    // down, and a second start reads them.
    let account = if offline {
        first.stop().await?;
        sim.inject(&args.bot, &args.senders, args.messages).await?;
        None
    } else {
        Some(first)
    };
    let cpu_before = cpu::process_time()?;
    let started = Instant::now();
    let (account, seconds, injected) = match account {
        Some(account) => {
            let (seconds, injected) = tokio::join!(
                until_count(&account.host, args.messages, started),
                sim.inject(&args.bot, &args.senders, args.messages)
            );
            (account, seconds, injected)
        }
        None => {
            let account = Account::start(&channel, &section);
            let seconds = until_count(&account.host, args.messages, started).await;
            (account, seconds, Ok(()))
        }
    };
    injected?;
    let cpu = cpu::process_time()? - cpu_before;
    let received = account.host.turn_count();
    account.stop().await?;
    Ok((received, seconds, cpu.as_secs_f64()))
}

/// Waits until `host` ran `count` turns; the seconds since `started` then, or at the limit.
async fn until_count(host: &StandaloneHost, count: usize, started: Instant) -> f64 {
    while host.turn_count() < count && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed().as_secs_f64()
}

/// One running account of ours.
struct Account {
    host: Arc<StandaloneHost>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), channel_core::ChannelError>>,
}

impl Account {
    fn start(channel: &Arc<dyn AnyChannel>, section: &Value) -> Self {
        // The agent answers nothing: inbound alone is measured.
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let (channel, section, host, cancel) = (
                Arc::clone(channel),
                section.clone(),
                Arc::clone(&host),
                cancel.clone(),
            );
            async move { channel.run(&section, "bench", host, cancel).await }
        });
        Self { host, cancel, task }
    }

    async fn connected(&self) -> Result<(), Error> {
        let up = self.host.wait_for(LIMIT, |h| h.is_connected("bench")).await;
        if up {
            Ok(())
        } else {
            Err("the account did not connect".into())
        }
    }

    async fn stop(self) -> Result<(), Error> {
        self.cancel.cancel();
        self.task.await??;
        Ok(())
    }
}

/// The physical limit: one socket, logged in, counting the push frames that arrive.
async fn raw(
    args: &Args,
    sim: &Sim,
    token: &str,
    offline: bool,
) -> Result<(usize, f64, f64), Error> {
    if offline {
        return Err("the raw reader reads live pushes only".into());
    }
    let url = openim::wire::connect_url(&sim.ws.parse()?, &args.bot, token, 5, "imbench-raw");
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (_sink, mut stream) = socket.split();
    // The login result comes first, as text.
    match stream.next().await {
        Some(Ok(Message::Text(_))) => {}
        other => return Err(format!("no login result: {other:?}").into()),
    }
    let cpu_before = cpu::process_time()?;
    let started = Instant::now();
    let count = async {
        let mut frames = 0;
        while frames < args.messages && started.elapsed() < LIMIT {
            match tokio::time::timeout(LIMIT, stream.next()).await {
                Ok(Some(Ok(Message::Binary(_)))) => frames += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        (frames, started.elapsed().as_secs_f64())
    };
    let ((frames, seconds), injected) =
        tokio::join!(count, sim.inject(&args.bot, &args.senders, args.messages));
    injected?;
    let cpu = cpu::process_time()? - cpu_before;
    Ok((frames, seconds, cpu.as_secs_f64()))
}
