//! WeChat media both ways (spec §3.5, §3.9, §8.3, §10).
//!
//! * Inbound ([`inbound`]): normalize records where each attachment lies on the CDN and how it is
//!   keyed in `Media.locator`; after dedup and the DM gate the pipeline calls `fetch_media`, which
//!   downloads (capped), decrypts (AES-128-ECB/PKCS#7) and leaves the plaintext in a private
//!   temporary file for the host's media store.
//! * Outbound ([`outbound`]): each attachment of a send is read from an allowed local root or
//!   downloaded (capped, SSRF-guarded), encrypted under a fresh key, uploaded through
//!   `getuploadurl` and the CDN, and sent as an image, video or file item.
//!
//! Keys never appear in logs or error messages; errors name the step and the field.

pub mod crypto;
pub mod inbound;
pub mod mime;
pub(crate) mod outbound;

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::{ChannelError, ErrorKind, state};
use url::Url;

use crate::client;

/// `https://novac2c.cdn.weixin.qq.com/c2c`, the CDN of the official plugin.
pub const DEFAULT_CDN_BASE_URL: &str = "https://novac2c.cdn.weixin.qq.com/c2c";
/// `mediaMaxMb` when not configured (the official plugin's inbound cap).
pub const DEFAULT_MAX_MB: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;

/// One account's media settings, resolved from config.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where downloads are built from when an item has no `full_url`, and uploads when
    /// `getuploadurl` gives no `upload_full_url`. A bad configured URL only breaks media.
    pub cdn_base_url: Result<Url, ChannelError>,
    /// Largest file downloaded or sent, in bytes.
    pub max_bytes: u64,
    /// Directories local files may be sent from (the host's roots are added per send).
    pub local_roots: Vec<PathBuf>,
    /// Media URLs may resolve to loopback, private and link-local addresses.
    pub allow_private_network: bool,
    /// `<state>/openclaw-weixin/tmp`: downloaded attachments wait here for the media store.
    pub tmp_dir: PathBuf,
}

impl MediaSettings {
    /// Settings for a channel whose state lives in `channel_dir` (`<state>/openclaw-weixin`).
    pub fn defaults(channel_dir: &Path) -> Self {
        let state_root = channel_dir.parent().unwrap_or(channel_dir);
        Self {
            cdn_base_url: client::parse_base_url("default cdnBaseUrl", DEFAULT_CDN_BASE_URL),
            max_bytes: mb_to_bytes(DEFAULT_MAX_MB),
            local_roots: vec![state_root.join("media"), state_root.join("workspace")],
            allow_private_network: false,
            tmp_dir: channel_dir.join("tmp"),
        }
    }

    /// "mediaMaxMb = 100 (104857600 bytes)", for errors about the cap.
    pub fn describe_cap(&self) -> String {
        let mb = format!("{:.3}", self.max_bytes as f64 / MIB);
        let mb = mb.trim_end_matches('0').trim_end_matches('.');
        format!("mediaMaxMb = {mb} ({} bytes)", self.max_bytes)
    }
}

/// MiB → bytes, for a value already checked to be positive and finite.
pub fn mb_to_bytes(mb: f64) -> u64 {
    (mb * MIB).round().max(1.0) as u64
}

/// Checks a configured `mediaMaxMb`.
pub fn parse_max_mb(field: &str, mb: f64) -> Result<u64, ChannelError> {
    if !mb.is_finite() || mb <= 0.0 || mb > 1024.0 * 1024.0 {
        return Err(ChannelError::bad_input(format!(
            "{field}: must be a positive number of MiB, got {mb}"
        )));
    }
    Ok(mb_to_bytes(mb))
}

/// A reqwest client for media: no iLink headers, bounded connect and read times.
pub(crate) fn http_client(
    configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client, ChannelError> {
    client::install_crypto_provider();
    configure(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60)),
    )
    .build()
    .map_err(|e| ChannelError::permanent(format!("building the media HTTP client: {e}")))
}

/// A transport failure of `step`, classified (always worth a retry).
pub(crate) fn transport_error(step: &str, err: &reqwest::Error) -> ChannelError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    ChannelError::transient(format!("{step}: {what}: {}", client::root_cause(err)))
}

/// Reads a response body, refusing to go past `cap` bytes (announced or actual).
pub(crate) async fn read_capped(
    step: &str,
    mut response: reqwest::Response,
    cap: u64,
    cap_text: &str,
    kind: ErrorKind,
) -> Result<Vec<u8>, ChannelError> {
    let too_big = |size: String| {
        ChannelError::new(
            kind,
            format!(
                "{step}: the file is larger than the media size cap {cap_text} ({size}); not downloaded"
            ),
        )
    };
    if let Some(announced) = response.content_length().filter(|n| *n > cap) {
        return Err(too_big(format!("{announced} bytes announced")));
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .unwrap_or(0)
            .min(cap)
            .min(16 * 1024 * 1024) as usize,
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(step, &e))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_big("stopped reading past the cap".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Writes `bytes` to a new private (0600) file in `dir` (made 0700 if missing).
pub(crate) fn write_temp(dir: &Path, prefix: &str, ext: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    state::ensure_private_dir(dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let path = dir.join(format!("{prefix}-{now}-{:08x}{ext}", rand::random::<u32>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    match written {
        Ok(()) => Ok(path),
        Err(err) => {
            let _ = std::fs::remove_file(&path);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_defaults() {
        let settings = MediaSettings::defaults(Path::new("/srv/oc/openclaw-weixin"));
        assert_eq!(settings.max_bytes, 100 * 1024 * 1024);
        assert_eq!(
            settings.local_roots,
            [
                PathBuf::from("/srv/oc/media"),
                PathBuf::from("/srv/oc/workspace")
            ]
        );
        assert_eq!(
            settings.tmp_dir,
            PathBuf::from("/srv/oc/openclaw-weixin/tmp")
        );
        assert_eq!(
            settings
                .cdn_base_url
                .as_ref()
                .expect("default url")
                .as_str(),
            "https://novac2c.cdn.weixin.qq.com/c2c/"
        );
        assert_eq!(
            settings.describe_cap(),
            "mediaMaxMb = 100 (104857600 bytes)"
        );
        assert_eq!(parse_max_mb("mediaMaxMb", 0.5).expect("half"), 512 * 1024);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = parse_max_mb("channels.openclaw-weixin.mediaMaxMb", bad).expect_err("bad");
            assert!(
                err.message.contains("channels.openclaw-weixin.mediaMaxMb"),
                "{err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn temp_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("openclaw-weixin/tmp");
        let path = write_temp(&dir, "inbound", ".png", b"data").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"data");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert!(
            path.file_name()
                .expect("name")
                .to_string_lossy()
                .ends_with(".png")
        );
    }
}
