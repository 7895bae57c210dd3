//! `imchaos`: seeded fault schedules over the in-repo simulators, run against one channel
//! account in a child process that is SIGKILLed and restarted on the same state directory, with
//! figures on what was lost, duplicated, reordered or sent twice.
//!
//! ```text
//! # the parent: simulator in-process, the account in a child, faults, kills, figures
//! imchaos run --channel openim --seed 7 --inbound 300 --peers 10 --outbound 30 --kills 2 \
//!     --out target/chaos/openim.json
//! # the child the parent spawns (also runnable by hand against a config the parent wrote)
//! imchaos account --channel openim --config run/config.json --state run/state --ledger run/ledger.jsonl
//! ```
//!
//! `cargo xtask chaos [--quick] [--seed N] [--channel C]` runs every channel and writes
//! `target/chaos/report.json`.
//!
//! Counting never trusts the child's own view of what it sent: replies and proactive messages
//! are counted from what the simulator stored as sent by the bot, turns from the ledger the
//! child's host appends (with fsync) before and after each agent run.

mod child;
mod figures;
mod ledger;
mod net;
mod parent;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T = ()> = std::result::Result<T, Error>;

/// Which network, and so which channel crate and simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Net {
    Openim,
    Weixin,
    Yunxin,
}

impl Net {
    pub fn name(self) -> &'static str {
        match self {
            Net::Openim => "openim",
            Net::Weixin => "weixin",
            Net::Yunxin => "yunxin",
        }
    }
}

#[derive(Parser)]
#[command(
    name = "imchaos",
    about = "Seeded fault schedules over the simulators, with figures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the simulator, run the account in a child, inject, break things, count.
    Run(parent::RunArgs),
    /// Run one account until SIGTERM (what `run` spawns).
    Account(child::AccountArgs),
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest is built without a TLS provider and refuses to build a client without one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("imchaos: no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run(args) => {
            init_logs("warn");
            runtime.block_on(parent::run(args))
        }
        Command::Account(args) => {
            // The child's stderr is a log file the parent keeps only with --keep.
            init_logs("info");
            runtime.block_on(child::run(args))
        }
    };
    // Held long polls and webhook listeners must not keep the process up after the work ended.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("imchaos: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Where the child's plan lives in its config file, beside `channels`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildPlan {
    pub account: String,
    /// What `openclaw message send --target` would take, one per peer.
    pub targets: Vec<String>,
    pub outbound: usize,
    /// Pause between two proactive messages, so they are spread over the inbound flow.
    pub outbound_every_ms: u64,
}

/// Exit code of a child whose account stopped because it needs a new login.
pub const EXIT_NEEDS_LOGIN: u8 = 3;

/// The paths the parent hands its child.
#[derive(Debug, Clone)]
pub struct ChildPaths {
    pub config: PathBuf,
    pub state: PathBuf,
    pub ledger: PathBuf,
}
