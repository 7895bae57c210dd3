//! [`Outbound`] → the [`SendRequest`]s of one logical message: attachments first (as local
//! files, which is what the SDK's message creators take), then text in pieces of 5,000
//! characters, each with a `messageClientId` that stays the same when the host retries.

use channel_core::dm::strip_prefix_ci;
use channel_core::media::{MediaPolicy, TempFile, mime};
use channel_core::{ChannelError, ChatKind, Outbound, Target};

use crate::nim::{ConversationId, Mention, SendBody, SendRequest};

/// NIM's text limit per message.
pub const CHUNK_CHARS: usize = 5000;

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

/// The requests of one logical message, and the downloaded attachments they point at: those
/// files are removed when this is dropped, so it must outlive the sends.
#[derive(Debug)]
pub struct Prepared {
    pub parts: Vec<Built>,
    pub temps: Vec<TempFile>,
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

/// The requests of `message`. With a `mention`, its text starts with `@name` and its first
/// text piece carries the mention.
pub async fn build(
    account: &str,
    conversation: &ConversationId,
    message: &Outbound,
    mention: Option<Mention>,
    media: &MediaPolicy,
) -> Result<Prepared, ChannelError> {
    let mut bodies = Vec::new();
    let mut temps = Vec::new();
    for item in &message.media {
        let (body, temp) = attachment(item, &message.media_roots, media).await?;
        bodies.push((body, None));
        temps.extend(temp);
    }
    if !message.text.trim().is_empty() {
        let (text, mut mention) = match mention {
            Some(mention) => (format!("{} {}", mention.text, message.text), Some(mention)),
            None => (message.text.clone(), None),
        };
        for piece in channel_core::text::chunks(&text, CHUNK_CHARS) {
            bodies.push((SendBody::Text { text: piece }, mention.take()));
        }
    }
    if bodies.is_empty() {
        return Err(ChannelError::bad_input(
            "netease-yunxin: nothing to send (no text and no media)",
        ));
    }
    let parts = bodies
        .into_iter()
        .enumerate()
        .map(|(part, (body, mention))| Built {
            request: SendRequest {
                conversation_id: conversation.to_string(),
                message_client_id: message.wire_id(account, part),
                body,
                mention,
            },
        })
        .collect();
    Ok(Prepared { parts, temps })
}

/// Whom a reply to `to` mentions: in a team, the member who asked (unless that is the bot
/// itself), when `enabled`.
pub fn mention_for(enabled: bool, me: &str, to: &Target, message: &Outbound) -> Option<Mention> {
    let asker = message.asker.as_ref()?;
    (enabled && to.kind == ChatKind::Group && asker.id != me && !asker.id.is_empty())
        .then(|| Mention::of(&asker.id, asker.name.as_deref()))
}

/// One attachment as the SDK takes it: a local file under the caller's media roots, or an
/// http(s) URL downloaded (guarded, capped) into a temporary file that the caller keeps until
/// the send is done.
async fn attachment(
    item: &str,
    roots: &[String],
    media: &MediaPolicy,
) -> Result<(SendBody, Option<TempFile>), ChannelError> {
    let (path, name, temp) = if item.starts_with("http://") || item.starts_with("https://") {
        let download = media.fetch(item).await?;
        let ext = download
            .content_type
            .as_deref()
            .and_then(mime::extension_for)
            .or_else(|| mime::sniff(&download.bytes).and_then(mime::extension_for));
        let name = match (download.file_name(), ext) {
            (Some(name), _) if mime::from_name(&name).is_some() => name,
            (Some(name), Some(ext)) => format!("{name}.{ext}"),
            (Some(name), None) => name,
            (None, ext) => format!("attachment.{}", ext.unwrap_or("bin")),
        };
        let file_ext = std::path::Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_owned();
        let temp = media
            .save_temp("outbound", &file_ext, download.bytes)
            .await?;
        (temp.path().to_owned(), name, Some(temp))
    } else {
        let path = channel_core::message::local_media_path(item, roots)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > media.max_bytes {
            return Err(ChannelError::bad_input(format!(
                "media {}: {size} bytes, over the media size cap {}",
                path.display(),
                media.describe_cap()
            )));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        (path, name, None)
    };
    let path = path.to_string_lossy().into_owned();
    // The kinds NIM's image and video messages take; anything else is sent as a file.
    let body = match mime::from_name(&name).unwrap_or(mime::OCTET_STREAM) {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp" => SendBody::Image {
            path,
            name,
            width: 0,
            height: 0,
        },
        "video/mp4" | "video/quicktime" | "video/webm" => SendBody::Video { path, name },
        _ => SendBody::File { path, name },
    };
    Ok((body, temp))
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

    fn media() -> MediaPolicy {
        MediaPolicy::layered(
            "channels.netease-yunxin",
            &Default::default(),
            None,
            std::env::temp_dir().join("imbridge-yunxin-outbound-test"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn text_is_cut_and_ids_are_stable_per_delivery() {
        let conversation = ConversationId::p2p("bot", "alice");
        let message = Outbound {
            text: "x".repeat(CHUNK_CHARS + 10),
            client_id: Some("d1".into()),
            ..Outbound::default()
        };
        let media = media();
        let first = build("default", &conversation, &message, None, &media)
            .await
            .unwrap()
            .parts;
        let again = build("default", &conversation, &message, None, &media)
            .await
            .unwrap()
            .parts;
        assert_eq!(first.len(), 2);
        assert_eq!(first, again);
        assert_ne!(
            first[0].request.message_client_id,
            first[1].request.message_client_id
        );
        assert_eq!(first[0].request.conversation_id, "bot|1|alice");
        let empty = build("default", &conversation, &Outbound::default(), None, &media).await;
        assert!(empty.is_err());
    }

    /// A team reply names its asker first, once, on the first text piece, after any media;
    /// a direct reply, the bot's own message and a disabled setting mention nobody.
    #[tokio::test]
    async fn a_team_reply_mentions_the_asker_once() {
        let team = parse_target("team:42").unwrap();
        let message = Outbound {
            text: "y".repeat(CHUNK_CHARS),
            asker: Some(channel_core::Sender {
                id: "alice".into(),
                name: Some("Alice".into()),
            }),
            ..Outbound::default()
        };
        let mention = mention_for(true, "bot", &team, &message);
        assert_eq!(mention, Some(Mention::of("alice", Some("Alice"))));
        let parts = build(
            "default",
            &conversation("bot", &team),
            &message,
            mention,
            &media(),
        )
        .await
        .unwrap()
        .parts;
        assert_eq!(parts.len(), 2, "the @name made the text one piece longer");
        let SendBody::Text { text } = &parts[0].request.body else {
            panic!("{parts:?}")
        };
        assert!(text.starts_with("@Alice yyy"), "{text:.20}");
        assert_eq!(
            parts[0].request.mention.as_ref().unwrap().account_id,
            "alice"
        );
        assert_eq!(parts[1].request.mention, None);
        let direct = parse_target("alice").unwrap();
        assert_eq!(mention_for(true, "bot", &direct, &message), None);
        assert_eq!(mention_for(false, "bot", &team, &message), None);
        assert_eq!(mention_for(true, "alice", &team, &message), None);
        let nobody = Outbound::text("hi");
        assert_eq!(mention_for(true, "bot", &team, &nobody), None);
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
        let media = media();
        let built = build("default", &conversation, &message, None, &media)
            .await
            .unwrap()
            .parts;
        assert!(matches!(built[0].request.body, SendBody::Image { .. }));
        let refused = Outbound {
            media_roots: vec![],
            ..message
        };
        let err = build("default", &conversation, &refused, None, &media)
            .await
            .unwrap_err();
        assert!(
            err.message.contains("not under an allowed media directory"),
            "{err}"
        );
    }
}
