//! The OpenIM message-gateway wire format for `sdkType=js` (spec §1.3–§1.6, §2).
//!
//! Every request and reply is a JSON envelope in a BINARY WebSocket frame whose `data` is the
//! standard-base64 (padded) protobuf of the body ([`proto`]). Text frames carry only the
//! handshake result and the JSON heartbeat. Decoding is total: any malformed frame becomes a
//! classified [`channel_core::ChannelError`] naming the frame and field, never a panic.
//!
//! These types are the client's own; the simulators write theirs from the spec.

mod content;
pub mod conversation;
mod envelope;
pub mod proto;

pub use content::{
    AtInfo, AtTextElem, Content, CustomElem, FileElem, PictureBaseInfo, PictureElem, QuoteElem,
    SoundElem, TextElem, VideoElem,
};
pub use envelope::{
    HEARTBEAT_PING, Handshake, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, RequestHeader, Response,
    ServerFrame, TextFrame, connect_url, decode_server_frame, decode_text_frame, encode_request,
};
pub use proto::{Reply, Request};

/// The `reqIdentifier` of a gateway frame (spec §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReqIdentifier {
    /// 1001 `WSGetNewestSeq`: newest seq of every conversation.
    GetNewestSeq,
    /// 1002 `WSPullMsgBySeqList`: pull seq ranges (the catch-up call).
    PullMsgBySeqList,
    /// 1003 `WSSendMsg`.
    SendMsg,
    /// 1004 `WSSendSignalMsg`: broken on the server; never sent.
    SendSignalMsg,
    /// 1005 `WSPullMsg`: pull exact seqs.
    PullMsg,
    /// 1006 `WSGetConvMaxReadSeq`.
    GetConvMaxReadSeq,
    /// 1007 `WsPullConvLastMessage`.
    PullConvLastMessage,
    /// 2001 `WSPushMsg`: server push of new messages.
    PushMsg,
    /// 2002 `WSKickOnlineMsg`: another client took over; the server then drops TCP.
    KickOnlineMsg,
    /// 2003 `WsLogoutMsg`.
    Logout,
    /// 2004 `WsSetBackgroundStatus`.
    SetBackgroundStatus,
    /// 2005 `WsSubUserOnlineStatus` (reply, or a push when `msgIncr` is empty).
    SubUserOnlineStatus,
    /// 3001 `WSDataError`: defined, unused by the server.
    DataError,
}

impl ReqIdentifier {
    pub const ALL: [Self; 13] = [
        Self::GetNewestSeq,
        Self::PullMsgBySeqList,
        Self::SendMsg,
        Self::SendSignalMsg,
        Self::PullMsg,
        Self::GetConvMaxReadSeq,
        Self::PullConvLastMessage,
        Self::PushMsg,
        Self::KickOnlineMsg,
        Self::Logout,
        Self::SetBackgroundStatus,
        Self::SubUserOnlineStatus,
        Self::DataError,
    ];

    pub fn code(self) -> i32 {
        match self {
            Self::GetNewestSeq => 1001,
            Self::PullMsgBySeqList => 1002,
            Self::SendMsg => 1003,
            Self::SendSignalMsg => 1004,
            Self::PullMsg => 1005,
            Self::GetConvMaxReadSeq => 1006,
            Self::PullConvLastMessage => 1007,
            Self::PushMsg => 2001,
            Self::KickOnlineMsg => 2002,
            Self::Logout => 2003,
            Self::SetBackgroundStatus => 2004,
            Self::SubUserOnlineStatus => 2005,
            Self::DataError => 3001,
        }
    }

    /// `None` for identifiers the server does not define (e.g. the JS SDK's 2100).
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|r| i64::from(r.code()) == code)
    }
}

impl std::fmt::Display for ReqIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// `MsgData.contentType` (spec §2.3).
pub mod content_type {
    pub const TEXT: i32 = 101;
    pub const PICTURE: i32 = 102;
    pub const SOUND: i32 = 103;
    pub const VIDEO: i32 = 104;
    pub const FILE: i32 = 105;
    pub const AT_TEXT: i32 = 106;
    pub const MERGER: i32 = 107;
    pub const CARD: i32 = 108;
    pub const LOCATION: i32 = 109;
    pub const CUSTOM: i32 = 110;
    /// Legacy revoke.
    pub const REVOKE: i32 = 111;
    /// Not stored; pushed with seq 0.
    pub const TYPING: i32 = 113;
    pub const QUOTE: i32 = 114;
    pub const FACE: i32 = 115;
    pub const ADVANCED_TEXT: i32 = 117;
    pub const MARKDOWN_TEXT: i32 = 118;
    pub const CUSTOM_NOT_TRIGGER_CONVERSATION: i32 = 119;
    pub const CUSTOM_ONLINE_ONLY: i32 = 120;
    /// First notification type: everything from here to [`NOTIFICATION_END`] carries
    /// `{"detail": "<JSON>"}`.
    pub const NOTIFICATION_BEGIN: i32 = 1000;
    /// Group created (the first of the 15xx group notifications).
    pub const GROUP_CREATED: i32 = 1501;
    /// What a pull returns for a revoked message.
    pub const MSG_REVOKE_NOTIFICATION: i32 = 2101;
    pub const HAS_READ_RECEIPT: i32 = 2200;
    pub const NOTIFICATION_END: i32 = 5000;

    /// Whether a content type is a system notification rather than user content.
    pub fn is_notification(content_type: i32) -> bool {
        content_type >= NOTIFICATION_BEGIN
    }
}

/// `MsgData.sessionType` (spec §2.2).
pub mod session_type {
    pub const SINGLE: i32 = 1;
    /// Legacy write-diffusion group: rejected on send.
    pub const WRITE_GROUP: i32 = 2;
    /// Every group.
    pub const GROUP: i32 = 3;
    pub const NOTIFICATION: i32 = 4;
}

/// `MsgData.msgFrom`.
pub mod msg_from {
    pub const USER: i32 = 100;
    pub const SYSTEM: i32 = 200;
}

/// `MsgData.status`.
pub mod msg_status {
    /// What a client sends.
    pub const SENDING: i32 = 1;
    pub const SUCCESS: i32 = 2;
    pub const FAILED: i32 = 3;
    /// Deleted, or a placeholder for a hole: skip.
    pub const DELETED: i32 = 4;
    pub const FILTERED: i32 = 5;
}

/// Platform ids (spec §2.2). The WS `platformID` must equal the token's `PlatformID` claim.
pub mod platform {
    pub const IOS: i32 = 1;
    pub const ANDROID: i32 = 2;
    pub const WINDOWS: i32 = 3;
    pub const OSX: i32 = 4;
    /// The only platform the server pings itself.
    pub const WEB: i32 = 5;
    pub const MINI_WEB: i32 = 6;
    pub const LINUX: i32 = 7;
    pub const ANDROID_PAD: i32 = 8;
    pub const IPAD: i32 = 9;
    /// Admin tokens only.
    pub const ADMIN: i32 = 10;
    pub const HARMONY_OS: i32 = 11;

    /// The gateway refuses any other id with 1602.
    pub fn is_known(id: i64) -> bool {
        (1..=11).contains(&id)
    }
}

/// `MsgData.atUserIDList` entry meaning "everyone".
pub const AT_ALL_TAG: &str = "AtAllTag";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_identifiers_roundtrip() {
        for req in ReqIdentifier::ALL {
            assert_eq!(ReqIdentifier::from_code(i64::from(req.code())), Some(req));
        }
        assert_eq!(ReqIdentifier::from_code(2100), None);
        assert_eq!(ReqIdentifier::from_code(-1), None);
        assert_eq!(ReqIdentifier::SendMsg.to_string(), "1003");
    }

    #[test]
    fn notification_range() {
        assert!(!content_type::is_notification(content_type::TEXT));
        assert!(content_type::is_notification(
            content_type::MSG_REVOKE_NOTIFICATION
        ));
        assert!(platform::is_known(7) && !platform::is_known(12) && !platform::is_known(0));
    }
}
