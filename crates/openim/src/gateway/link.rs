//! The account's connection as senders see it, and sends that survive a reconnect.
//!
//! A send goes out as soon as the connection is logged in: it does not wait for the
//! catch-up, whose pulls share the socket with it (replies are matched by `msgIncr`).
//!
//! The server does not dedupe by `clientMsgID` (spec §1.8): resending after a lost reply can
//! store a second copy. So a send whose reply never came waits for the next connection to be
//! caught up (its catch-up and backlog pull our own stored messages back); only if its
//! `clientMsgID` is still not among them is it sent again, with the same id. Until then any
//! other send of that id waits the same way. Replayed turns, whose replies an earlier process
//! may have sent, start only once the account reported connected, which is after the first
//! full catch-up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use channel_core::{ChannelError, ErrorKind, SendLog, lock};
use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::Connection;
use crate::wire::proto::{MsgData, SendMsgResp};

/// After a reconnect, how long a push echo of an unanswered send may still take to arrive
/// (the server assigns seqs and pushes asynchronously after storing).
const ECHO_GRACE: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Default)]
struct State {
    /// Present while logged in.
    conn: Option<Connection>,
    /// Counts logged-in connections.
    generation: u64,
    /// The current connection caught up with every conversation (backlog included).
    caught_up: bool,
}

/// Shared between the account's connection loop and its senders.
#[derive(Debug)]
pub struct Link {
    state: watch::Sender<State>,
    /// Our own messages known to be stored, by `clientMsgID`: from send replies, push echoes
    /// and pulled copies, kept on disk so a restarted gateway knows them too.
    confirmed: SendLog,
    /// Sends whose reply was lost, by `clientMsgID`, with the generation that lost it: the
    /// message may be stored, so it goes again only after a newer caught-up connection.
    unsettled: Mutex<HashMap<String, u64>>,
}

/// What a send ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub server_msg_id: String,
    /// Resends that were needed because a reply was lost.
    pub resent: u32,
}

impl Link {
    /// A link whose confirmed sends are recorded in `log` (the account's send log).
    pub fn new(log: SendLog) -> Self {
        Self {
            state: watch::Sender::new(State::default()),
            confirmed: log,
            unsettled: Mutex::default(),
        }
    }

    /// The connection is logged in: sends may go, while its catch-up still runs.
    pub fn up(&self, conn: Connection) {
        self.state.send_modify(|s| {
            s.conn = Some(conn);
            s.generation += 1;
            s.caught_up = false;
        });
    }

    /// The current connection caught up: sends whose reply was lost may be reconciled.
    pub fn caught_up(&self) {
        self.state.send_if_modified(|s| {
            let changed = s.conn.is_some() && !s.caught_up;
            s.caught_up |= s.conn.is_some();
            changed
        });
    }

    pub fn down(&self) {
        self.state.send_modify(|s| {
            s.conn = None;
            s.caught_up = false;
        });
    }

    /// Logged in and caught up with every conversation.
    pub fn is_up(&self) -> bool {
        let state = self.state.borrow();
        state.conn.is_some() && state.caught_up
    }

    /// Records one of our messages as stored (its reply, a push echo or a pulled copy).
    pub fn confirm(&self, client_msg_id: &str, server_msg_id: &str) {
        if !client_msg_id.is_empty() {
            self.confirmed.record_sent(client_msg_id, server_msg_id);
            lock(&self.unsettled).remove(client_msg_id);
        }
    }

    fn stored(&self, client_msg_id: &str) -> Result<Option<String>, ChannelError> {
        self.confirmed.sent(client_msg_id)
    }

    /// Waits for a logged-in connection newer than `after`; with `after > 0` (a lost reply to
    /// reconcile) it must also be caught up.
    async fn connection(
        &self,
        after: u64,
        deadline: Instant,
    ) -> Result<(Connection, u64), ChannelError> {
        let mut rx = self.state.subscribe();
        let waited = tokio::time::timeout_at(
            deadline,
            rx.wait_for(|s| {
                s.generation > after && s.conn.is_some() && (after == 0 || s.caught_up)
            }),
        )
        .await;
        match waited {
            Ok(Ok(state)) => Ok((
                state.conn.clone().expect("checked by wait_for"),
                state.generation,
            )),
            Ok(Err(_)) => Err(ChannelError::transient(
                "not sent: the account stopped before it was connected",
            )),
            Err(_) => Err(ChannelError::transient(
                "not sent: the account has not been connected to the OpenIM gateway in time; \
                 nothing was stored",
            )),
        }
    }

    /// Sends one message (1003) and returns once the server stored it, resending with the same
    /// `clientMsgID` only when a reconnect proved the first try was lost.
    pub async fn send(&self, msg: &MsgData, within: Duration) -> Result<Stored, ChannelError> {
        let deadline = Instant::now() + within;
        let id = &msg.client_msg_id;
        // Another send of this id lost its reply: wait for the reconciliation it waits for.
        let mut after = lock(&self.unsettled).get(id).copied().unwrap_or(0);
        let mut resent = 0;
        loop {
            // A host retry of a message that went out already, or a reconciled lost reply.
            if let Some(server_msg_id) = self.stored(id)? {
                tracing::info!(client_msg_id = %id, "already stored; not sending it again");
                return Ok(Stored {
                    server_msg_id,
                    resent,
                });
            }
            let (conn, generation) = self.connection(after, deadline).await?;
            if after > 0 {
                resent += 1;
                tracing::info!(client_msg_id = %id, "resending a message whose reply was lost; the server has no copy of it");
            }
            let unknown = match conn.exchange(msg).await {
                Ok(response) => match (response.check(), response.decode::<SendMsgResp>()) {
                    (Ok(()), Ok(reply)) => {
                        lock(&self.unsettled).remove(id);
                        self.confirm(id, &reply.server_msg_id);
                        return Ok(Stored {
                            server_msg_id: reply.server_msg_id,
                            resent,
                        });
                    }
                    // Refused for good: no copy exists.
                    (Err(refused), _) => {
                        lock(&self.unsettled).remove(id);
                        return Err(refused);
                    }
                    // Stored by the verdict, but the rest of the answer is unreadable: without
                    // a server id it is as unknown as a lost reply, and a resend would store a
                    // second copy.
                    (Ok(()), Err(unreadable)) => unreadable,
                },
                // Refused before it left (too large for one frame).
                Err(err) if err.kind == ErrorKind::BadInput => return Err(err),
                // The reply is lost but the message may be stored.
                Err(err) => err,
            };
            // Find out on the next connection before sending again.
            tracing::warn!(client_msg_id = %id, err = %unknown, "no usable reply to a send; reconciling after the reconnect");
            {
                let mut unsettled = lock(&self.unsettled);
                let lost = unsettled.entry(id.clone()).or_default();
                *lost = (*lost).max(generation);
            }
            // A silent but open socket would never be replaced otherwise.
            conn.close();
            self.down_if(generation);
            after = generation;
            let (_, newer) = self.connection(after, deadline).await?;
            if self.stored(id)?.is_none() {
                tokio::time::sleep(
                    ECHO_GRACE.min(deadline.saturating_duration_since(Instant::now())),
                )
                .await;
            }
            after = newer - 1;
        }
    }

    fn down_if(&self, generation: u64) {
        self.state.send_if_modified(|s| {
            if s.generation == generation && s.conn.is_some() {
                s.conn = None;
                true
            } else {
                false
            }
        });
    }
}
