//! Outbound attachments (spec §3.5, §3.9, §8.3, §10.1): read the file from an allowed local root
//! or download it (capped, SSRF-guarded), encrypt it under a fresh key, upload it through
//! `getuploadurl` and the CDN, and build the `sendmessage` item that points at it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::{ChannelError, ErrorKind};
use serde_json::json;
use url::Url;

use super::MediaSettings;
use super::crypto;
use super::mime::{self, UploadKind};
use crate::client::{IlinkClient, UploadTarget, UploadUrlRequest, snippet};

/// CDN upload attempts on 5xx, a 200 without `x-encrypted-param`, or a network failure.
const UPLOAD_ATTEMPTS: u32 = 3;
/// Redirects followed when downloading a remote attachment, each one checked again.
const MAX_REDIRECTS: usize = 5;
const REMOTE_TIMEOUT: Duration = Duration::from_secs(300);

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

/// A URL for messages: scheme, host, port and path, without credentials or query (which may be
/// signatures).
fn shown(url: &Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
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
    let (cap, cap_text) = (settings.max_bytes, settings.describe_cap());
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

/// Whether an address is on the public internet as far as an SSRF guard cares: not loopback,
/// private, link-local, unspecified, shared (CGNAT), multicast or broadcast.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10
                // NAT64 64:ff9b::/96 and IPv4-compatible ::a.b.c.d: judge the IPv4 inside.
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    && !is_public_v4(embedded_v4(v6)))
                || (v6.segments()[..6] == [0; 6] && !is_public_v4(embedded_v4(v6))))
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Ipv4Addr {
    let o = v6.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240)
}

/// The addresses `url` would connect to, refused if any is not public (unless allowed).
async fn vet(settings: &MediaSettings, url: &Url) -> Result<Vec<SocketAddr>, ChannelError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| bad(format!("media URL {} has no port", shown(url))))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|e| {
                ChannelError::transient(format!(
                    "openclaw-weixin: media URL {}: cannot resolve {domain}: {e}",
                    shown(url)
                ))
            })?
            .collect(),
        None => return Err(bad(format!("media URL {} has no host", shown(url)))),
    };
    if addrs.is_empty() {
        return Err(ChannelError::transient(format!(
            "openclaw-weixin: media URL {}: the host resolves to no address",
            shown(url)
        )));
    }
    if !settings.allow_private_network
        && let Some(private) = addrs.iter().find(|a| !is_public(a.ip()))
    {
        return Err(bad(format!(
            "media URL {} resolves to {}, a loopback, private, link-local or otherwise non-public address; refused (set channels.openclaw-weixin.mediaAllowPrivateNetwork: true to allow it)",
            shown(url),
            private.ip()
        )));
    }
    Ok(addrs)
}

/// Downloads an http(s) attachment, re-checking every redirect hop and pinning the vetted
/// addresses so that a second DNS answer cannot point elsewhere.
async fn load_remote(settings: &MediaSettings, mut url: Url) -> Result<Source, ChannelError> {
    for _hop in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "media URL {}: only http and https are fetched",
                shown(&url)
            )));
        }
        let addrs = vet(settings, &url).await?;
        let domain = match url.host() {
            Some(url::Host::Domain(d)) => Some(d.to_owned()),
            _ => None,
        };
        let http = super::http_client(|b| {
            let b = b.redirect(reqwest::redirect::Policy::none());
            match &domain {
                Some(d) => b.resolve_to_addrs(d, &addrs),
                None => b,
            }
        })?;
        let step = format!("downloading media {}", shown(&url));
        let response = http
            .get(url.clone())
            .timeout(REMOTE_TIMEOUT)
            .send()
            .await
            .map_err(|e| super::transport_error(&step, &e))?;
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok())
                .ok_or_else(|| {
                    ChannelError::permanent(format!(
                        "{step}: HTTP {} without a usable Location",
                        status.as_u16()
                    ))
                })?;
            url = next;
            continue;
        }
        if !status.is_success() {
            let kind = match status.as_u16() {
                429 => ErrorKind::RateLimited,
                500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            };
            return Err(ChannelError::new(
                kind,
                format!("openclaw-weixin: {step}: HTTP {}", status.as_u16()),
            ));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        let bytes = super::read_capped(
            &format!("openclaw-weixin: {step}"),
            response,
            settings.max_bytes,
            &settings.describe_cap(),
            ErrorKind::BadInput,
        )
        .await?;
        if bytes.is_empty() {
            return Err(bad(format!("{step}: the file is empty")));
        }
        return Ok(remote_source(&url, content_type.as_deref(), bytes));
    }
    Err(ChannelError::permanent(format!(
        "openclaw-weixin: media URL {}: more than {MAX_REDIRECTS} redirects",
        shown(&url)
    )))
}

/// Name and type of a downloaded file: the URL's last segment and its extension, else the
/// server's Content-Type, else the bytes.
fn remote_source(url: &Url, content_type: Option<&str>, bytes: Vec<u8>) -> Source {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .map(|s| {
            percent_decode(s)
                .chars()
                .filter(|c| !c.is_control() && !"/\\".contains(*c))
                .collect::<String>()
        })
        .filter(|s| !s.is_empty() && s != "." && s != "..");
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
        (Some(name), None) => format!("{name}{}", mime::extension_for(&mime).unwrap_or_default()),
        (None, _) => format!("file{}", mime::extension_for(&mime).unwrap_or_default()),
    };
    Source {
        bytes,
        file_name,
        mime,
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Encrypts and uploads `source` for `to`, and returns the `sendmessage` item for it.
pub(crate) async fn upload(
    client: &IlinkClient,
    settings: &MediaSettings,
    to: &str,
    source: Source,
) -> Result<(UploadKind, serde_json::Value), ChannelError> {
    let kind = UploadKind::of(&source.mime);
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
    fn addresses_are_classified() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

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
