//! `imbench weixin-channel`: a WeChat account of ours (`AnyChannel::run` under the standalone
//! host: long poll → decode → journal → gate → per-peer queue → host, state on real disk), or a
//! raw long-poll reader that only counts messages and moves the cursor on (the physical limit),
//! against a running `imsim` whose `getupdates` answers carry at most a batch each.
//!
//! Each run adds a bot of its own to the simulator, so no run reads another's log. The side
//! under test connects and is waiting in a poll; then all the messages are stored at once
//! through the admin API, from several peers, and the clock runs from that injection to the last
//! message at the host (or the last one the raw reader counted).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, StateDir};
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use weixin::store::{AccountFile, Store, normalize_account_id};

use crate::cpu;

type Error = Box<dyn std::error::Error>;

/// How long a side may take before the run counts as failed: far beyond any figure.
const LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// Our WeChat account, full path.
    Ours,
    /// A loop of `getupdates` calls that counts the messages and decodes nothing else.
    Raw,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ready line `imsim` printed, or a file holding it.
    #[arg(long)]
    ready: String,
    #[arg(long, value_enum, default_value = "ours")]
    side: Side,
    /// Messages in all.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Peers the messages come from, in turn.
    #[arg(long, default_value_t = 20)]
    peers: usize,
    /// The state directory of our account (on the disk being measured).
    #[arg(long)]
    state: Option<PathBuf>,
}

/// The simulator as its ready line describes it.
struct Sim {
    api: String,
    http: reqwest::Client,
}

/// A bot the simulator made for this run.
#[derive(serde::Deserialize)]
struct Bot {
    bot_id: String,
    token: String,
    owner: String,
}

impl Sim {
    fn read(ready: &str) -> Result<Self, Error> {
        let text = if ready.trim_start().starts_with('{') {
            ready.to_owned()
        } else {
            std::fs::read_to_string(ready)?
        };
        let ready: Value = serde_json::from_str(text.trim())?;
        let api = ready["ilink"]
            .as_str()
            .ok_or("the ready line has no ilink")?
            .to_owned();
        Ok(Self {
            api,
            http: reqwest::Client::new(),
        })
    }

    async fn admin(&self, path: &str, body: Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}_admin/{path}", self.api))
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

    async fn new_bot(&self) -> Result<Bot, Error> {
        Ok(serde_json::from_value(
            self.admin("bots", json!({})).await?,
        )?)
    }

    async fn online(&self, bot_id: &str) -> Result<bool, Error> {
        let state: Value = self
            .http
            .get(format!("{}_admin/state", self.api))
            .send()
            .await?
            .json()
            .await?;
        Ok(state["bots"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| b["bot_id"] == bot_id && b["online"] == true))
    }

    /// Stores `messages` for `bot` at once, from `peers` in turn.
    async fn inject(&self, bot: &Bot, peers: &[String], messages: usize) -> Result<(), Error> {
        self.admin(
            "inbound_many",
            json!({ "bot_id": bot.bot_id, "from": peers, "count": messages }),
        )
        .await?;
        Ok(())
    }
}

pub async fn run(args: &Args) -> Result<Value, Error> {
    if args.peers == 0 {
        return Err("--peers must be at least 1".into());
    }
    let sim = Sim::read(&args.ready)?;
    let bot = sim.new_bot().await?;
    // Shaped like real WeChat user ids (`o9cq80…@im.wechat`), distinct per run.
    let peers: Vec<String> = (0..args.peers)
        .map(|n| format!("o9cq80Bench{}x{n:04}@im.wechat", std::process::id()))
        .collect();
    let (received, seconds, cpu) = match args.side {
        Side::Ours => ours(args, &sim, &bot, &peers).await?,
        Side::Raw => raw(args, &sim, &bot, &peers).await?,
    };
    Ok(json!({
        "bench": "weixin-channel",
        "side": format!("{:?}", args.side).to_lowercase(),
        "messages": args.messages,
        "received": received,
        "lost": args.messages.saturating_sub(received),
        "seconds": seconds,
        "perSecond": received as f64 / seconds.max(1e-9),
        "cpuSeconds": cpu,
    }))
}

/// Our account, logged in the way a QR login leaves it, polling until every message reached
/// the host.
async fn ours(
    args: &Args,
    sim: &Sim,
    bot: &Bot,
    peers: &[String],
) -> Result<(usize, f64, f64), Error> {
    let state = args
        .state
        .clone()
        .ok_or("--state is needed for --side ours")?;
    std::fs::create_dir_all(&state)?;
    let state = StateDir::new(&state);
    let account = normalize_account_id(&bot.bot_id);
    Store::new(state.channel(weixin::CHANNEL_ID)).save_account(
        &account,
        &AccountFile {
            token: bot.token.clone(),
            saved_at: Some("2026-12-06T00:00:00.000Z".into()),
            base_url: Some(sim.api.clone()),
            user_id: Some(bot.owner.clone()),
            bot_id: None,
        },
    )?;
    let section = json!({
        "dmPolicy": "open",
        "allowFrom": ["*"],
        "accounts": { &account: { "baseUrl": sim.api } },
    });
    let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(weixin::WeixinChannel::new(&state)));
    // The agent answers nothing: inbound alone is measured.
    let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (channel, host, cancel, account) = (
            Arc::clone(&channel),
            Arc::clone(&host),
            cancel.clone(),
            account.clone(),
        );
        async move { channel.run(&section, &account, host, cancel).await }
    });
    let connected = host.wait_for(LIMIT, |h| h.is_connected(&account)).await;
    if !connected {
        cancel.cancel();
        return Err("the account did not connect".into());
    }
    // Connected means `notifystart` was answered; the first poll follows at once, and the
    // simulator holds it until the burst arrives.
    let cpu_before = cpu::process_time()?;
    let started = Instant::now();
    let (seconds, injected) = tokio::join!(
        until_count(&host, args.messages, started),
        sim.inject(bot, peers, args.messages)
    );
    injected?;
    let cpu = cpu::process_time()? - cpu_before;
    let received = host.turn_count();
    cancel.cancel();
    task.await??;
    Ok((received, seconds, cpu.as_secs_f64()))
}

/// Waits until `host` ran `count` turns; the seconds since `started` then, or at the limit.
async fn until_count(host: &StandaloneHost, count: usize, started: Instant) -> f64 {
    while host.turn_count() < count && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed().as_secs_f64()
}

/// What the raw reader reads of a `getupdates` answer: how many messages, and the cursor.
#[derive(serde::Deserialize)]
struct Updates {
    #[serde(default)]
    msgs: Vec<IgnoredAny>,
    #[serde(default)]
    get_updates_buf: String,
}

/// The physical limit: the same long polls on one connection, with the headers the server
/// insists on, counting messages and handing nothing on.
async fn raw(
    args: &Args,
    sim: &Sim,
    bot: &Bot,
    peers: &[String],
) -> Result<(usize, f64, f64), Error> {
    let http = reqwest::Client::new();
    let url = format!("{}ilink/bot/getupdates", sim.api);
    let base_info = json!({ "channel_version": "2.4.9", "bot_agent": "OpenClaw" });
    let poll = |cursor: String| {
        http.post(&url)
            .header("ilink-app-id", "bot")
            .header("ilink-app-clientversion", "132105")
            .header("authorizationtype", "ilink_bot_token")
            .header("x-wechat-uin", weixin::client::wechat_uin())
            .bearer_auth(&bot.token)
            .json(&json!({ "get_updates_buf": cursor, "base_info": base_info }))
            .timeout(LIMIT)
            .send()
    };
    // Announce the bot, as a client does before its first poll, and make sure it took.
    http.post(format!("{}ilink/bot/msg/notifystart", sim.api))
        .header("ilink-app-id", "bot")
        .header("ilink-app-clientversion", "132105")
        .header("authorizationtype", "ilink_bot_token")
        .header("x-wechat-uin", weixin::client::wechat_uin())
        .bearer_auth(&bot.token)
        .json(&json!({ "base_info": base_info }))
        .send()
        .await?
        .error_for_status()?;
    if !sim.online(&bot.bot_id).await? {
        return Err("notifystart did not bring the bot online".into());
    }
    let cpu_before = cpu::process_time()?;
    let started = Instant::now();
    let count = async {
        let mut cursor = String::new();
        let mut counted = 0;
        while counted < args.messages && started.elapsed() < LIMIT {
            let updates: Updates = poll(cursor.clone()).await?.json().await?;
            counted += updates.msgs.len();
            if !updates.get_updates_buf.is_empty() {
                cursor = updates.get_updates_buf;
            }
        }
        Ok::<_, Error>((counted, started.elapsed().as_secs_f64()))
    };
    let (counted, injected) = tokio::join!(count, sim.inject(bot, peers, args.messages));
    injected?;
    let (counted, seconds) = counted?;
    let cpu = cpu::process_time()? - cpu_before;
    Ok((counted, seconds, cpu.as_secs_f64()))
}
