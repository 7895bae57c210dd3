//! Wire-level shapes of the iLink protocol: id and token formats, the cursor, inbound message JSON
//! and canned responses. Everything here is pure; state lives in `state.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::types::ExpiryVariant;

/// `errmsg` of the session-expired answer (spec §13).
pub(crate) const SESSION_TIMEOUT: &str = "session timeout";

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    B64.encode(buf)
}

/// `b0f5860fdecb@im.bot`
pub(crate) fn random_bot_id() -> String {
    format!("{}@im.bot", random_hex(6))
}

/// `<bot_id>:<hex secret>` as observed in the wild.
pub(crate) fn random_bot_token(bot_id: &str) -> String {
    format!("{bot_id}:{}", random_hex(20))
}

/// A WeChat user id like `o9cq80xD9Zn1jX9Ilpg1HXYSnyW4@im.wechat`: 28 characters, mixed case.
///
/// Mixed case is guaranteed, because lower-casing peer ids is the classic client bug (#243) that the
/// simulator must be able to catch.
pub(crate) fn random_user_id() -> String {
    let mut rng = rand::rng();
    let mut tail: Vec<u8> = (&mut rng).sample_iter(Alphanumeric).take(22).collect();
    tail[0] = rng.random_range(b'A'..=b'Z');
    tail[1] = rng.random_range(b'a'..=b'z');
    format!("o9cq80{}@im.wechat", String::from_utf8_lossy(&tail))
}

/// A fresh context token: base64 of random bytes, so it contains `+`, `/` and `=` often enough
/// to catch clients that do not echo it byte-exact.
pub(crate) fn random_context_token() -> String {
    random_b64(48)
}

pub(crate) fn random_typing_ticket() -> String {
    random_b64(32)
}

pub(crate) fn random_session_id() -> String {
    random_hex(16)
}

/// Server message ids: unique, increasing, and always above 2^53 (spec §2.4).
#[derive(Debug)]
pub(crate) struct IdGen {
    next: u64,
}

impl IdGen {
    pub(crate) fn new() -> Self {
        // Somewhere in [2^62, 2^62 + 2^60): far above 2^53, far below overflow.
        Self {
            next: (1u64 << 62) + rand::rng().random_range(0..(1u64 << 60)),
        }
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        // Random gaps, so clients cannot get away with assuming consecutive ids.
        self.next += rand::rng().random_range(1..=7);
        self.next
    }
}

/// Encodes the long-poll cursor. It is opaque to clients, who must echo it byte-exact.
pub(crate) fn encode_cursor(bot_id: &str, seq: u64) -> String {
    B64.encode(json!({ "bot": bot_id, "seq": seq }).to_string())
}

/// The last delivered `seq` a cursor stands for; `None` if it is empty, garbled or another bot's,
/// all of which the simulator treats like `""` (start of the retained log).
pub(crate) fn decode_cursor(cursor: &str, bot_id: &str) -> Option<u64> {
    let raw = B64.decode(cursor).ok()?;
    let value: Value = serde_json::from_slice(&raw).ok()?;
    if value.get("bot")?.as_str()? != bot_id {
        return None;
    }
    value.get("seq")?.as_u64()
}

/// Everything needed to render one inbound text message.
#[derive(Debug)]
pub(crate) struct TextMessage<'a> {
    pub seq: u64,
    pub message_id: u64,
    pub item_msg_id: u64,
    pub from: &'a str,
    pub bot_id: &'a str,
    pub create_time_ms: u64,
    pub session_id: &'a str,
    pub context_token: &'a str,
    pub text: &'a str,
}

/// An inbound USER/FINISH text message shaped like spec Appendix B, with a few fields no client
/// knows about (`button_item_list`, `ext_info`, `msg_flag`) so that strict deserializers fail here
/// instead of in production.
pub(crate) fn text_message(m: &TextMessage<'_>) -> Value {
    json!({
        "seq": m.seq,
        "message_id": m.message_id,
        "from_user_id": m.from,
        "to_user_id": m.bot_id,
        "client_id": "",
        "create_time_ms": m.create_time_ms,
        "update_time_ms": m.create_time_ms,
        "session_id": m.session_id,
        "group_id": "",
        "message_type": 1,
        "message_state": 2,
        "context_token": m.context_token,
        "item_list": [{
            "type": 1,
            "msg_id": m.item_msg_id,
            "create_time_ms": m.create_time_ms,
            "update_time_ms": m.create_time_ms,
            "is_completed": true,
            "text_item": { "text": m.text },
            "button_item_list": [],
        }],
        "msg_flag": 0,
        "ext_info": { "source": "imsim" },
    })
}

pub(crate) fn session_expired(variant: ExpiryVariant) -> Value {
    match variant {
        ExpiryVariant::ErrcodeOnly => json!({ "errcode": -14, "errmsg": SESSION_TIMEOUT }),
        ExpiryVariant::RetOnly => json!({ "ret": -14, "errmsg": SESSION_TIMEOUT }),
        ExpiryVariant::Both => json!({ "ret": -14, "errcode": -14, "errmsg": SESSION_TIMEOUT }),
    }
}

pub(crate) fn ret(code: i64, errmsg: &str) -> Value {
    json!({ "ret": code, "errmsg": errmsg })
}

/// Whether an `X-WECHAT-UIN` value is what spec §2.2 says it is: base64 of the decimal ASCII form
/// of a uint32.
pub fn valid_uin(header: &str) -> bool {
    let Ok(raw) = B64.decode(header.trim()) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&raw) else {
        return false;
    };
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u32>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_foreign_or_garbled_input() {
        let c = encode_cursor("abc@im.bot", 42);
        assert_eq!(decode_cursor(&c, "abc@im.bot"), Some(42));
        assert_eq!(decode_cursor(&c, "other@im.bot"), None);
        assert_eq!(decode_cursor("", "abc@im.bot"), None);
        assert_eq!(decode_cursor("!!not base64", "abc@im.bot"), None);
        assert_eq!(decode_cursor(&B64.encode("[1]"), "abc@im.bot"), None);
    }

    #[test]
    fn generated_ids_look_real() {
        let bot = random_bot_id();
        assert_eq!(bot.len(), 12 + "@im.bot".len());
        assert!(random_bot_token(&bot).starts_with(&format!("{bot}:")));
        let user = random_user_id();
        let local = user.strip_suffix("@im.wechat").unwrap();
        assert_eq!(local.len(), 28);
        assert!(local.bytes().any(|b| b.is_ascii_uppercase()));
        assert!(local.bytes().any(|b| b.is_ascii_lowercase()));
        let mut ids = IdGen::new();
        let (a, b) = (ids.next_id(), ids.next_id());
        assert!(a > 1 << 53 && b > a);
    }

    #[test]
    fn uin_validation() {
        assert!(valid_uin("MzczNTkyODU1OQ==")); // 3735928559, the spec's example
        assert!(!valid_uin(&B64.encode("4294967296"))); // u32::MAX + 1
        assert!(!valid_uin(&B64.encode("-1")));
        assert!(!valid_uin(&B64.encode("")));
        assert!(!valid_uin("3735928559")); // not base64-wrapped
    }
}
