//! The message-gateway client of one account: connect, catch up, receive, reconnect.
//!
//! ```text
//! connect ─► login result ─► catch-up (1001, 1002 pages) ─► link up ─► pushes, health checks
//!    ▲                                                                    │
//!    └──── backoff ◄── disconnect │ token refused or kicked ─► recovery ──┘
//! ```
//!
//! [`Runner::run`] owns the loop; [`Link`] lets sends use whatever connection is current.

pub mod conn;
pub mod link;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use channel_core::{Backoff, ChannelError, ErrorKind, StatusPatch};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use conn::{Connection, Event, Login, Timing};
pub use link::{Link, Stored};
pub use sync::{CatchUp, Seqs, Sequencer, Sink};

use crate::wire::proto::{GetMaxSeqReq, GetMaxSeqResp};

/// Gets a new token when the server refuses the current one or another login kicked us.
#[async_trait::async_trait]
pub trait Recover: Send + Sync {
    /// `error` is the refusal (kind `AuthExpired` or `Kicked`). `Ok` is the token to log in
    /// with next; `Err` means nobody can help now and the account stops.
    async fn recover(&self, error: &ChannelError) -> Result<String, ChannelError>;

    /// The server accepted the current token (a login succeeded), so the next recovery owes
    /// no wait for an unconfirmed one.
    async fn accepted(&self) {}
}

/// Kicks beyond this many within [`KICK_WINDOW`] mean two clients fight over the account.
const MAX_KICKS: usize = 3;
const KICK_WINDOW: Duration = Duration::from_secs(600);

/// One account's connection loop.
pub struct Runner {
    pub login: Login,
    pub timing: Timing,
    /// Between health checks of an idle connection (`healthCheckIntervalMinutes`).
    pub health_every: Duration,
    pub link: Arc<Link>,
    pub sync: Sequencer,
    pub sink: Arc<dyn Sink>,
    pub recover: Arc<dyn Recover>,
    pub status: Arc<dyn Fn(StatusPatch) + Send + Sync>,
    pub backoff: Backoff,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// How one connection ended.
enum End {
    Cancelled,
    Lost(ChannelError),
}

impl Runner {
    /// Runs until `cancel` fires (`Ok`) or the account cannot go on without a person (`Err`:
    /// a token nobody could renew, or a kick loop).
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), ChannelError> {
        let mut kicks: Vec<Instant> = Vec::new();
        let result = loop {
            let error = match self.session(&cancel).await {
                Ok(End::Cancelled) => break Ok(()),
                Ok(End::Lost(error)) | Err(error) => error,
            };
            if cancel.is_cancelled() {
                break Ok(());
            }
            if matches!(error.kind, ErrorKind::AuthExpired | ErrorKind::Kicked) {
                if error.kind == ErrorKind::Kicked {
                    let now = Instant::now();
                    kicks.retain(|at| now.duration_since(*at) < KICK_WINDOW);
                    kicks.push(now);
                    if kicks.len() > MAX_KICKS {
                        break Err(ChannelError::new(
                            ErrorKind::Kicked,
                            format!(
                                "kicked {} times in {} minutes: another client keeps logging in \
                                 as {} on platform {} with a different token. Stop the other \
                                 client (or give it another platformID), then restart this \
                                 account",
                                kicks.len(),
                                KICK_WINDOW.as_secs() / 60,
                                self.login.user_id,
                                self.login.platform_id
                            ),
                        ));
                    }
                }
                tracing::warn!(user = %self.login.user_id, kind = %error.kind, %error, "token refused; recovering");
                (self.status)(StatusPatch::recovering(&error));
                let renewed = tokio::select! {
                    () = cancel.cancelled() => break Ok(()),
                    renewed = self.recover.recover(&error) => renewed,
                };
                match renewed {
                    Ok(token) => {
                        self.login.token = token;
                        self.backoff.reset();
                        continue;
                    }
                    Err(failed) => break Err(failed),
                }
            }
            if !error.kind.is_retryable() {
                break Err(error);
            }
            let delay = self.backoff.delay_for(&error);
            tracing::warn!(user = %self.login.user_id, kind = %error.kind, %error, retry_in_ms = delay.as_millis() as u64, "gateway connection lost");
            (self.status)(StatusPatch::recovering(&error));
            tokio::select! {
                () = cancel.cancelled() => break Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        };
        self.link.down();
        match &result {
            Ok(()) => (self.status)(StatusPatch {
                running: Some(false),
                connected: Some(false),
                lifecycle: Some("stopped".into()),
                ..StatusPatch::default()
            }),
            Err(error) => (self.status)(StatusPatch::blocked(error)),
        }
        result
    }

    /// One connection, from connect to disconnect.
    async fn session(&mut self, cancel: &CancellationToken) -> Result<End, ChannelError> {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let conn = tokio::select! {
            () = cancel.cancelled() => return Ok(End::Cancelled),
            conn = Connection::open(&self.login, self.timing, events_tx) => conn?,
        };
        self.recover.accepted().await;
        let caught_up = tokio::select! {
            () = cancel.cancelled() => { conn.close(); return Ok(End::Cancelled) }
            caught_up = self.sync.catch_up(&conn, self.sink.as_ref()) => caught_up,
        };
        let report = match caught_up {
            Ok(report) => report,
            Err(error) => {
                conn.close();
                return Err(error);
            }
        };
        tracing::info!(user = %self.login.user_id, conversations = report.conversations, pulled = report.pulled, "connected and caught up");
        self.backoff.reset();
        self.link.up(conn.clone());
        (self.status)(StatusPatch::connected());

        let mut health =
            tokio::time::interval_at(Instant::now() + self.health_every, self.health_every);
        let end = loop {
            tokio::select! {
                () = cancel.cancelled() => break End::Cancelled,
                _ = health.tick() => {
                    let checked: Result<GetMaxSeqResp, _> = conn
                        .request(&GetMaxSeqReq { user_id: self.login.user_id.clone() })
                        .await;
                    if let Err(error) = checked {
                        tracing::warn!(user = %self.login.user_id, %error, "health check failed; reconnecting");
                        break End::Lost(error.context("health check"));
                    }
                }
                event = events.recv() => match event {
                    Some(Event::Push(push)) => {
                        if let Err(error) = self.sync.on_push(&conn, self.sink.as_ref(), push).await {
                            // The marks did not move: the next catch-up pulls it again.
                            break End::Lost(error.context("handling a push"));
                        }
                    }
                    // The connection ends right after; its `Closed` carries the kick error.
                    Some(Event::Kicked) => {}
                    Some(Event::Closed(error)) => break End::Lost(error),
                    None => break End::Lost(ChannelError::transient("gateway session ended")),
                },
            }
        };
        self.link.down();
        conn.close();
        Ok(end)
    }
}
