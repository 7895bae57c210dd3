//! [`NimTransport`]: the part of the NIM V2 API a bot uses, as one trait, whatever carries it
//! (the JS SDK in the gateway, the server API, or a scripted fake in tests).

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{ConnectStatus, KickReason, LoginStatus, Message, NimError};

/// Events, named as the V2 listeners without `on`, with their payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "payload", rename_all = "camelCase")]
pub enum NimEvent {
    LoginStatus(LoginStatus),
    ConnectStatus(ConnectStatus),
    LoginFailed(NimError),
    KickedOffline(Kicked),
    Disconnected(Option<NimError>),
    ConnectFailed(NimError),
    DataSync(DataSync),
    ReceiveMessages(Vec<Message>),
    /// The transport itself ended (the JS module was unloaded, the webhook listener died).
    Closed(Option<NimError>),
    /// A message copy the webhook received; NetEase is answered once `Durable` is told.
    /// Not an SDK event: never sent to or read from JS.
    #[serde(skip)]
    Copied(Box<Message>, Durable),
}

/// Tells the webhook whether a copied message is durable (journaled, or nothing to keep): it
/// answers NetEase 200 only then, and 503 otherwise, so NetEase delivers the copy again.
#[derive(Debug, Clone)]
pub struct Durable(std::sync::Arc<std::sync::Mutex<Option<oneshot::Sender<bool>>>>);

impl Durable {
    /// A handle for the channel and the receiver the webhook waits on.
    pub fn new() -> (Self, oneshot::Receiver<bool>) {
        let (tx, rx) = oneshot::channel();
        (
            Self(std::sync::Arc::new(std::sync::Mutex::new(Some(tx)))),
            rx,
        )
    }

    /// `kept`: the message is durable, or there was nothing to keep. Only the first call counts;
    /// dropping every handle untold reads as not kept.
    pub fn done(&self, kept: bool) {
        if let Some(tx) = channel_core::lock(&self.0).take() {
            let _ = tx.send(kept);
        }
    }
}

/// Two handles are equal when they answer the same copy.
impl PartialEq for Durable {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kicked {
    pub reason: KickReason,
    pub reason_desc: String,
    pub client_type: i64,
    pub custom_client_type: i64,
}

impl Default for Kicked {
    fn default() -> Self {
        Self {
            reason: KickReason::Server,
            reason_desc: String::new(),
            client_type: 0,
            custom_client_type: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataSync {
    #[serde(rename = "type")]
    pub kind: i64,
    pub state: i64,
    pub code: Option<i64>,
}

/// Who logs in.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    pub app_key: String,
    pub account_id: String,
    pub token: String,
    /// The SDK's `aiBot` login flag: 2 for an AI-bot identity (what the server expects).
    pub ai_bot: i64,
}

/// Tokens stay out of debug output.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("app_key", &self.app_key)
            .field("account_id", &self.account_id)
            .field("ai_bot", &self.ai_bot)
            .finish_non_exhaustive()
    }
}

/// One message to send, with the id that makes a retry recognisable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    pub conversation_id: String,
    pub message_client_id: String,
    #[serde(flatten)]
    pub body: SendBody,
    /// A team member this message @-mentions (its text starts with [`Mention::text`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mention: Option<Mention>,
}

/// An @-mention of one team member, as NetEase's apps make it: the member is force-pushed
/// (`pushConfig.forcePushAccountIds`, which is also how a mention arrives), and the message's
/// server extension marks the `@name` at the start of the text (`yxAitMsg`), which the apps
/// render as a mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    pub account_id: String,
    /// `@<name>`, the start of the message's text.
    pub text: String,
}

impl Mention {
    /// A mention of `account_id`, shown as `@<name>` (the account id when the name is unknown).
    pub fn of(account_id: &str, name: Option<&str>) -> Self {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(account_id);
        Self {
            account_id: account_id.to_owned(),
            text: format!("@{name}"),
        }
    }

    /// The server extension that marks the mention: `yxAitMsg.<accid>` with the text and its
    /// span, in UTF-16 code units, end inclusive (the unit NetEase's JS and mobile kits count).
    pub fn server_extension(&self) -> String {
        let end = self.text.encode_utf16().count().saturating_sub(1);
        serde_json::json!({
            "yxAitMsg": {
                &self.account_id: {
                    "text": self.text,
                    "segments": [{"start": 0, "end": end, "broken": false}],
                }
            }
        })
        .to_string()
    }
}

/// A P2P read receipt: `message` (received from `peer`) has been read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub conversation_id: String,
    /// Who sent the message, and gets the receipt.
    pub sender_id: String,
    /// Who read it: this account.
    pub receiver_id: String,
    pub message_client_id: String,
    pub message_server_id: String,
    pub create_time: i64,
}

impl ReadReceipt {
    /// The receipt for a received P2P message.
    pub fn of(message: &Message) -> Self {
        Self {
            conversation_id: message.conversation_id.clone(),
            sender_id: message.sender_id.clone(),
            receiver_id: message.receiver_id.clone(),
            message_client_id: message.message_client_id.clone(),
            message_server_id: message.message_server_id.clone(),
            create_time: message.create_time,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SendBody {
    Text {
        text: String,
    },
    Image {
        path: String,
        name: String,
        width: u32,
        height: u32,
    },
    File {
        path: String,
        name: String,
    },
    Video {
        path: String,
        name: String,
    },
}

/// What the server stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sent {
    pub message_client_id: String,
    pub message_server_id: String,
    pub create_time: i64,
}

/// The NIM V2 surface one account needs. Implementations deliver events on the channel they
/// were opened with, from `login` on.
#[async_trait::async_trait]
pub trait NimTransport: Send + Sync + std::fmt::Debug {
    /// Resolves once logged in; the SDK's own reconnects after that are reported as events.
    async fn login(&self, login: &Login) -> Result<(), NimError>;
    async fn logout(&self) -> Result<(), NimError>;
    async fn send(&self, request: &SendRequest) -> Result<Sent, NimError>;
    /// Tells the sender of a P2P message that it has been read.
    async fn send_read_receipt(&self, receipt: &ReadReceipt) -> Result<(), NimError>;
    /// Releases everything (listeners, sockets). Idempotent.
    async fn close(&self);
}

/// A transport and the receiving end of its events.
pub struct Opened {
    pub transport: std::sync::Arc<dyn NimTransport>,
    pub events: mpsc::UnboundedReceiver<NimEvent>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_the_js_adapter_emits_them() {
        let kicked: NimEvent = serde_json::from_value(serde_json::json!({
            "event": "kickedOffline",
            "payload": {"reason": 1, "reasonDesc": "other device", "clientType": 16}
        }))
        .unwrap();
        assert!(matches!(
            kicked,
            NimEvent::KickedOffline(Kicked {
                reason: KickReason::ClientExclusive,
                ..
            })
        ));
        let failed: NimEvent = serde_json::from_value(serde_json::json!({
            "event": "loginFailed", "payload": {"code": 302, "desc": "bad token"}
        }))
        .unwrap();
        assert_eq!(
            failed,
            NimEvent::LoginFailed(NimError::new(302, "bad token"))
        );
        let gone: NimEvent =
            serde_json::from_value(serde_json::json!({"event": "disconnected", "payload": null}))
                .unwrap();
        assert_eq!(gone, NimEvent::Disconnected(None));
        let status: NimEvent =
            serde_json::from_value(serde_json::json!({"event": "connectStatus", "payload": 3}))
                .unwrap();
        assert_eq!(status, NimEvent::ConnectStatus(ConnectStatus::Waiting));
    }

    #[test]
    fn a_mention_marks_its_name_in_utf16_units() {
        let mention = Mention::of("u1", Some("小明"));
        assert_eq!(mention.text, "@小明");
        let ext: serde_json::Value = serde_json::from_str(&mention.server_extension()).unwrap();
        assert_eq!(
            ext,
            serde_json::json!({"yxAitMsg": {"u1": {"text": "@小明", "segments": [{"start": 0, "end": 2, "broken": false}]}}})
        );
        assert_eq!(Mention::of("u2", Some("  ")).text, "@u2");
    }

    #[test]
    fn send_requests_match_the_adapter_methods() {
        let req = SendRequest {
            conversation_id: "bot|1|alice".into(),
            message_client_id: "c1".into(),
            body: SendBody::Text { text: "hi".into() },
            mention: None,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"conversationId": "bot|1|alice", "messageClientId": "c1", "kind": "text", "text": "hi"})
        );
    }
}
