//! The protobuf messages the gateway carries in `data` (spec §1.4, §2.1), written by hand.
//!
//! Field numbers and types are those of `openimsdk/protocol` (`sdkws`, `msg`, `push`); the Rust
//! names are snake_case, the tags are what matter on the wire. Maps are `BTreeMap` so that
//! encoding is deterministic (snapshots, logs) and conversations are walked in a stable order.
//! Protobuf has no type tag, so any bytes may decode as the wrong message: replies go through
//! [`super::Response::decode`], which first checks that the frame answers the expected request.

use std::collections::BTreeMap;

use super::ReqIdentifier;

/// A protobuf body the client sends, and the `reqIdentifier` of the frame it goes in.
pub trait Request: prost::Message {
    const REQ: ReqIdentifier;
    /// The message's proto name, for error messages.
    const NAME: &'static str;
}

/// A protobuf body the server answers with, and the `reqIdentifier` it answers.
pub trait Reply: prost::Message + Default {
    const REQ: ReqIdentifier;
    const NAME: &'static str;
}

macro_rules! request {
    ($ty:ident, $req:ident) => {
        impl Request for $ty {
            const REQ: ReqIdentifier = ReqIdentifier::$req;
            const NAME: &'static str = stringify!($ty);
        }
    };
}

macro_rules! reply {
    ($ty:ident, $req:ident) => {
        impl Reply for $ty {
            const REQ: ReqIdentifier = ReqIdentifier::$req;
            const NAME: &'static str = stringify!($ty);
        }
    };
}

/// `sdkws.MsgData`: one message, sent (1003) or received (push, pull).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MsgData {
    #[prost(string, tag = "1")]
    pub send_id: String,
    /// Empty for groups.
    #[prost(string, tag = "2")]
    pub recv_id: String,
    #[prost(string, tag = "3")]
    pub group_id: String,
    /// Client-generated (32 hex digits); the dedup key next to (conversation, seq).
    #[prost(string, tag = "4")]
    pub client_msg_id: String,
    #[prost(string, tag = "5")]
    pub server_msg_id: String,
    #[prost(int32, tag = "6")]
    pub sender_platform_id: i32,
    /// Filled by the sender's client; the server does not.
    #[prost(string, tag = "7")]
    pub sender_nickname: String,
    #[prost(string, tag = "8")]
    pub sender_face_url: String,
    /// [`super::session_type`].
    #[prost(int32, tag = "9")]
    pub session_type: i32,
    /// [`super::msg_from`].
    #[prost(int32, tag = "10")]
    pub msg_from: i32,
    /// [`super::content_type`].
    #[prost(int32, tag = "11")]
    pub content_type: i32,
    /// UTF-8 JSON of the elem (spec §2.4); see [`super::Content`].
    #[prost(bytes = "vec", tag = "12")]
    pub content: Vec<u8>,
    /// Per conversation, from 1; 0 on send and for messages that are not stored.
    #[prost(int64, tag = "14")]
    pub seq: i64,
    /// Milliseconds; 0 on send (the server stamps it).
    #[prost(int64, tag = "15")]
    pub send_time: i64,
    #[prost(int64, tag = "16")]
    pub create_time: i64,
    /// [`super::msg_status`].
    #[prost(int32, tag = "17")]
    pub status: i32,
    #[prost(bool, tag = "18")]
    pub is_read: bool,
    /// A missing key counts as `true` (spec §2.5): use [`MsgData::option`].
    #[prost(btree_map = "string, bool", tag = "19")]
    pub options: BTreeMap<String, bool>,
    #[prost(message, optional, tag = "20")]
    pub offline_push_info: Option<OfflinePushInfo>,
    /// Mentioned user ids of an at-text message; `"AtAllTag"` means everyone.
    #[prost(string, repeated, tag = "21")]
    pub at_user_id_list: Vec<String>,
    #[prost(string, tag = "22")]
    pub attached_info: String,
    #[prost(string, tag = "23")]
    pub ex: String,
}

request!(MsgData, SendMsg);

impl MsgData {
    /// An option as the server reads it: a missing key is `true` (spec §2.5).
    pub fn option(&self, key: &str) -> bool {
        self.options.get(key).copied().unwrap_or(true)
    }

    /// A hole in the seq range, or a message deleted for us: nothing to deliver (spec §1.8).
    pub fn is_placeholder(&self) -> bool {
        self.status >= super::msg_status::DELETED || self.client_msg_id.is_empty()
    }
}

/// `sdkws.OfflinePushInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OfflinePushInfo {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(string, tag = "2")]
    pub desc: String,
    #[prost(string, tag = "3")]
    pub ex: String,
    #[prost(string, tag = "4")]
    pub ios_push_sound: String,
    #[prost(bool, tag = "5")]
    pub ios_badge_count: bool,
    #[prost(string, tag = "6")]
    pub signal_info: String,
}

/// `sdkws.PullMsgs`: one conversation's messages in a pull or a push.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullMsgs {
    /// `Msgs` (capital M) in the proto.
    #[prost(message, repeated, tag = "1")]
    pub msgs: Vec<MsgData>,
    #[prost(bool, tag = "2")]
    pub is_end: bool,
    #[prost(int64, tag = "3")]
    pub end_seq: i64,
}

/// `sdkws.PushMessages`: the `data` of a 2001 push. Keys are conversation ids.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushMessages {
    #[prost(btree_map = "string, message", tag = "1")]
    pub msgs: BTreeMap<String, PullMsgs>,
    /// Conversations whose id starts with `n_`.
    #[prost(btree_map = "string, message", tag = "2")]
    pub notification_msgs: BTreeMap<String, PullMsgs>,
}

/// `sdkws.GetMaxSeqReq` (1001). `user_id` must be our own.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMaxSeqReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
}

request!(GetMaxSeqReq, GetNewestSeq);

/// `sdkws.GetMaxSeqResp` (1001): newest seq per conversation; zeros are left out.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetMaxSeqResp {
    #[prost(btree_map = "string, int64", tag = "1")]
    pub max_seqs: BTreeMap<String, i64>,
    /// Not filled by current servers.
    #[prost(btree_map = "string, int64", tag = "2")]
    pub min_seqs: BTreeMap<String, i64>,
}

reply!(GetMaxSeqResp, GetNewestSeq);

/// `sdkws.PullOrder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PullOrder {
    Asc = 0,
    Desc = 1,
}

/// `sdkws.SeqRange`: `begin..=end` of one conversation, at most the last `num` of them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SeqRange {
    #[prost(string, tag = "1")]
    pub conversation_id: String,
    #[prost(int64, tag = "2")]
    pub begin: i64,
    #[prost(int64, tag = "3")]
    pub end: i64,
    /// If the range is longer, only its last `num` seqs come back (spec §1.8).
    #[prost(int64, tag = "4")]
    pub num: i64,
}

/// `sdkws.PullMessageBySeqsReq` (1002): the catch-up call.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullMessageBySeqsReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(message, repeated, tag = "2")]
    pub seq_ranges: Vec<SeqRange>,
    #[prost(enumeration = "PullOrder", tag = "3")]
    pub order: i32,
}

request!(PullMessageBySeqsReq, PullMsgBySeqList);

/// `sdkws.PullMessageBySeqsResp` (1002). Conversations without messages are left out.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullMessageBySeqsResp {
    #[prost(btree_map = "string, message", tag = "1")]
    pub msgs: BTreeMap<String, PullMsgs>,
    #[prost(btree_map = "string, message", tag = "2")]
    pub notification_msgs: BTreeMap<String, PullMsgs>,
}

reply!(PullMessageBySeqsResp, PullMsgBySeqList);

/// `msg.SendMsgResp` (1003). It comes before the seq is assigned, so it has none: the seq
/// arrives with the push echo of the same `client_msg_id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendMsgResp {
    #[prost(string, tag = "1")]
    pub server_msg_id: String,
    #[prost(string, tag = "2")]
    pub client_msg_id: String,
    #[prost(int64, tag = "3")]
    pub send_time: i64,
    /// Set only when a webhook changed the message.
    #[prost(message, optional, tag = "4")]
    pub modify: Option<MsgData>,
}

reply!(SendMsgResp, SendMsg);

/// `msg.ConversationSeqs`. Its first field is number 2.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConversationSeqs {
    #[prost(string, tag = "2")]
    pub conversation_id: String,
    #[prost(int64, repeated, tag = "3")]
    pub seqs: Vec<i64>,
}

/// `msg.GetSeqMessageReq` (1005): exact seqs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSeqMessageReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(message, repeated, tag = "2")]
    pub conversations: Vec<ConversationSeqs>,
    #[prost(enumeration = "PullOrder", tag = "3")]
    pub order: i32,
}

request!(GetSeqMessageReq, PullMsg);

/// `msg.GetSeqMessageResp` (1005).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSeqMessageResp {
    #[prost(btree_map = "string, message", tag = "1")]
    pub msgs: BTreeMap<String, PullMsgs>,
    #[prost(btree_map = "string, message", tag = "2")]
    pub notification_msgs: BTreeMap<String, PullMsgs>,
}

reply!(GetSeqMessageResp, PullMsg);

/// `msg.GetConversationsHasReadAndMaxSeqReq` (1006).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetConversationsHasReadAndMaxSeqReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    /// Empty means all.
    #[prost(string, repeated, tag = "2")]
    pub conversation_ids: Vec<String>,
    #[prost(bool, tag = "3")]
    pub return_pinned: bool,
}

request!(GetConversationsHasReadAndMaxSeqReq, GetConvMaxReadSeq);

/// `msg.Seqs`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Seqs {
    #[prost(int64, tag = "1")]
    pub max_seq: i64,
    #[prost(int64, tag = "2")]
    pub has_read_seq: i64,
    #[prost(int64, tag = "3")]
    pub max_seq_time: i64,
}

/// `msg.GetConversationsHasReadAndMaxSeqResp` (1006). Chat conversations only (no `n_`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetConversationsHasReadAndMaxSeqResp {
    #[prost(btree_map = "string, message", tag = "1")]
    pub seqs: BTreeMap<String, Seqs>,
    #[prost(string, repeated, tag = "2")]
    pub pinned_conversation_ids: Vec<String>,
}

reply!(GetConversationsHasReadAndMaxSeqResp, GetConvMaxReadSeq);

/// `msg.GetLastMessageReq` (1007).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetLastMessageReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, repeated, tag = "2")]
    pub conversation_ids: Vec<String>,
}

request!(GetLastMessageReq, PullConvLastMessage);

/// `msg.GetLastMessageResp` (1007).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetLastMessageResp {
    #[prost(btree_map = "string, message", tag = "1")]
    pub msgs: BTreeMap<String, MsgData>,
}

reply!(GetLastMessageResp, PullConvLastMessage);

/// `push.DelUserPushTokenReq` (2003, logout). The server replies, then closes the connection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DelUserPushTokenReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(int32, tag = "2")]
    pub platform_id: i32,
}

request!(DelUserPushTokenReq, Logout);

/// `push.DelUserPushTokenResp` (2003): empty.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DelUserPushTokenResp {}

reply!(DelUserPushTokenResp, Logout);

/// `sdkws.SetAppBackgroundStatusReq` (2004). Affects only iOS offline push.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetAppBackgroundStatusReq {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(bool, tag = "2")]
    pub is_background: bool,
}

request!(SetAppBackgroundStatusReq, SetBackgroundStatus);

/// `sdkws.SetAppBackgroundStatusResp` (2004): empty.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetAppBackgroundStatusResp {}

reply!(SetAppBackgroundStatusResp, SetBackgroundStatus);

/// `sdkws.SubUserOnlineStatus` (2005).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubUserOnlineStatus {
    #[prost(string, repeated, tag = "1")]
    pub subscribe_user_id: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub unsubscribe_user_id: Vec<String>,
}

request!(SubUserOnlineStatus, SubUserOnlineStatus);

/// `sdkws.SubUserOnlineStatusElem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubUserOnlineStatusElem {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(int32, repeated, tag = "2")]
    pub online_platform_ids: Vec<i32>,
}

/// `sdkws.SubUserOnlineStatusTips` (2005 reply, and later 2005 pushes with an empty `msgIncr`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubUserOnlineStatusTips {
    #[prost(message, repeated, tag = "1")]
    pub subscribers: Vec<SubUserOnlineStatusElem>,
}

reply!(SubUserOnlineStatusTips, SubUserOnlineStatus);

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn field_numbers_match_the_spec_example() {
        // Spec §1.3: a 1003 frame's data starts "CgRib3Qx": field 1 (sendID) = "bot1".
        let msg = MsgData {
            send_id: "bot1".into(),
            ..MsgData::default()
        };
        assert_eq!(msg.encode_to_vec(), b"\x0a\x04bot1");
        // Tags 12 (bytes), 14 (int64, after the unused 13), 19 (map) and 21 (repeated string).
        let msg = MsgData {
            content: b"{}".to_vec(),
            seq: 3,
            options: BTreeMap::from([("history".into(), false)]),
            at_user_id_list: vec!["u".into()],
            ..MsgData::default()
        };
        let bytes = msg.encode_to_vec();
        assert_eq!(&bytes[..6], b"\x62\x02{}\x70\x03");
        assert_eq!(MsgData::decode(bytes.as_slice()).expect("roundtrip"), msg);
    }

    #[test]
    fn conversation_seqs_starts_at_field_two() {
        let bytes = ConversationSeqs {
            conversation_id: "c".into(),
            seqs: vec![1],
        }
        .encode_to_vec();
        assert_eq!(bytes, b"\x12\x01c\x1a\x01\x01");
    }

    #[test]
    fn options_missing_means_true() {
        let mut msg = MsgData::default();
        assert!(msg.option("history"));
        msg.options.insert("history".into(), false);
        assert!(!msg.option("history"));
    }

    #[test]
    fn placeholders_are_recognized() {
        let hole = MsgData {
            seq: 4,
            status: 4,
            ..MsgData::default()
        };
        assert!(hole.is_placeholder());
        let real = MsgData {
            seq: 5,
            status: 2,
            client_msg_id: "abc".into(),
            ..MsgData::default()
        };
        assert!(!real.is_placeholder());
    }
}
