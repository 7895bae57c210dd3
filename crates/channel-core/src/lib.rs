//! The contract every channel crate implements, and the machinery they share.
//!
//! A protocol crate decodes wire frames into [`Inbound`] messages and hands them to the
//! [`Pipeline`] through its [`RunContext`]; the pipeline drops redeliveries ([`dedup`]), applies
//! the DM policy ([`dm`]) and gives the rest to the [`Host`], whose replies come back through the
//! channel's [`Channel::send`]. Nothing in here knows Node or any IM protocol.
//!
//! ```no_run
//! use std::sync::Arc;
//! use channel_core::{AnyChannel, testing::StandaloneHost};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo(channel: Arc<dyn AnyChannel>) -> Result<(), channel_core::ChannelError> {
//! let section = serde_json::json!({ "dmPolicy": "pairing" });
//! let host = Arc::new(StandaloneHost::default());
//! for account in channel.account_ids(&section)? {
//!     // Runs until cancelled, or until a person must log in again.
//!     channel.run(&section, &account, host.clone(), CancellationToken::new()).await?;
//! }
//! # Ok(()) }
//! ```

pub mod action;
pub mod backoff;
pub mod channel;
pub mod config;
pub mod conformance;
pub mod dedup;
pub mod dm;
pub mod error;
pub mod group;
pub mod host;
pub mod login;
pub mod media;
pub mod message;
pub mod pipeline;
pub mod registry;
pub mod schema;
pub mod session;
pub mod state;
pub mod testing;
pub mod text;

pub use action::{
    ActionKind, ActionSpec, CommandOutcome, CommandSpec, ConfigEdit, OptionSpec, Prompter,
    Question, SubcommandSpec,
};
pub use backoff::Backoff;
pub use channel::{
    AccountView, Capabilities, Channel, DeliveryMode, Descriptor, Meta, Probe, RunContext,
};
pub use config::{StringOrNumber, parse_config};
pub use dm::{DmConfig, DmPolicy, PairingStore};
pub use group::{GroupConfig, GroupKeys, GroupPolicy};
pub use error::{ChannelError, ErrorKind};
pub use host::{
    Host, HostTransport, Replier, ReplyPayload, StatusPatch, TransportModule, Turn, TurnOutcome,
};
pub use login::{LoginResult, LoginUi};
pub use message::{
    Chat, ChatKind, Fetched, Inbound, Media, Outbound, Receipt, ReplyTo, Sender, Target,
};
pub use pipeline::{Accepted, Outlet, Pipeline};
pub use registry::AnyChannel;
pub use session::{DmScope, Route, RouteQuery, ScopeResolver, SessionKeyResolver};
pub use state::StateDir;

/// Re-exported so channel crates and the conformance macro use the same version.
pub use tokio_util::sync::CancellationToken;

/// Locks `mutex`, going on with the data when a panicking holder poisoned it: every guarded
/// value here stays consistent between statements, and a poisoned lock must not take the
/// account down with it.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): the timestamps in state
/// files and status reports.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
