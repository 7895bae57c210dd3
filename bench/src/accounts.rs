//! `imbench accounts`: N OpenIM accounts of ours in one process, each a distinct user of a
//! running `imsim --openim`, on one channel, one runtime and one standalone host, the way the
//! addon runs them inside the gateway. Measures how long they take from their start until every
//! one reports connected (logged in and caught up), then lets the process settle and reads its
//! resident set from `/proc/self/status`.
//!
//! The runtime is built as the addon builds its own (2 worker threads), so that the threads
//! counted are the ones the gateway would carry.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, Host, StateDir};
use serde_json::{Map, Value, json};

use crate::openim::Sim;

type Error = Box<dyn std::error::Error>;

/// How long the accounts may take to connect before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(120);

/// The addon's runtime (`plugin-host`'s `WORKER_THREADS`).
const WORKER_THREADS: usize = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ready line `imsim --openim` printed, or a file holding it.
    #[arg(long)]
    ready: String,
    /// Accounts to run in this process.
    #[arg(long, default_value_t = 1)]
    accounts: usize,
    /// Account n logs in as the user `<bots>-<n>` (fresh ones per run: the simulator creates
    /// them).
    #[arg(long)]
    bots: String,
    /// The state directory of the accounts (their journals, seq marks and locks).
    #[arg(long)]
    state: PathBuf,
    /// How long the process idles once every account is connected, before its RSS is read.
    #[arg(long, default_value_t = 2_000)]
    settle_ms: u64,
}

pub fn run(args: &Args) -> Result<Value, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()?;
    runtime.block_on(accounts(args))
}

async fn accounts(args: &Args) -> Result<Value, Error> {
    if args.accounts == 0 {
        return Err("--accounts must be at least 1".into());
    }
    let sim = Sim::read(&args.ready)?;
    let ids: Vec<String> = (1..=args.accounts).map(|n| format!("a{n:03}")).collect();
    let users: Vec<String> = (1..=args.accounts)
        .map(|n| format!("{}-{n}", args.bots))
        .collect();
    let tokens = futures::future::try_join_all(users.iter().map(|user| sim.token(user))).await?;
    let mut accounts = Map::new();
    for (id, token) in ids.iter().zip(&tokens) {
        accounts.insert(
            id.clone(),
            json!({
                "token": token,
                "wsAddr": sim.ws,
                "apiAddr": sim.api,
            }),
        );
    }
    let section = json!({ "dmPolicy": "open", "allowFrom": ["*"], "accounts": accounts });
    // Its HTTP client keeps an idle connection for each token asked at once: not the accounts'.
    drop(sim);
    std::fs::create_dir_all(&args.state)?;
    let rss_before = Status::read()?;

    let started = Instant::now();
    let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(openim::OpenimChannel::new(
        &StateDir::new(&args.state),
    )));
    // The agent answers nothing: no message comes anyway.
    let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
    let cancel = CancellationToken::new();
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (channel, section, host, cancel, id) = (
                Arc::clone(&channel),
                section.clone(),
                Arc::clone(&host) as Arc<dyn Host>,
                cancel.clone(),
                id.clone(),
            );
            tokio::spawn(async move { channel.run(&section, &id, host, cancel).await })
        })
        .collect();
    let up = host
        .wait_for(LIMIT, |h| ids.iter().all(|id| h.is_connected(id)))
        .await;
    let connect_seconds = started.elapsed().as_secs_f64();
    if !up {
        let down = ids.iter().filter(|id| !host.is_connected(id)).count();
        cancel.cancel();
        return Err(format!("{down} of {} accounts did not connect", ids.len()).into());
    }

    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let idle = Status::read()?;
    let still_up = ids.iter().filter(|id| host.is_connected(id)).count();

    cancel.cancel();
    for task in tasks {
        task.await??;
    }
    Ok(json!({
        "bench": "accounts",
        "side": "ours",
        "accounts": args.accounts,
        "connected": still_up,
        "connectSeconds": connect_seconds,
        "rssBytes": idle.rss,
        "rssAnonBytes": idle.anon,
        "rssFileBytes": idle.file,
        "rssBeforeBytes": rss_before.rss,
        "threads": idle.threads,
    }))
}

/// What `/proc/self/status` says of this process's memory.
struct Status {
    rss: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

impl Status {
    fn read() -> Result<Self, Error> {
        let text = std::fs::read_to_string("/proc/self/status")?;
        let field = |name: &str| -> Result<u64, Error> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .ok_or_else(|| format!("/proc/self/status has no {name}").into())
        };
        Ok(Self {
            rss: field("VmRSS")? * 1024,
            anon: field("RssAnon")? * 1024,
            file: field("RssFile")? * 1024,
            threads: field("Threads")?,
        })
    }
}
