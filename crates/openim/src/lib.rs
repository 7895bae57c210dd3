//! OpenIM through its message gateway (WebSocket) and REST API: channel id `multi-openim`.
//!
//! A drop-in for the `multi-openim-channel` OpenClaw plugin: the same `channels.multi-openim`
//! config (named accounts only, each with its own server and token, optional `userID` and
//! `platformID` read from the token, config-driven token refresh), speaking the gateway's
//! `sdkType=js` protocol directly instead of through `@openim/client-sdk`.
//!
//! Modules, in the order of the inbound flow:
//!
//! - [`wire`]: gateway frames (JSON envelope around base64 protobuf), the protobuf messages,
//!   message content JSON, conversation ids, the connect URL;
//! - [`gateway`]: the WebSocket session, gap-free catch-up with persisted seqs, sends that
//!   survive a reconnect, the account's connection loop;
//! - [`normalize`]: stored message → `Inbound`, and the group gate (`requireMention`,
//!   `inboundWhitelist`);
//! - [`channel`]: [`OpenimChannel`], the [`channel_core::Channel`] implementation;
//! - [`outbound`]: targets, text pieces, media uploads and stable `clientMsgID`s;
//! - [`rest`]: the REST API (users, groups, objects, guarded friend operations);
//! - [`recovery`]: token refresh (`http`, `hook`, `off`) and manual-login markers;
//! - [`actions`]: the agent tools `multi_openim_send_*`, the `multi-openim.friend` gateway
//!   method and `openclaw multi-openim setup`;
//! - [`errors`], [`jwt`], [`config`]: error codes, token claims, `channels.multi-openim`.
//!
//! ```
//! use openim::wire::{self, proto::GetMaxSeqReq, RequestHeader};
//!
//! # fn main() -> Result<(), channel_core::ChannelError> {
//! let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJVc2VySUQiOiJib3QxIiwiUGxhdGZvcm1JRCI6\
//!              NywiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl";
//! let section = serde_json::json!({
//!     "accounts": { "primary": {
//!         "token": token, "wsAddr": "ws://127.0.0.1:10001", "apiAddr": "http://127.0.0.1:10002"
//!     }}
//! });
//! let config = openim::config::OpenimConfig::parse(&section)?;
//! let account = config.account("primary")?;
//! // userID and platformID were left out, so they come from the token's claims.
//! let credentials = account.base.credentials?;
//! assert_eq!((credentials.user_id.as_str(), credentials.platform_id), ("bot1", 7));
//!
//! // The first request after login: newest seq of every conversation.
//! let header = RequestHeader { send_id: &credentials.user_id, operation_id: "op-1", msg_incr: "m1" };
//! let frame = wire::encode_request(&header, &GetMaxSeqReq { user_id: credentials.user_id.clone() })?;
//! assert!(frame.starts_with(br#"{"reqIdentifier":1001"#));
//! # Ok(()) }
//! ```

pub mod actions;
pub mod channel;
pub mod config;
pub mod errors;
pub mod gateway;
pub mod jwt;
pub mod normalize;
pub mod outbound;
pub mod recovery;
pub mod rest;
pub mod wire;

pub use channel::{Account, OpenimChannel};

pub const CHANNEL_ID: &str = "multi-openim";
