//! `cargo xtask chaos`: the fault suite at two levels, with its tables and
//! `target/chaos/report.json`:
//!
//! - the channel level (`imchaos`, crate `chaos/`): each channel's account under the standalone
//!   host, in a child process SIGKILLed and restarted, against its simulator's faults;
//! - the gateway level ([`crate::chaos_gateway`]): the packaged plugin in the real OpenClaw
//!   gateway, SIGKILLed and restarted while messages flow.
//!
//! `imchaos` is built in the debug profile: CI's `cargo test` has already built every
//! dependency that way, so the build costs one crate, and a run is bound by fsyncs and by the
//! faults' own waits rather than by CPU.

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::{Result, root, target_dir};

/// Every channel, in the order they run.
pub const CHANNELS: [&str; 3] = ["openim", "weixin", "yunxin"];

/// (inbound, peers, outbound, kills)
const FULL: (usize, usize, usize, usize) = (10_000, 50, 1_000, 5);
const QUICK: (usize, usize, usize, usize) = (300, 10, 30, 2);

/// Which levels a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    Channel,
    Gateway,
    Both,
}

pub fn run(quick: bool, seed: u64, channel: Option<String>, level: Level) -> Result {
    let channels: Vec<&str> = match channel.as_deref() {
        Some(one) if CHANNELS.contains(&one) => vec![one],
        Some(other) => {
            return Err(format!("unknown channel {other:?}; one of {CHANNELS:?}").into());
        }
        None => CHANNELS.to_vec(),
    };
    let out = root().join("target/chaos");
    std::fs::create_dir_all(&out)?;
    let mut report = json!({"quick": quick, "seed": seed});
    let mut failed = Vec::new();
    if level != Level::Gateway {
        let (runs, failures) = channel_level(quick, seed, &channels)?;
        report["channel"] = Value::Array(runs);
        failed.extend(failures);
    }
    if level != Level::Channel {
        let plan = if quick {
            crate::chaos_gateway::Plan::QUICK
        } else {
            crate::chaos_gateway::Plan::FULL
        };
        let figures = crate::chaos_gateway::run(
            &out.join("gateway"),
            crate::chaos_gateway::Plan { seed, ..plan },
            &channels,
        )?;
        println!("{}", crate::chaos_gateway::table(&figures));
        failed.extend(figures.iter().filter(|f| !f.held()).map(|f| {
            format!(
                "gateway {}: lost {}, replies twice {}, out of order {}",
                f.channel, f.lost, f.replies_twice, f.out_of_order
            )
        }));
        report["gateway"] = serde_json::to_value(&figures)?;
    }
    let file = out.join("report.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&report)?)?;
    println!("chaos report: {}", file.display());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("chaos: {}", failed.join("; ")).into())
    }
}

/// Runs `imchaos` for each channel; the reports and what failed.
fn channel_level(quick: bool, seed: u64, channels: &[&str]) -> Result<(Vec<Value>, Vec<String>)> {
    let sh = Shell::new()?;
    sh.change_dir(root());
    cmd!(sh, "cargo build -p imbridge-chaos --bin imchaos").run()?;
    let exe = target_dir().join("debug").join("imchaos");
    let out = root().join("target/chaos");
    let (inbound, peers, outbound, kills) = if quick { QUICK } else { FULL };
    let (inbound, peers, outbound, kills, seed_arg) = (
        inbound.to_string(),
        peers.to_string(),
        outbound.to_string(),
        kills.to_string(),
        seed.to_string(),
    );
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for &channel in channels {
        let file = out.join(format!("{channel}.json"));
        if file.exists() {
            std::fs::remove_file(&file)?;
        }
        // A run that fails still writes its report; the figures decide below.
        let status = cmd!(
            sh,
            "{exe} run --channel {channel} --seed {seed_arg} --inbound {inbound} --peers {peers} --outbound {outbound} --kills {kills} --out {file}"
        )
        .ignore_status()
        .output()?;
        print!("{}", String::from_utf8_lossy(&status.stdout));
        eprint!("{}", String::from_utf8_lossy(&status.stderr));
        let report: Value = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(err) => {
                failed.push(format!("{channel}: no report ({err})"));
                continue;
            }
        };
        if let Some(failures) = report["failures"].as_array()
            && !failures.is_empty()
        {
            failed.push(format!("{channel}: {}", Value::Array(failures.clone())));
        } else if !status.status.success() {
            failed.push(format!("{channel}: imchaos exited with {}", status.status));
        }
        runs.push(report);
    }
    Ok((runs, failed))
}
