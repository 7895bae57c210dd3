//! Object storage (spec §3.6): `part_limit`, `part_size`, `initiate_multipart_upload` (hash dedupe,
//! presigned single PUT or multipart), a local PUT endpoint standing in for S3 (`/_s3/part/…`,
//! answers `ETag: "<hex md5>"`), `auth_sign`, `complete_multipart_upload` (checks
//! md5(join(parts, ",")) == hash, each part's md5 and the size), `access_url`, and
//! `GET /object/<name>` → 302 to a presigned local blob URL (`/_s3/blob/…`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use md5::{Digest as _, Md5};
use serde_json::{Value, json};

use super::errs::{CodeError, CodeResult};
use super::rest::Ctx;
use super::state::{Shared, hex32, now_ms_i64};
use super::types::Upload;

const MAX_NUM_SIZE: i64 = 10_000;
const MAX_PART_SIZE: i64 = 5 * 1024 * 1024 * 1024;
/// Pending uploads expire after this long.
const UPLOAD_TTL_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone)]
struct ObjectRec {
    hash: String,
    content_type: String,
}

#[derive(Debug, Clone)]
struct Pending {
    user: String,
    hash: String,
    size: i64,
    part_size: i64,
    part_count: usize,
    parts: BTreeMap<usize, Vec<u8>>,
    expire_ms: i64,
}

#[derive(Debug, Default)]
pub(crate) struct ObjectStore {
    objects: BTreeMap<String, ObjectRec>,
    /// hash → bytes
    blobs: BTreeMap<String, Vec<u8>>,
    pending: BTreeMap<String, Pending>,
    pub(crate) uploads: Vec<Upload>,
}

impl ObjectStore {
    pub(crate) fn put(&mut self, name: &str, bytes: Vec<u8>, content_type: &str) -> String {
        let hash = object_hash(&bytes);
        self.blobs.insert(hash.clone(), bytes);
        self.objects.insert(
            name.to_owned(),
            ObjectRec {
                hash: hash.clone(),
                content_type: content_type.to_owned(),
            },
        );
        hash
    }

    pub(crate) fn get(&self, name: &str) -> Option<(Vec<u8>, String)> {
        let o = self.objects.get(name)?;
        Some((self.blobs.get(&o.hash)?.clone(), o.content_type.clone()))
    }
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The `hash` clients send for a single-part file: md5(hex(md5(file))).
pub fn object_hash(bytes: &[u8]) -> String {
    md5_hex(md5_hex(bytes).as_bytes())
}

fn sign(shared: &Shared, what: &str) -> String {
    md5_hex(format!("{}:{what}", shared.opts.secret).as_bytes())[..16].to_owned()
}

/// Percent-encodes an object name for a URL path (keeps `/`).
fn encode_path(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_path(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_get<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

pub(crate) fn route(path: &str) -> Option<fn(&Ctx) -> CodeResult<Value>> {
    let h: fn(&Ctx) -> CodeResult<Value> = match path {
        "/object/part_limit" => part_limit,
        "/object/part_size" => part_size,
        "/object/initiate_multipart_upload" => initiate,
        "/object/auth_sign" => auth_sign,
        "/object/complete_multipart_upload" => complete,
        "/object/access_url" => access_url,
        _ => return None,
    };
    Some(h)
}

fn min_part(ctx: &Ctx) -> i64 {
    i64::try_from(ctx.shared.opts.min_part_size).unwrap_or(i64::MAX)
}

fn part_limit(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    Ok(
        json!({ "minPartSize": min_part(ctx), "maxPartSize": MAX_PART_SIZE, "maxNumSize": MAX_NUM_SIZE }),
    )
}

fn part_size(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let size = ctx.body.i64("size")?;
    if size <= 0 {
        return Err(CodeError::args("size must be greater than 0"));
    }
    let min = min_part(ctx);
    let part = if size <= min.saturating_mul(MAX_NUM_SIZE) {
        min
    } else {
        (size + MAX_NUM_SIZE - 1) / MAX_NUM_SIZE
    };
    Ok(json!({ "size": part }))
}

fn check_name(ctx: &Ctx, name: &str) -> CodeResult<()> {
    if name.is_empty() {
        return Err(CodeError::args("name is empty"));
    }
    if name.starts_with('/') {
        return Err(CodeError::args("name must not start with /"));
    }
    if name.len() > 1024 {
        return Err(CodeError::args("name is longer than 1024"));
    }
    let c = ctx.caller()?;
    if !c.admin && !name.starts_with(&format!("{}/", c.user_id)) {
        return Err(CodeError::no_permission(format!(
            "name must start with {:?}",
            format!("{}/", c.user_id)
        )));
    }
    Ok(())
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn part_url(ctx: &Ctx, upload_id: &str) -> String {
    format!("http://{}/_s3/part/{upload_id}", ctx.shared.addrs.api)
}

/// The `sign` object: single PUT → a complete presigned URL in `parts[0].url`; multipart →
/// `sign.url` + `sign.query` shared, `parts[i].query` = `partNumber`.
fn sign_json(ctx: &Ctx, upload_id: &str, part_count: usize, numbers: &[usize]) -> Value {
    let sig = sign(ctx.shared, upload_id);
    let base = part_url(ctx, upload_id);
    if part_count == 1 {
        return json!({
            "url": "",
            "query": Value::Null,
            "header": Value::Null,
            "parts": [{
                "partNumber": 1,
                "url": format!("{base}?partNumber=1&X-Amz-Signature={sig}"),
                "query": Value::Null,
                "header": Value::Null,
            }],
        });
    }
    let parts: Vec<Value> = numbers
        .iter()
        .map(|n| {
            json!({
                "partNumber": n,
                "url": "",
                "query": [{ "key": "partNumber", "values": [n.to_string()] }],
                "header": Value::Null,
            })
        })
        .collect();
    json!({
        "url": base,
        "query": [{ "key": "X-Amz-Signature", "values": [sig] }],
        "header": Value::Null,
        "parts": parts,
    })
}

fn object_url(ctx: &Ctx, name: &str) -> String {
    format!("{}object/{}", ctx.api_base(), encode_path(name))
}

fn initiate(ctx: &Ctx) -> CodeResult<Value> {
    let b = ctx.body;
    let hash = b.str("hash")?.to_ascii_lowercase();
    let size = b.i64("size")?;
    let part_size = b.i64("partSize")?;
    let max_parts = b.i64("maxParts")?;
    let name = b.str("name")?;
    let content_type = b.str("contentType")?;
    check_name(ctx, &name)?;
    if !is_md5_hex(&hash) {
        return Err(CodeError::args("hash must be a 32-hex md5"));
    }
    if size <= 0 {
        return Err(CodeError::args("size must be greater than 0"));
    }
    if part_size <= 0 {
        return Err(CodeError::args("partSize must be greater than 0"));
    }
    let user = ctx.caller()?.user_id.clone();
    let mut st = ctx.shared.lock();
    if let Some(bytes) = st.objects.blobs.get(&hash).cloned() {
        st.objects.objects.insert(
            name.clone(),
            ObjectRec {
                hash: hash.clone(),
                content_type: content_type.clone(),
            },
        );
        let url = object_url(ctx, &name);
        st.objects.uploads.push(Upload {
            name,
            content_type,
            size: bytes.len(),
            hash,
            parts: 0,
            dedup: true,
            user_id: user,
            url: url.clone(),
            bytes,
        });
        drop(st);
        ctx.shared.bump();
        return Ok(json!({ "url": url, "upload": Value::Null }));
    }
    let part_count = usize::try_from((size + part_size - 1) / part_size).unwrap_or(usize::MAX);
    if part_count > 1 && part_size < min_part(ctx) {
        return Err(CodeError::args(format!(
            "partSize {part_size} is smaller than the minimum {}",
            min_part(ctx)
        )));
    }
    if i64::try_from(part_count).unwrap_or(i64::MAX) > MAX_NUM_SIZE {
        return Err(CodeError::args("too many parts"));
    }
    let upload_id = hex32();
    let expire_ms = now_ms_i64() + UPLOAD_TTL_MS;
    st.objects.pending.insert(
        upload_id.clone(),
        Pending {
            user,
            hash,
            size,
            part_size,
            part_count,
            parts: BTreeMap::new(),
            expire_ms,
        },
    );
    drop(st);
    let signed = if max_parts > 0 {
        part_count.min(usize::try_from(max_parts).unwrap_or(usize::MAX))
    } else {
        part_count
    };
    let numbers: Vec<usize> = (1..=signed).collect();
    Ok(json!({
        "url": "",
        "upload": {
            "uploadID": upload_id,
            "partSize": part_size,
            "sign": sign_json(ctx, &upload_id, part_count, &numbers),
            "expireTime": expire_ms,
        },
    }))
}

fn auth_sign(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let upload_id = ctx.body.str("uploadID")?;
    let numbers = match ctx.body.get("partNumbers") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| CodeError::args("partNumbers must be integers"))
            })
            .collect::<CodeResult<Vec<usize>>>()?,
        Some(_) => return Err(CodeError::args("partNumbers must be an array")),
    };
    let part_count = {
        let st = ctx.shared.lock();
        let p = st
            .objects
            .pending
            .get(&upload_id)
            .ok_or_else(|| CodeError::not_found("upload not found"))?;
        p.part_count
    };
    if numbers.iter().any(|n| *n == 0 || *n > part_count) {
        return Err(CodeError::args("partNumber out of range"));
    }
    // auth_sign is for multipart uploads; always answer the multipart shape
    let mut v = sign_json(ctx, &upload_id, part_count.max(2), &numbers);
    if part_count == 1 {
        v["parts"] = json!([{ "partNumber": 1, "url": "", "query": [{ "key": "partNumber", "values": ["1"] }], "header": Value::Null }]);
    }
    Ok(v)
}

fn complete(ctx: &Ctx) -> CodeResult<Value> {
    let upload_id = ctx.body.str("uploadID")?;
    let parts = ctx.body.strs("parts")?;
    let name = ctx.body.str("name")?;
    let content_type = ctx.body.str("contentType")?;
    check_name(ctx, &name)?;
    let user = ctx.caller()?.user_id.clone();
    let mut st = ctx.shared.lock();
    let p = st
        .objects
        .pending
        .get(&upload_id)
        .ok_or_else(|| CodeError::not_found("upload not found"))?;
    if p.user != user && !ctx.caller()?.admin {
        return Err(CodeError::no_permission("not your upload"));
    }
    if parts.len() != p.part_count {
        return Err(CodeError::args(format!(
            "{} parts given, the upload has {}",
            parts.len(),
            p.part_count
        )));
    }
    let joined: Vec<String> = parts.iter().map(|s| s.to_ascii_lowercase()).collect();
    if md5_hex(joined.join(",").as_bytes()) != p.hash {
        return Err(CodeError::args("md5 mismatching"));
    }
    let mut bytes = Vec::new();
    for (i, want) in joined.iter().enumerate() {
        let n = i + 1;
        let data = p
            .parts
            .get(&n)
            .ok_or_else(|| CodeError::args(format!("part {n} was not uploaded")))?;
        if md5_hex(data) != *want {
            return Err(CodeError::args(format!("part {n}: ETag mismatch")));
        }
        if n < p.part_count && i64::try_from(data.len()).unwrap_or(i64::MAX) != p.part_size {
            return Err(CodeError::args(format!(
                "part {n} has {} bytes, expected {}",
                data.len(),
                p.part_size
            )));
        }
        bytes.extend_from_slice(data);
    }
    if i64::try_from(bytes.len()).unwrap_or(i64::MAX) != p.size {
        return Err(CodeError::args(format!(
            "object size {} is not the announced {}",
            bytes.len(),
            p.size
        )));
    }
    let hash = p.hash.clone();
    let part_count = p.part_count;
    st.objects.pending.remove(&upload_id);
    st.objects.blobs.insert(hash.clone(), bytes.clone());
    st.objects.objects.insert(
        name.clone(),
        ObjectRec {
            hash: hash.clone(),
            content_type: content_type.clone(),
        },
    );
    let url = object_url(ctx, &name);
    st.objects.uploads.push(Upload {
        name,
        content_type,
        size: bytes.len(),
        hash,
        parts: part_count,
        dedup: false,
        user_id: user,
        url: url.clone(),
        bytes,
    });
    drop(st);
    ctx.shared.bump();
    Ok(json!({ "url": url }))
}

fn blob_url(shared: &Shared, name: &str) -> String {
    format!(
        "http://{}/_s3/blob/{}?X-Amz-Signature={}",
        shared.addrs.api,
        encode_path(name),
        sign(shared, name)
    )
}

fn access_url(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let name = ctx.body.str("name")?;
    if !ctx.shared.lock().objects.objects.contains_key(&name) {
        return Err(CodeError::not_found("object not found"));
    }
    Ok(json!({ "url": blob_url(ctx.shared, &name), "expireTime": now_ms_i64() + UPLOAD_TTL_MS }))
}

fn s3_error(status: StatusCode, code: &str, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message></Error>"
        ),
    )
        .into_response()
}

/// `GET /object/<name>` (no auth) → 302 to a presigned blob URL.
pub(crate) fn get_object(shared: &Arc<Shared>, raw_name: &str, _query: Option<&str>) -> Response {
    let Some(name) = decode_path(raw_name).filter(|n| !n.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "bad object name").into_response();
    };
    if !shared.lock().objects.objects.contains_key(&name) {
        return (StatusCode::NOT_FOUND, "object not found").into_response();
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, blob_url(shared, &name))],
    )
        .into_response()
}

/// `GET /_s3/blob/<name>?X-Amz-Signature=…`: the presigned download.
pub(crate) fn get_blob(shared: &Arc<Shared>, raw_name: &str, query: Option<&str>) -> Response {
    let Some(name) = decode_path(raw_name) else {
        return s3_error(StatusCode::BAD_REQUEST, "InvalidURI", "bad object key");
    };
    if query_get(query, "X-Amz-Signature") != Some(sign(shared, &name).as_str()) {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    match shared.lock().objects.get(&name) {
        Some((bytes, content_type)) => {
            let ct = if content_type.is_empty() {
                "application/octet-stream".to_owned()
            } else {
                content_type
            };
            let etag = format!("\"{}\"", md5_hex(&bytes));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, ct), (header::ETAG, etag)],
                bytes,
            )
                .into_response()
        }
        None => s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}

/// `PUT /_s3/part/<uploadID>?partNumber=N&X-Amz-Signature=…`: stores one part, answers its ETag.
pub(crate) fn put_part(
    shared: &Arc<Shared>,
    upload_id: &str,
    query: Option<&str>,
    _headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if query_get(query, "X-Amz-Signature") != Some(sign(shared, upload_id).as_str()) {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let mut st = shared.lock();
    let Some(p) = st.objects.pending.get_mut(upload_id) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist.",
        );
    };
    if now_ms_i64() > p.expire_ms {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let Some(n) = query_get(query, "partNumber")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=p.part_count).contains(n))
    else {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Part number must be an integer between 1 and the number of parts.",
        );
    };
    p.parts.insert(n, body.to_vec());
    let etag = format!("\"{}\"", md5_hex(body));
    (StatusCode::OK, [(header::ETAG, etag)]).into_response()
}
