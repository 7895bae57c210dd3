//! Public value types of the CDN: inbound media a test injects, uploads it inspects, faults.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize, Serializer};

/// What kind of media item an injected message carries (spec §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `type` 2, `image_item` with `mid_size` (ciphertext size).
    Image,
    /// `type` 5, `video_item` with `video_size` (ciphertext size) and `video_md5`.
    Video,
    /// `type` 4, `file_item` with `file_name`, `md5` and `len` (plaintext size, as a string).
    File { file_name: String },
    /// `type` 3, `voice_item`. `text` is WeChat's own transcript (clients then skip the download);
    /// `encode_type` 6 is SILK; `playtime` is in ms.
    Voice {
        encode_type: u32,
        playtime: u64,
        text: Option<String>,
    },
}

/// Where and how the message carries the AES key (spec §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyEncoding {
    /// `image_item.aeskey` = 32 hex digits, and no `media.aes_key` (images only in the real world).
    ImageAeskeyHex,
    /// `media.aes_key` = base64 of the raw 16 bytes.
    Base64Raw,
    /// `media.aes_key` = base64 of the 32-char hex string (what the official client sends).
    #[default]
    Base64Hex,
    /// The CDN holds the plaintext and the message carries no key (valid for images only: clients
    /// skip other media without a key).
    None,
    /// `media.aes_key` (base64 of hex) is a key under which the stored ciphertext does not
    /// decrypt: the CDN-dedupe "bad decrypt" of #193.
    Wrong,
}

/// An inbound media message for [`IlinkSim::inject_media`](crate::ilink::IlinkSim::inject_media).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    pub kind: MediaKind,
    /// The file as the user sent it; the simulator encrypts it.
    pub plaintext: Vec<u8>,
    pub key: KeyEncoding,
    /// Put `media.full_url` in the message (the real server does). Without it clients must build
    /// `<cdnBase>/download?encrypted_query_param=…` from their configured CDN base.
    pub full_url: bool,
    /// `media.full_url` points here instead of at this simulator's CDN (a server elsewhere,
    /// e.g. a canary that must never be fetched).
    pub full_url_elsewhere: Option<String>,
    /// A text item sent before the media item in the same message (like spec Appendix B).
    pub caption: Option<String>,
}

impl MediaSpec {
    fn new(kind: MediaKind, plaintext: impl Into<Vec<u8>>, key: KeyEncoding) -> Self {
        Self {
            kind,
            plaintext: plaintext.into(),
            key,
            full_url: true,
            full_url_elsewhere: None,
            caption: None,
        }
    }

    /// An image keyed by `image_item.aeskey` ([`KeyEncoding::ImageAeskeyHex`]), with `full_url`.
    pub fn image(plaintext: impl Into<Vec<u8>>) -> Self {
        Self::new(MediaKind::Image, plaintext, KeyEncoding::ImageAeskeyHex)
    }

    /// A video keyed by base64-of-hex `media.aes_key`, with `full_url`.
    pub fn video(plaintext: impl Into<Vec<u8>>) -> Self {
        Self::new(MediaKind::Video, plaintext, KeyEncoding::Base64Hex)
    }

    /// A file keyed by base64-of-hex `media.aes_key`, with `full_url`.
    pub fn file(file_name: &str, plaintext: impl Into<Vec<u8>>) -> Self {
        let kind = MediaKind::File {
            file_name: file_name.to_owned(),
        };
        Self::new(kind, plaintext, KeyEncoding::Base64Hex)
    }

    /// A SILK voice note without transcript, 1 s long, keyed by base64-of-raw `media.aes_key`,
    /// with `full_url`.
    pub fn voice(plaintext: impl Into<Vec<u8>>) -> Self {
        let kind = MediaKind::Voice {
            encode_type: 6,
            playtime: 1000,
            text: None,
        };
        Self::new(kind, plaintext, KeyEncoding::Base64Raw)
    }

    pub fn with_key(mut self, key: KeyEncoding) -> Self {
        self.key = key;
        self
    }

    pub fn without_full_url(mut self) -> Self {
        self.full_url = false;
        self
    }

    /// Puts `url` in `media.full_url` instead of this simulator's download URL.
    pub fn with_full_url_elsewhere(mut self, url: &str) -> Self {
        self.full_url = true;
        self.full_url_elsewhere = Some(url.to_owned());
        self
    }

    pub fn with_caption(mut self, caption: &str) -> Self {
        self.caption = Some(caption.to_owned());
        self
    }

    /// Sets a voice note's `playtime` in ms (no effect on other kinds).
    pub fn with_playtime(mut self, ms: u64) -> Self {
        if let MediaKind::Voice { playtime, .. } = &mut self.kind {
            *playtime = ms;
        }
        self
    }

    /// Sets WeChat's transcript of a voice note (no effect on other kinds).
    pub fn with_transcript(mut self, text: &str) -> Self {
        if let MediaKind::Voice { text: t, .. } = &mut self.kind {
            *t = Some(text.to_owned());
        }
        self
    }
}

/// Where an injected file lies on the CDN, and how it was encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// `media.encrypt_query_param` of the item.
    pub encrypt_query_param: String,
    /// The simulator's download URL for it (also when the message omits `full_url`).
    pub download_url: String,
    /// The key the stored ciphertext really decrypts with, as hex; `None` for plaintext.
    pub aes_key_hex: Option<String>,
    /// Size of what the CDN serves.
    pub stored_len: usize,
    /// MD5 of the plaintext, hex.
    pub md5: String,
}

/// One `POST …/c2c/upload` that matched a `getuploadurl` ticket and was not eaten by a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub bot_id: String,
    pub filekey: String,
    /// 1 image, 2 video, 3 file, 4 voice.
    pub media_type: u8,
    pub to_user_id: String,
    /// `aeskey` of `getuploadurl`, as sent.
    pub aeskey: String,
    /// The thumbnail upload of this filekey (only when `no_need_thumb` was false).
    pub thumb: bool,
    pub ciphertext_len: usize,
    /// The decrypted body; empty if it did not decrypt.
    #[serde(rename = "plaintext_base64", serialize_with = "as_base64")]
    pub plaintext: Vec<u8>,
    /// Decrypted and matched `rawsize` and `rawfilemd5`.
    pub md5_ok: bool,
    /// Answered 200 with `x-encrypted-param`.
    pub accepted: bool,
    /// Why it was rejected (the `x-error-message` sent).
    pub error: Option<String>,
    /// The `x-encrypted-param` answered; empty if rejected.
    pub download_param: String,
    /// Request headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub at_ms: u64,
}

fn as_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

/// A one-shot CDN misbehaviour; each is consumed by the next request of its kind, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdnFault {
    /// Next upload: this 4xx status, `x-error-message: <message>`, empty body (clients must not
    /// retry). `message` must be printable ASCII, or the header is left out.
    UploadRejected { status: u16, message: String },
    /// Next upload: this 5xx status with an empty body (clients retry, 3 attempts in all).
    UploadServerError(u16),
    /// Next upload: 200 without `x-encrypted-param` (#149, #172; clients retry).
    UploadWithoutParam,
    /// Next `getuploadurl`: `{"ret":-1}` without any URL (#213).
    UploadUrlRefused,
    /// Next download: this status with an empty body (#3).
    DownloadError(u16),
}

impl CdnFault {
    pub(crate) fn kind(&self) -> FaultKind {
        match self {
            Self::UploadRejected { .. } | Self::UploadServerError(_) | Self::UploadWithoutParam => {
                FaultKind::Upload
            }
            Self::UploadUrlRefused => FaultKind::UploadUrl,
            Self::DownloadError(_) => FaultKind::Download,
        }
    }
}

/// Which request consumes a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Upload,
    UploadUrl,
    Download,
}
