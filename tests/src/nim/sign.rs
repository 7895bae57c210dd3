//! NetEase's two signatures (spec §4), as pure functions so tests and clients can check them.
//!
//! * REST calls: `CheckSum = sha1hex(AppSecret + Nonce + CurTime)`, CurTime in **seconds**.
//! * Message-copy webhook: `MD5 = md5hex(raw body)`, `CheckSum = sha1hex(AppSecret + MD5 +
//!   CurTime)`, CurTime in **milliseconds**.
//!
//! All digests are lowercase hex.

use md5::Md5;
use sha1::{Digest as _, Sha1};

/// `CheckSum` header of a REST call: lowercase hex SHA-1 of `secret + nonce + cur_time`.
pub fn rest_checksum(secret: &str, nonce: &str, cur_time: &str) -> String {
    sha1_hex(&[secret, nonce, cur_time])
}

/// `CheckSum` header of a webhook push: lowercase hex SHA-1 of `secret + md5 + cur_time`.
pub fn webhook_checksum(secret: &str, md5: &str, cur_time: &str) -> String {
    sha1_hex(&[secret, md5, cur_time])
}

/// `MD5` header of a webhook push: lowercase hex MD5 of the raw body bytes.
pub fn md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
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

    // The vectors of spec §4, byte for byte.
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
    fn any_changed_input_changes_the_checksum() {
        let good = rest_checksum("SECRET", "abc123", "1700000000");
        assert_ne!(rest_checksum("SECRET", "abc124", "1700000000"), good);
        assert_ne!(rest_checksum("SECRET", "abc123", "1700000001"), good);
        assert_ne!(rest_checksum("SECRET2", "abc123", "1700000000"), good);
    }
}
