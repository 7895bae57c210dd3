//! The guarded download: every hop checked, the checked DNS answer pinned, no proxy, a cap.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::MediaPolicy;
use super::guard::{self, TrustedHost};
use crate::error::{ChannelError, ErrorKind};

/// Redirects followed, each one checked again.
const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// All of one download, however large.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(600);

/// A downloaded file.
#[derive(Clone, PartialEq, Eq)]
pub struct Download {
    pub bytes: Vec<u8>,
    /// The server's `Content-Type` essence, if it sent a usable one.
    pub content_type: Option<String>,
    /// Where the bytes came from after redirects.
    pub url: Url,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("len", &self.bytes.len())
            .field("content_type", &self.content_type)
            .field("url", &shown(&self.url))
            .finish()
    }
}

impl Download {
    /// The URL's last path segment as a file name, if it has one.
    pub fn file_name(&self) -> Option<String> {
        url_file_name(&self.url)
    }
}

/// The last path segment of `url`, percent-decoded and made safe as a file name.
pub fn url_file_name(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    super::safe_file_name(&percent_decode(segment))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// A URL for messages and logs: scheme, host, port and path, without credentials, query or
/// fragment (which may carry signatures or tokens).
pub fn shown(url: &Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
}

/// Installs the TLS provider this workspace builds reqwest with (once per process).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl MediaPolicy {
    /// Downloads `url` under this policy. Each hop must be http(s) and resolve only to
    /// addresses the policy admits; the answer that was checked is the one connected to.
    /// Errors name the URL without its query; a refusal says why in words an agent can read.
    pub async fn fetch(&self, url: &str) -> Result<Download, ChannelError> {
        self.fetch_up_to(url, self.max_bytes).await
    }

    /// [`MediaPolicy::fetch`] with a cap of `cap` bytes instead of `mediaMaxMb`: for a file
    /// stored with overhead (ciphertext padding) whose plaintext is held to the cap.
    pub async fn fetch_up_to(&self, url: &str, cap: u64) -> Result<Download, ChannelError> {
        let mut url = Url::parse(url.trim()).map_err(|e| {
            ChannelError::bad_input(format!("media URL does not parse ({e}); not downloaded"))
        })?;
        for _hop in 0..=MAX_REDIRECTS {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(self.refuse(
                    &url,
                    format!("only http and https are fetched, not {}:", url.scheme()),
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(self.refuse(&url, "URLs with credentials are not fetched".into()));
            }
            let addrs = self.vet(&url).await?;
            let step = format!("downloading {}", shown(&url));
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT);
            if let Some(url::Host::Domain(domain)) = url.host() {
                builder = builder.resolve_to_addrs(domain, &addrs);
            }
            install_tls_provider();
            let http = builder.build().map_err(|e| {
                ChannelError::permanent(format!("building the media HTTP client: {e}"))
            })?;
            let response = http
                .get(url.clone())
                .timeout(TOTAL_TIMEOUT)
                .send()
                .await
                .map_err(|e| transport_error(&step, &e))?;
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
                    408 | 429 => ErrorKind::RateLimited,
                    500..=599 => ErrorKind::Transient,
                    _ => ErrorKind::Permanent,
                };
                return Err(ChannelError::new(
                    kind,
                    format!("{step}: HTTP {}", status.as_u16()),
                ));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(super::mime::essence)
                .filter(|t| t != super::mime::OCTET_STREAM);
            let bytes = self.read_capped(&step, response, cap).await?;
            return Ok(Download {
                bytes,
                content_type,
                url,
            });
        }
        Err(ChannelError::permanent(format!(
            "media URL {}: more than {MAX_REDIRECTS} redirects; not downloaded",
            shown(&url)
        )))
    }

    /// The addresses `url` may be fetched from, or the refusal.
    async fn vet(&self, url: &Url) -> Result<Vec<SocketAddr>, ChannelError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| self.refuse(url, "the URL has no port".into()))?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
            Some(url::Host::Domain(domain)) => self.resolve(url, domain, port).await?,
            None => return Err(self.refuse(url, "the URL has no host".into())),
        };
        if addrs.is_empty() {
            return Err(ChannelError::transient(format!(
                "media URL {}: the host resolves to no address",
                shown(url)
            )));
        }
        if self.allow_private_network {
            return Ok(addrs);
        }
        let host = TrustedHost::of_url(url);
        if let Some(denied) = addrs
            .iter()
            .find(|a| !guard::admits(&self.trusted, host.as_ref(), a.ip()))
        {
            return Err(self.refuse(
                url,
                format!(
                    "it resolves to {}, a loopback, private, link-local or otherwise non-public address that is not one of the account's own servers",
                    denied.ip()
                ),
            ));
        }
        Ok(addrs)
    }

    async fn resolve(
        &self,
        url: &Url,
        domain: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, ChannelError> {
        #[cfg(test)]
        if let Some(ips) = self.resolved.get(domain) {
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        Ok(tokio::net::lookup_host((domain, port))
            .await
            .map_err(|e| {
                ChannelError::transient(format!(
                    "media URL {}: cannot resolve {domain}: {e}",
                    shown(url)
                ))
            })?
            .collect())
    }

    /// Test only: `domain` resolves to `ips`, whatever the system's resolver says.
    #[cfg(test)]
    pub(crate) fn resolve_as(&mut self, domain: &str, ips: &[std::net::IpAddr]) {
        self.resolved.insert(domain.to_owned(), ips.to_vec());
    }

    /// A refusal, logged as the security event it is; the message says why and how an
    /// operator allows it.
    fn refuse(&self, url: &Url, why: String) -> ChannelError {
        tracing::warn!(url = %shown(url), reason = %why, "media fetch refused");
        ChannelError::bad_input(format!(
            "refused to fetch {}: {why} (to allow it, list the host in {1}.mediaAllowHosts or set {1}.mediaAllowPrivateNetwork: true)",
            shown(url),
            self.section
        ))
    }

    /// Reads a body, refusing to go past the cap (announced or actual).
    async fn read_capped(
        &self,
        step: &str,
        mut response: reqwest::Response,
        cap: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        // Whoever chose the file chose too big a one: not worth a retry.
        let too_big = |size: String| {
            ChannelError::bad_input(format!(
                "{step}: larger than the media size cap {} ({size}); not downloaded",
                self.describe_cap()
            ))
        };
        if let Some(announced) = response.content_length().filter(|n| *n > cap) {
            return Err(too_big(format!("{announced} bytes announced")));
        }
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .unwrap_or(0)
                .min(cap)
                .min(16 << 20) as usize,
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
}

/// A transport failure of `step`, classified as worth a retry; the message names the
/// innermost cause (never the URL, whose query may be a signature).
pub fn transport_error(step: &str, err: &reqwest::Error) -> ChannelError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    ChannelError::transient(format!("{step}: {what}: {cause}"))
}
