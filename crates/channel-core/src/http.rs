//! The HTTP client that talks to the IM servers' APIs, one per runtime, shared by every account
//! and call on it.
//!
//! Building a client parses the system's root certificates (milliseconds of CPU) and gives it
//! a TLS session cache and a connection pool of its own (about 100 kB held per account). A
//! client was once built per account, and on WeChat per send and per typing indicator: 7.8 ms
//! of CPU per inbound message. A pooled connection is served by a task of the runtime that
//! opened it, so the client is per runtime: one in the addon, one per test.
//!
//! Remote media is not fetched with it: that is [`crate::media`]'s guarded fetch.

use std::collections::HashMap;
use std::sync::{Mutex, Once};
use std::time::Duration;

use crate::error::ChannelError;

/// Idle keep-alive connections kept per server, for every account of the runtime together.
const IDLE_PER_HOST: usize = 4;

/// Installs the TLS crypto provider reqwest is built to need (it has no default). Fails only if
/// another provider is installed already, which is just as good.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The API client of the calling runtime (a fresh one outside any runtime): a 10 s connect
/// timeout, no redirects (an API that redirects is misconfigured, and a redirect could carry
/// a token elsewhere), a few idle connections per server. Per-request timeouts are the caller's.
pub fn api_client() -> Result<reqwest::Client, ChannelError> {
    static CLIENTS: Mutex<Option<HashMap<tokio::runtime::Id, reqwest::Client>>> = Mutex::new(None);
    let runtime = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
    let mut clients = crate::lock(&CLIENTS);
    if let Some(id) = runtime
        && let Some(client) = clients.as_ref().and_then(|c| c.get(&id))
    {
        return Ok(client.clone());
    }
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .build()
        .map_err(|e| ChannelError::permanent(format!("building the HTTP client: {e}")))?;
    if let Some(id) = runtime {
        clients
            .get_or_insert_with(HashMap::new)
            .insert(id, client.clone());
    }
    Ok(client)
}
