//! Mode `http`: one refresh request built from `tokenRefresh.http`, and its answer.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::{ChannelError, ErrorKind};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use super::files::expand_home;
use super::key;
use super::template::{Filler, StateView, first_string, scrub};
use crate::config::HttpRefresh;

/// Larger answers are refused: a token response is a few kilobytes at most.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A refresh request with every template filled in, ready to send.
#[derive(Debug)]
pub(super) struct Request {
    url: reqwest::Url,
    method: reqwest::Method,
    headers: HeaderMap,
    body: Option<Body>,
    /// `clearOnSuccess`, filled in now so a bad template fails before the refresh, not after.
    pub(super) clear_on_success: Vec<PathBuf>,
    /// Everything that may be a credential: state values, header values, body strings.
    pub(super) secrets: Vec<String>,
}

#[derive(Debug)]
enum Body {
    Json(Value),
    Text(String),
}

/// `tokenRefresh.http.stateFile` with `~/` expanded.
pub(super) fn state_path(http: &HttpRefresh, home: Option<&Path>) -> Option<PathBuf> {
    http.state_file.as_deref().map(|p| expand_home(p, home))
}

/// Fills the templates from a fresh read of the state file. Errors are config problems
/// ([`ErrorKind::BadInput`]): a retry would fill them the same way.
pub(super) fn prepare(
    http: &HttpRefresh,
    account_id: &str,
    home: Option<&Path>,
) -> Result<Request, ChannelError> {
    let state = StateView::load(state_path(http, home).as_deref())?;
    let mut filler = Filler::new(account_id, &state);
    let url = endpoint(&mut filler, &http.endpoint)?;
    let method = reqwest::Method::from_bytes(http.method.as_bytes())
        .map_err(|_| ChannelError::bad_input(format!("{}: invalid", key("http.method"))))?;
    let mut secrets = Vec::new();
    let mut headers = HeaderMap::new();
    for (name, template) in &http.headers {
        let at = key(&format!("http.headers.{name}"));
        let value = filler.fill(template, &at)?;
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ChannelError::bad_input(format!("{at}: not a valid header name")))?;
        let mut header_value = HeaderValue::from_str(&value).map_err(|_| {
            ChannelError::bad_input(format!(
                "{at}: the filled-in value is not a valid header value (control characters?)"
            ))
        })?;
        header_value.set_sensitive(true);
        headers.append(header, header_value);
        secrets.push(value);
    }
    let body = match &http.body {
        None => None,
        Some(Value::String(template)) => {
            let text = filler.fill(template, &key("http.body"))?;
            secrets.push(text.clone());
            Some(Body::Text(text))
        }
        Some(template) => {
            let value = filler.fill_json(template, &key("http.body"))?;
            collect_strings(&value, &mut secrets);
            Some(Body::Json(value))
        }
    };
    let clear_on_success = http
        .clear_on_success
        .iter()
        .enumerate()
        .map(|(i, template)| {
            let at = key(&format!("http.clearOnSuccess.{i}"));
            let path = filler.fill(template, &at)?;
            // These files are deleted: a value must not point the deletion elsewhere.
            crate::config::paths::confine(template, &path, home, &at)
        })
        .collect::<Result<_, ChannelError>>()?;
    secrets.append(&mut filler.secrets);
    // The account id is in every path and log line: it is no secret, and scrubbing it would
    // garble the messages that name it.
    secrets.retain(|s| s != account_id);
    Ok(Request {
        url,
        method,
        headers,
        body,
        clear_on_success,
        secrets,
    })
}

fn endpoint(filler: &mut Filler<'_>, template: &str) -> Result<reqwest::Url, ChannelError> {
    let at = key("http.endpoint");
    let filled = filler.fill_url(template, &at)?;
    // The filled-in URL may carry a state value (an API key in the query): only the template
    // is ever named.
    let url = reqwest::Url::parse(filled.trim()).map_err(|e| {
        ChannelError::bad_input(format!(
            "{at}: {template:?} with its placeholders filled in is not a URL ({e})"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::bad_input(format!(
            "{at}: {template:?} with its placeholders filled in is not an http(s) URL"
        )));
    }
    Ok(url)
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Sends the request and returns the JSON answer. Every failure here is worth a retry.
pub(super) async fn send(
    client: &reqwest::Client,
    http: &HttpRefresh,
    request: &Request,
) -> Result<Value, ChannelError> {
    let what = format!(
        "token refresh {} {} ({})",
        http.method,
        http.endpoint,
        key("http.endpoint")
    );
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .timeout(http.timeout)
        .headers(request.headers.clone());
    // A configured content-type wins; otherwise what fetch would send for this body.
    let default_type = |builder: reqwest::RequestBuilder, value: &'static str| {
        if request.headers.contains_key(CONTENT_TYPE) {
            builder
        } else {
            builder.header(CONTENT_TYPE, value)
        }
    };
    builder = match &request.body {
        None => builder,
        Some(Body::Json(value)) => {
            default_type(builder, "application/json").body(value.to_string())
        }
        Some(Body::Text(text)) => {
            default_type(builder, "text/plain;charset=UTF-8").body(text.clone())
        }
    };
    let response = builder
        .send()
        .await
        .map_err(|e| transport(&what, http.timeout, &e, &request.secrets))?;
    let status = response.status();
    if !status.is_success() {
        return Err(status_error(&what, status, response.headers()));
    }
    let bytes = read_capped(response, &what, http.timeout, &request.secrets).await?;
    // The body may echo what was sent; parse errors name only the position.
    serde_json::from_slice(&bytes).map_err(|e| {
        ChannelError::transient(format!(
            "{what}: HTTP {} but the answer is not JSON ({e})",
            status.as_u16()
        ))
    })
}

/// The new token: the first `responseTokenPath` that holds a non-empty string.
pub(super) fn token(http: &HttpRefresh, answer: &Value) -> Result<String, ChannelError> {
    first_string(answer, &http.response_token_paths).ok_or_else(|| {
        ChannelError::transient(format!(
            "token refresh {}: the answer has no token at {} (tried {})",
            http.endpoint,
            key("http.responseTokenPath"),
            http.response_token_paths.join(", ")
        ))
    })
}

fn transport(
    what: &str,
    timeout: Duration,
    err: &reqwest::Error,
    secrets: &[String],
) -> ChannelError {
    if err.is_timeout() {
        return ChannelError::transient(format!(
            "{what}: no answer within {} ms ({})",
            timeout.as_millis(),
            key("http.timeoutMs")
        ));
    }
    // reqwest's own text is a generic "error sending request"; the cause is further down.
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let url = err.url().map(reqwest::Url::as_str);
    let text = url.map_or(text.clone(), |u| text.replace(u, "<url>"));
    let how = if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    ChannelError::transient(format!("{what}: {how}: {}", scrub(&text, secrets)))
}

fn status_error(what: &str, status: reqwest::StatusCode, headers: &HeaderMap) -> ChannelError {
    let message = format!("{what}: HTTP {status}");
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let err = ChannelError::new(ErrorKind::RateLimited, message);
        return match after {
            Some(secs) => err.with_retry_after(Duration::from_secs(secs)),
            None => err,
        };
    }
    ChannelError::transient(message)
}

async fn read_capped(
    mut response: reqwest::Response,
    what: &str,
    timeout: Duration,
    secrets: &[String],
) -> Result<Vec<u8>, ChannelError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport(what, timeout, &e, secrets))?
    {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ChannelError::transient(format!(
                "{what}: the answer is larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
