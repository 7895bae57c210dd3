//! The normalized messages that cross the channel boundary.

use serde::{Deserialize, Serialize};

/// Direct chat or group chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

/// Where a message was said: the peer for a DM, the group otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    pub kind: ChatKind,
    /// The peer id (direct) or the group id (group), byte-exact as on the wire. Gates and
    /// replies use it.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The id the host knows this chat by, when it must differ from `id`: group ids that are
    /// unique only per server carry the account, so two accounts' groups never share a
    /// session. The channel's `send` takes either form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_peer: Option<String>,
}

impl Chat {
    /// The peer id handed to the host (routing, `To`, `OriginatingTo`).
    pub fn peer(&self) -> &str {
        self.host_peer.as_deref().unwrap_or(&self.id)
    }

    /// Where a reply to this chat goes.
    pub fn target(&self) -> Target {
        Target {
            kind: self.kind,
            id: self.id.clone(),
        }
    }
}

/// Who said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// Byte-exact wire id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An attachment that arrived with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// `image`, `file`, `video` or `voice`.
    pub kind: String,
    /// Local path once downloaded into the host's media store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Where the channel can fetch it from (channel-specific), until it is in the media store.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub locator: serde_json::Value,
    /// Why the file could not be fetched, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A downloaded attachment in a temporary file, before the host's media store takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub temp_path: std::path::PathBuf,
    pub mime: String,
    pub file_name: Option<String>,
}

/// One inbound message, normalized. Everything after decode works on this type only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    pub channel: String,
    pub account: String,
    pub chat: Chat,
    pub sender: Sender,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// A group message that mentions this account (by id, or everyone): OpenClaw's
    /// `WasMentioned`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub was_mentioned: bool,
    /// The sender is on an allow list that covers this chat, so its text commands count
    /// (OpenClaw's `CommandAuthorized`). Set by the pipeline's gate, not by channels.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub command_authorized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// The server's id for this message: the dedup key and the stable `MessageSid`.
    pub server_id: String,
    /// Milliseconds since the epoch, as the server stamped it.
    pub timestamp_ms: i64,
    /// The wire frame, for debugging. Channels must strip secrets before putting it here.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub raw: serde_json::Value,
}

/// A quoted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Where to send: a peer or a group, by wire id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub kind: ChatKind,
    pub id: String,
}

impl Target {
    pub fn direct(id: impl Into<String>) -> Self {
        Self {
            kind: ChatKind::Direct,
            id: id.into(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// One logical outbound message. A channel may split it into several wire messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbound {
    #[serde(default)]
    pub text: String,
    /// Local paths or URLs of attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Stable id of this logical message: a retry with the same id is never sent twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The inbound message this answers, when it is a reply (lets a channel reuse its context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to_inbound: Option<String>,
    /// Who asked: the sender of the inbound message this answers. A channel whose groups
    /// address a reply to its asker (an @-mention) reads it; `None` when nobody asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asker: Option<Sender>,
    /// Directories local media may be read from (the host's media roots); other local paths are
    /// refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_roots: Vec<String>,
}

impl Outbound {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The send-log key of wire piece `part` (0-based) of this message, when the caller named
    /// it ([`Outbound::client_id`]); see [`crate::SendLog`].
    pub fn piece_key(&self, part: usize) -> Option<String> {
        self.client_id.as_ref().map(|id| format!("{id}#{part}"))
    }

    /// A 32-hex-digit client id for wire piece `part` sent by `account`: derived from
    /// [`Outbound::client_id`] when the caller named the message, so a retry carries the same
    /// id and servers that know it (and our catch-up) recognise the piece; random otherwise.
    pub fn wire_id(&self, account: &str, part: usize) -> String {
        use md5::Digest;
        match &self.client_id {
            Some(id) => hex::encode(md5::Md5::digest(format!("{account}\n{id}\n{part}"))),
            None => hex::encode(rand::random::<[u8; 16]>()),
        }
    }
}

/// The truth about what happened to an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Receipt {
    /// Accepted by the server. `message_id` is the id of the last wire message.
    #[serde(rename_all = "camelCase")]
    Sent { message_id: String, parts: usize },
    /// Not sent yet; it will go out when `reason` clears. Never reported as sent.
    #[serde(rename_all = "camelCase")]
    Queued { queue_id: String, reason: String },
}

impl Receipt {
    pub fn message_id(&self) -> &str {
        match self {
            Self::Sent { message_id, .. } => message_id,
            Self::Queued { queue_id, .. } => queue_id,
        }
    }
}

/// The real path of local attachment `item` (a path or `file://` URL), which must lie under one
/// of `roots` (the host's media roots); symlinks are resolved first, so none leads outside.
pub fn local_media_path(
    item: &str,
    roots: &[String],
) -> Result<std::path::PathBuf, crate::ChannelError> {
    use std::path::Path;
    let raw = item.strip_prefix("file://").unwrap_or(item);
    let real = Path::new(raw)
        .canonicalize()
        .map_err(|e| crate::ChannelError::bad_input(format!("media {raw}: cannot open: {e}")))?;
    let allowed = roots
        .iter()
        .filter_map(|r| Path::new(r).canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        return Err(crate::ChannelError::bad_input(format!(
            "media {raw}: not under an allowed media directory ({})",
            roots.join(", ")
        )));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_ids_are_stable_per_message_account_and_part() {
        let named = Outbound {
            client_id: Some("d1".into()),
            ..Outbound::default()
        };
        let a = named.wire_id("primary", 0);
        assert_eq!(a, named.wire_id("primary", 0));
        assert_ne!(a, named.wire_id("primary", 1));
        assert_ne!(a, named.wire_id("team-b", 0));
        assert_eq!(a.len(), 32);
        let unnamed = Outbound::text("hi");
        assert_ne!(unnamed.wire_id("p", 0), unnamed.wire_id("p", 0));
        assert_eq!(named.piece_key(2).as_deref(), Some("d1#2"));
        assert_eq!(unnamed.piece_key(0), None);
    }
}
