//! [`Outbound`] → the [`SendRequest`]s of one logical message: attachments first (as local
//! files, which is what the SDK's message creators take), then text in pieces of 5,000
//! characters, each with a `messageClientId` that stays the same when the host retries.

use std::path::PathBuf;

use channel_core::dm::strip_prefix_ci;
use channel_core::{ChannelError, ChatKind, Outbound, Target};
use md5::{Digest, Md5};

use crate::nim::{ConversationId, SendBody, SendRequest};

/// NIM's text limit per message.
pub const CHUNK_CHARS: usize = 5000;
/// Largest attachment sent.
const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Group ids of super teams carry this prefix (`superteam:<tid>`), so a reply goes to conversation
/// type 3 rather than 2.
pub const SUPER_TEAM_PREFIX: &str = "superteam:";

/// The conversation a target means for account `me`.
pub fn conversation(me: &str, target: &Target) -> ConversationId {
    match target.kind {
        ChatKind::Direct => ConversationId::p2p(me, &target.id),
        ChatKind::Group => match strip_prefix_ci(&target.id, SUPER_TEAM_PREFIX) {
            Some(tid) => ConversationId {
                me: me.to_owned(),
                kind: crate::nim::ConversationType::SuperTeam,
                target: tid.to_owned(),
            },
            None => ConversationId::team(me, &target.id),
        },
    }
}

/// One request, built.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub request: SendRequest,
}

/// `<accid>`, `user:<accid>` → direct; `team:<id>`, `group:<id>` → team. The channel prefix
/// may come first.
pub fn parse_target(raw: &str) -> Result<Target, ChannelError> {
    let mut rest = raw.trim();
    if let Some(stripped) = strip_prefix_ci(rest, "netease-yunxin:") {
        rest = stripped.trim_start();
    }
    let (kind, id) = if strip_prefix_ci(rest, SUPER_TEAM_PREFIX).is_some() {
        (ChatKind::Group, rest)
    } else if let Some(id) = ["team:", "group:"]
        .into_iter()
        .find_map(|p| strip_prefix_ci(rest, p))
    {
        (ChatKind::Group, id)
    } else {
        let id = ["user:", "p2p:", "direct:"]
            .into_iter()
            .find_map(|p| strip_prefix_ci(rest, p))
            .unwrap_or(rest);
        (ChatKind::Direct, id)
    };
    let id = id.trim();
    if id.is_empty() || id.contains('|') {
        return Err(ChannelError::bad_input(format!(
            "netease-yunxin: target {raw:?} is not an accid or team:<teamId>"
        )));
    }
    Ok(Target {
        kind,
        id: id.to_owned(),
    })
}

/// The `messageClientId` of part `part`: from the host's delivery id when there is one.
pub fn message_client_id(account: &str, client_id: Option<&str>, part: usize) -> String {
    match client_id {
        Some(id) => hex::encode(Md5::digest(format!("{account}\n{id}\n{part}"))),
        None => hex::encode(rand::random::<[u8; 16]>()),
    }
}

pub async fn build(
    account: &str,
    conversation: &ConversationId,
    message: &Outbound,
    http: &reqwest::Client,
) -> Result<Vec<Built>, ChannelError> {
    let mut bodies = Vec::new();
    for item in &message.media {
        bodies.push(attachment(item, &message.media_roots, http).await?);
    }
    if !message.text.trim().is_empty() {
        for piece in channel_core::text::chunks(&message.text, CHUNK_CHARS) {
            bodies.push(SendBody::Text { text: piece });
        }
    }
    if bodies.is_empty() {
        return Err(ChannelError::bad_input(
            "netease-yunxin: nothing to send (no text and no media)",
        ));
    }
    Ok(bodies
        .into_iter()
        .enumerate()
        .map(|(part, body)| Built {
            request: SendRequest {
                conversation_id: conversation.to_string(),
                message_client_id: message_client_id(account, message.client_id.as_deref(), part),
                body,
            },
        })
        .collect())
}

async fn attachment(
    item: &str,
    roots: &[String],
    http: &reqwest::Client,
) -> Result<SendBody, ChannelError> {
    let (path, name) = if item.starts_with("http://") || item.starts_with("https://") {
        let name = item
            .rsplit('/')
            .next()
            .and_then(|n| n.split(['?', '#']).next())
            .filter(|n| !n.is_empty())
            .unwrap_or("attachment")
            .to_owned();
        (download(http, item, MAX_UPLOAD_BYTES).await?, name)
    } else {
        let path = channel_core::message::local_media_path(item, roots)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        (path, name)
    };
    let path_text = path.to_string_lossy().into_owned();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" => SendBody::Image {
            path: path_text,
            name,
            width: 0,
            height: 0,
        },
        "mp4" | "mov" | "webm" => SendBody::Video {
            path: path_text,
            name,
        },
        _ => SendBody::File {
            path: path_text,
            name,
        },
    })
}

/// The HTTP client for attachments, with the TLS provider this workspace builds with.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Downloads `url` (at most `max` bytes) into a temporary file.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    max: u64,
) -> Result<PathBuf, ChannelError> {
    let fail = |why: String| ChannelError::transient(format!("downloading {url}: {why}"));
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    if response.content_length().is_some_and(|len| len > max) {
        return Err(ChannelError::permanent(format!(
            "{url}: larger than {} MiB",
            max >> 20
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > max {
            return Err(ChannelError::permanent(format!(
                "{url}: larger than {} MiB",
                max >> 20
            )));
        }
    }
    let name = url
        .rsplit('/')
        .next()
        .and_then(|n| n.split(['?', '#']).next())
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']))
        .unwrap_or("attachment");
    let temp = std::env::temp_dir().join(format!(
        "imbridge-yunxin-{}-{name}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    tokio::fs::write(&temp, &bytes)
        .await
        .map_err(|e| ChannelError::from(e).context("saving a downloaded attachment"))?;
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("team:42").unwrap();
        assert_eq!((t.kind, t.id.as_str()), (ChatKind::Group, "42"));
        let t = parse_target("netease-yunxin:user:Alice").unwrap();
        assert_eq!((t.kind, t.id.as_str()), (ChatKind::Direct, "Alice"));
        assert!(parse_target("team:").is_err());
        let t = parse_target("superteam:9").unwrap();
        assert_eq!(conversation("bot", &t).to_string(), "bot|3|9");
        assert_eq!(
            conversation("bot", &parse_target("team:9").unwrap()).to_string(),
            "bot|2|9"
        );
        assert!(parse_target("a|1|b").is_err());
    }

    #[tokio::test]
    async fn text_is_cut_and_ids_are_stable_per_delivery() {
        let conversation = ConversationId::p2p("bot", "alice");
        let message = Outbound {
            text: "x".repeat(CHUNK_CHARS + 10),
            client_id: Some("d1".into()),
            ..Outbound::default()
        };
        let http = http_client();
        let first = build("default", &conversation, &message, &http)
            .await
            .unwrap();
        let again = build("default", &conversation, &message, &http)
            .await
            .unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first, again);
        assert_ne!(
            first[0].request.message_client_id,
            first[1].request.message_client_id
        );
        assert_eq!(first[0].request.conversation_id, "bot|1|alice");
        let empty = build("default", &conversation, &Outbound::default(), &http).await;
        assert!(empty.is_err());
    }

    #[tokio::test]
    async fn local_media_must_be_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chart.png");
        std::fs::write(&file, b"png").unwrap();
        let message = Outbound {
            media: vec![file.to_string_lossy().into_owned()],
            media_roots: vec![dir.path().to_string_lossy().into_owned()],
            ..Outbound::default()
        };
        let conversation = ConversationId::p2p("bot", "alice");
        let http = http_client();
        let built = build("default", &conversation, &message, &http)
            .await
            .unwrap();
        assert!(matches!(built[0].request.body, SendBody::Image { .. }));
        let refused = Outbound {
            media_roots: vec![],
            ..message
        };
        let err = build("default", &conversation, &refused, &http)
            .await
            .unwrap_err();
        assert!(
            err.message.contains("not under an allowed media directory"),
            "{err}"
        );
    }
}
