//! Outbound messages (spec §3.4, §8, §9): text is Markdown-filtered once and chunked; media are
//! uploaded first (spec §8.3) and follow the caption as their own messages. Every wire message
//! is checked against the peer's window; what does not fit waits in the outbox (media as their
//! uploaded items) and the caller is told so.
//!
//! Each wire message is in the send log under its wire id as soon as the server took it, and the
//! whole message under its client id, so neither a replayed turn nor a flush that resumes after
//! a crash sends a piece twice. What waited for a peer goes out before anything newer to it.

use std::time::Duration;

use channel_core::{Backoff, ChannelError, ErrorKind, Outbound, Receipt, Target, now_ms};

use crate::client::{IlinkClient, Sent};
use crate::media::outbound as media_out;
use crate::window::{EnqueueError, Queued, QueuedMedia};
use crate::wire::{OutboundMessage, item};
use crate::{Account, locks, text};

/// Attempts per wire message on transient failures (timeouts, 5xx).
const ATTEMPTS: u32 = 3;
/// Sends again of one piece refused because a newer context token came in meanwhile.
const MAX_STALE_REFUSALS: u32 = 10;

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
    if message.client_id.is_some() {
        let _turn = locks::peer(account, &to).await;
        if let Some(earlier) = earlier_outcome(account, &client_id)? {
            return Ok(earlier);
        }
    }
    let client = IlinkClient::new(account.endpoint()?)?;
    let mut parts: Vec<Part> = if has_text {
        channel_core::text::chunks(&filtered, account.chunk_limit)
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
    let _turn = locks::peer(account, &to).await;
    // Asked again while the attachments uploaded.
    if message.client_id.is_some()
        && let Some(earlier) = earlier_outcome(account, &client_id)?
    {
        return Ok(earlier);
    }
    // What waited for the peer goes first; if it cannot, this message waits behind it (the
    // window is closed) or fails with it, so the peer never reads them out of order.
    flush_locked(account, &client, &to).await?;
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
            let queued = Queued {
                queue_id: queue_id.clone(),
                peer: to.clone(),
                pieces,
                media,
                client_id,
                first_piece: sent,
                queued_at: now_ms(),
                reason: reason.clone(),
            };
            match account.windows().enqueue(queued, sent > 0) {
                Ok(()) => {}
                Err(EnqueueError::Io(err)) => return Err(io("queueing the message")(err)),
                Err(full) => {
                    return Err(ChannelError::permanent(format!(
                        "openclaw-weixin: not sent and not queued: {full}; {to}'s window is closed ({reason}) and the queue empties only when {to} writes again"
                    )));
                }
            }
            tracing::info!(account = %account.base.id, queue_id, %reason, "message queued");
            Ok(Receipt::Queued { queue_id, reason })
        }
    }
}

/// What became of the logical message `client_id` when it was asked for before: sent, or
/// waiting in the outbox.
fn earlier_outcome(account: &Account, client_id: &str) -> Result<Option<Receipt>, ChannelError> {
    if let Some(message_id) = account.send_log().sent(client_id)? {
        return Ok(Some(Receipt::Sent {
            message_id,
            parts: 0,
        }));
    }
    Ok(account
        .windows()
        .queued(client_id)
        .map_err(io("reading the outbox"))?
        .map(|queued| Receipt::Queued {
            queue_id: queued.queue_id,
            reason: queued.reason,
        }))
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

/// Sends what waited for `peer`, after the peer wrote (a fresh window).
pub(crate) async fn flush(account: &Account, peer: &str) -> Result<usize, ChannelError> {
    let windows = account.windows();
    if windows
        .first_for(peer)
        .map_err(io("reading the outbox"))?
        .is_none()
    {
        return Ok(0);
    }
    let client = IlinkClient::new(account.endpoint()?)?;
    let _turn = locks::peer(account, peer).await;
    flush_locked(account, &client, peer).await
}

/// Sends `peer`'s queued messages, oldest first, while its window is open. Each leaves the
/// outbox only once delivered, so a crash leaves the ones not sent; one the send log already
/// has (the crash came between the send and its removal) leaves without being sent again.
async fn flush_locked(
    account: &Account,
    client: &IlinkClient,
    peer: &str,
) -> Result<usize, ChannelError> {
    let windows = account.windows();
    let log = account.send_log();
    let mut flushed = 0;
    while let Some(item) = windows.first_for(peer).map_err(io("reading the outbox"))? {
        if log.sent(&item.client_id)?.is_none() {
            let parts = queued_parts(&item);
            let plan = Plan {
                to: &item.peer,
                client_id: &item.client_id,
                parts: &parts,
                first_piece: item.first_piece,
            };
            match deliver(account, client, &plan).await? {
                Delivered::All { .. } => {
                    tracing::info!(account = %account.base.id, queue_id = %item.queue_id, "queued message delivered");
                }
                Delivered::Stopped { sent, reason } => {
                    if sent > 0 {
                        windows
                            .advance(&item.queue_id, sent, &reason)
                            .map_err(io("updating the outbox"))?;
                    }
                    break;
                }
            }
        }
        windows
            .remove(&item.queue_id)
            .map_err(io("updating the outbox"))?;
        flushed += 1;
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
    let log = account.send_log();
    let mut last_id = String::new();
    for (n, part) in plan.parts.iter().enumerate() {
        let wire_id = if plan.parts.len() == 1 && plan.first_piece == 0 {
            plan.client_id.to_owned()
        } else {
            format!("{}:{}", plan.client_id, plan.first_piece + n)
        };
        // Went out before a crash or an error cut the message short.
        if log.sent(&wire_id)?.is_some() {
            last_id = wire_id;
            continue;
        }
        // Each try of a refused stale token needs a newer inbound message, so this ends; the cap
        // only guards against a server that refuses every token.
        let mut stale_refusals = 0;
        loop {
            let window = windows
                .window(plan.to)
                .map_err(io("reading the peer's window"))?;
            if let Some(reason) = window.and_then(|w| w.closed(account.limits, now_ms())) {
                return Ok(Delivered::Stopped { sent: n, reason });
            }
            match send_part(account, client, plan.to, &wire_id, part.item()).await {
                Ok((Sent::Accepted { message_id }, _)) => {
                    // Recorded before any other bookkeeping, so a crash now cannot make a replay
                    // or a flush send it again.
                    log.record_sent(&wire_id, &wire_id);
                    windows
                        .record_send(plan.to)
                        .map_err(io("counting the send"))?;
                    // The peer may quote the bot's words later, by server id.
                    if let (Some(server_id), Part::Text(text)) = (message_id, part)
                        && let Err(err) = account
                            .store
                            .peers(&account.base.id)
                            .remember_now(plan.to, &server_id, text)
                    {
                        tracing::debug!(account = %account.base.id, %err, "could not remember the reply for quotes");
                    }
                    last_id = wire_id;
                    break;
                }
                Ok((Sent::WindowClosed { errmsg }, used)) => {
                    let current = windows
                        .record_refusal(plan.to, &used)
                        .map_err(io("recording the refusal"))?;
                    if !current && stale_refusals < MAX_STALE_REFUSALS {
                        // The peer wrote again while this was on its way: its newer token opens
                        // a fresh window, so the piece goes again at once instead of waiting.
                        stale_refusals += 1;
                        tracing::debug!(account = %account.base.id, wire_id, "refused with an older context token; sending again with the newest");
                        continue;
                    }
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
                Err(err) if err.kind == ErrorKind::NeedsLogin => {
                    // The login is gone, not the message: it waits in the outbox, and the next
                    // run of the account (after the new login) sends it.
                    return Ok(Delivered::Stopped {
                        sent: n,
                        reason: format!("the session expired, waiting for a new login: {err}"),
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
    }
    // The whole message went out: a replay of it is answered from the log.
    log.record_sent(plan.client_id, &last_id);
    Ok(Delivered::All { last_id })
}

async fn send_part(
    account: &Account,
    client: &IlinkClient,
    to: &str,
    client_id: &str,
    item: serde_json::Value,
) -> Result<(Sent, String), ChannelError> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        // Read again for every attempt: a message of the peer that arrived since brought a
        // token that replaces the one the server knew, and iLink takes only the newest.
        let (_, token) = peer(account, to)?;
        let wire = OutboundMessage {
            from_user_id: "",
            to_user_id: to,
            client_id,
            message_type: 2,
            message_state: 2,
            item_list: vec![item.clone()],
            context_token: Some(&token),
        };
        match client.send_message(wire).await {
            Err(err) if err.kind.is_retryable() && attempt < ATTEMPTS => {
                attempt += 1;
                let delay = backoff.delay_for(&err);
                tracing::warn!(account = %account.base.id, %err, attempt, "sendmessage failed; retrying with the same client_id");
                tokio::time::sleep(delay).await;
            }
            Ok(sent) => return Ok((sent, token)),
            Err(err) => return Err(err),
        }
    }
}
