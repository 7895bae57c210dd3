//! Outbound text (spec §3.4, §8, §9).

use std::time::Duration;

use channel_core::{Backoff, ChannelError, Outbound, Receipt, Target};

use crate::Account;
use crate::client::IlinkClient;
use crate::wire::{OutboundMessage, item};

/// Attempts per wire message on transient failures (timeouts, 5xx).
const ATTEMPTS: u32 = 3;

/// `openclaw-weixin:<ms>-<8 hex>`, the shape of the official client's ids.
fn new_client_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{}:{ms}-{:08x}", crate::CHANNEL_ID, rand::random::<u32>())
}

/// A wire id for a logical message: stable when the caller gave one, so a retried delivery of
/// the same reply carries the same id.
fn client_id_for(message: &Outbound) -> String {
    match &message.client_id {
        Some(id) => format!("{}:{id}", crate::CHANNEL_ID),
        None => new_client_id(),
    }
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
    if message.text.trim().is_empty() {
        return Err(ChannelError::bad_input(
            "openclaw-weixin: refusing to send an empty message",
        ));
    }
    let (to, context_token) = account
        .store
        .context_token(&account.id, &target.id)
        .map_err(|e| ChannelError::from(e).context("reading context tokens"))?
        .ok_or_else(|| {
            ChannelError::bad_input(format!(
                "openclaw-weixin: no conversation with {} on account {}: WeChat lets a bot write only to users who messaged it first",
                target.id, account.id
            ))
        })?;
    let client = IlinkClient::new(account.endpoint()?)?;
    let client_id = client_id_for(message);
    let wire = OutboundMessage {
        from_user_id: "",
        to_user_id: &to,
        client_id: &client_id,
        message_type: 2,
        message_state: 2,
        item_list: vec![
            serde_json::json!({"type": item::TEXT, "text_item": {"text": message.text}}),
        ],
        context_token: Some(&context_token),
    };
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
    let mut attempt = 1;
    loop {
        match client.send_message(wire.clone()).await {
            Ok(_server_id) => {
                tracing::debug!(account = %account.id, client_id, "sendmessage accepted");
                return Ok(Receipt::Sent {
                    message_id: client_id,
                    parts: 1,
                });
            }
            Err(err) if err.kind.is_retryable() && attempt < ATTEMPTS => {
                attempt += 1;
                let delay = backoff.delay_for(&err);
                tracing::warn!(account = %account.id, %err, attempt, "sendmessage failed; retrying with the same client_id");
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(err),
        }
    }
}
