//! OpenIM error codes (spec §3.7) and the coded error every handler returns.

use std::fmt;

/// Numeric error codes of spec §3.7 that the simulator produces.
pub mod code {
    pub const SERVER_INTERNAL: i32 = 500;
    pub const ARGS: i32 = 1001;
    pub const NO_PERMISSION: i32 = 1002;
    pub const DUPLICATE_KEY: i32 = 1003;
    pub const RECORD_NOT_FOUND: i32 = 1004;
    pub const USER_ID_NOT_FOUND: i32 = 1101;
    pub const REGISTERED_ALREADY: i32 = 1102;
    pub const GROUP_ID_NOT_FOUND: i32 = 1201;
    pub const GROUP_ID_EXISTED: i32 = 1202;
    pub const NOT_IN_GROUP_YET: i32 = 1203;
    pub const DISMISSED_ALREADY: i32 = 1204;
    pub const CAN_NOT_ADD_YOURSELF: i32 = 1301;
    pub const BLOCKED_BY_PEER: i32 = 1302;
    pub const NOT_PEERS_FRIEND: i32 = 1303;
    pub const RELATIONSHIP_ALREADY: i32 = 1304;
    pub const FRIEND_REQUEST_HANDLED: i32 = 1305;
    pub const MUTED_IN_GROUP: i32 = 1402;
    pub const MUTED_GROUP: i32 = 1403;
    pub const TOKEN_EXPIRED: i32 = 1501;
    pub const TOKEN_INVALID: i32 = 1502;
    pub const TOKEN_MALFORMED: i32 = 1503;
    pub const TOKEN_NOT_VALID_YET: i32 = 1504;
    pub const TOKEN_UNKNOWN: i32 = 1505;
    pub const TOKEN_KICKED: i32 = 1506;
    pub const TOKEN_NOT_EXIST: i32 = 1507;
    pub const CONN_OVER_MAX_NUM_LIMIT: i32 = 1601;
    pub const CONN_ARGS: i32 = 1602;
}

/// The short `errMsg` the server puts next to a code.
pub fn err_msg(code: i32) -> &'static str {
    match code {
        0 => "",
        code::SERVER_INTERNAL => "ServerInternalError",
        code::ARGS => "ArgsError",
        code::NO_PERMISSION => "NoPermissionError",
        code::DUPLICATE_KEY => "DuplicateKeyError",
        code::RECORD_NOT_FOUND => "RecordNotFoundError",
        code::USER_ID_NOT_FOUND => "UserIDNotFoundError",
        code::REGISTERED_ALREADY => "RegisteredAlreadyError",
        code::GROUP_ID_NOT_FOUND => "GroupIDNotFoundError",
        code::GROUP_ID_EXISTED => "GroupIDExisted",
        code::NOT_IN_GROUP_YET => "NotInGroupYetError",
        code::DISMISSED_ALREADY => "DismissedAlreadyError",
        code::CAN_NOT_ADD_YOURSELF => "CanNotAddYourselfError",
        code::BLOCKED_BY_PEER => "BlockedByPeer",
        code::NOT_PEERS_FRIEND => "NotPeersFriend",
        code::RELATIONSHIP_ALREADY => "RelationshipAlreadyError",
        code::FRIEND_REQUEST_HANDLED => "FriendRequestHandled",
        code::MUTED_IN_GROUP => "MutedInGroup",
        code::MUTED_GROUP => "MutedGroup",
        code::TOKEN_EXPIRED => "TokenExpiredError",
        code::TOKEN_INVALID => "TokenInvalidError",
        code::TOKEN_MALFORMED => "TokenMalformedError",
        code::TOKEN_NOT_VALID_YET => "TokenNotValidYetError",
        code::TOKEN_UNKNOWN => "TokenUnknownError",
        code::TOKEN_KICKED => "TokenKickedError",
        code::TOKEN_NOT_EXIST => "TokenNotExistError",
        code::CONN_OVER_MAX_NUM_LIMIT => "ConnOverMaxNumLimit",
        code::CONN_ARGS => "args err, need token, sendID, platformID",
        _ => "Error",
    }
}

/// A coded error: `errCode`, the short `errMsg` and a free-form `errDlt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeError {
    pub code: i32,
    pub detail: String,
}

impl CodeError {
    pub fn new(code: i32, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    pub fn args(detail: impl Into<String>) -> Self {
        Self::new(code::ARGS, detail)
    }

    pub fn no_permission(detail: impl Into<String>) -> Self {
        Self::new(code::NO_PERMISSION, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(code::RECORD_NOT_FOUND, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(code::SERVER_INTERNAL, detail)
    }

    pub fn msg(&self) -> &'static str {
        err_msg(self.code)
    }
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.msg(), self.detail)
    }
}

pub type CodeResult<T> = Result<T, CodeError>;
