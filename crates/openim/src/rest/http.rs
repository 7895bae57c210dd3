//! Transport helpers shared by the JSON calls, the object PUTs and downloads: operation ids,
//! URLs safe to print, capped body reads and the classification of transport failures.

use std::time::Duration;

use channel_core::{ChannelError, ErrorKind};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

/// Largest JSON answer read. The biggest answers we ask for are pages of 100 group members;
/// anything near this is not an OpenIM answer.
pub(crate) const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// A fresh `operationID`: the server logs it with every line about the request, so a unique
/// one per call lets an operator find our call in the server's logs.
pub(crate) fn operation_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// `scheme://host:port/path` without query or fragment: presigned object URLs carry their
/// signature in the query, and that is a credential for as long as it is valid.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Credentials in the authority are as secret as a signature.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Replaces every occurrence of `secret` (the current token) in server-provided text. The
/// envelope's text is already JWT-scrubbed by `errors::classify`; this also covers opaque
/// tokens and our own messages.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 8 || !text.contains(secret) {
        text.to_owned()
    } else {
        text.replace(secret, "<token>")
    }
}

/// The first bytes of a body, for error messages.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_owned();
    }
    let cut: String = text.chars().take(120).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The last error in a chain: reqwest's own text is "error sending request", the cause says
/// what actually happened ("Connection refused").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A reqwest failure, classified. The URL is dropped from the error first: for presigned
/// object URLs it carries a signature.
pub(crate) fn transport_error(what: &str, err: reqwest::Error, timeout: Duration) -> ChannelError {
    let err = err.without_url();
    if err.is_timeout() {
        return ChannelError::transient(format!(
            "{what}: timed out after {}",
            describe_duration(timeout)
        ));
    }
    if err.is_redirect() {
        return ChannelError::permanent(format!("{what}: redirect refused: {}", root_cause(&err)));
    }
    let how = if err.is_connect() {
        "cannot connect"
    } else if err.is_builder() {
        return ChannelError::bad_input(format!("{what}: bad request: {}", root_cause(&err)));
    } else {
        "transport error"
    };
    ChannelError::transient(format!("{what}: {how}: {}", root_cause(&err)))
}

pub(crate) fn describe_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `Retry-After` in seconds, when a proxy or store sent one.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// What a capped read got.
pub(crate) enum Capped {
    Body(Vec<u8>),
    /// More than the cap arrived; reading stopped there.
    TooLarge,
}

/// Reads a body, stopping as soon as it passes `cap` bytes, so an oversized answer costs at
/// most `cap` bytes of memory.
pub(crate) async fn read_capped(
    what: &str,
    response: &mut reqwest::Response,
    cap: u64,
    timeout: Duration,
) -> Result<Capped, ChannelError> {
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .unwrap_or(0)
            .min(cap)
            .min(1 << 20)
            .try_into()
            .unwrap_or(0),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(what, e, timeout))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Ok(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped::Body(body))
}

/// A non-2xx answer of an object store or media host (not the OpenIM API, whose business
/// answers are all HTTP 200; see `errors::http_status` for those).
pub(crate) fn storage_status(what: &str, status: u16, body: &[u8]) -> ChannelError {
    let kind = match status {
        429 | 503 => ErrorKind::RateLimited,
        408 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    };
    let hint = match status {
        403 => {
            ": access denied (an expired presigned URL, or the object store's external address \
             is misconfigured on the server)"
        }
        404 | 410 => ": not found",
        _ => "",
    };
    let mut message = format!("{what}: HTTP {status}{hint}");
    // S3/MinIO explain themselves in XML; its <Code>/<Message> are safe to show, the rest may
    // echo the signature.
    if let Some(code) = xml_element(body, "Code") {
        message.push_str(&format!(" ({code}"));
        if let Some(text) = xml_element(body, "Message") {
            message.push_str(&format!(": {text}"));
        }
        message.push(')');
    }
    ChannelError::new(kind, message)
}

fn xml_element(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    let value: String = text[start..end].trim().chars().take(200).collect();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_signatures_or_credentials() {
        let url = Url::parse("http://u:p@127.0.0.1:9000/_s3/blob/bot1/a.png?X-Amz-Signature=abc#f")
            .expect("url");
        assert_eq!(
            display_url(&url),
            "http://127.0.0.1:9000/_s3/blob/bot1/a.png"
        );
    }

    #[test]
    fn redaction_replaces_the_token() {
        assert_eq!(
            redact("bad token opaque-123456 here", "opaque-123456"),
            "bad token <token> here"
        );
        assert_eq!(redact("nothing", "opaque-123456"), "nothing");
        // Too short to be a credential worth hunting: replacing it would mangle text.
        assert_eq!(redact("a b c", "b"), "a b c");
    }

    #[test]
    fn storage_errors_keep_only_code_and_message() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>The request signature does not match.</Message>\
            <SignatureProvided>secret-sig</SignatureProvided></Error>";
        let err = storage_status("PUT part 1", 403, body);
        assert_eq!(err.kind, ErrorKind::Permanent);
        assert!(
            err.message
                .starts_with("PUT part 1: HTTP 403: access denied"),
            "{err}"
        );
        assert!(
            err.message.contains("(SignatureDoesNotMatch: The request"),
            "{err}"
        );
        assert!(!err.message.contains("secret-sig"), "{err}");
        assert_eq!(storage_status("x", 502, b"").kind, ErrorKind::Transient);
        assert_eq!(storage_status("x", 503, b"").kind, ErrorKind::RateLimited);
        assert_eq!(
            storage_status("x", 404, b"").message,
            "x: HTTP 404: not found"
        );
    }

    #[test]
    fn operation_ids_are_unique_hex() {
        let a = operation_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, operation_id());
    }

    #[test]
    fn snippets_are_short() {
        assert_eq!(snippet(b"  "), "empty body");
        assert!(snippet("x".repeat(500).as_bytes()).chars().count() <= 121);
    }
}
