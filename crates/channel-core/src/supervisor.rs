//! One account's supervisor: it runs the channel's [`Connector`] session after session, and is
//! the only writer of the account's lifecycle status.
//!
//! ```text
//! session ─► lost ─► kicked? ── more than 3 in 10 min ─► blocked (a person must act)
//!    ▲                 │ recover hook (new token) ───────────────► connect again at once
//!    │                 ▼
//!    └─ backoff ◄─ retryable?  ── no ─► blocked (NeedsLogin, Permanent, …)
//! ```
//!
//! A connector knows its protocol: how to connect, what a lost connection means (an
//! [`ErrorKind`]), how to renew a token. It never sleeps between sessions, counts kicks or
//! writes status itself: it tells the [`Lifecycle`] when it is connected or degraded, and the
//! supervisor decides the rest, the same way for every channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::error::{ChannelError, ErrorKind};
use crate::host::StatusPatch;

/// Kicks beyond this many within [`KICK_WINDOW`] mean two clients fight over the account.
pub const MAX_KICKS: usize = 3;
pub const KICK_WINDOW: Duration = Duration::from_secs(600);
/// After a kick without a recover hook, wait at least this long before connecting again.
pub const KICK_PAUSE: Duration = Duration::from_secs(5);

/// One account's connection to its network, as a channel provides it.
#[async_trait::async_trait]
pub trait Connector: Send {
    /// Connects once and runs until the connection ends. `Ok` only when `life.cancel()` fired;
    /// otherwise the error says why it ended (its [`ErrorKind`] decides what happens next).
    /// Calls [`Lifecycle::connected`] once messages flow.
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError>;

    /// Asked when the server refused the credentials (`AuthExpired`) or another login took the
    /// account over (`Kicked`). `Some(Ok)`: renewed, connect again at once. `Some(Err)`:
    /// nobody can help now, the account stops. `None` (the default): no hook; a kick is retried
    /// after a pause, a refused token stops the account.
    async fn recover(&mut self, _error: &ChannelError) -> Option<Result<(), ChannelError>> {
        None
    }

    /// What the operator should do about a kick loop; ends the account's blocked reason.
    fn kick_advice(&self) -> String {
        "another client keeps logging in as this account; stop it, then restart this account".into()
    }

    /// Runs once when the account stops, whatever the reason.
    async fn close(&mut self) {}
}

/// What a running session tells its supervisor, and how it learns it must stop.
#[derive(Clone)]
pub struct Lifecycle {
    cancel: CancellationToken,
    report: Arc<dyn Fn(StatusPatch) + Send + Sync>,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Connected now (status is written on changes only).
    connected: AtomicBool,
    /// Connected, or moved the account forward, at some point during the current session (the
    /// backoff starts over).
    reached: AtomicBool,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Lifecycle {
    /// `report` receives every status change of the account.
    pub fn new(cancel: CancellationToken, report: Arc<dyn Fn(StatusPatch) + Send + Sync>) -> Self {
        Self {
            cancel,
            report,
            state: Arc::default(),
        }
    }

    /// Fires when the account must stop.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Messages flow. Idempotent: status is written on a change only.
    pub fn connected(&self) {
        self.state.reached.store(true, Ordering::SeqCst);
        if !self.state.connected.swap(true, Ordering::SeqCst) {
            (self.report)(StatusPatch::connected());
        }
    }

    /// The session moved the account forward (a page of history read and handed over) before
    /// it was connected. A long catch-up that a fault cuts again and again still makes headway
    /// each time, so the next session starts at the base delay instead of waiting out a backoff
    /// that grew to a minute while messages pile up.
    pub fn progressed(&self) {
        self.state.reached.store(true, Ordering::SeqCst);
    }

    /// Whether the current session connected or made headway so far.
    pub fn made_headway(&self) -> bool {
        self.state.reached.load(Ordering::SeqCst)
    }

    /// The link is down while the transport reconnects by itself (the session goes on).
    pub fn degraded(&self, error: &ChannelError) {
        self.state.connected.store(false, Ordering::SeqCst);
        (self.report)(StatusPatch::recovering(error));
    }

    pub fn is_connected(&self) -> bool {
        self.state.connected.load(Ordering::SeqCst)
    }

    pub(crate) fn starting(&self) {
        self.report(StatusPatch::starting());
    }

    /// The account could not even be prepared (bad endpoint, unreadable state): blocked.
    pub(crate) fn stop_before_start(&self, error: ChannelError) -> ChannelError {
        tracing::error!(kind = %error.kind, %error, "account could not start");
        self.report(StatusPatch::blocked(&error));
        error
    }

    fn report(&self, patch: StatusPatch) {
        self.state.connected.store(false, Ordering::SeqCst);
        (self.report)(patch);
    }
}

/// Runs `connector` until `life.cancel()` fires (`Ok`) or the account cannot go on without a
/// person (`Err`, and the status says `blocked`).
pub async fn supervise(
    connector: &mut dyn Connector,
    life: &Lifecycle,
    mut backoff: Backoff,
    account: &str,
) -> Result<(), ChannelError> {
    let mut kicks: Vec<Instant> = Vec::new();
    let cancel = life.cancel.clone();
    let result = loop {
        if cancel.is_cancelled() {
            break Ok(());
        }
        life.state.reached.store(false, Ordering::SeqCst);
        let ended = connector.session(life).await;
        if life.state.reached.load(Ordering::SeqCst) {
            backoff.reset();
        }
        let error = match ended {
            Ok(()) => break Ok(()),
            Err(_) if cancel.is_cancelled() => break Ok(()),
            Err(error) => error,
        };
        let mut pause = Duration::ZERO;
        if error.kind == ErrorKind::Kicked {
            let now = Instant::now();
            kicks.retain(|at| now.duration_since(*at) < KICK_WINDOW);
            kicks.push(now);
            if kicks.len() > MAX_KICKS {
                break Err(ChannelError::new(
                    ErrorKind::Kicked,
                    format!(
                        "kicked {} times in {} minutes ({}): {}",
                        kicks.len(),
                        KICK_WINDOW.as_secs() / 60,
                        error.message,
                        connector.kick_advice()
                    ),
                ));
            }
            pause = KICK_PAUSE;
        }
        let renewable = matches!(error.kind, ErrorKind::AuthExpired | ErrorKind::Kicked);
        if !renewable && !error.kind.is_retryable() {
            break Err(error);
        }
        life.degraded(&error);
        if renewable {
            tracing::warn!(account, kind = %error.kind, %error, "credentials refused or taken over; recovering");
            let renewed = tokio::select! {
                () = cancel.cancelled() => break Ok(()),
                renewed = connector.recover(&error) => renewed,
            };
            match renewed {
                Some(Ok(())) => {
                    backoff.reset();
                    continue;
                }
                Some(Err(failed)) => break Err(failed),
                None if error.kind == ErrorKind::AuthExpired => break Err(error),
                None => {}
            }
        }
        let delay = backoff.delay_for(&error).max(pause);
        tracing::warn!(account, kind = %error.kind, %error, retry_in_ms = delay.as_millis() as u64, "connection lost; connecting again");
        tokio::select! {
            () = cancel.cancelled() => break Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    };
    connector.close().await;
    match &result {
        Ok(()) => life.report(StatusPatch::stopped()),
        Err(error) => {
            tracing::error!(account, kind = %error.kind, %error, "account stopped until a person acts");
            life.report(StatusPatch::blocked(error));
        }
    }
    result
}

#[cfg(test)]
mod tests;
