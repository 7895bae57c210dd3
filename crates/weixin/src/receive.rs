//! The long-poll receive loop of one account (spec §6, with the fixes of §17).
//!
//! wire → decode → normalize → pipeline (dedup → gate → host). The cursor is saved only after
//! every message of a batch is durably accepted, so a crash replays at most one batch, and the
//! dedup journal drops what was already accepted.
//!
//! A message's context token and window are noted only when the pipeline keeps the message, and
//! written once per batch, before the cursor. What waited for the peer is sent beside the poll
//! ([`Flusher`]).

use std::time::Duration;

use channel_core::{Accepted, ChannelError, Connector, ErrorKind, Lifecycle, RunContext, now_ms};

use crate::Account;
use crate::client::{IlinkClient, timeouts};
use crate::flusher::Flusher;
use crate::normalize::normalize;
use crate::peers::Peers;
use crate::wire::{GetUpdatesResponse, WeixinMessage};

/// The server's hold hint is trusted up to this much.
const MAX_HOLD: Duration = Duration::from_secs(120);
/// Pause before the one re-check after a `-14`.
const EXPIRY_RECHECK_DELAY: Duration = Duration::from_secs(2);

/// One account's long poll; channel-core's supervisor runs it again after each failure.
pub(crate) struct Poller {
    account: Account,
    ctx: RunContext,
    client: IlinkClient,
    cursor: String,
    /// How long the server holds a poll open, as it last said.
    hold: Duration,
    /// Whether the bot announced itself (`notifystart`) in this run.
    announced: bool,
    /// Whether this run asked for the outbox to be flushed after its first good poll.
    resumed_outbox: bool,
    flusher: Flusher,
}

impl Poller {
    pub(crate) fn new(account: Account, ctx: RunContext) -> Result<Self, ChannelError> {
        let client = IlinkClient::new(account.endpoint()?)?;
        let cursor = account
            .store
            .load_cursor(&account.base.id)
            .map_err(|e| ChannelError::from(e).context("reading the cursor"))?;
        let flusher = Flusher::start(account.clone(), ctx.cancel.clone());
        Ok(Self {
            account,
            flusher,
            ctx,
            client,
            cursor,
            hold: timeouts::LONG_POLL,
            announced: false,
            resumed_outbox: false,
        })
    }
}

#[async_trait::async_trait]
impl Connector for Poller {
    /// Polls until a poll or a batch fails; the error goes to the supervisor.
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        self.poll(life).await.map_err(|mut err| {
            // Only a lost login stops a long poll: an odd answer (an HTTP 4xx from a proxy, a
            // batch the disk could not take) is tried again after the backoff, with the cursor
            // where it was.
            if !err.kind.is_retryable() && !err.kind.stops_account() {
                err.kind = ErrorKind::Transient;
            }
            err
        })
    }

    async fn close(&mut self) {
        if let Ok(Err(err)) =
            tokio::time::timeout(Duration::from_secs(3), self.client.notify_stop()).await
        {
            tracing::debug!(account = %self.account.base.id, %err, "notifystop failed");
        }
    }
}

impl Poller {
    async fn poll(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        let account = &self.account;
        if !self.announced {
            self.announced = true;
            match self.client.notify_start().await {
                Ok(()) => life.connected(),
                Err(err) => {
                    tracing::warn!(account = %account.base.id, %err, "notifystart failed; polling anyway")
                }
            }
        }
        let mut rechecked_expiry = false;
        loop {
            let polled = tokio::select! {
                () = life.cancel().cancelled() => return Ok(()),
                polled = self.client.get_updates(&self.cursor, self.hold) => polled,
            };
            // When the batch left the wire: what the plugin adds to each message is timed from
            // here (`channel_core::LATENCY_TARGET`).
            let received_us = channel_core::now_us();
            let response = match polled {
                Ok(response) => response,
                Err(err) if err.kind == ErrorKind::NeedsLogin && !rechecked_expiry => {
                    // One stale answer is not proof the login is gone: announce ourselves and ask
                    // again.
                    rechecked_expiry = true;
                    tracing::warn!(account = %account.base.id, %err, "session looks expired; checking once more");
                    if let Err(again) = self.client.notify_start().await {
                        tracing::debug!(account = %account.base.id, %again, "notifystart during re-check");
                    }
                    tokio::select! {
                        () = life.cancel().cancelled() => return Ok(()),
                        () = tokio::time::sleep(EXPIRY_RECHECK_DELAY) => continue,
                    }
                }
                Err(err) => return Err(err),
            };
            rechecked_expiry = false;
            life.connected();
            if !self.resumed_outbox {
                self.resumed_outbox = true;
                resume_outbox(account, &self.flusher);
            }
            if let Some(ms) = response.longpolling_timeout_ms.filter(|ms| *ms > 0) {
                self.hold = Duration::from_millis(ms).min(MAX_HOLD);
            }
            // On an error the cursor stays put, so the server sends the batch again.
            let peers = account.store.peers(&account.base.id);
            deliver(
                account,
                &peers,
                &self.ctx,
                &self.flusher,
                &response,
                received_us,
            )
            .await?;
            peers
                .persist()
                .map_err(|e| ChannelError::from(e).context("saving context tokens and windows"))?;
            let next = &response.get_updates_buf;
            if !next.is_empty() && *next != self.cursor {
                account
                    .store
                    .save_cursor(&account.base.id, next)
                    .map_err(|e| ChannelError::from(e).context("saving the cursor"))?;
                self.cursor.clone_from(next);
            }
        }
    }
}

/// Asks for a flush of every peer with queued messages: what waited for a new login (a send cut
/// by `-14`) goes out now that the server answers again; a peer whose window is closed keeps
/// its messages until it writes.
fn resume_outbox(account: &Account, flusher: &Flusher) {
    match account.windows().outbox() {
        Ok(queued) => {
            let mut peers: Vec<String> = queued.into_iter().map(|q| q.peer).collect();
            peers.dedup();
            for peer in peers {
                flusher.request(&peer);
            }
        }
        Err(err) => {
            tracing::warn!(account = %account.base.id, %err, "could not read the outbox; it is flushed when each peer writes")
        }
    }
}

/// A quote that came as a bare id gets the quoted text back, when we saw that message in the
/// same conversation.
fn resolve_quote(account: &Account, peers: &Peers, inbound: &mut channel_core::Inbound) {
    let Some(reply) = inbound.reply_to.as_mut() else {
        return;
    };
    if reply.body.is_some() {
        return;
    }
    if let Some(id) = &reply.id {
        reply.body = match peers.recall(&inbound.chat.id, id) {
            Ok(found) => found,
            Err(err) => {
                tracing::debug!(account = %account.base.id, %err, "could not read the texts kept for quotes");
                None
            }
        };
    }
}

/// Hands every message of a batch to the pipeline, in order, with one fsync for the batch.
async fn deliver(
    account: &Account,
    peers: &Peers,
    ctx: &RunContext,
    flusher: &Flusher,
    response: &GetUpdatesResponse,
    received_us: u64,
) -> Result<(), ChannelError> {
    let mut batch = ctx.batch();
    for raw in &response.msgs {
        let msg: WeixinMessage = match serde_path_to_error::deserialize(raw) {
            Ok(msg) => msg,
            Err(err) => {
                // A message we cannot read can never be delivered; holding the cursor for it
                // would block every message after it.
                tracing::error!(account = %account.base.id, field = %err.path(), error = %err.inner(), "skipping undecodable getupdates message");
                continue;
            }
        };
        let mut inbound = match normalize(&account.base.id, &msg, raw.clone()) {
            Ok(inbound) => inbound,
            Err(err) => {
                tracing::error!(account = %account.base.id, %err, "skipping unusable getupdates message");
                continue;
            }
        };
        resolve_quote(account, peers, &mut inbound);
        let (peer, server_id, text) = (
            inbound.chat.id.clone(),
            inbound.server_id.clone(),
            inbound.text.clone(),
        );
        // Noted before the pipeline sees the message, since the reply (or a pairing code) may
        // be sent before the batch's commit returns; taken back if the pipeline drops it.
        let noted = msg.context_token.as_deref().map(|token| {
            peers.note_inbound(&peer, token, msg.create_time_ms.unwrap_or(0), now_ms())
        });
        tracing::debug!(target: channel_core::LATENCY_TARGET, account = %account.base.id, id = %server_id, at_us = received_us, "received");
        let outcome = match batch.accept(inbound).await {
            Ok(outcome) => outcome,
            Err(err) => {
                if let Some(noted) = noted {
                    peers.take_back(noted);
                }
                // What the batch took before goes ahead; the error is the one to report.
                let _ = batch.commit().await;
                return Err(err);
            }
        };
        tracing::debug!(account = %account.base.id, ?outcome, "inbound handled");
        let kept = match &outcome {
            Accepted::Dispatched | Accepted::Paired { .. } => true,
            Accepted::Duplicate => match &noted {
                Some(noted) => peers
                    .is_news(noted)
                    .map_err(|e| ChannelError::from(e).context("reading context tokens"))?,
                None => false,
            },
            Accepted::Dropped(_) | Accepted::GroupDropped(_) => false,
        };
        match noted {
            Some(noted) if !kept => peers.take_back(noted),
            // A fresh window: what waited for this peer may go now.
            Some(_) => flusher.request(&peer),
            None => {}
        }
        if matches!(outcome, Accepted::Dispatched | Accepted::Paired { .. }) {
            peers.remember(&peer, &server_id, &text);
        }
    }
    batch.commit().await
}
