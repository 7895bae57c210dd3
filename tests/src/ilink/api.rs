//! The bot endpoints of spec §3 (everything a logged-in bot calls), plus the request recording
//! and authentication shared with the QR (`qr.rs`) and CDN (`cdn.rs`) routes.

use std::cmp::min;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};
use tokio::time::{Instant, sleep, sleep_until};

use super::state::{Auth, Poll, SendRequest, Shared};
use super::types::{ExpiryVariant, Fault, RequestRecord};
use super::wire;
use crate::http::{BadRequest, Obj, header_map, now_ms, parse_object};

/// Far above anything the official client sends to the API (it never sends media inline).
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// The bot endpoints, still without state, fallback and recording (see [`finish`]).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ilink/bot/getupdates", post(getupdates))
        .route("/ilink/bot/sendmessage", post(sendmessage))
        .route("/ilink/bot/getconfig", post(getconfig))
        .route("/ilink/bot/sendtyping", post(sendtyping))
        .route("/ilink/bot/msg/notifystart", post(notifystart))
        .route("/ilink/bot/msg/notifystop", post(notifystop))
}

/// Turns the routes of one listener into a service: 404 fallback, every request recorded with
/// the listener's address (bodies up to `max_body`, parsed as JSON when `json_bodies`).
pub(crate) fn finish(
    routes: Router<Arc<Shared>>,
    shared: &Arc<Shared>,
    host: SocketAddr,
    max_body: usize,
    json_bodies: bool,
) -> Router {
    let recorder = Recorder {
        shared: shared.clone(),
        host: host.to_string(),
        max_body,
        json_bodies,
    };
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(recorder, record))
        .with_state(shared.clone())
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}

/// What the recording middleware knows about its listener.
#[derive(Debug, Clone)]
struct Recorder {
    shared: Arc<Shared>,
    host: String,
    max_body: usize,
    json_bodies: bool,
}

/// Records every request before it is handled, so rejected requests show up too.
async fn record(State(rec): State<Recorder>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, rec.max_body).await {
        Ok(bytes) => bytes,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    tracing::debug!(method = %parts.method, host = rec.host, path = parts.uri.path(), len = bytes.len(), "ilink request");
    rec.shared.record_request(RequestRecord {
        method: parts.method.to_string(),
        host: rec.host.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: header_map(&parts.headers),
        body: if rec.json_bodies {
            serde_json::from_slice(&bytes).ok()
        } else {
            None
        },
        body_len: bytes.len(),
        at_ms: now_ms(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// An authenticated bot request: headers checked, token resolved, body parsed as a JSON object.
pub(crate) struct Call {
    pub(crate) bot_id: String,
    pub(crate) body: Map<String, Value>,
    pub(crate) headers: HeaderMap,
}

impl FromRequest<Arc<Shared>> for Call {
    type Rejection = Response;

    async fn from_request(req: Request, shared: &Arc<Shared>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        Self::check(shared, headers, &bytes).map_err(|e| *e)
    }
}

impl Call {
    fn check(shared: &Shared, headers: HeaderMap, bytes: &[u8]) -> Result<Self, Box<Response>> {
        if shared.opts.strict_headers {
            check_headers(&headers).map_err(|e| Box::new(e.into_response()))?;
        }
        // The real server cannot tell a missing token from a revoked one: both are -14.
        let bot_id = match shared.authenticate(bearer(&headers)) {
            Auth::Bot(id) => id,
            Auth::Expired => {
                return Err(Box::new(
                    Json(wire::session_expired(ExpiryVariant::ErrcodeOnly)).into_response(),
                ));
            }
        };
        let body = parse_object(bytes).map_err(|e| Box::new(e.into_response()))?;
        Obj::root(&body)
            .object("base_info")
            .map_err(|e| Box::new(e.into_response()))?;
        Ok(Self {
            bot_id,
            body,
            headers,
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
}

/// The POST headers every official request carries (spec §2.2).
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), BadRequest> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if get("authorizationtype") != Some("ilink_bot_token") {
        return Err(BadRequest::new(
            "header `AuthorizationType` must be `ilink_bot_token`",
        ));
    }
    match get("x-wechat-uin") {
        Some(uin) if wire::valid_uin(uin) => Ok(()),
        Some(_) => Err(BadRequest::new(
            "header `X-WECHAT-UIN` must be base64 of a decimal uint32",
        )),
        None => Err(BadRequest::new("header `X-WECHAT-UIN` is required")),
    }
}

async fn getupdates(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Response> {
    let mut shutdown = shared.shutdown.subscribe();
    // A queued fault is what the network in front of iLink does to the next poll (a gateway's
    // 502, a cut body, a late answer): it happens whether or not the token is still valid. Taken
    // only after authentication, faults queued while the token was revoked piled up and hit the
    // first polls after the re-login back to back.
    let fault = shared
        .bot_for_token(bearer(&headers))
        .and_then(|bot| shared.take_fault(&bot));
    match fault {
        None => {}
        Some(Fault::Delay(d)) => {
            tokio::select! {
                () = sleep(d) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        Some(fault) => return Ok(fault_response(fault)),
    }
    let call = Call::check(&shared, headers, &bytes).map_err(|e| *e)?;
    let cursor = Obj::root(&call.body)
        .str("get_updates_buf")
        .map_err(IntoResponse::into_response)?
        .unwrap_or("")
        .to_owned();
    if *shutdown.borrow() {
        return Ok(empty_updates(&shared, &cursor));
    }

    let after = wire::decode_cursor(&cursor, &call.bot_id).unwrap_or(0);
    let deadline = Instant::now() + hold_for(&shared);
    loop {
        let mut wake = match shared.poll(&call.bot_id, after) {
            Poll::Ready {
                response,
                redeliver,
            } => {
                schedule_redelivery(&shared, &call.bot_id, redeliver);
                return Ok(Json(response).into_response());
            }
            Poll::Revoked => {
                return Ok(Json(wire::session_expired(ExpiryVariant::ErrcodeOnly)).into_response());
            }
            Poll::Wait(wake) => wake,
        };
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return Ok(empty_updates(&shared, &cursor));
                }
            }
            () = sleep_until(deadline) => return Ok(empty_updates(&shared, &cursor)),
            _ = shutdown.wait_for(|stop| *stop) => return Ok(empty_updates(&shared, &cursor)),
        }
    }
}

/// How long an empty poll is held: the configured hold, but always comfortably inside the
/// `longpolling_timeout_ms` we told the client, so its own timer never fires first.
fn hold_for(shared: &Shared) -> Duration {
    let lp = shared.opts.longpolling_timeout_ms;
    min(shared.opts.hold, Duration::from_millis(lp - lp / 7))
}

fn empty_updates(shared: &Shared, cursor: &str) -> Response {
    Json(json!({
        "ret": 0,
        "msgs": [],
        "get_updates_buf": cursor,
        "longpolling_timeout_ms": shared.opts.longpolling_timeout_ms,
    }))
    .into_response()
}

fn schedule_redelivery(shared: &Arc<Shared>, bot_id: &str, message_ids: Vec<u64>) {
    let Some(delay) = shared.opts.redeliver_after else {
        return;
    };
    if message_ids.is_empty() {
        return;
    }
    // A weak handle, so a pending redelivery does not keep a dropped simulator's state alive.
    let weak = Arc::downgrade(shared);
    let bot_id = bot_id.to_owned();
    tokio::spawn(async move {
        sleep(delay).await;
        if let Some(shared) = weak.upgrade() {
            shared.redeliver_all(&bot_id, &message_ids);
        }
    });
}

fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::MalformedBody => Json(json!({
            "ret": 0,
            "msgs": "not-a-list",
            "get_updates_buf": 12345,
            "longpolling_timeout_ms": "soon",
        }))
        .into_response(),
        Fault::NonJson200 => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
        )
            .into_response(),
        Fault::EmptyBody200 => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "").into_response(),
        Fault::HttpStatus(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Fault::SessionExpired(variant) => Json(wire::session_expired(variant)).into_response(),
        // Handled by the caller, which sleeps and then serves normally.
        Fault::Delay(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn sendmessage(State(shared): State<Arc<Shared>>, call: Call) -> Response {
    if !shared.admit_send().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "send stalled, then dropped",
        )
            .into_response();
    }
    match sendmessage_rules(&shared, &call) {
        Ok(answer) => answer.into_response(),
        Err(bad) => bad.into_response(),
    }
}

fn sendmessage_rules(shared: &Shared, call: &Call) -> Result<Json<Value>, BadRequest> {
    let root = Obj::root(&call.body);
    let msg = root.object("msg")?.ok_or_else(|| root.missing("msg"))?;
    let items = msg.array("item_list")?;

    let mut texts = Vec::new();
    for (index, item) in items.unwrap_or_default().iter().enumerate() {
        let item = msg.element("item_list", index, item)?;
        if let Some(text) = item
            .object("text_item")?
            .map(|t| t.str("text"))
            .transpose()?
            .flatten()
        {
            texts.push(text);
        }
    }

    let request = SendRequest {
        to_user_id: msg.str("to_user_id")?.unwrap_or_default().to_owned(),
        client_id: msg.str("client_id")?.unwrap_or_default().to_owned(),
        context_token: msg.str("context_token")?.map(str::to_owned),
        run_id: msg.str("run_id")?.map(str::to_owned),
        longest_text_chars: texts.iter().map(|t| t.chars().count()).max().unwrap_or(0),
        text: (!texts.is_empty()).then(|| texts.concat()),
        items: items.map_or(Value::Null, |i| Value::Array(i.to_vec())),
        headers: header_map(&call.headers),
        body: Value::Object(call.body.clone()),
    };
    let result = shared.send(&call.bot_id, request);
    tracing::debug!(bot = call.bot_id, %result, "sendmessage");
    Ok(Json(result))
}

async fn getconfig(
    State(shared): State<Arc<Shared>>,
    call: Call,
) -> Result<Json<Value>, BadRequest> {
    let root = Obj::root(&call.body);
    root.str("context_token")?;
    let Some(user) = root.str("ilink_user_id")?.filter(|u| !u.is_empty()) else {
        return Ok(Json(wire::ret(-2, "ilink_user_id required")));
    };
    let ticket = shared.issue_ticket(&call.bot_id, user);
    Ok(Json(
        json!({ "ret": 0, "errmsg": "", "typing_ticket": ticket }),
    ))
}

async fn sendtyping(
    State(shared): State<Arc<Shared>>,
    call: Call,
) -> Result<Json<Value>, BadRequest> {
    let root = Obj::root(&call.body);
    let user = root.str("ilink_user_id")?.unwrap_or_default();
    let ticket = root.str("typing_ticket")?.unwrap_or_default();
    let status = root.u64("status")?.ok_or_else(|| root.missing("status"))?;
    let status = u8::try_from(status)
        .map_err(|_| BadRequest::new("field `status` must be 1 (typing) or 2 (cancel)"))?;
    if shared.typing_status(&call.bot_id, ticket, user, status) {
        Ok(Json(json!({ "ret": 0 })))
    } else {
        Ok(Json(wire::ret(-2, "invalid typing_ticket")))
    }
}

async fn notifystart(State(shared): State<Arc<Shared>>, call: Call) -> Json<Value> {
    shared.set_online(&call.bot_id, true);
    Json(wire::ret(0, ""))
}

async fn notifystop(State(shared): State<Arc<Shared>>, call: Call) -> Json<Value> {
    shared.set_online(&call.bot_id, false);
    Json(wire::ret(0, ""))
}
