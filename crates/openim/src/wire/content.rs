//! `MsgData.content`: the UTF-8 JSON "elem" of each content type (spec §2.4).
//!
//! Text fields are strict (a wrong type names the field); numeric metadata such as sizes and
//! dimensions is read leniently (integers, floats, numeric strings, `null`), because clients
//! disagree about it and it must never make a message unreadable.

use channel_core::ChannelError;
use serde::{Deserialize, Deserializer, Serialize};

/// 101 Text; also 118 Markdown, which has the same shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextElem {
    #[serde(default, deserialize_with = "string")]
    pub content: String,
}

/// The three renditions of a picture share this shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PictureBaseInfo {
    #[serde(default, deserialize_with = "string")]
    pub uuid: String,
    /// MIME type, e.g. `image/png`.
    #[serde(rename = "type", default, deserialize_with = "string")]
    pub mime: String,
    #[serde(default, deserialize_with = "number")]
    pub size: i64,
    #[serde(default, deserialize_with = "number")]
    pub width: i64,
    #[serde(default, deserialize_with = "number")]
    pub height: i64,
    #[serde(default, deserialize_with = "string")]
    pub url: String,
}

/// 102 Picture. The REST validator wants all three renditions with type, size and url.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PictureElem {
    #[serde(default, deserialize_with = "string")]
    pub source_path: String,
    #[serde(default, deserialize_with = "object")]
    pub source_picture: PictureBaseInfo,
    #[serde(default, deserialize_with = "object")]
    pub big_picture: PictureBaseInfo,
    #[serde(default, deserialize_with = "object")]
    pub snapshot_picture: PictureBaseInfo,
}

/// 103 Sound (voice). `duration` is in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoundElem {
    #[serde(default, deserialize_with = "string")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string")]
    pub sound_path: String,
    #[serde(default, deserialize_with = "string")]
    pub source_url: String,
    #[serde(default, deserialize_with = "number")]
    pub data_size: i64,
    #[serde(default, deserialize_with = "number")]
    pub duration: i64,
    #[serde(default, deserialize_with = "string")]
    pub sound_type: String,
}

/// 104 Video. `duration` is in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoElem {
    #[serde(default, deserialize_with = "string")]
    pub video_path: String,
    #[serde(rename = "videoUUID", default, deserialize_with = "string")]
    pub video_uuid: String,
    #[serde(default, deserialize_with = "string")]
    pub video_url: String,
    #[serde(default, deserialize_with = "string")]
    pub video_type: String,
    #[serde(default, deserialize_with = "number")]
    pub video_size: i64,
    #[serde(default, deserialize_with = "number")]
    pub duration: i64,
    #[serde(default, deserialize_with = "string")]
    pub snapshot_path: String,
    #[serde(rename = "snapshotUUID", default, deserialize_with = "string")]
    pub snapshot_uuid: String,
    #[serde(default, deserialize_with = "number")]
    pub snapshot_size: i64,
    #[serde(default, deserialize_with = "string")]
    pub snapshot_url: String,
    #[serde(default, deserialize_with = "number")]
    pub snapshot_width: i64,
    #[serde(default, deserialize_with = "number")]
    pub snapshot_height: i64,
    #[serde(default, deserialize_with = "string")]
    pub snapshot_type: String,
}

/// 105 File.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileElem {
    #[serde(default, deserialize_with = "string")]
    pub file_path: String,
    #[serde(default, deserialize_with = "string")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string")]
    pub source_url: String,
    #[serde(default, deserialize_with = "string")]
    pub file_name: String,
    #[serde(default, deserialize_with = "number")]
    pub file_size: i64,
    #[serde(default, deserialize_with = "string")]
    pub file_type: String,
}

/// One mentioned user of an at-text message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AtInfo {
    #[serde(rename = "atUserID", default, deserialize_with = "string")]
    pub at_user_id: String,
    #[serde(default, deserialize_with = "string")]
    pub group_nickname: String,
}

/// 106 AtText. `MsgData.atUserIDList` must repeat `at_user_list`; `"AtAllTag"` means
/// everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AtTextElem {
    #[serde(default, deserialize_with = "string")]
    pub text: String,
    #[serde(default, deserialize_with = "list")]
    pub at_user_list: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub at_users_info: Vec<AtInfo>,
    /// The SDK's message object of a quoted message, kept as sent (see [`QuoteElem`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_message: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "boolean")]
    pub is_at_self: bool,
}

/// 114 Quote: a reply to another message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteElem {
    #[serde(default, deserialize_with = "string")]
    pub text: String,
    /// The quoted message as the SDK's message object (`MsgStruct`). It is kept as JSON: its
    /// shape is the SDK's, not the wire's, and only its ids and text are of use to us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_message: Option<serde_json::Value>,
}

impl QuoteElem {
    /// `clientMsgID` of the quoted message, if it says.
    pub fn quoted_client_msg_id(&self) -> Option<&str> {
        self.quoted_str("clientMsgID")
    }

    /// `serverMsgID` of the quoted message, if it says.
    pub fn quoted_server_msg_id(&self) -> Option<&str> {
        self.quoted_str("serverMsgID")
    }

    fn quoted_str(&self, key: &str) -> Option<&str> {
        self.quote_message
            .as_ref()?
            .get(key)?
            .as_str()
            .filter(|s| !s.is_empty())
    }
}

/// 110 Custom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomElem {
    #[serde(default, deserialize_with = "string")]
    pub data: String,
    #[serde(default, deserialize_with = "string")]
    pub description: String,
    #[serde(default, deserialize_with = "string")]
    pub extension: String,
}

/// A decoded `content`, by content type.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(TextElem),
    Picture(PictureElem),
    Sound(SoundElem),
    Video(VideoElem),
    File(FileElem),
    AtText(AtTextElem),
    Quote(QuoteElem),
    Custom(CustomElem),
    Markdown(TextElem),
    /// A type we do not model (cards, locations, notifications, …): left undecoded.
    Other {
        content_type: i32,
    },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextElem {
            content: text.into(),
        })
    }

    /// Decodes `MsgData.content` of the given content type.
    pub fn decode(content_type: i32, bytes: &[u8]) -> Result<Self, ChannelError> {
        use super::content_type as ct;
        Ok(match content_type {
            ct::TEXT => Self::Text(elem(content_type, bytes)?),
            ct::PICTURE => Self::Picture(elem(content_type, bytes)?),
            ct::SOUND => Self::Sound(elem(content_type, bytes)?),
            ct::VIDEO => Self::Video(elem(content_type, bytes)?),
            ct::FILE => Self::File(elem(content_type, bytes)?),
            ct::AT_TEXT => Self::AtText(elem(content_type, bytes)?),
            ct::QUOTE => Self::Quote(elem(content_type, bytes)?),
            ct::CUSTOM => Self::Custom(elem(content_type, bytes)?),
            ct::MARKDOWN_TEXT => Self::Markdown(elem(content_type, bytes)?),
            other => Self::Other {
                content_type: other,
            },
        })
    }

    pub fn content_type(&self) -> i32 {
        use super::content_type as ct;
        match self {
            Self::Text(_) => ct::TEXT,
            Self::Picture(_) => ct::PICTURE,
            Self::Sound(_) => ct::SOUND,
            Self::Video(_) => ct::VIDEO,
            Self::File(_) => ct::FILE,
            Self::AtText(_) => ct::AT_TEXT,
            Self::Quote(_) => ct::QUOTE,
            Self::Custom(_) => ct::CUSTOM,
            Self::Markdown(_) => ct::MARKDOWN_TEXT,
            Self::Other { content_type } => *content_type,
        }
    }

    /// The JSON for `MsgData.content`.
    pub fn encode(&self) -> Result<Vec<u8>, ChannelError> {
        let result = match self {
            Self::Text(e) | Self::Markdown(e) => serde_json::to_vec(e),
            Self::Picture(e) => serde_json::to_vec(e),
            Self::Sound(e) => serde_json::to_vec(e),
            Self::Video(e) => serde_json::to_vec(e),
            Self::File(e) => serde_json::to_vec(e),
            Self::AtText(e) => serde_json::to_vec(e),
            Self::Quote(e) => serde_json::to_vec(e),
            Self::Custom(e) => serde_json::to_vec(e),
            Self::Other { content_type } => {
                return Err(ChannelError::bad_input(format!(
                    "content {content_type}: cannot encode a content type we do not model"
                )));
            }
        };
        result.map_err(|e| {
            ChannelError::permanent(format!("content {}: encoding: {e}", self.content_type()))
        })
    }

    /// The human-readable text, for types that have one.
    pub fn plain_text(&self) -> Option<&str> {
        match self {
            Self::Text(e) | Self::Markdown(e) => Some(&e.content),
            Self::AtText(e) => Some(&e.text),
            Self::Quote(e) => Some(&e.text),
            _ => None,
        }
    }
}

/// One message's content cannot be read however often we try: permanent, naming the type and
/// the field.
fn elem<T: serde::de::DeserializeOwned>(
    content_type: i32,
    bytes: &[u8],
) -> Result<T, ChannelError> {
    let what = format!("content {content_type}");
    // serde also reads a struct from an array of its fields; an elem is an object only.
    if !super::envelope::starts_object(bytes) {
        return Err(ChannelError::permanent(format!(
            "{what}: not an elem object: expected a JSON object"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ChannelError::permanent(format!("{what}: not an elem object: {inner}"))
        } else {
            ChannelError::permanent(format!("{what}: {path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ChannelError::permanent(format!("{what}: trailing data: {e}")))?;
    Ok(value)
}

/// A string, or `null` as empty.
fn string<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(de)?.unwrap_or_default())
}

fn boolean<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(de)?.unwrap_or_default())
}

fn list<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

fn object<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Integers, floats (truncated), numeric strings and `null` (0); anything else is an error.
fn number<'de, D: Deserializer<'de>>(de: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(de)?;
    match value {
        None => Ok(0),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| D::Error::custom(format!("number out of range: {n}"))),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
            .map_err(|_| D::Error::custom(format!("expected a number, got {s:?}"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a number, got {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use channel_core::ErrorKind;

    use super::*;

    #[test]
    fn text_roundtrip() {
        let content = Content::text("hello");
        let bytes = content.encode().expect("encode");
        assert_eq!(bytes, br#"{"content":"hello"}"#);
        assert_eq!(Content::decode(101, &bytes).expect("decode"), content);
        assert_eq!(content.plain_text(), Some("hello"));
    }

    #[test]
    fn picture_in_the_spec_shape() {
        let raw = br#"{"sourcePath":"","sourcePicture":{"uuid":"u1","type":"image/png","size":1234,
            "width":640,"height":480,"url":"http://api/object/bot1/a.png"},
            "bigPicture":{"uuid":"u1","type":"image/png","size":1234.0,"width":"640","height":480,"url":"http://b"},
            "snapshotPicture":null}"#;
        let Content::Picture(picture) = Content::decode(102, raw).expect("decode") else {
            panic!("not a picture");
        };
        assert_eq!(picture.source_picture.mime, "image/png");
        assert_eq!(picture.source_picture.url, "http://api/object/bot1/a.png");
        assert_eq!(
            (picture.big_picture.size, picture.big_picture.width),
            (1234, 640)
        );
        assert_eq!(picture.snapshot_picture, PictureBaseInfo::default());
        let encoded: serde_json::Value =
            serde_json::from_slice(&Content::Picture(picture).encode().expect("encode"))
                .expect("json");
        assert_eq!(encoded["sourcePicture"]["type"], "image/png");
        assert_eq!(encoded["bigPicture"]["width"], 640);
    }

    #[test]
    fn video_file_and_sound_use_the_spec_keys() {
        let video = VideoElem {
            video_uuid: "v".into(),
            snapshot_uuid: "s".into(),
            video_url: "http://v".into(),
            ..VideoElem::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&Content::Video(video.clone()).encode().expect("encode"))
                .expect("json");
        for key in [
            "videoPath",
            "videoUUID",
            "videoUrl",
            "videoType",
            "videoSize",
            "duration",
            "snapshotPath",
            "snapshotUUID",
            "snapshotSize",
            "snapshotUrl",
            "snapshotWidth",
            "snapshotHeight",
            "snapshotType",
        ] {
            assert!(json.get(key).is_some(), "video lacks {key}: {json}");
        }
        let file = br#"{"filePath":"","uuid":"f","sourceUrl":"http://f","fileName":"a.pdf","fileSize":"12","fileType":"pdf"}"#;
        let Content::File(file) = Content::decode(105, file).expect("file") else {
            panic!("not a file");
        };
        assert_eq!((file.file_name.as_str(), file.file_size), ("a.pdf", 12));
        let sound = br#"{"uuid":"","soundPath":"","sourceUrl":"http://s","dataSize":10,"duration":3,"soundType":""}"#;
        let Content::Sound(sound) = Content::decode(103, sound).expect("sound") else {
            panic!("not a sound");
        };
        assert_eq!(sound.duration, 3);
    }

    #[test]
    fn at_text_and_quote() {
        let raw = br#"{"text":"hi @bot1","atUserList":["bot1","AtAllTag"],
            "atUsersInfo":[{"atUserID":"bot1","groupNickname":"Bot"}],"isAtSelf":false}"#;
        let Content::AtText(at) = Content::decode(106, raw).expect("at") else {
            panic!("not at-text");
        };
        assert_eq!(at.at_user_list, ["bot1", super::super::AT_ALL_TAG]);
        assert_eq!(at.at_users_info[0].at_user_id, "bot1");
        let encoded =
            String::from_utf8(Content::AtText(at).encode().expect("encode")).expect("utf8");
        assert!(!encoded.contains("quoteMessage"), "{encoded}");
        let quote = br#"{"text":"yes","quoteMessage":{"clientMsgID":"c1","serverMsgID":"","textElem":{"content":"q"}}}"#;
        let Content::Quote(quote) = Content::decode(114, quote).expect("quote") else {
            panic!("not a quote");
        };
        assert_eq!(quote.quoted_client_msg_id(), Some("c1"));
        assert_eq!(quote.quoted_server_msg_id(), None);
    }

    #[test]
    fn unmodelled_types_are_other() {
        let content = Content::decode(1501, br#"{"detail":"{}"}"#).expect("other");
        assert_eq!(content, Content::Other { content_type: 1501 });
        assert_eq!(
            content.encode().expect_err("cannot").kind,
            ErrorKind::BadInput
        );
    }

    #[test]
    fn malformed_content_names_type_and_field() {
        for (ty, raw, expected) in [
            (101, &b"not json"[..], "content 101: not an elem object"),
            (101, b"[]", "content 101: not an elem object"),
            (
                101,
                br#"{"content":5}"#,
                "content 101: content: invalid type: integer",
            ),
            (
                102,
                br#"{"bigPicture":{"width":true}}"#,
                "content 102: bigPicture.width: expected a number, got a boolean",
            ),
            (
                105,
                br#"{"fileSize":"big"}"#,
                "content 105: fileSize: expected a number, got \"big\"",
            ),
            (
                106,
                br#"{"atUserList":"bot1"}"#,
                "content 106: atUserList: invalid type: string",
            ),
            (101, br#"{"content":"a"} {}"#, "content 101: trailing data"),
        ] {
            let err = Content::decode(ty, raw).expect_err(expected);
            assert_eq!(err.kind, ErrorKind::Permanent);
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }
}
