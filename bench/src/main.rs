//! `imbench`: the measuring side of `cargo xtask bench`. Each subcommand runs one path of ours
//! under load and prints its figures as one JSON object on stdout; xtask runs it beside the
//! reference client of the same benchmark and prints the ratios.
//!
//! ```text
//! imbench journal --entries 20000 --messages 2000 --dir target/bench/scratch
//! imbench openim-live --ready ready.json --bot b1 --senders s01,s02 --state target/bench/b1
//! imbench weixin-channel --ready ready.json --messages 10000 --peers 20 --state target/bench/w1
//! ```
//!
//! Built in release mode by xtask: debug figures mean nothing. Scratch files go under `--dir`
//! (real disk, so that fsync costs what it costs) and are removed on the way out.

mod accounts;
mod cpu;
mod journal;
mod openim;
mod weixin;
mod yunxin_pipeline;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "imbench", about = "imbridge's side of `cargo xtask bench`")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Dedup journal: accept then finish `--messages` turns on a journal that already holds
    /// `--entries` finished ones.
    Journal(journal::Args),
    /// OpenIM live inbound: messages pushed while the account is connected.
    OpenimLive(openim::Args),
    /// OpenIM catch-up: messages stored while the account was down, read at its start.
    OpenimCatchup(openim::Args),
    /// Yunxin without the bridge: the channel on its scripted transport, in Rust.
    YunxinPipeline(yunxin_pipeline::Args),
    /// OpenIM accounts in one process: time to connected, then idle RSS.
    Accounts(accounts::Args),
    /// WeChat long poll: a burst read in `getupdates` batches by a connected account.
    WeixinChannel(weixin::Args),
}

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    // Warnings only by default: logging is part of what is measured.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let figures = match cli.command {
        Command::Journal(args) => journal::run(&args),
        Command::Accounts(args) => accounts::run(&args),
        Command::OpenimLive(args) => runtime().and_then(|rt| rt.block_on(openim::live(&args))),
        Command::OpenimCatchup(args) => {
            runtime().and_then(|rt| rt.block_on(openim::catch_up(&args)))
        }
        Command::YunxinPipeline(args) => {
            runtime().and_then(|rt| rt.block_on(yunxin_pipeline::run(&args)))
        }
        Command::WeixinChannel(args) => runtime().and_then(|rt| rt.block_on(weixin::run(&args))),
    };
    match figures {
        Ok(figures) => {
            println!("{figures}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("imbench: {err}");
            ExitCode::FAILURE
        }
    }
}
