//! Media crypto of spec §10: AES-128-ECB with PKCS#7 over the whole file, MD5 of the plaintext,
//! the three encodings of a key, and the CDN's opaque parameters.

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyInit as _};
use md5::{Digest as _, Md5};
use rand::Rng as _;

pub(crate) type Key = [u8; 16];

pub(crate) fn random_key() -> Key {
    let mut key = [0u8; 16];
    rand::rng().fill(&mut key);
    key
}

pub(crate) fn encrypt(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    ecb::Encryptor::<Aes128>::new(key.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// `None` if the ciphertext is not whole blocks or its padding is wrong (a "bad decrypt").
pub(crate) fn decrypt(key: &Key, ciphertext: &[u8]) -> Option<Vec<u8>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return None;
    }
    ecb::Decryptor::<Aes128>::new(key.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()
}

/// Ciphertext size of `rawsize` plaintext bytes: PKCS#7 always adds 1–16 bytes.
pub(crate) fn padded_len(rawsize: u64) -> u64 {
    (rawsize / 16 + 1) * 16
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// 32 hex digits (either case), as `filekey`, `aeskey` and `rawfilemd5` are.
pub(crate) fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn parse_hex_key(s: &str) -> Option<Key> {
    if !is_hex32(s) {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// `media.aes_key` as base64 of the raw 16 bytes.
pub(crate) fn b64_raw(key: &Key) -> String {
    B64.encode(key)
}

/// `media.aes_key` as base64 of the 32-char hex string (what the official client sends, §10.1).
pub(crate) fn b64_hex(key: &Key) -> String {
    B64.encode(hex::encode(key))
}

/// A key that fails to decrypt `ciphertext` (bad padding), for the bad-decrypt path of #193.
pub(crate) fn wrong_key_for(ciphertext: &[u8], right: &Key) -> Key {
    loop {
        let key = random_key();
        if &key != right && decrypt(&key, ciphertext).is_none() {
            return key;
        }
    }
}

/// An opaque CDN parameter (`upload_param`, `x-encrypted-param`, `encrypt_query_param`): standard
/// base64 that always contains `+`, `/` and `=`, so a client that does not URL-encode it breaks.
pub(crate) fn random_param() -> String {
    let mut raw = [0u8; 46]; // 46 bytes: not a multiple of 3, so the base64 ends in "=="
    rand::rng().fill(&mut raw);
    raw[3..6].copy_from_slice(&[0xfb, 0xff, 0xbf]); // encodes to "+/+/"
    B64.encode(raw)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sizes() {
        let key = random_key();
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let plain = vec![7u8; len];
            let ct = encrypt(&key, &plain);
            assert_eq!(ct.len() as u64, padded_len(len as u64));
            assert_eq!(decrypt(&key, &ct).as_deref(), Some(&plain[..]));
            assert_eq!(decrypt(&wrong_key_for(&ct, &key), &ct), None);
        }
        assert_eq!(decrypt(&key, &[0u8; 15]), None);
    }

    #[test]
    fn key_encodings() {
        let key = parse_hex_key("84ff44e81724166d95903573ab980b86").unwrap();
        // The value of spec Appendix B.
        assert_eq!(
            b64_hex(&key),
            "ODRmZjQ0ZTgxNzI0MTY2ZDk1OTAzNTczYWI5ODBiODY="
        );
        assert_eq!(B64.decode(b64_raw(&key)).unwrap(), key);
        assert!(parse_hex_key("84ff44e8").is_none());
        assert!(parse_hex_key(&"g".repeat(32)).is_none());
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn params_need_url_encoding() {
        let p = random_param();
        assert!(p.contains("+/+/") && p.ends_with("=="));
        assert_eq!(urlencode("a+b/c= d"), "a%2Bb%2Fc%3D%20d");
    }
}
