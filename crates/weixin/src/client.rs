//! The iLink HTTP client: exact headers and `base_info` (spec §2), and the classification of
//! every failure into a [`ChannelError`] that names the endpoint.

use std::time::Duration;

use base64::Engine;
use channel_core::{ChannelError, ErrorKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::wire::{self, ApiStatus, BaseInfo};

/// The iLink protocol level we speak: that of the official plugin 2.4.9. The server reads the
/// version headers for attribution; matching the reference client keeps us on its code path.
pub const PROTOCOL_VERSION: &str = "2.4.9";
/// `iLink-App-Id` of the official plugin.
pub const APP_ID: &str = "bot";
pub const DEFAULT_BASE_URL: &str = "https://ilinkai.weixin.qq.com";
pub const DEFAULT_BOT_AGENT: &str = "OpenClaw";

/// `iLink-App-ClientVersion`: major·65536 + minor·256 + patch, each part masked to 8 bits.
pub fn client_version(version: &str) -> u32 {
    let mut parts = version
        .split('.')
        .map(|p| p.trim().parse::<u32>().unwrap_or(0) & 0xff);
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major << 16) | (minor << 8) | patch
}

/// A fresh `X-WECHAT-UIN`: a random uint32, as decimal text, base64-encoded.
pub fn wechat_uin() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<u32>().to_string())
}

/// Where and as whom to talk.
#[derive(Clone)]
pub struct Endpoint {
    pub base_url: Url,
    pub token: String,
    pub route_tag: Option<String>,
    pub bot_agent: String,
}

impl std::fmt::Debug for Endpoint {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url.as_str())
            .field("route_tag", &self.route_tag)
            .finish_non_exhaustive()
    }
}

/// Parses a base URL, keeping any path prefix (a trailing `/` is added so joins append).
pub fn parse_base_url(field: &str, raw: &str) -> Result<Url, ChannelError> {
    let mut url = Url::parse(raw.trim())
        .map_err(|e| ChannelError::bad_input(format!("{field}: {e}: {raw:?}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::bad_input(format!(
            "{field}: must be http or https, got {raw:?}"
        )));
    }
    // A join keeps neither, and a `/` appended to the text would land in them, so the path
    // prefix would be cut off silently (found by fuzzing `weixin_config`).
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ChannelError::bad_input(format!(
            "{field}: a base URL cannot have a query (?) or fragment (#), got {raw:?}"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// What the server did with one `sendmessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Accepted {
        message_id: Option<String>,
    },
    /// `ret=-2`: context token expired or consumed, or the peer's 10-message window is used up.
    WindowClosed {
        errmsg: String,
    },
}

/// One bot's API client.
#[derive(Debug, Clone)]
pub struct IlinkClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    base_info: BaseInfo,
}

pub mod timeouts {
    use std::time::Duration;
    pub const SEND: Duration = Duration::from_secs(15);
    pub const CONFIG: Duration = Duration::from_secs(10);
    pub const NOTIFY: Duration = Duration::from_secs(10);
    pub const LONG_POLL: Duration = Duration::from_millis(35_000);
    /// Extra time past the server's hold before we give up on a long poll.
    pub const LONG_POLL_MARGIN: Duration = Duration::from_secs(5);
}

impl IlinkClient {
    pub fn new(endpoint: Endpoint) -> Result<Self, ChannelError> {
        let http = channel_core::http::api_client()?;
        let base_info = BaseInfo {
            channel_version: PROTOCOL_VERSION.into(),
            bot_agent: sanitize_bot_agent(&endpoint.bot_agent),
        };
        Ok(Self {
            http,
            endpoint,
            base_info,
        })
    }

    pub fn base_info(&self) -> &BaseInfo {
        &self.base_info
    }

    pub fn base_url(&self) -> &Url {
        &self.endpoint.base_url
    }

    fn headers(&self) -> Result<HeaderMap, ChannelError> {
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: String| -> Result<(), ChannelError> {
            let value = HeaderValue::from_str(&value).map_err(|_| {
                ChannelError::bad_input(format!("header {name}: not valid header text"))
            })?;
            h.insert(HeaderName::from_static(name), value);
            Ok(())
        };
        put("ilink-app-id", APP_ID.into())?;
        put(
            "ilink-app-clientversion",
            client_version(PROTOCOL_VERSION).to_string(),
        )?;
        if let Some(tag) = &self.endpoint.route_tag {
            put("skroutetag", tag.clone())?;
        }
        put("content-type", "application/json".into())?;
        put("authorizationtype", "ilink_bot_token".into())?;
        put("x-wechat-uin", wechat_uin())?;
        let token = self.endpoint.token.trim();
        if !token.is_empty() {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ChannelError::bad_input("token: contains characters not allowed in a header")
            })?;
            value.set_sensitive(true);
            h.insert(reqwest::header::AUTHORIZATION, value);
        }
        Ok(h)
    }

    /// POSTs `body` to `endpoint` and decodes the answer, classifying every failure.
    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, ChannelError> {
        self.try_post(endpoint, body, timeout)
            .await
            .map_err(|failure| match failure {
                Failure::TimedOut(label) => {
                    ChannelError::transient(format!("{label}: timed out after {timeout:?}"))
                }
                Failure::Error(err) => err,
            })
    }

    async fn try_post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, Failure> {
        let label = endpoint.rsplit('/').next().unwrap_or(endpoint);
        let url = self.endpoint.base_url.join(endpoint).map_err(|e| {
            Failure::Error(ChannelError::bad_input(format!("{label}: bad URL: {e}")))
        })?;
        let response = self
            .http
            .post(url)
            .headers(self.headers().map_err(Failure::Error)?)
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| classify_transport(label, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify_transport(label, &e))?;
        if !status.is_success() {
            let kind = match status.as_u16() {
                429 => ErrorKind::RateLimited,
                500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            };
            let message = format!("{label}: HTTP {}: {}", status.as_u16(), snippet(&bytes));
            return Err(Failure::Error(ChannelError::new(kind, message)));
        }
        decode(label, &bytes).map_err(Failure::Error)
    }

    /// Long-polls for messages. A client-side timeout is the normal "nothing new" answer.
    pub async fn get_updates(
        &self,
        cursor: &str,
        hold: Duration,
    ) -> Result<wire::GetUpdatesResponse, ChannelError> {
        let body = wire::GetUpdatesRequest {
            get_updates_buf: cursor,
            base_info: &self.base_info,
        };
        let result = self
            .try_post(
                "ilink/bot/getupdates",
                &body,
                hold + timeouts::LONG_POLL_MARGIN,
            )
            .await;
        let response: wire::GetUpdatesResponse = match result {
            Ok(response) => response,
            Err(Failure::TimedOut(_)) => {
                return Ok(wire::GetUpdatesResponse {
                    status: ApiStatus::default(),
                    msgs: Vec::new(),
                    get_updates_buf: cursor.to_owned(),
                    longpolling_timeout_ms: None,
                });
            }
            Err(Failure::Error(err)) => return Err(err),
        };
        check("getupdates", &response.status, |_| ErrorKind::Transient)?;
        Ok(response)
    }

    /// Sends one message (one item per request, as the official client does). A `ret=-2` is
    /// not an error here: it is the server saying the peer's window is closed.
    pub async fn send_message(&self, msg: wire::OutboundMessage<'_>) -> Result<Sent, ChannelError> {
        let body = wire::SendMessageRequest {
            msg,
            base_info: &self.base_info,
        };
        let response: wire::SendMessageResponse = self
            .post("ilink/bot/sendmessage", &body, timeouts::SEND)
            .await?;
        if response.status.code() == Some(wire::WINDOW_CLOSED) {
            return Ok(Sent::WindowClosed {
                errmsg: response.status.errmsg.unwrap_or_default(),
            });
        }
        check("sendmessage", &response.status, |code| match code {
            -3 => ErrorKind::BadInput,
            _ => ErrorKind::Permanent,
        })?;
        Ok(Sent::Accepted {
            message_id: response.message_id,
        })
    }

    /// Asks for a pre-signed CDN upload URL (spec §3.5). Returns the complete URL when the server
    /// gave one, else the `upload_param` the caller builds it from.
    pub async fn get_upload_url(
        &self,
        request: &UploadUrlRequest<'_>,
    ) -> Result<UploadTarget, ChannelError> {
        let body = wire::GetUploadUrlRequest {
            filekey: request.filekey,
            media_type: request.media_type,
            to_user_id: request.to_user_id,
            rawsize: request.rawsize,
            rawfilemd5: request.rawfilemd5,
            filesize: request.filesize,
            no_need_thumb: true,
            aeskey: request.aeskey,
            base_info: &self.base_info,
        };
        let response: wire::GetUploadUrlResponse = self
            .post("ilink/bot/getuploadurl", &body, timeouts::SEND)
            .await?;
        let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        if let Some(url) = present(response.upload_full_url) {
            return Ok(UploadTarget::FullUrl(url));
        }
        if let Some(param) = present(response.upload_param) {
            return Ok(UploadTarget::Param(param));
        }
        // `ret` is not checked when a URL came back (spec §3.5); -14 still means a new login.
        if response.status.code() == Some(wire::SESSION_EXPIRED) {
            check("getuploadurl", &response.status, |_| ErrorKind::Permanent)?;
        }
        let detail = match response.status.code() {
            Some(code) => {
                let errmsg = response.status.errmsg.as_deref().unwrap_or("").trim();
                if errmsg.is_empty() {
                    format!(" (code {code})")
                } else {
                    format!(" (code {code} {errmsg:?})")
                }
            }
            None => String::new(),
        };
        Err(ChannelError::permanent(format!(
            "getuploadurl returned no upload URL{detail}: neither `upload_full_url` nor `upload_param`"
        )))
    }

    pub async fn get_config(
        &self,
        user: &str,
        context_token: Option<&str>,
    ) -> Result<wire::GetConfigResponse, ChannelError> {
        let body = wire::GetConfigRequest {
            ilink_user_id: user,
            context_token,
            base_info: &self.base_info,
        };
        let response: wire::GetConfigResponse = self
            .post("ilink/bot/getconfig", &body, timeouts::CONFIG)
            .await?;
        check("getconfig", &response.status, |_| ErrorKind::Transient)?;
        Ok(response)
    }

    pub async fn send_typing(
        &self,
        user: &str,
        ticket: &str,
        active: bool,
    ) -> Result<(), ChannelError> {
        let body = wire::SendTypingRequest {
            ilink_user_id: user,
            typing_ticket: ticket,
            status: if active { 1 } else { 2 },
            base_info: &self.base_info,
        };
        let status: ApiStatus = self
            .post("ilink/bot/sendtyping", &body, timeouts::CONFIG)
            .await?;
        check("sendtyping", &status, |_| ErrorKind::Transient)
    }

    /// Starts a QR login (no credentials needed).
    pub async fn get_bot_qrcode(
        &self,
        local_tokens: &[String],
    ) -> Result<(String, String), ChannelError> {
        let body = wire::QrCodeRequest {
            local_token_list: local_tokens,
        };
        let response: wire::QrCodeResponse = self
            .post(
                "ilink/bot/get_bot_qrcode?bot_type=3",
                &body,
                timeouts::LONG_POLL,
            )
            .await?;
        check("get_bot_qrcode", &response.status, |_| ErrorKind::Transient)?;
        match (response.qrcode, response.qrcode_img_content) {
            (Some(code), Some(url)) if !code.is_empty() && !url.is_empty() => Ok((code, url)),
            _ => Err(ChannelError::transient(
                "get_bot_qrcode: answer lacks `qrcode` or `qrcode_img_content`",
            )),
        }
    }

    /// Long-polls a QR code's state at `base` (the login host, or where the server redirected
    /// us). Only the common headers go with it, as with the official client. Any failure reads
    /// as "still waiting": the next poll tries again.
    pub async fn get_qrcode_status(
        &self,
        base: &Url,
        qrcode: &str,
        verify_code: Option<&str>,
    ) -> wire::QrStatusResponse {
        let mut url = match base.join("ilink/bot/get_qrcode_status") {
            Ok(url) => url,
            Err(_) => return wire::QrStatusResponse::default(),
        };
        url.query_pairs_mut().append_pair("qrcode", qrcode);
        if let Some(code) = verify_code {
            url.query_pairs_mut().append_pair("verify_code", code);
        }
        let mut request = self
            .http
            .get(url)
            .header("iLink-App-Id", APP_ID)
            .header(
                "iLink-App-ClientVersion",
                client_version(PROTOCOL_VERSION).to_string(),
            )
            .timeout(timeouts::LONG_POLL);
        if let Some(tag) = &self.endpoint.route_tag {
            request = request.header("SKRouteTag", tag.as_str());
        }
        let answer = async {
            let response = request.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            serde_json::from_slice(&response.bytes().await.ok()?).ok()
        };
        answer.await.unwrap_or_default()
    }

    pub async fn notify_start(&self) -> Result<(), ChannelError> {
        self.notify("ilink/bot/msg/notifystart").await
    }

    pub async fn notify_stop(&self) -> Result<(), ChannelError> {
        self.notify("ilink/bot/msg/notifystop").await
    }

    async fn notify(&self, endpoint: &'static str) -> Result<(), ChannelError> {
        let body = wire::NotifyRequest {
            base_info: &self.base_info,
        };
        let status: ApiStatus = self.post(endpoint, &body, timeouts::NOTIFY).await?;
        check(
            endpoint.rsplit('/').next().unwrap_or(endpoint),
            &status,
            |_| ErrorKind::Transient,
        )
    }
}

/// What `getuploadurl` is asked for; the client adds `no_need_thumb` and `base_info`.
#[derive(Clone)]
pub struct UploadUrlRequest<'a> {
    pub filekey: &'a str,
    pub media_type: u8,
    pub to_user_id: &'a str,
    pub rawsize: u64,
    pub rawfilemd5: &'a str,
    pub filesize: u64,
    pub aeskey: &'a str,
}

impl std::fmt::Debug for UploadUrlRequest<'_> {
    // The key encrypts the file: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadUrlRequest")
            .field("filekey", &self.filekey)
            .field("media_type", &self.media_type)
            .field("rawsize", &self.rawsize)
            .field("filesize", &self.filesize)
            .finish_non_exhaustive()
    }
}

/// Where to upload: the server's complete URL, or only the parameter to build it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    FullUrl(String),
    Param(String),
}

/// A failed call: timeouts are told apart because a long poll expects them.
enum Failure {
    TimedOut(String),
    Error(ChannelError),
}

fn classify_transport(label: &str, err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        return Failure::TimedOut(label.to_owned());
    }
    let what = if err.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    // The host only: a query may carry a token.
    let to = err
        .url()
        .and_then(|url| {
            let host = url.host_str()?;
            Some(match url.port() {
                Some(port) => format!(" to {host}:{port}"),
                None => format!(" to {host}"),
            })
        })
        .unwrap_or_default();
    Failure::Error(ChannelError::transient(format!(
        "{label}: {what}{to}: {}",
        root_cause(err)
    )))
}

pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The first bytes of a body, for error messages.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let cut: String = text.chars().take(120).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

pub(crate) fn decode<T: DeserializeOwned>(label: &str, bytes: &[u8]) -> Result<T, ChannelError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ChannelError::transient(format!(
            "{label}: empty response body"
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| {
        ChannelError::transient(format!("{label}: response is not JSON: {}", snippet(bytes)))
    })?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        ChannelError::transient(format!(
            "{label}: malformed response at `{}`: {}",
            err.path(),
            err.inner()
        ))
    })
}

/// Turns a non-zero `ret`/`errcode` into an error; `-14` always means a new login is needed.
pub(crate) fn check(
    label: &str,
    status: &ApiStatus,
    kind_of: impl Fn(i64) -> ErrorKind,
) -> Result<(), ChannelError> {
    let Some(code) = status.code() else {
        return Ok(());
    };
    let errmsg = status.errmsg.as_deref().unwrap_or("").trim();
    let detail = if errmsg.is_empty() {
        String::new()
    } else {
        format!(" {errmsg:?}")
    };
    if code == wire::SESSION_EXPIRED {
        return Err(ChannelError::needs_login(format!(
            "{label}: session expired (code -14{detail}); log in again with `openclaw channels login --channel openclaw-weixin`"
        )));
    }
    let hint = match (label, code) {
        ("sendmessage", -2) => {
            ": the context token expired, the peer's 10-message/24 h window is used up, or the text is too long"
        }
        ("sendmessage", -3) => ": the server does not know this recipient (ids are case-sensitive)",
        _ => "",
    };
    Err(ChannelError::new(
        kind_of(code),
        format!("{label}: refused with code {code}{detail}{hint}"),
    ))
}

/// `base_info.bot_agent`: space-separated `name/version` tokens, each optionally followed by a
/// `(comment)`; invalid tokens are dropped and the whole is cut to 256 bytes (spec §2.3).
pub fn sanitize_bot_agent(raw: &str) -> String {
    fn ok_name(s: &str) -> bool {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    }
    fn ok_version(s: &str) -> bool {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
    }
    let mut out = String::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let (token, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = tail.trim_start();
        let mut piece = match token.split_once('/') {
            Some((n, v)) if ok_name(n) && ok_version(v) => token.to_owned(),
            None if ok_name(token) => token.to_owned(),
            _ => continue,
        };
        if let Some(after) = rest.strip_prefix('(')
            && let Some((comment, tail)) = after.split_once(')')
        {
            let printable = comment
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'(');
            if printable && (1..=64).contains(&comment.len()) {
                piece.push_str(&format!(" ({comment})"));
            }
            rest = tail.trim_start();
        }
        if out.len() + piece.len() + 1 > 256 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    if out.is_empty() {
        DEFAULT_BOT_AGENT.into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_version_matches_the_reference_plugin() {
        assert_eq!(client_version("2.4.9"), 132_105);
        assert_eq!(client_version("2.1.1"), 131_329);
        assert_eq!(client_version("garbage"), 0);
    }

    #[test]
    fn uin_is_base64_of_a_decimal_u32() {
        for _ in 0..50 {
            let uin = wechat_uin();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&uin)
                .expect("base64");
            let text = String::from_utf8(raw).expect("ascii");
            text.parse::<u32>().expect("decimal u32");
        }
    }

    #[test]
    fn bot_agent_is_sanitized() {
        assert_eq!(sanitize_bot_agent(""), "OpenClaw");
        assert_eq!(
            sanitize_bot_agent("OpenClaw imbridge/0.1 (rust)"),
            "OpenClaw imbridge/0.1 (rust)"
        );
        assert_eq!(sanitize_bot_agent("bad!name/1 Good/2"), "Good/2");
        assert!(sanitize_bot_agent(&"a/1 ".repeat(200)).len() <= 256);
    }

    #[test]
    fn base_urls_keep_their_path_prefix() {
        let url = parse_base_url("baseUrl", "http://127.0.0.1:9/prefix").expect("parse");
        assert_eq!(
            url.join("ilink/bot/getupdates").expect("join").as_str(),
            "http://127.0.0.1:9/prefix/ilink/bot/getupdates"
        );
        assert!(parse_base_url("baseUrl", "ftp://x").is_err());
        let err = parse_base_url("accounts.a.baseUrl", "::").expect_err("bad");
        assert!(err.message.contains("accounts.a.baseUrl"), "{err}");
    }

    #[test]
    fn base_urls_with_a_query_or_fragment_are_refused() {
        for raw in [
            "https://h/prefix?x=1",
            "https://h/prefix#/other/",
            "https://h/?",
        ] {
            let err = parse_base_url("baseUrl", raw).expect_err(raw);
            assert_eq!(err.kind, ErrorKind::BadInput);
            assert!(err.message.contains("query (?) or fragment (#)"), "{err}");
        }
    }

    #[test]
    fn decode_names_what_is_wrong() {
        let err = decode::<wire::GetUpdatesResponse>("getupdates", b"<html>oops</html>")
            .expect_err("html");
        assert!(err.message.contains("not JSON"), "{err}");
        let err = decode::<wire::GetUpdatesResponse>("getupdates", br#"{"msgs":"nope"}"#)
            .expect_err("shape");
        assert!(err.message.contains("msgs"), "{err}");
        assert_eq!(err.kind, ErrorKind::Transient);
        let err = decode::<wire::GetUpdatesResponse>("getupdates", b"  ").expect_err("empty");
        assert!(err.message.contains("empty"), "{err}");
    }

    #[test]
    fn session_expiry_needs_login_and_send_codes_explain_themselves() {
        let expired = ApiStatus {
            errcode: Some(-14),
            ..ApiStatus::default()
        };
        assert_eq!(
            check("getupdates", &expired, |_| ErrorKind::Transient)
                .expect_err("-14")
                .kind,
            ErrorKind::NeedsLogin
        );
        let refused = ApiStatus {
            ret: Some(-2),
            errmsg: Some(String::new()),
            ..ApiStatus::default()
        };
        let err = check("sendmessage", &refused, |_| ErrorKind::Permanent).expect_err("-2");
        assert!(err.message.contains("window"), "{err}");
    }
}
