//! The claims of an OpenIM user token (spec §4), decoded without verifying the signature.
//!
//! Only the server holds the HS256 secret, and it judges the token at every connect; we read
//! the claims to fill in `userID`/`platformID` when the config leaves them out (the gateway
//! refuses a connection whose `sendID`/`platformID` differ from the claims) and to see `exp`
//! coming. Errors never contain the token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use channel_core::ChannelError;
use serde_json::{Map, Value};

/// What an OpenIM token says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `UserID`: the `sendID` to connect with.
    pub user_id: String,
    /// `PlatformID`: the `platformID` to connect with.
    pub platform_id: i32,
    /// `exp`, Unix seconds. Every server sets it (default 90 days after issue).
    pub expires_at: Option<i64>,
    /// `iat`, Unix seconds.
    pub issued_at: Option<i64>,
    /// `nbf`, Unix seconds (servers up to 3.8.2 only).
    pub not_before: Option<i64>,
}

impl Claims {
    /// Whether the server would answer 1501 at `now_unix` (it accepts only `now < exp`).
    pub fn is_expired_at(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now_unix)
    }

    /// Time left before `exp` (zero once passed), or `None` if the token never expires.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        let exp = self.expires_at?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Some(Duration::from_secs(
            u64::try_from(exp.saturating_sub(now)).unwrap_or(0),
        ))
    }
}

/// Decodes the claims of `token`. Malformed tokens and missing or mistyped claims are
/// `BadInput` errors that say what is wrong, prefixed with `token:`.
pub fn decode(token: &str) -> Result<Claims, ChannelError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(bad("empty"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(bad(format!(
            "not a JWT: expected three dot-separated parts (header.claims.signature), found {}",
            parts.len()
        )));
    }
    if parts[0].is_empty() || parts[1].is_empty() {
        return Err(bad("not a JWT: the header or claims part is empty"));
    }
    jsonwebtoken::decode_header(token).map_err(|e| bad(format!("header: {}", describe(&e))))?;
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode(token)
        .map_err(|e| bad(format!("claims: {}", describe(&e))))?
        .claims;
    let user_id = match claims.get("UserID") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(bad("claims: UserID is empty")),
        Some(other) => {
            return Err(bad(format!(
                "claims: UserID must be a string, got {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(bad(
                "claims: UserID is missing (is this an OpenIM user token?)",
            ));
        }
    };
    let platform_id = match claims.get("PlatformID") {
        Some(Value::Number(n)) => {
            n.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| {
                    bad(format!(
                        "claims: PlatformID must be a small integer, got {n}"
                    ))
                })?
        }
        Some(other) => {
            return Err(bad(format!(
                "claims: PlatformID must be an integer, got {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(bad(
                "claims: PlatformID is missing (is this an OpenIM user token?)",
            ));
        }
    };
    Ok(Claims {
        user_id,
        platform_id,
        expires_at: numeric_date(&claims, "exp")?,
        issued_at: numeric_date(&claims, "iat")?,
        not_before: numeric_date(&claims, "nbf")?,
    })
}

/// A JWT NumericDate: seconds, integer or fractional.
fn numeric_date(claims: &Map<String, Value>, key: &str) -> Result<Option<i64>, ChannelError> {
    match claims.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| bad(format!("claims: {key} is out of range"))),
        Some(other) => Err(bad(format!(
            "claims: {key} must be a number of seconds, got {}",
            kind_of(other)
        ))),
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::InvalidToken => "not a JWT".to_owned(),
        K::Base64(e) => format!("not base64url: {e}"),
        K::Utf8(e) => format!("not UTF-8: {e}"),
        K::Json(e) => format!("not valid JSON: {e}"),
        other => format!("{other:?}"),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn bad(message: impl std::fmt::Display) -> ChannelError {
    ChannelError::bad_input(format!("token: {message}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use channel_core::ErrorKind;

    use super::*;

    /// A token with the given claims, signed with nothing in particular.
    pub(crate) fn token_with(claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{claims}.c2lnbmF0dXJl")
    }

    pub(crate) fn user_token(user: &str, platform: i64) -> String {
        token_with(&serde_json::json!({
            "UserID": user, "PlatformID": platform, "exp": 4_102_444_800_i64, "iat": 1_700_000_000
        }))
    }

    #[test]
    fn decodes_an_openim_token() {
        let claims = decode(&user_token("bot1", 7)).expect("decode");
        assert_eq!(
            claims,
            Claims {
                user_id: "bot1".into(),
                platform_id: 7,
                expires_at: Some(4_102_444_800),
                issued_at: Some(1_700_000_000),
                not_before: None,
            }
        );
        assert!(!claims.is_expired_at(1_763_800_000));
        assert!(claims.is_expired_at(4_102_444_800));
    }

    #[test]
    fn decodes_older_servers_tokens_with_nbf_and_fractional_dates() {
        let token = token_with(&serde_json::json!({
            "UserID": "u", "PlatformID": 5, "exp": 1000.9, "iat": 10, "nbf": -290, "extra": [1]
        }));
        let claims = decode(&format!("  {token}\n")).expect("decode");
        assert_eq!(claims.expires_at, Some(1000));
        assert_eq!(claims.not_before, Some(-290));
        let now = UNIX_EPOCH + Duration::from_secs(400);
        assert_eq!(claims.remaining(now), Some(Duration::from_secs(600)));
        assert_eq!(
            claims.remaining(UNIX_EPOCH + Duration::from_secs(5000)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn the_signature_is_not_checked() {
        let token = user_token("bot1", 7);
        let (unsigned, _) = token.rsplit_once('.').expect("dots");
        assert_eq!(
            decode(&format!("{unsigned}.bm90IGEgc2lnbmF0dXJl"))
                .expect("decode")
                .user_id,
            "bot1"
        );
        assert_eq!(
            decode(&format!("{unsigned}."))
                .expect("empty sig")
                .platform_id,
            7
        );
    }

    #[test]
    fn malformed_tokens_say_why_without_echoing_the_token() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "token: empty"),
            ("  ".into(), "token: empty"),
            (
                "secretsecret".into(),
                "expected three dot-separated parts (header.claims.signature), found 1",
            ),
            (
                "a.b.c.d".into(),
                "not a JWT: expected three dot-separated parts",
            ),
            (
                format!(".{}.x", claims(serde_json::json!({}))),
                "the header or claims part is empty",
            ),
            (format!("{header}.***.x"), "claims: not base64url"),
            (
                format!("***.{}.x", claims(serde_json::json!({}))),
                "header: not base64url",
            ),
            (
                format!(
                    "{}.{}.x",
                    URL_SAFE_NO_PAD.encode("nope"),
                    claims(serde_json::json!({}))
                ),
                "header: not valid JSON",
            ),
            (
                format!(
                    "{}.{}.x",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                    claims(serde_json::json!({}))
                ),
                "header: not valid JSON",
            ),
            (
                format!("{header}.{}.x", URL_SAFE_NO_PAD.encode("[1]")),
                "claims: not valid JSON",
            ),
            (
                format!("{header}.{}.x", URL_SAFE_NO_PAD.encode([0xff, 0xfe])),
                "claims: not valid JSON",
            ),
            (
                token_with(&serde_json::json!({"PlatformID": 7})),
                "claims: UserID is missing",
            ),
            (
                token_with(&serde_json::json!({"UserID": "", "PlatformID": 7})),
                "claims: UserID is empty",
            ),
            (
                token_with(&serde_json::json!({"UserID": 42, "PlatformID": 7})),
                "UserID must be a string, got a number",
            ),
            (
                token_with(&serde_json::json!({"UserID": "u"})),
                "claims: PlatformID is missing",
            ),
            (
                token_with(&serde_json::json!({"UserID": "u", "PlatformID": "7"})),
                "PlatformID must be an integer, got a string",
            ),
            (
                token_with(&serde_json::json!({"UserID": "u", "PlatformID": 7.5})),
                "PlatformID must be a small integer",
            ),
            (
                token_with(&serde_json::json!({"UserID": "u", "PlatformID": 7, "exp": "soon"})),
                "claims: exp must be a number of seconds",
            ),
        ];
        for (token, expected) in cases {
            let err = decode(&token).expect_err(expected);
            assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
            assert!(err.message.starts_with("token: "), "{err}");
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
            if token.len() > 8 {
                assert!(!err.message.contains(&token), "{err}");
            }
        }
    }
}
