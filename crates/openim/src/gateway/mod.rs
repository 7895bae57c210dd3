//! The message-gateway client of one account: connect, catch up, receive, reconnect.
//!
//! ```text
//! connect ─► login result ─► link up (sends go) ─► catch-up (1001, ≤ 20 pages each)
//!    ▲                                                    │
//!    │            pushes, backlog pages, health checks ◄──┘ ─► caught up: connected
//!    │                                    │
//!    └──── backoff ◄── disconnect │ token refused or kicked ─► recovery
//! ```
//!
//! [`Runner`] is one connection; channel-core's supervisor runs it again after each loss (backoff,
//! kicks, token recovery, status). [`Link`] lets sends use whatever connection is current.

pub mod conn;
pub mod link;
pub mod seqs;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use channel_core::{ChannelError, Connector, Lifecycle};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use conn::{Connection, Event, Login, Timing};
pub use link::{Link, Stored};
pub use seqs::SAVE_EVERY;
pub use sync::{CatchUp, Seqs, Sequencer, Sink};

use crate::wire::proto::{GetMaxSeqReq, GetMaxSeqResp, PushMessages};

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

/// One account's connection to its message gateway; channel-core's supervisor runs it.
pub struct Runner {
    pub login: Login,
    pub timing: Timing,
    /// Between health checks of an idle connection (`healthCheckIntervalMinutes`).
    pub health_every: Duration,
    pub link: Arc<Link>,
    pub sync: Sequencer,
    pub sink: Arc<dyn Sink>,
    pub recover: Arc<dyn Recover>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Pushes taken into one batch at most: the batch shares one fsync, and its marks move once
/// it is delivered.
const PUSH_BATCH: usize = 1024;

/// `first` and the pushes already waiting behind it (up to [`PUSH_BATCH`]), and the error that
/// ended the connection, if its end came among them.
fn more_pushes(
    first: PushMessages,
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> (Vec<PushMessages>, Option<ChannelError>) {
    let mut pushes = vec![first];
    while pushes.len() < PUSH_BATCH {
        match events.try_recv() {
            Ok(Event::Push(push)) => pushes.push(push),
            Ok(Event::Kicked) => {}
            Ok(Event::Closed(error)) => return (pushes, Some(error)),
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => return (pushes, Some(session_ended())),
        }
    }
    (pushes, None)
}

fn session_ended() -> ChannelError {
    ChannelError::transient("gateway session ended")
}

/// How one connection ended.
enum End {
    Cancelled,
    Lost(ChannelError),
}

#[async_trait::async_trait]
impl Connector for Runner {
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        let pages = self.sync.pages();
        let ended = self.connection(life).await;
        if let Err(error) = self.sync.flush() {
            // Kept in memory: the next write (or, after a crash, a catch-up the journal
            // dedups) makes up for it.
            tracing::warn!(user = %self.login.user_id, %error, "could not write the seq marks");
        }
        if self.sync.pages() > pages {
            life.progressed();
        }
        match ended? {
            End::Cancelled => Ok(()),
            End::Lost(error) => Err(error),
        }
    }

    async fn recover(&mut self, error: &ChannelError) -> Option<Result<(), ChannelError>> {
        Some(
            self.recover
                .recover(error)
                .await
                .map(|token| self.login.token = token),
        )
    }

    fn kick_advice(&self) -> String {
        format!(
            "another client keeps logging in as {} on platform {} with a different token. Stop \
             the other client (or give it another platformID), then restart this account",
            self.login.user_id, self.login.platform_id
        )
    }

    async fn close(&mut self) {
        self.link.down();
    }
}

impl Runner {
    /// One connection, from connect to disconnect.
    async fn connection(&mut self, life: &Lifecycle) -> Result<End, ChannelError> {
        let cancel = life.cancel();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let conn = tokio::select! {
            () = cancel.cancelled() => return Ok(End::Cancelled),
            conn = Connection::open(&self.login, self.timing, events_tx) => conn?,
        };
        self.recover.accepted().await;
        // Sends share the socket with the catch-up's pulls; they need not wait for it.
        self.link.up(conn.clone());
        let caught_up = tokio::select! {
            () = cancel.cancelled() => Ok(None),
            caught_up = self.sync.catch_up(&conn, self.sink.as_ref()) => caught_up.map(Some),
        };
        let report = match caught_up {
            Ok(Some(report)) => report,
            Ok(None) => {
                self.hang_up(&conn, cancel).await;
                return Ok(End::Cancelled);
            }
            Err(error) => {
                self.hang_up(&conn, cancel).await;
                return Err(error);
            }
        };
        tracing::info!(user = %self.login.user_id, conversations = report.conversations, pulled = report.pulled, backlog = report.deferred, "logged in; first catch-up round done");
        let mut settled = false;
        if !self.sync.behind() {
            self.settle(life);
            settled = true;
        }

        let mut health =
            tokio::time::interval_at(Instant::now() + self.health_every, self.health_every);
        // Marks that live pushes moved are written within a second, even if no push follows.
        let mut flush = tokio::time::interval_at(Instant::now() + SAVE_EVERY, SAVE_EVERY);
        let end = loop {
            tokio::select! {
                () = cancel.cancelled() => break End::Cancelled,
                _ = flush.tick() => {
                    if let Err(error) = self.sync.flush() {
                        break End::Lost(error);
                    }
                }
                _ = health.tick() => {
                    let checked: Result<GetMaxSeqResp, _> = conn
                        .request(&GetMaxSeqReq { user_id: self.login.user_id.clone() })
                        .await;
                    if let Err(error) = checked {
                        tracing::warn!(user = %self.login.user_id, %error, "health check failed; reconnecting");
                        break End::Lost(error.context("health check"));
                    }
                }
                event = events.recv() => {
                    // The pushes read meanwhile go as one batch (one fsync).
                    let (pushes, closed) = match event {
                        Some(Event::Push(push)) => more_pushes(push, &mut events),
                        // The connection ends right after; its `Closed` carries the kick error.
                        Some(Event::Kicked) => (Vec::new(), None),
                        Some(Event::Closed(error)) => (Vec::new(), Some(error)),
                        None => (Vec::new(), Some(session_ended())),
                    };
                    if !pushes.is_empty()
                        && let Err(error) = self.sync.on_push(self.sink.as_ref(), pushes).await
                    {
                        // The marks did not move: the next catch-up pulls them again.
                        break End::Lost(error.context("handling a push"));
                    }
                    if let Some(error) = closed {
                        break End::Lost(error);
                    }
                },
                // One page at a time, so live pushes of other conversations go in between.
                stepped = self.sync.step(&conn, self.sink.as_ref()), if self.sync.behind() => {
                    if let Err(error) = stepped {
                        break End::Lost(error.context("pulling the backlog"));
                    }
                }
            }
            if !settled && !self.sync.behind() {
                self.settle(life);
                settled = true;
            }
        };
        self.hang_up(&conn, cancel).await;
        Ok(end)
    }

    /// Ends `conn` and waits until it is gone (unless the account stops), so that the next
    /// connection's catch-up sees every message this one's requests stored, even those the
    /// server handled after we gave up on their replies.
    async fn hang_up(&self, conn: &Connection, cancel: &CancellationToken) {
        self.link.down();
        conn.close();
        tokio::select! {
            () = cancel.cancelled() => {}
            () = conn.ended() => {}
        }
    }

    /// Every conversation is caught up: lost replies can be reconciled, and the account is
    /// connected (which releases replayed turns, whose replies an earlier run may have sent).
    fn settle(&self, life: &Lifecycle) {
        self.link.caught_up();
        life.connected();
        // The line e2e runs and operators wait for: from here on nothing stored is unread.
        tracing::info!(user = %self.login.user_id, "connected and caught up");
        if self.sync.too_large() > 0 {
            tracing::warn!(user = %self.login.user_id, skipped = self.sync.too_large(), "messages larger than the frame cap were skipped since the account started");
        }
    }
}
