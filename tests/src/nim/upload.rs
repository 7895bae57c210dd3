//! File upload (V1 `msg/upload.action`) and the object store that serves uploads back, standing
//! in for NetEase's NOS.
//!
//! The documented call (NetEase's server API docs and its server SDKs): form fields `content`
//! (the file as standard base64, at most 15 MB of base64 text), optional `type` (file type),
//! `ishttps` (`true`/`false`), `expireSec` (at least 86400) and `tag` (at most 32 characters).
//! The answer carries `url` at the top level, not under `data`: `{"code":200,"url":"…"}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::rest::{Api, Reply, code};
use super::send::v1_form;
use super::state::Shared;
use super::types::NimUpload;

/// Longest `content`, in base64 characters ("最大15M的字符流").
pub(crate) const MAX_CONTENT_CHARS: usize = 15 * 1024 * 1024;
/// Shortest `expireSec` NetEase accepts: one day.
const MIN_EXPIRE_SEC: u64 = 86_400;
const MAX_TAG_CHARS: usize = 32;

/// `POST /nimserver/msg/upload.action`. Every rejection is code 414 with a `desc` naming the
/// field, as V1 answers parameter errors.
pub(crate) async fn v1_upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    upload(&shared, &headers, &body)
        .unwrap_or_else(|text| Reply::err(Api::V1, code::PARAMETER, text))
}

fn upload(shared: &Shared, headers: &HeaderMap, raw: &[u8]) -> Result<Reply, String> {
    let fields = v1_form(headers, raw)?;
    let optional = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let content = optional("content").ok_or("missing field `content`")?;
    let chars = content.chars().count();
    if chars > MAX_CONTENT_CHARS {
        return Err(format!(
            "content is {chars} base64 characters, more than {MAX_CONTENT_CHARS}"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| format!("content is not standard base64: {e}"))?;
    let https = match optional("ishttps") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("ishttps {other:?} is not true or false")),
    };
    let expire_sec = match optional("expireSec") {
        None => None,
        Some(raw) => match raw.parse::<u64>() {
            Ok(secs) if secs >= MIN_EXPIRE_SEC => Some(secs),
            _ => {
                return Err(format!(
                    "expireSec {raw:?} is not a number of seconds of at least {MIN_EXPIRE_SEC}"
                ));
            }
        },
    };
    let tag = optional("tag").map(str::to_owned);
    if let Some(tag) = &tag
        && tag.chars().count() > MAX_TAG_CHARS
    {
        return Err(format!("tag is longer than {MAX_TAG_CHARS} characters"));
    }
    let id = hex::encode(rand::random::<[u8; 16]>());
    // Served over plain HTTP whatever `ishttps` says: the simulator has no TLS listener.
    let url = format!("http://{}/nos/{id}", shared.addr);
    shared.lock().uploads.push(NimUpload {
        id,
        url: url.clone(),
        content: bytes,
        file_type: optional("type").map(str::to_owned),
        https,
        expire_sec,
        tag,
    });
    shared.bump();
    Ok(Reply::v1_url(&url))
}

/// `GET /nos/{id}`: an uploaded file, byte for byte. Unsigned, like NOS download links.
pub(crate) async fn download(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let content = shared
        .lock()
        .uploads
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.content.clone());
    match content {
        Some(content) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(content),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such upload").into_response(),
    }
}
