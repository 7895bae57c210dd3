//! The drop-in part of `cargo xtask e2e`: a package of WeChat alone is the plugin
//! `openclaw-weixin`, so a config written the way Tencent's docs say
//! (`plugins.entries.openclaw-weixin.enabled`) names ours. With the all-in-one `imbridge`, the
//! same key names a plugin that is not installed, and OpenClaw's doctor tries to install
//! Tencent's package for it; with the WeChat package it does not.

use std::path::Path;

use serde_json::json;

use crate::Result;
use crate::e2e::step_of;
use crate::gateway::Gateway;
use crate::{package, toolchain};

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
    gateway.write_config(&json!({}))?;
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
