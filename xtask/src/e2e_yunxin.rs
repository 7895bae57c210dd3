//! The Yunxin part of `cargo xtask e2e`, in the real gateway:
//!
//! - transport `server-api` against the NIM server-API simulator: a P2P text pushed through the
//!   signed message-copy webhook gets the model's reply through a CheckSum-signed send; forged
//!   and stale webhooks are refused with 401 and logged;
//! - transport `sdk` with the packaged JS adapter bound to the stub SDK (driven through files):
//!   an unknown peer gets a pairing code, and once approved, its text gets the model's reply;
//!   `openclaw message send` reaches the stub; the connect log line is there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imsim::nim::{NimOptions, NimSim};
use serde_json::{Value, json};

use crate::Result;
use crate::e2e::{Stack, TURN, check, check_add_flags, poll, wait};
use crate::gateway::free_port;

const CHANNEL: &str = "netease-yunxin";
const SERVER_BOT: &str = "yx-server-bot";
const SDK_BOT: &str = "yx-sdk-bot";
const SDK_TOKEN: &str = "yx-sdk-token";
const TEAM: &str = "yx-team-1";

fn step(name: &str) {
    crate::e2e::step_of("yunxin", name);
}

/// Files through which the gateway's stub SDK is driven.
pub struct StubFiles {
    pub script: PathBuf,
    pub sent: PathBuf,
    pub inbox: PathBuf,
}

impl StubFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            script: dir.join("nim-stub-script.json"),
            sent: dir.join("nim-stub-sent.jsonl"),
            inbox: dir.join("nim-stub-inbox.jsonl"),
        }
    }

    /// The gateway's environment for the stub.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "IMBRIDGE_NIM_STUB_SCRIPT".into(),
                self.script.to_string_lossy().into_owned(),
            ),
            (
                "IMBRIDGE_NIM_STUB_SENT".into(),
                self.sent.to_string_lossy().into_owned(),
            ),
            (
                "IMBRIDGE_NIM_STUB_INBOX".into(),
                self.inbox.to_string_lossy().into_owned(),
            ),
        ]
    }

    fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.sent)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn push(&self, line: Value) -> Result {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.inbox)?;
        writeln!(file, "{line}")?;
        Ok(())
    }

    /// Texts the stub accepted from `bot` to `peer`, in order.
    fn texts(&self, bot: &str, peer: &str) -> Vec<String> {
        let conversation = format!("{bot}|1|{peer}");
        self.journal()
            .into_iter()
            .filter(|l| l["op"] == "send" && l["ok"] == true)
            .filter(|l| l["conversationId"] == conversation.as_str())
            .filter_map(|l| l["text"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Without group settings, teams are closed (OpenClaw's default `groupPolicy: allowlist`): a
/// team message that mentions the bot, from a sender the DM allowlist lets in, gets no reply.
fn team_closed_by_default(stack: &Stack, sim: &NimSim) -> Result {
    step("server-api: a team message gets no reply under the default groupPolicy");
    const DROPPED: &str = "group message not for the agent";
    let drops_before = stack.gateway.log().matches(DROPPED).count();
    let pushed = stack.runtime().block_on(sim.push_team_text(
        "dave",
        TEAM,
        &format!("@{SERVER_BOT} [[ECHO:YX-TEAM]]"),
        &[SERVER_BOT],
    ))?;
    check(
        pushed.status == 200,
        format!("webhook answered {}", pushed.status),
    )?;
    wait("the team message's refusal in the log", TURN, || {
        (stack.gateway.log().matches(DROPPED).count() > drops_before).then_some(())
    })?;
    // Dave's next DM is answered: the account is alive and had every chance to answer.
    let pushed =
        stack
            .runtime()
            .block_on(sim.push_text("dave", SERVER_BOT, "[[ECHO:YX-AFTER-TEAM]]"))?;
    check(
        pushed.status == 200,
        format!("webhook answered {}", pushed.status),
    )?;
    wait("the DM after the team message", TURN, || {
        sim.sent()
            .into_iter()
            .find(|s| s.text.as_deref() == Some("ECHO: YX-AFTER-TEAM"))
    })?;
    check(
        sim.sent()
            .iter()
            .all(|s| s.text.as_deref() != Some("ECHO: YX-TEAM")),
        "the team message was answered",
    )
}

/// Pictures pushed to the server-api account: one on the simulator's NOS store arrives in the
/// host's media store; one on another loopback address causes no request, and its turn runs
/// with a note that the picture was refused.
fn pictures(stack: &Stack, sim: &NimSim) -> Result {
    // Dave sends a picture at `url` through the webhook; his turn must be answered.
    let answered = |url: &str, what: &str| -> Result {
        let replies_to_dave = || sim.sent().iter().filter(|s| s.receiver == "dave").count();
        let before = replies_to_dave();
        let pushed = stack
            .runtime()
            .block_on(sim.push_image("dave", SERVER_BOT, url, 64, 48))?;
        check(
            pushed.status == 200,
            format!("webhook answered {}", pushed.status),
        )?;
        wait(what, TURN, || (replies_to_dave() > before).then_some(()))
    };
    step("server-api: a picture on the simulator's NOS store reaches the host's media store");
    let own = crate::e2e::png(31)?;
    answered(&sim.put_object(own.clone()), "a reply to the picture")?;
    check(
        !crate::e2e::files_with(&stack.gateway.state.join("media"), &own).is_empty(),
        "no file in the host's media store has the picture's bytes",
    )?;

    step("server-api: a picture on another loopback address is never fetched; the turn runs");
    crate::e2e::canary_never_fetched(stack, |url| answered(url, "a reply to the canary picture"))
}

fn stub_module() -> PathBuf {
    crate::root().join("crates/yunxin/js/test/stub-sdk.mjs")
}

/// A `server-api` account on the NIM server-API simulator, whose message copies the simulator
/// pushes to the account's webhook listener (the sandbox's and the e2e's).
pub struct ServerApi {
    pub sim: NimSim,
    /// The account's id in the config.
    pub account: &'static str,
    pub bot: &'static str,
    /// Allowed to DM the bot.
    pub peer: &'static str,
    pub webhook_port: u16,
}

impl ServerApi {
    /// Starts the simulator with the bot, its peer, another account and a team, pushing to a
    /// free loopback port.
    pub fn start(stack: &Stack) -> Result<Self> {
        let sim = stack
            .runtime()
            .block_on(NimSim::start(NimOptions::default()))?;
        for accid in [SERVER_BOT, "dave", "mallory"] {
            sim.add_account(accid, "unused");
        }
        sim.add_team(TEAM, &[SERVER_BOT, "dave"]);
        let webhook_port = free_port()?;
        sim.set_webhook(&format!(
            "http://127.0.0.1:{webhook_port}/netease-yunxin/webhook"
        ));
        Ok(Self {
            sim,
            account: "server",
            bot: SERVER_BOT,
            peer: "dave",
            webhook_port,
        })
    }

    /// Sets `channels.netease-yunxin` in `config` with this one account.
    pub fn configure(&self, config: &mut Value) {
        config["channels"][CHANNEL] = json!({
            "dmPolicy": "pairing",
            "accounts": {
                self.account: {
                    "appKey": self.sim.app_key(),
                    "accountId": self.bot,
                    "transport": "server-api",
                    "allowFrom": [self.peer],
                    "serverApi": {
                        "appSecret": self.sim.app_secret(),
                        "baseUrl": self.sim.base_url(),
                        "webhookListen": format!("127.0.0.1:{}", self.webhook_port),
                    },
                },
            },
        });
    }

    /// Waits until the account's webhook listener accepts connections.
    pub fn wait_listening(&self) -> Result {
        wait("the webhook listener", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", self.webhook_port))
                .ok()
                .map(drop)
        })
    }
}

/// The e2e's account beside [`ServerApi`]'s: transport `sdk` on the stub SDK, which is driven
/// through files in the gateway's directory (written here, before the account starts).
pub fn add_sdk_account(stack: &Stack, config: &mut Value) -> Result {
    let stub = StubFiles::in_dir(&stack.gateway.dir);
    std::fs::write(
        &stub.script,
        json!({"accounts": {SDK_BOT: SDK_TOKEN}}).to_string(),
    )?;
    std::fs::write(&stub.inbox, "")?;
    // At the channel level, as a private deployment sets it: every sdk account takes it,
    // the one `channels add` makes too.
    config["channels"][CHANNEL]["sdkModule"] = json!(stub_module());
    config["channels"][CHANNEL]["accounts"]["sdk"] = json!({
        "appKey": "stub-app",
        "accountId": SDK_BOT,
        "token": SDK_TOKEN,
    });
    Ok(())
}

/// `openclaw channels add` for NIM: its flags come from the user catalog the plugin wrote
/// (package.json describes WeChat), and the account it saves logs in.
fn channels_add(stack: &Stack) -> Result {
    step(
        "openclaw channels add --channel netease-yunxin --account yx-b --app-key … --account-id … \
         --token …: the account is saved and logs in",
    );
    check_add_flags(
        stack,
        CHANNEL,
        &[
            "--app-key <value>",
            "--account-id <value>",
            "--token <secret>",
            "--transport <choice>",
        ],
    )?;
    let (bot, token) = ("yx-bot-b", "yx-token-b");
    let stub = StubFiles::in_dir(&stack.gateway.dir);
    std::fs::write(
        &stub.script,
        json!({"accounts": {SDK_BOT: SDK_TOKEN, bot: token}}).to_string(),
    )?;
    let before = stack.gateway.read_config()?;
    let args = |transport: &'static str| {
        vec![
            "channels",
            "add",
            "--channel",
            CHANNEL,
            "--account",
            "yx-b",
            "--app-key",
            "stub-app",
            "--account-id",
            bot,
            "--token",
            token,
            "--transport",
            transport,
        ]
    };
    // A typical mistake: the transport spelled the way NetEase's docs call the connection.
    let refused = match stack.gateway.cli(&args("websocket")) {
        Ok(out) => return Err(format!("transport websocket was taken: {out}").into()),
        Err(err) => err.to_string(),
    };
    eprintln!("{}", crate::gateway::tail(&refused, 3));
    check(
        refused.contains("--transport") && refused.contains("sdk, server-api"),
        format!("the refusal does not name the flag and its choices: {refused}"),
    )?;
    check(
        stack.gateway.read_config()?["channels"][CHANNEL] == before["channels"][CHANNEL],
        "a refused add changed the config",
    )?;
    let out = stack.gateway.cli(&args("sdk"))?;
    eprintln!("{}", out.trim());
    check(!out.contains(token), "channels add echoed the token")?;
    check(
        out.contains("Added NetEase Yunxin IM account \"yx-b\""),
        format!("channels add said: {out}"),
    )?;
    let saved = &stack.gateway.read_config()?["channels"][CHANNEL]["accounts"]["yx-b"];
    check(
        saved
            == &json!({"enabled": true, "appKey": "stub-app", "accountId": bot, "token": token, "transport": "sdk"}),
        format!(
            "yx-b as saved: {}",
            saved.get("accountId").unwrap_or(&Value::Null)
        ),
    )?;
    wait(
        "yx-b logged in at the stub",
        Duration::from_secs(90),
        || {
            stub.journal()
                .iter()
                .any(|l| l["op"] == "login" && l["accountId"] == bot && l["ok"] == true)
                .then_some(())
        },
    )
}

/// Runs on the account [`crate::sandbox::Networks`] configured, with [`add_sdk_account`]'s.
pub fn scenario(stack: &Stack, server: &ServerApi) -> Result {
    let stub = StubFiles::in_dir(&stack.gateway.dir);
    let sim = &server.sim;
    step("the sdk account (stub SDK) connects; the server-api account listens");
    wait(
        "the sdk account's connect line",
        Duration::from_secs(120),
        || {
            stack
                .gateway
                .log()
                .contains("[netease-yunxin] SDK connected; send and receive via long connection")
                .then_some(())
        },
    )?;
    server.wait_listening()?;

    step("server-api: a pushed P2P text gets the model's reply through a signed send");
    let pushed =
        stack
            .runtime()
            .block_on(sim.push_text("dave", SERVER_BOT, "[[ECHO:YX-SERVER]]"))?;
    check(
        pushed.status == 200,
        format!("webhook answered {}", pushed.status),
    )?;
    let reply = wait("the server-api reply", TURN, || {
        sim.sent()
            .into_iter()
            .find(|s| s.text.as_deref() == Some("ECHO: YX-SERVER"))
    })?;
    check(
        reply.sender == SERVER_BOT && reply.receiver == "dave",
        format!("reply {} → {}", reply.sender, reply.receiver),
    )?;
    // The simulator refuses unsigned calls (414), so a stored reply was CheckSum-signed.
    check(
        sim.calls().iter().all(|c| c.code != Some(414)),
        "a REST call was refused for its signature",
    )?;

    team_closed_by_default(stack, sim)?;
    pictures(stack, sim)?;

    step("server-api: forged and tampered webhooks are refused with 401 and logged");
    let sent_before = sim.sent().len();
    for (what, pushed) in [
        (
            "forged",
            stack
                .runtime()
                .block_on(sim.push_forged("dave", SERVER_BOT, "[[ECHO:YX-FORGED]]"))?,
        ),
        (
            "tampered",
            stack.runtime().block_on(sim.push_tampered(
                "dave",
                SERVER_BOT,
                "[[ECHO:YX-TAMPERED]]",
            ))?,
        ),
    ] {
        check(
            pushed.status == 401,
            format!("{what} webhook answered {}", pushed.status),
        )?;
    }
    std::thread::sleep(Duration::from_secs(5));
    check(
        sim.sent().len() == sent_before,
        "a refused webhook was answered",
    )?;
    let log = stack.gateway.log();
    let refusals = log
        .lines()
        .filter(|l| l.contains("webhook") && (l.contains("refused") || l.contains("401")))
        .count();
    check(
        refusals >= 2,
        format!("{refusals} webhook refusals in the gateway log, want 2"),
    )?;

    step("sdk: an unknown peer gets a pairing code; once approved, it is answered");
    stub.push(json!({"to": SDK_BOT, "from": "erin", "text": "hello?"}))?;
    let code = wait("the pairing reply", TURN, || {
        stub.texts(SDK_BOT, "erin")
            .into_iter()
            .find_map(|t| pairing_code(&t))
    })?;
    let logins = || {
        stub.journal()
            .into_iter()
            .filter(|l| l["op"] == "login" && l["ok"] == true)
            .count()
    };
    let before = logins();
    let approved = stack.gateway.cli(&["pairing", "approve", CHANNEL, &code])?;
    eprintln!("{}", approved.trim());
    // The first approval in a fresh state dir writes `commands.ownerAllowFrom`, and OpenClaw
    // restarts the channel: wait for that login, if it comes, before talking again.
    let restarted = poll(Duration::from_secs(15), Duration::from_millis(300), || {
        Ok((logins() > before).then_some(()))
    })?;
    eprintln!(
        "channel restarted after the approval: {}",
        restarted.is_some()
    );
    std::thread::sleep(Duration::from_secs(2));
    stub.push(json!({"to": SDK_BOT, "from": "erin", "text": "[[ECHO:YX-SDK]]"}))?;
    wait("the sdk reply", TURN, || {
        stub.texts(SDK_BOT, "erin")
            .contains(&"ECHO: YX-SDK".to_owned())
            .then_some(())
    })?;

    step("sdk: openclaw message send reaches the peer");
    stack.gateway.cli(&[
        "message",
        "send",
        "--channel",
        CHANNEL,
        "--account",
        "sdk",
        "--target",
        "frank",
        "--message",
        "Hello",
    ])?;
    wait("the proactive message", Duration::from_secs(30), || {
        stub.texts(SDK_BOT, "frank")
            .contains(&"Hello".to_owned())
            .then_some(())
    })?;

    step("channels status --probe shows both accounts");
    let status = stack.gateway.cli(&["channels", "status", "--probe"])?;
    for account in ["server", "sdk"] {
        let line = status
            .lines()
            .find(|l| l.contains("Yunxin") && l.contains(account))
            .unwrap_or_default();
        eprintln!("{line}");
        check(
            line.contains("connected") && !line.contains("disconnected"),
            format!("{account}: status line {line:?}"),
        )?;
    }
    channels_add(stack)
}

fn pairing_code(text: &str) -> Option<String> {
    let after = text.split(&format!("approve {CHANNEL} ")).nth(1)?;
    let code: String = after
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (code.len() == 8).then_some(code)
}
