//! Error classes shared by every channel.
//!
//! A channel maps each wire failure onto one [`ErrorKind`]; everything that decides what to do
//! next (retry, back off, pause, ask for a re-login, give up) looks only at the kind. That keeps
//! the policy in one place instead of in every protocol crate.

use std::time::Duration;

/// What kind of failure happened, which decides the reaction.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// Network blip, timeout, 5xx, unparsable answer: retry with backoff.
    Transient,
    /// The server asked us to slow down: retry after a longer wait.
    RateLimited,
    /// Credentials went stale but may be refreshed without a person.
    AuthExpired,
    /// Another client took over the session.
    Kicked,
    /// Only a person can fix this (scan a QR code again, paste a new token).
    NeedsLogin,
    /// The request can never succeed as it is (unknown peer, refused by the server).
    Permanent,
    /// Our caller gave us something invalid (config, target, media).
    BadInput,
}

impl ErrorKind {
    /// Whether the same call may succeed if simply tried again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Transient | Self::RateLimited)
    }

    /// Whether the account cannot continue until a person acts.
    pub fn stops_account(self) -> bool {
        matches!(self, Self::NeedsLogin | Self::Kicked)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::RateLimited => "rateLimited",
            Self::AuthExpired => "authExpired",
            Self::Kicked => "kicked",
            Self::NeedsLogin => "needsLogin",
            Self::Permanent => "permanent",
            Self::BadInput => "badInput",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The result of anything a channel does; `Result<T>` fails with a [`ChannelError`].
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;

/// A classified channel failure. The message must never contain a token or secret.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{kind}: {message}")]
pub struct ChannelError {
    pub kind: ErrorKind,
    pub message: String,
    /// A server-provided hint for when to try again (e.g. `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The code the failing server or module gave, as it gave it (NIM's `302`), for a caller
    /// that reacts to codes. Never parsed out of `message`.
    pub code: Option<String>,
}

impl ChannelError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            code: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }

    pub fn needs_login(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NeedsLogin, message)
    }

    /// A server's hint for when to try again, held to [`MAX_RETRY_AFTER`]: a misconfigured or
    /// hostile server must not park an account for days.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after.min(MAX_RETRY_AFTER));
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Prefixes the message with where the failure happened, keeping the kind.
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<std::io::Error> for ChannelError {
    fn from(err: std::io::Error) -> Self {
        Self::transient(format!("i/o: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_held_to_ten_minutes() {
        let day = ChannelError::transient("busy").with_retry_after(Duration::from_secs(86_400));
        assert_eq!(day.retry_after, Some(MAX_RETRY_AFTER));
        let short = ChannelError::transient("busy").with_retry_after(Duration::from_secs(7));
        assert_eq!(short.retry_after, Some(Duration::from_secs(7)));
    }
}
