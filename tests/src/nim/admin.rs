//! `/_admin/*`: the simulator's own controls over HTTP, so a person (curl) can play a NetEase
//! user. Not NetEase's API, so outside the signature gate.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::state::Shared;
use super::types::PushError;
use super::webhook::Signing;
use super::{p2p_text, push_message, team_text};
use crate::http::{BadRequest, Obj, parse_object};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_admin/push", post(push))
        .route("/_admin/sent", get(sent))
}

/// `{from, to, text}` a P2P text, `{from, tid, text, at?}` a team text: signed as NetEase signs
/// its message copies (the `CheckSum`, `MD5` and `CurTime` headers need the app secret) and
/// posted to the webhook. Answers the receiver's `status` and the posted `body`.
async fn push(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let msg = match message(&shared, &body) {
        Ok(msg) => msg,
        Err(e) => return e.into_response(),
    };
    match push_message(&shared, msg, Signing::Valid).await {
        Ok(pushed) => Json(json!({ "status": pushed.status, "body": pushed.body })).into_response(),
        Err(e) => {
            let status = match e {
                PushError::NoWebhook => StatusCode::CONFLICT,
                PushError::Http { .. } => StatusCode::BAD_GATEWAY,
            };
            (status, Json(json!({ "error": e.to_string() }))).into_response()
        }
    }
}

fn message(shared: &Shared, body: &[u8]) -> Result<super::webhook::Outgoing, BadRequest> {
    let map = parse_object(body)?;
    let root = Obj::root(&map);
    let from = root.str("from")?.ok_or_else(|| root.missing("from"))?;
    let text = root.str("text")?.ok_or_else(|| root.missing("text"))?;
    match (root.str("to")?, root.str("tid")?) {
        (Some(to), None) => Ok(p2p_text(from, to, text)),
        (None, Some(tid)) => {
            let at: Vec<&str> = root
                .array("at")?
                .unwrap_or_default()
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(|| BadRequest::new("field `at` must be an array of account ids"))?;
            Ok(team_text(shared, from, tid, text, &at))
        }
        _ => Err(BadRequest::new("give one of `to` (P2P) or `tid` (team)")),
    }
}

/// Every accepted send, as [`super::NimSim::sent`].
async fn sent(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(serde_json::to_value(&shared.lock().sent).unwrap_or(Value::Null))
}
