//! The drop-in part of `cargo xtask e2e`: a package of WeChat alone is the plugin
//! `openclaw-weixin`, so a config written the way Tencent's docs say
//! (`plugins.entries.openclaw-weixin.enabled`) names ours. With the all-in-one `imbridge`, the
//! same key names a plugin that is not installed, and OpenClaw's doctor tries to install
//! Tencent's package for it; with the WeChat package it does not.
//!
//! Then Tencent's real plugin (pinned, from npm) and the all-in-one `imbridge` in one gateway:
//! with Tencent's entry disabled as docs/migrating.md says, ours owns the channel and each
//! message gets one reply; with both enabled explicitly, OpenClaw keeps that choice, and the test
//! shows who owns the channel and what OpenClaw reports.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::Result;
use crate::e2e::{Stack, check, step_of};
use crate::gateway::Gateway;
use crate::{fidelity, package, toolchain};

/// What OpenClaw's doctor says when a configured plugin is missing and it tries to install it.
const MISSING_PLUGIN: &str = "missing configured plugin";

fn step(name: &str) {
    step_of("drop-in", name);
}

pub fn scenario(dir: &Path) -> Result {
    step(
        "a package of WeChat alone is the plugin openclaw-weixin: Tencent's documented config names it",
    );
    // Identity only: a debug build of one channel keeps CI short.
    let packaged = package::run(Some(vec!["weixin".into()]), false)?;
    let gateway = Gateway::new(dir, toolchain::ensure()?)?;
    gateway.write_config(&gateway.bare_config())?;
    let dir_spec = packaged.dir.to_string_lossy().into_owned();
    gateway.cli(&[
        "plugins",
        "install",
        &dir_spec,
        "--force",
        "--accept-capabilities",
    ])?;
    // Tencent's setup steps: the plugin enabled under its id, the channel configured.
    let mut config = gateway.read_config()?;
    config["plugins"]["entries"]["openclaw-weixin"] = json!({ "enabled": true });
    config["channels"]["openclaw-weixin"] = json!({});
    gateway.write_config(&config)?;
    let inspected = gateway.cli_with_stderr(&["plugins", "inspect", "openclaw-weixin"])?;
    for expected in [
        "IM Bridge: WeChat",
        "id: openclaw-weixin",
        "channel: openclaw-weixin",
    ] {
        if !inspected.contains(expected) {
            return Err(format!(
                "plugins inspect openclaw-weixin lacks {expected:?}:\n{inspected}"
            )
            .into());
        }
    }
    if inspected.contains(MISSING_PLUGIN) {
        return Err(format!(
            "the doctor still looks for another openclaw-weixin plugin:\n{inspected}"
        )
        .into());
    }
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        packaged.dir.join("openclaw.plugin.json"),
    )?)?;
    if manifest["channelConfigs"]["openclaw-weixin"]
        .get("preferOver")
        .is_some()
    {
        return Err("the WeChat package prefers itself over its own id".into());
    }
    Ok(())
}

/// Where Tencent's tarball is kept between runs: fetched from the npm registry once.
fn tencent_pack() -> std::path::PathBuf {
    crate::root().join("target/e2e-cache/tencent-weixin")
}

/// Tencent's plugin logs this when it starts an account.
const TENCENT_STARTS: &str = "starting weixin provider";
/// OpenClaw's word for a second plugin claiming a channel (its duplicate-owner diagnostic).
const ALREADY_REGISTERED: &str = "channel already registered: openclaw-weixin";
/// How long a second reply to one message would take at most to show up.
const SECOND_REPLY: Duration = Duration::from_secs(8);

/// Tencent's plugin and ours (the all-in-one `imbridge`) installed in one gateway.
///
/// First as docs/migrating.md says to move while keeping Tencent's plugin to switch back: its
/// entry disabled. Ours then owns `openclaw-weixin`, and each message gets one reply. Then both
/// enabled explicitly: OpenClaw keeps that choice, gives the channel to the plugin it loaded
/// first (Tencent's) and reports ours as a second owner, which is why the guide says to disable
/// or uninstall one of them.
pub fn beside_tencent(dir: &Path, ours: &package::Packaged) -> Result {
    // Tencent's plugin logs into OpenClaw's fixed temp dir whatever the config says; what it
    // adds there goes with this run's files.
    let tmp_before = fidelity::files_in(Path::new(fidelity::TENCENT_TMP));
    let result = beside_tencent_in(dir, ours);
    fidelity::collect_tencent_tmp(&tmp_before, dir)?;
    result
}

fn beside_tencent_in(dir: &Path, ours: &package::Packaged) -> Result {
    step(
        "Tencent's plugin beside ours, its entry disabled as the migration guide says: ours owns openclaw-weixin, one reply per message",
    );
    let mut stack = Stack::new(dir)?;
    // A Tencent user's gateway: their plugin installed and enabled as their docs say, the
    // channel configured, an account logged in.
    fidelity::install_tencent(&stack, &tencent_pack())?;
    let mut config = stack.gateway.read_config()?;
    config["plugins"]["entries"]["openclaw-weixin"] = json!({ "enabled": true });
    config["channels"]["openclaw-weixin"] = json!({});
    stack.gateway.write_config(&config)?;
    stack.log_in()?;
    // The guide's steps.
    stack.install_packaged(ours)?;
    stack
        .gateway
        .cli(&["plugins", "disable", "openclaw-weixin"])?;
    let status = owners(&stack)?.status;
    check(
        status == status_pair("disabled", "loaded"),
        format!("plugin status, Tencent's disabled: {status:?}"),
    )?;
    stack.launch()?;
    let journal = stack
        .gateway
        .state
        .join("openclaw-weixin/dedup")
        .join(format!("{}.jsonl", stack.account));
    let replies = replies_to_one_message(&stack, "one owner")?;
    check(
        replies.len() == 1,
        format!("one message, replies {replies:?}"),
    )?;
    let journaled = lines(&journal);
    check(
        journaled > 0,
        format!("our journal {} has not seen the message", journal.display()),
    )?;
    let log = stack.gateway.log();
    check(
        !log.contains(TENCENT_STARTS),
        "Tencent's plugin started the account although it is disabled",
    )?;
    eprintln!("owner: imbridge ({status:?}); replies: {replies:?}");

    step(
        "both enabled explicitly: OpenClaw keeps the choice, Tencent's plugin owns the channel, ours is reported as a second owner",
    );
    stack.gateway.stop()?;
    stack
        .gateway
        .cli(&["plugins", "enable", "openclaw-weixin"])?;
    let Owners {
        status,
        diagnostics,
    } = owners(&stack)?;
    eprintln!("plugin status, both enabled: {status:?}; diagnostics: {diagnostics:?}");
    stack.launch()?;
    let replies = replies_to_one_message(&stack, "two owners")?;
    check(
        replies.len() == 1,
        format!("one message, replies {replies:?}"),
    )?;
    // The log of this run of the gateway alone (each start has its own).
    let this_run = &stack.gateway.log();
    let diagnostic = this_run
        .lines()
        .find(|line| line.contains(ALREADY_REGISTERED) && line.contains("plugin=imbridge"))
        .ok_or_else(|| {
            format!(
                "no duplicate-owner diagnostic for imbridge in the gateway log:\n{}",
                crate::gateway::tail(this_run, 40)
            )
        })?;
    check(
        this_run.contains(TENCENT_STARTS),
        "Tencent's plugin did not start the account",
    )?;
    check(
        lines(&journal) == journaled,
        "our channel took the message although OpenClaw gave the channel to Tencent's plugin",
    )?;
    eprintln!("{diagnostic}");
    eprintln!("the guide's answer: disable or uninstall one of the two (docs/migrating.md)");
    stack.gateway.stop()?;
    Ok(())
}

/// The status of the two plugins that can own `openclaw-weixin` (`disabled`, `loaded`, …) and
/// what OpenClaw's plugin diagnostics say about that channel, from `openclaw plugins list
/// --json`.
fn owners(stack: &Stack) -> Result<Owners> {
    let listed: serde_json::Value =
        serde_json::from_str(&stack.gateway.cli(&["plugins", "list", "--json"])?)?;
    let plugins = listed["plugins"].as_array().cloned().unwrap_or_default();
    let status = ["openclaw-weixin", "imbridge"]
        .into_iter()
        .map(|id| {
            let found = plugins.iter().find(|p| p["id"] == id);
            let status = found
                .and_then(|p| p["status"].as_str())
                .unwrap_or("missing");
            (id.to_owned(), status.to_owned())
        })
        .collect();
    let diagnostics = listed["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .filter(|d| d.contains("openclaw-weixin"))
        .collect();
    Ok(Owners {
        status,
        diagnostics,
    })
}

struct Owners {
    /// `(plugin id, status)`.
    status: Vec<(String, String)>,
    diagnostics: Vec<String>,
}

fn status_pair(a: &str, b: &str) -> Vec<(String, String)> {
    vec![
        ("openclaw-weixin".to_owned(), a.to_owned()),
        ("imbridge".to_owned(), b.to_owned()),
    ]
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

/// Sends `[[ECHO:<text>]]` from the bot's owner and returns every reply to it, read once the
/// first came and a second had time to follow.
fn replies_to_one_message(stack: &Stack, text: &str) -> Result<Vec<String>> {
    let owner = stack.bot.owner.clone();
    let before = stack.texts_to(&owner).len();
    stack
        .sim
        .inject_text(&stack.bot.bot_id, &owner, &format!("[[ECHO:{text}]]"));
    let expected = format!("ECHO: {text}");
    stack.wait_sent("a reply", crate::e2e::TURN, |s| {
        s.to_user_id == owner && s.text.as_deref() == Some(expected.as_str())
    })?;
    std::thread::sleep(SECOND_REPLY);
    Ok(stack.texts_to(&owner)[before..].to_vec())
}
