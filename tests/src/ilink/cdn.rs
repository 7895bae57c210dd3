//! Media upload and download (spec §3.5, §3.9, §10, §14): `getuploadurl` on the API host, and the
//! CDN on its own listener (`/c2c/upload`, `/c2c/download`).

mod crypto;
mod media;
mod store;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub(crate) use store::CdnStore;
use store::Ticket;
use types::FaultKind;
pub use types::{CdnFault, KeyEncoding, MediaKind, MediaRef, MediaSpec, Upload};

use super::api::Call;
use super::state::{Shared, SimError};
use super::types::Injected;
use super::{IlinkSim, expect};
use crate::http::{BadRequest, Obj, header_map, now_ms};

/// Largest upload the CDN takes (inbound media are capped at 100 MiB by clients; some headroom).
pub(crate) const MAX_FILE: usize = 128 * 1024 * 1024;

/// `getuploadurl`, served on the API host.
pub(crate) fn api_routes() -> Router<Arc<Shared>> {
    Router::new().route("/ilink/bot/getuploadurl", post(getuploadurl))
}

/// The CDN listener.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/c2c/upload", post(upload))
        .route("/c2c/download", get(download))
        .layer(DefaultBodyLimit::max(MAX_FILE))
}

/// A required field of 32 hex digits.
fn hex32<'a>(root: &Obj<'a>, key: &str) -> Result<&'a str, BadRequest> {
    let value = root.str(key)?.ok_or_else(|| root.missing(key))?;
    if crypto::is_hex32(value) {
        Ok(value)
    } else {
        Err(BadRequest::new(format!(
            "field `{key}` must be 32 hex digits, got `{value}`"
        )))
    }
}

/// A required non-negative integer.
fn size(root: &Obj<'_>, key: &str) -> Result<u64, BadRequest> {
    root.u64(key)?.ok_or_else(|| root.missing(key))
}

/// `filesize` must be the AES-128-ECB/PKCS#7 size of `rawsize`.
fn check_padded(root: &Obj<'_>, raw_key: &str, size_key: &str) -> Result<(u64, u64), BadRequest> {
    let rawsize = size(root, raw_key)?;
    let filesize = size(root, size_key)?;
    let expected = crypto::padded_len(rawsize);
    if filesize != expected {
        return Err(BadRequest::new(format!(
            "field `{size_key}` must be the padded ciphertext size (({raw_key}/16)+1)*16 = {expected}, got {filesize}"
        )));
    }
    Ok((rawsize, filesize))
}

async fn getuploadurl(
    State(shared): State<Arc<Shared>>,
    call: Call,
) -> Result<Json<Value>, BadRequest> {
    if shared.cdn.take_fault(FaultKind::UploadUrl).is_some() {
        return Ok(Json(json!({ "ret": -1, "errmsg": "" })));
    }
    let root = Obj::root(&call.body);
    let filekey = hex32(&root, "filekey")?;
    let media_type = size(&root, "media_type")?;
    let media_type = u8::try_from(media_type)
        .ok()
        .filter(|t| (1..=4).contains(t))
        .ok_or_else(|| {
            BadRequest::new(format!(
                "field `media_type` must be 1 (image), 2 (video), 3 (file) or 4 (voice), got {media_type}"
            ))
        })?;
    let to_user_id = root
        .str("to_user_id")?
        .filter(|u| !u.is_empty())
        .ok_or_else(|| root.missing("to_user_id"))?;
    let (rawsize, filesize) = check_padded(&root, "rawsize", "filesize")?;
    let rawfilemd5 = hex32(&root, "rawfilemd5")?;
    let aeskey = hex32(&root, "aeskey")?;
    let key = crypto::parse_hex_key(aeskey)
        .ok_or_else(|| BadRequest::new("field `aeskey` must be 32 hex digits"))?;
    let no_need_thumb = root
        .bool("no_need_thumb")?
        .ok_or_else(|| root.missing("no_need_thumb"))?;

    let ticket = Ticket {
        bot_id: call.bot_id.clone(),
        filekey: filekey.to_owned(),
        media_type,
        to_user_id: to_user_id.to_owned(),
        aeskey_hex: aeskey.to_owned(),
        key,
        rawsize,
        rawfilemd5: rawfilemd5.to_owned(),
        filesize,
        thumb: false,
    };
    let thumb = if no_need_thumb {
        None
    } else {
        let (rawsize, filesize) = check_padded(&root, "thumb_rawsize", "thumb_filesize")?;
        let rawfilemd5 = hex32(&root, "thumb_rawfilemd5")?.to_owned();
        Some(Ticket {
            rawsize,
            filesize,
            rawfilemd5,
            thumb: true,
            ..ticket.clone()
        })
    };

    let param = shared.cdn.register(ticket);
    let mut out = json!({ "upload_param": param });
    if shared.cdn.upload_full_url() {
        out["upload_full_url"] = json!(format!(
            "http://{}/c2c/upload?encrypted_query_param={}&filekey={}&taskid={}",
            shared.addrs.cdn,
            crypto::urlencode(&param),
            crypto::urlencode(filekey),
            super::wire::random_hex(16),
        ));
    }
    if let Some(thumb) = thumb {
        out["thumb_upload_param"] = json!(shared.cdn.register(thumb));
    }
    tracing::debug!(
        bot = call.bot_id,
        filekey,
        media_type,
        rawsize,
        "getuploadurl"
    );
    Ok(Json(out))
}

/// A CDN refusal: the message goes in `x-error-message`, where clients look first, and the body.
fn refuse(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, message.to_owned()).into_response();
    let printable: String = message
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&printable) {
        resp.headers_mut().insert("x-error-message", value);
    }
    resp
}

fn status_or_500(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `POST /c2c/upload?encrypted_query_param=…&filekey=…` with the ciphertext as body.
async fn upload(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match shared.cdn.take_fault(FaultKind::Upload) {
        None => {}
        Some(CdnFault::UploadRejected { status, message }) => {
            let mut resp = status_or_500(status).into_response();
            if let Ok(value) = HeaderValue::from_str(&message) {
                resp.headers_mut().insert("x-error-message", value);
            }
            return resp;
        }
        Some(CdnFault::UploadServerError(status)) => return status_or_500(status).into_response(),
        Some(CdnFault::UploadWithoutParam) => return StatusCode::OK.into_response(),
        // Faults of other kinds are never taken for an upload.
        Some(CdnFault::UploadUrlRefused | CdnFault::DownloadError(_)) => {}
    }
    let Some(param) = params.get("encrypted_query_param") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "query parameter `encrypted_query_param` is required",
        );
    };
    let filekey = params.get("filekey").map(String::as_str);
    match shared
        .cdn
        .upload(param, filekey, &body, header_map(&headers))
    {
        Ok(download_param) => match HeaderValue::from_str(&download_param) {
            Ok(value) => (StatusCode::OK, [("x-encrypted-param", value)]).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(message) => refuse(StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /c2c/download?encrypted_query_param=…`: the stored bytes as they were uploaded.
async fn download(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(CdnFault::DownloadError(status)) = shared.cdn.take_fault(FaultKind::Download) {
        return status_or_500(status).into_response();
    }
    let Some(param) = params.get("encrypted_query_param") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "query parameter `encrypted_query_param` is required",
        );
    };
    match shared.cdn.download(param) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        None => refuse(StatusCode::NOT_FOUND, "unknown encrypted_query_param"),
    }
}

/// Encrypts `spec.plaintext`, stores it on the CDN and injects a message pointing at it.
pub(crate) fn inject_media(
    shared: &Shared,
    bot_id: &str,
    from: &str,
    spec: &MediaSpec,
) -> Result<Injected, SimError> {
    shared.resolve_bot(Some(bot_id))?;
    if spec.key == KeyEncoding::ImageAeskeyHex && spec.kind != MediaKind::Image {
        return Err(SimError::BadMessage(
            "KeyEncoding::ImageAeskeyHex (image_item.aeskey) exists for images only".into(),
        ));
    }
    let key = crypto::random_key();
    let stored = match spec.key {
        KeyEncoding::None => spec.plaintext.clone(),
        _ => crypto::encrypt(&key, &spec.plaintext),
    };
    let (image_aeskey, aes_key) = match spec.key {
        KeyEncoding::ImageAeskeyHex => (Some(hex::encode(key)), None),
        KeyEncoding::Base64Raw => (None, Some(crypto::b64_raw(&key))),
        KeyEncoding::Base64Hex => (None, Some(crypto::b64_hex(&key))),
        KeyEncoding::None => (None, None),
        KeyEncoding::Wrong => (
            None,
            Some(crypto::b64_hex(&crypto::wrong_key_for(&stored, &key))),
        ),
    };
    let stored_len = stored.len();
    let param = shared.cdn.store_file(stored);
    let download_url = format!(
        "http://{}/c2c/download?encrypted_query_param={}",
        shared.addrs.cdn,
        crypto::urlencode(&param)
    );
    let md5 = crypto::md5_hex(&spec.plaintext);
    let now = now_ms();

    let mut items = Vec::new();
    if let Some(caption) = &spec.caption {
        items.push(media::text_item(shared.next_id(), now, caption));
    }
    items.push(media::media_item(&media::MediaItem {
        kind: &spec.kind,
        msg_id: shared.next_id(),
        now_ms: now,
        encrypt_query_param: &param,
        aes_key: aes_key.as_deref(),
        image_aeskey: image_aeskey.as_deref(),
        full_url: spec
            .full_url
            .then(|| spec.full_url_elsewhere.as_deref().unwrap_or(&download_url)),
        stored_len,
        plaintext_len: spec.plaintext.len(),
        md5: &md5,
    }));
    let msg = json!({ "from_user_id": from, "item_list": items });
    let mut injected = shared.inject_message(bot_id, msg)?;
    injected.media = Some(MediaRef {
        encrypt_query_param: param,
        download_url,
        aes_key_hex: (spec.key != KeyEncoding::None).then(|| hex::encode(key)),
        stored_len,
        md5,
    });
    Ok(injected)
}

/// CDN control and inspection.
impl IlinkSim {
    /// `http://127.0.0.1:CDNPORT/c2c` — the `cdnBaseUrl` to configure in clients.
    pub fn cdn_base_url(&self) -> String {
        format!("http://{}/c2c", self.shared.addrs.cdn)
    }

    /// Every upload that matched a `getuploadurl` ticket (accepted or not), decrypted, in order.
    pub fn uploaded(&self) -> Vec<Upload> {
        self.shared.cdn.uploads()
    }

    /// Queues a one-shot CDN fault (see [`CdnFault`] for which request consumes it).
    pub fn cdn_fault(&self, fault: CdnFault) {
        self.shared.cdn.push_fault(fault);
    }

    /// Whether `getuploadurl` answers `upload_full_url` (else only `upload_param`).
    pub fn set_upload_full_url(&self, on: bool) {
        self.shared.cdn.set_upload_full_url(on);
    }

    /// User `from` sends a media message: the file is encrypted as `spec` says, stored on the CDN,
    /// and a message pointing at it is queued like [`IlinkSim::inject_text`] (fresh context token,
    /// send window restarts). [`Injected::media`] tells where the file lies and its real key.
    ///
    /// # Panics
    /// If `bot_id` is unknown, or `spec.key` is [`KeyEncoding::ImageAeskeyHex`] for a non-image.
    pub fn inject_media(&self, bot_id: &str, from: &str, spec: MediaSpec) -> Injected {
        expect(inject_media(&self.shared, bot_id, from, &spec))
    }
}
