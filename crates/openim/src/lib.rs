//! OpenIM channel (work in progress).

pub const CHANNEL_ID: &str = "multi-openim";
