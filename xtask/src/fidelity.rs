//! `cargo xtask fidelity`: official clients against our simulators, to prove the simulators right.
//!
//! * `weixin`: Tencent's own WeChat plugin, `@tencent-weixin/openclaw-weixin`, inside the real
//!   OpenClaw gateway, talking to our iLink simulator.
//! * `openim`: the official pure-JS `@openim/client-sdk` under Node against the `imsim --openim`
//!   binary (see [`openim`]).
//!
//! Both run by default (`--only weixin|openim` picks one); each counts as one check in the closing
//! `fidelity: N passed, M failed` line, and a failure of one does not stop the other.
//!
//! The simulators were written from the protocol specs, not from the vendors' code. If the official
//! client cannot complete a text round trip against one, or the simulator refuses one of its
//! requests, the simulator is wrong, not the client. The vendors' packages are only installed (into
//! the scratch gateway, or `target/`) to test against; none of their code is part of this project.

pub(crate) mod openim;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imsim::ilink::{RequestRecord, valid_uin};
use serde_json::{Value, json};
use xshell::Shell;

use crate::e2e::{Stack, TURN, check, poll};
use crate::gateway::tail;
use crate::{Result, root, toolchain};

/// The reference client, pinned.
pub(crate) const PACKAGE: &str = "@tencent-weixin/openclaw-weixin";
pub(crate) const VERSION: &str = "2.4.9";
/// `iLink-App-ClientVersion` of 2.4.9: `2 << 16 | 4 << 8 | 9` (spec §2.2).
const CLIENT_VERSION: &str = "132105";
/// `iLink-App-Id`: the `ilink_appid` of the plugin's package.json (spec §2.2).
const APP_ID: &str = "bot";

const MARKER: &str = "[[ECHO:FIDELITY-1]]";
const REPLY: &str = "ECHO: FIDELITY-1";

fn step(name: &str) {
    eprintln!("\n== fidelity: {name}");
}

/// One official client against its simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// Tencent's WeChat plugin in the real gateway against the iLink simulator.
    Weixin,
    /// `@openim/client-sdk` under Node against the OpenIM simulator.
    Openim,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Weixin => "weixin",
            Client::Openim => "openim",
        }
    }
}

/// Runs every check (or the one of `only`), then prints `fidelity: N passed, M failed`.
pub fn run(keep: bool, only: Option<Client>) -> Result {
    let mut passed = 0;
    let mut failed = Vec::new();
    for client in [Client::Openim, Client::Weixin] {
        if only.is_some_and(|o| o != client) {
            continue;
        }
        let result = match client {
            Client::Weixin => weixin(keep),
            Client::Openim => openim::run(keep),
        };
        match result {
            Ok(()) => passed += 1,
            Err(err) => {
                eprintln!("\nfidelity: {}: {err}", client.name());
                failed.push(client.name());
            }
        }
    }
    println!("fidelity: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fidelity failed: {}", failed.join(", ")).into())
    }
}

/// Where Tencent's plugin writes its own log whatever the config says (OpenClaw's preferred
/// temp dir, which is fixed).
pub(crate) const TENCENT_TMP: &str = crate::OPENCLAW_TMP;

/// The files in `dir` now.
pub(crate) fn files_in(dir: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Moves what the run added to Tencent's temp dir into the run's own directory, so it is kept
/// with the other logs on failure and removed with them on success; files that were there
/// before (another OpenClaw on this machine) stay. The directory itself goes at the end of the
/// xtask command if the command created it.
pub(crate) fn collect_tencent_tmp(before: &BTreeSet<PathBuf>, run: &Path) -> Result {
    let tmp = Path::new(TENCENT_TMP);
    let added: Vec<PathBuf> = files_in(tmp).difference(before).cloned().collect();
    if !added.is_empty() {
        let into = run.join("tencent-tmp");
        fs::create_dir_all(&into)?;
        for file in added {
            if let Some(name) = file.file_name() {
                fs::copy(&file, into.join(name))?;
            }
            fs::remove_file(&file)?;
        }
    }
    Ok(())
}

fn weixin(keep: bool) -> Result {
    let dir = root().join("target/fidelity/run");
    let started = Instant::now();
    let tmp_before = files_in(Path::new(TENCENT_TMP));
    let mut stack = Stack::new(&dir)?;
    let result = scenario(&mut stack);
    stack.gateway.stop()?;
    collect_tencent_tmp(&tmp_before, &dir)?;
    match &result {
        Ok(()) => {
            eprintln!(
                "\nfidelity: {PACKAGE}@{VERSION} completed the round trip in {:.0}s",
                started.elapsed().as_secs_f64()
            );
            if !keep {
                let _ = fs::remove_dir_all(&dir);
            }
        }
        Err(_) => {
            eprintln!(
                "\nfidelity: failed; gateway logs and state are in {} (Tencent's plugin's own \
                 log, which it writes to {TENCENT_TMP}, is in tencent-tmp/ there)",
                dir.display()
            );
        }
    }
    result
}

fn scenario(stack: &mut Stack) -> Result {
    step(&format!(
        "install {PACKAGE}@{VERSION} from the npm registry"
    ));
    let installed = install_tencent(stack, &stack.gateway.dir.join("pack"))?;
    eprintln!("installed at {}", installed.display());

    step("log the account in the way the plugin does after a QR scan");
    // Its channel schema is strict (`additionalProperties: false`): only `replyProgressMessages`
    // and `quoteCache` are allowed. It reads the API base from the account file, never from config,
    // and allows exactly the account's `userId` (dmPolicy is hard-coded to pairing).
    stack.configure_channel(json!({ "replyProgressMessages": true }))?;
    stack.log_in()?;

    step("start the gateway; the account comes online and polls");
    stack.launch()?;
    wait_for_request(stack, "/ilink/bot/getupdates", Duration::from_secs(60))?;

    step("the owner's text comes back as the model's reply, with its context token");
    let bot = stack.bot.bot_id.clone();
    let owner = stack.bot.owner.clone();
    let inbound = stack.sim.inject_text(&bot, &owner, MARKER);
    let reply = stack.wait_sent("round trip", TURN, |s| {
        s.to_user_id == owner && s.text.as_deref() == Some(REPLY)
    })?;
    check(
        reply.context_token.as_deref() == Some(inbound.context_token.as_str()),
        format!(
            "reply context token {:?} != inbound {:?}",
            reply.context_token, inbound.context_token
        ),
    )?;
    let refused: Vec<_> = stack
        .sim
        .sent(&bot)
        .into_iter()
        .filter(|s| !s.accepted)
        .map(|s| (s.text, s.result))
        .collect();
    check(
        refused.is_empty(),
        format!("the simulator refused sends of the official client: {refused:?}"),
    )?;

    let msg = &reply.body["msg"];
    check(
        msg["message_type"] == 2
            && msg["message_state"] == 2
            && msg["item_list"].as_array().map(Vec::len) == Some(1)
            && msg["client_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("openclaw-weixin:")),
        format!("the reply is not shaped as spec §3.4 says: {msg}"),
    )?;

    step("stopped, the account says goodbye (notifystop)");
    stack.gateway.stop()?;
    check(
        !stack.sim.online(&bot),
        "the simulator still has the account online after the gateway stopped",
    )?;

    step("every request carried the headers and base_info of spec §2.2/§2.3");
    let requests = stack.sim.requests();
    check_requests(&requests, &stack.bot.token)?;
    let mut per_path: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &requests {
        *per_path.entry(r.path.as_str()).or_default() += 1;
    }
    eprintln!("requests: {per_path:?}");
    eprintln!("typing: {:?}", stack.sim.typing(&bot));
    Ok(())
}

/// Installs Tencent's plugin, pinned, into the stack's gateway from its npm tarball, which is
/// fetched into `pack` unless it is there already; returns where the install put it.
pub(crate) fn install_tencent(stack: &Stack, pack: &Path) -> Result<PathBuf> {
    // It has npm dependencies (qrcode-terminal, zod), which only a tarball install brings along.
    let tarball = match tencent_tarball(pack) {
        Some(tarball) => tarball,
        None => {
            let sh = Shell::new()?;
            let _path = sh.push_env("PATH", stack.gateway.toolchain().path_env());
            toolchain::npm_pack(&sh, &format!("{PACKAGE}@{VERSION}"), pack)?
        }
    };
    stack.install_plugin(&format!("npm-pack:{}", tarball.display()))?;
    installed_package(&stack.gateway.state)
}

/// The pinned tarball of Tencent's plugin in `pack`, if it was fetched before.
pub(crate) fn tencent_tarball(pack: &Path) -> Option<PathBuf> {
    let tarball = pack.join(format!(
        "{}-{VERSION}.tgz",
        PACKAGE.trim_start_matches('@').replace('/', "-")
    ));
    tarball.is_file().then_some(tarball)
}

/// Where the npm-pack install put the package (`<state>/npm/projects/.../node_modules/<pkg>`), after
/// checking it is the pinned version.
fn installed_package(state: &Path) -> Result<PathBuf> {
    let mut found = Vec::new();
    find_dirs(&state.join("npm"), PACKAGE, 8, &mut found);
    let dir = found
        .into_iter()
        .find(|d| d.join("package.json").is_file())
        .ok_or_else(|| format!("{PACKAGE} is not under {}/npm", state.display()))?;
    let manifest: Value = serde_json::from_str(&fs::read_to_string(dir.join("package.json"))?)?;
    check(
        manifest["version"] == VERSION,
        format!(
            "installed {PACKAGE} is {}, not {VERSION}",
            manifest["version"]
        ),
    )?;
    Ok(dir)
}

/// Directories below `dir` whose path ends with `suffix` (e.g. `@scope/name`).
fn find_dirs(dir: &Path, suffix: &str, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if path.ends_with(suffix) {
            found.push(path);
        } else if depth > 0 {
            find_dirs(&path, suffix, depth - 1, found);
        }
    }
}

fn wait_for_request(stack: &Stack, path: &str, limit: Duration) -> Result {
    let seen = poll(limit, Duration::from_millis(200), || {
        Ok(stack
            .sim
            .requests()
            .iter()
            .any(|r| r.path == path)
            .then_some(()))
    })?;
    if seen.is_some() {
        return Ok(());
    }
    Err(format!(
        "no {path} after {limit:?}; requests: {:?}\n{}",
        stack
            .sim
            .requests()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>(),
        tail(&stack.gateway.log(), 80)
    )
    .into())
}

/// What the official client sends on every bot call (spec §2.2, §2.3, Appendix A).
fn check_requests(requests: &[RequestRecord], token: &str) -> Result {
    let bearer = format!("Bearer {token}");
    let base_info = json!({ "channel_version": VERSION, "bot_agent": "OpenClaw" });
    let mut problems = Vec::new();
    let mut uins = BTreeSet::new();
    for r in requests {
        let header = |name: &str| r.headers.get(name).map(String::as_str);
        let mut expect = |ok: bool, what: String| {
            if !ok {
                problems.push(format!("{} {}: {what}", r.method, r.path));
            }
        };
        expect(r.method == "POST", format!("method {}", r.method));
        expect(
            header("ilink-app-id") == Some(APP_ID),
            format!("iLink-App-Id {:?}", header("ilink-app-id")),
        );
        expect(
            header("ilink-app-clientversion") == Some(CLIENT_VERSION),
            format!(
                "iLink-App-ClientVersion {:?}",
                header("ilink-app-clientversion")
            ),
        );
        expect(
            header("authorizationtype") == Some("ilink_bot_token"),
            format!("AuthorizationType {:?}", header("authorizationtype")),
        );
        let uin = header("x-wechat-uin").unwrap_or_default();
        expect(valid_uin(uin), format!("X-WECHAT-UIN {uin:?}"));
        expect(
            uins.insert(uin.to_owned()),
            format!("X-WECHAT-UIN {uin:?} reused"),
        );
        expect(
            header("authorization") == Some(bearer.as_str()),
            "Authorization is not `Bearer <token>`".into(),
        );
        expect(
            header("content-type").is_some_and(|v| v.starts_with("application/json")),
            format!("Content-Type {:?}", header("content-type")),
        );
        let body_info = r.body.as_ref().and_then(|b| b.get("base_info"));
        expect(
            body_info == Some(&base_info),
            format!("base_info {body_info:?}"),
        );
    }
    for path in [
        "/ilink/bot/msg/notifystart",
        "/ilink/bot/getupdates",
        "/ilink/bot/getconfig",
        "/ilink/bot/sendmessage",
        "/ilink/bot/msg/notifystop",
    ] {
        if !requests.iter().any(|r| r.path == path) {
            problems.push(format!("no {path} request"));
        }
    }
    check(
        problems.is_empty(),
        format!(
            "the official client's requests differ from the spec:\n  {}",
            problems.join("\n  ")
        ),
    )
}
