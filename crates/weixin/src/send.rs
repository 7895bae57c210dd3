//! Outbound messages (spec §3.4, §8, §9): text is Markdown-filtered once and chunked; media are
//! uploaded first (spec §8.3) and follow the caption as their own messages. Every wire message
//! is checked against the peer's window; what does not fit waits in the outbox (media as their
//! uploaded items) and the caller is told so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use channel_core::{Backoff, ChannelError, Outbound, Receipt, Target, now_ms};

use crate::Account;
use crate::client::{IlinkClient, Sent};
use crate::media::outbound as media_out;
use crate::text;
use crate::window::{Queued, QueuedMedia};
use crate::wire::{OutboundMessage, item};

/// Attempts per wire message on transient failures (timeouts, 5xx).
const ATTEMPTS: u32 = 3;

/// One send at a time per account: window counters and the outbox are read, checked and
/// written as a unit.
async fn account_lock(account: &Account) -> tokio::sync::OwnedMutexGuard<()> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    let key = account.store.accounts_dir().join(&account.base.id);
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
        .context_token(&account.base.id, target)
        .map_err(|e| ChannelError::from(e).context("reading context tokens"))?
        .ok_or_else(|| {
            ChannelError::bad_input(format!(
                "openclaw-weixin: no conversation with {target} on account {}: WeChat lets a bot write only to users who messaged it first",
                account.base.id
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
    let filtered = text::filter_markdown(&message.text);
    let has_text = !filtered.trim().is_empty();
    if !has_text && message.media.is_empty() {
        return Err(ChannelError::bad_input(
            "openclaw-weixin: refusing to send an empty message",
        ));
    }
    let (to, _) = peer(account, &target.id)?;
    let client_id = client_id_for(message);
    // A caller that names its message (a host retry, a redelivered reply) gets the first
    // outcome again instead of a second copy.
    let log = account.send_log();
    if message.client_id.is_some() {
        let windows = account.windows();
        let _turn = account_lock(account).await;
        if let Some(message_id) = log.sent(&client_id)? {
            return Ok(Receipt::Sent {
                message_id,
                parts: 0,
            });
        }
        if let Some(queued) = windows
            .queued(&client_id)
            .map_err(io("reading the outbox"))?
        {
            return Ok(Receipt::Queued {
                queue_id: queued.queue_id,
                reason: queued.reason,
            });
        }
    }
    let client = IlinkClient::new(account.endpoint()?)?;
    let mut parts: Vec<Part> = if has_text {
        text::chunk(&filtered, account.chunk_limit)
            .into_iter()
            .map(Part::Text)
            .collect()
    } else {
        Vec::new()
    };
    // Every attachment is uploaded before anything is sent, so a bad one sends nothing.
    for entry in &message.media {
        parts.push(Part::Media(
            upload_media(account, &client, &to, entry, &message.media_roots).await?,
        ));
    }
    let _turn = account_lock(account).await;
    let plan = Plan {
        to: &to,
        client_id: &client_id,
        parts: &parts,
        first_piece: 0,
    };
    match deliver(account, &client, &plan).await? {
        Delivered::All { last_id } => Ok(Receipt::Sent {
            message_id: last_id,
            parts: parts.len(),
        }),
        Delivered::Stopped { sent, reason } => {
            let queue_id = format!("{client_id}:queued");
            let reason = if sent > 0 {
                format!(
                    "{sent} of {} parts sent; the rest waits: {reason}",
                    parts.len()
                )
            } else {
                format!("queued until {to} writes again: {reason}")
            };
            let (pieces, media) = split_parts(&parts[sent..]);
            account
                .windows()
                .enqueue(Queued {
                    queue_id: queue_id.clone(),
                    peer: to.clone(),
                    pieces,
                    media,
                    client_id,
                    first_piece: sent,
                    queued_at: now_ms(),
                    reason: reason.clone(),
                })
                .map_err(io("queueing the message"))?;
            tracing::info!(account = %account.base.id, queue_id, %reason, "message queued");
            Ok(Receipt::Queued { queue_id, reason })
        }
    }
}

/// Reads, encrypts and uploads one attachment; errors say which one.
async fn upload_media(
    account: &Account,
    client: &IlinkClient,
    to: &str,
    entry: &str,
    host_roots: &[String],
) -> Result<QueuedMedia, ChannelError> {
    let source = media_out::load(&account.media, entry, host_roots).await?;
    let name = source.file_name.clone();
    let (kind, item) = media_out::upload(client, &account.media, to, source)
        .await
        .map_err(|e| e.context(format!("openclaw-weixin: sending {name}")))?;
    tracing::debug!(account = %account.base.id, kind = kind.as_str(), "media uploaded");
    Ok(QueuedMedia {
        kind: kind.as_str().into(),
        item,
    })
}

/// One wire message of a logical message: a text piece or an uploaded attachment.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Media(QueuedMedia),
}

impl Part {
    fn item(&self) -> serde_json::Value {
        match self {
            Self::Text(text) => {
                serde_json::json!({"type": item::TEXT, "text_item": {"text": text}})
            }
            Self::Media(media) => media.item.clone(),
        }
    }
}

/// A queued message's parts: text pieces first, then media.
fn queued_parts(queued: &Queued) -> Vec<Part> {
    queued
        .pieces
        .iter()
        .cloned()
        .map(Part::Text)
        .chain(queued.media.iter().cloned().map(Part::Media))
        .collect()
}

/// Parts back into the outbox's shape (text is always ahead of media in a message).
fn split_parts(parts: &[Part]) -> (Vec<String>, Vec<QueuedMedia>) {
    let mut pieces = Vec::new();
    let mut media = Vec::new();
    for part in parts {
        match part {
            Part::Text(text) => pieces.push(text.clone()),
            Part::Media(m) => media.push(m.clone()),
        }
    }
    (pieces, media)
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
        let parts = queued_parts(&item);
        let plan = Plan {
            to: &item.peer,
            client_id: &item.client_id,
            parts: &parts,
            first_piece: item.first_piece,
        };
        let outcome = deliver(account, &client, &plan).await;
        let stopped_at = match outcome {
            Ok(Delivered::All { .. }) => {
                flushed += 1;
                tracing::info!(account = %account.base.id, queue_id = %item.queue_id, "queued message delivered");
                continue;
            }
            Ok(Delivered::Stopped { sent, reason }) => Some((sent, Ok(reason))),
            Err(err) => Some((0, Err(err))),
        };
        // Whatever is left goes back, in order, ahead of anything queued meanwhile.
        if let Some((sent, result)) = stopped_at {
            let (pieces, media) = split_parts(&parts[sent..]);
            let mut rest = vec![Queued {
                pieces,
                media,
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
    parts: &'a [Part],
    /// Index of `parts[0]` within the logical message, for stable wire ids.
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
    for (n, part) in plan.parts.iter().enumerate() {
        let window = windows
            .window(plan.to)
            .map_err(io("reading the peer's window"))?;
        if let Some(reason) = window.and_then(|w| w.closed(account.limits, now_ms())) {
            return Ok(Delivered::Stopped { sent: n, reason });
        }
        // The token may have been refreshed by an inbound message since the caller looked.
        let (_, token) = peer(account, plan.to)?;
        let wire_id = if plan.parts.len() == 1 && plan.first_piece == 0 {
            plan.client_id.to_owned()
        } else {
            format!("{}:{}", plan.client_id, plan.first_piece + n)
        };
        match send_part(account, client, plan.to, &token, &wire_id, part.item()).await {
            Ok(Sent::Accepted { message_id }) => {
                if n + 1 == plan.parts.len() {
                    // The whole message went out: recorded before any other bookkeeping, so a
                    // crash now cannot make a replay send it again.
                    account.send_log().record_sent(plan.client_id, &wire_id);
                }
                windows
                    .record_send(plan.to)
                    .map_err(io("counting the send"))?;
                // The peer may quote the bot's words later, by server id.
                if let (Some(server_id), Part::Text(text)) = (message_id, part) {
                    let _ = account
                        .store
                        .remember_text(&account.base.id, &server_id, text);
                }
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
                return Err(
                    err.context(format!("after {n} of {} parts were sent", plan.parts.len()))
                );
            }
            Err(err) => return Err(err),
        }
    }
    Ok(Delivered::All { last_id })
}

async fn send_part(
    account: &Account,
    client: &IlinkClient,
    to: &str,
    token: &str,
    client_id: &str,
    item: serde_json::Value,
) -> Result<Sent, ChannelError> {
    let wire = OutboundMessage {
        from_user_id: "",
        to_user_id: to,
        client_id,
        message_type: 2,
        message_state: 2,
        item_list: vec![item],
        context_token: Some(token),
    };
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        match client.send_message(wire.clone()).await {
            Err(err) if err.kind.is_retryable() && attempt < ATTEMPTS => {
                attempt += 1;
                let delay = backoff.delay_for(&err);
                tracing::warn!(account = %account.base.id, %err, attempt, "sendmessage failed; retrying with the same client_id");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}
