//! JSON of inbound media items, shaped like spec Appendix B and §4.3 (pure; no state).

use serde_json::{Value, json};

use super::types::MediaKind;

/// Everything needed to render one media item.
#[derive(Debug)]
pub(crate) struct MediaItem<'a> {
    pub kind: &'a MediaKind,
    pub msg_id: u64,
    pub now_ms: u64,
    pub encrypt_query_param: &'a str,
    /// `media.aes_key`, already encoded.
    pub aes_key: Option<&'a str>,
    /// `image_item.aeskey` (32 hex).
    pub image_aeskey: Option<&'a str>,
    pub full_url: Option<&'a str>,
    /// Size of what the CDN serves (ciphertext, or plaintext for keyless images).
    pub stored_len: usize,
    pub plaintext_len: usize,
    pub md5: &'a str,
}

/// `CDNMedia`: `encrypt_type` 1 as the real server and the official client use.
fn cdn_media(m: &MediaItem<'_>) -> Value {
    let mut media = json!({ "encrypt_query_param": m.encrypt_query_param, "encrypt_type": 1 });
    if let Some(key) = m.aes_key {
        media["aes_key"] = json!(key);
    }
    if let Some(url) = m.full_url {
        media["full_url"] = json!(url);
    }
    media
}

fn common(item_type: u8, msg_id: u64, now_ms: u64) -> Value {
    json!({
        "type": item_type,
        "msg_id": msg_id,
        "create_time_ms": now_ms,
        "update_time_ms": now_ms,
        "is_completed": true,
    })
}

pub(crate) fn text_item(msg_id: u64, now_ms: u64, text: &str) -> Value {
    let mut item = common(1, msg_id, now_ms);
    item["text_item"] = json!({ "text": text });
    item
}

pub(crate) fn media_item(m: &MediaItem<'_>) -> Value {
    let media = cdn_media(m);
    let (item_type, key, payload) = match m.kind {
        MediaKind::Image => {
            let mut image = json!({ "media": media, "mid_size": m.stored_len });
            if let Some(hex) = m.image_aeskey {
                image["aeskey"] = json!(hex);
            }
            (2, "image_item", image)
        }
        MediaKind::Voice {
            encode_type,
            playtime,
            text,
        } => {
            let mut voice = json!({
                "media": media,
                "encode_type": encode_type,
                "bits_per_sample": 16,
                "sample_rate": 24000,
                "playtime": playtime,
            });
            if let Some(text) = text {
                voice["text"] = json!(text);
            }
            (3, "voice_item", voice)
        }
        MediaKind::File { file_name } => {
            let file = json!({
                "media": media,
                "file_name": file_name,
                "md5": m.md5,
                "len": m.plaintext_len.to_string(),
            });
            (4, "file_item", file)
        }
        MediaKind::Video => {
            let video = json!({
                "media": media,
                "video_size": m.stored_len,
                "video_md5": m.md5,
                // Seen in a real dump; no client knows it.
                "button_item_list": [],
            });
            (5, "video_item", video)
        }
    };
    let mut item = common(item_type, m.msg_id, m.now_ms);
    item[key] = payload;
    item
}
