//! Entry points for the fuzz targets of `fuzz/` (feature `fuzzing`). They exist for fuzzing
//! only: each takes raw bytes as the network would send them, runs the decoders that are
//! private to this crate, and panics when a decoder breaks a promise it makes (an error with
//! no message, a message that lost its sender, a key that does not decrypt what it encrypted).

use channel_core::ErrorKind;
use channel_core::testing::assert_named;
use url::Url;

use crate::media::crypto::{self, DecryptError};
use crate::media::inbound::{Locator, resolve_key};
use crate::media::voice;
use crate::wire::{GetUpdatesResponse, QrStatusResponse, WeixinMessage};
use crate::{client, login, normalize};

const ACCOUNT: &str = "b0f5860fdecb-im-bot";

/// A `getupdates` answer, as the long poll reads it: the body, the server's verdict, every
/// message normalized, and the key of every attachment resolved as a download would.
pub fn getupdates(data: &[u8]) {
    let response: GetUpdatesResponse = match client::decode("getupdates", data) {
        Ok(response) => response,
        Err(err) => {
            assert_named(&err);
            assert!(err.message.starts_with("getupdates: "), "{err}");
            return;
        }
    };
    if let Err(err) = client::check("getupdates", &response.status, |_| ErrorKind::Transient) {
        assert_named(&err);
        return;
    }
    for raw in &response.msgs {
        let Ok(msg) = serde_path_to_error::deserialize::<_, WeixinMessage>(raw) else {
            continue;
        };
        let inbound = match normalize::normalize(ACCOUNT, &msg, raw.clone()) {
            Ok(inbound) => inbound,
            Err(err) => {
                assert_named(&err);
                continue;
            }
        };
        let from = msg.from_user_id.as_deref().unwrap_or_default();
        assert_eq!(inbound.chat.id, from, "a DM is the sender's chat");
        assert_eq!(inbound.sender.id, from);
        assert!(
            !inbound.server_id.is_empty(),
            "an empty dedup key would merge unrelated messages: {raw}"
        );
        if let Some(token) = raw.get("context_token").filter(|t| t.is_string()) {
            assert_ne!(inbound.raw.get("context_token"), Some(token), "token kept");
        }
        for media in &inbound.media {
            if let Some(error) = &media.error {
                // Nothing to download: the agent gets the note instead.
                assert!(
                    !error.trim().is_empty() && media.locator.is_null(),
                    "{media:?}"
                );
                continue;
            }
            let Ok(locator) = serde_json::from_value::<Locator>(media.locator.clone()) else {
                panic!("a locator we wrote does not read back: {}", media.locator);
            };
            if let Err(err) = resolve_key(&media.kind, &locator) {
                assert_named(&err);
                assert!(err.message.starts_with(&media.kind), "{err}");
            }
        }
    }
}

/// A `get_qrcode_status` answer: any body that is not the expected JSON reads as "still
/// waiting"; a redirect must lead to a usable http(s) base URL or be refused with a message.
pub fn qr_status(data: &[u8]) {
    let Ok(answer) = serde_json::from_slice::<QrStatusResponse>(data) else {
        return;
    };
    let Some(host) = answer.redirect_host.as_deref() else {
        return;
    };
    let Ok(login) = Url::parse("https://ilinkai.weixin.qq.com/") else {
        unreachable!("a constant URL");
    };
    match login::redirected(&login, host) {
        Ok(url) => {
            assert!(matches!(url.scheme(), "http" | "https"), "{url}");
            assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{url}");
        }
        Err(err) => {
            assert_named(&err);
            assert!(err.message.contains("redirect_host"), "{err}");
        }
    }
}

/// A CDN file: the first 16 bytes are the key, the rest the ciphertext. What decrypts must
/// encrypt back to the same bytes (PKCS#7 and ECB are deterministic); what does not must be
/// refused for the right reason.
pub fn media_decrypt(data: &[u8]) {
    let Some((key, sealed)) = data.split_first_chunk::<16>() else {
        return;
    };
    match crypto::decrypt(key, sealed) {
        Ok(plain) => {
            assert_eq!(crypto::encrypt(key, &plain), sealed, "round trip");
            assert_eq!(crypto::padded_len(plain.len() as u64), sealed.len() as u64);
        }
        Err(DecryptError::NotBlocks(len)) => {
            assert_eq!(len, sealed.len());
            assert!(len == 0 || !len.is_multiple_of(16), "{len} is whole blocks");
        }
        Err(DecryptError::BadPadding) => {
            assert!(!sealed.is_empty() && sealed.len().is_multiple_of(16));
        }
    }
}

/// A voice note as the CDN hands it over, after decryption. The SILK decoder is C: any packets
/// must decode or be refused by name, and never give more audio than the inbound cap allows.
pub fn voice(data: &[u8]) {
    // The header goes in front when it is missing, so the fuzzer's time goes to the packets.
    let note = if silk::is_silk(data) {
        data.to_vec()
    } else {
        [silk::MAGIC, data].concat()
    };
    match silk::decode(&note, voice::RATE, voice::INBOUND_MAX_MS) {
        Ok(pcm) => {
            let cap = u64::from(voice::RATE) * u64::from(voice::INBOUND_MAX_MS) / 1000;
            assert!(
                pcm.len() as u64 <= cap,
                "{} samples over the cap",
                pcm.len()
            );
            let wav = channel_core::media::audio::wav_mono_s16(&pcm, voice::RATE);
            assert_eq!(wav.len(), 44 + 2 * pcm.len(), "WAV header and samples");
        }
        Err(err) => assert!(!err.to_string().trim().is_empty(), "{err:?}"),
    }
}

/// `channels.openclaw-weixin` as the host hands it over, and every URL of it that an account
/// would connect to.
pub fn config(data: &[u8]) {
    let Ok(section) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let config = match crate::config::WeixinConfig::parse(&section) {
        Ok(config) => config,
        Err(err) => {
            assert_named(&err);
            assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
            return;
        }
    };
    let mut urls: Vec<(String, &String)> = Vec::new();
    for (key, value) in [
        ("baseUrl", &config.base_url),
        ("cdnBaseUrl", &config.cdn_base_url),
        ("loginBaseUrl", &config.login_base_url),
    ] {
        urls.extend(value.iter().map(|v| (key.to_owned(), v)));
    }
    for (id, account) in &config.accounts {
        // The config key and the state file name must agree however often it is normalized.
        let normalized = crate::store::normalize_account_id(id);
        assert_eq!(crate::store::normalize_account_id(&normalized), normalized);
        for (key, value) in [
            ("baseUrl", &account.base_url),
            ("cdnBaseUrl", &account.cdn_base_url),
        ] {
            urls.extend(value.iter().map(|v| (format!("accounts.{id}.{key}"), v)));
        }
    }
    for (field, raw) in urls {
        match client::parse_base_url(&field, raw) {
            Ok(url) => assert!(url.path().ends_with('/'), "{url}"),
            Err(err) => {
                assert_named(&err);
                assert!(err.message.contains(&field), "{err}");
            }
        }
    }
}
