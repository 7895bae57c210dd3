//! The contract every channel crate implements, and the machinery they share.
//!
//! A protocol crate decodes wire frames into [`Inbound`] messages and hands them to the
//! [`Pipeline`] through its [`RunContext`]; the pipeline drops redeliveries ([`dedup`]), applies
//! the DM policy ([`dm`]) or the group policy ([`group`]) and gives the rest to the [`Host`],
//! whose replies come back through the channel's [`Channel::send`]. Attachments go through
//! [`media`], both ways. Each account runs under a [`supervisor`]: the channel provides a
//! [`Connector`] (one connection, start to end) and the supervisor reconnects it, stops it when a
//! person must act, and writes its status. Sent pieces are recorded in the [`SendLog`], so a
//! replayed reply is never sent twice; a replay the host answers itself, after a restart, is
//! matched with that answer in [`handover`]. Nothing in here knows Node or any IM protocol.
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
pub mod backlog;
pub mod backoff;
pub mod channel;
pub mod config;
pub mod conformance;
pub mod dedup;
pub mod dm;
pub mod error;
pub mod group;
pub mod handover;
pub mod host;
pub mod http;
pub mod live;
pub mod locale;
pub mod login;
pub mod media;
pub mod message;
pub mod owner;
pub mod pipeline;
pub mod registry;
pub mod schema;
pub mod sendlog;
pub mod session;
pub mod setup;
pub mod state;
pub mod supervisor;
pub mod testing;
pub mod text;

pub use action::{
    ActionKind, ActionSpec, CommandOutcome, CommandSpec, ConfigEdit, OptionSpec, Prompter,
    Question, SubcommandSpec,
};
pub use backlog::{Backlog, ChannelBacklog};
pub use backoff::Backoff;
pub use channel::{
    AccountBase, AccountView, BlockCoalesce, Capabilities, Channel, DeliveryMode, Descriptor, Meta,
    Probe, RunContext,
};
pub use config::{StringOrNumber, parse_config};
pub use dm::{DmConfig, DmKeys, DmPolicy, PairingStore};
pub use error::{ChannelError, ErrorKind, Result};
pub use group::{GroupConfig, GroupKeys, GroupPolicy};
pub use host::{
    AccountPhase, Host, HostTransport, Replier, ReplyPayload, StatusPatch, TransportModule, Turn,
    TurnOutcome,
};
pub use live::{LiveAccounts, LiveEntry};
pub use login::{LoginResult, LoginUi};
pub use message::{
    Chat, ChatKind, Fetched, Inbound, Media, Outbound, Receipt, ReplyTo, Sender, Target,
};
pub use pipeline::{Accepted, Batch, Outlet, Pipeline, TurnKeys, TurnSettings};
pub use registry::AnyChannel;
pub use sendlog::SendLog;
pub use session::{DmScope, Route, RouteQuery, ScopeResolver, SessionKeyResolver};
pub use state::StateDir;
pub use supervisor::{Connector, Lifecycle};

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

/// Target of the debug events that time a message through the plugin: `received` when its
/// batch arrived from the server, `queued` when the pipeline hands its turn to the host, and,
/// from a host across a boundary, `dispatched` when the host's side of it handed the turn to
/// the host (its session record, then its dispatcher); each with `id` and `at_us`
/// (microseconds since the epoch). `cargo xtask bench` turns them on
/// (`IMBRIDGE_LOG=info,imbridge::latency=debug`) and pairs them by id.
pub const LATENCY_TARGET: &str = "imbridge::latency";

/// Microseconds since the epoch, for [`LATENCY_TARGET`] events.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Milliseconds since the epoch as ISO 8601 UTC with milliseconds, as JavaScript's
/// `toISOString` writes it (state files shared with the TypeScript plugins use it).
pub fn iso_from_ms(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Now, as [`iso_from_ms`] writes it.
pub fn iso_now() -> String {
    iso_from_ms(now_ms())
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn iso_timestamps() {
        assert_eq!(super::iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso_from_ms(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            super::iso_from_ms(4_102_444_799_999),
            "2099-12-31T23:59:59.999Z"
        );
        assert_eq!(super::iso_now().len(), 24);
    }
}
