//! An isolated OpenClaw instance: its own HOME, state dir and config, offline, on a free port.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Result;
use crate::toolchain::Toolchain;

pub struct Gateway {
    pub dir: PathBuf,
    pub state: PathBuf,
    home: PathBuf,
    toolchain: Toolchain,
    token: String,
    pub port: u16,
    child: Option<Child>,
    /// How many times the gateway was started: each run logs to its own file.
    runs: usize,
    /// Extra environment for the gateway and the CLI.
    pub env: Vec<(String, String)>,
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Gateway {
    pub fn new(dir: &Path, toolchain: Toolchain) -> Result<Self> {
        let state = dir.join("state");
        let home = dir.join("home");
        fs::create_dir_all(&state)?;
        fs::create_dir_all(&home)?;
        fs::create_dir_all(dir.join("tmp"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            state,
            home,
            toolchain,
            token: format!("e2e-{:016x}", rand_u64()),
            port: free_port()?,
            child: None,
            runs: 0,
            env: Vec::new(),
        })
    }

    /// The Node and openclaw this instance runs with.
    pub fn toolchain(&self) -> &Toolchain {
        &self.toolchain
    }

    pub fn config_path(&self) -> PathBuf {
        self.state.join("openclaw.json")
    }

    /// The least config a run writes: OpenClaw's log in the run's directory, since by default
    /// it goes to its shared temp dir (`/tmp/openclaw`), where the run would leave it.
    pub fn bare_config(&self) -> Value {
        json!({ "logging": {"file": self.dir.join("openclaw.log")} })
    }

    /// Offline gateway settings plus the mock model as the only provider.
    pub fn base_config(&self, model_base_url: &str) -> Value {
        json!({
            "gateway": {"mode": "local", "port": self.port, "bind": "loopback", "auth": {"token": self.token}},
            "update": {"checkOnStart": false},
            "logging": self.bare_config()["logging"],
            "telemetry": {"enabled": false},
            "models": {
                "catalogRefresh": {"enabled": false},
                "mode": "merge",
                "providers": {"mock": {
                    "baseUrl": model_base_url,
                    "apiKey": "mock-key",
                    "api": "openai-completions",
                    "models": [{
                        "id": "echo-1", "name": "Echo 1", "reasoning": false, "input": ["text"],
                        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                        "contextWindow": 128000, "maxTokens": 4096
                    }]
                }}
            },
            "agents": {"defaults": {"model": {"primary": "mock/echo-1"}}},
        })
    }

    pub fn read_config(&self) -> Result<Value> {
        Ok(serde_json::from_str(&fs::read_to_string(
            self.config_path(),
        )?)?)
    }

    pub fn write_config(&self, config: &Value) -> Result {
        fs::write(self.config_path(), serde_json::to_string_pretty(config)?)?;
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", self.toolchain.path_env())
            .env("HOME", &self.home)
            // OpenClaw's and the addon's temp files (upload locks, media) go with the run.
            .env("TMPDIR", self.dir.join("tmp"))
            .env("OPENCLAW_STATE_DIR", &self.state)
            .env("OPENCLAW_CONFIG_PATH", self.config_path())
            .env("OPENCLAW_GATEWAY_TOKEN", &self.token)
            .env("OPENCLAW_DISABLE_BONJOUR", "1")
            .env("OPENCLAW_NO_RESPAWN", "1")
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env_remove("OPENCLAW_PROFILE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if std::env::var_os("IMBRIDGE_LOG").is_none()
            && !self.env.iter().any(|(key, _)| key == "IMBRIDGE_LOG")
        {
            cmd.env(
                "IMBRIDGE_LOG",
                "info,weixin=debug,channel_core=debug,yunxin=debug",
            );
        }
        cmd
    }

    /// Runs `openclaw <args>` and returns its stdout; fails with both streams on a non-zero exit.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.cli_with_input(args, None)
    }

    /// [`Gateway::cli`] with `input` piped to stdin: answers for a command's questions.
    pub fn cli_with_input(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        Ok(self.run_cli(args, input)?.0)
    }

    /// [`Gateway::cli`], with what the command wrote to stderr (warnings) after its stdout.
    pub fn cli_with_stderr(&self, args: &[&str]) -> Result<String> {
        let (stdout, stderr) = self.run_cli(args, None)?;
        Ok(format!("{stdout}{stderr}"))
    }

    /// [`Gateway::cli`] under the POSIX locale `lang` (`LANG`, with `LC_ALL` and
    /// `LC_MESSAGES` cleared so that it decides).
    pub fn cli_in_locale(&self, args: &[&str], lang: &str) -> Result<String> {
        Ok(self.run_cli_with(args, None, Some(lang))?.0)
    }

    /// Runs `openclaw <args>`; its stdout and stderr.
    fn run_cli(&self, args: &[&str], input: Option<&str>) -> Result<(String, String)> {
        self.run_cli_with(args, input, None)
    }

    fn run_cli_with(
        &self,
        args: &[&str],
        input: Option<&str>,
        lang: Option<&str>,
    ) -> Result<(String, String)> {
        let started = Instant::now();
        let mut cmd = self.command("openclaw");
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(lang) = lang {
            cmd.env("LANG", lang)
                .env_remove("LC_ALL")
                .env_remove("LC_MESSAGES");
        }
        let output = run_with_input(cmd, Duration::from_secs(180), input.map(str::to_owned))?;
        eprintln!(
            "xtask: openclaw {} ({:.1}s)",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
        if !output.0 {
            return Err(format!(
                "openclaw {} failed:\n{}\n{}",
                args.join(" "),
                output.1,
                output.2
            )
            .into());
        }
        Ok((output.1, output.2))
    }

    /// Shell lines that point the `openclaw` CLI at this instance.
    pub fn env_script(&self) -> String {
        format!(
            "export PATH={path}\nexport HOME={home} OPENCLAW_STATE_DIR={state} OPENCLAW_CONFIG_PATH={config}\n\
             export OPENCLAW_GATEWAY_TOKEN={token} OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_NO_RESPAWN=1 CI=1\n",
            path = self.toolchain.path_env(),
            home = self.home.display(),
            state = self.state.display(),
            config = self.config_path().display(),
            token = self.token,
        )
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("gateway-{}.log", self.runs))
    }

    /// Starts `openclaw gateway run` and waits for `[gateway] ready`.
    pub fn start(&mut self) -> Result {
        self.runs += 1;
        let log = fs::File::create(self.log_path())?;
        let mut cmd = self.command("openclaw");
        cmd.args(["gateway", "run"])
            .stdout(log.try_clone()?)
            .stderr(log);
        let started = Instant::now();
        self.child = Some(cmd.spawn()?);
        let deadline = started + Duration::from_secs(180);
        while Instant::now() < deadline {
            if self.log().contains("[gateway] ready") {
                eprintln!(
                    "xtask: gateway ready after {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = tail(&self.log(), 60);
                return Err(format!("gateway exited early ({status}):\n{log}").into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("gateway not ready after 180 s:\n{}", tail(&self.log(), 60)).into())
    }

    /// The process id of the running gateway.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The current run's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL if it lingers.
    pub fn stop(&mut self) -> Result {
        let Some(mut child) = self.child.take() else {
            // The CLI may have opened the databases without a gateway.
            forget_host_locks(&self.state);
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && child.try_wait()?.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if child.try_wait()?.is_none() {
            child.kill()?;
            child.wait()?;
        }
        // Here as well as on drop: a run's directory may be gone by the time it drops.
        forget_host_locks(&self.state);
        Ok(())
    }

    /// SIGKILL: a crash, as far as the plugin can tell.
    pub fn kill(&mut self) -> Result {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        forget_host_locks(&self.state);
    }
}

/// Removes the lock files OpenClaw keeps for this instance's databases in a directory it fixes
/// at `/tmp/openclaw-state-locks-<uid>/`, whatever the environment says. Each is named
/// `<family>.<first 8 hex digits of sha256(the database's real path)>.lock.sqlite`, so only
/// this instance's are removed; the directory goes too when nothing else is left in it.
fn forget_host_locks(state: &Path) {
    use sha2::{Digest, Sha256};
    let mut hashes = Vec::new();
    let mut dirs = vec![state.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "sqlite") {
                let real = fs::canonicalize(&path).unwrap_or(path);
                let digest = Sha256::digest(real.to_string_lossy().as_bytes());
                hashes.push(format!(
                    "{:02x}{:02x}{:02x}{:02x}",
                    digest[0], digest[1], digest[2], digest[3]
                ));
            }
        }
    }
    let Ok(tmp) = fs::read_dir("/tmp") else {
        return;
    };
    for lock_dir in tmp.flatten().map(|e| e.path()).filter(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("openclaw-state-locks"))
    }) {
        for lock in fs::read_dir(&lock_dir).into_iter().flatten().flatten() {
            let name = lock.file_name().to_string_lossy().into_owned();
            if hashes
                .iter()
                .any(|hash| name.ends_with(&format!(".{hash}.lock.sqlite")))
            {
                let _ = fs::remove_file(lock.path());
            }
        }
        // Fails, and so keeps it, when another OpenClaw's locks are in it.
        let _ = fs::remove_dir(&lock_dir);
    }
}

fn rand_u64() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u64) ^ (u64::from(std::process::id()) << 32)
}

/// Runs a command with a deadline, `input` typed on its stdin (then closed); returns (success,
/// stdout, stderr).
pub fn run_with_input(
    mut cmd: Command,
    limit: Duration,
    input: Option<String>,
) -> Result<(bool, String, String)> {
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_string(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} timed out after {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    Ok((status.success(), out, err))
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
