//! The REST listener: routes, the signature gate every call passes first, the answer envelopes
//! and the account probe. The two sends are in `send.rs`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::send;
use super::sign::rest_checksum;
use super::state::Shared;
use super::types::{NimCall, NimFault};
use super::upload;
use crate::http::{header_map, now_ms};

/// Largest request body read: an upload of 15 MB of base64 text, form-encoded (`+`, `/` and `=`
/// grow to three characters each), fits with room to spare.
const MAX_BODY: usize = 24 * 1024 * 1024;

/// NIM result codes the simulator answers (spec §1.2, §4).
pub(crate) mod code {
    pub const OK: i64 = 200;
    pub const NOT_FOUND: i64 = 404;
    pub const PARAMETER: i64 = 414;
    pub const RATE_LIMIT: i64 = 416;
    pub const SERVER: i64 = 500;
    pub const ACCOUNT_NOT_EXIST: i64 = 102404;
    pub const TEAM_NOT_EXIST: i64 = 108404;
    pub const NOT_TEAM_MEMBER: i64 = 109404;
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    // Downloads of uploaded files are not signed (NOS links are public), and the admin calls
    // are the simulator's own, so both stay outside the gate.
    let store = Router::new().route("/nos/{id}", get(upload::download));
    Router::new()
        .route("/nimserver/msg/sendMsg.action", post(send::v1_send))
        .route(
            "/nimserver/msg/upload.action",
            // The gate already bounds the body; axum's 2 MB default would refuse uploads.
            post(upload::v1_upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/im/v2/conversations/{conversation_id}/messages",
            post(send::v2_send),
        )
        .route(
            "/im/v2/messages/actions/p2p_read_receipt",
            post(send::v2_read_receipt),
        )
        .route("/im/v2/accounts/{account_id}", get(account))
        .fallback(unknown_path)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .merge(store)
        .merge(super::admin::routes())
        .with_state(shared)
}

/// Which envelope a path answers with: V1 `{code, desc}` or V2 `{code, msg, data}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    V1,
    V2,
}

impl Api {
    fn of(path: &str) -> Api {
        if path.starts_with("/nimserver/") {
            Api::V1
        } else {
            Api::V2
        }
    }
}

/// The NIM code of an answer, carried to the gate (which records it) in the response extensions.
#[derive(Debug, Clone, Copy)]
struct NimCode(i64);

/// An answer: HTTP status, NIM code and JSON body.
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    code: i64,
    body: Value,
}

impl Reply {
    pub(crate) fn v1_ok(data: Value) -> Reply {
        Reply::new(json!({ "code": code::OK, "data": data }))
    }

    /// The answer of `upload.action`: its `url` is at the top level, where NetEase's server
    /// SDKs read it, not in `data`.
    pub(crate) fn v1_url(url: &str) -> Reply {
        Reply::new(json!({ "code": code::OK, "url": url }))
    }

    pub(crate) fn v2_ok(data: Value) -> Reply {
        Reply::new(json!({ "code": code::OK, "msg": "success", "data": data }))
    }

    /// An error in the envelope of `api`.
    pub(crate) fn err(api: Api, code: i64, text: impl Into<String>) -> Reply {
        let text = text.into();
        match api {
            Api::V1 => Reply::new(json!({ "code": code, "desc": text })),
            Api::V2 => Reply::new(json!({ "code": code, "msg": text })),
        }
    }

    /// A 414 for a bad signature header. V1 answers `{code, desc}`; for V2 paths NetEase does
    /// not document the gateway's wording, so the text goes in both `msg` (what V2 clients read)
    /// and `desc` (what the signature gateway writes on V1).
    fn auth(api: Api, text: String) -> Reply {
        match api {
            Api::V1 => Reply::err(api, code::PARAMETER, text),
            Api::V2 => Reply::new(json!({ "code": code::PARAMETER, "msg": text, "desc": text })),
        }
    }

    fn new(body: Value) -> Reply {
        let code = body["code"].as_i64().unwrap_or(0);
        Reply {
            status: StatusCode::OK,
            code,
            body,
        }
    }

    fn with_status(mut self, status: StatusCode) -> Reply {
        self.status = status;
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        resp.extensions_mut().insert(NimCode(self.code));
        resp
    }
}

/// Every call: read the body, check the signature headers, apply the fault in force, run the
/// route, record the call. The work runs in its own task so that it completes even when the
/// client gives up waiting, as on a real server: a [`NimFault::Hang`] longer than the client's
/// timeout is a send that succeeded but whose answer was lost.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let work = tokio::spawn(handle(shared, req, next));
    match work.await {
        Ok(resp) => resp,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("imsim nim: {e}")).into_response(),
    }
}

async fn handle(shared: Arc<Shared>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let api = Api::of(parts.uri.path());
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let (bytes, unreadable) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => (b, None),
        Err(e) => (
            Bytes::new(),
            Some(format!("request body could not be read: {e}")),
        ),
    };
    let mut call = NimCall {
        method: parts.method.as_str().to_owned(),
        path,
        headers: header_map(&parts.headers),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        http_status: 0,
        code: None,
        at_ms: now_ms(),
    };
    for secret_header in ["authorization", "cookie", "proxy-authorization"] {
        call.headers.remove(secret_header);
    }

    let resp = match (check_signature(&shared, &parts.headers), unreadable) {
        (Err(text), _) => Reply::auth(api, text).into_response(),
        (Ok(()), Some(text)) => Reply::err(api, code::PARAMETER, text).into_response(),
        (Ok(()), None) => {
            let fault = shared.lock().take_fault();
            match fault {
                Some(NimFault::RateLimit { .. }) => Reply::err(
                    api,
                    code::RATE_LIMIT,
                    "api call too frequently (imsim fault)",
                )
                .into_response(),
                Some(NimFault::ServerError { .. }) => {
                    Reply::err(api, code::SERVER, "server error (imsim fault)")
                        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
                        .into_response()
                }
                Some(NimFault::Hang { delay, .. }) => {
                    tokio::time::sleep(delay).await;
                    next.run(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
                None => {
                    next.run(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
            }
        }
    };

    call.http_status = resp.status().as_u16();
    call.code = resp.extensions().get::<NimCode>().map(|c| c.0);
    shared.lock().calls.push(call);
    resp
}

/// The REST signature (spec §4): `AppKey`, `Nonce`, `CurTime` (seconds) and
/// `CheckSum = sha1hex(AppSecret + Nonce + CurTime)`, lowercase hex compared exactly. The error
/// text names the header at fault.
fn check_signature(shared: &Shared, headers: &HeaderMap) -> Result<(), String> {
    let app_key = header(headers, "AppKey")?;
    if app_key != shared.app_key {
        return Err(format!("AppKey {app_key:?} is not a known app key"));
    }
    let nonce = header(headers, "Nonce")?;
    if nonce.chars().count() > 128 {
        return Err("Nonce is longer than 128 characters".to_owned());
    }
    let cur_time = header(headers, "CurTime")?;
    let Ok(seconds) = cur_time.parse::<i64>() else {
        return Err(format!(
            "CurTime {cur_time:?} is not a decimal number of seconds since the epoch"
        ));
    };
    let checksum = header(headers, "CheckSum")?;
    if checksum != rest_checksum(&shared.app_secret, nonce, cur_time) {
        return Err(
            "CheckSum does not match sha1hex(AppSecret + Nonce + CurTime) (lowercase hex)"
                .to_owned(),
        );
    }
    let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
    let skew = i64::try_from(shared.opts.max_clock_skew.as_secs()).unwrap_or(i64::MAX);
    let off = now.saturating_sub(seconds).saturating_abs();
    if off > skew {
        return Err(format!(
            "CurTime {seconds} is {off} s away from the server clock (limit {skew} s); CurTime is in seconds"
        ));
    }
    Ok(())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    match headers.get(name) {
        None => Err(format!("missing {name} header")),
        Some(v) => match v.to_str() {
            Ok(s) if !s.is_empty() => Ok(s),
            Ok(_) => Err(format!("empty {name} header")),
            Err(_) => Err(format!("{name} header is not visible ASCII")),
        },
    }
}

/// `GET /im/v2/accounts/{account_id}`: account details (the V2 account API of the server SDKs),
/// usable as a probe of the credentials and the account.
async fn account(State(shared): State<Arc<Shared>>, Path(account_id): Path<String>) -> Reply {
    let token = shared.lock().accounts.get(&account_id).cloned();
    match token {
        Some(token) => Reply::v2_ok(json!({
            "account_id": account_id,
            "token": token,
            "configuration": {
                "enabled": true,
                "p2p_chat_banned": false,
                "team_chat_banned": false,
                "chatroom_chat_banned": false,
                "qchat_chat_banned": false,
            },
        })),
        None => Reply::err(
            Api::V2,
            code::ACCOUNT_NOT_EXIST,
            format!("account not exist: {account_id:?}"),
        ),
    }
}

async fn unknown_path(req: Request) -> Reply {
    let path = req.uri().path().to_owned();
    Reply::err(
        Api::of(&path),
        code::NOT_FOUND,
        format!("no such API in imsim nim: {} {path}", req.method()),
    )
    .with_status(StatusCode::NOT_FOUND)
}
