//! WeixinMessage → [`Inbound`].

use channel_core::{ChannelError, Chat, ChatKind, Inbound, ReplyTo, Sender};

use crate::CHANNEL_ID;
use crate::media::inbound::media_of;
use crate::wire::WeixinMessage;

/// Placeholder bodies the official plugin uses for media without text.
fn media_label(kind: &str) -> Option<&'static str> {
    match kind {
        "image" => Some("[图片]"),
        "voice" => Some("[语音]"),
        "file" => Some("[文件]"),
        "video" => Some("[视频]"),
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
        if let Some(text) = it.text_item.as_ref().and_then(|t| t.text.as_deref()) {
            text_parts.push(text.to_owned());
        } else {
            // A voice note's transcript is its text; the audio is still attached.
            let transcript = it
                .voice_item
                .as_ref()
                .and_then(|v| v.text.as_deref())
                .filter(|t| !t.trim().is_empty());
            if let Some(transcript) = transcript {
                text_parts.push(transcript.to_owned());
            }
            if let Some(attachment) = media_of(it) {
                if text_parts.is_empty()
                    && let Some(label) = media_label(&attachment.kind)
                {
                    text_parts.push(label.to_owned());
                }
                media.push(attachment);
            }
        }
        if reply_to.is_none()
            && let Some(quote) = &it.ref_msg
        {
            // The quoted text itself when the sender included it, else its summary line.
            let quoted = quote.message_item.as_ref();
            let text = quoted
                .and_then(|q| q.text_item.as_ref())
                .and_then(|t| t.text.clone());
            reply_to = Some(ReplyTo {
                id: quote
                    .svr_id
                    .clone()
                    .or_else(|| quoted.and_then(|q| q.msg_id.clone())),
                body: text
                    .or_else(|| quote.title.clone())
                    .filter(|t| !t.is_empty()),
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
            host_peer: None,
        },
        sender: Sender {
            id: from.to_owned(),
            name: None,
        },
        text: text_parts.join("\n"),
        media,
        mentions: Vec::new(),
        was_mentioned: false,
        command_authorized: false,
        reply_to,
        server_id,
        timestamp_ms: msg.create_time_ms.unwrap_or(0),
        raw: redact(raw),
    })
}

/// The context token is a per-conversation credential, and media keys decrypt the user's files:
/// both are kept out of the debugging copy (the keys travel in `Media.locator` instead).
fn redact(mut raw: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = raw.as_object_mut()
        && obj.contains_key("context_token")
    {
        obj.insert("context_token".into(), "<redacted>".into());
    }
    if let Some(items) = raw.get_mut("item_list") {
        redact_keys(items, 0);
    }
    raw
}

fn redact_keys(value: &mut serde_json::Value, depth: usize) {
    // Items nest a few levels (item → payload → media, quotes); deeper is not worth walking.
    if depth > 8 {
        return;
    }
    match value {
        serde_json::Value::Object(obj) => {
            for (name, inner) in obj.iter_mut() {
                if matches!(name.as_str(), "aeskey" | "aes_key") && inner.is_string() {
                    *inner = "<redacted>".into();
                } else {
                    redact_keys(inner, depth + 1);
                }
            }
        }
        serde_json::Value::Array(list) => {
            for inner in list {
                redact_keys(inner, depth + 1);
            }
        }
        _ => {}
    }
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
    fn quotes_carry_the_quoted_text_when_it_came_along() {
        let (msg, raw) = parse(serde_json::json!({"message_id": 1, "from_user_id": "u",
            "item_list": [{"type": 1, "text_item": {"text": "我同意"},
              "ref_msg": {"title": "summary", "message_item": {"type": 1, "msg_id": 77, "text_item": {"text": "the original"}}}}]}));
        let inbound = normalize("a", &msg, raw).expect("normalize");
        assert_eq!(
            inbound.reply_to,
            Some(ReplyTo {
                id: Some("77".into()),
                body: Some("the original".into())
            })
        );
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
    fn media_carry_locators_and_keys_stay_out_of_raw() {
        let (msg, raw) = parse(serde_json::json!({"message_id": 2, "from_user_id": "u",
        "item_list": [
            {"type": 1, "text_item": {"text": "caption"}},
            {"type": 2, "image_item": {"aeskey": "84ff44e81724166d95903573ab980b86",
                "media": {"encrypt_query_param": "p", "aes_key": "QUJD"}}},
            {"type": 3, "voice_item": {"text": "spoken words", "encode_type": 6,
                "media": {"encrypt_query_param": "v", "aes_key": "QUJD"}}},
            {"type": 4, "file_item": {"file_name": "a.pdf", "media": {"full_url": "http://cdn/f", "aes_key": "QUJD"}}}
        ]}));
        let inbound = normalize("a", &msg, raw).expect("normalize");
        assert_eq!(inbound.text, "caption\nspoken words");
        let kinds: Vec<&str> = inbound.media.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["image", "voice", "file"]);
        assert!(inbound.media.iter().all(|m| !m.locator.is_null()));
        assert_eq!(
            inbound.media[0].locator["imageAeskey"],
            "84ff44e81724166d95903573ab980b86"
        );
        assert_eq!(inbound.media[2].locator["fullUrl"], "http://cdn/f");
        let raw = inbound.raw.to_string();
        assert!(!raw.contains("84ff44e8") && !raw.contains("QUJD"), "{raw}");
        // Voice without transcript gets the placeholder body.
        let (msg, raw) = parse(serde_json::json!({"message_id": 3, "from_user_id": "u",
            "item_list": [{"type": 3, "voice_item": {"media": {"encrypt_query_param": "v", "aes_key": "QUJD"}}}]}));
        let inbound = normalize("a", &msg, raw).expect("normalize");
        assert_eq!(inbound.text, "[语音]");
        assert_eq!(inbound.media[0].mime.as_deref(), Some("audio/silk"));
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
