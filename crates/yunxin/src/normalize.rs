//! A received [`Message`] → [`Inbound`]: P2P messages are direct chats, team messages group
//! chats; images, audio, video and files become attachments fetched by URL.

use channel_core::{Chat, ChatKind, Inbound, Media, Sender};

use crate::CHANNEL_ID;
use crate::nim::{ConversationId, ConversationType, Message, MessageType};

/// Why a message is not for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Our own message (another client of the bot, or an echo).
    OwnMessage,
    /// Notifications, tips, calls: nothing a person wrote.
    NotContent(MessageType),
    /// A conversation id that does not parse.
    BadConversation(String),
    /// Neither text nor an attachment.
    Empty,
}

pub fn normalize(account: &str, me: &str, msg: &Message) -> Result<Inbound, Skip> {
    if msg.is_self || msg.sender_id == me {
        return Err(Skip::OwnMessage);
    }
    let conversation = ConversationId::parse(&msg.conversation_id)
        .map_err(|e| Skip::BadConversation(e.message))?;
    let chat = match conversation.kind {
        ConversationType::Team => Chat {
            kind: ChatKind::Group,
            id: conversation.target.clone(),
            title: None,
            host_peer: None,
        },
        // Super teams have their own id space; the prefix lets a reply find its way back.
        ConversationType::SuperTeam => Chat {
            kind: ChatKind::Group,
            id: format!(
                "{}{}",
                crate::outbound::SUPER_TEAM_PREFIX,
                conversation.target
            ),
            title: None,
            host_peer: None,
        },
        _ => Chat {
            kind: ChatKind::Direct,
            id: msg.sender_id.clone(),
            title: None,
            host_peer: None,
        },
    };
    let text = msg.text.clone().unwrap_or_default();
    let mut media = Vec::new();
    let text = match msg.message_type {
        MessageType::Text | MessageType::Custom | MessageType::Robot => text,
        MessageType::Image | MessageType::Audio | MessageType::Video | MessageType::File => {
            let attachment = msg.attachment.clone().unwrap_or_default();
            let kind = match msg.message_type {
                MessageType::Image => "image",
                MessageType::Audio => "audio",
                MessageType::Video => "video",
                _ => "file",
            };
            if let Some(url) = attachment.url.clone().filter(|u| !u.is_empty()) {
                media.push(Media {
                    kind: kind.into(),
                    mime: mime_of(attachment.ext.as_deref(), attachment.name.as_deref(), kind),
                    file_name: attachment.name.clone(),
                    locator: serde_json::json!({ "url": url, "size": attachment.size }),
                    path: None,
                    error: None,
                });
            }
            text
        }
        MessageType::Location => {
            let a = msg.attachment.clone().unwrap_or_default();
            format!(
                "[location] {} ({}, {})",
                a.address.unwrap_or_default(),
                a.latitude.unwrap_or_default(),
                a.longitude.unwrap_or_default()
            )
        }
        other => return Err(Skip::NotContent(other)),
    };
    if text.trim().is_empty() && media.is_empty() {
        return Err(Skip::Empty);
    }
    let was_mentioned =
        chat.kind == ChatKind::Group && msg.force_push_account_ids.iter().any(|id| id == me);
    Ok(Inbound {
        channel: CHANNEL_ID.into(),
        account: account.into(),
        chat,
        sender: Sender {
            id: msg.sender_id.clone(),
            name: msg.sender_name.clone().filter(|n| !n.is_empty()),
        },
        text,
        media,
        mentions: msg.force_push_account_ids.clone(),
        was_mentioned,
        command_authorized: false,
        reply_to: None,
        server_id: msg.dedup_id(),
        timestamp_ms: msg.create_time,
        raw: serde_json::to_value(msg).unwrap_or_default(),
    })
}

fn mime_of(ext: Option<&str>, name: Option<&str>, kind: &str) -> Option<String> {
    let ext = ext
        .map(str::to_owned)
        .or_else(|| {
            name.and_then(|n| n.rsplit_once('.'))
                .map(|(_, e)| e.to_owned())
        })?
        .to_ascii_lowercase();
    let mime = match ext.trim_start_matches('.') {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ if kind == "image" => "image/jpeg",
        _ => return None,
    };
    Some(mime.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nim::Attachment;

    fn text(from: &str, conversation: &str, body: &str) -> Message {
        Message {
            message_client_id: "c1".into(),
            message_server_id: "s1".into(),
            sender_id: from.into(),
            conversation_id: conversation.into(),
            text: Some(body.into()),
            ..Message::default()
        }
    }

    #[test]
    fn p2p_text_is_a_direct_chat_with_the_sender() {
        let inbound = normalize("default", "bot", &text("alice", "bot|1|alice", "hi")).unwrap();
        assert_eq!(
            (inbound.chat.kind, inbound.chat.id.as_str()),
            (ChatKind::Direct, "alice")
        );
        assert_eq!(inbound.server_id, "s1");
        assert_eq!(inbound.text, "hi");
    }

    #[test]
    fn team_messages_are_groups_and_mentions_come_from_force_push() {
        let mut msg = text("alice", "bot|2|team9", "@bot hi");
        msg.force_push_account_ids = vec!["bot".into()];
        let inbound = normalize("default", "bot", &msg).unwrap();
        assert_eq!(
            (inbound.chat.kind, inbound.chat.id.as_str()),
            (ChatKind::Group, "team9")
        );
        assert!(inbound.was_mentioned);
    }

    #[test]
    fn images_become_attachments_and_own_messages_are_skipped() {
        let mut msg = text("alice", "bot|1|alice", "");
        msg.message_type = MessageType::Image;
        msg.attachment = Some(Attachment {
            url: Some("http://127.0.0.1:1/x".into()),
            ext: Some("png".into()),
            size: Some(10),
            ..Attachment::default()
        });
        let inbound = normalize("default", "bot", &msg).unwrap();
        assert_eq!(inbound.media[0].kind, "image");
        assert_eq!(inbound.media[0].mime.as_deref(), Some("image/png"));
        msg.is_self = true;
        assert_eq!(normalize("default", "bot", &msg), Err(Skip::OwnMessage));
        let mut tip = text("alice", "bot|1|alice", "x");
        tip.message_type = MessageType::Tip;
        assert_eq!(
            normalize("default", "bot", &tip),
            Err(Skip::NotContent(MessageType::Tip))
        );
        assert!(matches!(
            normalize("default", "bot", &text("alice", "garbage", "x")),
            Err(Skip::BadConversation(_))
        ));
    }
}
