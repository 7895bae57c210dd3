//! A stored OpenIM message → [`Inbound`], and the group gate (`requireMention`,
//! `inboundWhitelist`) that runs before the DM policy.

use channel_core::{ChannelError, Chat, ChatKind, Inbound, Media, ReplyTo, Sender};
use serde_json::json;

use crate::CHANNEL_ID;
use crate::wire::proto::MsgData;
use crate::wire::{AT_ALL_TAG, Content, content_type, session_type};

/// Why a message was not handed to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Neither the sender nor the group is in `inboundWhitelist`.
    NotWhitelisted,
}

/// The gate settings of one account.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub me: String,
    /// `inboundWhitelist`: sender or group ids; empty lets everyone through. Group policy and
    /// mention gating are the pipeline's (channel-core's group gate).
    pub whitelist: Vec<String>,
}

impl Gate {
    pub fn check(&self, msg: &MsgData) -> Result<(), Skip> {
        if !self.whitelist.is_empty() {
            let listed = |id: &str| !id.is_empty() && self.whitelist.iter().any(|w| w == id);
            if !listed(&msg.send_id) && !listed(&msg.group_id) {
                return Err(Skip::NotWhitelisted);
            }
        }
        Ok(())
    }

    /// `atUserIDList` names the bot, or everyone.
    pub fn mentions_me(&self, msg: &MsgData) -> bool {
        msg.at_user_id_list
            .iter()
            .any(|id| id == &self.me || id == AT_ALL_TAG)
    }
}

fn is_group(msg: &MsgData) -> bool {
    msg.session_type == session_type::GROUP || msg.session_type == session_type::WRITE_GROUP
}

/// The id a message is deduplicated by. Copies of one message share the `clientMsgID`
/// (spec §6.3), even when the server stored them twice under different seqs. The sender's
/// client chooses that id and the server does not check it is unique, so it counts only
/// together with the sender: a peer who reuses another's id can only shadow its own messages.
pub fn dedup_id(msg: &MsgData) -> String {
    format!("{}/{}", msg.send_id, msg.client_msg_id)
}

/// Turns one message from someone else into the pipeline's shape. Errors are permanent: the
/// content cannot be read, however often it is pulled.
pub fn normalize(
    account: &str,
    conversation_id: &str,
    msg: &MsgData,
) -> Result<Inbound, ChannelError> {
    let content = Content::decode(msg.content_type, &msg.content).map_err(|e| {
        e.context(format!(
            "message {} in {conversation_id} (seq {})",
            msg.client_msg_id, msg.seq
        ))
    })?;
    let chat = if is_group(msg) {
        Chat {
            kind: ChatKind::Group,
            id: msg.group_id.clone(),
            title: None,
            host_peer: None,
        }
    } else {
        Chat {
            kind: ChatKind::Direct,
            id: msg.send_id.clone(),
            title: None,
            host_peer: None,
        }
    };
    let mut text = content.plain_text().unwrap_or_default().to_owned();
    let mut media = Vec::new();
    let mut reply_to = None;
    match &content {
        Content::Picture(p) => {
            let best = [&p.source_picture, &p.big_picture, &p.snapshot_picture]
                .into_iter()
                .find(|r| !r.url.is_empty());
            if let Some(picture) = best {
                media.push(attachment("image", &picture.url, &picture.mime, None));
            }
        }
        Content::Sound(s) => media.push(attachment("voice", &s.source_url, &s.sound_type, None)),
        Content::Video(v) => media.push(attachment("video", &v.video_url, &v.video_type, None)),
        Content::File(f) => media.push(attachment(
            "file",
            &f.source_url,
            &f.file_type,
            Some(&f.file_name),
        )),
        Content::Quote(q) => {
            reply_to = Some(ReplyTo {
                id: q
                    .quoted_client_msg_id()
                    .or(q.quoted_server_msg_id())
                    .map(str::to_owned),
                body: q.quote_message.as_ref().and_then(quoted_text),
            });
        }
        Content::Custom(c) => {
            text = [c.description.as_str(), c.data.as_str()]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(|s| format!("[custom message] {s}"))
                .unwrap_or_else(|| "[custom message]".to_owned());
        }
        Content::Other { content_type } => {
            text = format!("[{} message]", type_name(*content_type));
        }
        Content::Text(_) | Content::Markdown(_) | Content::AtText(_) => {}
    }
    for m in &media {
        if m.locator.is_null() {
            text = [
                text.as_str(),
                &format!("[{} without a download URL]", m.kind),
            ]
            .join("\n")
            .trim()
            .to_owned();
        }
    }
    Ok(Inbound {
        channel: CHANNEL_ID.to_owned(),
        account: account.to_owned(),
        chat,
        sender: Sender {
            id: msg.send_id.clone(),
            name: Some(msg.sender_nickname.clone()).filter(|n| !n.is_empty()),
        },
        text,
        media: media.into_iter().filter(|m| !m.locator.is_null()).collect(),
        mentions: msg.at_user_id_list.clone(),
        was_mentioned: false,
        command_authorized: false,
        reply_to,
        server_id: dedup_id(msg),
        timestamp_ms: msg.send_time,
        raw: json!({
            "conversationID": conversation_id,
            "seq": msg.seq,
            "serverMsgID": msg.server_msg_id,
            "clientMsgID": msg.client_msg_id,
            "contentType": msg.content_type,
            "sessionType": msg.session_type,
        }),
    })
}

fn attachment(kind: &str, url: &str, mime: &str, file_name: Option<&str>) -> Media {
    Media {
        kind: kind.to_owned(),
        path: None,
        mime: Some(mime.to_owned()).filter(|m| !m.is_empty()),
        file_name: file_name.map(str::to_owned).filter(|n| !n.is_empty()),
        locator: if url.is_empty() {
            serde_json::Value::Null
        } else {
            json!({ "url": url })
        },
        error: None,
    }
}

/// The quoted message's text, from the SDK message object it travels as.
fn quoted_text(message: &serde_json::Value) -> Option<String> {
    [
        "/textElem/content",
        "/atTextElem/text",
        "/quoteElem/text",
        "/content",
    ]
    .into_iter()
    .filter_map(|pointer| message.pointer(pointer)?.as_str())
    .find(|s| !s.is_empty())
    .map(str::to_owned)
}

fn type_name(content_type: i32) -> &'static str {
    match content_type {
        content_type::MERGER => "merged chat history",
        content_type::CARD => "contact card",
        content_type::LOCATION => "location",
        content_type::FACE => "sticker",
        content_type::ADVANCED_TEXT => "rich text",
        content_type::TYPING => "typing",
        _ => "unsupported",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(session: i32, content_type: i32, content: serde_json::Value) -> MsgData {
        MsgData {
            send_id: "alice".into(),
            recv_id: "bot".into(),
            group_id: if session == session_type::GROUP {
                "g1".into()
            } else {
                String::new()
            },
            client_msg_id: "c1".into(),
            server_msg_id: "s1".into(),
            session_type: session,
            content_type,
            content: serde_json::to_vec(&content).unwrap(),
            seq: 4,
            send_time: 1_700_000_000_000,
            sender_nickname: "Alice".into(),
            ..MsgData::default()
        }
    }

    #[test]
    fn a_direct_text_becomes_an_inbound_keyed_by_sender_and_client_msg_id() {
        let m = msg(
            session_type::SINGLE,
            content_type::TEXT,
            json!({"content": "hi"}),
        );
        let inbound = normalize("primary", "si_alice_bot", &m).unwrap();
        assert_eq!(inbound.chat.kind, ChatKind::Direct);
        assert_eq!(inbound.chat.id, "alice");
        assert_eq!(inbound.text, "hi");
        assert_eq!(inbound.server_id, "alice/c1");
        assert_eq!(inbound.sender.name.as_deref(), Some("Alice"));
        // The id is the sender's choice: another sender reusing it does not shadow this one.
        let impostor = MsgData {
            send_id: "mallory".into(),
            ..m.clone()
        };
        assert_ne!(dedup_id(&impostor), inbound.server_id);
        assert_eq!(inbound.raw["seq"], 4);
    }

    #[test]
    fn a_group_picture_carries_its_url() {
        let m = msg(
            session_type::GROUP,
            content_type::PICTURE,
            json!({"sourcePicture": {"url": "http://h/object/a.png", "type": "image/png"}}),
        );
        let inbound = normalize("primary", "sg_g1", &m).unwrap();
        assert_eq!(inbound.chat.kind, ChatKind::Group);
        assert_eq!(inbound.chat.id, "g1");
        assert_eq!(inbound.media[0].kind, "image");
        assert_eq!(inbound.media[0].locator["url"], "http://h/object/a.png");
    }

    #[test]
    fn unreadable_content_names_the_message() {
        let mut m = msg(session_type::SINGLE, content_type::TEXT, json!({}));
        m.content = b"[1,2]".to_vec();
        let err = normalize("primary", "si_alice_bot", &m).unwrap_err();
        assert!(err.message.contains("c1"), "{err}");
        assert!(err.message.contains("content 101"), "{err}");
    }

    #[test]
    fn the_inbound_whitelist_lets_listed_senders_and_groups_through() {
        let mut m = msg(
            session_type::GROUP,
            content_type::TEXT,
            json!({"content": "x"}),
        );
        m.at_user_id_list = vec![AT_ALL_TAG.into()];
        let gate = Gate {
            me: "bot".into(),
            whitelist: vec![],
        };
        assert!(gate.mentions_me(&m));
        assert_eq!(gate.check(&m), Ok(()));
        let direct = msg(
            session_type::SINGLE,
            content_type::TEXT,
            json!({"content": "x"}),
        );
        let listed = Gate {
            whitelist: vec!["g1".into()],
            ..Gate::default()
        };
        assert_eq!(listed.check(&m), Ok(()));
        assert_eq!(listed.check(&direct), Err(Skip::NotWhitelisted));
    }
}
