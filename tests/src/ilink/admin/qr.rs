//! `/_admin/qr/*`: drive and inspect QR logins.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{AdminResult, parse_optional, to_json};
use crate::http::{BadRequest, Obj, parse_object};
use crate::ilink::qr::QrScript;
use crate::ilink::state::Shared;
use crate::ilink::types::Bot;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_admin/qr/script", post(script))
        .route("/_admin/qr/scan", post(scan))
        .route("/_admin/qr/confirm", post(confirm))
        .route("/_admin/qr/expire", post(expire))
        .route("/_admin/qr/sessions", get(sessions))
}

/// `{script, code?, max_wrong?, owner?}`; `owner` present (string or null) sets the scanning user.
async fn script(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let name = root.str("script")?.ok_or_else(|| root.missing("script"))?;
    let script = match name {
        "manual" => QrScript::Manual,
        "confirm" => QrScript::Confirm,
        "expire_then_confirm" => QrScript::ExpireThenConfirm,
        "always_expire" => QrScript::AlwaysExpire,
        "verify_code" => {
            let code = root.str("code")?.ok_or_else(|| root.missing("code"))?;
            let max_wrong = root.u64("max_wrong")?.unwrap_or(3);
            let max_wrong = u32::try_from(max_wrong)
                .map_err(|_| BadRequest::new("field `max_wrong` is too large"))?;
            QrScript::VerifyCode {
                code: code.to_owned(),
                max_wrong,
            }
        }
        "redirect" => QrScript::Redirect,
        "already_bound" => QrScript::AlreadyBound,
        other => {
            return Err(BadRequest::new(format!(
                "field `script` must be one of manual, confirm, expire_then_confirm, always_expire, verify_code, redirect, already_bound; got `{other}`"
            ))
            .into());
        }
    };
    if map.contains_key("owner") {
        shared.qr.set_owner(root.str("owner")?.map(str::to_owned));
    }
    shared.qr.set_script(script);
    Ok(Json(json!({ "script": name, "owner": shared.qr.owner() })))
}

/// The `qrcode` of the body, or the latest issued one.
fn qrcode(shared: &Shared, body: &[u8]) -> Result<String, super::AdminError> {
    let map = parse_optional(body)?;
    Ok(shared.qr.resolve(Obj::root(&map).str("qrcode")?)?)
}

async fn scan(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let q = qrcode(&shared, &body)?;
    Ok(to_json(shared.qr.scan(&q)?))
}

async fn confirm(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let q = qrcode(&shared, &body)?;
    let bind = |bot: &Bot| {
        shared.bind_bot(bot.clone());
    };
    Ok(to_json(shared.qr.confirm(&q, &bind)?))
}

async fn expire(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let q = qrcode(&shared, &body)?;
    Ok(to_json(shared.qr.expire(&q)?))
}

async fn sessions(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.qr.sessions())
}
