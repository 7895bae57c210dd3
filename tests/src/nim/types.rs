//! Public value types of the NIM simulator: what tests hand in and what they read back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// Which server API a send came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `POST /nimserver/msg/sendMsg.action` (form fields).
    V1,
    /// `POST /im/v2/conversations/{conversation_id}/messages` (JSON).
    V2,
}

/// Conversation type, numbered as in V2 (`V2NIMConversationType`, spec §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvType {
    /// 1: one-to-one.
    P2p,
    /// 2: advanced team (V1 `ope=1`).
    Team,
    /// 3: super team.
    SuperTeam,
}

impl ConvType {
    /// The V2 number (1, 2, 3).
    pub fn v2_code(self) -> i64 {
        match self {
            ConvType::P2p => 1,
            ConvType::Team => 2,
            ConvType::SuperTeam => 3,
        }
    }

    /// The V2 number back to a type; anything else is `None`.
    pub fn from_v2_code(code: i64) -> Option<ConvType> {
        match code {
            1 => Some(ConvType::P2p),
            2 => Some(ConvType::Team),
            3 => Some(ConvType::SuperTeam),
            _ => None,
        }
    }
}

/// One accepted send: stored as a message and answered with code 200. A resend answered from
/// the dedup table is not stored again, so it does not show up here a second time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NimSent {
    pub via: Via,
    /// The sending account (`from` in V1, the first part of the conversation id in V2).
    pub sender: String,
    pub conv_type: ConvType,
    /// The receiving account (P2P) or the team id.
    pub receiver: String,
    /// 0 text, 1 image, 2 audio, 3 video, 4 location, 6 file, 10 tip, 100 custom.
    pub message_type: i64,
    /// V2 `message.text`; V1 `body.msg` of a text.
    pub text: Option<String>,
    /// V2 `message.attachment`; V1 the parsed `body` of any non-text message.
    pub attachment: Option<Value>,
    /// V2 `message.message_client_id` as sent, or the one the server generated. V1 has none.
    pub client_id: Option<String>,
    /// The server id answered (`message_server_id` / `msgid`).
    pub server_id: u64,
    /// Milliseconds since the epoch, as answered (`create_time` / `timetag`).
    pub create_time: u64,
    /// The whole request: the V2 JSON body, or the V1 form fields as a JSON object of strings.
    pub request: Value,
}

/// One file stored by `POST /nimserver/msg/upload.action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NimUpload {
    /// The last part of [`NimUpload::url`].
    pub id: String,
    /// Where the simulator serves the file (`GET`, unsigned), as answered.
    pub url: String,
    /// The decoded bytes.
    #[serde(skip)]
    pub content: Vec<u8>,
    /// The `type` field, if given.
    pub file_type: Option<String>,
    /// `ishttps=true` was asked (the simulator serves plain HTTP regardless).
    pub https: bool,
    pub expire_sec: Option<u64>,
    pub tag: Option<String>,
}

/// One REST call the server received, whatever the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NimCall {
    pub method: String,
    /// Path and query, as received (still percent-encoded).
    pub path: String,
    /// Lower-cased names. `authorization`, `cookie` and `proxy-authorization` are left out; the
    /// AppSecret itself never travels, and a `CheckSum` is useless after the clock window.
    pub headers: BTreeMap<String, String>,
    /// The body as UTF-8 (lossy).
    pub body: String,
    pub http_status: u16,
    /// The NIM `code` of the answer (200 = success), when the answer had one.
    pub code: Option<i64>,
    pub at_ms: u64,
}

impl NimCall {
    /// A header by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A fault for the next authenticated REST calls, set with `NimSim::set_fault`. Calls that fail
/// authentication are answered 414 as usual and do not use it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NimFault {
    /// HTTP 200 `{"code":416,...}` ("too frequent"), nothing stored.
    RateLimit { calls: u32 },
    /// HTTP 500 with `{"code":500,...}`, nothing stored. Both the status and the code say
    /// "server error", so a client may look at either.
    ServerError { calls: u32 },
    /// Holds each call for `delay`, then handles it normally (client timeouts).
    Hang { calls: u32, delay: Duration },
}

impl NimFault {
    pub(crate) fn calls(&self) -> u32 {
        match self {
            NimFault::RateLimit { calls }
            | NimFault::ServerError { calls }
            | NimFault::Hang { calls, .. } => *calls,
        }
    }
}

/// One P2P read receipt: `from` read `to`'s message `server_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NimReceipt {
    pub from: String,
    pub to: String,
    pub server_id: u64,
}

/// One webhook POST the simulator made, and how the receiver answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pushed {
    pub url: String,
    /// The receiver's HTTP status.
    pub status: u16,
    /// The exact bytes posted (always UTF-8 JSON here).
    pub body: String,
    /// The request headers in the order sent (`AppKey`, `CurTime`, `MD5`, `CheckSum`,
    /// `Content-Type` for signed pushes).
    pub headers: Vec<(String, String)>,
    /// `msgidClient` of the body, when it has one.
    pub msgid_client: Option<String>,
    /// `msgidServer` of the body, when it has one.
    pub msgid_server: Option<String>,
}

impl Pushed {
    /// A header by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a webhook push could not be delivered at all (an HTTP error status is not an error:
/// it is in [`Pushed::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("no webhook URL set; call NimSim::set_webhook first")]
    NoWebhook,
    #[error("webhook POST to {url} failed: {reason}")]
    Http { url: String, reason: String },
}
