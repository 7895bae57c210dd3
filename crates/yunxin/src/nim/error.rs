//! NIM error codes (V1 `NIMResCode` and V2 `V2NIMErrorCode`) and what each means for an
//! account: retry, back off, stop until a person logs in again, or give up on one message.

use channel_core::{ChannelError, ErrorKind};
use serde::{Deserialize, Serialize};

/// An error as the SDKs and the server API report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NimError {
    pub code: i64,
    #[serde(default)]
    pub desc: String,
}

/// What a code means for the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NimErrorClass {
    /// 302, 102302: wrong account or token (or, for the server API, app key or secret).
    /// Retrying with the same credentials cannot help.
    BadToken,
    /// 417 and kicks: another login of the same account took over.
    MultiLogin,
    /// 408, 191005, 192002, 192004: a request or the link timed out.
    Timeout,
    /// 415, 192001, 192003, 192005: the connection failed or dropped.
    Network,
    /// 422, 102422: the account is banned.
    Banned,
    /// 416: too frequent.
    RateLimited,
    /// 107451, 195001, 195002: the message was refused by anti-spam.
    Antispam,
    /// 101303, 102404: the app key or the account does not exist.
    NotFound,
    /// 414, 191004: a parameter was refused.
    BadParameter,
    /// 403, 102421, 102426, 107410, 108404, 109404: not allowed to send there.
    Refused,
    /// 500, 503, 190001, 190002 and everything unknown: worth another try later.
    Server,
}

impl NimError {
    pub fn new(code: i64, desc: impl Into<String>) -> Self {
        Self {
            code,
            desc: desc.into(),
        }
    }

    pub fn class(&self) -> NimErrorClass {
        use NimErrorClass::*;
        match self.code {
            302 | 102302 => BadToken,
            417 => MultiLogin,
            408 | 191005 | 192002 | 192004 => Timeout,
            415 | 192001 | 192003 | 192005 => Network,
            422 | 102422 => Banned,
            416 => RateLimited,
            107451 | 195001 | 195002 => Antispam,
            101303 | 102404 => NotFound,
            414 | 191004 => BadParameter,
            403 | 102421 | 102426 | 107410 | 108404 | 109404 => Refused,
            _ => Server,
        }
    }

    /// The channel-core kind that drives retries and account state.
    pub fn kind(&self) -> ErrorKind {
        match self.class() {
            NimErrorClass::BadToken | NimErrorClass::Banned | NimErrorClass::NotFound => {
                ErrorKind::NeedsLogin
            }
            NimErrorClass::MultiLogin => ErrorKind::Kicked,
            NimErrorClass::Timeout | NimErrorClass::Network | NimErrorClass::Server => {
                ErrorKind::Transient
            }
            NimErrorClass::RateLimited => ErrorKind::RateLimited,
            NimErrorClass::Antispam | NimErrorClass::Refused => ErrorKind::Permanent,
            NimErrorClass::BadParameter => ErrorKind::BadInput,
        }
    }

    fn explain(&self) -> &'static str {
        match self.class() {
            NimErrorClass::BadToken => {
                "the credentials were refused (app key, account id, token or app secret); fix them and restart the account"
            }
            NimErrorClass::MultiLogin => "the account logged in elsewhere",
            NimErrorClass::Timeout => "timed out",
            NimErrorClass::Network => "connection failed",
            NimErrorClass::Banned => "the account is banned",
            NimErrorClass::RateLimited => "too many requests",
            NimErrorClass::Antispam => "refused by anti-spam",
            NimErrorClass::NotFound => "the app key or account does not exist",
            NimErrorClass::BadParameter => "a parameter was refused",
            NimErrorClass::Refused => "not allowed",
            NimErrorClass::Server => "server error",
        }
    }
}

impl std::fmt::Display for NimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.desc.is_empty() {
            write!(f, "NIM error {}: {}", self.code, self.explain())
        } else {
            write!(
                f,
                "NIM error {} ({}): {}",
                self.code,
                self.desc,
                self.explain()
            )
        }
    }
}

impl std::error::Error for NimError {}

impl From<NimError> for ChannelError {
    fn from(error: NimError) -> Self {
        ChannelError::new(error.kind(), error.to_string()).with_code(error.code.to_string())
    }
}

/// The NIM code a [`ChannelError`] made from a [`NimError`] carries, if any.
pub fn code_of(error: &ChannelError) -> Option<i64> {
    error.code.as_deref()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_codes_map_onto_channel_core_kinds() {
        for (code, kind) in [
            (302, ErrorKind::NeedsLogin),
            (102302, ErrorKind::NeedsLogin),
            (417, ErrorKind::Kicked),
            (408, ErrorKind::Transient),
            (191005, ErrorKind::Transient),
            (192001, ErrorKind::Transient),
            (192002, ErrorKind::Transient),
            (192003, ErrorKind::Transient),
            (192004, ErrorKind::Transient),
            (422, ErrorKind::NeedsLogin),
            (416, ErrorKind::RateLimited),
            (107451, ErrorKind::Permanent),
            (195002, ErrorKind::Permanent),
            (414, ErrorKind::BadInput),
            (500, ErrorKind::Transient),
            (0, ErrorKind::Transient),
        ] {
            assert_eq!(NimError::new(code, "").kind(), kind, "code {code}");
        }
    }

    #[test]
    fn messages_keep_the_code_for_later_classification() {
        let err: ChannelError = NimError::new(102302, "invalid token").into();
        assert_eq!(err.kind, ErrorKind::NeedsLogin);
        assert!(
            err.message.starts_with("NIM error 102302 (invalid token)"),
            "{err}"
        );
        assert_eq!(code_of(&err), Some(102302));
        assert_eq!(code_of(&ChannelError::transient("other")), None);
    }
}
