//! The signed REST client (spec §4): the account probe, V2 sends and V1 uploads. Every call
//! carries `AppKey`, a fresh `Nonce`, `CurTime` (seconds) and `CheckSum`; every answer is
//! `{"code":200,…}` or becomes a [`NimError`] with the answer's code and its `desc` (V1) or
//! `msg` (V2).

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use channel_core::ChannelError;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use url::Url;

use super::sign;
use crate::config::{Secret, ServerApi};
use crate::nim::{NimError, Sent};

/// Longest wait for one answer. A timeout is reported as NIM code 408, which the channel retries
/// (sends keep their `message_client_id`, so a send whose answer was lost is not stored twice).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Uploads carry up to 15 MB of base64; a slow uplink needs longer than a plain call.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest file `upload.action` takes: its `content` is at most 15 MB of base64 text, and base64
/// spends four characters on three bytes.
pub(crate) const MAX_UPLOAD_BYTES: u64 = 15 * 1024 * 1024 / 4 * 3;

/// Codes for failures that never reached a NIM answer, chosen for their class: 408 timeout and
/// 415 network are retried; 500 is a server error (retried).
const TIMEOUT: i64 = 408;
const NETWORK: i64 = 415;
const SERVER: i64 = 500;
/// NetEase's code for a bad parameter.
const PARAMETER: i64 = 414;

/// The REST side of one account.
#[derive(Debug, Clone)]
pub(crate) struct Rest {
    http: reqwest::Client,
    /// Base of the V2 routes (`/im/v2/…`), without a trailing slash.
    v2_base: String,
    /// Base of the V1 routes (`/nimserver/…`), without a trailing slash.
    v1_base: String,
    app_key: String,
    secret: Secret,
}

impl Rest {
    pub(crate) fn new(api: &ServerApi, app_key: &str) -> Result<Self, ChannelError> {
        // reqwest is built without a TLS provider and refuses to build a client without one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| {
                ChannelError::permanent(format!(
                    "netease-yunxin server-api: cannot build an HTTP client: {e}"
                ))
            })?;
        Ok(Self {
            http,
            v2_base: api.base_url.as_str().trim_end_matches('/').to_owned(),
            v1_base: v1_base(&api.base_url),
            app_key: app_key.to_owned(),
            secret: api.app_secret.clone(),
        })
    }

    /// `GET /im/v2/accounts/{account_id}`: succeeds only when the app key, the app secret and
    /// the account are all right, which is what a login has to prove.
    pub(crate) async fn account(&self, account_id: &str) -> Result<(), NimError> {
        let what = format!("GET /im/v2/accounts/{account_id}");
        let url = format!("{}/im/v2/accounts/{}", self.v2_base, encode(account_id));
        self.call(&what, self.http.get(url)).await.map(drop)
    }

    /// `POST /im/v2/conversations/{conversation_id}/messages` with `{"message": message}` and
    /// the request's other members (`push_config`, `extension`) from `options`.
    pub(crate) async fn send(
        &self,
        conversation_id: &str,
        client_id: &str,
        message: Value,
        options: serde_json::Map<String, Value>,
    ) -> Result<Sent, NimError> {
        let what = format!("POST /im/v2/conversations/{conversation_id}/messages");
        let url = format!(
            "{}/im/v2/conversations/{}/messages",
            self.v2_base,
            encode(conversation_id)
        );
        let mut body = options;
        body.insert("message".into(), message);
        let request = self.http.post(url).json(&body);
        let answer = self.call(&what, request).await?;
        Ok(sent(&answer["data"], client_id))
    }

    /// `POST /im/v2/messages/actions/p2p_read_receipt`: `from` has read `to`'s message
    /// `server_id`.
    pub(crate) async fn p2p_read_receipt(
        &self,
        from: &str,
        to: &str,
        server_id: &str,
    ) -> Result<(), NimError> {
        let what = "POST /im/v2/messages/actions/p2p_read_receipt";
        // NetEase's server ids are numbers on this route; one that is not cannot be marked.
        let server_id: u64 = server_id.parse().map_err(|_| {
            NimError::new(
                PARAMETER,
                format!("{what}: message server id {server_id:?} is not a number"),
            )
        })?;
        let request = self
            .http
            .post(format!("{}/im/v2/messages/actions/p2p_read_receipt", self.v2_base))
            .json(&json!({ "from_account_id": from, "to_account_id": to, "message_server_id": server_id }));
        self.call(what, request).await.map(drop)
    }

    /// `POST /nimserver/msg/upload.action`: stores `content` on NetEase's object storage and
    /// returns its URL, which a media message then carries.
    pub(crate) async fn upload(&self, content: &[u8]) -> Result<String, NimError> {
        let what = "POST /nimserver/msg/upload.action";
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "content",
                &base64::engine::general_purpose::STANDARD.encode(content),
            )
            // The URL is opened by NetEase's apps and by browsers; ask for https.
            .append_pair("ishttps", "true")
            .finish();
        let request = self
            .http
            .post(format!("{}/nimserver/msg/upload.action", self.v1_base))
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .timeout(UPLOAD_TIMEOUT)
            .body(form);
        let answer = self.call(what, request).await?;
        // The URL is at the top level of this answer, not under `data`.
        answer["url"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| NimError::new(SERVER, format!("{what}: the answer has no url")))
    }

    /// Signs, sends and reads one call.
    async fn call(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Value, NimError> {
        let nonce = sign::nonce();
        let cur_time = (channel_core::now_ms() / 1000).to_string();
        let checksum = sign::rest_checksum(self.secret.expose(), &nonce, &cur_time);
        let response = request
            .header("AppKey", &self.app_key)
            .header("Nonce", nonce)
            .header("CurTime", cur_time)
            .header("CheckSum", checksum)
            .send()
            .await
            .map_err(|e| unreachable(what, &e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| unreachable(what, &e))?;
        answer(what, status, &body)
    }
}

/// NetEase serves V1 (`/nimserver/…`) and V2 (`/im/v2/…`) from different hosts (spec §4):
/// `open.yunxinapi.com` → `api.yunxinapi.com`, and the same for Singapore. Any other base URL
/// (a private deployment, a proxy, the simulator) is taken to serve both.
fn v1_base(v2: &Url) -> String {
    match v2.host_str() {
        Some("open.yunxinapi.com") => "https://api.yunxinapi.com".to_owned(),
        Some("open-sg.yunxinapi.com") => "https://api-sg.yunxinapi.com".to_owned(),
        _ => v2.as_str().trim_end_matches('/').to_owned(),
    }
}

/// A NIM answer: the whole answer when its code is 200, else an error with its code and text.
pub(crate) fn answer(what: &str, status: u16, body: &[u8]) -> Result<Value, NimError> {
    let parsed = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object);
    let Some(answer) = parsed else {
        return Err(NimError::new(
            code_for_status(status),
            format!("{what}: HTTP {status} without a NIM answer"),
        ));
    };
    match number(&answer["code"]) {
        Some(200) => Ok(answer),
        Some(code) => {
            let text = ["desc", "msg"]
                .into_iter()
                .find_map(|key| answer[key].as_str().filter(|t| !t.is_empty()))
                .unwrap_or("no description");
            Err(NimError::new(code, format!("{what}: {text}")))
        }
        None => Err(NimError::new(
            code_for_status(status),
            format!("{what}: HTTP {status}, an answer without a code"),
        )),
    }
}

/// A code for an HTTP status that came without a NIM answer (a proxy's or a gateway's page).
fn code_for_status(status: u16) -> i64 {
    match status {
        429 => 416,
        408 | 504 => TIMEOUT,
        200..=299 => SERVER,
        other => i64::from(other),
    }
}

/// What a V2 send stored. NetEase's server SDKs read `message_server_id` as a number; a string
/// is accepted too. A code-200 answer without one is still a stored message, so it is reported
/// as sent (with an empty id) rather than as a failure that would be retried.
pub(crate) fn sent(data: &Value, client_id: &str) -> Sent {
    let server_id = match &data["message_server_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    if server_id.is_empty() {
        tracing::warn!(
            client_id,
            "[netease-yunxin] a send was accepted without a message_server_id"
        );
    }
    Sent {
        message_client_id: data["message_client_id"]
            .as_str()
            .unwrap_or(client_id)
            .to_owned(),
        message_server_id: server_id,
        create_time: number(&data["create_time"]).unwrap_or_default(),
    }
}

/// A number, or a decimal string.
fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A call that got no answer: 408 when it timed out, 415 otherwise (both retried).
fn unreachable(what: &str, error: &reqwest::Error) -> NimError {
    if error.is_timeout() {
        return NimError::new(TIMEOUT, format!("{what}: no answer in time"));
    }
    // reqwest's own text is short ("error sending request"); the cause is in the sources.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    NimError::new(NETWORK, format!("{what}: {text}"))
}

/// Percent-encodes one path segment: account and conversation ids may hold `|`, `@` and `.`.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_results_or_nim_errors() {
        let ok = answer("x", 200, br#"{"code":200,"data":{"a":1}}"#).unwrap();
        assert_eq!(ok["data"]["a"], 1);
        let v1 = answer("x", 200, br#"{"code":414,"desc":"bad from"}"#).unwrap_err();
        assert_eq!((v1.code, v1.desc.as_str()), (414, "x: bad from"));
        let v2 = answer("x", 200, br#"{"code":416,"msg":"too frequently"}"#).unwrap_err();
        assert_eq!((v2.code, v2.desc.as_str()), (416, "x: too frequently"));
        let text_code = answer("x", 200, br#"{"code":"102404","msg":"gone"}"#).unwrap_err();
        assert_eq!(text_code.code, 102404);
        // A gateway's HTML page: the HTTP status decides the class.
        assert_eq!(answer("x", 502, b"<html>").unwrap_err().code, 502);
        assert_eq!(answer("x", 429, b"").unwrap_err().code, 416);
        assert_eq!(answer("x", 200, b"[]").unwrap_err().code, SERVER);
        assert_eq!(answer("x", 500, br#"{"code":500}"#).unwrap_err().code, 500);
    }

    #[test]
    fn server_ids_are_numbers_or_strings() {
        let number = sent(
            &json!({"message_server_id": 1234567890123u64, "message_client_id": "c", "create_time": 17}),
            "fallback",
        );
        assert_eq!(number.message_server_id, "1234567890123");
        assert_eq!(
            (number.message_client_id.as_str(), number.create_time),
            ("c", 17)
        );
        let text = sent(
            &json!({"message_server_id": "99", "create_time": "18"}),
            "fallback",
        );
        assert_eq!(text.message_server_id, "99");
        assert_eq!(
            (text.message_client_id.as_str(), text.create_time),
            ("fallback", 18)
        );
    }

    #[test]
    fn v1_calls_go_to_the_v1_host() {
        let base = |u: &str| v1_base(&Url::parse(u).unwrap());
        assert_eq!(
            base("https://open.yunxinapi.com"),
            "https://api.yunxinapi.com"
        );
        assert_eq!(
            base("https://open-sg.yunxinapi.com/"),
            "https://api-sg.yunxinapi.com"
        );
        assert_eq!(base("http://127.0.0.1:9/nim/"), "http://127.0.0.1:9/nim");
    }

    /// A client like [`Rest::new`]'s, with a short timeout, against `base`.
    fn client(base: &str, timeout: Duration) -> Rest {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Rest {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .no_proxy()
                .build()
                .unwrap(),
            v2_base: base.to_owned(),
            v1_base: base.to_owned(),
            app_key: "k".into(),
            secret: Secret::new("s"),
        }
    }

    #[tokio::test]
    async fn no_answer_is_408_and_no_server_is_415_both_retried() {
        // Accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", silent.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = silent.accept().await {
                held.push(conn);
            }
        });
        let err = client(&base, Duration::from_millis(200))
            .account("bot")
            .await
            .unwrap_err();
        assert_eq!(err.code, TIMEOUT, "{err}");
        assert_eq!(err.kind(), channel_core::ErrorKind::Transient);
        hold.abort();

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let err = client(&base, Duration::from_secs(5))
            .account("bot")
            .await
            .unwrap_err();
        assert_eq!(err.code, NETWORK, "{err}");
        assert!(err.desc.starts_with("GET /im/v2/accounts/bot: "), "{err}");
        assert_eq!(err.kind(), channel_core::ErrorKind::Transient);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("bot|1|a.b@c"), "bot%7C1%7Ca.b%40c");
        assert_eq!(encode("中"), "%E4%B8%AD");
    }
}
