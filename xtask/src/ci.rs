//! `cargo xtask ci`: what CI runs, in order of cost.

use xshell::{Shell, cmd};

use crate::{Result, e2e, fidelity, root};

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
    // The JS entry against the debug addon and the simulator binary: loading, descriptor,
    // panics surfacing as errors, log forwarding, the Control UI login path, and the generic
    // tools, gateway methods and commands through the test-only `imbridge-testkit` channel.
    // `--all-features` links it (feature `testkit`), as in the steps above, so no extra feature
    // set is compiled for it; it is never packaged.
    cmd!(sh, "cargo build -p plugin-host -p imsim --all-features").run()?;
    // The files by name: Node 24 takes a directory argument for a test file and fails.
    let mut tests: Vec<String> = std::fs::read_dir(root().join("crates/plugin-host/js/test"))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("crates/plugin-host/js/test/{name}"))
        .collect();
    tests.sort();
    cmd!(sh, "node --test {tests...}").run()?;
    e2e::run(false, None)?;
    // The simulators themselves, checked against official clients: Tencent's weixin plugin
    // (iLink) and @openim/client-sdk (OpenIM, against the imsim binary built above).
    fidelity::run(false, None)
}
