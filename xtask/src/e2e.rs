//! `cargo xtask e2e`: the packaged plugin inside the real OpenClaw gateway, talking to the iLink
//! simulator, with the mock model as the agent's LLM.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use imsim::ilink::{Bot, Fault, IlinkOptions, IlinkSim, Sent};
use imsim::model::MockModel;
use serde_json::{Value, json};

use crate::gateway::{Gateway, tail};
use crate::{Result, package, root, toolchain};

const CHANNEL: &str = "openclaw-weixin";
/// The first turn warms the agent runtime up; later ones take about a second.
pub const TURN: Duration = Duration::from_secs(150);

/// Simulators, mock model and a gateway with the plugin installed and one WeChat account.
pub struct Stack {
    pub sim: IlinkSim,
    pub model: MockModel,
    pub bot: Bot,
    pub account: String,
    pub gateway: Gateway,
    /// Runs the simulators' servers; declared last so they stop before it does.
    runtime: tokio::runtime::Runtime,
}

impl Stack {
    /// Builds everything under `dir` with our packaged plugin and starts the gateway.
    /// `allow_from` seeds the config.
    pub fn start(dir: &Path, allow_from: &[String]) -> Result<Self> {
        let mut stack = Self::prepare(dir, allow_from, package::run(None, true)?)?;
        stack.launch()?;
        Ok(stack)
    }

    /// [`Stack::start`] up to the launch, with `plugin` (all channels or one alone, release or
    /// debug), so the caller may adjust the gateway first.
    pub fn prepare(dir: &Path, allow_from: &[String], plugin: package::Packaged) -> Result<Self> {
        let mut stack = Self::new(dir)?;
        // The Yunxin part drives a stub of NetEase's SDK inside the gateway through files.
        stack
            .gateway
            .env
            .extend(crate::e2e_yunxin::StubFiles::in_dir(dir).env());
        // The channel section is valid only once the plugin that owns it is installed.
        stack.install_packaged(&plugin)?;
        stack.configure_channel(json!({
            "dmPolicy": "pairing",
            "allowFrom": allow_from,
            "loginBaseUrl": stack.sim.base_url(),
            "accounts": { &stack.account: { "baseUrl": stack.sim.base_url() } },
        }))?;
        stack.log_in()?;
        Ok(stack)
    }

    /// A fresh `dir` with the simulator (one bot), the mock model and a configured gateway that is
    /// not started and has no channel plugin yet.
    pub fn new(dir: &Path) -> Result<Self> {
        let toolchain = toolchain::ensure()?;
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let sim = rt.block_on(IlinkSim::start(IlinkOptions::default()))?;
        let model = rt.block_on(MockModel::start(0))?;
        let bot = IlinkSim::new_bot();
        sim.add_bot(bot.clone());
        let account = weixin_account_id(&bot.bot_id);
        let gateway = Gateway::new(dir, toolchain)?;
        gateway.write_config(&gateway.base_config(&model.base_url()))?;
        Ok(Self {
            sim,
            model,
            bot,
            account,
            gateway,
            runtime: rt,
        })
    }

    /// The runtime the simulators live on, for work that must run beside them.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// `openclaw plugins install <spec> --force --accept-capabilities`; `spec` is a directory or
    /// `npm-pack:<tarball>`.
    pub fn install_plugin(&self, spec: &str) -> Result {
        self.gateway.cli(&[
            "plugins",
            "install",
            spec,
            "--force",
            "--accept-capabilities",
        ])?;
        Ok(())
    }

    /// Installs the packed plugin as a registry install would: OpenClaw runs npm on the
    /// archive, and npm fetches the platform package (the addon) from a registry, here a local
    /// one that serves it and hands every other package to registry.npmjs.org. Checks that npm
    /// asked for it and that the installed tree holds the addon.
    pub fn install_packaged(&mut self, packaged: &package::Packaged) -> Result {
        let registry = crate::registry::LocalRegistry::start(
            &self.runtime,
            std::slice::from_ref(&packaged.platform),
        )?;
        let spec = format!("npm-pack:{}", packaged.tarball.display());
        self.gateway
            .env
            .push(("npm_config_registry".into(), registry.url()));
        let installed = self.install_plugin(&spec);
        self.gateway
            .env
            .retain(|(key, _)| key != "npm_config_registry");
        installed?;
        let platform = packaged.platform.manifest["name"]
            .as_str()
            .unwrap_or_default();
        check(
            registry.asked().iter().any(|name| name == platform),
            format!("npm never asked the registry for {platform}"),
        )?;
        let addon = packaged.platform.manifest["main"]
            .as_str()
            .unwrap_or_default();
        let found = files_named(&self.gateway.state, addon);
        check(
            found
                .iter()
                .any(|path| path.parent().is_some_and(|dir| dir.ends_with(platform))),
            format!("no {platform}/{addon} in the installed plugin (found {found:?})"),
        )?;
        Ok(())
    }

    /// Replaces `channels.openclaw-weixin` in the config.
    pub fn configure_channel(&self, section: Value) -> Result {
        let mut config = self.gateway.read_config()?;
        config["channels"][CHANNEL] = section;
        self.gateway.write_config(&config)
    }

    /// Logs the bot in the way Tencent's plugin leaves an account after a QR scan (spec §5 step 4,
    /// §11): the account index and `accounts/<id>.json` with token, save time, the `baseurl` the
    /// server handed out, and the scanning user.
    pub fn log_in(&self) -> Result {
        let channel_dir = self.gateway.state.join(CHANNEL);
        fs::create_dir_all(channel_dir.join("accounts"))?;
        fs::write(
            channel_dir.join("accounts.json"),
            serde_json::to_string_pretty(&[&self.account])?,
        )?;
        // A real `confirmed` answer carries `baseurl` without a trailing slash
        // (`https://ilinkai.weixin.qq.com`); clients add one before resolving endpoints.
        let base_url = self.sim.base_url().trim_end_matches('/').to_owned();
        let file = json!({
            "token": self.bot.token,
            "savedAt": "2026-11-22T00:00:00.000Z",
            "baseUrl": base_url,
            "userId": self.bot.owner,
        });
        fs::write(
            channel_dir.join(format!("accounts/{}.json", self.account)),
            serde_json::to_string_pretty(&file)?,
        )?;
        Ok(())
    }

    /// Starts the gateway and waits until the account is online at the simulator.
    pub fn launch(&mut self) -> Result {
        self.gateway.start()?;
        self.wait_online()
    }

    /// The account announced itself (`notifystart`) to the simulator.
    pub fn wait_online(&self) -> Result {
        self.wait_bot_online(&self.bot.bot_id, &self.account)
    }

    pub fn wait_bot_online(&self, bot_id: &str, account: &str) -> Result {
        let online = poll(Duration::from_secs(120), TICK, || {
            Ok(self.sim.online(bot_id).then_some(()))
        })?;
        online.ok_or_else(|| {
            format!(
                "account {account} never came online:\n{}",
                tail(&self.gateway.log(), 80)
            )
            .into()
        })
    }

    /// Waits for an accepted send that matches.
    pub fn wait_sent(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Sent) -> bool,
    ) -> Result<Sent> {
        self.wait_sent_by(&self.bot.bot_id, what, limit, pred)
    }

    /// Waits for an accepted send of bot `bot_id` that matches.
    pub fn wait_sent_by(
        &self,
        bot_id: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Sent) -> bool,
    ) -> Result<Sent> {
        let found = poll(limit, TICK, || {
            Ok(self
                .sim
                .sent(bot_id)
                .into_iter()
                .find(|s| s.accepted && pred(s)))
        })?;
        found.ok_or_else(|| {
            let sent: Vec<_> = self
                .sim
                .sent(bot_id)
                .into_iter()
                .map(|s| (s.to_user_id, s.text, s.result))
                .collect();
            format!(
                "{what}: nothing after {limit:?}; sent so far: {sent:?}\n{}",
                tail(&self.gateway.log(), 80)
            )
            .into()
        })
    }

    pub fn texts_to(&self, peer: &str) -> Vec<String> {
        self.sim
            .sent(&self.bot.bot_id)
            .into_iter()
            .filter(|s| s.accepted && s.to_user_id == peer)
            .filter_map(|s| s.text)
            .collect()
    }
}

/// Polls `probe` until it yields a value, or fails naming `what`.
pub fn wait<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Result<T> {
    poll(limit, Duration::from_millis(300), || Ok(probe()))?
        .ok_or_else(|| format!("timed out waiting for {what}").into())
}

/// Polls `probe` every `every` until it yields a value; `None` once `limit` has passed.
pub fn poll<T>(
    limit: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe()? {
            return Ok(Some(value));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(every);
    }
}

const TICK: Duration = Duration::from_millis(250);
/// What the gateway logs when it restarts our channel.
const CHANNEL_RESTART: &str = "restarting openclaw-weixin channel";

/// OpenClaw's account-id normalization of a bot id (`abc@im.bot` → `abc-im-bot`).
pub fn weixin_account_id(bot_id: &str) -> String {
    bot_id.to_lowercase().replace(['@', '.'], "-")
}

/// When the suite started: each step prints how far in it begins, since CI's time budget is
/// spent mostly here.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Announces a step of one part of the suite (`""` for WeChat's).
pub fn step_of(part: &str, name: &str) {
    let at = STARTED.get_or_init(Instant::now).elapsed().as_secs();
    let part = if part.is_empty() {
        String::new()
    } else {
        format!(" {part}")
    };
    eprintln!("\n== e2e{part} [{at}s]: {name}");
}

fn step(name: &str) {
    step_of("", name);
}

/// `openclaw channels add --channel <channel> --help` lists each of `flags`: they come from
/// catalog metadata, which the host reads before loading the plugin.
pub(crate) fn check_add_flags(stack: &Stack, channel: &str, flags: &[&str]) -> Result {
    let help = stack
        .gateway
        .cli(&["channels", "add", "--channel", channel, "--help"])?;
    for flag in flags {
        check(
            help.contains(flag),
            format!("channels add --help lacks {flag}:\n{help}"),
        )?;
    }
    Ok(())
}

pub(crate) fn check(ok: bool, what: impl Into<String>) -> Result {
    if ok { Ok(()) } else { Err(what.into().into()) }
}

/// The networks, each a part of the suite (and of the sandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Weixin,
    Openim,
    Yunxin,
}

impl Part {
    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            Part::Weixin => "weixin",
            Part::Openim => "openim",
            Part::Yunxin => "yunxin",
        }
    }
}

/// What `cargo xtask e2e --only` runs: one network's part, or the drop-in part (ours in place
/// of the TypeScript plugins: identity, and Tencent's plugin beside ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    Weixin,
    Openim,
    Yunxin,
    Dropin,
}

impl Only {
    fn part(self) -> Option<Part> {
        match self {
            Only::Weixin => Some(Part::Weixin),
            Only::Openim => Some(Part::Openim),
            Only::Yunxin => Some(Part::Yunxin),
            Only::Dropin => None,
        }
    }
}

pub fn run(keep: bool, only: Option<Only>) -> Result {
    let dir = root().join("target/e2e/run");
    let allowed = IlinkSim::new_bot().owner;
    let stranger = IlinkSim::new_bot().owner;
    let started = *STARTED.get_or_init(Instant::now);
    let plugin = package::run(None, true)?;
    let mut stack = Stack::prepare(&dir, std::slice::from_ref(&allowed), plugin.clone())?;
    let network = only.and_then(Only::part);
    let runs = |part| only.is_none() || network == Some(part);
    let result = (|| {
        // The drop-in part brings gateways of its own.
        if only != Some(Only::Dropin) {
            stack.launch()?;
            // The sandbox's networks, with what only the e2e needs beside them.
            step("the sandbox's OpenIM (two servers) and Yunxin (server API) accounts connect");
            let networks = crate::sandbox::Networks::start(&stack, network, |config| {
                if runs(Part::Openim) {
                    crate::e2e_openim::allow_bulk_peers(config);
                }
                if runs(Part::Yunxin) {
                    crate::e2e_yunxin::add_sdk_account(&stack, config)?;
                }
                Ok(())
            })?;
            step("the sandbox's commands, run as it prints them, get the bot's replies");
            crate::sandbox::run_plays(&stack, &networks)?;
            if runs(Part::Weixin) {
                scenario(&mut stack, &allowed, &stranger)?;
            }
            if runs(Part::Openim) {
                crate::e2e_openim::scenario(&mut stack, &networks.openim)?;
            }
            if let Some(server) = &networks.yunxin {
                crate::e2e_yunxin::scenario(&stack, server)?;
            }
            step("the gateway log has no deprecation warning from imbridge");
            let log = stack.gateway.log();
            let deprecations = deprecations_from_us(&log);
            check(
                deprecations.is_empty(),
                format!(
                    "deprecation warnings from imbridge:\n{}",
                    deprecations.join("\n")
                ),
            )?;
        }
        if only.is_none_or(|only| only == Only::Dropin) {
            crate::e2e_dropin::scenario(&dir.join("drop-in"))?;
            crate::e2e_dropin::beside_tencent(&dir.join("beside"), &plugin)?;
        }
        Ok(())
    })();
    stack.gateway.stop()?;
    match &result {
        Ok(()) => {
            eprintln!(
                "\ne2e: all steps passed in {:.0}s",
                started.elapsed().as_secs_f64()
            );
            println!("e2e: 1 passed, 0 failed");
            if !keep {
                let _ = fs::remove_dir_all(&dir);
            }
        }
        Err(_) => eprintln!(
            "\ne2e: failed; gateway logs and state are in {}",
            dir.display()
        ),
    }
    result
}

/// Lines of a gateway log that warn of something deprecated and name this plugin or one of
/// its channels: the host's inbound API moved (`finalizeInboundContext`, `Media*` fields), and
/// the turn must use the current one.
fn deprecations_from_us(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.to_lowercase().contains("deprecat"))
        .filter(|line| {
            [
                "imbridge",
                "openclaw-weixin",
                "multi-openim",
                "netease-yunxin",
            ]
            .iter()
            .any(|ours| line.contains(ours))
        })
        .collect()
}

fn scenario(stack: &mut Stack, allowed: &str, stranger: &str) -> Result {
    let bot = stack.bot.bot_id.clone();

    step("an allowed peer's text comes back as the model's reply, with its context token");
    let first = stack
        .sim
        .inject_text(&bot, allowed, "[[ECHO:ROUND-TRIP-1]]");
    let reply = stack.wait_sent("round trip", TURN, |s| s.to_user_id == allowed)?;
    check(
        reply.text.as_deref() == Some("ECHO: ROUND-TRIP-1"),
        format!("reply text {:?}", reply.text),
    )?;
    check(
        reply.context_token.as_deref() == Some(first.context_token.as_str()),
        format!(
            "reply context token {:?} != inbound {:?}",
            reply.context_token, first.context_token
        ),
    )?;

    step("the same message redelivered gets no second reply");
    stack.sim.redeliver(&bot, first.message_id);
    std::thread::sleep(Duration::from_secs(8));
    let texts = stack.texts_to(allowed);
    check(
        texts == ["ECHO: ROUND-TRIP-1"],
        format!("after redelivery the peer got {texts:?}"),
    )?;

    step("an unknown peer gets a pairing code; after approval it is answered");
    stack.sim.inject_text(&bot, stranger, "hello, who are you?");
    let pairing = stack.wait_sent("pairing reply", TURN, |s| s.to_user_id == stranger)?;
    let text = pairing.text.unwrap_or_default();
    let code = pairing_code(&text).ok_or_else(|| format!("no pairing code in {text:?}"))?;
    let restarts = stack.gateway.log().matches(CHANNEL_RESTART).count();
    let approved = stack.gateway.cli(&["pairing", "approve", CHANNEL, &code])?;
    eprintln!("{}", approved.trim());
    // The first approval writes `commands.ownerAllowFrom`, and OpenClaw restarts the channel at
    // once, cutting any turn in flight (see the issue note). Talk again once it is back.
    poll(Duration::from_secs(30), TICK, || {
        Ok((stack.gateway.log().matches(CHANNEL_RESTART).count() > restarts).then_some(()))
    })?;
    std::thread::sleep(Duration::from_secs(3));
    stack.wait_online()?;
    stack.sim.inject_text(&bot, stranger, "[[ECHO:PAIRED]]");
    stack.wait_sent("reply after approval", TURN, |s| {
        s.to_user_id == stranger && s.text.as_deref() == Some("ECHO: PAIRED")
    })?;

    step("channels status --probe shows the account connected");
    let status = stack.gateway.cli(&["channels", "status", "--probe"])?;
    eprintln!("{}", status.trim());
    let line = status
        .lines()
        .find(|l| l.contains(&stack.account))
        .unwrap_or_default()
        .to_lowercase();
    check(
        line.contains("connected") && !line.contains("disconnected"),
        format!("status line {line:?}"),
    )?;
    step("channels status --probe --json shows the account's traffic and backlog");
    let json = stack
        .gateway
        .cli(&["channels", "status", "--probe", "--json"])?;
    let status: Value = serde_json::from_str(&json[json.find('{').unwrap_or(0)..])
        .map_err(|e| format!("channels status --json: {e}: {json}"))?;
    check(
        !json.contains(&stack.bot.token),
        "the bot token appears in channels status --json",
    )?;
    let snapshot = status["channelAccounts"][CHANNEL]
        .as_array()
        .and_then(|accounts| {
            accounts
                .iter()
                .find(|a| a["accountId"] == stack.account.as_str())
        })
        .cloned()
        .ok_or_else(|| format!("no snapshot of {} in {json}", stack.account))?;
    for field in [
        "lastInboundAt",
        "lastOutboundAt",
        "lastConnectedAt",
        "pendingTurns",
        "pendingPeers",
        "queuedReplies",
        "windowsClosing",
    ] {
        check(
            snapshot[field].is_number(),
            format!("{field} in the snapshot: {snapshot}"),
        )?;
    }
    check(
        snapshot["connected"] == true,
        format!("connected in the snapshot: {snapshot}"),
    )?;

    step("openclaw message send reaches the simulator");
    stack.gateway.cli(&[
        "message",
        "send",
        "--channel",
        CHANNEL,
        "--target",
        allowed,
        "--message",
        "hi from the cli",
    ])?;
    stack.wait_sent("message send", Duration::from_secs(30), |s| {
        s.text.as_deref() == Some("hi from the cli")
    })?;

    step(
        "openclaw channels add --channel wechat reaches this plugin (not Tencent's catalog entry) and points to the QR login",
    );
    let config = stack.gateway.read_config()?;
    let refused = match stack.gateway.cli(&[
        "channels",
        "add",
        "--channel",
        "wechat",
        "--account",
        "new-bot",
    ]) {
        Ok(out) => return Err(format!("channels add made a WeChat account: {out}").into()),
        Err(err) => err.to_string(),
    };
    eprintln!("{}", crate::gateway::tail(&refused, 2));
    check(
        refused.contains("openclaw channels login --channel openclaw-weixin"),
        format!("channels add did not point to the login: {refused}"),
    )?;
    check(
        stack.gateway.read_config()? == config,
        "a refused channels add changed the config",
    )?;

    step("a 502 from getupdates is logged, classified and retried");
    stack.sim.fault(&bot, Fault::HttpStatus(502));
    stack.sim.fault(&bot, Fault::NonJson200);
    stack
        .sim
        .inject_text(&bot, allowed, "[[ECHO:AFTER-FAULTS]]");
    stack.wait_sent("reply after faults", TURN, |s| {
        s.text.as_deref() == Some("ECHO: AFTER-FAULTS")
    })?;
    let log = stack.gateway.log();
    check(
        log.contains("getupdates: HTTP 502"),
        "the gateway log does not show the classified 502",
    )?;

    step(
        "killed and restarted, the gateway resumes from the saved cursor: nothing replayed, nothing lost",
    );
    stack.gateway.kill()?;
    stack.sim.inject_text(&bot, allowed, "[[ECHO:WHILE-DOWN]]");
    stack.gateway.start()?;
    stack.wait_online()?;
    stack.wait_sent("reply to the message sent while down", TURN, |s| {
        s.text.as_deref() == Some("ECHO: WHILE-DOWN")
    })?;
    std::thread::sleep(Duration::from_secs(8));
    let texts = stack.texts_to(allowed);
    for marker in [
        "ECHO: ROUND-TRIP-1",
        "ECHO: AFTER-FAULTS",
        "ECHO: WHILE-DOWN",
    ] {
        let count = texts.iter().filter(|t| *t == marker).count();
        check(
            count == 1,
            format!("{marker:?} was sent {count} times: {texts:?}"),
        )?;
    }

    long_reply(stack, allowed)?;
    streamed_reply(stack, allowed)?;
    context_window(stack, allowed)?;
    media_both_ways(stack, allowed)?;
    voice_both_ways(stack, allowed)?;
    session_expiry_and_qr_login(stack)
}

/// A small real PNG (hosts sniff media types), different for each `seed`.
pub fn png(seed: u8) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, seed]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// Starts a canary on another loopback address than the simulators', has `deliver` send the
/// bot a picture at its URL and wait for the turn's reply, then checks that the canary got no
/// request and that the agent was told the picture was refused.
pub fn canary_never_fetched(stack: &Stack, deliver: impl FnOnce(&str) -> Result) -> Result {
    let canary = stack.runtime().block_on(imsim::canary::Canary::start())?;
    let url = canary.url("/leak.png");
    deliver(&url)?;
    check(
        canary.hits() == 0,
        format!("the canary got {} request(s)", canary.hits()),
    )?;
    agent_saw(stack, &format!("refused to fetch {url}"))
}

/// Fails unless the agent was given `note`: some file of the gateway's agent state (session
/// transcripts live in its SQLite database, which keeps text as it is) holds it.
pub fn agent_saw(stack: &Stack, note: &str) -> Result {
    let root = stack.gateway.state.join("agents");
    let needle = note.as_bytes();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                return Ok(());
            }
        }
    }
    Err(format!(
        "nothing under {} holds {note:?}: the agent was not told",
        root.display()
    )
    .into())
}

/// Files under `dir` (recursively) whose bytes are exactly `bytes`.
/// Files called `name` anywhere under `dir`.
pub fn files_named(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
    files_where(dir, |path| path.file_name().is_some_and(|n| n == name))
}

/// Files holding exactly `bytes` anywhere under `dir`.
pub fn files_with(dir: &Path, bytes: &[u8]) -> Vec<std::path::PathBuf> {
    files_where(dir, |path| fs::read(path).is_ok_and(|b| b == bytes))
}

fn files_where(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                dirs.push(path);
            } else if keep(&path) {
                found.push(path);
            }
        }
    }
    found
}

/// 2.0 s of a voiced tone as mp3, 44.1 kHz stereo (made by npm's lamejs).
const REPLY_MP3: &[u8] =
    include_bytes!("../../crates/channel-core/src/media/fixtures/reply-2000ms.mp3");

/// A voice note from silk-wasm (an independent SILK encoder), 1.5 s long.
const VOICE_NOTE: &[u8] = include_bytes!("../../crates/silk/tests/fixtures/voice-1500ms.silk");

/// `heard` lasts `ms` ± 5 % and is not silence.
fn sounds_like(what: &str, heard: &crate::voice::Heard, ms: f64) -> Result {
    eprintln!(
        "{what}: {:.0} ms, rms {:.0}, {} Hz",
        heard.ms, heard.rms, heard.rate
    );
    check(
        (heard.ms - ms).abs() <= ms * 0.05,
        format!("{what}: {:.0} ms, want {ms:.0} ± 5 %", heard.ms),
    )?;
    check(
        heard.rms > 500.0,
        format!("{what}: silent (rms {:.0})", heard.rms),
    )
}

fn voice_both_ways(stack: &Stack, allowed: &str) -> Result {
    step(
        "a WeChat voice note (SILK) reaches the agent as WAV that another decoder plays for 1.5 s",
    );
    let bot = stack.bot.bot_id.clone();
    let media_dir = stack.gateway.state.join("media");
    let before = files_where(&media_dir, |p| p.extension().is_some_and(|e| e == "wav"));
    stack.sim.inject_media(
        &bot,
        allowed,
        imsim::ilink::MediaSpec::voice(VOICE_NOTE.to_vec())
            .with_playtime(1_500)
            .with_caption("[[ECHO:GOT-VOICE]]"),
    );
    stack.wait_sent("reply to the voice note", TURN, |s| {
        s.text.as_deref() == Some("ECHO: GOT-VOICE")
    })?;
    let stored: Vec<_> = files_where(&media_dir, |p| p.extension().is_some_and(|e| e == "wav"))
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let [wav] = stored.as_slice() else {
        return Err(format!("want one new WAV in the host's media store, found {stored:?}").into());
    };
    sounds_like("the stored voice note", &crate::voice::wav(wav)?, 1_500.0)?;
    let name = wav.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    agent_saw(stack, name)?;

    step(
        "an agent reply with an mp3 reaches the simulator as a voice note another decoder plays for 2 s",
    );
    let workspace = stack.gateway.state.join("workspace");
    fs::create_dir_all(&workspace)?;
    let reply = workspace.join("e2e-answer.mp3");
    fs::write(&reply, REPLY_MP3)?;
    let uploads_before = stack.sim.uploaded().len();
    let say = format!("[[SAY:listen\\nMEDIA:{}]]", reply.display());
    stack.sim.inject_text(&bot, allowed, &say);
    let voice_of = |s: &imsim::ilink::Sent| {
        s.items
            .as_array()
            .and_then(|items| items.iter().find(|i| i["type"] == 3))
            .map(|i| i["voice_item"].clone())
    };
    let sent = stack.wait_sent("the voice message", TURN, |s| voice_of(s).is_some())?;
    let sent = voice_of(&sent).unwrap_or_default();
    let upload = stack
        .sim
        .uploaded()
        .into_iter()
        .skip(uploads_before)
        .find(|u| u.accepted && u.media_type == 4)
        .ok_or("no accepted voice upload")?;
    let note = workspace.join("e2e-answer.silk");
    fs::write(&note, &upload.plaintext)?;
    let heard = crate::voice::silk(&note);
    let _ = fs::remove_file(&note);
    let heard = heard?;
    sounds_like("the voice reply", &heard, 2_000.0)?;
    let playtime = sent["playtime"].as_f64().unwrap_or(0.0);
    check(
        (playtime - heard.ms).abs() <= heard.ms * 0.05 && sent["encode_type"] == 6,
        format!(
            "voice_item says playtime {playtime} ms, encode_type {}; it plays {:.0} ms",
            sent["encode_type"], heard.ms
        ),
    )?;
    Ok(())
}

fn media_both_ways(stack: &Stack, allowed: &str) -> Result {
    step("an image sent to the bot arrives in the host's media store, decrypted byte-exact");
    let bot = stack.bot.bot_id.clone();
    let inbound = png(1)?;
    stack.sim.inject_media(
        &bot,
        allowed,
        imsim::ilink::MediaSpec::image(inbound.clone()).with_caption("[[ECHO:GOT-IMAGE]]"),
    );
    stack.wait_sent("reply to the image", TURN, |s| {
        s.text.as_deref() == Some("ECHO: GOT-IMAGE")
    })?;
    let stored = files_with(&stack.gateway.state.join("media"), &inbound);
    check(
        !stored.is_empty(),
        "no file in the host's media store has the image's bytes",
    )?;
    eprintln!("stored as {}", stored[0].display());

    step("an image whose full_url points at another loopback address is never fetched");
    canary_never_fetched(stack, |url| {
        stack.sim.inject_media(
            &bot,
            allowed,
            imsim::ilink::MediaSpec::image(png(3)?)
                .with_full_url_elsewhere(url)
                .with_caption("[[ECHO:CANARY-IMAGE]]"),
        );
        stack.wait_sent("reply to the canary image", TURN, |s| {
            s.text.as_deref() == Some("ECHO: CANARY-IMAGE")
        })?;
        Ok(())
    })?;

    step("an agent reply with an image reaches the simulator's CDN and decrypts byte-exact");
    let outbound = png(2)?;
    let workspace = stack.gateway.state.join("workspace");
    fs::create_dir_all(&workspace)?;
    let file = workspace.join("e2e-reply.png");
    fs::write(&file, &outbound)?;
    let say = format!("[[SAY:here is the picture\\nMEDIA:{}]]", file.display());
    stack.sim.inject_text(&bot, allowed, &say);
    let upload = poll(TURN, TICK, || {
        Ok(stack
            .sim
            .uploaded()
            .into_iter()
            .find(|u| u.accepted && u.plaintext == outbound))
    })?;
    let Some(upload) = upload else {
        let seen: Vec<_> = stack
            .sim
            .uploaded()
            .iter()
            .map(|u| (u.plaintext.len(), u.accepted, u.error.clone()))
            .collect();
        return Err(format!(
            "no upload of the reply image; uploads: {seen:?}\n{}",
            tail(&stack.gateway.log(), 60)
        )
        .into());
    };
    check(upload.md5_ok, "the upload's MD5 does not match")?;
    stack.wait_sent("the image message", Duration::from_secs(30), |s| {
        s.items
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["type"] == 2))
    })?;
    Ok(())
}

/// Texts the peer received after the first `skip` ones.
fn texts_since(stack: &Stack, peer: &str, skip: usize) -> Vec<String> {
    stack.texts_to(peer).into_iter().skip(skip).collect()
}

/// Whether `pieces`, one after the other, are the mock model's `[[LONG:n]]` text `expected`
/// (the channel cuts it where it likes; whitespace at the cuts may differ).
pub fn make_whole(pieces: &[String], expected: &str) -> bool {
    pieces
        .join("\n\n")
        .split_whitespace()
        .eq(expected.split_whitespace())
}

/// The character count of each piece.
pub fn lens(pieces: &[String]) -> Vec<usize> {
    pieces.iter().map(|p| p.chars().count()).collect()
}

/// Sends `ask` (which makes the mock model answer `long_text(chars)`) and waits until the
/// pieces `allowed` receives make that text whole; the pieces.
fn long_answer(stack: &Stack, allowed: &str, chars: usize, ask: &str) -> Result<Vec<String>> {
    let before = stack.texts_to(allowed).len();
    let expected = imsim::model::long_text(chars);
    stack.sim.inject_text(&stack.bot.bot_id, allowed, ask);
    let whole = poll(TURN, TICK, || {
        let pieces = texts_since(stack, allowed, before);
        Ok(make_whole(&pieces, &expected).then_some(pieces))
    })?;
    whole.ok_or_else(|| {
        format!(
            "the {chars}-character answer is incomplete: pieces of {:?} characters",
            lens(&texts_since(stack, allowed, before))
        )
        .into()
    })
}

fn long_reply(stack: &Stack, allowed: &str) -> Result {
    step("a 10,000-character reply arrives whole, in order, in chunks");
    let pieces = long_answer(stack, allowed, 10_000, "[[LONG:10000]]")?;
    check(pieces.len() > 1, "one piece for 10,000 characters")?;
    let longest = pieces.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    check(longest <= 2000, format!("a piece of {longest} characters"))?;
    eprintln!(
        "10,000 characters in {} pieces, the longest {longest}",
        pieces.len()
    );
    Ok(())
}

/// A long answer the model writes slowly streams: three blocks go out as they are written,
/// the rest as one message at the end, all inside the window the peer's message opened.
fn streamed_reply(stack: &Stack, allowed: &str) -> Result {
    step(
        "a long answer written slowly streams: at most 3 blocks, then the rest, inside the window",
    );
    let pieces = long_answer(stack, allowed, 6000, "[[DRIP:300]] [[LONG:6000]]")?;
    // Blocks are at most OpenClaw's 1,200 characters; the held rest is one message (cut at
    // the channel's 2,000 per message), so more than three short pieces means the budget
    // was not kept.
    let blocks = pieces
        .iter()
        .take_while(|p| p.chars().count() <= 1200)
        .count();
    check(
        (2..=3).contains(&blocks) && pieces.len() > blocks && pieces.len() <= 10,
        format!("pieces of {:?} characters", lens(&pieces)),
    )?;
    eprintln!(
        "6,000 characters streamed as {} blocks then {} piece(s): {:?}",
        blocks,
        pieces.len() - blocks,
        lens(&pieces)
    );
    Ok(())
}

fn message_send(stack: &Stack, to: &str, text: &str) -> Result<String> {
    stack.gateway.cli(&[
        "message",
        "send",
        "--channel",
        CHANNEL,
        "--target",
        to,
        "--message",
        text,
        "--json",
    ])
}

fn context_window(stack: &Stack, allowed: &str) -> Result {
    step(
        "an 11th send in the context window is reported as queued, and delivered after the peer's next message",
    );
    let bot = stack.bot.bot_id.clone();
    stack.sim.inject_text(&bot, allowed, "[[ECHO:WINDOW-OPEN]]");
    stack.wait_sent("reply opening the window", TURN, |s| {
        s.text.as_deref() == Some("ECHO: WINDOW-OPEN")
    })?;
    // The reply was send 1 of 10; nine proactive sends fill the window.
    let sends: Vec<String> = (1..=9).map(|n| format!("proactive {n}")).collect();
    std::thread::scope(|scope| -> Result {
        let handles: Vec<_> = sends
            .chunks(3)
            .map(|batch| {
                scope.spawn(move || {
                    batch.iter().try_for_each(|text| {
                        message_send(stack, allowed, text)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| "a sending thread panicked")??;
        }
        Ok(())
    })?;
    for text in &sends {
        stack.wait_sent("proactive send", Duration::from_secs(30), |s| {
            s.text.as_deref() == Some(text.as_str())
        })?;
    }
    // Not delivered: the CLI must say so, and say it is queued.
    let out = match message_send(stack, allowed, "proactive 10") {
        Ok(out) => return Err(format!("the 11th send was reported as sent: {out}").into()),
        Err(err) => err.to_string(),
    };
    eprintln!("{}", tail(&out, 12));
    check(
        out.contains("queued, not sent yet"),
        format!("the 11th send was not reported as queued: {out}"),
    )?;
    std::thread::sleep(Duration::from_secs(2));
    check(
        !stack.texts_to(allowed).iter().any(|t| t == "proactive 10"),
        "the 11th send went out anyway",
    )?;

    stack
        .sim
        .inject_text(&bot, allowed, "[[ECHO:WINDOW-REOPENED]]");
    stack.wait_sent("reply after the window reopened", TURN, |s| {
        s.text.as_deref() == Some("ECHO: WINDOW-REOPENED")
    })?;
    let texts = stack.texts_to(allowed);
    let queued = texts.iter().position(|t| t == "proactive 10");
    let reply = texts.iter().position(|t| t == "ECHO: WINDOW-REOPENED");
    check(
        matches!((queued, reply), (Some(q), Some(r)) if q < r),
        format!(
            "the queued send did not go out before the reply: {:?}",
            &texts[texts.len().saturating_sub(4)..]
        ),
    )
}

/// The status line of one account in `openclaw channels status`.
fn status_line(stack: &Stack, account: &str) -> Result<String> {
    let status = stack.gateway.cli(&["channels", "status"])?;
    Ok(status
        .lines()
        .find(|l| l.contains(account))
        .unwrap_or_default()
        .to_owned())
}

fn session_expiry_and_qr_login(stack: &mut Stack) -> Result {
    step("-14 shows as needs-login in channels status");
    let old_bot = stack.bot.clone();
    stack.sim.expire_token(&old_bot.bot_id);
    let mut last = String::new();
    let shown = poll(Duration::from_secs(120), Duration::from_secs(2), || {
        last = status_line(stack, &stack.account)?;
        Ok((last.contains("needsLogin") && last.contains("channels login")).then_some(()))
    })?;
    shown.ok_or_else(|| format!("status never showed needs-login: {last:?}"))?;
    eprintln!("{last}");

    step(
        "a QR login in the terminal (decoded back from the printed code) recovers the account; with LANG=zh_CN.UTF-8 it speaks Chinese",
    );
    stack.sim.qr_script(imsim::ilink::QrScript::Confirm);
    stack.sim.set_qr_owner(Some(&old_bot.owner));
    let out = stack
        .gateway
        .cli_in_locale(&["channels", "login", "--channel", CHANNEL], "zh_CN.UTF-8")?;
    for said in [
        "请用手机微信扫描二维码",
        "如果二维码无法扫描",
        "登录成功：微信账号",
    ] {
        check(
            out.contains(said),
            format!("the login did not say {said:?} under zh_CN:\n{out}"),
        )?;
    }
    let session = stack
        .sim
        .qr_sessions()
        .pop()
        .ok_or("no QR code was requested")?;
    let url = imsim::screen::decode_terminal_qr(&out)
        .ok_or_else(|| format!("no readable QR code in the login output:\n{out}"))?;
    check(
        url.contains(&session.qrcode),
        format!(
            "the QR code reads {url:?}, not the login's {}",
            session.qrcode
        ),
    )?;
    let new_bot = session.bot.ok_or("the login did not bind a bot")?;
    // The CLI named the only account (its default) before the scan, and the scan was by the
    // same WeChat user: the new bot takes that account over, so every line names it truly.
    let new_account = stack.account.clone();
    check(
        out.contains(&format!("微信账号 {new_account} 已就绪")),
        format!("the login did not name {new_account}:\n{out}"),
    )?;
    let named: Vec<&str> = out
        .split("openclaw-weixin/")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| c == '.' || c == ',' || c.is_whitespace())
                .next()
                .unwrap_or("")
        })
        .collect();
    check(
        named.iter().all(|id| *id == new_account),
        format!("the CLI's closing line names {named:?}, not {new_account}:\n{out}"),
    )?;
    eprintln!(
        "closing lines: {}",
        out.lines().rev().take(2).collect::<Vec<_>>().join(" | ")
    );
    // The CLI touched the config; the running gateway starts the new bot by itself.
    stack.wait_bot_online(&new_bot.bot_id, &new_account)?;
    stack
        .sim
        .inject_text(&new_bot.bot_id, &new_bot.owner, "[[ECHO:RELOGGED-IN]]");
    stack.wait_sent_by(&new_bot.bot_id, "reply through the new login", TURN, |s| {
        s.text.as_deref() == Some("ECHO: RELOGGED-IN")
    })?;
    let line = status_line(stack, &new_account)?;
    eprintln!("{line}");
    check(
        line.contains("connected") && !line.contains("disconnected"),
        format!("new account status {line:?}"),
    )?;
    stack.bot = new_bot;
    Ok(())
}

/// The code in OpenClaw's pairing reply, which ends with `openclaw pairing approve <channel> <CODE>`.
fn pairing_code(text: &str) -> Option<String> {
    let after = text.split(&format!("approve {CHANNEL} ")).nth(1)?;
    let code: String = after
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (code.len() == 8).then_some(code)
}
