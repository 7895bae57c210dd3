//! `/_admin/media` and `/_admin/cdn/*`: inbound media, CDN faults and options, uploads.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{AdminResult, to_json};
use crate::http::{BadRequest, Obj, parse_object};
use crate::ilink::cdn::{self, CdnFault, KeyEncoding, MediaKind, MediaSpec};
use crate::ilink::state::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_admin/media", post(media))
        .route("/_admin/cdn/fault", post(fault))
        .route("/_admin/cdn/options", post(options))
        .route("/_admin/cdn/uploads", get(uploads))
}

fn one_of<T>(field: &str, got: &str, choices: &[(&str, T)]) -> Result<T, BadRequest>
where
    T: Clone,
{
    choices
        .iter()
        .find(|(name, _)| *name == got)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            BadRequest::new(format!(
                "field `{field}` must be one of {}; got `{got}`",
                names.join(", ")
            ))
        })
}

/// `{bot_id?, from?, kind, content_base64, key?, full_url?, caption?, file_name?, text?,
/// encode_type?, playtime?}`
async fn media(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let bot = shared.resolve_bot(root.str("bot_id")?)?;
    let from = root.str("from")?.unwrap_or(&bot.owner);
    let content = root
        .str("content_base64")?
        .ok_or_else(|| root.missing("content_base64"))?;
    let plaintext = B64
        .decode(content)
        .map_err(|e| BadRequest::new(format!("field `content_base64` is not base64: {e}")))?;
    let kind = root.str("kind")?.ok_or_else(|| root.missing("kind"))?;
    let mut spec = match kind {
        "image" => MediaSpec::image(plaintext),
        "video" => MediaSpec::video(plaintext),
        "file" => MediaSpec::file(root.str("file_name")?.unwrap_or("file.bin"), plaintext),
        "voice" => {
            let mut spec = MediaSpec::voice(plaintext);
            spec.kind = MediaKind::Voice {
                encode_type: u32::try_from(root.u64("encode_type")?.unwrap_or(6))
                    .map_err(|_| BadRequest::new("field `encode_type` is too large"))?,
                playtime: root.u64("playtime")?.unwrap_or(1000),
                text: root.str("text")?.map(str::to_owned),
            };
            spec
        }
        other => {
            return Err(BadRequest::new(format!(
                "field `kind` must be one of image, video, file, voice; got `{other}`"
            ))
            .into());
        }
    };
    if let Some(key) = root.str("key")? {
        spec.key = one_of(
            "key",
            key,
            &[
                ("image_aeskey_hex", KeyEncoding::ImageAeskeyHex),
                ("base64_raw", KeyEncoding::Base64Raw),
                ("base64_hex", KeyEncoding::Base64Hex),
                ("none", KeyEncoding::None),
                ("wrong", KeyEncoding::Wrong),
            ],
        )?;
    }
    spec.full_url = root.bool("full_url")?.unwrap_or(true);
    spec.caption = root.str("caption")?.map(str::to_owned);
    Ok(to_json(cdn::inject_media(
        &shared,
        &bot.bot_id,
        from,
        &spec,
    )?))
}

/// `{fault, status?, message?}`
async fn fault(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    let kind = root.str("fault")?.ok_or_else(|| root.missing("fault"))?;
    let status = |default: u16, range: std::ops::RangeInclusive<u16>| {
        let status = root.u64("status")?.unwrap_or(u64::from(default));
        u16::try_from(status)
            .ok()
            .filter(|s| range.contains(s))
            .ok_or_else(|| {
                BadRequest::new(format!(
                    "field `status` must be in {}..={} for `{kind}`",
                    range.start(),
                    range.end()
                ))
            })
    };
    let fault = match kind {
        "upload_4xx" => CdnFault::UploadRejected {
            status: status(400, 400..=499)?,
            message: root
                .str("message")?
                .unwrap_or("imsim: upload rejected")
                .to_owned(),
        },
        "upload_5xx" => CdnFault::UploadServerError(status(500, 500..=599)?),
        "upload_no_param" => CdnFault::UploadWithoutParam,
        "uploadurl_refused" => CdnFault::UploadUrlRefused,
        "download_error" => CdnFault::DownloadError(status(500, 400..=599)?),
        other => {
            return Err(BadRequest::new(format!(
                "field `fault` must be one of upload_4xx, upload_5xx, upload_no_param, uploadurl_refused, download_error; got `{other}`"
            ))
            .into());
        }
    };
    if let CdnFault::UploadRejected { message, .. } = &fault
        && axum::http::HeaderValue::from_str(message).is_err()
    {
        return Err(BadRequest::new(
            "field `message` must be printable ASCII (it becomes a header)",
        )
        .into());
    }
    let described = format!("{fault:?}");
    shared.cdn.push_fault(fault);
    Ok(Json(json!({ "queued": described })))
}

/// `{upload_full_url: bool}`
async fn options(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let root = Obj::root(&map);
    if let Some(on) = root.bool("upload_full_url")? {
        shared.cdn.set_upload_full_url(on);
    }
    Ok(Json(
        json!({ "upload_full_url": shared.cdn.upload_full_url() }),
    ))
}

async fn uploads(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.cdn.uploads())
}
