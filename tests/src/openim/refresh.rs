//! An operator's token-refresh backend, the far end of `tokenRefresh.mode: http`.
//!
//! OpenIM has no refresh API: deployments run their own service that trades a refresh token
//! for a new user token. This one answers `POST /refresh/<accountId>` with whatever the test
//! scripted for that account and records every request.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use imsim::openim::RefreshBackend;
//! let backend = RefreshBackend::start().await?;
//! backend.answer("primary", 200, serde_json::json!({"data": {"token": "new-jwt"}}));
//! let endpoint = format!("{}/refresh/{{accountId}}", backend.url());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One request the backend received.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshCall {
    pub account: String,
    /// The body as JSON (`Value::String` when it was not JSON).
    pub body: Value,
    pub content_type: Option<String>,
}

#[derive(Default)]
struct Inner {
    answers: HashMap<String, (u16, Value)>,
    calls: Vec<RefreshCall>,
}

/// Stops serving when dropped.
pub struct RefreshBackend {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for RefreshBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshBackend")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for RefreshBackend {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl RefreshBackend {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let (shutdown, mut stopped) = watch::channel(false);
        let app = Router::new()
            .route("/refresh/{account}", post(refresh))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        Ok(Self {
            addr,
            inner,
            shutdown,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on `account` gets HTTP `status` with `body`. Unscripted accounts get 404.
    pub fn answer(&self, account: &str, status: u16, body: Value) {
        lock(&self.inner)
            .answers
            .insert(account.to_owned(), (status, body));
    }

    pub fn calls(&self) -> Vec<RefreshCall> {
        lock(&self.inner).calls.clone()
    }
}

async fn refresh(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut inner = lock(&inner);
    inner.calls.push(RefreshCall {
        account: account.clone(),
        body,
        content_type,
    });
    match inner.answers.get(&account) {
        Some((status, body)) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(body.clone()),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": format!("no answer scripted for {account}")})),
        )
            .into_response(),
    }
}
