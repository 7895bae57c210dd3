//! `yunxin-bridge`: what transport `sdk` costs on top of NetEase's SDK. Three sides, each in a
//! process of its own:
//!
//! * ours: the addon and the plugin's JS entry running a `netease-yunxin` account in Node (SDK
//!   → `nim-sdk.mjs` → napi → channel → journal → gate → host turn, and sends back the same
//!   way);
//! * the SDK alone in plain Node, counting its `onReceiveMessages` and sending directly: the
//!   reference;
//! * the same channel without the bridge (`imbench yunxin-pipeline`: the scripted transport in
//!   Rust, the standalone host), whose cost ours pays as well.
//!
//! What the bridge adds per message is ours less the SDK less the pipeline. Ours and the SDK
//! read the same event source, the stand-in for the SDK's Node edition: NetEase's own SDK emits
//! a message only after decoding it from its link protocol, and nothing here speaks that
//! protocol (see `xtask/bench/yunxin-bridge.mjs`).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use super::{RUNS, Row, Target, pick};
use crate::{Result, root, target_dir, toolchain};

/// What the bridge may add per message, CPU µs, on top of the SDK's own cost (issue F3).
const ADDED_LIMIT_MICROS: f64 = 50.0;

/// The reference, as the table names it.
const AGAINST: &str = "SDK events, plain Node";

pub fn run(imbench: &Path, scratch: &Path, quick: bool) -> Result<(Vec<Row>, Value)> {
    let (inbound, outbound, runs) = if quick {
        (500, 50, 1)
    } else {
        (10_000, 1_000, RUNS)
    };
    let addon = build_addon(quick)?;
    let node = toolchain::ensure_node()?.join("node");
    eprintln!(
        "bench: yunxin-bridge, {inbound} inbound and {outbound} outbound through transport sdk, {runs} runs"
    );
    let (mut ours, mut sdk, mut rust) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..runs {
        // A fresh state directory per side: a journal that already holds the run's ids would
        // drop them as redeliveries.
        let state = |side: &str| scratch.join(format!("yunxin-{side}-{n}"));
        ours.push(side(
            &node,
            "ours",
            &addon,
            &state("ours"),
            inbound,
            outbound,
        )?);
        sdk.push(side(
            &node,
            "sdk",
            &addon,
            &state("sdk"),
            inbound,
            outbound,
        )?);
        rust.push(super::imbench(
            imbench,
            &[
                "yunxin-pipeline".into(),
                format!("--inbound={inbound}"),
                format!("--outbound={outbound}"),
                format!("--state={}", state("pipeline").display()),
            ],
        )?);
        for name in ["ours", "sdk", "pipeline"] {
            let _ = fs::remove_dir_all(state(name));
        }
    }
    let in_ours = pick(&ours, "inboundCpuMicrosPerMessage")?;
    let in_sdk = pick(&sdk, "inboundCpuMicrosPerMessage")?;
    // Less than every message would make the pipeline look cheaper than it is.
    if pick(&rust, "lost")? > 0.0 {
        return Err(format!("yunxin-pipeline lost messages: {rust:?}").into());
    }
    let in_rust = pick(&rust, "inboundCpuMicrosPerMessage")?;
    let out_ours = pick(&ours, "outboundCpuMicrosPerSend")?;
    let out_sdk = pick(&sdk, "outboundCpuMicrosPerSend")?;
    let out_rust = pick(&rust, "outboundCpuMicrosPerSend")?;
    let row = |figure: String, ours: f64, reference: f64, target: Target| Row {
        bench: "yunxin-bridge",
        figure,
        ours,
        reference,
        against: AGAINST.into(),
        target,
    };
    let rows = vec![
        row(
            format!("CPU µs per inbound message, {inbound}"),
            in_ours,
            in_sdk,
            Target::None,
        ),
        row(
            "  of which the channel without the bridge".into(),
            in_rust,
            in_sdk,
            Target::None,
        ),
        row(
            "CPU µs the bridge adds per inbound message".into(),
            in_ours - in_sdk - in_rust,
            in_sdk,
            Target::OursAtMost(ADDED_LIMIT_MICROS),
        ),
        row(
            format!("CPU µs per send, {outbound}"),
            out_ours,
            out_sdk,
            Target::None,
        ),
        row(
            "  of which the channel without the bridge".into(),
            out_rust,
            out_sdk,
            Target::None,
        ),
        row(
            "CPU µs the bridge adds per send".into(),
            out_ours - out_sdk - out_rust,
            out_sdk,
            Target::OursAtMost(ADDED_LIMIT_MICROS),
        ),
        row(
            "wall µs per inbound message (to the host's turn)".into(),
            pick(&ours, "inboundWallMicrosPerMessage")?,
            pick(&sdk, "inboundWallMicrosPerMessage")?,
            Target::None,
        ),
        row(
            "wall µs per send".into(),
            pick(&ours, "outboundWallMicrosPerSend")?,
            pick(&sdk, "outboundWallMicrosPerSend")?,
            Target::None,
        ),
        row(
            "messages lost".into(),
            pick(&ours, "lost")?,
            pick(&sdk, "lost")?,
            Target::OursAtMost(0.0),
        ),
    ];
    Ok((rows, json!({ "ours": ours, "sdk": sdk, "pipeline": rust })))
}

/// The addon with the yunxin channel: in `--quick`, the debug build CI's JS tests use (all
/// features, so nothing more is compiled); else a release build of the channel alone.
fn build_addon(quick: bool) -> Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(root());
    let profile = if quick {
        cmd!(sh, "cargo build -p plugin-host --all-features").run()?;
        "debug"
    } else {
        cmd!(sh, "cargo build --release -p plugin-host --features yunxin").run()?;
        "release"
    };
    Ok(target_dir()
        .join(profile)
        .join(crate::package::library_name()))
}

/// One run of one side; its figures. Every side must deliver and send all it was given.
fn side(
    node: &Path,
    side: &str,
    addon: &Path,
    state: &Path,
    inbound: usize,
    outbound: usize,
) -> Result<Value> {
    fs::create_dir_all(state)?;
    let js = root().join("crates/yunxin/js");
    let output = std::process::Command::new(node)
        .arg(root().join("xtask/bench/yunxin-bridge.mjs"))
        .arg(side)
        .arg(js.join("test/stub-sdk.mjs"))
        .arg(inbound.to_string())
        .arg(outbound.to_string())
        .env("IMBRIDGE_ADDON", addon)
        .env(
            "IMBRIDGE_ENTRY",
            root().join("crates/plugin-host/js/index.js"),
        )
        .env("IMBRIDGE_TRANSPORTS_DIR", &js)
        .env("OPENCLAW_STATE_DIR", state)
        .current_dir(root())
        // The stub's cross-process hooks stay off: no journal file, no inbox polling.
        .env_remove("IMBRIDGE_NIM_STUB_SCRIPT")
        .env_remove("IMBRIDGE_NIM_STUB_SENT")
        .env_remove("IMBRIDGE_NIM_STUB_INBOX")
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "yunxin-bridge {side}: {}",
            crate::gateway::tail(&String::from_utf8_lossy(&output.stderr), 20)
        )
        .into());
    }
    // The figures are the last line: nothing else may print, but a stray line must not hide them.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    if figures["sent"].as_u64() != Some(outbound as u64) {
        return Err(format!("yunxin-bridge {side}: not every send went out: {figures}").into());
    }
    Ok(figures)
}
