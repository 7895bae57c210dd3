//! `accounts-rss` and `startup`: many OpenIM accounts in one process, ours against the SDK.
//!
//! Ours is one `imbench accounts` process running N accounts (one channel, one runtime of 2
//! workers as in the addon, one standalone host); the reference is N `@openim/client-sdk`
//! 0.0.14 instances in one Node 24 process (`xtask/bench/accounts-sdk.mjs`). Each account is a
//! user of its own on one `imsim --openim`. Both sides report how long their accounts took from
//! their start until every one was connected and caught up, and their RSS after 2 s of idling;
//! the two benchmarks share those runs. `startup` also times loading our napi addon in Node
//! against importing the SDK (`xtask/bench/load.mjs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use super::{RUNS, Row, Target, imbench, median, node_json, pick};
use crate::fidelity::openim::{Sim, ensure_sdk};
use crate::package::{ALL_CHANNELS, library_name, platform_suffix};
use crate::{Result, root, target_dir, toolchain};

const SDK: &str = "@openim/client-sdk 0.0.14";
/// How long each side idles with its accounts connected before its RSS is read.
const SETTLE_MS: u64 = 2_000;
/// Loads are quick and noisy: more runs of them than of the rest.
const LOAD_RUNS: usize = 3 * RUNS;

pub(super) struct Accounts {
    sim: Sim,
    ready: PathBuf,
    node: PathBuf,
    sdk: PathBuf,
    /// The smaller and the larger count of accounts.
    sizes: [usize; 2],
    runs: usize,
    /// Runs of each side by count of accounts, made once for both benchmarks.
    measured: BTreeMap<usize, Sides>,
    /// Users are fresh per run and side: an account's first sync reads no history, and no run
    /// finds another's seq marks.
    next_run: usize,
}

#[derive(Default)]
struct Sides {
    ours: Vec<Value>,
    sdk: Vec<Value>,
}

impl Accounts {
    pub(super) fn start(imsim: &Path, out: &Path, quick: bool) -> Result<Self> {
        let node = toolchain::ensure_node()?;
        let sdk = ensure_sdk(&node)?;
        let dir = out.join("accounts");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let sim = Sim::launch(imsim, &["--openim"], "warn", &dir)?;
        let ready = dir.join("ready.json");
        fs::write(&ready, &sim.ready)?;
        Ok(Self {
            sim,
            ready,
            node: node.join("node"),
            sdk,
            sizes: if quick { [1, 5] } else { [1, 50] },
            runs: if quick { 1 } else { RUNS },
            measured: BTreeMap::new(),
            next_run: 0,
        })
    }

    fn bots(&mut self, side: &str, accounts: usize) -> String {
        self.next_run += 1;
        format!(
            "bench-{side}{accounts}-{}-{}",
            std::process::id(),
            self.next_run
        )
    }

    /// Both sides with each count of accounts, interleaved, `runs` times (once per xtask run).
    fn measure(&mut self, exe: &Path, scratch: &Path) -> Result<()> {
        if !self.measured.is_empty() {
            return Ok(());
        }
        let [small, large] = self.sizes;
        eprintln!(
            "bench: {small} and {large} OpenIM accounts in one process, ours and the SDK's, {} runs",
            self.runs
        );
        for _ in 0..self.runs {
            for accounts in self.sizes {
                let bots = self.bots("ours", accounts);
                let state = scratch.join(&bots);
                let ours = imbench(
                    exe,
                    &[
                        "accounts".into(),
                        format!("--ready={}", self.ready.display()),
                        format!("--accounts={accounts}"),
                        format!("--bots={bots}"),
                        format!("--state={}", state.display()),
                        format!("--settle-ms={SETTLE_MS}"),
                    ],
                )?;
                let _ = fs::remove_dir_all(&state);
                let bots = self.bots("sdk", accounts);
                let script = root().join("xtask/bench/accounts-sdk.mjs");
                let sdk = node_json(
                    &self.node,
                    &[
                        script.display().to_string(),
                        self.sdk.display().to_string(),
                        self.ready.display().to_string(),
                        bots,
                        accounts.to_string(),
                        SETTLE_MS.to_string(),
                    ],
                )?;
                for (side, figures) in [("ours", &ours), ("sdk", &sdk)] {
                    if figures["accounts"].as_u64() != Some(accounts as u64) {
                        return Err(format!(
                            "{side} ran other than {accounts} accounts: {figures}"
                        )
                        .into());
                    }
                }
                let sides = self.measured.entry(accounts).or_default();
                sides.ours.push(ours);
                sides.sdk.push(sdk);
            }
        }
        Ok(())
    }

    fn sides(&self, accounts: usize) -> &Sides {
        &self.measured[&accounts]
    }

    fn raw(&self) -> Value {
        self.measured
            .iter()
            .map(|(accounts, sides)| {
                (
                    accounts.to_string(),
                    json!({ "ours": sides.ours, "sdk": sides.sdk }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    pub(super) fn rss(&mut self, exe: &Path, scratch: &Path) -> Result<(Vec<Row>, Value)> {
        self.measure(exe, scratch)?;
        let [small, large] = self.sizes;
        let mb = |runs: &[Value]| pick(runs, "rssBytes").map(|bytes| bytes / 1e6);
        let anon_mb = |runs: &[Value]| pick(runs, "rssAnonBytes").map(|bytes| bytes / 1e6);
        // Per extra account within each run (the two counts ran side by side), then the median.
        let per_extra = |side: fn(&Sides) -> &Vec<Value>| -> Result<f64> {
            let (one, many) = (side(self.sides(small)), side(self.sides(large)));
            let each = one
                .iter()
                .zip(many)
                .map(|(one, many)| {
                    let bytes = |figures: &Value| {
                        figures["rssBytes"]
                            .as_f64()
                            .ok_or_else(|| format!("no rssBytes among {figures}"))
                    };
                    Ok((bytes(many)? - bytes(one)?) / (large - small) as f64 / 1e3)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(median(each))
        };
        let against = SDK.to_owned();
        let rows = vec![
            Row {
                bench: "accounts-rss",
                figure: format!("RSS MB, {small} account idle"),
                ours: mb(&self.sides(small).ours)?,
                reference: mb(&self.sides(small).sdk)?,
                against: against.clone(),
                target: Target::AtMost(1.0 / 16.0),
            },
            Row {
                bench: "accounts-rss",
                figure: format!("of which private (not code) MB, {small} account"),
                ours: anon_mb(&self.sides(small).ours)?,
                reference: anon_mb(&self.sides(small).sdk)?,
                against: against.clone(),
                target: Target::None,
            },
            Row {
                bench: "accounts-rss",
                figure: format!("RSS MB, {large} accounts idle"),
                ours: mb(&self.sides(large).ours)?,
                reference: mb(&self.sides(large).sdk)?,
                against: against.clone(),
                target: Target::None,
            },
            Row {
                bench: "accounts-rss",
                figure: format!("kB per extra account ({small} -> {large})"),
                ours: per_extra(|s| &s.ours)?,
                reference: per_extra(|s| &s.sdk)?,
                against,
                target: Target::AtMost(0.1),
            },
        ];
        Ok((rows, self.raw()))
    }

    pub(super) fn startup(
        &mut self,
        exe: &Path,
        scratch: &Path,
        quick: bool,
    ) -> Result<(Vec<Row>, Value)> {
        let addon = build_addon(scratch, quick)?;
        let loads = if quick { 3 } else { LOAD_RUNS };
        eprintln!("bench: startup, loading the addon and the SDK in Node 24, {loads} runs each");
        let script = root().join("xtask/bench/load.mjs").display().to_string();
        let (mut ours, mut sdk) = (Vec::new(), Vec::new());
        for _ in 0..loads {
            ours.push(node_json(
                &self.node,
                &[script.clone(), "addon".into(), addon.display().to_string()],
            )?);
            sdk.push(node_json(
                &self.node,
                &[script.clone(), "sdk".into(), self.sdk.display().to_string()],
            )?);
        }
        self.measure(exe, scratch)?;
        let ms = |runs: &[Value], key: &str| pick(runs, key).map(|seconds| seconds * 1e3);
        let mut rows = vec![Row {
            bench: "startup",
            figure: "ms to load in Node: addon require / SDK import".into(),
            ours: ms(&ours, "loadSeconds")?,
            reference: ms(&sdk, "loadSeconds")?,
            against: SDK.into(),
            target: Target::None,
        }];
        for accounts in self.sizes {
            let sides = self.sides(accounts);
            rows.push(Row {
                bench: "startup",
                figure: format!("ms from start to {accounts} connected and synced"),
                ours: ms(&sides.ours, "connectSeconds")?,
                reference: ms(&sides.sdk, "connectSeconds")?,
                against: SDK.into(),
                target: Target::None,
            });
        }
        let figures = json!({ "load": { "ours": ours, "sdk": sdk }, "accounts": self.raw() });
        Ok((rows, figures))
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        self.sim.stop();
    }
}

/// The addon as it is packaged (every channel; in `--quick`, CI's debug build), copied under
/// the name `js/lib/native.js` requires.
fn build_addon(scratch: &Path, quick: bool) -> Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(root());
    if quick {
        // The debug addon CI has built already (`--all-features`): quick figures are not
        // asserted, and another feature set would compile the addon once more.
        cmd!(sh, "cargo build -p plugin-host --all-features").run()?;
    } else {
        let features = ALL_CHANNELS.join(",");
        cmd!(
            sh,
            "cargo build -p plugin-host --release --features {features}"
        )
        .run()?;
    }
    let built = target_dir()
        .join(if quick { "debug" } else { "release" })
        .join(library_name());
    let addon = scratch.join(format!("imbridge.{}.node", platform_suffix()));
    fs::copy(&built, &addon).map_err(|e| format!("{}: {e}", built.display()))?;
    Ok(addon)
}
