//! NetEase Yunxin IM (NIM): channel id `netease-yunxin`.
//!
//! A drop-in for the `netease-yunxin` OpenClaw plugin: the same `channels.netease-yunxin` keys
//! (`appKey`, `accountId`, `token`, `dmPolicy`, `allowFrom`, `enabled`) and environment
//! variables, plus named accounts. NetEase's long-connection protocol is closed, so the crate
//! models the NIM **V2 API surface** ([`nim`]) and runs the channel on a [`nim::NimTransport`]:
//! NetEase's JS SDK inside the gateway (`sdk`, the default), the server API (`server-api`), or
//! the scripted `testing::FakeNim` (feature `testing`, for tests; never packaged).
//!
//! Modules, in the order of the inbound flow: [`nim`] (events, messages, conversation ids,
//! error codes), [`normalize`] (message → `Inbound`), [`channel`] ([`YunxinChannel`]),
//! [`outbound`] (targets, pieces, stable client ids), [`sdk`] (the host-run JS transport),
//! [`server_api`] (the signed REST API and the message-copy webhook), [`config`].
//!
//! ```
//! use yunxin::config::YunxinConfig;
//! use yunxin::nim::{ConversationId, NimError};
//!
//! let section = serde_json::json!({"appKey": "k", "accountId": "bot", "token": "t"});
//! let config = YunxinConfig::parse(&section).unwrap();
//! let account = config.account("default", &|_| None).unwrap();
//! assert_eq!(account.base.credentials.unwrap().account_id, "bot");
//!
//! assert_eq!(ConversationId::p2p("bot", "alice").to_string(), "bot|1|alice");
//! // A refused token stops the account instead of retrying forever.
//! assert_eq!(NimError::new(302, "").kind(), channel_core::ErrorKind::NeedsLogin);
//! ```

pub mod channel;
pub mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod nim;
pub mod normalize;
pub mod outbound;
pub mod sdk;
pub mod server_api;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use channel::{Account, YunxinChannel};

pub const CHANNEL_ID: &str = "netease-yunxin";
