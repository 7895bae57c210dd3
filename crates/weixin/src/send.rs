//! Outbound text (spec §3.4, §8, §9): Markdown filtered once, chunked, each piece checked
//! against the peer's window; what does not fit waits in the outbox and the caller is told so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use channel_core::{Backoff, ChannelError, Outbound, Receipt, Target};

use crate::Account;
use crate::client::{IlinkClient, Sent};
use crate::text;
use crate::window::Queued;
use crate::wire::{OutboundMessage, item};

/// Attempts per wire message on transient failures (timeouts, 5xx).
const ATTEMPTS: u32 = 3;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One send at a time per account: window counters and the outbox are read, checked and
/// written as a unit.
async fn account_lock(account: &Account) -> tokio::sync::OwnedMutexGuard<()> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    let key = account.store.accounts_dir().join(&account.id);
    let lock = LOCKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default()
        .clone();
    lock.lock_owned().await
}

/// `openclaw-weixin:<ms>-<8 hex>`, the shape of the official client's ids.
fn new_client_id() -> String {
    format!(
        "{}:{}-{:08x}",
        crate::CHANNEL_ID,
        now_ms(),
        rand::random::<u32>()
    )
}

/// A wire id for a logical message: stable when the caller gave one, so a retried delivery of
/// the same reply carries the same id.
fn client_id_for(message: &Outbound) -> String {
    match &message.client_id {
        Some(id) => format!("{}:{id}", crate::CHANNEL_ID),
        None => new_client_id(),
    }
}

/// The peer's byte-exact wire id and latest context token.
fn peer(account: &Account, target: &str) -> Result<(String, String), ChannelError> {
    account
        .store
        .context_token(&account.id, target)
        .map_err(|e| ChannelError::from(e).context("reading context tokens"))?
        .ok_or_else(|| {
            ChannelError::bad_input(format!(
                "openclaw-weixin: no conversation with {target} on account {}: WeChat lets a bot write only to users who messaged it first",
                account.id
            ))
        })
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ChannelError {
    move |e| ChannelError::from(e).context(what)
}

pub(crate) async fn send(
    account: &Account,
    target: &Target,
    message: &Outbound,
) -> Result<Receipt, ChannelError> {
    if !message.media.is_empty() {
        return Err(ChannelError::bad_input(
            "openclaw-weixin: sending media is not supported by this build yet; send text only",
        ));
    }
    let filtered = text::filter_markdown(&message.text);
    if filtered.trim().is_empty() {
        return Err(ChannelError::bad_input(
            "openclaw-weixin: refusing to send an empty message",
        ));
    }
    let (to, _) = peer(account, &target.id)?;
    let client = IlinkClient::new(account.endpoint()?)?;
    let pieces = text::chunk(&filtered, account.chunk_limit);
    let client_id = client_id_for(message);
    let _turn = account_lock(account).await;
    let plan = Plan {
        to: &to,
        client_id: &client_id,
        pieces: &pieces,
        first_piece: 0,
    };
    match deliver(account, &client, &plan).await? {
        Delivered::All { last_id } => Ok(Receipt::Sent {
            message_id: last_id,
            parts: pieces.len(),
        }),
        Delivered::Stopped { sent, reason } => {
            let queue_id = format!("{client_id}:queued");
            let reason = if sent > 0 {
                format!(
                    "{sent} of {} parts sent; the rest waits: {reason}",
                    pieces.len()
                )
            } else {
                format!("queued until {to} writes again: {reason}")
            };
            account
                .windows()
                .enqueue(Queued {
                    queue_id: queue_id.clone(),
                    peer: to.clone(),
                    pieces: pieces[sent..].to_vec(),
                    client_id,
                    first_piece: sent,
                    queued_at: now_ms(),
                    reason: reason.clone(),
                })
                .map_err(io("queueing the message"))?;
            tracing::info!(account = %account.id, queue_id, %reason, "message queued");
            Ok(Receipt::Queued { queue_id, reason })
        }
    }
}

/// Sends what waited for `peer`, right after the peer wrote (a fresh window).
pub(crate) async fn flush(account: &Account, peer: &str) -> Result<usize, ChannelError> {
    let windows = account.windows();
    let _turn = account_lock(account).await;
    let mut waiting = windows.take_for(peer).map_err(io("reading the outbox"))?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let token_lookup = self::peer(account, peer);
    let client = IlinkClient::new(account.endpoint()?);
    let (client, _) = match (client, token_lookup) {
        (Ok(client), Ok(found)) => (client, found),
        (Err(err), _) | (_, Err(err)) => {
            windows
                .requeue_front(waiting)
                .map_err(io("restoring the outbox"))?;
            return Err(err);
        }
    };
    let mut flushed = 0;
    while !waiting.is_empty() {
        let item = waiting.remove(0);
        let plan = Plan {
            to: &item.peer,
            client_id: &item.client_id,
            pieces: &item.pieces,
            first_piece: item.first_piece,
        };
        let outcome = deliver(account, &client, &plan).await;
        let stopped_at = match outcome {
            Ok(Delivered::All { .. }) => {
                flushed += 1;
                tracing::info!(account = %account.id, queue_id = %item.queue_id, "queued message delivered");
                continue;
            }
            Ok(Delivered::Stopped { sent, reason }) => Some((sent, Ok(reason))),
            Err(err) => Some((0, Err(err))),
        };
        // Whatever is left goes back, in order, ahead of anything queued meanwhile.
        if let Some((sent, result)) = stopped_at {
            let mut rest = vec![Queued {
                pieces: item.pieces[sent..].to_vec(),
                first_piece: item.first_piece + sent,
                ..item
            }];
            rest.append(&mut waiting);
            windows
                .requeue_front(rest)
                .map_err(io("restoring the outbox"))?;
            result?;
        }
        break;
    }
    Ok(flushed)
}

struct Plan<'a> {
    to: &'a str,
    client_id: &'a str,
    pieces: &'a [String],
    /// Index of `pieces[0]` within the logical message, for stable wire ids.
    first_piece: usize,
}

enum Delivered {
    All {
        last_id: String,
    },
    /// The window closed after `sent` pieces.
    Stopped {
        sent: usize,
        reason: String,
    },
}

async fn deliver(
    account: &Account,
    client: &IlinkClient,
    plan: &Plan<'_>,
) -> Result<Delivered, ChannelError> {
    let windows = account.windows();
    let mut last_id = String::new();
    for (n, piece) in plan.pieces.iter().enumerate() {
        let window = windows
            .window(plan.to)
            .map_err(io("reading the peer's window"))?;
        if let Some(reason) = window.and_then(|w| w.closed(account.limits, now_ms())) {
            return Ok(Delivered::Stopped { sent: n, reason });
        }
        // The token may have been refreshed by an inbound message since the caller looked.
        let (_, token) = peer(account, plan.to)?;
        let wire_id = if plan.pieces.len() == 1 && plan.first_piece == 0 {
            plan.client_id.to_owned()
        } else {
            format!("{}:{}", plan.client_id, plan.first_piece + n)
        };
        match send_piece(account, client, plan.to, &token, &wire_id, piece).await {
            Ok(Sent::Accepted { .. }) => {
                windows
                    .record_send(plan.to)
                    .map_err(io("counting the send"))?;
                last_id = wire_id;
            }
            Ok(Sent::WindowClosed { errmsg }) => {
                windows
                    .record_refusal(plan.to)
                    .map_err(io("recording the refusal"))?;
                let detail = if errmsg.is_empty() {
                    String::new()
                } else {
                    format!(" ({errmsg})")
                };
                return Ok(Delivered::Stopped {
                    sent: n,
                    reason: format!("the server closed the window (ret -2{detail})"),
                });
            }
            Err(err) if n > 0 => {
                return Err(err.context(format!(
                    "after {n} of {} parts were sent",
                    plan.pieces.len()
                )));
            }
            Err(err) => return Err(err),
        }
    }
    Ok(Delivered::All { last_id })
}

async fn send_piece(
    account: &Account,
    client: &IlinkClient,
    to: &str,
    token: &str,
    client_id: &str,
    text: &str,
) -> Result<Sent, ChannelError> {
    let wire = OutboundMessage {
        from_user_id: "",
        to_user_id: to,
        client_id,
        message_type: 2,
        message_state: 2,
        item_list: vec![serde_json::json!({"type": item::TEXT, "text_item": {"text": text}})],
        context_token: Some(token),
    };
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        match client.send_message(wire.clone()).await {
            Err(err) if err.kind.is_retryable() && attempt < ATTEMPTS => {
                attempt += 1;
                let delay = backoff.delay_for(&err);
                tracing::warn!(account = %account.id, %err, attempt, "sendmessage failed; retrying with the same client_id");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}
