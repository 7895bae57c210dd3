//! A local npm registry for the e2e: it serves the packages `cargo xtask package` packed (the
//! per-platform addon packages) and hands every other request to registry.npmjs.org, so an
//! install from our tarball resolves its `optionalDependencies` exactly as it would once they
//! are published, with no network beyond the real registry.
//!
//! npm asks `GET /<name>` for a package's document (a "packument": every version's
//! package.json with a `dist` naming its tarball and integrity), then fetches the tarball.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha512};
use tokio::sync::watch;

use crate::Result;

const UPSTREAM: &str = "https://registry.npmjs.org";

/// One package we serve: its package.json and its `npm pack` tarball.
#[derive(Debug, Clone)]
pub struct Packed {
    pub manifest: Value,
    pub tarball: PathBuf,
}

/// The running registry; stops when dropped.
#[derive(Debug)]
pub struct LocalRegistry {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Package name → (packument, tarball file name → bytes).
    packages: BTreeMap<String, (Value, BTreeMap<String, Vec<u8>>)>,
    client: reqwest::Client,
    /// Names asked for, in order (ours and proxied), for the e2e to check what npm fetched.
    asked: std::sync::Mutex<Vec<String>>,
}

impl LocalRegistry {
    /// Serves `packages` on 127.0.0.1 from `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime, packages: &[Packed]) -> Result<Self> {
        let listener = runtime.block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let mut served = BTreeMap::new();
        for package in packages {
            let name = package.manifest["name"]
                .as_str()
                .ok_or("a packed package without a name")?
                .to_owned();
            let version = package.manifest["version"]
                .as_str()
                .ok_or_else(|| format!("{name}: no version"))?
                .to_owned();
            let bytes = std::fs::read(&package.tarball)?;
            let file = format!("{name}-{version}.tgz");
            let mut release = package.manifest.clone();
            release["dist"] = json!({
                "tarball": format!("{base}/{name}/-/{file}"),
                "integrity": format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes))),
                "shasum": hex::encode(Sha1::digest(&bytes)),
            });
            let packument = json!({
                "name": name,
                "dist-tags": {"latest": version},
                "versions": {version.clone(): release},
            });
            served.insert(name, (packument, BTreeMap::from([(file, bytes)])));
        }
        let shared = Arc::new(Shared {
            packages: served,
            client: crate::registry_client()?,
            asked: std::sync::Mutex::default(),
        });
        let (stop, mut stopped) = watch::channel(false);
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        Ok(Self { addr, stop, shared })
    }

    /// The registry URL, for `npm_config_registry`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Package names npm asked for so far.
    pub fn asked(&self) -> Vec<String> {
        self.shared
            .asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/').to_owned();
    // `@scope%2fname` is how npm asks for a scoped package.
    let decoded = path.replace("%2f", "/").replace("%2F", "/");
    let (name, file) = match decoded.split_once("/-/") {
        Some((name, file)) => (name.to_owned(), Some(file.to_owned())),
        None => (decoded.clone(), None),
    };
    if let Ok(mut asked) = shared.asked.lock() {
        asked.push(name.clone());
    }
    if let Some((packument, files)) = shared.packages.get(&name) {
        return match file {
            None => (
                [(header::CONTENT_TYPE, "application/json")],
                packument.to_string(),
            )
                .into_response(),
            Some(file) => match files.get(&file) {
                Some(bytes) => (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    bytes.clone(),
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "no such tarball").into_response(),
            },
        };
    }
    if request.method() != axum::http::Method::GET {
        // Audits and the like: npm carries on without them.
        return (StatusCode::NOT_FOUND, "not served here").into_response();
    }
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let upstream = format!("{UPSTREAM}/{path}{query}");
    let mut forward = shared.client.get(&upstream);
    if let Some(accept) = request.headers().get(header::ACCEPT) {
        forward = forward.header(header::ACCEPT, accept);
    }
    match forward.send().await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let kind = answer
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            match answer.bytes().await {
                Ok(body) => {
                    (status, [(header::CONTENT_TYPE, kind)], Body::from(body)).into_response()
                }
                Err(err) => (StatusCode::BAD_GATEWAY, format!("{upstream}: {err}")).into_response(),
            }
        }
        Err(err) => (StatusCode::BAD_GATEWAY, format!("{upstream}: {err}")).into_response(),
    }
}
