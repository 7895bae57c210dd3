//! OpenIM error codes (spec §3.5, §3.7) classified into [`ErrorKind`], once, for the gateway
//! (`errCode` of the handshake and of replies) and for REST (`errCode` of the body, HTTP status
//! of the transport).
//!
//! Token errors: OpenIM says to stop, get a new token out of band and reconnect (§3.5); the
//! seed plugin refreshes on every one of them (`OnUserTokenExpired`, `OnUserTokenInvalid`,
//! `OnKickedOffline`). So 1501–1505 and 1507 are [`ErrorKind::AuthExpired`] (a configured
//! `tokenRefresh` may fix them without a person; without one the account runner turns them
//! into `NeedsLogin`), and 1506, a token marked kicked because another login took over, is
//! [`ErrorKind::Kicked`] like the 2002 kick frame. None is ever retried with the same token.

use channel_core::{ChannelError, ErrorKind};

/// The codes we name (spec §3.7), including the JS SDK's client-side ones.
pub mod code {
    pub const SERVER_INTERNAL: i64 = 500;
    pub const ARGS: i64 = 1001;
    pub const NO_PERMISSION: i64 = 1002;
    pub const DUPLICATE_KEY: i64 = 1003;
    pub const RECORD_NOT_FOUND: i64 = 1004;
    pub const SECRET_NOT_CHANGED: i64 = 1050;
    pub const USER_ID_NOT_FOUND: i64 = 1101;
    pub const REGISTERED_ALREADY: i64 = 1102;
    pub const GROUP_ID_NOT_FOUND: i64 = 1201;
    pub const GROUP_ID_EXISTED: i64 = 1202;
    pub const NOT_IN_GROUP_YET: i64 = 1203;
    pub const DISMISSED_ALREADY: i64 = 1204;
    pub const GROUP_TYPE_NOT_SUPPORT: i64 = 1205;
    pub const GROUP_REQUEST_HANDLED: i64 = 1206;
    pub const CAN_NOT_ADD_YOURSELF: i64 = 1301;
    pub const BLOCKED_BY_PEER: i64 = 1302;
    pub const NOT_PEERS_FRIEND: i64 = 1303;
    pub const RELATIONSHIP_ALREADY: i64 = 1304;
    pub const FRIEND_REQUEST_HANDLED: i64 = 1305;
    pub const MESSAGE_HAS_READ_DISABLE: i64 = 1401;
    pub const MUTED_IN_GROUP: i64 = 1402;
    pub const MUTED_GROUP: i64 = 1403;
    pub const MSG_ALREADY_REVOKE: i64 = 1404;
    pub const TOKEN_EXPIRED: i64 = 1501;
    pub const TOKEN_INVALID: i64 = 1502;
    pub const TOKEN_MALFORMED: i64 = 1503;
    pub const TOKEN_NOT_VALID_YET: i64 = 1504;
    pub const TOKEN_UNKNOWN: i64 = 1505;
    pub const TOKEN_KICKED: i64 = 1506;
    pub const TOKEN_NOT_EXIST: i64 = 1507;
    pub const ORG_USER_NO_PERMISSION: i64 = 1520;
    pub const CONN_OVER_MAX_NUM_LIMIT: i64 = 1601;
    pub const CONN_ARGS: i64 = 1602;
    pub const PUSH_MSG: i64 = 1603;
    pub const IOS_BACKGROUND_PUSH: i64 = 1604;
    pub const FILE_UPLOADED_EXPIRED: i64 = 1701;
    pub const CALLBACK: i64 = 80000;
    pub const DATABASE: i64 = 90002;
    pub const NETWORK: i64 = 90004;
    pub const DATA: i64 = 90007;
    /// JS SDK, client side.
    pub const SDK_NETWORK: i64 = 10000;
    pub const SDK_NETWORK_TIMEOUT: i64 = 10001;
    pub const SDK_ARGS: i64 = 10002;
    pub const SDK_RESOURCE_LOAD_NOT_COMPLETE: i64 = 10004;
    pub const SDK_INTERNAL: i64 = 10006;
    pub const SDK_LOGIN_REPEAT: i64 = 10102;
}

/// The short name and kind of each known code.
const TABLE: &[(i64, &str, ErrorKind)] = {
    use ErrorKind::*;
    use code::*;
    &[
        (SERVER_INTERNAL, "ServerInternalError", Transient),
        (ARGS, "ArgsError", Permanent),
        (NO_PERMISSION, "NoPermissionError", Permanent),
        (DUPLICATE_KEY, "DuplicateKey", Permanent),
        (RECORD_NOT_FOUND, "RecordNotFound", Permanent),
        (SECRET_NOT_CHANGED, "SecretNotChanged", Permanent),
        (USER_ID_NOT_FOUND, "UserIDNotFound", Permanent),
        (REGISTERED_ALREADY, "RegisteredAlready", Permanent),
        (GROUP_ID_NOT_FOUND, "GroupIDNotFound", Permanent),
        (GROUP_ID_EXISTED, "GroupIDExisted", Permanent),
        (NOT_IN_GROUP_YET, "NotInGroupYet", Permanent),
        (DISMISSED_ALREADY, "DismissedAlready", Permanent),
        (GROUP_TYPE_NOT_SUPPORT, "GroupTypeNotSupport", Permanent),
        (GROUP_REQUEST_HANDLED, "GroupRequestHandled", Permanent),
        (CAN_NOT_ADD_YOURSELF, "CanNotAddYourself", Permanent),
        (BLOCKED_BY_PEER, "BlockedByPeer", Permanent),
        (NOT_PEERS_FRIEND, "NotPeersFriend", Permanent),
        (RELATIONSHIP_ALREADY, "RelationshipAlready", Permanent),
        (FRIEND_REQUEST_HANDLED, "FriendRequestHandled", Permanent),
        (MESSAGE_HAS_READ_DISABLE, "MessageHasReadDisable", Permanent),
        (MUTED_IN_GROUP, "MutedInGroup", Permanent),
        (MUTED_GROUP, "MutedGroup", Permanent),
        (MSG_ALREADY_REVOKE, "MsgAlreadyRevoke", Permanent),
        (TOKEN_EXPIRED, "TokenExpired", AuthExpired),
        (TOKEN_INVALID, "TokenInvalid", AuthExpired),
        (TOKEN_MALFORMED, "TokenMalformed", AuthExpired),
        (TOKEN_NOT_VALID_YET, "TokenNotValidYet", AuthExpired),
        (TOKEN_UNKNOWN, "TokenUnknown", AuthExpired),
        (TOKEN_KICKED, "TokenKicked", Kicked),
        (TOKEN_NOT_EXIST, "TokenNotExist", AuthExpired),
        (ORG_USER_NO_PERMISSION, "OrgUserNoPermission", Permanent),
        // The server is full: come back later, not soon.
        (CONN_OVER_MAX_NUM_LIMIT, "ConnOverMaxNumLimit", RateLimited),
        // Our connect parameters (userID, platformID) come from config.
        (CONN_ARGS, "ConnArgsErr", BadInput),
        (PUSH_MSG, "PushMsgErr", Transient),
        (IOS_BACKGROUND_PUSH, "IOSBackgroundPushErr", Transient),
        // The upload id expired: starting the upload again works.
        (FILE_UPLOADED_EXPIRED, "FileUploadedExpired", Transient),
        // A before-send webhook refused the message.
        (CALLBACK, "CallbackError", Permanent),
        (DATABASE, "DatabaseError", Transient),
        (NETWORK, "NetworkError", Transient),
        (DATA, "DataError", Transient),
        (SDK_NETWORK, "SdkNetworkError", Transient),
        (SDK_NETWORK_TIMEOUT, "SdkNetworkTimeout", Transient),
        (SDK_ARGS, "SdkArgsError", BadInput),
        (
            SDK_RESOURCE_LOAD_NOT_COMPLETE,
            "SdkResourceLoadNotComplete",
            Transient,
        ),
        (SDK_INTERNAL, "SdkInternalError", Transient),
        (SDK_LOGIN_REPEAT, "SdkLoginRepeat", Permanent),
    ]
};

/// The short name of a known code (`TokenExpired`).
pub fn name(code: i64) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, n, _)| *n)
}

/// The kind of a non-zero code. Unknown codes are permanent: OpenIM does not dedupe sends, so
/// retrying something we do not understand risks a duplicate message.
pub fn kind(code: i64) -> ErrorKind {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(ErrorKind::Permanent, |(_, _, k)| *k)
}

/// 1501–1507: the token must be replaced before reconnecting.
pub fn is_token_error(code: i64) -> bool {
    (code::TOKEN_EXPIRED..=code::TOKEN_NOT_EXIST).contains(&code)
}

/// The JS SDK event a token code fires, as the seed plugin's refresh hook receives it in
/// `reason` (spec §5.3): 1501 `OnUserTokenExpired`, 1506 `OnKickedOffline`, the other token
/// codes `OnUserTokenInvalid`.
pub fn sdk_event(code: i64) -> Option<&'static str> {
    match code {
        code::TOKEN_EXPIRED => Some("OnUserTokenExpired"),
        code::TOKEN_KICKED => Some("OnKickedOffline"),
        c if is_token_error(c) => Some("OnUserTokenInvalid"),
        _ => None,
    }
}

/// `Ok` for `errCode` 0, else the classified error. `what` names the frame or endpoint.
pub fn check(what: &str, code: i64, err_msg: &str, err_dlt: &str) -> Result<(), ChannelError> {
    if code == 0 {
        Ok(())
    } else {
        Err(classify(what, code, err_msg, err_dlt))
    }
}

/// The classified error for a non-zero `errCode`. The server's text is kept (shortened, with
/// anything that looks like a JWT removed) because it often says which argument was wrong.
pub fn classify(what: &str, code: i64, err_msg: &str, err_dlt: &str) -> ChannelError {
    let kind = kind(code);
    let mut message = format!("{what}: errCode {code}");
    if let Some(name) = name(code) {
        message.push(' ');
        message.push_str(name);
    }
    let detail: Vec<String> = [err_msg, err_dlt]
        .into_iter()
        .map(|s| scrub(s.trim()))
        .filter(|s| !s.is_empty() && name(code) != Some(s.as_str()))
        .collect();
    if !detail.is_empty() {
        message.push_str(&format!(" ({})", detail.join(": ")));
    }
    if let Some(hint) = hint(code) {
        message.push_str(": ");
        message.push_str(hint);
    }
    ChannelError::new(kind, message).with_code(code.to_string())
}

fn hint(code: i64) -> Option<&'static str> {
    Some(match code {
        code::TOKEN_EXPIRED => "the token expired; refresh it or configure a new one",
        code::TOKEN_INVALID => {
            "the token's UserID/PlatformID claims do not match the connection's userID/platformID"
        }
        code::TOKEN_KICKED => {
            "the token was replaced by a newer login for this user and platform; get a new token \
             and make sure no other client uses the same account and platform"
        }
        code::TOKEN_NOT_EXIST => "the server does not know this token; get a new one",
        c if is_token_error(c) => "the server rejected the token; get a new one",
        code::CONN_ARGS => "check the account's userID and platformID",
        _ => return None,
    })
}

/// The 2002 kick frame: another client logged in with a different token on this platform.
pub fn kicked() -> ChannelError {
    ChannelError::new(
        ErrorKind::Kicked,
        "2002 kick: another client logged in as this user on the same platform with a different \
         token; the server closed the connection and will refuse this token (1506)",
    )
    .with_code(KICK_FRAME.to_string())
}

/// The push frame that kicks a connection, as [`code_of`] reports it.
const KICK_FRAME: i64 = 2002;

/// A REST answer whose HTTP status is not 200 (OpenIM answers every business result with 200,
/// so these come from proxies or a wrong `apiAddr`). `None` for 2xx.
pub fn http_status(what: &str, status: u16) -> Option<ChannelError> {
    let kind = match status {
        200..=299 => return None,
        429 => ErrorKind::RateLimited,
        408 | 500..=599 => ErrorKind::Transient,
        // Neither is an OpenIM answer (token errors come as 200 + 15xx): a proxy in front.
        401 | 403 => ErrorKind::Permanent,
        404 | 405 => ErrorKind::BadInput,
        _ => ErrorKind::Permanent,
    };
    let hint = match status {
        404 | 405 => ": no such OpenIM route; check the account's apiAddr",
        _ => "",
    };
    Some(ChannelError::new(
        kind,
        format!("{what}: HTTP {status}{hint}"),
    ))
}

/// Shortens server text and removes JWT-looking words, so no token reaches a log.
fn scrub(text: &str) -> String {
    let cleaned: Vec<String> = text
        .split(' ')
        .map(|word| {
            if looks_like_jwt(word) {
                "<token>".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    let cleaned = cleaned.join(" ");
    if cleaned.chars().count() > 200 {
        format!("{}…", cleaned.chars().take(200).collect::<String>())
    } else {
        cleaned
    }
}

fn looks_like_jwt(word: &str) -> bool {
    let Some(start) = word.find("eyJ") else {
        return false;
    };
    let candidate = &word[start..];
    let token: String = candidate
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='))
        .collect();
    token.matches('.').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use ErrorKind::*;
        let cases: &[(i64, ErrorKind)] = &[
            (500, Transient),
            (1001, Permanent),
            (1002, Permanent),
            (1004, Permanent),
            (1201, Permanent),
            (1203, Permanent),
            (1204, Permanent),
            (1302, Permanent),
            (1303, Permanent),
            (1402, Permanent),
            (1403, Permanent),
            (1501, AuthExpired),
            (1502, AuthExpired),
            (1503, AuthExpired),
            (1504, AuthExpired),
            (1505, AuthExpired),
            (1506, Kicked),
            (1507, AuthExpired),
            (1601, RateLimited),
            (1602, BadInput),
            (1603, Transient),
            (1701, Transient),
            (80000, Permanent),
            (90002, Transient),
            (90004, Transient),
            (90007, Transient),
            (10000, Transient),
            (10001, Transient),
            (10002, BadInput),
            (10102, Permanent),
            (4242, Permanent),
            (-1, Permanent),
        ];
        for &(code, expected) in cases {
            assert_eq!(kind(code), expected, "errCode {code}");
            let err = classify("1003 reply", code, "", "");
            assert_eq!(err.kind, expected, "errCode {code}");
            assert!(
                err.message
                    .starts_with(&format!("1003 reply: errCode {code}")),
                "{err}"
            );
        }
    }

    #[test]
    fn every_table_entry_is_unique_and_named() {
        for (i, (code, name_, _)) in TABLE.iter().enumerate() {
            assert!(!name_.is_empty());
            assert!(
                TABLE[i + 1..].iter().all(|(c, _, _)| c != code),
                "duplicate {code}"
            );
        }
    }

    #[test]
    fn token_codes_and_events() {
        assert!((1501..=1507).all(is_token_error));
        assert!(!is_token_error(1500) && !is_token_error(1508) && !is_token_error(2002));
        assert_eq!(sdk_event(1501), Some("OnUserTokenExpired"));
        for code in [1502, 1503, 1504, 1505, 1507] {
            assert_eq!(sdk_event(code), Some("OnUserTokenInvalid"), "{code}");
        }
        assert_eq!(sdk_event(1506), Some("OnKickedOffline"));
        assert_eq!(sdk_event(1001), None);
        assert!(!kind(1501).stops_account() && kicked().kind.stops_account());
    }

    #[test]
    fn zero_is_success() {
        assert!(check("x", 0, "", "").is_ok());
        assert!(check("x", 1501, "", "").is_err());
    }

    #[test]
    fn messages_carry_the_server_text_without_tokens() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJVc2VySUQiOiJib3QxIn0.c2ln";
        let err = classify(
            "handshake",
            1502,
            "TokenInvalidError",
            &format!("token:{token} does not match sendID bot1"),
        );
        assert!(!err.message.contains("eyJ"), "{err}");
        assert!(err.message.contains("TokenInvalid"), "{err}");
        assert!(err.message.contains("does not match sendID bot1"), "{err}");
        assert!(err.message.contains("<token>"), "{err}");
        // The name is not repeated when errMsg is just the name.
        let err = classify("x", 1302, "BlockedByPeer", "");
        assert_eq!(err.message, "x: errCode 1302 BlockedByPeer");
        let long = "y".repeat(1000);
        assert!(classify("x", 1001, &long, "").message.len() < 300);
    }

    #[test]
    fn http_statuses() {
        assert!(http_status("/msg/newest_seq", 200).is_none());
        let cases = [
            (429, ErrorKind::RateLimited),
            (502, ErrorKind::Transient),
            (503, ErrorKind::Transient),
            (408, ErrorKind::Transient),
            (404, ErrorKind::BadInput),
            (401, ErrorKind::Permanent),
            (418, ErrorKind::Permanent),
        ];
        for (status, expected) in cases {
            let err = http_status("/user/get_users_info", status).expect("error");
            assert_eq!(err.kind, expected, "{status}");
            assert!(
                err.message
                    .starts_with(&format!("/user/get_users_info: HTTP {status}")),
                "{err}"
            );
        }
    }
}

/// The OpenIM code a classified error carries (its `errCode`, or 2002 for the kick frame), so a
/// caller can tell 1501 from 1507 after the error has travelled as a [`ChannelError`].
pub fn code_of(error: &ChannelError) -> Option<i64> {
    error.code.as_deref()?.parse().ok()
}

#[cfg(test)]
mod code_of_tests {
    use super::*;

    #[test]
    fn codes_survive_classification() {
        assert_eq!(code_of(&classify("handshake", 1507, "", "")), Some(1507));
        assert_eq!(code_of(&kicked()), Some(2002));
        assert_eq!(code_of(&ChannelError::transient("eof")), None);
        let travelled = classify("handshake", 1501, "", "").context("connect");
        assert_eq!(code_of(&travelled), Some(1501), "context keeps the code");
        assert_eq!(
            code_of(&ChannelError::transient("see errCode 1507 above")),
            None,
            "never read from the text"
        );
    }
}
