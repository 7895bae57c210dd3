//! Public value types of the iLink simulator: what tests hand in and what they get back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cdn::MediaRef;
use super::wire;

/// One iLink bot account (what a QR login would have produced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    /// `<12 hex>@im.bot`
    pub bot_id: String,
    /// `<bot_id>:<hex secret>`, sent by clients as `Authorization: Bearer <token>`.
    pub token: String,
    /// The WeChat user who "scanned the QR code": `o9cq80…@im.wechat`, 28 mixed-case characters.
    pub owner: String,
}

impl Bot {
    /// A bot with realistic random id, token and owner.
    pub fn random() -> Self {
        let bot_id = wire::random_bot_id();
        Self {
            token: wire::random_bot_token(&bot_id),
            owner: wire::random_user_id(),
            bot_id,
        }
    }
}

/// What the simulator assigned to an injected inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    pub seq: u64,
    /// Server id; always above 2^53 so that clients which parse it as f64 lose precision visibly.
    pub message_id: u64,
    pub context_token: String,
    /// For [`IlinkSim::inject_media`](super::IlinkSim::inject_media): where the file lies on the CDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
}

/// One `sendmessage` call that passed authentication and body parsing, accepted or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    pub to_user_id: String,
    pub client_id: String,
    pub context_token: Option<String>,
    pub run_id: Option<String>,
    /// Concatenation of all `text_item.text` values; `None` if the message had no text item.
    pub text: Option<String>,
    /// `msg.item_list` as received (`null` if absent).
    pub items: Value,
    /// The whole request body.
    pub body: Value,
    /// Request headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The JSON the simulator answered.
    pub result: Value,
    pub accepted: bool,
    /// Server message id assigned on success.
    pub message_id: Option<u64>,
    pub at_ms: u64,
}

/// One request to any listener of the simulator: the bot API, the QR redirect host or the CDN
/// (the admin API is not recorded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    /// `127.0.0.1:PORT` of the listener that received the request; tells the API, the QR
    /// redirect host and the CDN apart.
    pub host: String,
    pub path: String,
    pub query: Option<String>,
    /// Names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body if it was JSON (never parsed for CDN requests).
    pub body: Option<Value>,
    pub body_len: usize,
    pub at_ms: u64,
}

/// Shapes of the "session expired" answer; the real server has been seen to use each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryVariant {
    /// `{"errcode":-14,"errmsg":"session timeout"}` (no `ret`).
    #[default]
    ErrcodeOnly,
    /// `{"ret":-14,"errmsg":"session timeout"}`.
    RetOnly,
    /// `{"ret":-14,"errcode":-14,"errmsg":"session timeout"}`.
    Both,
}

/// A one-shot misbehaviour, consumed by the next authenticated `getupdates` of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 200 with JSON of the wrong shape (`msgs` is a string, the cursor a number).
    MalformedBody,
    /// HTTP 200, `text/html`, an HTML error page.
    NonJson200,
    /// HTTP 200 with an empty body.
    EmptyBody200,
    /// The given HTTP status with a short text body.
    HttpStatus(u16),
    /// Sleep this long, then answer normally (including the long-poll hold).
    Delay(Duration),
    /// HTTP 200 with the session-expired error in the given shape; the token stays valid.
    SessionExpired(ExpiryVariant),
}
