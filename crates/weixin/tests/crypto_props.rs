//! Media crypto round trips: AES-128-ECB with PKCS#7 over any file and key, and the key
//! encodings a message carries.

use proptest::prelude::*;
use weixin::media::crypto::{
    aes_key_field, decrypt, encrypt, key_from_base64, key_from_hex, padded_len,
};

proptest! {
    #[test]
    fn files_decrypt_to_what_was_encrypted(key in any::<[u8; 16]>(), plain in proptest::collection::vec(any::<u8>(), 0..600)) {
        let sealed = encrypt(&key, &plain);
        prop_assert_eq!(sealed.len() as u64, padded_len(plain.len() as u64));
        prop_assert_eq!(decrypt(&key, &sealed).expect("decrypts"), plain);
    }

    #[test]
    fn keys_survive_every_encoding(key in any::<[u8; 16]>()) {
        prop_assert_eq!(key_from_base64(&aes_key_field(&key)), Some(key));
        prop_assert_eq!(key_from_hex(&hex_of(&key)), Some(key));
        prop_assert_eq!(key_from_hex(&hex_of(&key).to_uppercase()), Some(key));
    }

    #[test]
    fn a_cut_ciphertext_is_refused(key in any::<[u8; 16]>(), plain in proptest::collection::vec(any::<u8>(), 1..100), cut in 1usize..16) {
        let sealed = encrypt(&key, &plain);
        prop_assert!(decrypt(&key, &sealed[..sealed.len() - cut]).is_err());
    }
}

fn hex_of(key: &[u8; 16]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}
