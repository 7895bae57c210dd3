//! Inbound attachments: what normalize records in `Media.locator`, and `fetch_media`, which
//! downloads, decrypts and hands over a temporary file (spec §3.9, §7.2, §10.2–§10.4).

use channel_core::{ChannelError, ErrorKind, Fetched, Media};
use serde::{Deserialize, Serialize};
use url::Url;

use super::crypto::{self, DecryptError, Key};
use super::{MediaSettings, mime, voice};
use crate::wire::{CdnMedia, MessageItem, item};

/// Where a WeChat attachment lies and how it is keyed: the `locator` of [`Media`]. Key material
/// is kept exactly as it arrived; it is resolved only when the file is fetched.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Locator {
    /// The item `type` (2 image, 3 voice, 4 file, 5 video).
    pub item_type: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_query_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    /// `image_item.aeskey`: 32 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_aeskey: Option<String>,
    /// `media.aes_key`: base64 of the raw key or of its hex spelling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aes_key: Option<String>,
    /// `voice_item.encode_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_type: Option<i64>,
}

impl std::fmt::Debug for Locator {
    // Keys decrypt the user's files: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("item_type", &self.item_type)
            .field("full_url", &self.full_url.is_some())
            .field("image_aeskey", &self.image_aeskey.is_some())
            .field("aes_key", &self.aes_key.is_some())
            .finish_non_exhaustive()
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub use channel_core::media::safe_file_name;

/// Content type of a voice note by its `encode_type`: raw SILK unless it says otherwise (no
/// SILK decoder here; WeChat's transcript, when present, is the message body).
fn voice_mime(encode_type: Option<i64>) -> &'static str {
    match encode_type {
        Some(5) => "audio/amr",
        Some(7) => "audio/mpeg",
        Some(8) => "audio/ogg",
        Some(4) => "audio/speex",
        _ => "audio/silk",
    }
}

/// The item's kind: its `type`, or (if absent) the payload it carries.
fn item_type(it: &MessageItem) -> i64 {
    match it.kind {
        Some(kind) if kind != 0 => kind,
        _ if it.image_item.is_some() => item::IMAGE,
        _ if it.video_item.is_some() => item::VIDEO,
        _ if it.file_item.is_some() => item::FILE,
        _ if it.voice_item.is_some() => item::VOICE,
        _ => 0,
    }
}

/// The attachment of a media item, if the item is one. A voice note with a transcript and
/// nothing to download yields nothing (its text is the message); other media without a CDN
/// reference are listed with an error, so the agent hears that something did not come through.
pub fn media_of(it: &MessageItem) -> Option<Media> {
    let kind = item_type(it);
    let empty = CdnMedia::default();
    let (name, cdn, file_name, mime_hint, image_aeskey, encode_type) = match kind {
        item::IMAGE => {
            let image = it.image_item.as_ref();
            let cdn = image.and_then(|i| i.media.as_ref());
            let aeskey = image.and_then(|i| non_empty(&i.aeskey));
            ("image", cdn, None, None, aeskey, None)
        }
        item::VIDEO => {
            let cdn = it.video_item.as_ref().and_then(|v| v.media.as_ref());
            ("video", cdn, None, Some("video/mp4"), None, None)
        }
        item::FILE => {
            let file = it.file_item.as_ref();
            let file_name = file
                .and_then(|f| f.file_name.as_deref())
                .and_then(safe_file_name);
            let hint = file_name
                .as_deref()
                .and_then(mime::from_name)
                .unwrap_or(mime::OCTET_STREAM);
            let cdn = file.and_then(|f| f.media.as_ref());
            ("file", cdn, file_name, Some(hint), None, None)
        }
        item::VOICE => {
            let voice = it.voice_item.as_ref();
            let cdn = voice.and_then(|v| v.media.as_ref());
            let transcribed = voice.and_then(|v| non_empty(&v.text)).is_some();
            if transcribed && !cdn.is_some_and(CdnMedia::downloadable) {
                return None;
            }
            let encode_type = voice.and_then(|v| v.encode_type);
            let hint = voice_mime(encode_type);
            ("voice", cdn, None, Some(hint), None, encode_type)
        }
        _ => return None,
    };
    let cdn = cdn.unwrap_or(&empty);
    let (locator, error) = if cdn.downloadable() {
        let locator = Locator {
            item_type: kind,
            encrypt_query_param: non_empty(&cdn.encrypt_query_param),
            full_url: non_empty(&cdn.full_url),
            image_aeskey,
            aes_key: non_empty(&cdn.aes_key),
            encode_type,
        };
        (serde_json::to_value(locator).unwrap_or_default(), None)
    } else {
        let error = "the message carries no CDN reference (`media.encrypt_query_param` or `media.full_url`)";
        (serde_json::Value::Null, Some(error.to_owned()))
    };
    Some(Media {
        kind: name.into(),
        path: None,
        mime: mime_hint.map(str::to_owned),
        file_name,
        locator,
        error,
    })
}

/// The key of an attachment (spec §10.2) and the field it came from, or `None` for a plaintext
/// image.
pub(crate) fn resolve_key(
    label: &str,
    loc: &Locator,
) -> Result<Option<(Key, &'static str)>, ChannelError> {
    let bad =
        |message: String| ChannelError::new(ErrorKind::Permanent, format!("{label}: {message}"));
    let from_aes_key = |raw: &str| {
        crypto::key_from_base64(raw)
            .map(|k| (k, "aes_key"))
            .ok_or_else(|| {
                bad(
                    "`media.aes_key` is neither base64 of 16 key bytes nor base64 of 32 hex digits"
                        .into(),
                )
            })
    };
    let aes_key = non_empty(&loc.aes_key);
    if loc.item_type == item::IMAGE {
        if let Some(hex) = non_empty(&loc.image_aeskey) {
            match crypto::key_from_hex(&hex) {
                Some(key) => return Ok(Some((key, "image_item.aeskey"))),
                None if aes_key.is_none() => {
                    return Err(bad("`image_item.aeskey` is not 32 hex digits".into()));
                }
                // A malformed hex key, but `media.aes_key` may still do.
                None => {}
            }
        }
        return aes_key.as_deref().map(from_aes_key).transpose();
    }
    match aes_key {
        Some(raw) => from_aes_key(&raw).map(Some),
        None => Err(bad(format!(
            "`media.aes_key` is missing; {label} files are always encrypted"
        ))),
    }
}

/// `full_url` if the item has one, else `<cdnBase>/download?encrypted_query_param=<urlenc>`.
fn download_url(label: &str, settings: &MediaSettings, loc: &Locator) -> Result<Url, ChannelError> {
    if let Some(full) = non_empty(&loc.full_url) {
        let url = Url::parse(&full).map_err(|e| {
            ChannelError::permanent(format!("{label}: `media.full_url` is not a URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChannelError::permanent(format!(
                "{label}: `media.full_url` must be http or https, not {}",
                url.scheme()
            )));
        }
        return Ok(url);
    }
    let param = non_empty(&loc.encrypt_query_param).ok_or_else(|| {
        ChannelError::permanent(format!(
            "{label}: no `media.encrypt_query_param` or `media.full_url` to download from"
        ))
    })?;
    let base = settings
        .cdn_base_url
        .clone()
        .map_err(|e| e.context(format!("{label}: building the CDN download URL")))?;
    let mut url = base.join("download").map_err(|e| {
        ChannelError::bad_input(format!("{label}: cdnBaseUrl: cannot append /download: {e}"))
    })?;
    url.query_pairs_mut()
        .append_pair("encrypted_query_param", &param);
    Ok(url)
}

/// Downloads `url` (no headers, spec §3.9) through the account's guarded fetch, at most `cap`
/// bytes.
async fn download(
    label: &str,
    settings: &MediaSettings,
    url: Url,
    cap: u64,
) -> Result<Vec<u8>, ChannelError> {
    let download = settings
        .policy
        .fetch_up_to(url.as_str(), cap)
        .await
        .map_err(|e| e.context(format!("{label}: CDN download")))?;
    Ok(download.bytes)
}

/// A SILK voice note as WAV, which the host's transcription and every player read. One that
/// does not decode stays SILK, with a warning: the agent still gets the file.
async fn voice_to_wav(
    label: &str,
    silk_bytes: Vec<u8>,
) -> Result<(Vec<u8>, &'static str), ChannelError> {
    let (silk_bytes, pcm) = tokio::task::spawn_blocking(move || {
        let pcm = silk::decode(&silk_bytes, voice::RATE, voice::INBOUND_MAX_MS);
        (silk_bytes, pcm)
    })
    .await
    .map_err(|e| ChannelError::permanent(format!("{label}: decoding SILK: {e}")))?;
    Ok(match pcm {
        Ok(pcm) => (
            channel_core::media::audio::wav_mono_s16(&pcm, voice::RATE),
            "audio/wav",
        ),
        Err(err) => {
            tracing::warn!(%err, "{label}: kept as SILK, which transcription cannot read");
            (silk_bytes, "audio/silk")
        }
    })
}

/// Downloads and decrypts one attachment into a private temporary file.
pub async fn fetch(settings: &MediaSettings, media: &Media) -> Result<Fetched, ChannelError> {
    let label = media.kind.as_str();
    let loc: Locator = serde_json::from_value(media.locator.clone())
        .map_err(|e| ChannelError::bad_input(format!("{label}: unreadable media locator: {e}")))?;
    let key = resolve_key(label, &loc)?;
    let url = download_url(label, settings, &loc)?;
    // PKCS#7 adds up to one block: the cap is about the file, not its ciphertext.
    let cap = settings.policy.max_bytes + if key.is_some() { 16 } else { 0 };
    let stored = download(label, settings, url, cap).await?;
    let plain = match key {
        None => stored,
        Some((key, field)) => {
            let decrypted = tokio::task::spawn_blocking(move || crypto::decrypt(&key, &stored))
                .await
                .map_err(|e| ChannelError::transient(format!("{label}: decrypting: {e}")))?;
            match decrypted {
                Ok(plain) => plain,
                Err(DecryptError::BadPadding) => {
                    return Err(ChannelError::permanent(format!(
                        "{label}: the {field} does not decrypt the CDN file (bad padding)"
                    )));
                }
                Err(DecryptError::NotBlocks(len)) => {
                    return Err(ChannelError::permanent(format!(
                        "{label}: CDN download: the file is not AES-128 ciphertext ({len} bytes, not a non-empty multiple of 16)"
                    )));
                }
            }
        }
    };
    if plain.len() as u64 > settings.policy.max_bytes {
        return Err(ChannelError::permanent(format!(
            "{label}: CDN download: the file is larger than the media size cap {} ({} bytes)",
            settings.policy.describe_cap(),
            plain.len()
        )));
    }
    let (plain, voice_mime) = if loc.item_type == item::VOICE && silk::is_silk(&plain) {
        let (wav, mime) = voice_to_wav(label, plain).await?;
        (wav, Some(mime))
    } else {
        (plain, None)
    };
    let mime = if let Some(voice) = voice_mime {
        voice.to_owned()
    } else if loc.item_type == item::IMAGE {
        mime::sniff_image(&plain)
            .unwrap_or(mime::OCTET_STREAM)
            .to_owned()
    } else {
        media
            .mime
            .clone()
            .unwrap_or_else(|| mime::OCTET_STREAM.to_owned())
    };
    let ext = media
        .file_name
        .as_deref()
        .and_then(|n| std::path::Path::new(n).extension())
        .and_then(|e| e.to_str())
        .or_else(|| mime::extension_for(&mime))
        .unwrap_or_default()
        .to_owned();
    let temp_path = settings
        .policy
        .save_temp(&format!("inbound-{label}"), &ext, plain)
        .await
        .map_err(|e| e.context(label))?
        .keep();
    Ok(Fetched {
        temp_path,
        mime,
        file_name: media.file_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: serde_json::Value) -> MessageItem {
        serde_json::from_value(v).expect("item")
    }

    fn locator(media: &Media) -> Locator {
        serde_json::from_value(media.locator.clone()).expect("locator")
    }

    #[test]
    fn items_become_media_with_their_key_material() {
        let image = media_of(&item(serde_json::json!({"type": 2, "image_item": {
            "aeskey": "84ff44e81724166d95903573ab980b86",
            "media": {"encrypt_query_param": "p+/=", "aes_key": "QUJD", "full_url": "http://cdn/x"}}})))
        .expect("image");
        assert_eq!(image.kind, "image");
        assert_eq!(image.error, None);
        let loc = locator(&image);
        assert_eq!(loc.item_type, 2);
        assert_eq!(
            loc.image_aeskey.as_deref(),
            Some("84ff44e81724166d95903573ab980b86")
        );
        assert_eq!(loc.aes_key.as_deref(), Some("QUJD"));
        assert_eq!(loc.full_url.as_deref(), Some("http://cdn/x"));
        assert_eq!(loc.encrypt_query_param.as_deref(), Some("p+/="));
        assert!(
            !format!("{loc:?}").contains("84ff"),
            "keys stay out of Debug"
        );

        let file = media_of(&item(serde_json::json!({"type": 4, "file_item": {
            "file_name": "report.PDF", "len": "12", "media": {"encrypt_query_param": "q"}}})))
        .expect("file");
        assert_eq!(file.file_name.as_deref(), Some("report.PDF"));
        assert_eq!(file.mime.as_deref(), Some("application/pdf"));

        let video = media_of(&item(
            serde_json::json!({"type": 5, "video_item": {"media": {"full_url": "http://x"}}}),
        ))
        .expect("video");
        assert_eq!(video.mime.as_deref(), Some("video/mp4"));

        let voice = media_of(&item(serde_json::json!({"type": 3, "voice_item": {
            "encode_type": 6, "text": "hi", "media": {"encrypt_query_param": "v"}}})))
        .expect("voice with audio");
        assert_eq!(voice.mime.as_deref(), Some("audio/silk"));
        assert_eq!(locator(&voice).encode_type, Some(6));
        // A transcript without audio is just text.
        assert!(
            media_of(&item(
                serde_json::json!({"type": 3, "voice_item": {"text": "hi"}})
            ))
            .is_none()
        );
        assert!(
            media_of(&item(
                serde_json::json!({"type": 1, "text_item": {"text": "x"}})
            ))
            .is_none()
        );
    }

    #[test]
    fn media_without_a_cdn_reference_carry_an_error() {
        let image =
            media_of(&item(serde_json::json!({"type": 2, "image_item": {}}))).expect("image");
        assert!(image.locator.is_null());
        assert!(
            image
                .error
                .as_deref()
                .is_some_and(|e| e.contains("encrypt_query_param"))
        );
        // Odd types do not sink the item.
        let odd = media_of(&item(serde_json::json!({"type": 2, "image_item": {"aeskey": 5, "media": {"aes_key": [1], "encrypt_query_param": "p"}}})))
            .expect("image");
        let loc = locator(&odd);
        assert_eq!(loc.image_aeskey, None);
        assert_eq!(loc.aes_key, None);
    }

    #[test]
    fn keys_resolve_per_spec_and_errors_name_the_field() {
        let key = crypto::random_key();
        let hex = hex::encode(key);
        let image = |aeskey: Option<&str>, aes_key: Option<&str>| Locator {
            item_type: item::IMAGE,
            image_aeskey: aeskey.map(str::to_owned),
            aes_key: aes_key.map(str::to_owned),
            ..Locator::default()
        };
        let b64_hex = crypto::aes_key_field(&key);
        assert_eq!(
            resolve_key("image", &image(Some(&hex), None)).expect("hex"),
            Some((key, "image_item.aeskey"))
        );
        assert_eq!(
            resolve_key("image", &image(None, Some(&b64_hex))).expect("b64"),
            Some((key, "aes_key"))
        );
        assert_eq!(
            resolve_key("image", &image(Some("zz"), Some(&b64_hex))).expect("fallback"),
            Some((key, "aes_key"))
        );
        assert_eq!(
            resolve_key("image", &image(None, None)).expect("plain"),
            None
        );
        let err = resolve_key("image", &image(Some("zz"), None)).expect_err("bad hex");
        assert!(err.message.contains("image_item.aeskey"), "{err}");
        let file = |aes_key: Option<&str>| Locator {
            item_type: item::FILE,
            aes_key: aes_key.map(str::to_owned),
            ..Locator::default()
        };
        let err = resolve_key("file", &file(None)).expect_err("missing");
        assert!(err.message.contains("`media.aes_key` is missing"), "{err}");
        let err = resolve_key("file", &file(Some("AAAA"))).expect_err("short");
        assert!(err.message.starts_with("file: `media.aes_key`"), "{err}");
    }

    #[test]
    fn download_urls_prefer_full_url_and_encode_the_param() {
        let mut settings = MediaSettings::defaults(std::path::Path::new("/s/openclaw-weixin"));
        let loc = Locator {
            item_type: item::FILE,
            encrypt_query_param: Some("a+b/c==".into()),
            ..Locator::default()
        };
        assert_eq!(
            download_url("file", &settings, &loc).expect("url").as_str(),
            "https://novac2c.cdn.weixin.qq.com/c2c/download?encrypted_query_param=a%2Bb%2Fc%3D%3D"
        );
        let full = Locator {
            full_url: Some("http://127.0.0.1:9/c2c/download?x=1".into()),
            ..loc.clone()
        };
        assert_eq!(
            download_url("file", &settings, &full)
                .expect("url")
                .as_str(),
            "http://127.0.0.1:9/c2c/download?x=1"
        );
        let ftp = Locator {
            full_url: Some("ftp://x/y".into()),
            ..loc.clone()
        };
        assert!(
            download_url("file", &settings, &ftp)
                .expect_err("ftp")
                .message
                .contains("media.full_url")
        );
        settings.cdn_base_url = Err(ChannelError::bad_input(
            "channels.openclaw-weixin.cdnBaseUrl: bad",
        ));
        let err = download_url("file", &settings, &loc).expect_err("bad base");
        assert!(err.message.contains("cdnBaseUrl"), "{err}");
    }
}
