//! `cargo xtask ci`: what CI runs, in order of cost.

use std::path::Path;
use std::time::{Duration, Instant};

use xshell::{Shell, cmd};

use crate::{Result, bench, chaos, docs, e2e, fidelity, package, root, toolchain};

/// The `*.test.mjs` files of `dir` (relative to the root), by name: Node 24 takes a directory
/// argument for a test file and fails.
fn node_tests(dir: &str) -> Result<Vec<String>> {
    let mut tests: Vec<String> = std::fs::read_dir(root().join(dir))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| Path::new(dir).join(name).to_string_lossy().into_owned())
        .collect();
    tests.sort();
    Ok(tests)
}

/// Runs one step of CI and notes how long it took: CI has a time budget, and the table printed
/// at the end shows where it goes.
struct Steps(Vec<(&'static str, Duration)>);

impl Steps {
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result) -> Result {
        let started = Instant::now();
        let outcome = step();
        self.0.push((name, started.elapsed()));
        eprintln!("ci: {name} took {:.0} s", started.elapsed().as_secs_f64());
        outcome
    }

    fn print(&self) {
        let total: Duration = self.0.iter().map(|(_, took)| *took).sum();
        eprintln!("ci: {:.0} s in all", total.as_secs_f64());
        for (name, took) in &self.0 {
            eprintln!("  {:>5.0} s  {name}", took.as_secs_f64());
        }
    }
}

pub fn run() -> Result {
    // The package the e2e installs is the one users get: linked for glibc 2.17, or CI fails.
    package::require_glibc_baseline();
    let mut steps = Steps(Vec::new());
    let outcome = run_steps(&mut steps);
    steps.print();
    outcome
}

fn run_steps(steps: &mut Steps) -> Result {
    let sh = Shell::new()?;
    sh.change_dir(root());
    // In-process and cheap: the config reference in docs/channels/ matches the schemas.
    steps.run("docs fresh", docs::check)?;
    steps.run("fmt", || Ok(cmd!(sh, "cargo fmt --all -- --check").run()?))?;
    steps.run("clippy", || {
        Ok(cmd!(
            sh,
            "cargo clippy --workspace --all-targets --all-features -- -D warnings"
        )
        .run()?)
    })?;
    steps.run("cargo test", || {
        Ok(cmd!(sh, "cargo test --workspace --all-features").run()?)
    })?;
    // The small seeded fault schedule of every channel (faults, SIGKILLs, restarts).
    steps.run("chaos, channel level", || {
        chaos::run(true, 1, None, chaos::Level::Channel)
    })?;
    // The JS entry against the debug addon and the simulator binary: loading, descriptor,
    // panics surfacing as errors, log forwarding, the Control UI login path, the generic
    // tools, gateway methods and commands through the test-only `imbridge-testkit` channel, and
    // transport modules (a `netease-yunxin` account on the `nim-sdk` module and the stub SDK).
    // `--all-features` links the testkit (feature `testkit`), as in the steps above, so no extra
    // feature set is compiled for it; it is never packaged.
    steps.run("JS tests", || {
        cmd!(sh, "cargo build -p plugin-host -p imsim --all-features").run()?;
        // NetEase's real SDK (the version the yunxin crate pins, installed from the npm registry
        // once), for the offline tests of the entry and of the transport module.
        let sdk = toolchain::npm_install_cached(
            &sh,
            &format!("nim-sdk-{}", yunxin::sdk::SDK_VERSION),
            &[(yunxin::sdk::SDK_PACKAGE, yunxin::sdk::SDK_VERSION)],
        )?;
        let tests = node_tests("crates/plugin-host/js/test")?;
        cmd!(sh, "node --test {tests...}")
            .env("IMBRIDGE_NIM_SDK_DIR", &sdk)
            .run()?;
        // The yunxin transport module against the stub SDK, and offline against the real one.
        let tests = node_tests("crates/yunxin/js/test")?;
        cmd!(sh, "node --test {tests...}")
            .env("IMBRIDGE_NIM_SDK_DIR", &sdk)
            .run()?;
        Ok(())
    })?;
    steps.run("e2e", || e2e::run(false, None))?;
    // The small seeded schedule in the real gateway (OpenClaw installed by the e2e above):
    // OpenIM, 40 DMs from 5 peers, one SIGKILL while turns run.
    steps.run("chaos, gateway level", || {
        chaos::run(true, 1, Some("openim".into()), chaos::Level::Gateway)
    })?;
    // The simulators themselves, checked against official clients: Tencent's weixin plugin
    // (iLink) and @openim/client-sdk (OpenIM, against the imsim binary built above).
    steps.run("fidelity", || fidelity::run(false, None))?;
    // The benchmarks at small sizes, on the debug builds above, so that they keep working;
    // their figures are not asserted here.
    steps.run("bench --quick", || bench::run(true, None))
}
