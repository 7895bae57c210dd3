//! `cargo xtask bench`: our paths measured beside a reference in one run, since on these noisy
//! machines only a ratio of two figures taken side by side means something. Prints one table
//! (figure, ours, reference, ratio, target) and writes `target/bench/report.json`.
//!
//! The measuring happens in `imbench` (crate `bench/`), built in release mode; each benchmark
//! runs its sides interleaved, `RUNS` times, and keeps the median of each.
//!
//! * `journal`: the dedup journal's cost per message (accepted, then finished) at 20,000
//!   entries against 2,000: a journal must not slow down as it fills.
//!
//! `--quick` runs small sizes once, to keep the code working in CI; its figures are not
//! asserted.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::{Result, root, target_dir};

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
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours / self.reference
    }

    fn met(&self) -> bool {
        match self.target {
            Target::AtMost(limit) => self.ratio() <= limit,
        }
    }

    fn json(&self) -> Value {
        let Target::AtMost(limit) = self.target;
        json!({
            "bench": self.bench,
            "figure": self.figure,
            "ours": self.ours,
            "reference": self.reference,
            "against": self.against,
            "ratio": self.ratio(),
            "target": format!("<= {limit}"),
            "met": self.met(),
        })
    }
}

pub fn run(quick: bool, only: Option<String>) -> Result {
    let sh = Shell::new()?;
    sh.change_dir(root());
    cmd!(sh, "cargo build --release -p imbridge-bench --bin imbench").run()?;
    let exe = target_dir().join("release/imbench");
    let out = target_dir().join("bench");
    let scratch = out.join("scratch");
    fs::create_dir_all(&scratch)?;
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let mut rows = Vec::new();
    let mut raw = serde_json::Map::new();
    if wanted("journal") {
        let (journal_rows, figures) = journal(&exe, &scratch, quick)?;
        rows.extend(journal_rows);
        raw.insert("journal".into(), figures);
    }
    if rows.is_empty() {
        return Err(format!(
            "no benchmark named {:?}; one of: journal",
            only.unwrap_or_default()
        )
        .into());
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn field(figures: &Value, key: &str) -> Result<f64> {
    figures[key]
        .as_f64()
        .ok_or_else(|| format!("imbench printed no {key:?}: {figures}").into())
}

fn journal(exe: &Path, scratch: &Path, quick: bool) -> Result<(Vec<Row>, Value)> {
    let (small, large, messages, runs) = if quick {
        (200, 2_000, 200, 1)
    } else {
        (2_000, 20_000, 2_000, RUNS)
    };
    eprintln!("bench: journal, {messages} messages at {small} and at {large} entries, {runs} runs");
    let mut all = Vec::new();
    let (mut at_small, mut at_large) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        for (entries, into) in [(small, &mut at_small), (large, &mut at_large)] {
            let figures = imbench(
                exe,
                &[
                    "journal".into(),
                    format!("--entries={entries}"),
                    format!("--messages={messages}"),
                    format!("--dir={}", scratch.display()),
                ],
            )?;
            into.push(figures.clone());
            all.push(figures);
        }
    }
    let pick = |runs: &[Value], key: &str| -> Result<f64> {
        Ok(median(
            runs.iter()
                .map(|f| field(f, key))
                .collect::<Result<Vec<_>>>()?,
        ))
    };
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
    ];
    Ok((rows, Value::Array(all)))
}

fn print_table(rows: &[Row], quick: bool) {
    println!();
    println!(
        "{:<10} {:<46} {:>12} {:>12} {:<22} {:>7} {:>8}",
        "bench", "figure", "ours", "reference", "reference is", "ratio", "target"
    );
    for row in rows {
        let Target::AtMost(limit) = row.target;
        let verdict = if quick {
            ""
        } else if row.met() {
            " met"
        } else {
            " MISSED"
        };
        println!(
            "{:<10} {:<46} {:>12.1} {:>12.1} {:<22} {:>7.2} {:>8}{verdict}",
            row.bench,
            row.figure,
            row.ours,
            row.reference,
            row.against,
            row.ratio(),
            format!("<= {limit}"),
        );
    }
    if quick {
        println!(
            "(--quick: small sizes, one run; the figures keep the code working, they prove nothing)"
        );
    }
}
