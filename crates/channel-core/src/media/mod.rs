//! Media I/O for every channel, both directions: the guarded fetch, the size cap, private
//! temporary files and the one MIME table.
//!
//! A channel never downloads a URL itself. It builds one [`MediaPolicy`] per account from the
//! layered [`MediaKeys`], adds the hosts of the account's own servers ([`MediaPolicy::trust_url`]),
//! and calls [`MediaPolicy::fetch`] (bytes) or [`MediaPolicy::fetch_to_temp`] (an inbound
//! attachment for the host's media store).
//!
//! ```no_run
//! # async fn demo() -> Result<(), channel_core::ChannelError> {
//! use channel_core::media::{MediaKeys, MediaPolicy};
//! let channel: MediaKeys = serde_json::from_value(serde_json::json!({"mediaMaxMb": 20})).unwrap();
//! let mut policy = MediaPolicy::layered(
//!     "channels.multi-openim",
//!     &channel,
//!     None,
//!     "/srv/openclaw/multi-openim/tmp".into(),
//! )?;
//! policy.trust_url(&"http://10.0.0.5:10002".parse().unwrap());
//! // Refused: another private address than the account's own server.
//! assert!(policy.fetch("http://10.0.0.6/x.png").await.is_err());
//! # Ok(()) }
//! ```
//!
//! Invariants: no request reaches a loopback, private, link-local, CGNAT or metadata address
//! unless its host is one of the account's own servers, is listed in `mediaAllowHosts`, or the
//! operator set `mediaAllowPrivateNetwork`; every redirect hop is checked the same way, and the
//! address that was checked is the one connected to; no system proxy is used; nothing larger
//! than `mediaMaxMb` is read; temporary files are 0600 in a 0700 directory and removed.

pub mod audio;
mod fetch;
pub mod guard;
pub mod mime;
mod temp;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use url::Url;

pub use fetch::{Download, install_tls_provider, shown, transport_error, url_file_name};
pub use guard::{TrustedHost, is_public};
pub use temp::{TempFile, sweep};

use crate::error::ChannelError;
use crate::message::{Fetched, Media};

/// `mediaMaxMb` when not configured.
pub const DEFAULT_MAX_MB: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The media keys every channel reads, at the channel level and in each `accounts.<id>`
/// (flattened into the channel's config type, so each is declared once).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaKeys {
    /// Largest attachment downloaded or sent, in MiB (fractions allowed). Default 100.
    #[schemars(range(max = 1048576.0), extend("exclusiveMinimum" = 0))]
    pub media_max_mb: Option<f64>,
    /// Hosts (names or IP addresses; ports are ignored) that media may be fetched from even
    /// when they resolve to a loopback or private address, e.g. a self-hosted object store.
    /// The account's own servers are always allowed.
    pub media_allow_hosts: Option<Vec<String>>,
    /// Let media URLs reach any loopback, private or link-local address (turns the guard
    /// against server-side request forgery off). Default false.
    pub media_allow_private_network: Option<bool>,
}

/// One account's media rules, resolved from config.
#[derive(Debug, Clone)]
pub struct MediaPolicy {
    /// Largest file downloaded or sent, in bytes.
    pub max_bytes: u64,
    /// The guard is off: any address may be fetched.
    pub allow_private_network: bool,
    trusted: Vec<TrustedHost>,
    /// The config section named in hints (`channels.multi-openim`).
    section: String,
    /// Where downloaded attachments wait, private to this process's user.
    pub tmp_dir: PathBuf,
    /// Test only: answers for names, in place of the system's resolver, to show that the
    /// answer that was vetted is the one connected to.
    #[cfg(test)]
    resolved: std::collections::HashMap<String, Vec<std::net::IpAddr>>,
}

impl MediaPolicy {
    /// The defaults: a 100 MiB cap, nothing trusted but public addresses. `section` is the
    /// config section named in hints (`channels.multi-openim`).
    pub fn new(section: &str, tmp_dir: PathBuf) -> Self {
        Self {
            max_bytes: mb_to_bytes(DEFAULT_MAX_MB),
            allow_private_network: false,
            trusted: Vec::new(),
            section: section.to_owned(),
            tmp_dir,
            #[cfg(test)]
            resolved: Default::default(),
        }
    }

    /// The account's keys over the channel's, then defaults. `account` is the account's id and
    /// keys when the channel has per-account sections. Errors name the full key path.
    pub fn layered(
        section: &str,
        channel: &MediaKeys,
        account: Option<(&str, &MediaKeys)>,
        tmp_dir: PathBuf,
    ) -> Result<Self, ChannelError> {
        let account_path = account.map(|(id, _)| format!("{section}.accounts.{id}"));
        let pick = |get: &dyn Fn(&MediaKeys) -> bool| -> &str {
            match (&account, &account_path) {
                (Some((_, keys)), Some(path)) if get(keys) => path,
                _ => section,
            }
        };
        let own = account.map(|(_, keys)| keys);
        let max_bytes = match own.and_then(|k| k.media_max_mb).or(channel.media_max_mb) {
            Some(mb) => parse_max_mb(
                &format!("{}.mediaMaxMb", pick(&|k| k.media_max_mb.is_some())),
                mb,
            )?,
            None => mb_to_bytes(DEFAULT_MAX_MB),
        };
        let hosts_at = pick(&|k| k.media_allow_hosts.is_some()).to_owned();
        let hosts = own
            .and_then(|k| k.media_allow_hosts.as_ref())
            .or(channel.media_allow_hosts.as_ref());
        let mut trusted = Vec::new();
        for (i, entry) in hosts.into_iter().flatten().enumerate() {
            let host = TrustedHost::parse(entry).ok_or_else(|| {
                ChannelError::bad_input(format!(
                    "{hosts_at}.mediaAllowHosts[{i}]: {entry:?} is not a host name or IP address"
                ))
            })?;
            trusted.push(host);
        }
        Ok(Self {
            max_bytes,
            allow_private_network: own
                .and_then(|k| k.media_allow_private_network)
                .or(channel.media_allow_private_network)
                .unwrap_or(false),
            trusted,
            section: section.to_owned(),
            tmp_dir,
            #[cfg(test)]
            resolved: Default::default(),
        })
    }

    /// Trusts the host of one of the account's own servers (its API, gateway or CDN address).
    pub fn trust_url(&mut self, url: &Url) {
        if let Some(host) = TrustedHost::of_url(url) {
            self.trust(host);
        }
    }

    pub fn trust(&mut self, host: TrustedHost) {
        if !self.trusted.contains(&host) {
            self.trusted.push(host);
        }
    }

    /// The hosts trusted besides public addresses.
    pub fn trusted(&self) -> &[TrustedHost] {
        &self.trusted
    }

    /// "mediaMaxMb = 100 (104857600 bytes)", for errors about the cap.
    pub fn describe_cap(&self) -> String {
        let mb = format!("{:.3}", self.max_bytes as f64 / MIB);
        let mb = mb.trim_end_matches('0').trim_end_matches('.');
        format!("mediaMaxMb = {mb} ({} bytes)", self.max_bytes)
    }

    /// Downloads an inbound attachment into a private temporary file for the host's media
    /// store. The type is the channel's hint, else the server's, else the bytes', else the
    /// name's; the name is the channel's hint, else the URL's last segment.
    pub async fn fetch_to_temp(
        &self,
        url: &str,
        kind: &str,
        mime_hint: Option<&str>,
        name_hint: Option<&str>,
    ) -> Result<Fetched, ChannelError> {
        let download = self.fetch(url).await?;
        if download.bytes.is_empty() {
            return Err(ChannelError::permanent(format!(
                "downloading {}: the file is empty",
                shown(&download.url)
            )));
        }
        let file_name = name_hint
            .and_then(safe_file_name)
            .or_else(|| download.file_name());
        let mime = mime_hint
            .and_then(mime::essence)
            .filter(|m| m != mime::OCTET_STREAM)
            .or(download.content_type.clone())
            .or_else(|| mime::sniff(&download.bytes).map(str::to_owned))
            .or_else(|| {
                file_name
                    .as_deref()
                    .and_then(mime::from_name)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| mime::OCTET_STREAM.to_owned());
        let ext = file_name
            .as_deref()
            .and_then(|n| std::path::Path::new(n).extension())
            .and_then(|e| e.to_str())
            .map(str::to_owned)
            .or_else(|| mime::extension_for(&mime).map(str::to_owned))
            .unwrap_or_default();
        let temp = self
            .save_temp(&format!("inbound-{kind}"), &ext, download.bytes)
            .await?;
        Ok(Fetched {
            temp_path: temp.keep(),
            mime,
            file_name,
        })
    }

    /// [`MediaPolicy::fetch_to_temp`] for an attachment whose `locator` is `{"url": …}`, the
    /// shape of channels whose messages carry plain download URLs.
    pub async fn fetch_attachment(&self, media: &Media) -> Result<Fetched, ChannelError> {
        let url = media.locator["url"].as_str().ok_or_else(|| {
            ChannelError::permanent(format!("{} attachment without a URL", media.kind))
        })?;
        self.fetch_to_temp(
            url,
            &media.kind,
            media.mime.as_deref(),
            media.file_name.as_deref(),
        )
        .await
    }

    /// Writes bytes to a private temporary file in this account's directory.
    pub async fn save_temp(
        &self,
        prefix: &str,
        ext: &str,
        bytes: Vec<u8>,
    ) -> Result<TempFile, ChannelError> {
        TempFile::write_async(
            self.tmp_dir.clone(),
            prefix.to_owned(),
            ext.to_owned(),
            bytes,
        )
        .await
        .map_err(|e| {
            ChannelError::from(e).context(format!(
                "writing a temporary file under {}",
                self.tmp_dir.display()
            ))
        })
    }
}

/// MiB → bytes, for a value already checked to be positive and finite.
pub fn mb_to_bytes(mb: f64) -> u64 {
    (mb * MIB).round().max(1.0) as u64
}

/// Checks a configured `mediaMaxMb`; `field` is its full path.
pub fn parse_max_mb(field: &str, mb: f64) -> Result<u64, ChannelError> {
    if !mb.is_finite() || mb <= 0.0 || mb > 1024.0 * 1024.0 {
        return Err(ChannelError::bad_input(format!(
            "{field}: must be a positive number of MiB, got {mb}"
        )));
    }
    Ok(mb_to_bytes(mb))
}

/// A sender-chosen file name made safe to use as one: its last path component, without control
/// characters, at most 200 bytes.
pub fn safe_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = last.chars().filter(|c| !c.is_control()).collect();
    let mut name = name.trim().to_owned();
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    if name.len() > 200 {
        let mut cut = 200;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    Some(name)
}

#[cfg(test)]
mod tests;
