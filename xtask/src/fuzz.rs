//! `cargo xtask fuzz`: every libFuzzer target of `fuzz/libfuzzer/` for a while, with a table of
//! what each did and `target/fuzz/report.json`.
//!
//! cargo-fuzz is installed once from crates.io into `target/tools/`; the targets build with the
//! nightly toolchain (rustup's `nightly`). Each target fuzzes a working copy of its corpus under
//! `target/fuzz/corpus/<target>/`, seeded from the small checked-in `fuzz/corpus/<target>/` and
//! from `fuzz/regressions/<target>/`, so what a run learns is kept for the next run without
//! growing the repository. A crash, leak or timeout is copied into `fuzz/regressions/<target>/`,
//! where the stable `cargo test -p imbridge-fuzz` replays it from then on, and the command fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use xshell::{Shell, cmd};

use crate::{Result, root, target_dir};

/// The cargo-fuzz release this command installs.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The package of the libFuzzer binaries, relative to the root.
const FUZZ_DIR: &str = "fuzz/libfuzzer";
/// An input slower than this is a hang, and is kept like a crash.
const TIMEOUT_SECONDS: u64 = 10;

/// What one target did.
#[derive(Debug)]
struct Outcome {
    target: String,
    seconds: f64,
    executions: u64,
    corpus: usize,
    crashes: Vec<PathBuf>,
}

/// Installs cargo-fuzz if missing; returns the directory holding it, for `PATH`.
fn ensure_cargo_fuzz(sh: &Shell) -> Result<PathBuf> {
    let tools = target_dir().join("tools");
    let bin = tools.join("bin");
    if !bin.join("cargo-fuzz").exists() {
        eprintln!(
            "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} from crates.io into {} (a few minutes)",
            tools.display()
        );
        cmd!(
            sh,
            "cargo install cargo-fuzz --version {CARGO_FUZZ_VERSION} --locked --root {tools}"
        )
        .run()?;
    }
    Ok(bin)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Adds the checked-in seeds and regressions to the working corpus (what is already there
/// stays: it is what earlier runs found).
fn seed(target: &str, work: &Path) -> Result {
    fs::create_dir_all(work)?;
    for kind in ["fuzz/corpus", "fuzz/regressions"] {
        for file in files(&root().join(kind).join(target)) {
            if let Some(name) = file.file_name() {
                fs::copy(&file, work.join(name))?;
            }
        }
    }
    Ok(())
}

/// `stat::number_of_executed_units: N` from libFuzzer's final stats.
fn executions(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|line| line.strip_prefix("stat::number_of_executed_units:"))
        .filter_map(|n| n.trim().parse().ok())
        .next_back()
}

fn run_target(
    sh: &Shell,
    target: &str,
    seconds: u64,
    build_dir: &Path,
    fuzz_root: &Path,
) -> Result<Outcome> {
    let work = fuzz_root.join("corpus").join(target);
    seed(target, &work)?;
    let artifacts = fuzz_root.join("artifacts").join(target);
    let _ = fs::remove_dir_all(&artifacts);
    fs::create_dir_all(&artifacts)?;
    let prefix = format!("-artifact_prefix={}/", artifacts.display());
    let max_time = format!("-max_total_time={seconds}");
    let timeout = format!("-timeout={TIMEOUT_SECONDS}");
    let started = Instant::now();
    // Safe Rust needs no AddressSanitizer to show its bugs (panics, overflow checks, hangs),
    // and without it each second runs about twice the inputs.
    let output = cmd!(
        sh,
        "cargo +nightly fuzz run {target} --fuzz-dir {FUZZ_DIR} --sanitizer none --target-dir {build_dir} {work}
         -- {max_time} {timeout} -print_final_stats=1 {prefix}"
    )
    .ignore_status()
    .output()?;
    let elapsed = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr);
    let found = files(&artifacts);
    let mut crashes = Vec::new();
    if !found.is_empty() {
        let keep = root().join("fuzz/regressions").join(target);
        fs::create_dir_all(&keep)?;
        for artifact in found {
            let Some(name) = artifact.file_name() else {
                continue;
            };
            let kept = keep.join(name);
            fs::copy(&artifact, &kept)?;
            crashes.push(kept);
        }
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        eprintln!("xtask: {target} found a problem:\n{}", tail.join("\n"));
    } else if !output.status.success() {
        return Err(format!(
            "cargo fuzz run {target} failed without an artifact ({}):\n{log}",
            output.status
        )
        .into());
    }
    let executions = executions(&log).ok_or_else(|| {
        format!("cargo fuzz run {target}: no stat::number_of_executed_units in its output:\n{log}")
    })?;
    Ok(Outcome {
        target: target.to_owned(),
        seconds: elapsed,
        executions,
        corpus: files(&work).len(),
        crashes,
    })
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "{:<24} {:>8} {:>12} {:>8} {:>8}",
        "target", "seconds", "executions", "corpus", "crashes"
    );
    for o in outcomes {
        println!(
            "{:<24} {:>8.0} {:>12} {:>8} {:>8}",
            o.target,
            o.seconds,
            o.executions,
            o.corpus,
            o.crashes.len()
        );
    }
}

pub fn run(seconds: u64, only: Option<String>) -> Result {
    let sh = Shell::new()?;
    sh.change_dir(root());
    let tools = ensure_cargo_fuzz(&sh)?;
    let path = std::env::var("PATH").unwrap_or_default();
    sh.set_var("PATH", format!("{}:{path}", tools.display()));
    // Build what the main workspace tested, not whatever crates.io has newest: the fuzz package
    // has a workspace and lock file of its own, started from the main one.
    fs::copy(
        root().join("Cargo.lock"),
        root().join(FUZZ_DIR).join("Cargo.lock"),
    )?;
    let fuzz_root = target_dir().join("fuzz");
    let build_dir = fuzz_root.join("build");
    let listed = cmd!(sh, "cargo +nightly fuzz list --fuzz-dir {FUZZ_DIR}").read()?;
    let mut targets: Vec<String> = listed.lines().map(str::trim).map(str::to_owned).collect();
    targets.retain(|t| !t.is_empty());
    if let Some(only) = only {
        if !targets.contains(&only) {
            return Err(
                format!("no fuzz target {only:?}; there are: {}", targets.join(", ")).into(),
            );
        }
        targets = vec![only];
    }
    // One build for all targets: they share every dependency.
    let build_args: Vec<String> = if targets.len() == 1 {
        targets.clone()
    } else {
        Vec::new()
    };
    cmd!(
        sh,
        "cargo +nightly fuzz build --fuzz-dir {FUZZ_DIR} --sanitizer none --target-dir {build_dir} {build_args...}"
    )
    .run()?;
    let mut outcomes = Vec::new();
    for target in &targets {
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        outcomes.push(run_target(&sh, target, seconds, &build_dir, &fuzz_root)?);
    }
    print_table(&outcomes);
    let report = json!({
        "secondsPerTarget": seconds,
        "targets": outcomes.iter().map(|o| json!({
            "target": o.target,
            "seconds": (o.seconds * 10.0).round() / 10.0,
            "executions": o.executions,
            "corpus": o.corpus,
            "crashes": o.crashes.len(),
            "regressions": o.crashes.iter()
                .map(|p| p.strip_prefix(root()).unwrap_or(p).display().to_string())
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    fs::create_dir_all(&fuzz_root)?;
    let report_path = fuzz_root.join("report.json");
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("report: {}", report_path.display());
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.crashes.is_empty())
        .map(|o| o.target.as_str())
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crashes in {}: kept in fuzz/regressions/, which `cargo test -p imbridge-fuzz` now replays",
            crashed.join(", ")
        )
        .into())
    }
}
