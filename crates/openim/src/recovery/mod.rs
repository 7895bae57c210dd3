//! Token recovery: what an account does when OpenIM refuses its token (1501–1507), the
//! connection fails, or another login kicks it (2002).
//!
//! It follows the seed plugin's `tokenRefresh` contract. Mode `http` fills the
//! `tokenRefresh.http` templates, asks the operator's auth endpoint for a new token, writes
//! response fields back into the state file, saves the token into the OpenClaw config and
//! removes the `clearOnSuccess` files, retrying with the per-account backoff. Mode `hook` asks
//! the host's `globalThis.__multiOpenimTokenRefresher(accountId, reason)` once. Mode `off`
//! does not try. When recovery gives up, a per-account manual-login marker (JSON, no secrets)
//! tells a person what to do.
//!
//! ```
//! use async_trait::async_trait;
//! use channel_core::{CancellationToken, ChannelError};
//! use openim::config::{Secret, TokenRefresh, TokenRefreshConfig};
//! use openim::recovery::{HookToken, Recovery, RecoveryHost, Trigger};
//!
//! /// The host side: plugin-host implements this over Node.
//! struct Host;
//!
//! #[async_trait]
//! impl RecoveryHost for Host {
//!     async fn call_hook(&self, account_id: &str, reason: &str)
//!         -> Result<Option<HookToken>, ChannelError> {
//!         assert_eq!((account_id, reason), ("primary", "OnUserTokenExpired"));
//!         Ok(Some(HookToken { token: Secret::new("new-token"), user_id: None }))
//!     }
//!     async fn save_token(&self, _: &str, _: &Secret) -> Result<(), ChannelError> {
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let section = serde_json::json!({ "mode": "hook" });
//! let config: TokenRefreshConfig = serde_json::from_value(section)?;
//! let refresh = TokenRefresh::resolve("channels.multi-openim.tokenRefresh", Some(&config))?;
//! let mut recovery = Recovery::new("primary", refresh).with_home(Some(dir.path().into()));
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let recovered = runtime.block_on(recovery.recover(
//!     &Trigger::from_code(1501, "handshake: errCode 1501 TokenExpired"),
//!     &Host,
//!     &CancellationToken::new(),
//! ))?;
//! assert_eq!(recovered.token.expose(), "new-token");
//! // Reconnect with the new token; once the server has accepted it:
//! recovery.token_accepted();
//! # Ok(()) }
//! ```

mod files;
mod http;
mod template;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use channel_core::{Backoff, CancellationToken, ChannelError, ErrorKind};
use serde::Deserialize;
use serde_json::Map;

use crate::config::{HttpRefresh, RefreshMode, Secret, TokenRefresh};
use crate::errors::code;
use files::Marker;
use template::scrub;

/// Where the settings live, for error messages.
const SECTION: &str = "channels.multi-openim.tokenRefresh";
/// The host hook the seed plugin calls in mode `hook`.
pub const HOOK_NAME: &str = "globalThis.__multiOpenimTokenRefresher";
/// `reqIdentifier` of the gateway's kick frame.
const KICK_FRAME: i64 = 2002;

fn key(name: &str) -> String {
    format!("{SECTION}.{name}")
}

/// Why recovery runs: the JS SDK event the seed plugin reacted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// 1501.
    TokenExpired,
    /// 1502–1505 or 1507.
    TokenInvalid { code: i64 },
    /// The connection could not be made (any other code, e.g. the SDK's 10001 timeout).
    ConnectFailed { code: i64, message: String },
    /// The 2002 kick frame, or 1506 (the token was marked kicked).
    Kicked { code: i64 },
}

impl Trigger {
    /// The trigger for an error code of the handshake, a reply or the kick frame. `message`
    /// is kept only for a connect failure; it must hold no secret (classified errors do not).
    pub fn from_code(code: i64, message: impl Into<String>) -> Self {
        match code {
            code::TOKEN_EXPIRED => Self::TokenExpired,
            code::TOKEN_KICKED | KICK_FRAME => Self::Kicked { code },
            c if crate::errors::is_token_error(c) => Self::TokenInvalid { code },
            _ => Self::ConnectFailed {
                code,
                message: message.into(),
            },
        }
    }

    /// The `reason` the hook receives and the marker records, as the seed plugin words it.
    pub fn reason(&self) -> String {
        match self {
            Self::TokenExpired => "OnUserTokenExpired".into(),
            Self::TokenInvalid { .. } => "OnUserTokenInvalid".into(),
            Self::ConnectFailed { code, .. } => format!("OnConnectFailed errCode={code}"),
            Self::Kicked { .. } => "OnKickedOffline".into(),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

/// What the hook returns: `{ token, userID? }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HookToken {
    pub token: Secret,
    /// Set when the hook's store rotated the account's identity.
    #[serde(rename = "userID", default)]
    pub user_id: Option<String>,
}

/// What recovery needs from the host (the OpenClaw gateway, or a test).
#[async_trait]
pub trait RecoveryHost: Send + Sync {
    /// Calls `globalThis.__multiOpenimTokenRefresher(accountId, reason)`. `Ok(None)` when the
    /// hook is not set or returned null; `Err` when it threw.
    async fn call_hook(
        &self,
        account_id: &str,
        reason: &str,
    ) -> Result<Option<HookToken>, ChannelError>;

    /// Writes `channels.multi-openim.accounts.<account_id>.token` into the OpenClaw config,
    /// leaving the rest of the config as it is, so the token survives a restart.
    async fn save_token(&self, account_id: &str, token: &Secret) -> Result<(), ChannelError>;
}

/// A new token, ready for reconnecting.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub token: Secret,
    /// From the hook's `userID`; `None` when the identity did not change.
    pub user_id: Option<String>,
    /// Requests (or hook calls) this recovery made, the successful one included.
    pub attempts: u32,
    /// What went wrong after the token was obtained (state write-back, saving it to the
    /// config, removing files). The token is good; these need a person's look.
    pub warnings: Vec<String>,
}

/// Why no token came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecoveryFailed {
    /// Recovery is over: the marker is written and only a person can help. `error` is
    /// [`ErrorKind::NeedsLogin`] and says what to do.
    #[error("{error}")]
    GaveUp {
        error: ChannelError,
        /// `None` when `manualLoginMarkerPath` leads outside its directory for this account
        /// (the error says so).
        marker: Option<PathBuf>,
        attempts: u32,
    },
    /// The account is stopping; no marker was written.
    #[error("token recovery was cancelled after {attempts} attempt(s)")]
    Cancelled { attempts: u32 },
}

impl RecoveryFailed {
    pub fn attempts(&self) -> u32 {
        match self {
            Self::GaveUp { attempts, .. } | Self::Cancelled { attempts } => *attempts,
        }
    }

    /// As a classified error for the account's status.
    pub fn into_error(self) -> ChannelError {
        match self {
            Self::GaveUp { error, .. } => error,
            cancelled @ Self::Cancelled { .. } => ChannelError::transient(cancelled.to_string()),
        }
    }
}

/// How a recovery ended, before the common bookkeeping.
enum Stop {
    Cancelled { attempts: u32 },
    GaveUp { error: ChannelError, attempts: u32 },
}

/// Token recovery of one account. Each account has its own, so backoff and markers never mix.
#[derive(Debug)]
pub struct Recovery {
    account_id: String,
    refresh: TokenRefresh,
    home: Option<PathBuf>,
    /// Kept across recoveries: a new token that is refused again at once must not turn into a
    /// tight loop against the auth server.
    backoff: Backoff,
    /// The last recovery succeeded but the server has not yet accepted its token.
    unconfirmed: bool,
    client: Option<reqwest::Client>,
}

impl Recovery {
    /// Recovery for `account_id`; `~/` in paths is `$HOME`.
    pub fn new(account_id: impl Into<String>, refresh: TokenRefresh) -> Self {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Self {
            account_id: account_id.into(),
            backoff: refresh.backoff.backoff(),
            refresh,
            home,
            unconfirmed: false,
            client: None,
        }
    }

    /// Uses `home` for `~/` in the marker, state and `clearOnSuccess` paths.
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// This account's manual-login marker; an error when the filled-in template leads
    /// outside its directory.
    pub fn marker_path(&self) -> Result<PathBuf, ChannelError> {
        self.refresh
            .manual_login_marker(&self.account_id, self.home.as_deref())
    }

    /// The server accepted the recovered token: the next recovery starts without waiting.
    pub fn token_accepted(&mut self) {
        self.unconfirmed = false;
        self.backoff.reset();
    }

    /// Gets a new token as `tokenRefresh` says, or gives up and writes the marker.
    ///
    /// A recovery that follows an unconfirmed success or a failure first waits one backoff
    /// step. `cancel` stops it between and during attempts, without a marker.
    pub async fn recover(
        &mut self,
        trigger: &Trigger,
        host: &dyn RecoveryHost,
        cancel: &CancellationToken,
    ) -> Result<Recovered, RecoveryFailed> {
        let reason = trigger.reason();
        tracing::info!(
            account = %self.account_id,
            reason = %reason,
            mode = mode_name(self.refresh.mode),
            "token recovery started"
        );
        let outcome = match self.refresh.mode {
            // The account is already stopping: a marker now would be a false alarm.
            _ if cancel.is_cancelled() => Err(Stop::Cancelled { attempts: 0 }),
            RefreshMode::Off => Err(Stop::GaveUp {
                error: ChannelError::needs_login(format!(
                    "{} is \"off\": tokens are not recovered automatically",
                    key("mode")
                )),
                attempts: 0,
            }),
            RefreshMode::Hook => self.via_hook(&reason, host, cancel).await,
            RefreshMode::Http => self.via_http(&reason, host, cancel).await,
        };
        match outcome {
            Ok(recovered) => Ok(self.succeeded(&reason, recovered)),
            Err(Stop::Cancelled { attempts }) => {
                tracing::info!(
                    account = %self.account_id,
                    reason = %reason,
                    attempts,
                    "token recovery cancelled"
                );
                Err(RecoveryFailed::Cancelled { attempts })
            }
            Err(Stop::GaveUp { error, attempts }) => {
                Err(self.give_up(trigger, &reason, attempts, &error))
            }
        }
    }

    /// Waits one backoff step when the previous recovery failed or its token was refused.
    async fn pace(&mut self, reason: &str, cancel: &CancellationToken) -> Result<(), Stop> {
        if !self.unconfirmed && self.backoff.attempts() == 0 {
            return Ok(());
        }
        let delay = self.backoff.next_delay();
        tracing::info!(
            account = %self.account_id,
            reason,
            delay_ms = delay.as_millis() as u64,
            "token recovery waits: the previous one failed or its token was refused"
        );
        sleep(delay, cancel)
            .await
            .map_err(|()| Stop::Cancelled { attempts: 0 })
    }

    async fn via_hook(
        &mut self,
        reason: &str,
        host: &dyn RecoveryHost,
        cancel: &CancellationToken,
    ) -> Result<Recovered, Stop> {
        self.pace(reason, cancel).await?;
        let called = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Stop::Cancelled { attempts: 1 }),
            called = host.call_hook(&self.account_id, reason) => called,
        };
        let give_up = |why: String| Stop::GaveUp {
            error: ChannelError::needs_login(format!(
                "{HOOK_NAME} ({}=\"hook\"): {why}",
                key("mode")
            )),
            attempts: 1,
        };
        match called {
            Ok(Some(HookToken { token, user_id })) => {
                let token = token.expose().trim();
                if token.is_empty() {
                    return Err(give_up("returned an empty token".into()));
                }
                Ok(Recovered {
                    token: Secret::new(token),
                    user_id: user_id.filter(|u| !u.trim().is_empty()),
                    attempts: 1,
                    warnings: Vec::new(),
                })
            }
            Ok(None) => Err(give_up("is not set, or returned null".into())),
            Err(err) => Err(give_up(format!("threw: {}", scrub(&err.message, &[])))),
        }
    }

    async fn via_http(
        &mut self,
        reason: &str,
        host: &dyn RecoveryHost,
        cancel: &CancellationToken,
    ) -> Result<Recovered, Stop> {
        let Some(http) = self.refresh.http.clone() else {
            return Err(Stop::GaveUp {
                error: ChannelError::bad_input(format!(
                    "{}: required when {} is \"http\"",
                    key("http"),
                    key("mode")
                )),
                attempts: 0,
            });
        };
        let client = self
            .client()
            .map_err(|error| Stop::GaveUp { error, attempts: 0 })?;
        self.pace(reason, cancel).await?;
        let max_attempts = self.refresh.backoff.max_attempts;
        let mut attempts = 0;
        loop {
            attempts += 1;
            tracing::info!(
                account = %self.account_id,
                reason,
                attempt = attempts,
                max_attempts,
                "token refresh request"
            );
            let attempt = refresh_once(&http, &self.account_id, self.home.as_deref(), &client);
            let result = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Stop::Cancelled { attempts }),
                result = attempt => result,
            };
            let error = match result {
                Ok(refreshed) => {
                    let warnings = self.persist(&http, &refreshed, host).await;
                    return Ok(Recovered {
                        token: refreshed.token,
                        user_id: None,
                        attempts,
                        warnings,
                    });
                }
                Err(error) => error,
            };
            // A template that cannot be filled will not fill on a retry either.
            if error.kind == ErrorKind::BadInput || attempts >= max_attempts {
                return Err(Stop::GaveUp { error, attempts });
            }
            let delay = self.backoff.delay_for(&error);
            tracing::warn!(
                account = %self.account_id,
                reason,
                attempt = attempts,
                max_attempts,
                delay_ms = delay.as_millis() as u64,
                error = %error.message,
                "token refresh failed; retrying"
            );
            sleep(delay, cancel)
                .await
                .map_err(|()| Stop::Cancelled { attempts })?;
        }
    }

    fn client(&mut self) -> Result<reqwest::Client, ChannelError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            // Fails only if another provider is already installed, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder().build().map_err(|e| {
            ChannelError::permanent(format!("token refresh: building the HTTP client: {e}"))
        })?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// After a refresh: `stateWriteBack`, the config, `clearOnSuccess`. The token is good
    /// whatever happens here, so failures become warnings instead of another refresh (which
    /// might spend a rotated refresh token twice).
    async fn persist(
        &self,
        http: &HttpRefresh,
        refreshed: &Refreshed,
        host: &dyn RecoveryHost,
    ) -> Vec<String> {
        let mut secrets = refreshed.request.secrets.clone();
        secrets.push(refreshed.token.expose().to_owned());
        let mut warnings = Vec::new();
        let mut warn = |what: &str, err: ChannelError| {
            let text = scrub(&err.message, &secrets);
            tracing::error!(account = %self.account_id, error = %text, "token refresh: {what} failed");
            warnings.push(text);
        };
        if let Err(err) = self.write_back(http, &refreshed.answer) {
            warn("stateWriteBack", err);
        }
        if let Err(err) = host.save_token(&self.account_id, &refreshed.token).await {
            warn(
                "saving the token",
                err.context(format!(
                    "saving channels.multi-openim.accounts.{}.token",
                    self.account_id
                )),
            );
        }
        for path in &refreshed.request.clear_on_success {
            if let Err(err) = files::remove(path, &key("http.clearOnSuccess")) {
                warn("clearOnSuccess", err);
            }
        }
        warnings
    }

    fn write_back(
        &self,
        http: &HttpRefresh,
        answer: &serde_json::Value,
    ) -> Result<(), ChannelError> {
        if http.state_write_back.is_empty() {
            return Ok(());
        }
        let mut fields = Map::new();
        for (field, paths) in &http.state_write_back {
            match template::first_value(answer, paths) {
                Some(value) => {
                    fields.insert(field.clone(), value.clone());
                }
                // Not fatal: the old value stays, which may still be good.
                None => tracing::warn!(
                    account = %self.account_id,
                    field = %field,
                    paths = %paths.join(", "),
                    "token refresh: stateWriteBack field not in the answer; kept the old value"
                ),
            }
        }
        let Some(path) = http::state_path(http, self.home.as_deref()) else {
            return Err(ChannelError::bad_input(format!(
                "{}: needs {}",
                key("http.stateWriteBack"),
                key("http.stateFile")
            )));
        };
        if fields.is_empty() {
            return Ok(());
        }
        files::write_back(&path, &self.account_id, fields)
    }

    fn succeeded(&mut self, reason: &str, recovered: Recovered) -> Recovered {
        self.unconfirmed = true;
        let mut recovered = recovered;
        // The marker asked a person to act; that is no longer true.
        let removed = self
            .marker_path()
            .and_then(|marker| files::remove(&marker, &key("manualLoginMarkerPath")));
        if let Err(err) = removed {
            tracing::error!(account = %self.account_id, error = %err.message, "token recovery: removing the marker failed");
            recovered.warnings.push(err.message);
        }
        tracing::info!(
            account = %self.account_id,
            reason,
            attempts = recovered.attempts,
            warnings = recovered.warnings.len(),
            "token recovered"
        );
        recovered
    }

    fn give_up(
        &mut self,
        trigger: &Trigger,
        reason: &str,
        attempts: u32,
        last: &ChannelError,
    ) -> RecoveryFailed {
        let id = &self.account_id;
        let mode = mode_name(self.refresh.mode);
        let last_error = scrub(&last.message, &[]);
        let hint = format!(
            "Token recovery for multi-openim account {id:?} gave up. Put a new OpenIM user token \
             into channels.multi-openim.accounts.{id}.token in openclaw.json and restart the \
             gateway (openclaw gateway restart), or fix {SECTION}. This file is removed by the \
             next successful token refresh."
        );
        let marker = Marker {
            channel: crate::CHANNEL_ID,
            account_id: id,
            reason,
            mode,
            time: files::iso_now(),
            attempts,
            last_error: &last_error,
            hint,
        };
        let mut message = format!(
            "multi-openim account {id:?}: token recovery ({reason}, mode {mode}) gave up after \
             {attempts} attempt(s): {last_error}; put a new token into \
             channels.multi-openim.accounts.{id}.token"
        );
        if let Trigger::ConnectFailed {
            message: detail, ..
        } = trigger
            && !detail.is_empty()
        {
            message.push_str(&format!(" (connect error: {})", scrub(detail, &[])));
        }
        let marker_path = self.marker_path();
        let written = marker_path
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|path| files::write_marker(path, &marker));
        match written {
            Ok(()) => {
                if let Ok(path) = &marker_path {
                    message.push_str(&format!(" (marker: {})", path.display()));
                }
            }
            Err(err) => {
                tracing::error!(account = %id, error = %err.message, "writing the manual-login marker failed");
                message.push_str(&format!("; {}", err.message));
            }
        }
        tracing::error!(
            account = %id,
            reason,
            mode,
            attempts,
            marker = %marker_path.as_ref().map_or_else(|_| "(refused)".into(), |p| p.display().to_string()),
            error = %last_error,
            "token recovery gave up; a person must provide a new token"
        );
        RecoveryFailed::GaveUp {
            error: ChannelError::needs_login(message),
            marker: marker_path.ok(),
            attempts,
        }
    }
}

/// One successful refresh request.
struct Refreshed {
    token: Secret,
    answer: serde_json::Value,
    request: http::Request,
}

/// Fills the templates from the current state file, sends, and reads the token.
async fn refresh_once(
    config: &HttpRefresh,
    account_id: &str,
    home: Option<&Path>,
    client: &reqwest::Client,
) -> Result<Refreshed, ChannelError> {
    let request = http::prepare(config, account_id, home)?;
    let answer = http::send(client, config, &request).await?;
    let token = http::token(config, &answer)?;
    Ok(Refreshed {
        token: Secret::new(token),
        answer,
        request,
    })
}

/// Sleeps `delay`; `Err` when cancelled first.
async fn sleep(delay: Duration, cancel: &CancellationToken) -> Result<(), ()> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(()),
        () = tokio::time::sleep(delay) => Ok(()),
    }
}

fn mode_name(mode: RefreshMode) -> &'static str {
    match mode {
        RefreshMode::Http => "http",
        RefreshMode::Hook => "hook",
        RefreshMode::Off => "off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_from_codes() {
        let cases = [
            (1501, "OnUserTokenExpired"),
            (1502, "OnUserTokenInvalid"),
            (1503, "OnUserTokenInvalid"),
            (1504, "OnUserTokenInvalid"),
            (1505, "OnUserTokenInvalid"),
            (1507, "OnUserTokenInvalid"),
            (1506, "OnKickedOffline"),
            (2002, "OnKickedOffline"),
            (10001, "OnConnectFailed errCode=10001"),
            (1601, "OnConnectFailed errCode=1601"),
        ];
        for (code, reason) in cases {
            assert_eq!(Trigger::from_code(code, "x").reason(), reason, "{code}");
        }
        assert_eq!(
            Trigger::from_code(10001, "timeout"),
            Trigger::ConnectFailed {
                code: 10001,
                message: "timeout".into()
            }
        );
        assert_eq!(Trigger::from_code(2002, "").to_string(), "OnKickedOffline");
    }

    #[test]
    fn hook_token_reads_the_hooks_shape() {
        let token: HookToken =
            serde_json::from_value(serde_json::json!({"token": "t", "userID": "u"}))
                .expect("parse");
        assert_eq!(token.token.expose(), "t");
        assert_eq!(token.user_id.as_deref(), Some("u"));
        assert!(!format!("{token:?}").contains("\"t\""));
    }
}
