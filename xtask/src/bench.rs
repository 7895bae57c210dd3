//! `cargo xtask bench`: our paths measured beside a reference in one run, since on these noisy
//! machines only a ratio of two figures taken side by side means something. Prints one table
//! (figure, ours, reference, ratio, target) and writes `target/bench/report.json`.
//!
//! The measuring happens in `imbench` (crate `bench/`), built in release mode; each benchmark
//! runs its sides interleaved, `RUNS` times, and keeps the median of each.
//!
//! * `journal`: the dedup journal's cost per message (accepted, then finished) at 20,000
//!   entries against 2,000: a journal must not slow down as it fills; and its throughput with
//!   group commit (batches of 100, one fsync each) against one fsync per message.
//! * `openim-live`: 10,000 DMs from 20 senders pushed to a connected account, first injection to
//!   last message at the host: ours (full path, real disk) against `@openim/client-sdk` 0.0.14
//!   under Node 24 (`OnRecvNewMessages`), and a raw reader that counts frames (the limit).
//! * `openim-catchup`: 10,000 stored across 20 conversations while the account was down, from
//!   its start to the last message: ours against the SDK, and how many each delivers.
//! * `yunxin-bridge`: CPU per message of 10,000 inbound and per send of 1,000 outbound through
//!   transport `sdk` (the JS module, napi, the channel, the journal, the host) against the
//!   SDK's own events counted in plain Node, and what the bridge adds to each.
//! * `accounts-rss`: idle RSS of one process with 1 and with 50 connected OpenIM accounts, and
//!   the cost of each extra one, against as many SDK instances in one Node process.
//! * `startup`: loading our addon in Node against importing the SDK, and the time from the start
//!   of 1 and of 50 accounts until all are connected, against the SDK's logins.
//! * `weixin-channel`, `weixin-gateway`: the WeChat long poll alone, and inside the real
//!   gateway against Tencent's plugin (see [`weixin`]).
//!
//! `--quick` runs small sizes once, to keep the code working in CI; its figures are not
//! asserted.

mod accounts;
mod weixin;
mod yunxin_bridge;

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::fidelity::openim::{Sim, ensure_sdk};
use crate::{Result, root, target_dir, toolchain};

/// Runs per side of a benchmark in a full run; the median is reported.
const RUNS: usize = 3;

/// One line of the table.
struct Row {
    bench: &'static str,
    figure: String,
    ours: f64,
    reference: f64,
    /// What the reference is ("2,000 entries", "@openim/client-sdk 0.0.14").
    against: String,
    /// The ratio that meets the target, with the direction that counts.
    target: Target,
}

#[derive(Clone, Copy)]
enum Target {
    /// ours / reference at most this.
    AtMost(f64),
    /// ours / reference at least this.
    AtLeast(f64),
    /// ours itself at most this, whatever the reference does.
    OursAtMost(f64),
    /// No target: a figure that explains the others.
    None,
}

impl Target {
    fn label(self) -> String {
        match self {
            Target::AtMost(limit) => format!("<= {limit}x"),
            Target::AtLeast(limit) => format!(">= {limit}x"),
            Target::OursAtMost(limit) => format!("ours <= {limit}"),
            Target::None => String::new(),
        }
    }
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours / self.reference
    }

    fn met(&self) -> bool {
        match self.target {
            Target::AtMost(limit) => self.ratio() <= limit,
            Target::AtLeast(limit) => self.ratio() >= limit,
            Target::OursAtMost(limit) => self.ours <= limit,
            Target::None => true,
        }
    }

    fn json(&self) -> Value {
        json!({
            "bench": self.bench,
            "figure": self.figure,
            "ours": self.ours,
            "reference": self.reference,
            "against": self.against,
            "ratio": self.ratio(),
            "target": self.target.label(),
            "met": self.met(),
        })
    }
}

/// The benchmarks, in the order they run.
const NAMES: [&str; 8] = [
    "journal",
    "openim-live",
    "openim-catchup",
    "weixin-channel",
    "weixin-gateway",
    "yunxin-bridge",
    "accounts-rss",
    "startup",
];

pub fn run(quick: bool, only: Option<String>) -> Result {
    if let Some(name) = &only
        && !NAMES.contains(&name.as_str())
    {
        return Err(format!("no benchmark named {name:?}; one of: {}", NAMES.join(", ")).into());
    }
    let sh = Shell::new()?;
    sh.change_dir(root());
    // --quick only keeps the code working: the debug builds CI has already made do.
    let profile = if quick {
        cmd!(
            sh,
            "cargo build -p imbridge-bench --bin imbench -p imsim --bin imsim"
        )
        .run()?;
        "debug"
    } else {
        cmd!(
            sh,
            "cargo build --release -p imbridge-bench --bin imbench -p imsim --bin imsim"
        )
        .run()?;
        "release"
    };
    let exe = target_dir().join(profile).join("imbench");
    let imsim = target_dir().join(profile).join("imsim");
    let out = target_dir().join("bench");
    let scratch = out.join("scratch");
    // A state directory left by an interrupted run would hold seq marks of another simulator.
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let mut rows = Vec::new();
    let mut raw = serde_json::Map::new();
    if wanted("journal") {
        let (journal_rows, figures) = journal(&exe, &scratch, quick)?;
        rows.extend(journal_rows);
        raw.insert("journal".into(), figures);
    }
    if wanted("openim-live") || wanted("openim-catchup") {
        let mut openim = OpenIm::start(&imsim, &out, quick)?;
        for (name, live) in [("openim-live", true), ("openim-catchup", false)] {
            if wanted(name) {
                let (openim_rows, figures) = openim.bench(&exe, &scratch, live)?;
                rows.extend(openim_rows);
                raw.insert(name.into(), figures);
            }
        }
    }
    if wanted("weixin-channel") {
        let (weixin_rows, figures) = weixin::channel(&exe, &imsim, &out, &scratch, quick)?;
        rows.extend(weixin_rows);
        raw.insert("weixin-channel".into(), figures);
    }
    if wanted("weixin-gateway") {
        let (weixin_rows, figures) = weixin::gateway(&out, quick)?;
        rows.extend(weixin_rows);
        raw.insert("weixin-gateway".into(), figures);
    }
    if wanted("yunxin-bridge") {
        let (yunxin_rows, figures) = yunxin_bridge::run(&exe, &scratch, quick)?;
        rows.extend(yunxin_rows);
        raw.insert("yunxin-bridge".into(), figures);
    }
    if wanted("accounts-rss") || wanted("startup") {
        let mut many = accounts::Accounts::start(&imsim, &out, quick)?;
        if wanted("accounts-rss") {
            let (accounts_rows, figures) = many.rss(&exe, &scratch)?;
            rows.extend(accounts_rows);
            raw.insert("accounts-rss".into(), figures);
        }
        if wanted("startup") {
            let (startup_rows, figures) = many.startup(&exe, &scratch, quick)?;
            rows.extend(startup_rows);
            raw.insert("startup".into(), figures);
        }
    }
    let _ = fs::remove_dir_all(&scratch);

    print_table(&rows, quick);
    let report = json!({
        "quick": quick,
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "runs": raw,
    });
    fs::write(out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    eprintln!("bench: report in {}", out.join("report.json").display());
    Ok(())
}

/// Runs `imbench` once and reads its figures.
fn imbench(exe: &Path, args: &[String]) -> Result<Value> {
    let output = std::process::Command::new(exe).args(args).output()?;
    if !output.status.success() {
        return Err(format!(
            "imbench {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Runs a Node script and reads the JSON object it printed.
fn node_json<S: AsRef<std::ffi::OsStr>>(node: &Path, args: &[S]) -> Result<Value> {
    let output = std::process::Command::new(node).args(args).output()?;
    if !output.status.success() {
        // The SDK's minified source can be one line of 100 kB: keep each line short.
        let stderr: String = String::from_utf8_lossy(&output.stderr)
            .lines()
            .map(|line| format!("{}\n", line.chars().take(300).collect::<String>()))
            .collect();
        return Err(format!(
            "node {}: {}",
            args.first()
                .map(|script| script.as_ref().to_string_lossy())
                .unwrap_or_default(),
            crate::gateway::tail(&stderr, 20)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over `runs` of the figure `key` that imbench (or the SDK script) printed.
fn pick(runs: &[Value], key: &str) -> Result<f64> {
    let values = runs
        .iter()
        .map(|figures| {
            figures[key]
                .as_f64()
                .ok_or_else(|| format!("no {key:?} among the figures: {figures}").into())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(median(values))
}

/// Messages per group commit in the journal benchmark: about what one read of a busy OpenIM
/// socket or one WeChat getupdates brings.
const JOURNAL_BATCH: usize = 100;

fn journal(exe: &Path, scratch: &Path, quick: bool) -> Result<(Vec<Row>, Value)> {
    let (small, large, messages, runs) = if quick {
        (200, 2_000, 200, 1)
    } else {
        (2_000, 20_000, 2_000, RUNS)
    };
    eprintln!("bench: journal, {messages} messages at {small} and at {large} entries, {runs} runs");
    let mut all = Vec::new();
    let (mut at_small, mut at_large, mut grouped) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        for (entries, batch, into) in [
            (small, 1, &mut at_small),
            (large, 1, &mut at_large),
            (large, JOURNAL_BATCH, &mut grouped),
        ] {
            let figures = imbench(
                exe,
                &[
                    "journal".into(),
                    format!("--entries={entries}"),
                    format!("--messages={messages}"),
                    format!("--batch={batch}"),
                    format!("--dir={}", scratch.display()),
                ],
            )?;
            into.push(figures.clone());
            all.push(figures);
        }
    }
    let against = format!("{small} entries");
    let rows = vec![
        Row {
            bench: "journal",
            figure: format!("CPU µs per message at {large} entries"),
            ours: pick(&at_large, "cpuMicrosPerMessage")?,
            reference: pick(&at_small, "cpuMicrosPerMessage")?,
            against: against.clone(),
            target: Target::AtMost(1.2),
        },
        Row {
            bench: "journal",
            figure: format!("wall µs per message at {large} entries (fsync)"),
            ours: pick(&at_large, "wallMicrosPerMessage")?,
            reference: pick(&at_small, "wallMicrosPerMessage")?,
            against,
            target: Target::AtMost(1.2),
        },
        Row {
            bench: "journal",
            figure: format!("messages/s at {large} entries, group commit of {JOURNAL_BATCH}"),
            ours: pick(&grouped, "perSecond")?,
            reference: pick(&at_large, "perSecond")?,
            against: "one fsync per message".into(),
            target: Target::None,
        },
    ];
    Ok((rows, Value::Array(all)))
}

fn print_table(rows: &[Row], quick: bool) {
    println!();
    println!(
        "{:<15} {:<50} {:>10} {:>10} {:<26} {:>7} {:>12}",
        "bench", "figure", "ours", "reference", "reference is", "ratio", "target"
    );
    for row in rows {
        let verdict = if quick || matches!(row.target, Target::None) {
            ""
        } else if row.met() {
            " met"
        } else {
            " MISSED"
        };
        // 0 against 0 (nothing lost on either side) has no ratio.
        let ratio = row.ratio();
        let ratio = if ratio.is_finite() {
            format!("{ratio:.2}")
        } else {
            "-".into()
        };
        println!(
            "{:<15} {:<50} {:>10.1} {:>10.1} {:<26} {:>7} {:>12}{verdict}",
            row.bench,
            row.figure,
            row.ours,
            row.reference,
            row.against,
            ratio,
            row.target.label(),
        );
    }
    if quick {
        println!(
            "(--quick: small sizes, one run; the figures keep the code working, they prove nothing)"
        );
    }
}

/// The OpenIM benchmarks' simulator and the SDK, shared by both benchmarks.
struct OpenIm {
    sim: Sim,
    ready: std::path::PathBuf,
    node: std::path::PathBuf,
    sdk: std::path::PathBuf,
    senders: String,
    messages: usize,
    runs: usize,
    /// Bots are fresh per run and side, so no run reads another's messages.
    next_bot: usize,
}

impl OpenIm {
    fn start(imsim: &Path, out: &Path, quick: bool) -> Result<Self> {
        let node = toolchain::ensure_node()?;
        let sdk = ensure_sdk(&node)?;
        let dir = out.join("openim");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let senders = (1..=20)
            .map(|n| format!("s{n:02}"))
            .collect::<Vec<_>>()
            .join(",");
        // The burst of a benchmark would overflow the real server's 256-frame write queue and
        // drop every reader, ours, the SDK's and the raw one alike.
        let sim = Sim::launch(
            imsim,
            &[
                "--openim",
                "--openim-users",
                &senders,
                "--openim-write-queue",
                "1000000",
            ],
            "warn",
            &dir,
        )?;
        let ready = dir.join("ready.json");
        fs::write(&ready, &sim.ready)?;
        Ok(Self {
            sim,
            ready,
            node: node.join("node"),
            sdk,
            senders,
            messages: if quick { 500 } else { 10_000 },
            runs: if quick { 1 } else { RUNS },
            next_bot: 0,
        })
    }

    fn bot(&mut self, side: &str) -> String {
        self.next_bot += 1;
        format!("bench-{side}-{}-{}", std::process::id(), self.next_bot)
    }

    /// One run of our side (`ours` or `raw`).
    fn imbench(&mut self, exe: &Path, scratch: &Path, live: bool, side: &str) -> Result<Value> {
        let bot = self.bot(side);
        let command = if live {
            "openim-live"
        } else {
            "openim-catchup"
        };
        imbench(
            exe,
            &[
                command.into(),
                format!("--side={side}"),
                format!("--ready={}", self.ready.display()),
                format!("--bot={bot}"),
                format!("--messages={}", self.messages),
                format!("--senders={}", self.senders),
                format!("--state={}", scratch.join(&bot).display()),
            ],
        )
    }

    /// One run of the SDK.
    fn sdk(&mut self, live: bool) -> Result<Value> {
        let bot = self.bot("sdk");
        let script = root().join("xtask/bench/openim-sdk.mjs");
        let figures = node_json(
            &self.node,
            &[
                script.as_os_str(),
                self.sdk.as_os_str(),
                self.ready.as_os_str(),
                (if live { "live" } else { "catchup" }).as_ref(),
                bot.as_ref(),
                self.messages.to_string().as_ref(),
                self.senders.as_ref(),
            ],
        )?;
        for thrown in figures["thrown"].as_array().into_iter().flatten() {
            eprintln!(
                "bench: the SDK threw: {}",
                thrown.as_str().unwrap_or_default()
            );
        }
        Ok(figures)
    }

    fn bench(&mut self, exe: &Path, scratch: &Path, live: bool) -> Result<(Vec<Row>, Value)> {
        let name = if live {
            "openim-live"
        } else {
            "openim-catchup"
        };
        eprintln!(
            "bench: {name}, {} messages from 20 senders, {} runs",
            self.messages, self.runs
        );
        let (mut ours, mut sdk, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.runs {
            ours.push(self.imbench(exe, scratch, live, "ours")?);
            sdk.push(self.sdk(live)?);
            if live {
                raw.push(self.imbench(exe, scratch, live, "raw")?);
            }
        }
        let sdk_name = "@openim/client-sdk 0.0.14".to_owned();
        let mut rows = Vec::new();
        if live {
            rows.push(Row {
                bench: "openim-live",
                figure: "messages/s, first push to last at the host".into(),
                ours: pick(&ours, "perSecond")?,
                reference: pick(&sdk, "perSecond")?,
                against: sdk_name.clone(),
                target: Target::AtLeast(10.0),
            });
            rows.push(Row {
                bench: "openim-live",
                figure: "messages/s, against the raw frame counter".into(),
                ours: pick(&ours, "perSecond")?,
                reference: pick(&raw, "perSecond")?,
                against: "raw WebSocket reader".into(),
                target: Target::AtLeast(0.25),
            });
        } else {
            rows.push(Row {
                bench: "openim-catchup",
                figure: format!("seconds to read {} stored", self.messages),
                ours: pick(&ours, "seconds")?,
                reference: pick(&sdk, "seconds")?,
                against: sdk_name.clone(),
                target: Target::OursAtMost(1.0),
            });
        }
        rows.push(Row {
            bench: name,
            figure: "messages lost".into(),
            ours: pick(&ours, "lost")?,
            reference: pick(&sdk, "lost")?,
            against: sdk_name.clone(),
            target: Target::OursAtMost(0.0),
        });
        rows.push(Row {
            bench: name,
            figure: "CPU seconds".into(),
            ours: pick(&ours, "cpuSeconds")?,
            reference: pick(&sdk, "cpuSeconds")?,
            against: sdk_name,
            target: Target::None,
        });
        let figures = json!({ "ours": ours, "sdk": sdk, "raw": raw });
        Ok((rows, figures))
    }
}

impl Drop for OpenIm {
    fn drop(&mut self) {
        self.sim.stop();
    }
}
