//! The channels this build links, chosen by Cargo features.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use channel_core::{AnyChannel, ChannelError, StateDir};

/// The plugin id in OpenClaw (`plugins.entries.<id>`).
pub const PLUGIN_ID: &str = "imbridge";

static CHANNELS: LazyLock<BTreeMap<String, Arc<dyn AnyChannel>>> = LazyLock::new(|| {
    // The gateway and its CLI set OPENCLAW_STATE_DIR before loading plugins.
    let state = StateDir::from_env();
    let mut channels: BTreeMap<String, Arc<dyn AnyChannel>> = BTreeMap::new();
    #[cfg(feature = "weixin")]
    {
        let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(weixin::WeixinChannel::new(&state)));
        channels.insert(channel.descriptor().id, channel);
    }
    #[cfg(feature = "openim")]
    {
        let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(openim::OpenimChannel::new(&state)));
        channels.insert(channel.descriptor().id, channel);
    }
    #[cfg(feature = "yunxin")]
    {
        let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(yunxin::YunxinChannel::new(&state)));
        channels.insert(channel.descriptor().id, channel);
    }
    // Test builds only; `cargo xtask package` refuses it.
    #[cfg(feature = "testkit")]
    {
        let channel: Arc<dyn AnyChannel> =
            Arc::new(Arc::new(crate::testkit::TestkitChannel::new(&state)));
        channels.insert(channel.descriptor().id, channel);
    }
    let _ = &state;
    channels
});

pub fn channel(id: &str) -> Result<Arc<dyn AnyChannel>, ChannelError> {
    CHANNELS.get(id).cloned().ok_or_else(|| {
        let known: Vec<_> = CHANNELS.keys().cloned().collect();
        ChannelError::bad_input(format!(
            "channel {id:?} is not in this build (it has {known:?})"
        ))
    })
}

/// `account`, or the account the host means when it names none: the first one the channel
/// lists (for WeChat, the first logged-in account), else `default`.
pub fn account_or_default(
    channel: &dyn AnyChannel,
    section: &serde_json::Value,
    account: Option<String>,
) -> Result<String, ChannelError> {
    if let Some(account) = account.filter(|a| !a.is_empty()) {
        return Ok(account);
    }
    let ids = channel.account_ids(section)?;
    Ok(ids.into_iter().next().unwrap_or_else(|| "default".into()))
}

/// One channel's descriptor with its actions, commands and transport modules, as the JS entry
/// and the packager read it.
fn channel_descriptor(channel: &dyn AnyChannel) -> serde_json::Value {
    let mut value = serde_json::to_value(channel.descriptor()).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.insert(
            "actions".into(),
            serde_json::to_value(channel.actions()).unwrap_or_default(),
        );
        fields.insert(
            "commands".into(),
            serde_json::to_value(channel.commands()).unwrap_or_default(),
        );
        fields.insert(
            "transports".into(),
            serde_json::to_value(channel.transport_modules()).unwrap_or_default(),
        );
        fields.insert(
            "catalog".into(),
            channel_core::setup::catalog_channel(&channel.descriptor()),
        );
    }
    value
}

/// Channel ids that OpenClaw's own catalog (`dist/channel-catalog.json` of 2026.9.6) gives to
/// another package: `openclaw-weixin` is Tencent's npm plugin there.
const CLAIMED_BY_THE_OFFICIAL_CATALOG: &[&str] = &["openclaw-weixin"];

/// The channel package.json describes (`openclaw.channel` holds one); the user catalog lists
/// the others ([`crate::catalog`]), but only once OpenClaw has loaded the plugin. Package entries
/// outrank the official catalog, so a channel the official catalog claims goes here: otherwise
/// `openclaw channels login --channel openclaw-weixin` right after the install would offer to
/// install Tencent's plugin over ours. Else the first.
fn package_channel() -> Option<&'static String> {
    CHANNELS
        .keys()
        .find(|id| CLAIMED_BY_THE_OFFICIAL_CATALOG.contains(&id.as_str()))
        .or_else(|| CHANNELS.keys().next())
}

/// Lists every channel but [`package_channel`] in the user catalog, so `openclaw channels add`
/// knows their flags. Nothing to do for a package of one channel.
pub fn publish_catalog() -> Result<Option<crate::catalog::Published>, ChannelError> {
    let others: Vec<serde_json::Value> = CHANNELS
        .iter()
        .filter(|(id, _)| Some(*id) != package_channel())
        .map(|(_, c)| channel_core::setup::catalog_channel(&c.descriptor()))
        .collect();
    if others.is_empty() {
        return Ok(None);
    }
    let Some(path) = crate::catalog::user_catalog_path() else {
        return Ok(None);
    };
    let descriptors: Vec<_> = CHANNELS.values().map(|c| c.descriptor()).collect();
    let identity = identity(&descriptors);
    crate::catalog::publish(
        &path,
        &identity.id,
        &identity.package,
        env!("CARGO_PKG_VERSION"),
        &others,
    )
    .map(Some)
}

/// Who the plugin is: its id in OpenClaw, its npm package, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub package: String,
    pub name: String,
}

/// A build of one channel that replaces a plugin takes that plugin's id, so the config written
/// for it (`plugins.entries.<id>`) and `openclaw plugins inspect <id>` keep working; its npm
/// package is `imbridge-<channel id>`. Any other build is `imbridge`.
pub fn identity(channels: &[channel_core::Descriptor]) -> Identity {
    match channels {
        [one] if !one.replaces.is_empty() => Identity {
            id: one.replaces[0].clone(),
            package: format!("{PLUGIN_ID}-{}", one.id),
            name: format!("IM Bridge: {}", one.meta.label),
        },
        _ => Identity {
            id: PLUGIN_ID.into(),
            package: PLUGIN_ID.into(),
            name: "IM Bridge".into(),
        },
    }
}

/// The plugin and every linked channel, as JSON.
pub fn descriptor() -> serde_json::Value {
    let channels: Vec<_> = CHANNELS
        .values()
        .map(|c| channel_descriptor(c.as_ref()))
        .collect();
    let descriptors: Vec<_> = CHANNELS.values().map(|c| c.descriptor()).collect();
    let identity = identity(&descriptors);
    let labels: Vec<_> = descriptors.iter().map(|d| d.meta.label.as_str()).collect();
    serde_json::json!({
        "id": identity.id,
        "package": identity.package,
        "name": identity.name,
        "version": env!("CARGO_PKG_VERSION"),
        "description": format!("{} for OpenClaw, in Rust.", join_labels(&labels)),
        "packageChannel": package_channel(),
        "channels": channels,
    })
}

/// `WeChat`, `WeChat and OpenIM`, `WeChat, OpenIM and NetEase Yunxin IM`.
fn join_labels(labels: &[&str]) -> String {
    match labels {
        [] => "No channels".into(),
        [one] => format!("{one} channel"),
        [rest @ .., last] => format!("{} and {last} channels", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(feature = "weixin", feature = "openim"))]
    #[test]
    fn the_channel_the_official_catalog_claims_is_the_package_channel() {
        // Alphabetically it would be multi-openim, and `channels login --channel
        // openclaw-weixin` would reach Tencent's catalog entry until the plugin first loaded.
        assert_eq!(
            package_channel().map(String::as_str),
            Some("openclaw-weixin")
        );
    }

    fn channel(id: &str, label: &str, replaces: &[&str]) -> channel_core::Descriptor {
        channel_core::Descriptor {
            replaces: replaces.iter().map(|r| (*r).to_owned()).collect(),
            ..channel_core::Descriptor::new(
                id,
                channel_core::Meta::new(id, label, label),
                vec![],
                serde_json::json!({}),
            )
        }
    }

    #[test]
    fn one_channel_alone_takes_the_id_of_the_plugin_it_replaces() {
        let weixin = channel("openclaw-weixin", "WeChat", &["openclaw-weixin"]);
        let openim = channel("multi-openim", "OpenIM", &["multi-openim-channel"]);
        assert_eq!(
            identity(std::slice::from_ref(&openim)),
            Identity {
                id: "multi-openim-channel".into(),
                package: "imbridge-multi-openim".into(),
                name: "IM Bridge: OpenIM".into(),
            }
        );
        assert_eq!(identity(&[weixin.clone(), openim]).id, "imbridge");
        assert_eq!(identity(&[channel("x", "X", &[])]).id, "imbridge");
        assert_eq!(identity(&[]).package, "imbridge");
        assert_eq!(
            join_labels(&["WeChat", "OpenIM", "NetEase Yunxin IM"]),
            "WeChat, OpenIM and NetEase Yunxin IM channels"
        );
        assert_eq!(join_labels(&["WeChat"]), "WeChat channel");
    }

    /// Every key that holds a credential is marked sensitive in the channel's uiHints, at the
    /// channel level and in each account, so the Control UI and OpenClaw's redaction hide it;
    /// and no other key is. A credential typed as a plain string would fail here.
    #[test]
    fn every_credential_is_a_sensitive_ui_hint() {
        let credential = |path: &str| {
            let key = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
            ["token", "secret", "password", "aeskey"]
                .iter()
                .any(|word| key.ends_with(word))
        };
        let mut seen = 0;
        for (id, channel) in CHANNELS.iter().filter(|(id, _)| *id != "imbridge-testkit") {
            let descriptor = channel.descriptor();
            let hints = descriptor
                .ui_hints
                .as_object()
                .expect("uiHints is an object");
            assert!(!hints.is_empty(), "{id}: no uiHints");
            for (path, hint) in hints {
                let sensitive = hint["sensitive"] == true;
                assert_eq!(
                    sensitive,
                    credential(path),
                    "{id}: uiHints.{path} sensitive is {sensitive}: {hint}"
                );
                assert!(
                    hint["label"].is_string(),
                    "{id}: uiHints.{path} has no label"
                );
                seen += usize::from(sensitive);
            }
        }
        if CHANNELS.keys().any(|id| id != "imbridge-testkit") {
            assert!(seen > 0, "no credential among {:?}", CHANNELS.keys());
        }
    }

    #[test]
    fn every_linked_channel_declares_valid_actions_and_commands() {
        for (id, channel) in CHANNELS.iter() {
            channel_core::action::validate(id, &channel.actions(), &channel.commands())
                .unwrap_or_else(|err| panic!("{err}"));
        }
        let tools: Vec<String> = CHANNELS
            .values()
            .flat_map(|c| c.actions())
            .filter(|a| a.kind == channel_core::ActionKind::Tool)
            .map(|a| a.name)
            .collect();
        let mut unique = tools.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            tools.len(),
            unique.len(),
            "tool names clash across channels: {tools:?}"
        );
        for channel in descriptor()["channels"].as_array().expect("channels") {
            assert!(channel["actions"].is_array() && channel["commands"].is_array());
            assert!(channel["transports"].is_array());
        }
    }

    #[test]
    fn every_transport_module_has_a_file_and_exact_npm_versions() {
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut names = Vec::new();
        for (id, channel) in CHANNELS.iter() {
            for module in channel.transport_modules() {
                let valid_name = !module.name.is_empty()
                    && module
                        .name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                assert!(valid_name, "{id}: transport name {:?}", module.name);
                assert!(
                    module.source.ends_with(".mjs") && workspace.join(module.source).is_file(),
                    "{id}: transport {} has no file {}",
                    module.name,
                    module.source
                );
                for (package, version) in module.npm_dependencies {
                    assert!(
                        version.starts_with(|c: char| c.is_ascii_digit())
                            && version
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c)),
                        "{id}: {package}@{version} is not an exact version"
                    );
                }
                names.push(module.name);
            }
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "transport names clash across channels");
        #[cfg(feature = "yunxin")]
        {
            let descriptor = descriptor();
            let yunxin = &descriptor["channels"]
                .as_array()
                .expect("channels")
                .iter()
                .find(|c| c["id"] == yunxin::CHANNEL_ID)
                .expect("yunxin")["transports"][0];
            assert_eq!(yunxin["name"], "nim-sdk");
            assert_eq!(
                yunxin["npmDependencies"][yunxin::sdk::SDK_PACKAGE],
                yunxin::sdk::SDK_VERSION
            );
        }
    }
}
