//! iLink JSON bodies (spec §3, §4). Decoding is lenient about unknown fields and strict about
//! the ones we rely on; ids that are uint64 on the wire are read as numbers or strings.

use serde::{Deserialize, Deserializer, Serialize};

/// Sent in every authenticated bot POST.
#[derive(Debug, Clone, Serialize)]
pub struct BaseInfo {
    pub channel_version: String,
    pub bot_agent: String,
}

/// `ret` / `errcode` / `errmsg`, present (or not) on every answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiStatus {
    #[serde(default)]
    pub ret: Option<i64>,
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub errmsg: Option<String>,
}

impl ApiStatus {
    /// The first non-zero code, whichever field carries it.
    pub fn code(&self) -> Option<i64> {
        [self.ret, self.errcode]
            .into_iter()
            .flatten()
            .find(|c| *c != 0)
    }
}

/// iLink's "session timeout": the bot token is stale or the bot was bound elsewhere.
pub const SESSION_EXPIRED: i64 = -14;
/// `sendmessage` refused because the peer's context window is closed (or the text too long).
pub const WINDOW_CLOSED: i64 = -2;

#[derive(Debug, Clone, Serialize)]
pub struct GetUpdatesRequest<'a> {
    pub get_updates_buf: &'a str,
    pub base_info: &'a BaseInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetUpdatesResponse {
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Kept raw so one malformed message cannot sink the whole batch.
    #[serde(default, deserialize_with = "null_as_default")]
    pub msgs: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub get_updates_buf: String,
    #[serde(default)]
    pub longpolling_timeout_ms: Option<u64>,
}

/// One message as the server sends it. Only the fields we use are named.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WeixinMessage {
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub create_time_ms: Option<i64>,
    #[serde(default)]
    pub message_type: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub item_list: Vec<MessageItem>,
    #[serde(default)]
    pub context_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageItem {
    #[serde(default, rename = "type")]
    pub kind: Option<i64>,
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub msg_id: Option<String>,
    #[serde(default)]
    pub text_item: Option<TextItem>,
    #[serde(default, deserialize_with = "lenient")]
    pub image_item: Option<ImageItem>,
    #[serde(default)]
    pub voice_item: Option<VoiceItem>,
    #[serde(default)]
    pub file_item: Option<FileItem>,
    #[serde(default, deserialize_with = "lenient")]
    pub video_item: Option<VideoItem>,
    #[serde(default)]
    pub ref_msg: Option<RefMessage>,
}

/// `CDNMedia` (spec §4.3): where a file lies on the CDN and how it is keyed. Every field is
/// optional and read leniently: a surprising value makes the file unfetchable, not the message
/// undecodable.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CdnMedia {
    #[serde(default, deserialize_with = "lenient")]
    pub encrypt_query_param: Option<String>,
    /// Base64 of the 16 raw key bytes, or of their 32-char hex spelling (spec §10.2).
    #[serde(default, deserialize_with = "lenient")]
    pub aes_key: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub encrypt_type: Option<i64>,
    /// A complete download URL, when the server gives one.
    #[serde(default, deserialize_with = "lenient")]
    pub full_url: Option<String>,
}

impl CdnMedia {
    /// Whether there is anything to download from (spec §7.2).
    pub fn downloadable(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&self.encrypt_query_param) || set(&self.full_url)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageItem {
    #[serde(default, deserialize_with = "lenient")]
    pub media: Option<CdnMedia>,
    /// The raw key as 32 hex digits; preferred over `media.aes_key` (spec §10.2).
    #[serde(default, deserialize_with = "lenient")]
    pub aeskey: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VideoItem {
    #[serde(default, deserialize_with = "lenient")]
    pub media: Option<CdnMedia>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextItem {
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VoiceItem {
    /// WeChat's own transcript, when it made one.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub media: Option<CdnMedia>,
    /// 6 = SILK, 5 = AMR, 7 = MP3, 8 = Ogg Speex, … (spec §4.1).
    #[serde(default, deserialize_with = "lenient")]
    pub encode_type: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileItem {
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub media: Option<CdnMedia>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RefMessage {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub svr_id: Option<String>,
    /// The quoted item itself; newer clients leave it out and send only `svr_id`.
    #[serde(default, deserialize_with = "lenient")]
    pub message_item: Option<Box<MessageItem>>,
}

/// Item types (spec §4.1).
pub mod item {
    pub const TEXT: i64 = 1;
    pub const IMAGE: i64 = 2;
    pub const VOICE: i64 = 3;
    pub const FILE: i64 = 4;
    pub const VIDEO: i64 = 5;
}

#[derive(Debug, Clone, Serialize)]
pub struct SendMessageRequest<'a> {
    pub msg: OutboundMessage<'a>,
    pub base_info: &'a BaseInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboundMessage<'a> {
    pub from_user_id: &'a str,
    pub to_user_id: &'a str,
    pub client_id: &'a str,
    /// 2 = BOT.
    pub message_type: i64,
    /// 2 = FINISH: we never stream partial messages.
    pub message_state: i64,
    pub item_list: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_token: Option<&'a str>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SendMessageResponse {
    #[serde(flatten)]
    pub status: ApiStatus,
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub message_id: Option<String>,
}

/// `getuploadurl` (spec §3.5). Thumbnails are never requested.
#[derive(Debug, Clone, Serialize)]
pub struct GetUploadUrlRequest<'a> {
    /// 16 random bytes as 32 lowercase hex digits.
    pub filekey: &'a str,
    /// 1 image, 2 video, 3 file.
    pub media_type: u8,
    pub to_user_id: &'a str,
    /// Plaintext size.
    pub rawsize: u64,
    /// MD5 of the plaintext, lowercase hex.
    pub rawfilemd5: &'a str,
    /// Ciphertext size: `ceil((rawsize+1)/16)*16`.
    pub filesize: u64,
    pub no_need_thumb: bool,
    /// The AES key as 32 lowercase hex digits.
    pub aeskey: &'a str,
    pub base_info: &'a BaseInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetUploadUrlResponse {
    #[serde(flatten)]
    pub status: ApiStatus,
    #[serde(default, deserialize_with = "lenient")]
    pub upload_param: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub upload_full_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GetConfigRequest<'a> {
    pub ilink_user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_token: Option<&'a str>,
    pub base_info: &'a BaseInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetConfigResponse {
    #[serde(flatten)]
    pub status: ApiStatus,
    #[serde(default)]
    pub typing_ticket: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SendTypingRequest<'a> {
    pub ilink_user_id: &'a str,
    pub typing_ticket: &'a str,
    /// 1 = typing, 2 = cancel.
    pub status: u8,
    pub base_info: &'a BaseInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct QrCodeRequest<'a> {
    /// Bot tokens stored locally, newest first, so the server can tell we are already bound.
    pub local_token_list: &'a [String],
}

#[derive(Debug, Clone, Deserialize)]
pub struct QrCodeResponse {
    #[serde(flatten)]
    pub status: ApiStatus,
    #[serde(default)]
    pub qrcode: Option<String>,
    /// The URL the QR code must encode (not an image).
    #[serde(default)]
    pub qrcode_img_content: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct QrStatusResponse {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub bot_token: Option<String>,
    #[serde(default)]
    pub ilink_bot_id: Option<String>,
    #[serde(default)]
    pub baseurl: Option<String>,
    #[serde(default)]
    pub ilink_user_id: Option<String>,
    #[serde(default)]
    pub redirect_host: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotifyRequest<'a> {
    pub base_info: &'a BaseInfo,
}

fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Reads a value if it has the expected shape, else `None`, never failing the enclosing object.
fn lenient<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// uint64 ids exceed JavaScript's safe integers, so some senders quote them.
fn opt_u64_or_string<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Num(u64),
        Neg(i64),
        Str(String),
    }
    Ok(match Option::<Id>::deserialize(de)? {
        Some(Id::Num(n)) => Some(n.to_string()),
        Some(Id::Neg(n)) => Some(n.to_string()),
        Some(Id::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_spec_example_losslessly() {
        let body = r#"{"ret":0,"get_updates_buf":"CgQIARAB","longpolling_timeout_ms":35000,"msgs":[{
          "seq":42,"message_id":18446744073709551615,"from_user_id":"o9cq80AbCdEf@im.wechat",
          "to_user_id":"b0f5860fdecb@im.bot","create_time_ms":1763800000000,"session_id":"s",
          "message_type":1,"message_state":2,"context_token":"AARzJW","surprise":{"x":1},
          "item_list":[{"type":1,"msg_id":"7234567890123456790","text_item":{"text":"看看"},
            "button_item_list":[],"ref_msg":{"svr_id":7234567890123400000,"title":"t"}}]}]}"#;
        let resp: GetUpdatesResponse = serde_json::from_str(body).expect("decode");
        assert_eq!(resp.status.code(), None);
        let msg: WeixinMessage = serde_json::from_value(resp.msgs[0].clone()).expect("message");
        assert_eq!(msg.message_id.as_deref(), Some("18446744073709551615"));
        assert_eq!(
            msg.item_list[0].msg_id.as_deref(),
            Some("7234567890123456790")
        );
        assert_eq!(
            msg.item_list[0]
                .ref_msg
                .as_ref()
                .and_then(|r| r.svr_id.clone())
                .as_deref(),
            Some("7234567890123400000")
        );
        assert_eq!(resp.get_updates_buf, "CgQIARAB");
    }

    #[test]
    fn error_code_may_come_in_either_field() {
        for body in [
            r#"{"errcode":-14,"errmsg":"session timeout"}"#,
            r#"{"ret":-14}"#,
            r#"{"ret":0,"errcode":-14}"#,
        ] {
            let status: ApiStatus = serde_json::from_str(body).expect("decode");
            assert_eq!(status.code(), Some(SESSION_EXPIRED), "{body}");
        }
        let ok: ApiStatus = serde_json::from_str("{}").expect("decode");
        assert_eq!(ok.code(), None);
    }

    #[test]
    fn media_fields_decode_and_odd_values_do_not_sink_the_message() {
        let msg: WeixinMessage = serde_json::from_value(serde_json::json!({
            "from_user_id": "u", "item_list": [
                {"type": 2, "image_item": {"aeskey": "84ff44e81724166d95903573ab980b86", "mid_size": 1088,
                    "media": {"encrypt_query_param": "p", "aes_key": "k", "encrypt_type": 1, "full_url": "http://c/d"}}},
                {"type": 5, "video_item": "not an object"},
                {"type": 4, "file_item": {"file_name": "a.pdf", "len": "12", "media": {"aes_key": 42, "encrypt_query_param": "q"}}},
                {"type": 3, "voice_item": {"encode_type": "six", "media": null}}
            ]}))
        .expect("decode");
        let image = msg.item_list[0].image_item.as_ref().expect("image");
        let media = image.media.as_ref().expect("media");
        assert_eq!(media.full_url.as_deref(), Some("http://c/d"));
        assert_eq!(media.encrypt_type, Some(1));
        assert!(media.downloadable());
        assert!(msg.item_list[1].video_item.is_none());
        let file = msg.item_list[2].file_item.as_ref().expect("file");
        let media = file.media.as_ref().expect("media");
        assert_eq!(
            (media.aes_key.as_deref(), media.downloadable()),
            (None, true)
        );
        let voice = msg.item_list[3].voice_item.as_ref().expect("voice");
        assert_eq!(voice.encode_type, None);
        assert!(voice.media.is_none());
        assert!(!CdnMedia::default().downloadable());
    }

    #[test]
    fn nulls_are_empty() {
        let resp: GetUpdatesResponse =
            serde_json::from_str(r#"{"msgs":null,"get_updates_buf":null}"#).expect("decode");
        assert!(resp.msgs.is_empty());
        assert!(resp.get_updates_buf.is_empty());
    }
}
