//! `V2NIMMessage`, reduced to what a bot reads, with the SDK's field names (camelCase), so a
//! message from the JS SDK deserializes as it is.

use serde::{Deserialize, Serialize};

use super::{ConversationType, MessageSource, MessageType};

/// A message as the SDK delivers it in `receiveMessages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Message {
    /// The sender's id for the message (unique per sender).
    pub message_client_id: String,
    /// The server's id (unique per app); empty until the server stored it.
    pub message_server_id: String,
    /// Milliseconds since the epoch.
    pub create_time: i64,
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub receiver_id: String,
    pub conversation_type: ConversationType,
    /// `<self>|<type>|<target>`.
    pub conversation_id: String,
    pub message_type: MessageType,
    pub sub_type: Option<i64>,
    pub text: Option<String>,
    pub attachment: Option<Attachment>,
    pub server_extension: Option<String>,
    /// Accounts @-mentioned in a team message (`pushConfig.forcePushAccountIds`).
    pub force_push_account_ids: Vec<String>,
    /// Sent by this account (from another of its clients, or echoed back).
    pub is_self: bool,
    pub message_source: MessageSource,
}

/// The attachment of an image, audio, video, file or location message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Attachment {
    pub url: Option<String>,
    pub name: Option<String>,
    pub ext: Option<String>,
    pub size: Option<u64>,
    pub md5: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Milliseconds, for audio and video.
    pub duration: Option<u64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<String>,
}

impl Message {
    /// The id deduplication keys on: the server's, or, when the server gave none, the
    /// sender's own id for it, which counts only together with the sender (a peer who reuses
    /// another's client id can only shadow its own messages). Empty when there is neither.
    pub fn dedup_id(&self) -> String {
        match (&self.message_server_id, &self.message_client_id) {
            (server, _) if !server.is_empty() => server.clone(),
            (_, client) if !client.is_empty() => format!("{}/{client}", self.sender_id),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sdk_message_reads_as_it_is() {
        let raw = serde_json::json!({
            "messageClientId": "c1", "messageServerId": "123", "createTime": 1_700_000_000_000i64,
            "senderId": "alice", "receiverId": "bot", "conversationType": 1,
            "conversationId": "bot|1|alice", "messageType": 1, "isSelf": false,
            "attachment": {"url": "https://nos.example/x.png", "width": 10, "height": 20, "size": 99},
            "somethingNew": true
        });
        let msg: Message = serde_json::from_value(raw).unwrap();
        assert_eq!(msg.message_type, MessageType::Image);
        assert_eq!(msg.attachment.as_ref().unwrap().width, Some(10));
        assert_eq!(msg.dedup_id(), "123");
    }
}
