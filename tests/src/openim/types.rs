//! Public value types of the OpenIM simulator: what tests hand in and what they get back.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `share.yml multiLogin.policy` (spec §1.9): who gets kicked when a user connects or gets a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MultiLoginPolicy {
    /// Policy 0: nobody is kicked.
    NoKick,
    /// Policy 1 (the server default, "AllLoginButSameTermKick"): same user + same platform + a
    /// different token is kicked.
    #[default]
    SamePlatformKick,
    /// Policy 4: one connection per platform class (Mobile {1,2}, PC {3,4,7}, Pad {8,9}, and Web,
    /// MiniWeb, Admin, HarmonyOS each alone).
    SameClassKick,
    /// Any other policy number: a single terminal per user.
    SingleTerminal,
}

/// Where an injected message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Single chat with this user (`si_<a>_<b>`).
    User(String),
    /// Group chat (`sg_<gid>`).
    Group(String),
}

/// What the simulator assigned to a stored (injected) message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Injected {
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    pub seq: i64,
    #[serde(rename = "clientMsgID")]
    pub client_msg_id: String,
    #[serde(rename = "serverMsgID")]
    pub server_msg_id: String,
    pub send_time: i64,
    pub text: String,
}

/// One send received by the server: a WS 1003 whose `data` decoded as `MsgData`, or a REST
/// `/msg/send_msg` that passed authentication, accepted or rejected.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// `ws` or `rest`.
    pub via: String,
    /// The connection's or token's user.
    pub user_id: String,
    pub operation_id: String,
    #[serde(rename = "clientMsgID")]
    pub client_msg_id: String,
    /// Empty when rejected.
    #[serde(rename = "serverMsgID")]
    pub server_msg_id: String,
    #[serde(rename = "sendID")]
    pub send_id: String,
    #[serde(rename = "recvID")]
    pub recv_id: String,
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub session_type: i32,
    pub content_type: i32,
    /// `content` as UTF-8 (lossy).
    pub content: String,
    /// `content.content` of a text (101/118), `content.text` of an @/quote/advanced text.
    pub text: Option<String>,
    #[serde(rename = "atUserIDList")]
    pub at_user_id_list: Vec<String>,
    /// Conversation the message was (or would have been) stored in.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    /// 0 = accepted.
    pub err_code: i32,
    pub err_dlt: String,
    /// Assigned after the reply, when the message is stored; 0 until then and for unstored ones.
    pub seq: i64,
    pub at_ms: u64,
}

/// A finished object upload (`complete_multipart_upload`), or an object put by the test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub size: usize,
    /// The client's `hash` (md5 of the comma-joined part md5s).
    pub hash: String,
    pub parts: usize,
    /// `initiate_multipart_upload` answered the URL at once (same hash seen before).
    pub dedup: bool,
    #[serde(rename = "userID")]
    pub user_id: String,
    /// `http://API/object/<name>`.
    pub url: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// One call to a `/friend/*` endpoint that passed authentication.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendCall {
    pub path: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub body: Value,
    pub err_code: i32,
    pub at_ms: u64,
}

/// One REST request (any path except `/_admin/`), for debugging what a client called.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestCall {
    pub method: String,
    pub path: String,
    #[serde(rename = "operationID")]
    pub operation_id: Option<String>,
    /// Token user, when the token was valid.
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    /// JSON body (protobuf bodies are shown as `{"protobuf_base64": ...}`).
    pub body: Value,
    pub err_code: i32,
    pub at_ms: u64,
}

/// A live gateway connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnInfo {
    pub id: u64,
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(rename = "platformID")]
    pub platform_id: i32,
    pub token: String,
    pub compression: bool,
    pub connected_at_ms: u64,
}

/// One-shot faults for the next server → client binary frame of a user (response or push).
/// They queue up in order; each applies to one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// An extra binary frame whose payload is not JSON, sent just before the next frame.
    MalformedFrame,
    /// The next frame's `data` is not base64 (the frame is otherwise intact).
    BadBase64,
    /// The next frame's `data` is valid base64 of bytes that do not decode as protobuf.
    BadProtobuf,
    /// An extra frame `{"reqIdentifier":9999,"msgIncr":"imsim-unknown-N",...,"data":null}` before
    /// the next frame.
    UnknownReqIdentifier,
    /// An extra, valid-JSON binary frame (`reqIdentifier` 3001) of about `bytes` bytes, before the
    /// next frame. The real server has no outbound limit; the Go SDK caps reads at 1 MiB.
    Oversized { bytes: usize },
    /// Holds the next frame (and so everything queued behind it) back for `ms` milliseconds.
    Delay { ms: u64 },
    /// Closes the TCP connection (no close frame) instead of sending the next frame.
    Drop,
}

impl Fault {
    pub fn delay(d: Duration) -> Self {
        Fault::Delay {
            ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// A user as `/user/get_users_info` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub nickname: String,
    #[serde(rename = "faceURL", default)]
    pub face_url: String,
    #[serde(default)]
    pub ex: String,
    /// 1 = does not receive (single-chat sends to them fail with 1001).
    #[serde(default)]
    pub global_recv_msg_opt: i32,
}

impl User {
    pub fn new(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            nickname: user_id.to_owned(),
            face_url: String::new(),
            ex: String::new(),
            global_recv_msg_opt: 0,
        }
    }
}
