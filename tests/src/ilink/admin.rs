//! `/_admin/*`: the Rust API over HTTP, so a person (curl) or another process (the e2e driver)
//! can drive a running simulator. JSON in, JSON out; `bot_id` defaults to the first bot added.
//! QR login and CDN calls live in the `qr` and `cdn` submodules.

mod cdn;
mod qr;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{Shared, SimError};
use super::types::{Bot, ExpiryVariant, Fault};
use super::wire;
use crate::http::{BadRequest, Obj, parse_object};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_admin/bots", post(add_bot).get(list_bots))
        .route("/_admin/inbound", post(inbound))
        .route("/_admin/inbound_many", post(inbound_many))
        .route("/_admin/redeliver", post(redeliver))
        .route("/_admin/fault", post(fault))
        .route("/_admin/expire", post(expire))
        .route("/_admin/sent", get(sent))
        .route("/_admin/requests", get(requests))
        .route("/_admin/state", get(state))
        .merge(qr::routes())
        .merge(cdn::routes())
        .with_state(shared)
}

/// Admin failures: 400 for bad input, 404 for unknown bots, messages or QR codes, 409 for an action
/// the object's state does not allow (scanning a used-up QR code).
#[derive(Debug)]
enum AdminError {
    Bad(BadRequest),
    NotFound(String),
    Conflict(String),
}

impl From<BadRequest> for AdminError {
    fn from(e: BadRequest) -> Self {
        Self::Bad(e)
    }
}

impl From<SimError> for AdminError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::BadMessage(msg) => Self::Bad(BadRequest(msg)),
            SimError::Conflict(msg) => Self::Conflict(msg),
            other => Self::NotFound(other.to_string()),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Bad(e) => e.into_response(),
            Self::NotFound(msg) => {
                (StatusCode::NOT_FOUND, Json(json!({ "error": msg }))).into_response()
            }
            Self::Conflict(msg) => {
                (StatusCode::CONFLICT, Json(json!({ "error": msg }))).into_response()
            }
        }
    }
}

type AdminResult = Result<Json<Value>, AdminError>;

fn to_json(value: impl serde::Serialize) -> Json<Value> {
    Json(serde_json::to_value(value).unwrap_or(Value::Null))
}

/// Body parsing that tolerates an empty body (every field of some admin calls is optional).
fn parse_optional(body: &[u8]) -> Result<serde_json::Map<String, Value>, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Default::default())
    } else {
        parse_object(body)
    }
}

async fn add_bot(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_optional(&body)?;
    let root = Obj::root(&map);
    let bot_id = root
        .str("bot_id")?
        .map_or_else(wire::random_bot_id, str::to_owned);
    let bot = Bot {
        token: root
            .str("token")?
            .map_or_else(|| wire::random_bot_token(&bot_id), str::to_owned),
        owner: root
            .str("owner")?
            .map_or_else(wire::random_user_id, str::to_owned),
        bot_id,
    };
    shared.add_bot(bot.clone());
    Ok(to_json(bot))
}

async fn list_bots(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.bots())
}

/// `{bot_id?, from?, text}` injects a text message; `{bot_id?, msg}` a raw `WeixinMessage`.
async fn inbound(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let bot = shared.resolve_bot(root.str("bot_id")?)?;
    if root.object("msg")?.is_some() {
        let msg = map.get("msg").cloned().unwrap_or(Value::Null);
        return Ok(to_json(shared.inject_message(&bot.bot_id, msg)?));
    }
    let text = root.str("text")?.ok_or_else(|| root.missing("text"))?;
    let from = root.str("from")?.unwrap_or(&bot.owner);
    Ok(to_json(shared.inject_text(&bot.bot_id, from, text)?))
}

/// `{bot_id?, from: [user…], count}`: `count` texts at once, the senders taken in turn.
async fn inbound_many(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let bot = shared.resolve_bot(root.str("bot_id")?)?;
    let count = root.u64("count")?.ok_or_else(|| root.missing("count"))?;
    let from: Vec<String> = match map.get("from") {
        Some(Value::Array(users)) => users
            .iter()
            .map(|u| u.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| BadRequest::new("field `from` must be an array of user ids"))?,
        _ => return Err(root.missing("from").into()),
    };
    let count =
        usize::try_from(count).map_err(|_| BadRequest::new("field `count` is too large"))?;
    let last_seq = shared.inject_texts(&bot.bot_id, &from, count)?;
    Ok(Json(json!({ "injected": count, "last_seq": last_seq })))
}

async fn redeliver(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let bot = shared.resolve_bot(root.str("bot_id")?)?;
    let message_id = root
        .id("message_id")?
        .ok_or_else(|| root.missing("message_id"))?;
    if shared.redeliver(&bot.bot_id, message_id)? {
        Ok(Json(
            json!({ "redelivered": true, "message_id": message_id }),
        ))
    } else {
        Err(AdminError::NotFound(format!(
            "message {message_id} was never injected for {}",
            bot.bot_id
        )))
    }
}

async fn fault(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let bot = shared.resolve_bot(root.str("bot_id")?)?;
    let kind = root.str("fault")?.ok_or_else(|| root.missing("fault"))?;
    let fault = match kind {
        "malformed" => Fault::MalformedBody,
        "non_json" => Fault::NonJson200,
        "empty" => Fault::EmptyBody200,
        "http_status" => {
            let status = root.u64("status")?.unwrap_or(502);
            let status = u16::try_from(status)
                .ok()
                .filter(|s| (100..=999).contains(s))
                .ok_or_else(|| BadRequest::new("field `status` must be an HTTP status code"))?;
            Fault::HttpStatus(status)
        }
        "delay" => {
            let ms = root.u64("ms")?.ok_or_else(|| root.missing("ms"))?;
            Fault::Delay(Duration::from_millis(ms))
        }
        "expired" => Fault::SessionExpired(match root.str("variant")?.unwrap_or("errcode") {
            "errcode" => ExpiryVariant::ErrcodeOnly,
            "ret" => ExpiryVariant::RetOnly,
            "both" => ExpiryVariant::Both,
            other => {
                return Err(BadRequest::new(format!(
                    "field `variant` must be one of errcode, ret, both; got `{other}`"
                ))
                .into());
            }
        }),
        other => {
            return Err(BadRequest::new(format!(
                "field `fault` must be one of malformed, non_json, empty, http_status, delay, expired; got `{other}`"
            ))
            .into());
        }
    };
    let described = format!("{fault:?}");
    shared.push_fault(&bot.bot_id, fault)?;
    Ok(Json(json!({ "bot_id": bot.bot_id, "queued": described })))
}

async fn expire(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_optional(&body)?;
    let bot = shared.resolve_bot(Obj::root(&map).str("bot_id")?)?;
    shared.expire_token(&bot.bot_id)?;
    Ok(Json(json!({ "bot_id": bot.bot_id, "expired": true })))
}

#[derive(Debug, Deserialize)]
struct BotQuery {
    bot_id: Option<String>,
}

async fn sent(State(shared): State<Arc<Shared>>, Query(q): Query<BotQuery>) -> AdminResult {
    let bot = shared.resolve_bot(q.bot_id.as_deref())?;
    Ok(to_json(shared.sent(&bot.bot_id)))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.requests())
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut snapshot = shared.snapshot();
    snapshot["qr"] = json!({
        "sessions": shared.qr.sessions().len(),
        "script": shared.qr.script_name(),
        "owner": shared.qr.owner(),
        "redirect_host": shared.addrs.qr_redirect.to_string(),
    });
    snapshot["cdn"] = json!({
        "base_url": format!("http://{}/c2c", shared.addrs.cdn),
        "uploads": shared.cdn.uploads().len(),
        "upload_full_url": shared.cdn.upload_full_url(),
        "pending_faults": shared.cdn.pending_faults(),
    });
    Json(snapshot)
}
