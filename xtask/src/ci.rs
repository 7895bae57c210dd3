//! `cargo xtask ci`: what CI runs, in order of cost.

use std::path::Path;

use xshell::{Shell, cmd};

use crate::{Result, bench, chaos, e2e, fidelity, root, toolchain};

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

pub fn run() -> Result {
    let sh = Shell::new()?;
    sh.change_dir(root());
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --all-features -- -D warnings"
    )
    .run()?;
    cmd!(sh, "cargo test --workspace --all-features").run()?;
    // The small seeded fault schedule of every channel (faults, SIGKILLs, restarts).
    chaos::run(true, 1, None, chaos::Level::Channel)?;
    // The JS entry against the debug addon and the simulator binary: loading, descriptor,
    // panics surfacing as errors, log forwarding, the Control UI login path, the generic
    // tools, gateway methods and commands through the test-only `imbridge-testkit` channel, and
    // transport modules (a `netease-yunxin` account on the `nim-sdk` module and the stub SDK).
    // `--all-features` links the testkit (feature `testkit`), as in the steps above, so no extra
    // feature set is compiled for it; it is never packaged.
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
    e2e::run(false, None)?;
    // The small seeded schedule in the real gateway (OpenClaw installed by the e2e above):
    // OpenIM, 40 DMs from 5 peers, one SIGKILL while turns run.
    chaos::run(true, 1, Some("openim".into()), chaos::Level::Gateway)?;
    // The simulators themselves, checked against official clients: Tencent's weixin plugin
    // (iLink) and @openim/client-sdk (OpenIM, against the imsim binary built above).
    fidelity::run(false, None)?;
    // The benchmarks at small sizes, on the debug builds above, so that they keep working;
    // their figures are not asserted here.
    bench::run(true, None)
}
