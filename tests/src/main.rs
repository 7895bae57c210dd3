//! `imsim`: runs the iLink simulator and the mock model on loopback until SIGINT/SIGTERM.
//!
//! Prints one JSON line to stdout once both listen:
//! `{"ilink":"http://127.0.0.1:P/","cdn":"http://127.0.0.1:C/c2c","qr_redirect":"127.0.0.1:R",
//! "model":"http://127.0.0.1:Q/v1","bots":[{bot_id,token,owner}]}`; with `--openim` /
//! `--openim-servers N` also `"openim":[{ws,api,admin,secret,admin_token,users:[{userID,platformID,token}]}]`;
//! with `--nim` also `"nim":{"base","appKey","appSecret","accounts":[{accid,token}]}` (REST only:
//! the webhook pusher is driven from Rust).
//! Logs go to stderr (`RUST_LOG` overrides the default `info`).

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use clap::Parser;
use imsim::ilink::{IlinkOptions, IlinkSim};
use imsim::model::MockModel;
use imsim::nim::{NimOptions, NimSim};
use imsim::openim::{OpenImOptions, OpenImSim};
use serde_json::json;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Loopback iLink simulator and mock OpenAI-compatible model"
)]
struct Args {
    /// Port of the iLink simulator (0 = any free port).
    #[arg(long, default_value_t = 0)]
    ilink_port: u16,
    /// Port of the mock model (0 = any free port).
    #[arg(long, default_value_t = 0)]
    model_port: u16,
    /// Number of bots to create.
    #[arg(long, default_value_t = 1)]
    bots: usize,
    /// Redeliver every message once, this many ms after its first delivery (at-least-once).
    #[arg(long)]
    redeliver_after_ms: Option<u64>,
    /// Longest hold of an empty getupdates, in ms.
    #[arg(long, default_value_t = 30_000)]
    hold_ms: u64,
    /// Most messages one getupdates answer carries (default: all that wait).
    #[arg(long)]
    getupdates_batch: Option<usize>,
    /// Port of the simulated CDN (0 = any free port).
    #[arg(long, default_value_t = 0)]
    cdn_port: u16,
    /// Longest hold of a get_qrcode_status poll with nothing new to say, in ms.
    #[arg(long, default_value_t = 30_000)]
    qr_hold_ms: u64,
    /// Also start an OpenIM simulator (same as `--openim-servers 1` when that is 0).
    #[arg(long)]
    openim: bool,
    /// Number of OpenIM simulators to start (each: a WS gateway and a REST listener).
    #[arg(long, default_value_t = 0)]
    openim_servers: usize,
    /// Users created on every OpenIM simulator, each with a token for `--openim-platform`.
    #[arg(long, value_delimiter = ',', default_value = "bot1,alice")]
    openim_users: Vec<String>,
    /// Platform id of the tokens handed out in the ready line (7 = Linux).
    #[arg(long, default_value_t = 7)]
    openim_platform: i32,
    /// Frames queued per OpenIM connection before the server drops it (the real server's 256
    /// by default). A benchmark that stores thousands of messages at once raises it, or the
    /// burst itself drops every reader.
    #[arg(long)]
    openim_write_queue: Option<usize>,
    /// Also start a NetEase NIM server-API simulator.
    #[arg(long)]
    nim: bool,
    /// Port of the NIM simulator (0 = any free port).
    #[arg(long, default_value_t = 0)]
    nim_port: u16,
    /// Accounts created on the NIM simulator, each with a random token.
    #[arg(long, value_delimiter = ',', default_value = "bot1,alice")]
    nim_accounts: Vec<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let ilink = IlinkSim::start(IlinkOptions {
        port: args.ilink_port,
        hold: Duration::from_millis(args.hold_ms),
        redeliver_after: args.redeliver_after_ms.map(Duration::from_millis),
        cdn_port: args.cdn_port,
        qr_hold: Duration::from_millis(args.qr_hold_ms),
        batch: args.getupdates_batch,
        ..IlinkOptions::default()
    })
    .await?;
    let model = MockModel::start(args.model_port).await?;
    let bots: Vec<_> = (0..args.bots)
        .map(|_| {
            let bot = IlinkSim::new_bot();
            ilink.add_bot(bot.clone());
            bot
        })
        .collect();

    let openim_count = if args.openim {
        args.openim_servers.max(1)
    } else {
        args.openim_servers
    };
    let mut openim_sims = Vec::new();
    let mut openim_ready = Vec::new();
    for _ in 0..openim_count {
        let defaults = OpenImOptions::default();
        let sim = OpenImSim::start(OpenImOptions {
            write_queue: args.openim_write_queue.unwrap_or(defaults.write_queue),
            ..defaults
        })
        .await?;
        let users: Vec<_> = args
            .openim_users
            .iter()
            .filter(|u| !u.is_empty())
            .map(|u| {
                sim.add_user(u);
                json!({
                    "userID": u,
                    "platformID": args.openim_platform,
                    "token": sim.issue_token(u, args.openim_platform),
                })
            })
            .collect();
        openim_ready.push(json!({
            "ws": sim.ws_url(),
            "api": sim.api_url(),
            "admin": format!("{}/_admin/", sim.api_url()),
            "secret": sim.secret(),
            "admin_token": sim.admin_token(),
            "users": users,
        }));
        openim_sims.push(sim);
    }

    let nim = if args.nim {
        let sim = NimSim::start(NimOptions {
            port: args.nim_port,
            ..NimOptions::default()
        })
        .await?;
        let accounts: Vec<_> = args
            .nim_accounts
            .iter()
            .filter(|a| !a.is_empty())
            .map(|accid| {
                let token = hex::encode(rand::random::<[u8; 16]>());
                sim.add_account(accid, &token);
                json!({ "accid": accid, "token": token })
            })
            .collect();
        let ready = json!({
            "base": sim.base_url(),
            "appKey": sim.app_key(),
            "appSecret": sim.app_secret(),
            "accounts": accounts,
        });
        Some((sim, ready))
    } else {
        None
    };

    let mut ready = json!({
        "ilink": ilink.base_url(),
        "cdn": ilink.cdn_base_url(),
        "qr_redirect": ilink.qr_redirect_host(),
        "model": model.base_url(),
        "bots": bots,
    });
    if openim_count > 0 {
        ready["openim"] = json!(openim_ready);
    }
    if let Some((_, nim_ready)) = &nim {
        ready["nim"] = nim_ready.clone();
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);

    shutdown_signal().await;
    drop(openim_sims);
    drop(nim);
    tracing::info!("shutting down");
    Ok(())
}

#[cfg(unix)]
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; waiting for SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
