//! Outbound attachments (spec §3.5, §3.9, §8.3, §10.1): read the file from an allowed local root
//! or download it (capped, SSRF-guarded), encrypt it under a fresh key, upload it through
//! `getuploadurl` and the CDN, and build the `sendmessage` item that points at it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::{ChannelError, ErrorKind};
use serde_json::json;
use url::Url;

use channel_core::media::shown;

use super::MediaSettings;
use super::crypto;
use super::mime::{self, UploadKind};
use super::voice;
use crate::client::{IlinkClient, UploadTarget, UploadUrlRequest, snippet};

/// CDN upload attempts on 5xx, a 200 without `x-encrypted-param`, or a network failure.
const UPLOAD_ATTEMPTS: u32 = 3;

/// A file ready to upload.
pub(crate) struct Source {
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub mime: String,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("len", &self.bytes.len())
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .finish()
    }
}

fn bad(message: String) -> ChannelError {
    ChannelError::bad_input(format!("openclaw-weixin: {message}"))
}

/// Reads one `Outbound.media` entry: an absolute path or `file://` URL under an allowed root, or
/// an http(s) URL. `host_roots` are the caller's extra allowed roots.
pub(crate) async fn load(
    settings: &MediaSettings,
    entry: &str,
    host_roots: &[String],
) -> Result<Source, ChannelError> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err(bad("empty media entry".into()));
    }
    let scheme = entry
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| {
            s.len() > 1
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        })
        .map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        Some("http" | "https") => {
            let url = Url::parse(entry)
                .map_err(|e| bad(format!("media URL {entry:?} does not parse: {e}")))?;
            load_remote(settings, url).await
        }
        Some("file") => {
            let url = Url::parse(entry)
                .map_err(|e| bad(format!("media URL {entry:?} does not parse: {e}")))?;
            let path = url
                .to_file_path()
                .map_err(|()| bad(format!("media URL {entry:?} is not a local file path")))?;
            load_local_blocking(settings, path, host_roots).await
        }
        Some(other) => Err(bad(format!(
            "media {entry:?}: unsupported scheme `{other}` (use an absolute path, file://, http:// or https://)"
        ))),
        None => load_local_blocking(settings, PathBuf::from(entry), host_roots).await,
    }
}

async fn load_local_blocking(
    settings: &MediaSettings,
    path: PathBuf,
    host_roots: &[String],
) -> Result<Source, ChannelError> {
    let mut roots: Vec<PathBuf> = host_roots
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .collect();
    roots.extend(settings.local_roots.iter().cloned());
    let (cap, cap_text) = (settings.policy.max_bytes, settings.policy.describe_cap());
    tokio::task::spawn_blocking(move || load_local(&path, &roots, cap, &cap_text))
        .await
        .map_err(|e| ChannelError::transient(format!("reading a media file: {e}")))?
}

/// Reads `path` if it lies (after resolving `..` and symlinks) inside one of `roots`.
pub(crate) fn load_local(
    path: &Path,
    roots: &[PathBuf],
    cap: u64,
    cap_text: &str,
) -> Result<Source, ChannelError> {
    use std::io::Read as _;
    let shown = path.display();
    if !path.is_absolute() {
        return Err(bad(format!(
            "media path {shown} must be absolute (or a file:// URL)"
        )));
    }
    let real = path.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad(format!("media file {shown} does not exist")),
        _ => bad(format!("media file {shown} cannot be read: {e}")),
    })?;
    let allowed: Vec<PathBuf> = roots
        .iter()
        .filter(|r| r.is_absolute())
        .filter_map(|r| r.canonicalize().ok())
        .collect();
    if !allowed.iter().any(|root| real.starts_with(root)) {
        let listed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(bad(format!(
            "media file {shown} is outside the allowed media roots [{}]; add its directory to channels.openclaw-weixin.mediaLocalRoots",
            listed.join(", ")
        )));
    }
    let file = std::fs::File::open(&real)
        .map_err(|e| bad(format!("media file {shown} cannot be opened: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| bad(format!("media file {shown} cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(bad(format!("media path {shown} is not a regular file")));
    }
    if meta.len() > cap {
        return Err(bad(format!(
            "media file {shown} is {} bytes, larger than the media size cap {cap_text}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("media file {shown} cannot be read: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(bad(format!(
            "media file {shown} grew past the media size cap {cap_text} while being read"
        )));
    }
    if bytes.is_empty() {
        return Err(bad(format!("media file {shown} is empty")));
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mime = mime::from_name(&file_name)
        .or_else(|| mime::sniff_image(&bytes))
        .unwrap_or(mime::OCTET_STREAM)
        .to_owned();
    Ok(Source {
        bytes,
        file_name,
        mime,
    })
}

/// Downloads an http(s) attachment through the account's guarded fetch (every hop checked,
/// the checked address pinned).
async fn load_remote(settings: &MediaSettings, url: Url) -> Result<Source, ChannelError> {
    let download = settings
        .policy
        .fetch(url.as_str())
        .await
        .map_err(|e| e.context("openclaw-weixin"))?;
    if download.bytes.is_empty() {
        return Err(bad(format!(
            "downloading media {}: the file is empty",
            shown(&download.url)
        )));
    }
    Ok(remote_source(
        &download.url,
        download.content_type.as_deref(),
        download.bytes,
    ))
}

/// Name and type of a downloaded file: the URL's last segment and its extension, else the
/// server's Content-Type, else the bytes.
fn remote_source(url: &Url, content_type: Option<&str>, bytes: Vec<u8>) -> Source {
    let segment = channel_core::media::url_file_name(url);
    let by_name = segment.as_deref().and_then(mime::from_name);
    let by_header = content_type
        .filter(|t| *t != mime::OCTET_STREAM && t.contains('/'))
        .map(str::to_owned);
    let mime = by_name
        .map(str::to_owned)
        .or(by_header)
        .or_else(|| mime::sniff_image(&bytes).map(str::to_owned))
        .unwrap_or_else(|| mime::OCTET_STREAM.to_owned());
    let file_name = match (segment, by_name) {
        (Some(name), Some(_)) => name,
        (Some(name), None) => match mime::extension_for(&mime) {
            Some(ext) => format!("{name}.{ext}"),
            None => name,
        },
        (None, _) => format!("file.{}", mime::extension_for(&mime).unwrap_or("bin")),
    };
    Source {
        bytes,
        file_name,
        mime,
    }
}

/// Encrypts and uploads `source` for `to`, and returns the `sendmessage` item for it.
pub(crate) async fn upload(
    client: &IlinkClient,
    settings: &MediaSettings,
    to: &str,
    mut source: Source,
) -> Result<(UploadKind, serde_json::Value), ChannelError> {
    let mut kind = UploadKind::of(&source.mime);
    let mut playtime_ms = 0;
    if kind == UploadKind::Voice {
        match voice::encode(&source).await {
            Ok(note) => {
                playtime_ms = note.playtime_ms;
                source.bytes = note.silk;
            }
            Err(err) => {
                tracing::warn!(%err, "sent as a file, not as a voice note");
                kind = UploadKind::File;
            }
        }
    }
    let key = crypto::random_key();
    let aeskey = hex::encode(key);
    let filekey = hex::encode(rand::random::<[u8; 16]>());
    let rawsize = source.bytes.len() as u64;
    let filesize = crypto::padded_len(rawsize);
    let Source {
        bytes, file_name, ..
    } = source;
    let (md5, ciphertext) = tokio::task::spawn_blocking(move || {
        (crypto::md5_hex(&bytes), crypto::encrypt(&key, &bytes))
    })
    .await
    .map_err(|e| ChannelError::transient(format!("encrypting {file_name}: {e}")))?;
    let target = client
        .get_upload_url(&UploadUrlRequest {
            filekey: &filekey,
            media_type: kind.media_type(),
            to_user_id: to,
            rawsize,
            rawfilemd5: &md5,
            filesize,
            aeskey: &aeskey,
        })
        .await?;
    let url = match target {
        UploadTarget::FullUrl(full) => Url::parse(&full).map_err(|e| {
            ChannelError::permanent(format!("getuploadurl: `upload_full_url` is not a URL: {e}"))
        })?,
        UploadTarget::Param(param) => {
            let base = settings
                .cdn_base_url
                .clone()
                .map_err(|e| e.context("building the CDN upload URL"))?;
            let mut url = base.join("upload").map_err(|e| {
                ChannelError::bad_input(format!("cdnBaseUrl: cannot append /upload: {e}"))
            })?;
            url.query_pairs_mut()
                .append_pair("encrypted_query_param", &param)
                .append_pair("filekey", &filekey);
            url
        }
    };
    let param = post_to_cdn(&url, bytes::Bytes::from(ciphertext)).await?;
    let media = json!({
        "encrypt_query_param": param,
        "aes_key": crypto::aes_key_field(&key),
        "encrypt_type": 1,
    });
    let item = match kind {
        UploadKind::Image => json!({
            "type": crate::wire::item::IMAGE,
            "image_item": { "media": media, "mid_size": filesize },
        }),
        UploadKind::Video => json!({
            "type": crate::wire::item::VIDEO,
            "video_item": { "media": media, "video_size": filesize },
        }),
        UploadKind::File => json!({
            "type": crate::wire::item::FILE,
            "file_item": { "media": media, "file_name": file_name, "len": rawsize.to_string() },
        }),
        UploadKind::Voice => json!({
            "type": crate::wire::item::VOICE,
            "voice_item": {
                "media": media,
                "encode_type": voice::ENCODE_SILK,
                "bits_per_sample": 16,
                "sample_rate": voice::RATE,
                "playtime": playtime_ms,
            },
        }),
    };
    Ok((kind, item))
}

/// POSTs the ciphertext to the CDN (spec §3.9): success is 200 with `x-encrypted-param`; a 4xx
/// fails at once with the server's `x-error-message`; 5xx, a missing header or a network
/// failure are tried again, three attempts in all.
async fn post_to_cdn(url: &Url, body: bytes::Bytes) -> Result<String, ChannelError> {
    const STEP: &str = "CDN upload";
    let http = super::http_client(|b| b)?;
    // Generous for large files on slow links: a minute plus a second per 128 KiB.
    let timeout = Duration::from_secs(60 + body.len() as u64 / (128 * 1024));
    let mut last = ChannelError::transient(format!("{STEP}: not attempted"));
    for attempt in 1..=UPLOAD_ATTEMPTS {
        let sent = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        last = match sent {
            Err(err) => super::transport_error(STEP, &err),
            Ok(response) => {
                let status = response.status();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                let param = header("x-encrypted-param");
                let server_message = header("x-error-message");
                if status.as_u16() == 200
                    && let Some(param) = param
                {
                    return Ok(param);
                }
                let body = response.bytes().await.unwrap_or_default();
                let detail = server_message.unwrap_or_else(|| snippet(&body));
                if status.is_client_error() {
                    let kind = if status.as_u16() == 429 {
                        ErrorKind::RateLimited
                    } else {
                        ErrorKind::Permanent
                    };
                    return Err(ChannelError::new(
                        kind,
                        format!("{STEP}: HTTP {}: {detail}", status.as_u16()),
                    ));
                }
                if status.as_u16() == 200 {
                    ChannelError::transient(format!(
                        "{STEP}: HTTP 200 without the `x-encrypted-param` header"
                    ))
                } else {
                    ChannelError::transient(format!("{STEP}: HTTP {}: {detail}", status.as_u16()))
                }
            }
        };
        if attempt < UPLOAD_ATTEMPTS {
            tracing::warn!(attempt, error = %last, "CDN upload failed; trying again");
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        }
    }
    Err(last.context(format!("after {UPLOAD_ATTEMPTS} attempts")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_must_stay_inside_a_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("media");
        let outside = tmp.path().join("secret");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(root.join("sub/pic.png"), b"\x89PNG\r\n\x1a\nxxxx").expect("write");
        std::fs::write(outside.join("key.txt"), b"secret").expect("write");
        let roots = [root.clone()];
        let ok = load_local(&root.join("sub/../sub/pic.png"), &roots, 1024, "cap").expect("inside");
        assert_eq!(ok.mime, "image/png");
        assert_eq!(ok.file_name, "pic.png");
        let err =
            load_local(&root.join("../secret/key.txt"), &roots, 1024, "cap").expect_err("escape");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(
            err.message.contains("outside the allowed media roots"),
            "{err}"
        );
        assert!(err.message.contains("key.txt"), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.join("key.txt"), root.join("link.txt"))
                .expect("symlink");
            let err =
                load_local(&root.join("link.txt"), &roots, 1024, "cap").expect_err("symlink out");
            assert!(
                err.message.contains("outside the allowed media roots"),
                "{err}"
            );
        }
        let err = load_local(Path::new("relative.png"), &roots, 1024, "cap").expect_err("relative");
        assert!(err.message.contains("must be absolute"), "{err}");
        let err = load_local(&root.join("nope.png"), &roots, 1024, "cap").expect_err("missing");
        assert!(err.message.contains("does not exist"), "{err}");
        let err =
            load_local(&root.join("sub/pic.png"), &roots, 4, "mediaMaxMb = x").expect_err("big");
        assert!(err.message.contains("mediaMaxMb = x"), "{err}");
        let err = load_local(&root.join("sub"), &roots, 1024, "cap").expect_err("dir");
        assert!(err.message.contains("not a regular file"), "{err}");
    }

    #[test]
    fn remote_names_and_types() {
        let url = Url::parse("https://example.com/a/photo%20one.JPG?sig=1").expect("url");
        let s = remote_source(&url, Some("application/octet-stream"), vec![1]);
        assert_eq!(
            (s.file_name.as_str(), s.mime.as_str()),
            ("photo one.JPG", "image/jpeg")
        );
        let url = Url::parse("https://example.com/download").expect("url");
        let s = remote_source(&url, Some("image/png"), vec![1]);
        assert_eq!(
            (s.file_name.as_str(), s.mime.as_str()),
            ("download.png", "image/png")
        );
        let url = Url::parse("https://example.com/").expect("url");
        let s = remote_source(&url, None, b"GIF89a..".to_vec());
        assert_eq!(
            (s.file_name.as_str(), s.mime.as_str()),
            ("file.gif", "image/gif")
        );
        assert_eq!(
            shown(&Url::parse("https://u:p@h:8443/x?token=1").expect("url")),
            "https://h:8443/x"
        );
    }
}
