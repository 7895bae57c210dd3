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

/// The plugin and every linked channel, as JSON.
pub fn descriptor() -> serde_json::Value {
    let channels: Vec<_> = CHANNELS.values().map(|c| c.descriptor()).collect();
    serde_json::json!({
        "id": PLUGIN_ID,
        "name": "IM Bridge",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "WeChat, OpenIM and NetEase Yunxin IM channels for OpenClaw, in Rust.",
        "channels": channels,
    })
}
