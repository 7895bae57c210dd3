//! Project automation. `cargo xtask <command>`:
//!
//! * `package`: build the addon in release mode (linked for glibc 2.17 through zig) and write
//!   `dist/imbridge/` (package.json, a generated `openclaw.plugin.json`, the JS entry) and
//!   `dist/imbridge-<platform>/` (the `.node` file), each with its `npm pack` archive;
//!   `--features weixin` packages one channel as the plugin it replaces.
//! * `e2e`: install Node 24 and openclaw (cached under `target/`), package, and drive the real
//!   gateway through the simulators.
//! * `fidelity`: official clients against our simulators, to prove the simulators right:
//!   Tencent's own weixin plugin in the real gateway against the iLink simulator (a text round trip
//!   must work), and `@openim/client-sdk` under Node against the OpenIM simulator (login, receive,
//!   send, catch-up after a drop, kick). `--only weixin|openim` runs one.
//! * `sandbox`: WeChat, OpenIM and Yunxin simulated in one real gateway, left running for a
//!   person to try: it prints the commands that play a user (the e2e runs them as printed) and
//!   a live transcript; `--only weixin|openim|yunxin` narrows it.
//! * `chaos`: seeded faults, SIGKILLs and restarts, with figures, at two levels: each channel's
//!   account over its simulator (`imchaos`), and the packaged plugin in the real gateway;
//!   `--quick` is the small schedule CI runs, `--level` picks one level.
//! * `ci`: the docs check, fmt, clippy, every test, the quick chaos runs, the addon's JS checks, e2e,
//!   fidelity and the quick benchmarks.
//! * `bench`: our paths measured beside the reference clients in one run, as ratios; a table
//!   and `target/bench/report.json`. `--quick` runs small sizes (CI).
//! * `docs`: the config reference in `docs/channels/<id>.md`, generated from each channel's
//!   schema; `--check` fails naming a stale file instead of rewriting it.
//! * `fuzz`: every libFuzzer target of `fuzz/libfuzzer/` for `--seconds` each (nightly,
//!   cargo-fuzz cached under `target/tools/`); a table, `target/fuzz/report.json`, and each
//!   crash kept in `fuzz/regressions/` for the stable corpus replay.

mod bench;
mod chaos;
mod chaos_gateway;
mod ci;
mod docs;
mod e2e;
mod e2e_dropin;
mod e2e_openim;
mod e2e_yunxin;
mod fidelity;
mod fuzz;
mod gateway;
mod package;
mod registry;
mod sandbox;
mod toolchain;
mod voice;
mod zigbuild;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "imbridge project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the plugin and its platform package into dist/.
    Package {
        /// Cargo features (channels) to link; default: every channel.
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// Debug build (faster to compile, slower to run).
        #[arg(long)]
        debug: bool,
    },
    /// Run the end-to-end suite against the real OpenClaw gateway.
    E2e {
        /// Keep the scratch state directory for inspection.
        #[arg(long)]
        keep: bool,
        /// Run only this network's steps, or only the drop-in part (all run by default).
        #[arg(long, value_enum)]
        only: Option<e2e::Only>,
    },
    /// Check the simulators against official clients (Tencent's weixin plugin in the real
    /// gateway, `@openim/client-sdk` under Node).
    Fidelity {
        /// Keep the scratch state directory for inspection.
        #[arg(long)]
        keep: bool,
        /// Run only this client's check.
        #[arg(long, value_enum)]
        only: Option<fidelity::Client>,
    },
    /// Run WeChat, OpenIM and Yunxin offline in one real gateway and leave it running; prints
    /// the commands that play a user and a live transcript.
    Sandbox {
        /// Only this network.
        #[arg(long, value_enum)]
        only: Option<e2e::Part>,
    },
    /// Seeded fault schedules over the simulators, per channel: lost, duplicated, out of
    /// order, replies sent twice; writes target/chaos/report.json.
    Chaos {
        /// The small schedule (300 inbound, 10 peers, 30 outbound, 2 kills) instead of the full
        /// one (10,000 inbound, 50 peers, 1,000 outbound, 5 kills).
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One channel only: openim, weixin or yunxin.
        #[arg(long)]
        channel: Option<String>,
        /// The channel level (standalone host, child process), the gateway level (the real
        /// OpenClaw gateway), or both.
        #[arg(long, value_enum, default_value = "both")]
        level: chaos::Level,
    },
    /// Everything CI checks.
    Ci,
    /// Measure our paths beside the reference clients; a table of ratios and
    /// target/bench/report.json.
    Bench {
        /// Small sizes, one run: keeps the benchmarks working (CI); the figures prove nothing.
        #[arg(long)]
        quick: bool,
        /// Run only this benchmark.
        #[arg(long)]
        only: Option<String>,
    },
    /// Regenerate the config reference in docs/channels/<id>.md from the channels' schemas.
    Docs {
        /// Change nothing; fail, naming the file, when a generated block is stale.
        #[arg(long)]
        check: bool,
    },
    /// Run the fuzz targets (libFuzzer, nightly) and report executions and crashes.
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Run only this target (a name in fuzz/libfuzzer/fuzz_targets/).
        #[arg(long)]
        target: Option<String>,
    },
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// An HTTPS client for the package registries (PyPI, npm). reqwest is built without a default
/// TLS provider; another one installed first is as good.
pub fn registry_client() -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()?)
}

/// Cargo's build directory: `CARGO_TARGET_DIR` when set (relative to the root when relative),
/// else `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// OpenClaw's fixed temp dir: the gateways a command starts create it whatever their config
/// says. Removed when the command ends if the command created it and nothing is left in it (its
/// files are moved into the run's own directory by whoever knows them).
struct HostTmpDir {
    created_here: bool,
}

/// Where OpenClaw, and Tencent's plugin through it, put temp files and logs.
pub const OPENCLAW_TMP: &str = "/tmp/openclaw";

impl HostTmpDir {
    fn watch() -> Self {
        Self {
            created_here: !std::path::Path::new(OPENCLAW_TMP).exists(),
        }
    }
}

impl Drop for HostTmpDir {
    fn drop(&mut self) {
        if self.created_here {
            // Fails, and so keeps it, when anything is left in it.
            let _ = std::fs::remove_dir(OPENCLAW_TMP);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _tmp = HostTmpDir::watch();
    let result = match cli.command {
        Command::Package { features, debug } => package::run(features, !debug).map(|packaged| {
            println!("packaged {}", packaged.dir.display());
            println!("packed {}", packaged.tarball.display());
            println!("packed {}", packaged.platform.tarball.display());
        }),
        Command::E2e { keep, only } => e2e::run(keep, only),
        Command::Fidelity { keep, only } => fidelity::run(keep, only),
        Command::Sandbox { only } => sandbox::run(only),
        Command::Chaos {
            quick,
            seed,
            channel,
            level,
        } => chaos::run(quick, seed, channel, level),
        Command::Ci => ci::run(),
        Command::Bench { quick, only } => bench::run(quick, only),
        Command::Docs { check } => docs::run(check),
        Command::Fuzz { seconds, target } => fuzz::run(seconds, target),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}
