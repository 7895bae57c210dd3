//! WeixinMessage → [`Inbound`].

use channel_core::{ChannelError, Chat, ChatKind, Inbound, Media, ReplyTo, Sender};

use crate::CHANNEL_ID;
use crate::wire::{WeixinMessage, item};

/// Placeholder bodies the official plugin uses for media without text.
fn media_label(kind: i64) -> Option<(&'static str, &'static str)> {
    match kind {
        item::IMAGE => Some(("image", "[图片]")),
        item::VOICE => Some(("voice", "[语音]")),
        item::FILE => Some(("file", "[文件]")),
        item::VIDEO => Some(("video", "[视频]")),
        _ => None,
    }
}

/// The dedup key: the server id, else the sender's client id, else the first item id, else the
/// sequence number (spec §3.3).
pub fn server_id(msg: &WeixinMessage) -> Option<String> {
    msg.message_id
        .clone()
        .or_else(|| msg.client_id.clone().filter(|c| !c.is_empty()))
        .or_else(|| msg.item_list.iter().find_map(|i| i.msg_id.clone()))
        .or_else(|| msg.seq.map(|s| format!("seq:{s}")))
}

/// Builds the normalized message. Errors name the missing field.
pub fn normalize(
    account: &str,
    msg: &WeixinMessage,
    raw: serde_json::Value,
) -> Result<Inbound, ChannelError> {
    let from = msg
        .from_user_id
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| ChannelError::bad_input("getupdates: message without `from_user_id`"))?;
    let server_id = server_id(msg).ok_or_else(|| {
        ChannelError::bad_input(
            "getupdates: message without `message_id`, `client_id`, item `msg_id` or `seq`",
        )
    })?;
    let mut text_parts = Vec::new();
    let mut media = Vec::new();
    let mut reply_to = None;
    for it in &msg.item_list {
        let kind = it.kind.unwrap_or(0);
        if let Some(text) = it.text_item.as_ref().and_then(|t| t.text.as_deref()) {
            text_parts.push(text.to_owned());
        } else if let Some(transcript) = it
            .voice_item
            .as_ref()
            .and_then(|v| v.text.as_deref())
            .filter(|t| !t.is_empty())
        {
            text_parts.push(transcript.to_owned());
        } else if let Some((name, label)) = media_label(kind) {
            media.push(Media {
                kind: name.into(),
                path: None,
                mime: None,
                file_name: it.file_item.as_ref().and_then(|f| f.file_name.clone()),
                locator: serde_json::Value::Null,
                error: None,
            });
            if text_parts.is_empty() {
                text_parts.push(label.to_owned());
            }
        }
        if reply_to.is_none()
            && let Some(quote) = &it.ref_msg
        {
            reply_to = Some(ReplyTo {
                id: quote.svr_id.clone(),
                body: quote.title.clone().filter(|t| !t.is_empty()),
            });
        }
    }
    Ok(Inbound {
        channel: CHANNEL_ID.into(),
        account: account.into(),
        chat: Chat {
            kind: ChatKind::Direct,
            id: from.to_owned(),
            title: None,
        },
        sender: Sender {
            id: from.to_owned(),
            name: None,
        },
        text: text_parts.join("\n"),
        media,
        mentions: Vec::new(),
        reply_to,
        server_id,
        timestamp_ms: msg.create_time_ms.unwrap_or(0),
        raw: redact(raw),
    })
}

/// The context token is a per-conversation credential: kept out of the debugging copy.
fn redact(mut raw: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = raw.as_object_mut()
        && obj.contains_key("context_token")
    {
        obj.insert("context_token".into(), "<redacted>".into());
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> (WeixinMessage, serde_json::Value) {
        (serde_json::from_value(v.clone()).expect("decode"), v)
    }

    #[test]
    fn text_message_normalizes() {
        let (msg, raw) = parse(serde_json::json!({
            "seq": 3, "message_id": 9007199254740993u64, "from_user_id": "o9AbC@im.wechat",
            "create_time_ms": 1763800000000i64, "context_token": "secret-ctx",
            "item_list": [{"type": 1, "text_item": {"text": "你好"}, "ref_msg": {"svr_id": 5, "title": "earlier"}}]
        }));
        let inbound = normalize("acct", &msg, raw).expect("normalize");
        assert_eq!(inbound.server_id, "9007199254740993");
        assert_eq!(inbound.sender.id, "o9AbC@im.wechat");
        assert_eq!(inbound.text, "你好");
        assert_eq!(
            inbound.reply_to,
            Some(ReplyTo {
                id: Some("5".into()),
                body: Some("earlier".into())
            })
        );
        assert_eq!(inbound.raw["context_token"], "<redacted>");
    }

    #[test]
    fn media_and_voice_get_bodies() {
        let (msg, raw) = parse(serde_json::json!({"message_id": 1, "from_user_id": "u",
            "item_list": [{"type": 2, "image_item": {}}, {"type": 3, "voice_item": {"text": "transcribed"}}]}));
        let inbound = normalize("a", &msg, raw).expect("normalize");
        assert_eq!(inbound.text, "[图片]\ntranscribed");
        assert_eq!(inbound.media.len(), 1);
    }

    #[test]
    fn missing_sender_or_id_is_named() {
        let (msg, raw) = parse(serde_json::json!({"message_id": 1, "item_list": []}));
        assert!(
            normalize("a", &msg, raw)
                .expect_err("no sender")
                .message
                .contains("from_user_id")
        );
        let (msg, raw) = parse(serde_json::json!({"from_user_id": "u"}));
        assert!(
            normalize("a", &msg, raw)
                .expect_err("no id")
                .message
                .contains("message_id")
        );
        let (msg, _) = parse(serde_json::json!({"from_user_id": "u", "seq": 7}));
        assert_eq!(server_id(&msg).as_deref(), Some("seq:7"));
    }
}
