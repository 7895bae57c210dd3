//! Loopback simulators of the IM servers our channels talk to, plus a deterministic mock model,
//! for unit tests, `cargo xtask e2e` and the sandbox.
//!
//! * [`ilink`] — a fake of Tencent's iLink bot API (WeChat: QR login, bot endpoints, media CDN), written from
//!   `specs/weixin-ilink-protocol.md` rather than from our client's wire types, so that client and
//!   simulator cannot share a bug.
//! * [`openim`] — a fake OpenIM server (WS gateway, REST, object storage).
//! * [`nim`] — a fake of NetEase Yunxin IM's server API (signed REST sends) and its
//!   message-copy webhook pusher.
//! * [`model`] — an OpenAI-compatible `chat/completions` server with scripted replies.
//! * [`canary`] — a server on `127.0.0.2` that counts requests, for SSRF checks.
//!
//! All bind 127.0.0.1 only (the canary 127.0.0.2) and stop when their handle is dropped.
//!
//! ```no_run
//! use std::time::Duration;
//! use imsim::ilink::{IlinkOptions, IlinkSim};
//! use imsim::model::MockModel;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = IlinkSim::start(IlinkOptions { hold: Duration::from_millis(200), ..Default::default() }).await?;
//! let bot = IlinkSim::new_bot();
//! sim.add_bot(bot.clone());
//! let model = MockModel::start(0).await?;
//!
//! // Point the client under test at `sim.base_url()` with `bot.token`, and its model provider
//! // at `model.base_url()`; then play the user:
//! let inbound = sim.inject_text(&bot.bot_id, &bot.owner, "[[ECHO:hi]]");
//! let sent = sim.wait_sent(&bot.bot_id, 1, Duration::from_secs(5)).await;
//! assert_eq!(sent[0].text.as_deref(), Some("ECHO: hi"));
//! assert_eq!(sent[0].context_token.as_deref(), Some(inbound.context_token.as_str()));
//! # Ok(()) }
//! ```
//!
//! The `imsim` binary runs both servers for out-of-process use; every simulator also serves an
//! admin API under `/_admin/` (see [`ilink`]).

pub mod canary;
mod http;
pub mod ilink;
pub mod model;
pub mod nim;
pub mod openim;
pub mod screen;
