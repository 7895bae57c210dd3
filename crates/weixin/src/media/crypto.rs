//! Media crypto (spec §10): AES-128-ECB with PKCS#7 over the whole file, MD5 of the plaintext,
//! and the encodings a key travels in.

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyInit as _};
use md5::{Digest as _, Md5};

/// A 16-byte AES-128 key.
pub type Key = [u8; 16];

/// Why a ciphertext did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// Empty, or not a whole number of 16-byte blocks.
    NotBlocks(usize),
    /// The last block's PKCS#7 padding is wrong: the key does not fit.
    BadPadding,
}

pub fn random_key() -> Key {
    rand::random()
}

pub fn encrypt(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    ecb::Encryptor::<Aes128>::new(key.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

pub fn decrypt(key: &Key, ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(DecryptError::NotBlocks(ciphertext.len()));
    }
    ecb::Decryptor::<Aes128>::new(key.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| DecryptError::BadPadding)
}

/// Ciphertext size of `rawsize` plaintext bytes: `ceil((rawsize+1)/16)*16` (PKCS#7 always adds
/// 1–16 bytes).
pub fn padded_len(rawsize: u64) -> u64 {
    (rawsize / 16 + 1) * 16
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// 32 hex digits → key.
pub fn key_from_hex(text: &str) -> Option<Key> {
    let text = text.trim();
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

/// `media.aes_key` (spec §10.2): base64 of the 16 raw bytes, or base64 of their 32-char hex
/// spelling (what the official client sends).
pub fn key_from_base64(text: &str) -> Option<Key> {
    let raw = B64
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim()))
        .ok()?;
    match raw.len() {
        16 => raw.try_into().ok(),
        32 => key_from_hex(std::str::from_utf8(&raw).ok()?),
        _ => None,
    }
}

/// The message's `media.aes_key` for a key we generated: base64 of the hex string (§10.1).
pub fn aes_key_field(key: &Key) -> String {
    B64.encode(hex::encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        let key = random_key();
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let plain = vec![7u8; len];
            let sealed = encrypt(&key, &plain);
            assert_eq!(sealed.len() as u64, padded_len(len as u64));
            assert_eq!(decrypt(&key, &sealed).as_deref(), Ok(&plain[..]));
        }
        assert_eq!(decrypt(&key, &[0u8; 15]), Err(DecryptError::NotBlocks(15)));
        assert_eq!(decrypt(&key, &[]), Err(DecryptError::NotBlocks(0)));
    }

    #[test]
    fn a_wrong_key_is_bad_padding_not_a_panic() {
        let key = random_key();
        let sealed = encrypt(&key, b"hello world, this is a file");
        let mut seen_bad_padding = false;
        for _ in 0..64 {
            let other = random_key();
            if let Err(err) = decrypt(&other, &sealed) {
                assert_eq!(err, DecryptError::BadPadding);
                seen_bad_padding = true;
            }
        }
        assert!(seen_bad_padding);
    }

    #[test]
    fn keys_decode_in_every_documented_encoding() {
        let hex = "84ff44e81724166d95903573ab980b86";
        let key = key_from_hex(hex).expect("hex");
        // Spec Appendix B: base64 of the hex string.
        assert_eq!(
            key_from_base64("ODRmZjQ0ZTgxNzI0MTY2ZDk1OTAzNTczYWI5ODBiODY="),
            Some(key)
        );
        assert_eq!(
            aes_key_field(&key),
            "ODRmZjQ0ZTgxNzI0MTY2ZDk1OTAzNTczYWI5ODBiODY="
        );
        assert_eq!(key_from_base64(&B64.encode(key)), Some(key));
        assert_eq!(key_from_hex(&hex.to_uppercase()), Some(key));
        assert_eq!(key_from_hex("84ff"), None);
        assert_eq!(key_from_hex(&"g".repeat(32)), None);
        assert_eq!(key_from_base64("not base64!"), None);
        assert_eq!(key_from_base64(&B64.encode([1u8; 20])), None);
        assert_eq!(key_from_base64(&B64.encode("z".repeat(32))), None);
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
