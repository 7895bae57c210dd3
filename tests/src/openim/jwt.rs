//! HS256 JWTs as the OpenIM server issues and checks them (spec §4), hand-rolled on `hmac` + `sha2`
//! so that every failure maps onto the exact error code golang-jwt v4 + OpenIM tools produce.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::errs::{CodeError, code};

type HmacSha256 = Hmac<Sha256>;

/// The claims the server puts in a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub user_id: String,
    pub platform_id: i32,
    /// Unix seconds.
    pub exp: i64,
    pub iat: i64,
}

/// Signs `{"UserID","PlatformID","exp","iat"}` with HS256 (header `{"alg":"HS256","typ":"JWT"}`).
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = json!({
        "UserID": claims.user_id,
        "PlatformID": claims.platform_id,
        "exp": claims.exp,
        "iat": claims.iat,
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signing_input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{sig}")
}

fn mac(secret: &[u8], input: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(input);
    m.finalize().into_bytes().to_vec()
}

/// golang-jwt's `DecodeSegment`: base64url, padding optional.
fn decode_segment(seg: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(seg)
        .or_else(|_| URL_SAFE.decode(seg))
        .ok()
}

/// Checks signature and time claims the way golang-jwt v4 does, then maps the error bits the way
/// OpenIM's `tokenverify` does: malformed → 1503, expired → 1501, not valid yet → 1504, anything
/// else (bad signature, unknown alg, `iat` in the future) → 1505. `now` is in unix seconds.
pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<Claims, CodeError> {
    let malformed = |why: &str| CodeError::new(code::TOKEN_MALFORMED, why.to_owned());
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed("token contains an invalid number of segments"));
    }
    let header: Value = decode_segment(parts[0])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("token header is not base64url JSON"))?;
    let payload: Value = decode_segment(parts[1])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("token claims are not base64url JSON"))?;
    let Value::Object(claims) = payload else {
        return Err(malformed("token claims are not a JSON object"));
    };
    let user_id = match claims.get("UserID") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(malformed("claim UserID is not a string")),
    };
    let platform_id = match claims.get("PlatformID") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| malformed("claim PlatformID is not an int"))?,
    };
    let time = |key: &str| -> Result<Option<i64>, CodeError> {
        match claims.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|f| Some(f as i64))
                .ok_or_else(|| malformed(&format!("claim {key} is not a number"))),
        }
    };
    let exp = time("exp")?;
    let iat = time("iat")?;
    let nbf = time("nbf")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        alg,
        "HS256"
            | "HS384"
            | "HS512"
            | "RS256"
            | "RS384"
            | "RS512"
            | "ES256"
            | "ES384"
            | "ES512"
            | "PS256"
            | "PS384"
            | "PS512"
            | "EdDSA"
            | "none"
    ) {
        return Err(CodeError::new(
            code::TOKEN_UNKNOWN,
            format!("signing method {alg:?} is unavailable"),
        ));
    }
    // golang-jwt v4 validates the claims first and then the signature, OR-ing the error bits.
    let expired = exp.is_some_and(|exp| now >= exp);
    let not_yet = nbf.is_some_and(|nbf| now < nbf);
    let iat_future = iat.is_some_and(|iat| iat > now);
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let sig_ok = alg == "HS256"
        && decode_segment(parts[2]).is_some_and(|sig| {
            let mut m = match HmacSha256::new_from_slice(secret) {
                Ok(m) => m,
                Err(_) => return false,
            };
            m.update(signing_input.as_bytes());
            m.verify_slice(&sig).is_ok()
        });
    if expired {
        return Err(CodeError::new(code::TOKEN_EXPIRED, "token is expired"));
    }
    if not_yet {
        return Err(CodeError::new(
            code::TOKEN_NOT_VALID_YET,
            "token is not valid yet",
        ));
    }
    if iat_future {
        return Err(CodeError::new(
            code::TOKEN_UNKNOWN,
            "token used before issued",
        ));
    }
    if !sig_ok {
        return Err(CodeError::new(code::TOKEN_UNKNOWN, "signature is invalid"));
    }
    Ok(Claims {
        user_id,
        platform_id,
        exp: exp.unwrap_or(0),
        iat: iat.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            user_id: "bot1".into(),
            platform_id: 7,
            exp,
            iat: 995,
        }
    }

    #[test]
    fn round_trip_and_codes() {
        let t = sign(b"openIM123", &claims(2000));
        assert_eq!(verify(b"openIM123", &t, 1000).unwrap(), claims(2000));
        assert_eq!(verify(b"other", &t, 1000).unwrap_err().code, 1505);
        assert_eq!(verify(b"openIM123", &t, 2000).unwrap_err().code, 1501);
        // expired wins over a bad signature, as in golang-jwt v4 + tokenverify
        assert_eq!(verify(b"other", &t, 3000).unwrap_err().code, 1501);
        assert_eq!(verify(b"openIM123", &t, 900).unwrap_err().code, 1505);
        assert_eq!(verify(b"openIM123", "abc", 1000).unwrap_err().code, 1503);
        assert_eq!(verify(b"openIM123", "a.b.c", 1000).unwrap_err().code, 1503);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let nbf = URL_SAFE_NO_PAD.encode(br#"{"UserID":"u","PlatformID":1,"nbf":5000}"#);
        assert_eq!(
            verify(b"k", &format!("{header}.{nbf}.x"), 1000)
                .unwrap_err()
                .code,
            1504
        );
    }
}
