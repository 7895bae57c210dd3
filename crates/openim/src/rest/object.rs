//! Object upload for media messages and download of inbound media (spec §3.6, §2.4).
//!
//! Upload: `/object/part_size` → split and hash → `/object/initiate_multipart_upload` (which
//! may answer the URL at once when the server already has the bytes) → one presigned `PUT` per
//! part → `/object/complete_multipart_upload` → the `http(s)://API/object/<name>` URL that goes
//! into the message. Download: `GET` that URL, follow its 302 to the store, capped.

use std::collections::BTreeSet;

use bytes::Bytes;
use channel_core::ChannelError;
use futures::{StreamExt as _, TryStreamExt as _};
use md5::{Digest as _, Md5};
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::RestClient;
use super::http::{Capped, display_url, read_capped, storage_status, transport_error};
use super::types::nullable;
use channel_core::media::mime;

/// Most parts of one upload (MinIO's `maxNumSize`).
const MAX_PARTS: u64 = 10_000;
/// Parts in flight at once: enough to fill a link, few enough to keep memory and the store's
/// connection count small.
const PUT_CONCURRENCY: usize = 4;

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// `http(s)://API/object/<name>`: what a 102/104/105 message carries.
    pub url: String,
    /// The object name, `<userID>/<random id>.<ext>`.
    pub name: String,
    pub size: u64,
    /// Hex MD5 of the whole file.
    pub md5_hex: String,
    pub content_type: String,
    /// Parts PUT; 0 when the server already had the bytes.
    pub parts: usize,
    /// The server answered the URL at once: it had an object with the same hash.
    pub deduplicated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitiateReq<'a> {
    hash: &'a str,
    size: u64,
    part_size: u64,
    /// -1: presign every part now.
    max_parts: i64,
    cause: &'a str,
    name: &'a str,
    content_type: &'a str,
}

#[derive(Deserialize)]
struct PartSizeResp {
    size: i64,
}

#[derive(Deserialize)]
struct InitiateResp {
    #[serde(default, deserialize_with = "nullable")]
    url: String,
    #[serde(default)]
    upload: Option<UploadInfo>,
}

#[derive(Deserialize)]
struct UploadInfo {
    #[serde(rename = "uploadID")]
    upload_id: String,
    #[serde(rename = "partSize")]
    part_size: i64,
    #[serde(default)]
    sign: Option<AuthSign>,
}

/// `sign` of initiate and the answer of `/object/auth_sign`.
#[derive(Debug, Default, Deserialize)]
struct AuthSign {
    #[serde(default, deserialize_with = "nullable")]
    url: String,
    #[serde(default, deserialize_with = "nullable")]
    query: Vec<KeyValues>,
    #[serde(default, deserialize_with = "nullable")]
    header: Vec<KeyValues>,
    #[serde(default, deserialize_with = "nullable")]
    parts: Vec<SignPart>,
}

#[derive(Debug, Deserialize)]
struct KeyValues {
    key: String,
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SignPart {
    #[serde(rename = "partNumber")]
    part_number: u64,
    #[serde(default, deserialize_with = "nullable")]
    url: String,
    #[serde(default, deserialize_with = "nullable")]
    query: Vec<KeyValues>,
    #[serde(default, deserialize_with = "nullable")]
    header: Vec<KeyValues>,
}

#[derive(Deserialize)]
struct UrlResp {
    #[serde(default, deserialize_with = "nullable")]
    url: String,
}

/// Where and how to PUT one part.
#[derive(Debug)]
struct Target {
    url: Url,
    headers: HeaderMap,
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The part hashes and the upload's `hash`: the hex MD5 of the comma-joined hex MD5s of the
/// parts (for one part, md5(hex(md5(file)))).
pub(crate) fn part_hashes(bytes: &[u8], part_size: usize) -> (Vec<String>, String) {
    let parts: Vec<String> = bytes.chunks(part_size.max(1)).map(md5_hex).collect();
    let hash = md5_hex(parts.join(",").as_bytes());
    (parts, hash)
}

/// `<userID>/<id>.<ext>`. The id is random, not derived from the content: `GET /object/…`
/// needs no token, so an object's URL is the only thing keeping it private, and a
/// content-derived one could be guessed by anyone holding the same file.
pub(crate) fn object_name(user_id: &str, file_name: &str, content_type: &str) -> String {
    let id = hex::encode(rand::random::<[u8; 16]>());
    format!("{user_id}/{id}.{}", extension(file_name, content_type))
}

/// The file's own extension when it is a plain one, else one for the content type, else `bin`.
pub(crate) fn extension(file_name: &str, content_type: &str) -> String {
    let own = std::path::Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| (1..=10).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    if let Some(ext) = own {
        return ext.to_ascii_lowercase();
    }
    mime::extension_for(content_type)
        .unwrap_or("bin")
        .to_owned()
}

/// Query `sign.query` then `part.query`, headers likewise; a later key replaces an earlier
/// one, and only the first value counts (as the JS SDK sets them).
fn target(
    what: &str,
    sign: &AuthSign,
    part: &SignPart,
    content_type: &str,
) -> Result<Target, ChannelError> {
    let base = if part.url.is_empty() {
        &sign.url
    } else {
        &part.url
    };
    if base.is_empty() {
        return Err(ChannelError::transient(format!(
            "{what}: the server signed no URL for part {}",
            part.part_number
        )));
    }
    let mut url = Url::parse(base).map_err(|e| {
        ChannelError::permanent(format!(
            "{what}: the presigned URL of part {} is not a URL: {e}",
            part.part_number
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::permanent(format!(
            "{what}: the presigned URL of part {} is not http(s)",
            part.part_number
        )));
    }
    let mut extra: Vec<(&str, &str)> = Vec::new();
    for kv in sign.query.iter().chain(&part.query) {
        let Some(value) = kv.values.first() else {
            continue;
        };
        extra.retain(|(k, _)| *k != kv.key);
        extra.push((&kv.key, value));
    }
    if !extra.is_empty() {
        let collides = url
            .query_pairs()
            .any(|(k, _)| extra.iter().any(|(e, _)| *e == k));
        if collides {
            // Re-encoding the whole query is only needed (and only risked) on a collision.
            let mut pairs: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !extra.iter().any(|(e, _)| *e == k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            pairs.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            url.query_pairs_mut().clear().extend_pairs(pairs);
        } else {
            url.query_pairs_mut().extend_pairs(extra);
        }
    }
    let mut headers = HeaderMap::new();
    for kv in sign.header.iter().chain(&part.header) {
        let Some(value) = kv.values.first() else {
            continue;
        };
        let bad = || {
            ChannelError::permanent(format!(
                "{what}: the server signed an invalid header {:?} for part {}",
                kv.key, part.part_number
            ))
        };
        let name = HeaderName::from_bytes(kv.key.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(value).map_err(|_| bad())?;
        headers.insert(name, value);
    }
    if !headers.contains_key(CONTENT_TYPE) {
        let value = HeaderValue::from_str(content_type).map_err(|_| {
            ChannelError::bad_input(format!(
                "{what}: content type {content_type:?} is not header text"
            ))
        })?;
        headers.insert(CONTENT_TYPE, value);
    }
    Ok(Target { url, headers })
}

impl RestClient {
    /// Uploads a file for a media message and returns its object URL. `file_name` only
    /// contributes its extension; the object is named `<userID>/<random>.<ext>`.
    pub async fn upload(
        &self,
        bytes: impl Into<Bytes>,
        file_name: &str,
        content_type: &str,
    ) -> Result<Uploaded, ChannelError> {
        let bytes: Bytes = bytes.into();
        let content_type = match content_type.trim() {
            "" => "application/octet-stream",
            ct => ct,
        };
        let what = format!("upload {file_name:?}");
        if bytes.is_empty() {
            return Err(ChannelError::bad_input(format!(
                "{what}: the file is empty; OpenIM stores no empty objects"
            )));
        }
        let size = bytes.len() as u64;
        let part_size: PartSizeResp = self
            .call("/object/part_size", &json!({ "size": size }))
            .await?;
        let part_size = u64::try_from(part_size.size)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                ChannelError::transient(format!(
                    "/object/part_size: answered a part size of {} for {size} bytes",
                    part_size.size
                ))
            })?;
        let part_count = size.div_ceil(part_size);
        if part_count > MAX_PARTS {
            return Err(ChannelError::permanent(format!(
                "/object/part_size: {part_size}-byte parts make {part_count} parts of {size} \
                 bytes, more than {MAX_PARTS}"
            )));
        }
        let chunk = usize::try_from(part_size).unwrap_or(usize::MAX);
        let hashed = bytes.clone();
        // Hashing a large video takes a while: off the async workers.
        let (part_md5s, hash, md5) = tokio::task::spawn_blocking(move || {
            let (parts, hash) = part_hashes(&hashed, chunk);
            (parts, hash, md5_hex(&hashed))
        })
        .await
        .map_err(|e| ChannelError::transient(format!("{what}: hashing: {e}")))?;
        let name = object_name(&self.inner.user_id, file_name, content_type);
        let done = |url: String, parts: usize, deduplicated: bool| Uploaded {
            url,
            name: name.clone(),
            size,
            md5_hex: md5.clone(),
            content_type: content_type.to_owned(),
            parts,
            deduplicated,
        };

        const INITIATE: &str = "/object/initiate_multipart_upload";
        let initiated: InitiateResp = self
            .call(
                INITIATE,
                &InitiateReq {
                    hash: &hash,
                    size,
                    part_size,
                    max_parts: -1,
                    cause: "",
                    name: &name,
                    content_type,
                },
            )
            .await?;
        let upload = match initiated.upload {
            Some(upload) => upload,
            None if !initiated.url.is_empty() => {
                tracing::debug!(account = %self.inner.account_id, %name, "upload deduplicated by the server");
                return Ok(done(initiated.url, 0, true));
            }
            None => {
                return Err(ChannelError::transient(format!(
                    "{INITIATE}: the answer has neither `url` nor `upload`"
                )));
            }
        };
        if u64::try_from(upload.part_size).ok() != Some(part_size) {
            return Err(ChannelError::permanent(format!(
                "{INITIATE}: the server chose {}-byte parts, but the hash was computed over \
                 {part_size}-byte parts",
                upload.part_size
            )));
        }
        let sign = upload.sign.unwrap_or_default();
        let unsigned = unsigned_parts(&sign, part_count);
        let mut targets = Vec::with_capacity(part_md5s.len());
        for part in sign
            .parts
            .iter()
            .filter(|p| (1..=part_count).contains(&p.part_number))
        {
            targets.push((
                part.part_number,
                target(INITIATE, &sign, part, content_type)?,
            ));
        }
        if !unsigned.is_empty() {
            // A server that presigns fewer parts than asked: the rest come from auth_sign.
            const AUTH_SIGN: &str = "/object/auth_sign";
            let more: AuthSign = self
                .call(
                    AUTH_SIGN,
                    &json!({ "uploadID": upload.upload_id, "partNumbers": unsigned }),
                )
                .await?;
            for number in unsigned {
                let part = more
                    .parts
                    .iter()
                    .find(|p| p.part_number == number)
                    .ok_or_else(|| {
                        ChannelError::transient(format!(
                            "{AUTH_SIGN}: part {number} was not signed"
                        ))
                    })?;
                targets.push((number, target(AUTH_SIGN, &more, part, content_type)?));
            }
        }

        let puts = targets.into_iter().map(|(number, target)| {
            let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
            let start = index.saturating_mul(chunk);
            let end = start.saturating_add(chunk).min(bytes.len());
            let body = bytes.slice(start..end);
            let expected = part_md5s[index].clone();
            self.put_part(number, part_count, target, body, expected)
        });
        futures::stream::iter(puts)
            .buffer_unordered(PUT_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        const COMPLETE: &str = "/object/complete_multipart_upload";
        let completed: UrlResp = self
            .call(
                COMPLETE,
                &json!({
                    "uploadID": upload.upload_id,
                    "parts": part_md5s,
                    "name": name,
                    "contentType": content_type,
                    "cause": "",
                }),
            )
            .await?;
        if completed.url.is_empty() {
            return Err(ChannelError::transient(format!(
                "{COMPLETE}: the answer has no `url`"
            )));
        }
        Ok(done(completed.url, part_md5s.len(), false))
    }

    async fn put_part(
        &self,
        number: u64,
        count: u64,
        target: Target,
        body: Bytes,
        expected_md5: String,
    ) -> Result<(), ChannelError> {
        let what = format!("PUT part {number}/{count} to {}", display_url(&target.url));
        let timeout = self.inner.transfer_timeout;
        let mut response = self
            .inner
            .api
            .put(target.url)
            .headers(target.headers)
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport_error(&what, e, timeout))?;
        let status = response.status();
        if !status.is_success() {
            let body = match read_capped(&what, &mut response, 64 * 1024, timeout).await {
                Ok(Capped::Body(body)) => body,
                _ => Vec::new(),
            };
            let mut err = storage_status(&what, status.as_u16(), &body);
            if let Some(after) = super::http::retry_after(response.headers()) {
                err = err.with_retry_after(after);
            }
            return Err(err);
        }
        // S3 answers a part's MD5 as its ETag: a mismatch means the bytes changed on the way,
        // and complete would fail with a vaguer "md5 mismatching".
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
            .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some(etag) = etag
            && etag != expected_md5
        {
            return Err(ChannelError::transient(format!(
                "{what}: the store's ETag {etag} is not the part's MD5 {expected_md5}"
            )));
        }
        Ok(())
    }
}

/// Part numbers `1..=count` the signature lacks.
fn unsigned_parts(sign: &AuthSign, count: u64) -> Vec<u64> {
    let signed: BTreeSet<u64> = sign.parts.iter().map(|p| p.part_number).collect();
    (1..=count).filter(|n| !signed.contains(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_hash() {
        let file = b"hello world";
        let (parts, hash) = part_hashes(file, 1024);
        assert_eq!(parts, [md5_hex(file)]);
        assert_eq!(hash, md5_hex(md5_hex(file).as_bytes()));
        let (parts, hash) = part_hashes(file, 5);
        assert_eq!(parts, [md5_hex(b"hello"), md5_hex(b" worl"), md5_hex(b"d")]);
        assert_eq!(hash, md5_hex(parts.join(",").as_bytes()));
    }

    #[test]
    fn names_and_extensions() {
        let name = object_name("bot1", "Cat.PNG", "image/png");
        let (user, file) = name.split_once('/').expect("slash");
        assert_eq!(user, "bot1");
        assert_eq!(file.len(), 32 + 4);
        assert!(file.ends_with(".png"), "{name}");
        assert_ne!(name, object_name("bot1", "Cat.PNG", "image/png"));
        assert_eq!(extension("clip", "video/mp4; codecs=avc1"), "mp4");
        assert_eq!(extension("a.tar.gz", ""), "gz");
        assert_eq!(extension("weird.ex t", "image/jpeg"), "jpg");
        assert_eq!(extension("", "application/x-unknown"), "bin");
        assert_eq!(extension("../../etc/passwd", ""), "bin");
    }

    #[test]
    fn targets_merge_query_and_headers() {
        let sign: AuthSign = serde_json::from_value(json!({
            "url": "http://s3.local/bucket/key?uploadId=u1",
            "query": [{"key": "X-Amz-Signature", "values": ["sig"]}, {"key": "partNumber", "values": ["0"]}],
            "header": [{"key": "x-amz-acl", "values": ["private", "ignored"]}],
            "parts": [
                {"partNumber": 2, "url": "", "query": [{"key": "partNumber", "values": ["2"]}],
                 "header": [{"key": "Content-Type", "values": ["application/octet-stream"]}]},
                {"partNumber": 1, "url": "http://other.local/k?partNumber=1", "query": null, "header": null}
            ]
        }))
        .expect("sign");
        let t = target("x", &sign, &sign.parts[0], "image/png").expect("part 2");
        assert_eq!(
            t.url.as_str(),
            "http://s3.local/bucket/key?uploadId=u1&X-Amz-Signature=sig&partNumber=2"
        );
        assert_eq!(t.headers["x-amz-acl"], "private");
        assert_eq!(t.headers[CONTENT_TYPE], "application/octet-stream");
        // The URL's own partNumber collides with sign.query's: the signed value wins.
        let t = target("x", &sign, &sign.parts[1], "image/png").expect("part 1");
        assert_eq!(
            t.url.as_str(),
            "http://other.local/k?X-Amz-Signature=sig&partNumber=0"
        );
        assert_eq!(t.headers[CONTENT_TYPE], "image/png");
        assert_eq!(unsigned_parts(&sign, 3), [3]);
        let ftp: AuthSign =
            serde_json::from_value(json!({"url": "ftp://x/y", "parts": [{"partNumber": 1}]}))
                .expect("sign");
        let err = target("init", &ftp, &ftp.parts[0], "a/b").expect_err("ftp");
        assert!(err.message.contains("not http(s)"), "{err}");
    }
}
