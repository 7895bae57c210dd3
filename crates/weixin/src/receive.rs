//! The long-poll receive loop of one account (spec §6, with the fixes of §17).
//!
//! wire → decode → normalize → pipeline (dedup → gate → host). The cursor is saved only after
//! every message of a batch is durably accepted, so a crash replays at most one batch, and the
//! dedup journal drops what was already accepted.

use std::time::Duration;

use channel_core::{Backoff, ChannelError, ErrorKind, RunContext, StatusPatch, now_ms};

use crate::client::{IlinkClient, timeouts};
use crate::normalize::normalize;
use crate::wire::{GetUpdatesResponse, WeixinMessage};
use crate::{Account, send};

/// The server's hold hint is trusted up to this much.
const MAX_HOLD: Duration = Duration::from_secs(120);
/// Pause before the one re-check after a `-14`.
const EXPIRY_RECHECK_DELAY: Duration = Duration::from_secs(2);

pub(crate) async fn run(account: &Account, ctx: RunContext) -> Result<(), ChannelError> {
    let client = IlinkClient::new(account.endpoint()?)?;
    let store = &account.store;
    let mut cursor = store
        .load_cursor(&account.id)
        .map_err(|e| ChannelError::from(e).context("reading the cursor"))?;
    let mut hold = timeouts::LONG_POLL;
    let mut backoff = Backoff::default();
    let mut rechecked_expiry = false;
    let mut connected = false;

    match client.notify_start().await {
        Ok(()) => {
            ctx.status(StatusPatch::connected());
            connected = true;
        }
        Err(err) => {
            tracing::warn!(account = %account.id, %err, "notifystart failed; polling anyway")
        }
    }

    loop {
        let polled = tokio::select! {
            () = ctx.cancel.cancelled() => break,
            polled = client.get_updates(&cursor, hold) => polled,
        };
        let error = match polled {
            Ok(response) => {
                backoff.reset();
                rechecked_expiry = false;
                if !connected {
                    ctx.status(StatusPatch::connected());
                    connected = true;
                }
                if let Some(ms) = response.longpolling_timeout_ms.filter(|ms| *ms > 0) {
                    hold = Duration::from_millis(ms).min(MAX_HOLD);
                }
                match deliver(account, &ctx, &response).await {
                    Ok(()) => {
                        let next = &response.get_updates_buf;
                        if !next.is_empty() && *next != cursor {
                            store
                                .save_cursor(&account.id, next)
                                .map_err(|e| ChannelError::from(e).context("saving the cursor"))?;
                            cursor.clone_from(next);
                        }
                        continue;
                    }
                    // The cursor stays put, so the server sends the batch again.
                    Err(err) => err,
                }
            }
            Err(err) if err.kind == ErrorKind::NeedsLogin && !rechecked_expiry => {
                // One stale answer is not proof the login is gone: announce ourselves and ask again.
                rechecked_expiry = true;
                tracing::warn!(account = %account.id, %err, "session looks expired; checking once more");
                if let Err(again) = client.notify_start().await {
                    tracing::debug!(account = %account.id, %again, "notifystart during re-check");
                }
                if sleep_or_cancel(&ctx, EXPIRY_RECHECK_DELAY).await {
                    break;
                }
                continue;
            }
            Err(err) if err.kind.stops_account() => {
                tracing::error!(account = %account.id, %err, "account needs a new login; stopping its receive loop");
                ctx.status(StatusPatch::blocked(&err));
                return Err(err);
            }
            Err(err) => err,
        };
        connected = false;
        let delay = backoff.delay_for(&error);
        tracing::warn!(account = %account.id, kind = %error.kind, %error, retry_in_ms = delay.as_millis() as u64, "receive failed");
        ctx.status(StatusPatch::recovering(&error));
        if sleep_or_cancel(&ctx, delay).await {
            break;
        }
    }

    if let Ok(Err(err)) = tokio::time::timeout(Duration::from_secs(3), client.notify_stop()).await {
        tracing::debug!(account = %account.id, %err, "notifystop failed");
    }
    ctx.status(StatusPatch {
        running: Some(false),
        connected: Some(false),
        lifecycle: Some("stopped".into()),
        ..StatusPatch::default()
    });
    Ok(())
}

/// A quote that came as a bare id gets the quoted text back, when we saw that message.
fn resolve_quote(account: &Account, inbound: &mut channel_core::Inbound) {
    let Some(reply) = inbound.reply_to.as_mut() else {
        return;
    };
    if reply.body.is_some() {
        return;
    }
    if let Some(id) = &reply.id {
        reply.body = account.store.recall_text(&account.id, id).ok().flatten();
    }
}

/// Returns true when cancelled during the sleep.
async fn sleep_or_cancel(ctx: &RunContext, delay: Duration) -> bool {
    tokio::select! {
        () = ctx.cancel.cancelled() => true,
        () = tokio::time::sleep(delay) => false,
    }
}

/// Hands every message of a batch to the pipeline, in order.
async fn deliver(
    account: &Account,
    ctx: &RunContext,
    response: &GetUpdatesResponse,
) -> Result<(), ChannelError> {
    for raw in &response.msgs {
        let msg: WeixinMessage = match serde_path_to_error::deserialize(raw) {
            Ok(msg) => msg,
            Err(err) => {
                // A message we cannot read can never be delivered; holding the cursor for it
                // would block every message after it.
                tracing::error!(account = %account.id, field = %err.path(), error = %err.inner(), "skipping undecodable getupdates message");
                continue;
            }
        };
        if let (Some(from), Some(token)) =
            (msg.from_user_id.as_deref(), msg.context_token.as_deref())
        {
            // Recorded before the DM gate: a pairing reply to a stranger needs it too.
            account
                .store
                .record_context_token(&account.id, from, token)
                .map_err(|e| ChannelError::from(e).context("saving the context token"))?;
            account
                .windows()
                .opened(from, now_ms())
                .map_err(|e| ChannelError::from(e).context("opening the peer's window"))?;
            // What waited for this peer goes out before the answer to this message.
            match send::flush(account, from).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(account = %account.id, flushed = n, "sent messages that waited for the peer")
                }
                Err(err) => {
                    tracing::warn!(account = %account.id, %err, "could not flush queued messages; they stay queued")
                }
            }
        }
        let mut inbound = match normalize(&account.id, &msg, raw.clone()) {
            Ok(inbound) => inbound,
            Err(err) => {
                tracing::error!(account = %account.id, %err, "skipping unusable getupdates message");
                continue;
            }
        };
        resolve_quote(account, &mut inbound);
        if let Err(err) =
            account
                .store
                .remember_text(&account.id, &inbound.server_id, &inbound.text)
        {
            tracing::debug!(account = %account.id, %err, "could not remember the message for quotes");
        }
        let outcome = ctx.accept(inbound).await?;
        tracing::debug!(account = %account.id, ?outcome, "inbound handled");
    }
    Ok(())
}
