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
pub(crate) mod voice;

use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::ChannelError;
use channel_core::media::MediaPolicy;
use url::Url;

use crate::client;

/// `https://novac2c.cdn.weixin.qq.com/c2c`, the CDN of the official plugin.
pub const DEFAULT_CDN_BASE_URL: &str = "https://novac2c.cdn.weixin.qq.com/c2c";

/// One account's media settings, resolved from config.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where downloads are built from when an item has no `full_url`, and uploads when
    /// `getuploadurl` gives no `upload_full_url`. A bad configured URL only breaks media.
    pub cdn_base_url: Result<Url, ChannelError>,
    /// Directories local files may be sent from (the host's roots are added per send).
    pub local_roots: Vec<PathBuf>,
    /// Guarded downloads, the size cap and temporary files (`<state>/openclaw-weixin/tmp`).
    pub policy: MediaPolicy,
}

impl MediaSettings {
    /// Settings for a channel whose state lives in `channel_dir` (`<state>/openclaw-weixin`).
    pub fn defaults(channel_dir: &Path) -> Self {
        let state_root = channel_dir.parent().unwrap_or(channel_dir);
        Self {
            cdn_base_url: client::parse_base_url("default cdnBaseUrl", DEFAULT_CDN_BASE_URL),
            local_roots: vec![state_root.join("media"), state_root.join("workspace")],
            policy: MediaPolicy::new("channels.openclaw-weixin", channel_dir.join("tmp")),
        }
    }
}

/// A reqwest client for CDN uploads: no iLink headers, bounded connect and read times.
pub(crate) fn http_client(
    configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client, ChannelError> {
    channel_core::http::install_crypto_provider();
    configure(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60)),
    )
    .build()
    .map_err(|e| ChannelError::permanent(format!("building the media HTTP client: {e}")))
}

pub(crate) use channel_core::media::transport_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let settings = MediaSettings::defaults(Path::new("/srv/oc/openclaw-weixin"));
        assert_eq!(settings.policy.max_bytes, 100 * 1024 * 1024);
        assert_eq!(
            settings.local_roots,
            [
                PathBuf::from("/srv/oc/media"),
                PathBuf::from("/srv/oc/workspace")
            ]
        );
        assert_eq!(
            settings.policy.tmp_dir,
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
            settings.policy.describe_cap(),
            "mediaMaxMb = 100 (104857600 bytes)"
        );
    }
}
