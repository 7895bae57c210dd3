//! NetEase's two signatures (spec §4), lowercase hex throughout:
//!
//! * REST calls: `CheckSum = sha1hex(AppSecret + Nonce + CurTime)`, `CurTime` in **seconds**.
//! * The message-copy webhook: `MD5 = md5hex(raw body)` and
//!   `CheckSum = sha1hex(AppSecret + MD5 + CurTime)`, `CurTime` in **milliseconds**.

use md5::Md5;
use sha1::{Digest as _, Sha1};

/// The `CheckSum` header of a REST call.
pub(crate) fn rest_checksum(secret: &str, nonce: &str, cur_time: &str) -> String {
    sha1_hex(&[secret, nonce, cur_time])
}

/// The `CheckSum` header of a webhook request, over the `MD5` header as sent.
pub(crate) fn webhook_checksum(secret: &str, md5: &str, cur_time: &str) -> String {
    sha1_hex(&[secret, md5, cur_time])
}

/// The `MD5` header of a webhook request: over the raw body bytes.
pub(crate) fn md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// A fresh `Nonce`: 32 random hex digits (NetEase's server SDKs send a dash-less UUID, the same
/// shape; the limit is 128 characters).
pub(crate) fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Compares two hex digests without stopping at the first difference, so the time taken does not
/// tell a forger how much of a guess was right. Case does not matter (hex is hex).
pub(crate) fn same_hex(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| {
        diff | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

fn sha1_hex(parts: &[&str]) -> String {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The webhook body of spec §4's vector, byte for byte.
    const WEBHOOK_BODY: &str = r#"{"eventType":"1","convType":"PERSON","fromAccount":"alice","to":"bot","msgType":"TEXT","body":"hi","msgidClient":"c1","msgidServer":"123","msgTimestamp":"1700000000000"}"#;

    #[test]
    fn rest_checksum_matches_the_spec_vector() {
        assert_eq!(
            rest_checksum("SECRET", "abc123", "1700000000"),
            "a2637ae89fb66a73eaded4a606efc03be64a08d5"
        );
    }

    #[test]
    fn webhook_md5_and_checksum_match_the_spec_vector() {
        let md5 = md5_hex(WEBHOOK_BODY.as_bytes());
        assert_eq!(md5, "c9fb19a95a2050842a21dce2d7e5fcfd");
        assert_eq!(
            webhook_checksum("SECRET", &md5, "1700000000000"),
            "7f12d0272b92fb958df2f858d4aa493fe24f3ae2"
        );
    }

    #[test]
    fn nonces_are_fresh_hex() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn digests_compare_by_value_not_case() {
        assert!(same_hex("c9fb19", "C9FB19"));
        assert!(!same_hex("c9fb19", "c9fb18"));
        assert!(!same_hex("c9fb19", "c9fb1"));
        assert!(same_hex("", ""));
    }
}
