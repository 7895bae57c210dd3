//! Token recovery against a real refresh endpoint (axum on 127.0.0.1) and real files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use channel_core::{CancellationToken, ChannelError, ErrorKind};
use openim::config::{Secret, TokenRefresh, TokenRefreshConfig};
use openim::recovery::{HookToken, Recovered, Recovery, RecoveryFailed, RecoveryHost, Trigger};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Fails a test that would otherwise hang.
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The refresh endpoint

/// One request the endpoint received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: String,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON request body")
    }
}

enum Reply {
    Json(u16, Value),
    Text(u16, String),
    /// Never answers.
    Hang,
}

type Script = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

#[derive(Clone)]
struct Endpoint {
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    script: Arc<Script>,
}

struct Server {
    base: String,
    endpoint: Endpoint,
}

impl Server {
    /// Serves `script(n, request)` for the n-th request (0-based).
    async fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Self {
        let endpoint = Endpoint {
            seen: Arc::default(),
            arrived: Arc::default(),
            script: Arc::new(script),
        };
        let app = Router::new().fallback(handle).with_state(endpoint.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, endpoint }
    }

    fn requests(&self) -> Vec<Seen> {
        self.endpoint.seen.lock().expect("lock").clone()
    }

    async fn wait_for_requests(&self, n: usize) {
        loop {
            let arrived = self.endpoint.arrived.notified();
            if self.requests().len() >= n {
                return;
            }
            arrived.await;
        }
    }
}

async fn handle(
    State(endpoint): State<Endpoint>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let n = {
        let mut all = endpoint.seen.lock().expect("lock");
        all.push(seen.clone());
        all.len() - 1
    };
    endpoint.arrived.notify_waiters();
    match (endpoint.script)(n, &seen) {
        Reply::Json(status, value) => (
            StatusCode::from_u16(status).expect("status"),
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Reply::Text(status, text) => {
            (StatusCode::from_u16(status).expect("status"), text).into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

/// A port nothing listens on.
fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// The host

#[derive(Default)]
struct TestHost {
    hook: Mutex<Option<Result<Option<HookToken>, ChannelError>>>,
    hook_calls: Mutex<Vec<(String, String)>>,
    saved: Mutex<Vec<(String, String)>>,
}

impl TestHost {
    fn with_hook(answer: Result<Option<HookToken>, ChannelError>) -> Self {
        Self {
            hook: Mutex::new(Some(answer)),
            ..Self::default()
        }
    }

    fn saved(&self) -> Vec<(String, String)> {
        self.saved.lock().expect("lock").clone()
    }

    fn hook_calls(&self) -> Vec<(String, String)> {
        self.hook_calls.lock().expect("lock").clone()
    }
}

#[async_trait]
impl RecoveryHost for TestHost {
    async fn call_hook(
        &self,
        account_id: &str,
        reason: &str,
    ) -> Result<Option<HookToken>, ChannelError> {
        self.hook_calls
            .lock()
            .expect("lock")
            .push((account_id.into(), reason.into()));
        self.hook.lock().expect("lock").clone().unwrap_or(Ok(None))
    }

    async fn save_token(&self, account_id: &str, token: &Secret) -> Result<(), ChannelError> {
        self.saved
            .lock()
            .expect("lock")
            .push((account_id.into(), token.expose().into()));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Log capture: every event of this crate, fields included, to check that no secret is logged.

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<String>>);

impl Logs {
    fn text(&self) -> String {
        self.0.lock().expect("lock").clone()
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if !event.metadata().target().starts_with("openim") {
            return;
        }
        let mut text = self.0.lock().expect("lock");
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn refresh(section: Value) -> TokenRefresh {
    let config: TokenRefreshConfig = serde_json::from_value(section).expect("tokenRefresh JSON");
    TokenRefresh::resolve("channels.multi-openim.tokenRefresh", Some(&config)).expect("resolve")
}

fn recovery(id: &str, section: Value, home: &Path) -> Recovery {
    Recovery::new(id, refresh(section)).with_home(Some(home.to_owned()))
}

fn write_json(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON file")
}

async fn run(
    recovery: &mut Recovery,
    trigger: Trigger,
    host: &TestHost,
) -> Result<Recovered, RecoveryFailed> {
    tokio::time::timeout(
        LIMIT,
        recovery.recover(&trigger, host, &CancellationToken::new()),
    )
    .await
    .expect("recovery finished in time")
}

fn gave_up(result: Result<Recovered, RecoveryFailed>) -> (ChannelError, PathBuf, u32) {
    match result {
        Err(RecoveryFailed::GaveUp {
            error,
            marker,
            attempts,
        }) => (error, marker.expect("a marker path"), attempts),
        other => panic!("expected GaveUp, got {other:?}"),
    }
}

fn expired() -> Trigger {
    Trigger::from_code(1501, "")
}

// ---------------------------------------------------------------------------------------------
// Mode http

#[tokio::test]
async fn http_refresh_fills_templates_writes_back_and_cleans_up() {
    let logs = Logs::default();
    let _logging = tracing::subscriber::set_default(logs.clone());
    let server = Server::start(|_, _| {
        Reply::Json(
            200,
            json!({
                "data": {"tokens": [{"openim": "new-openim-token-1"}], "refresh": "rt-rotated-1"},
                "ignored": true
            }),
        )
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("auth/tokens.json");
    write_json(
        &state_file,
        &json!({
            "primary": {
                "auth_server_url": server.base,
                "refresh_token": "rt-secret-primary",
                "api_key": "key-secret-primary",
                "keep": "untouched"
            },
            "team-b": {"refresh_token": "rt-secret-team-b"}
        }),
    );
    let stale = home.path().join("stale/primary.json");
    let other_stale = home.path().join("stale/team-b.json");
    write_json(&stale, &json!({}));
    write_json(&other_stale, &json!({}));
    let mut recovery = recovery(
        "primary",
        json!({
            "mode": "http",
            "http": {
                "stateFile": state_file,
                "endpoint": "{state.auth_server_url}/api/refresh?account={accountId}",
                "headers": {
                    "authorization": "Bearer {state.api_key}",
                    "x-account": "{accountId}",
                    "x-literal": "{not-a-placeholder}"
                },
                "body": {
                    "refreshToken": "{state.refresh_token}",
                    "client": {"id": "{accountId}", "tags": ["bot", "{accountId}-{state.keep}", 7, null]}
                },
                "responseTokenPath": ["tokens.openimToken", "data.tokens.0.openim"],
                "stateWriteBack": {
                    "refresh_token": ["tokens.refreshToken", "data.refresh"],
                    "openim_token": "data.tokens.0.openim",
                    "absent": "no.such.path"
                },
                "clearOnSuccess": ["~/stale/{accountId}.json"]
            }
        }),
        home.path(),
    );
    // A marker left by an earlier failure is obsolete once the token is back.
    let marker = recovery.marker_path().expect("marker path");
    assert_eq!(
        marker,
        home.path()
            .join(".openclaw/multi-openim/manual-login.primary.json")
    );
    write_json(&marker, &json!({"accountId": "primary"}));
    let other_marker = home
        .path()
        .join(".openclaw/multi-openim/manual-login.team-b.json");
    write_json(&other_marker, &json!({"accountId": "team-b"}));
    let host = TestHost::default();

    let recovered = run(&mut recovery, expired(), &host)
        .await
        .expect("recovered");

    assert_eq!(recovered.token.expose(), "new-openim-token-1");
    assert_eq!((recovered.attempts, recovered.user_id), (1, None));
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri, "/api/refresh?account=primary");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer key-secret-primary")
    );
    assert_eq!(request.header("x-account"), Some("primary"));
    assert_eq!(request.header("x-literal"), Some("{not-a-placeholder}"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "refreshToken": "rt-secret-primary",
            "client": {"id": "primary", "tags": ["bot", "primary-untouched", 7, null]}
        })
    );

    assert_eq!(
        read_json(&state_file),
        json!({
            "primary": {
                "auth_server_url": server.base,
                "refresh_token": "rt-rotated-1",
                "openim_token": "new-openim-token-1",
                "api_key": "key-secret-primary",
                "keep": "untouched"
            },
            "team-b": {"refresh_token": "rt-secret-team-b"}
        })
    );
    assert_eq!(
        host.saved(),
        [("primary".to_owned(), "new-openim-token-1".to_owned())]
    );
    assert!(!stale.exists(), "clearOnSuccess file removed");
    assert!(other_stale.exists(), "another account's file kept");
    assert!(!marker.exists(), "own marker removed");
    assert!(other_marker.exists(), "another account's marker kept");

    let logs = logs.text();
    assert!(
        logs.contains("primary") && logs.contains("OnUserTokenExpired"),
        "{logs}"
    );
    for secret in [
        "new-openim-token-1",
        "rt-secret-primary",
        "key-secret-primary",
        "rt-rotated-1",
    ] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
}

#[tokio::test]
async fn get_with_a_string_token_path_creates_the_state_file() {
    let server =
        Server::start(|_, _| Reply::Json(200, json!({"result": {"token": " tok-get ", "rt": 5}})))
            .await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("new/state.json");
    let mut recovery = recovery(
        "acct",
        json!({"mode": "http", "http": {
            "stateFile": state_file,
            "endpoint": format!("{}/r/{{accountId}}", server.base),
            "method": "get",
            "responseTokenPath": "result.token",
            "stateWriteBack": {"refresh_token": "result.rt"}
        }}),
        home.path(),
    );
    let host = TestHost::default();
    let recovered = run(&mut recovery, Trigger::from_code(1502, ""), &host)
        .await
        .expect("recovered");
    assert_eq!(recovered.token.expose(), "tok-get", "trimmed");
    let requests = server.requests();
    assert_eq!(
        (requests[0].method.clone(), requests[0].uri.as_str()),
        (Method::GET, "/r/acct")
    );
    assert_eq!(requests[0].body, "");
    assert_eq!(
        read_json(&state_file),
        json!({"acct": {"refresh_token": 5}})
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn token_paths_are_tried_in_order_and_string_bodies_are_sent_as_text() {
    let server = Server::start(|n, _| match n {
        // The first path is there but empty: the fallback wins.
        0 => Reply::Json(
            200,
            json!({"tokens": {"openimToken": ""}, "data": {"openimToken": "from-fallback"}}),
        ),
        _ => Reply::Json(
            200,
            json!({"tokens": {"openimToken": "from-first"}, "data": {"openimToken": "from-fallback"}}),
        ),
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("tokens.json");
    write_json(&state_file, &json!({"a": {"refresh_token": "rt-a"}}));
    let mut recovery = recovery(
        "a",
        json!({"mode": "http", "http": {
            "stateFile": state_file,
            "endpoint": format!("{}/refresh", server.base),
            "body": "grant=refresh&token={state.refresh_token}&account={accountId}",
            "responseTokenPath": ["tokens.openimToken", "data.openimToken"]
        }}),
        home.path(),
    );
    let host = TestHost::default();
    let first = run(&mut recovery, expired(), &host).await.expect("first");
    assert_eq!(first.token.expose(), "from-fallback");
    recovery.token_accepted();
    let second = run(&mut recovery, expired(), &host).await.expect("second");
    assert_eq!(second.token.expose(), "from-first");
    let requests = server.requests();
    assert_eq!(requests[0].body, "grant=refresh&token=rt-a&account=a");
    assert_eq!(
        requests[0].header("content-type"),
        Some("text/plain;charset=UTF-8")
    );
    assert_eq!(
        host.saved(),
        [
            ("a".to_owned(), "from-fallback".to_owned()),
            ("a".to_owned(), "from-first".to_owned())
        ]
    );
}

#[tokio::test]
async fn failures_are_retried_with_growing_backoff_until_success() {
    let server = Server::start(|n, _| match n {
        0 => Reply::Text(500, "boom".into()),
        1 => Reply::Text(200, "<html>not json</html>".into()),
        2 => Reply::Json(200, json!({"data": {}})),
        _ => Reply::Json(200, json!({"token": "after-retries"})),
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    let mut recovery = recovery(
        "a",
        json!({
            "mode": "http",
            "http": {"endpoint": format!("{}/refresh", server.base)},
            "backoff": {"initialMs": 40, "maxMs": 1000, "maxAttempts": 5}
        }),
        home.path(),
    );
    let host = TestHost::default();
    let recovered = run(
        &mut recovery,
        Trigger::from_code(10001, "dial timeout"),
        &host,
    )
    .await
    .expect("recovered");
    assert_eq!(recovered.token.expose(), "after-retries");
    assert_eq!(recovered.attempts, 4);
    let at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 4);
    // Equal jitter: the n-th wait is at least half of 40 ms · 2ⁿ.
    for (n, floor_ms) in [20u64, 40, 80].into_iter().enumerate() {
        let gap = at[n + 1] - at[n];
        assert!(
            gap >= Duration::from_millis(floor_ms),
            "wait {n} was {gap:?}, expected at least {floor_ms} ms"
        );
    }
    assert_eq!(host.saved().len(), 1);
    assert!(!recovery.marker_path().expect("marker path").exists());
}

#[tokio::test]
async fn endpoint_always_failing_leaves_a_marker_for_that_account_only() {
    let logs = Logs::default();
    let _logging = tracing::subscriber::set_default(logs.clone());
    // The error page echoes the request, as some servers do: none of it may reach the marker.
    let server = Server::start(|_, seen| {
        Reply::Text(503, format!("bad request: {} {}", seen.uri, seen.body))
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("tokens.json");
    write_json(
        &state_file,
        &json!({"a": {"refresh_token": "rt-secret-aaaa"}, "b": {"refresh_token": "rt-secret-bbbb"}}),
    );
    let stale = home.path().join("stale.a.json");
    write_json(&stale, &json!({}));
    let section = json!({
        "mode": "http",
        "manualLoginMarkerPath": home.path().join("markers/login.json"),
        "http": {
            "stateFile": state_file,
            "endpoint": format!("{}/refresh?key={{state.refresh_token}}", server.base),
            "headers": {"x-api-key": "literal-api-key-123"},
            "body": {"refreshToken": "{state.refresh_token}", "password": "body-password-456"},
            "clearOnSuccess": [home.path().join("stale.{accountId}.json")]
        },
        "backoff": {"initialMs": 1, "maxMs": 5, "maxAttempts": 3}
    });
    let mut recovery = recovery("a", section, home.path());
    let host = TestHost::default();

    let (error, marker, attempts) = gave_up(run(&mut recovery, expired(), &host).await);

    assert_eq!(attempts, 3);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(error.kind, ErrorKind::NeedsLogin);
    assert!(error.message.contains("HTTP 503"), "{error}");
    assert!(
        error
            .message
            .contains("channels.multi-openim.accounts.a.token"),
        "{error}"
    );
    assert_eq!(marker, home.path().join("markers/login.a.json"));
    assert!(!home.path().join("markers/login.b.json").exists());
    let content = std::fs::read_to_string(&marker).expect("marker");
    let parsed: Value = serde_json::from_str(&content).expect("marker JSON");
    assert_eq!(parsed["channel"], "multi-openim");
    assert_eq!(parsed["accountId"], "a");
    assert_eq!(parsed["reason"], "OnUserTokenExpired");
    assert_eq!(parsed["mode"], "http");
    assert_eq!(parsed["attempts"], 3);
    let last_error = parsed["lastError"].as_str().expect("lastError");
    assert!(last_error.contains("HTTP 503"), "{last_error}");
    assert!(
        last_error.contains(&format!(
            "{}/refresh?key={{state.refresh_token}}",
            server.base
        )),
        "names the endpoint as configured: {last_error}"
    );
    let hint = parsed["hint"].as_str().expect("hint");
    assert!(
        hint.contains("channels.multi-openim.accounts.a.token"),
        "{hint}"
    );
    let time = parsed["time"].as_str().expect("time");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    let logs = logs.text();
    assert!(logs.contains("retrying"), "{logs}");
    for secret in [
        "rt-secret-aaaa",
        "rt-secret-bbbb",
        "literal-api-key-123",
        "body-password-456",
    ] {
        assert!(!content.contains(secret), "{secret} in marker:\n{content}");
        assert!(
            !error.message.contains(secret),
            "{secret} in error: {error}"
        );
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&marker)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(host.saved().is_empty());
    assert!(stale.exists(), "nothing is cleared on failure");
}

#[tokio::test]
async fn a_missing_state_field_is_named_and_not_retried() {
    let server = Server::start(|_, _| Reply::Json(200, json!({"token": "never"}))).await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("tokens.json");
    write_json(&state_file, &json!({"a": {"other": "x"}}));
    let mut recovery = recovery(
        "a",
        json!({
            "mode": "http",
            "http": {
                "stateFile": state_file,
                "endpoint": format!("{}/refresh", server.base),
                "body": {"refreshToken": "{state.refresh_token}"}
            },
            "backoff": {"initialMs": 1, "maxAttempts": 5}
        }),
        home.path(),
    );
    let (error, marker, attempts) =
        gave_up(run(&mut recovery, expired(), &TestHost::default()).await);
    assert_eq!(attempts, 1);
    assert!(server.requests().is_empty(), "nothing sent");
    for part in [
        "channels.multi-openim.tokenRefresh.http.body.refreshToken",
        "{state.refresh_token}",
        "no field \"refresh_token\" for account \"a\"",
        &state_file.display().to_string(),
    ] {
        assert!(error.message.contains(part), "{part:?} not in {error}");
    }
    assert!(marker.exists());
}

/// A state value (the auth server may have written it back) that climbs out of the
/// `clearOnSuccess` directory is refused before anything is sent, and nothing is deleted.
#[tokio::test]
async fn a_clear_on_success_value_that_climbs_out_is_refused_and_nothing_is_deleted() {
    let server = Server::start(|_, _| Reply::Json(200, json!({"token": "fresh"}))).await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("tokens.json");
    write_json(
        &state_file,
        &json!({"a": {"name": "../precious", "secret_name": "rt-secret/../../x"}}),
    );
    let precious = home.path().join("precious.json");
    write_json(&precious, &json!({"keep": true}));
    let mut recovery = recovery(
        "a",
        json!({
            "mode": "http",
            "http": {
                "stateFile": state_file,
                "endpoint": format!("{}/refresh", server.base),
                "clearOnSuccess": ["~/markers/{state.secret_name}.json", "~/markers/{state.name}.json"]
            },
            "backoff": {"initialMs": 1, "maxAttempts": 5}
        }),
        home.path(),
    );
    let (error, _, attempts) = gave_up(run(&mut recovery, expired(), &TestHost::default()).await);
    assert_eq!(attempts, 1, "a config problem is not retried");
    assert!(server.requests().is_empty(), "nothing sent");
    assert!(
        error
            .message
            .contains("channels.multi-openim.tokenRefresh.http.clearOnSuccess.0: "),
        "{error}"
    );
    assert!(error.message.contains("leads outside"), "{error}");
    assert!(
        !error.message.contains("rt-secret"),
        "a state value leaked: {error}"
    );
    assert!(
        precious.exists(),
        "a file outside the directory was deleted"
    );
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried_then_give_up() {
    let server = Server::start(|_, _| Reply::Hang).await;
    let home = tempfile::tempdir().expect("tempdir");
    let mut hanging = recovery(
        "slow",
        json!({
            "mode": "http",
            "http": {"endpoint": format!("{}/refresh", server.base), "timeoutMs": 100},
            "backoff": {"initialMs": 1, "maxMs": 2, "maxAttempts": 2}
        }),
        home.path(),
    );
    let (error, _, attempts) = gave_up(run(&mut hanging, expired(), &TestHost::default()).await);
    assert_eq!((attempts, server.requests().len()), (2, 2));
    assert!(error.message.contains("no answer within 100 ms"), "{error}");
    assert!(error.message.contains("timeoutMs"), "{error}");

    let mut refused = recovery(
        "down",
        json!({
            "mode": "http",
            "http": {"endpoint": format!("{}/refresh", refused_base())},
            "backoff": {"initialMs": 1, "maxMs": 2, "maxAttempts": 2}
        }),
        home.path(),
    );
    let (error, marker, attempts) =
        gave_up(run(&mut refused, expired(), &TestHost::default()).await);
    assert_eq!(attempts, 2);
    assert!(error.message.contains("could not connect"), "{error}");
    assert!(marker.ends_with("manual-login.down.json"), "{marker:?}");
}

#[tokio::test]
async fn cancellation_stops_a_request_and_a_backoff_wait_without_a_marker() {
    let logs = Logs::default();
    let _logging = tracing::subscriber::set_default(logs.clone());
    let server = Server::start(|n, _| match n {
        0 => Reply::Hang,
        _ => Reply::Text(503, "busy".into()),
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    // A minute between attempts: only cancellation can end this recovery in time.
    let mut recovery = recovery(
        "a",
        json!({
            "mode": "http",
            "http": {"endpoint": format!("{}/refresh", server.base), "timeoutMs": 600_000},
            "backoff": {"initialMs": 60_000, "maxAttempts": 5}
        }),
        home.path(),
    );
    let host = TestHost::default();

    // During the request: the endpoint never answers.
    let cancel = CancellationToken::new();
    let stop = async {
        server.wait_for_requests(1).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::time::timeout(
        LIMIT,
        futures::future::join(recovery.recover(&expired(), &host, &cancel), stop),
    )
    .await
    .expect("cancelled in time");
    assert!(
        matches!(result, Err(RecoveryFailed::Cancelled { attempts: 1 })),
        "{result:?}"
    );

    // During the wait after a failed attempt.
    let cancel = CancellationToken::new();
    let stop = async {
        while !logs.text().contains("retrying") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
    };
    let (result, ()) = tokio::time::timeout(
        LIMIT,
        futures::future::join(recovery.recover(&expired(), &host, &cancel), stop),
    )
    .await
    .expect("cancelled in time");
    assert!(
        matches!(result, Err(RecoveryFailed::Cancelled { attempts: 1 })),
        "{result:?}"
    );
    assert_eq!(server.requests().len(), 2);
    assert!(!recovery.marker_path().expect("marker path").exists());

    // Cancelled before it starts: nothing is sent at all.
    let cancelled = CancellationToken::new();
    cancelled.cancel();
    recovery.token_accepted();
    let result = recovery.recover(&expired(), &host, &cancelled).await;
    assert!(
        matches!(result, Err(RecoveryFailed::Cancelled { attempts: 0 })),
        "{result:?}"
    );
    assert_eq!(server.requests().len(), 2);
    assert!(host.saved().is_empty());
}

// Several workers, so that the state-file updates really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accounts_keep_their_own_state_markers_and_backoff() {
    // Every account but `a5` gets a token; `a5` always fails.
    let server = Server::start(|_, seen| {
        let account = seen.json()["account"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if account == "a5" {
            return Reply::Text(500, "no".into());
        }
        Reply::Json(
            200,
            json!({"token": format!("tok-{account}"), "refresh": format!("rt-{account}-new")}),
        )
    })
    .await;
    let home = tempfile::tempdir().expect("tempdir");
    let state_file = home.path().join("tokens.json");
    let ids: Vec<String> = (0..6).map(|i| format!("a{i}")).collect();
    let initial: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| {
            (
                id.clone(),
                json!({"refresh_token": format!("rt-{id}"), "extra": id}),
            )
        })
        .collect();
    write_json(&state_file, &Value::Object(initial));
    let section = json!({
        "mode": "http",
        "manualLoginMarkerPath": home.path().join("m/{accountId}.json"),
        "http": {
            "stateFile": state_file,
            "endpoint": format!("{}/refresh", server.base),
            "body": {"account": "{accountId}", "refreshToken": "{state.refresh_token}"},
            "stateWriteBack": {"refresh_token": "refresh"}
        },
        "backoff": {"initialMs": 1, "maxMs": 5, "maxAttempts": 2}
    });
    let host = Arc::new(TestHost::default());
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut recovery = recovery(id, section.clone(), home.path());
            let host = host.clone();
            tokio::spawn(async move {
                recovery
                    .recover(&expired(), host.as_ref(), &CancellationToken::new())
                    .await
            })
        })
        .collect();
    let results: Vec<_> = tokio::time::timeout(LIMIT, futures::future::join_all(tasks))
        .await
        .expect("in time")
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();

    for (id, result) in ids.iter().zip(&results) {
        match (id.as_str(), result) {
            ("a5", Err(RecoveryFailed::GaveUp { attempts: 2, .. })) => {}
            (_, Ok(recovered)) => assert_eq!(recovered.token.expose(), format!("tok-{id}")),
            (_, other) => panic!("{id}: {other:?}"),
        }
    }
    let state = read_json(&state_file);
    for id in &ids[..5] {
        assert_eq!(
            state[id],
            json!({"refresh_token": format!("rt-{id}-new"), "extra": id}),
            "{id}"
        );
    }
    assert_eq!(
        state["a5"],
        json!({"refresh_token": "rt-a5", "extra": "a5"})
    );
    let markers: Vec<String> = std::fs::read_dir(home.path().join("m"))
        .expect("markers dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(markers, ["a5.json"]);
    let mut saved = host.saved();
    saved.sort();
    let expected: Vec<(String, String)> = ids[..5]
        .iter()
        .map(|id| (id.clone(), format!("tok-{id}")))
        .collect();
    assert_eq!(saved, expected);
}

#[tokio::test]
async fn a_recovery_right_after_an_unconfirmed_one_waits_first() {
    let server = Server::start(|_, _| Reply::Json(200, json!({"token": "t"}))).await;
    let home = tempfile::tempdir().expect("tempdir");
    let mut recovery = recovery(
        "a",
        json!({
            "mode": "http",
            "http": {"endpoint": format!("{}/refresh", server.base)},
            "backoff": {"initialMs": 200, "maxAttempts": 1}
        }),
        home.path(),
    );
    let host = TestHost::default();
    run(&mut recovery, expired(), &host).await.expect("first");
    // The new token was refused again before the server ever accepted it.
    run(&mut recovery, Trigger::from_code(1502, ""), &host)
        .await
        .expect("second");
    let at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert!(
        at[1] - at[0] >= Duration::from_millis(100),
        "{:?}",
        at[1] - at[0]
    );
}

// ---------------------------------------------------------------------------------------------
// Modes off and hook

#[tokio::test]
async fn mode_off_writes_the_marker_at_once() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut recovery = recovery("primary", json!({"mode": "off"}), home.path());
    let host = TestHost::with_hook(Ok(Some(HookToken {
        token: Secret::new("unused"),
        user_id: None,
    })));
    let (error, marker, attempts) =
        gave_up(run(&mut recovery, Trigger::from_code(2002, ""), &host).await);
    assert_eq!(attempts, 0);
    assert_eq!(error.kind, ErrorKind::NeedsLogin);
    assert!(
        error
            .message
            .contains("channels.multi-openim.tokenRefresh.mode is \"off\""),
        "{error}"
    );
    assert!(host.hook_calls().is_empty() && host.saved().is_empty());
    let parsed = read_json(&marker);
    assert_eq!(parsed["reason"], "OnKickedOffline");
    assert_eq!(parsed["mode"], "off");
    assert_eq!(parsed["attempts"], 0);
    assert_eq!(
        marker,
        home.path()
            .join(".openclaw/multi-openim/manual-login.primary.json")
    );
}

#[tokio::test]
async fn hook_mode_returns_the_hooks_token() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut recovery = recovery("primary", json!({"mode": "hook"}), home.path());
    write_json(
        &recovery.marker_path().expect("marker path"),
        &json!({"stale": true}),
    );
    let host = TestHost::with_hook(Ok(Some(HookToken {
        token: Secret::new("hook-token"),
        user_id: Some("bot-2".into()),
    })));
    let recovered = run(
        &mut recovery,
        Trigger::from_code(10001, "dial tcp: i/o timeout"),
        &host,
    )
    .await
    .expect("recovered");
    assert_eq!(recovered.token.expose(), "hook-token");
    assert_eq!(recovered.user_id.as_deref(), Some("bot-2"));
    assert_eq!(
        host.hook_calls(),
        [(
            "primary".to_owned(),
            "OnConnectFailed errCode=10001".to_owned()
        )]
    );
    // The hook owns its token store; the config is patched by mode http only, as in the seed.
    assert!(host.saved().is_empty());
    assert!(
        !recovery.marker_path().expect("marker path").exists(),
        "stale marker removed"
    );
}

#[tokio::test]
async fn hook_mode_without_a_token_writes_the_marker() {
    let cases = [
        (Ok(None), "is not set, or returned null"),
        (
            Err(ChannelError::transient(
                "refresher failed for eyJhbGciOiJIUzI1NiJ9.eyJVc2VySUQiOiJiIn0.c2ln",
            )),
            "threw: refresher failed for <redacted>",
        ),
        (
            Ok(Some(HookToken {
                token: Secret::new("  "),
                user_id: None,
            })),
            "returned an empty token",
        ),
    ];
    for (answer, expected) in cases {
        let home = tempfile::tempdir().expect("tempdir");
        let mut recovery = recovery("a", json!({}), home.path());
        let host = TestHost::with_hook(answer);
        let (error, marker, attempts) = gave_up(run(&mut recovery, expired(), &host).await);
        assert_eq!(attempts, 1);
        assert!(
            error.message.contains(expected),
            "{expected:?} not in {error}"
        );
        assert!(
            error
                .message
                .contains("globalThis.__multiOpenimTokenRefresher"),
            "{error}"
        );
        let content = std::fs::read_to_string(&marker).expect("marker");
        assert!(!content.contains("eyJ"), "{content}");
        assert_eq!(read_json(&marker)["mode"], "hook");
        assert_eq!(host.hook_calls().len(), 1);
    }
}
