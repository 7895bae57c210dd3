//! `cargo xtask fidelity --only openim`: the official pure-JS OpenIM client,
//! `@openim/client-sdk@0.0.14`, under Node 24 against the `imsim --openim` binary.
//!
//! The simulator was written from the protocol spec (`openim-protocol.md`), not from OpenIM's
//! code. The script `xtask/fidelity/openim-client-sdk.mjs` logs the SDK in, receives a message
//! pushed by the simulator, sends one, catches up messages stored while a forced disconnect lasted
//! and sees a kick. If the SDK cannot, the simulator is wrong, not the client. The SDK is installed
//! from the npm registry into `target/e2e-cache/` to test against; none of it is part of the
//! project.

use std::fs::{self, File};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use xshell::{Shell, cmd};

use crate::gateway::tail;
use crate::{Result, root, toolchain};

/// The reference client, pinned, and the protocol package it was verified with (spec §0; the
/// SDK asks for `^0.0.7-alpha.1`).
const PACKAGE: &str = "@openim/client-sdk";
const VERSION: &str = "0.0.14";
const PROTOCOL: (&str, &str) = ("@openim/protocol", "0.0.7");
/// The SDK's user and the peer the script plays through the admin API.
const USERS: &str = "bot1,alice";
/// Linux: a platform no other test client of the run uses (the SDK sends what `login` is given).
const PLATFORM: &str = "7";
/// The script takes about 6 s (5 of them the SDK's reconnect delay); it gives up by itself at 90.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

pub fn run(keep: bool) -> Result {
    let dir = root().join("target/fidelity/openim");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let started = Instant::now();
    let result = scenario(&dir);
    match &result {
        Ok(()) => {
            eprintln!(
                "\nfidelity: {PACKAGE}@{VERSION} passed every check against imsim in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            if !keep {
                let _ = fs::remove_dir_all(&dir);
            }
        }
        Err(_) => {
            for log in ["node.log", "imsim.log"] {
                let text = fs::read_to_string(dir.join(log)).unwrap_or_default();
                if !text.trim().is_empty() {
                    eprintln!("\n-- last lines of {log}:\n{}", tail(&text, 40));
                }
            }
            eprintln!(
                "\nfidelity: {PACKAGE} failed; the simulator's ready line and logs are in {}",
                dir.display()
            );
        }
    }
    result
}

fn step(name: &str) {
    eprintln!("\n== fidelity (openim): {name}");
}

fn scenario(dir: &Path) -> Result {
    step(&format!(
        "Node 24 and {PACKAGE}@{VERSION} from the npm registry"
    ));
    let node_bin = toolchain::ensure_node()?;
    let prefix = ensure_sdk(&node_bin)?;

    step("build and start imsim --openim");
    let sh = Shell::new()?;
    sh.change_dir(root());
    cmd!(sh, "cargo build --quiet -p imsim").run()?;
    let mut sim = Sim::start(dir)?;
    let ready_path = dir.join("ready.json");
    fs::write(&ready_path, &sim.ready)?;
    let ready: Value = serde_json::from_str(&sim.ready)?;
    eprintln!(
        "openim ws {} api {}",
        ready["openim"][0]["ws"], ready["openim"][0]["api"]
    );

    step("the SDK logs in, receives, sends, catches up after a drop, is kicked");
    let script = root().join("xtask/fidelity/openim-client-sdk.mjs");
    let mut node = Command::new(node_bin.join("node"));
    node.arg(&script)
        .arg(&prefix)
        .arg(&ready_path)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(File::create(dir.join("node.log"))?);
    let outcome = wait_with_limit(node, SCRIPT_LIMIT);
    sim.stop();
    match outcome? {
        true => Ok(()),
        false => Err(format!(
            "{PACKAGE}@{VERSION} failed against the OpenIM simulator (see the FAIL lines above)"
        )
        .into()),
    }
}

/// Installs the pinned SDK into `target/e2e-cache/openim-sdk-<version>` once; returns that npm
/// prefix.
pub(crate) fn ensure_sdk(node_bin: &Path) -> Result<PathBuf> {
    let sh = Shell::new()?;
    let rest = std::env::var("PATH").unwrap_or_default();
    let _path = sh.push_env("PATH", format!("{}:{rest}", node_bin.display()));
    toolchain::npm_install_cached(
        &sh,
        &format!("openim-sdk-{VERSION}"),
        &[(PACKAGE, VERSION), PROTOCOL],
    )
}

/// The `imsim` binary, killed when dropped.
pub(crate) struct Sim {
    child: Option<Child>,
    /// Its ready line (JSON).
    pub(crate) ready: String,
}

impl Sim {
    fn start(dir: &Path) -> Result<Sim> {
        Self::launch(
            &root().join("target/debug/imsim"),
            &[
                "--openim",
                "--openim-users",
                USERS,
                "--openim-platform",
                PLATFORM,
            ],
            "info,imsim::openim=debug",
            dir,
        )
    }

    /// Starts `bin` with `args`, its log in `dir/imsim.log`, and waits for its ready line.
    pub(crate) fn launch(bin: &Path, args: &[&str], log: &str, dir: &Path) -> Result<Sim> {
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(dir.join("imsim.log"))?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take();
        let mut sim = Sim {
            child: Some(child),
            ready: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let mut out = BufReader::new(out);
                let _ = out.read_line(&mut line);
                // Keep draining so the simulator never blocks on a full pipe.
                let _ = tx.send(line);
                let _ = std::io::copy(&mut out, &mut std::io::sink());
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.trim_start().starts_with('{') => {
                sim.ready = line.trim().to_owned();
                Ok(sim)
            }
            Ok(line) => {
                sim.stop();
                Err(format!("imsim printed no ready line (got {line:?}); see imsim.log").into())
            }
            Err(_) => {
                sim.stop();
                Err("imsim printed no ready line within 30 s; see imsim.log".into())
            }
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `cmd` to its end or kills it after `limit`; returns whether it succeeded.
fn wait_with_limit(mut cmd: Command, limit: Duration) -> Result<bool> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} still ran after {limit:?}; killed").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
