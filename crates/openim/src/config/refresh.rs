//! `channels.multi-openim.tokenRefresh`: what happens when a token expires, is refused or is
//! kicked (the seed plugin's "Token refresh" section).
//!
//! The channel knows no auth backend: the refresh request is configuration. `{accountId}` and
//! `{state.<field>}` are substituted into the endpoint, header values, string leaves of the
//! body and `clearOnSuccess` paths; `state.<field>` reads `stateFile[accountId][field]`. Only
//! the settings live here; the refresh itself runs with the account.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use channel_core::{Backoff, ChannelError};
use schemars::JsonSchema;
use serde::Deserialize;
use url::Url;

/// `manualLoginMarkerPath` when not set. The account id goes before the extension.
pub const DEFAULT_MARKER_PATH: &str = "~/.openclaw/multi-openim/manual-login.json";
/// `tokenRefresh.http.timeoutMs` when not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `tokenRefresh.http.responseTokenPath` when not set.
pub const DEFAULT_TOKEN_PATH: &str = "token";
const MAX_TIMEOUT_MS: u64 = 600_000;
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `tokenRefresh.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefreshMode {
    /// Request a new token as `tokenRefresh.http` describes.
    Http,
    /// Ask the host's refresher hook (`globalThis.__multiOpenimTokenRefresher`). The default,
    /// as in the JS plugin.
    #[default]
    Hook,
    /// Do not try: write the manual-login marker at once.
    Off,
}

/// A dot-path into a JSON response, or several tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(path) => vec![path],
            Self::Many(paths) => paths,
        }
    }
}

/// `channels.multi-openim.tokenRefresh`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRefreshConfig {
    /// `http`, `hook` (default) or `off`.
    pub mode: Option<RefreshMode>,
    /// The refresh request, for mode `http`.
    pub http: Option<HttpRefreshConfig>,
    /// Where a failed recovery leaves a marker for a person to act on. A template: the account
    /// id replaces `{accountId}`, or else goes before the extension, so each account has its
    /// own file. Default `~/.openclaw/multi-openim/manual-login.json`, i.e.
    /// `manual-login.<accountId>.json`.
    pub manual_login_marker_path: Option<String>,
    /// Retry pacing of a failing refresh, per account.
    pub backoff: Option<BackoffConfig>,
}

/// `channels.multi-openim.tokenRefresh.http`.
#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRefreshConfig {
    /// JSON file keyed by account id whose fields `{state.<field>}` reads and
    /// `stateWriteBack` updates.
    pub state_file: Option<String>,
    /// The refresh URL (a template), e.g. `{state.auth_server_url}/api/refresh`.
    pub endpoint: Option<String>,
    /// HTTP method. Default `POST`.
    pub method: Option<String>,
    /// Request headers; values are templates.
    pub headers: Option<BTreeMap<String, String>>,
    /// Request body: a JSON value whose string leaves are templates (sent as JSON), or a
    /// string template sent as is.
    pub body: Option<serde_json::Value>,
    /// Request timeout in milliseconds. Default 10000.
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<u64>,
    /// Dot-path of the new token in the JSON response, or several tried in order. Default
    /// `token`.
    pub response_token_path: Option<OneOrMany>,
    /// State fields to update from the response: field name → dot-path(s) in the response.
    pub state_write_back: Option<BTreeMap<String, OneOrMany>>,
    /// Files to delete after a successful refresh (templates), e.g. the manual-login marker.
    pub clear_on_success: Option<Vec<String>>,
}

impl std::fmt::Debug for HttpRefreshConfig {
    // Header values and the body may hold credentials: only their shape is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRefreshConfig")
            .field("state_file", &self.state_file)
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field(
                "headers",
                &self.headers.as_ref().map(|h| h.keys().collect::<Vec<_>>()),
            )
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("response_token_path", &self.response_token_path)
            .field("state_write_back", &self.state_write_back)
            .field("clear_on_success", &self.clear_on_success)
            .finish()
    }
}

/// `channels.multi-openim.tokenRefresh.backoff`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackoffConfig {
    /// First wait after a failed refresh, in milliseconds; it doubles each time. Default 5000.
    #[schemars(range(min = 1))]
    pub initial_ms: Option<u64>,
    /// Longest wait, in milliseconds. Default 300000 (5 minutes).
    #[schemars(range(min = 1))]
    pub max_ms: Option<u64>,
    /// Failed refreshes in a row before giving up and writing the manual-login marker.
    /// Default 5.
    #[schemars(range(min = 1))]
    pub max_attempts: Option<u32>,
}

/// The effective `tokenRefresh` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRefresh {
    pub mode: RefreshMode,
    /// Present exactly when `mode` is `http`.
    pub http: Option<HttpRefresh>,
    /// The marker path template; see [`TokenRefresh::manual_login_marker`].
    pub manual_login_marker_path: String,
    pub backoff: RefreshBackoff,
}

/// The effective refresh request (templates not yet filled in).
#[derive(Clone, PartialEq)]
pub struct HttpRefresh {
    pub state_file: Option<String>,
    pub endpoint: String,
    /// Upper case.
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<serde_json::Value>,
    pub timeout: Duration,
    /// Tried in order; the first that yields a non-empty string wins.
    pub response_token_paths: Vec<String>,
    pub state_write_back: BTreeMap<String, Vec<String>>,
    pub clear_on_success: Vec<String>,
}

impl std::fmt::Debug for HttpRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRefresh")
            .field("state_file", &self.state_file)
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("response_token_paths", &self.response_token_paths)
            .field("state_write_back", &self.state_write_back)
            .field("clear_on_success", &self.clear_on_success)
            .finish()
    }
}

/// Pacing of a failing refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshBackoff {
    pub initial: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl RefreshBackoff {
    pub const DEFAULT: Self = Self {
        initial: Duration::from_secs(5),
        max: Duration::from_secs(300),
        max_attempts: 5,
    };

    /// A fresh per-account backoff with these bounds.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial, self.max)
    }
}

impl TokenRefresh {
    /// Checks and completes the settings; `at` is the section's path for error messages.
    pub fn resolve(at: &str, config: Option<&TokenRefreshConfig>) -> Result<Self, ChannelError> {
        let default = TokenRefreshConfig::default();
        let config = config.unwrap_or(&default);
        let mode = config.mode.unwrap_or_default();
        let http = match (mode, &config.http) {
            (RefreshMode::Http, Some(http)) => {
                Some(HttpRefresh::resolve(&format!("{at}.http"), http)?)
            }
            (RefreshMode::Http, None) => {
                return Err(ChannelError::bad_input(format!(
                    "{at}.http: required when {at}.mode is \"http\""
                )));
            }
            // Kept in config for a later switch back to http; not checked while unused.
            _ => None,
        };
        let marker = config
            .manual_login_marker_path
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_MARKER_PATH);
        if marker.is_empty() {
            return Err(ChannelError::bad_input(format!(
                "{at}.manualLoginMarkerPath: empty"
            )));
        }
        Ok(Self {
            mode,
            http,
            manual_login_marker_path: marker.to_owned(),
            backoff: resolve_backoff(&format!("{at}.backoff"), config.backoff.as_ref())?,
        })
    }

    /// This account's marker file: `{accountId}` in the template replaced, or else the id
    /// inserted before the file's extension (`manual-login.json` → `manual-login.<id>.json`),
    /// so N accounts write N markers. A leading `~/` is `home`. An id that would lead out of
    /// the template's directory is refused, naming `manualLoginMarkerPath`.
    pub fn manual_login_marker(
        &self,
        account_id: &str,
        home: Option<&Path>,
    ) -> Result<PathBuf, ChannelError> {
        // The id becomes part of a file name: it must not walk the directory tree.
        let id: String = account_id
            .chars()
            .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
            .collect();
        let template = self.manual_login_marker_path.as_str();
        let template = if template.contains("{accountId}") {
            template.to_owned()
        } else {
            let name_start = template.rfind(['/', '\\']).map_or(0, |i| i + 1);
            match template[name_start..].rfind('.') {
                // A leading dot is a hidden file, not an extension.
                Some(dot) if dot > 0 => {
                    let at = name_start + dot;
                    format!("{}.{{accountId}}{}", &template[..at], &template[at..])
                }
                _ => format!("{template}.{{accountId}}"),
            }
        };
        let filled = template.replace("{accountId}", &id);
        super::paths::confine(
            &template,
            &filled,
            home,
            "channels.multi-openim.tokenRefresh.manualLoginMarkerPath",
        )
    }
}

impl HttpRefresh {
    fn resolve(at: &str, config: &HttpRefreshConfig) -> Result<Self, ChannelError> {
        let field = |name: &str| format!("{at}.{name}");
        let bad =
            |name: &str, why: String| ChannelError::bad_input(format!("{}: {why}", field(name)));
        let state_file = config
            .state_file
            .as_deref()
            .map(str::trim)
            .map(str::to_owned);
        if state_file.as_deref() == Some("") {
            return Err(bad("stateFile", "empty".into()));
        }
        let endpoint = config
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad("endpoint", "required when the mode is \"http\"".into()))?
            .to_owned();
        if !endpoint.contains('{') {
            let url = Url::parse(&endpoint)
                .map_err(|e| bad("endpoint", format!("not a URL ({e}): {endpoint:?}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(bad(
                    "endpoint",
                    format!("must start with http:// or https://, got {endpoint:?}"),
                ));
            }
        }
        let method = config
            .method
            .as_deref()
            .map_or("POST", str::trim)
            .to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(bad(
                "method",
                format!("{method:?} is not one of {}", METHODS.join(", ")),
            ));
        }
        if method == "GET" && config.body.as_ref().is_some_and(|b| !b.is_null()) {
            // fetch refuses a GET with a body, and so would most servers.
            return Err(bad("body", "a GET request cannot have a body".into()));
        }
        let timeout = match config.timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => {
                return Err(bad(
                    "timeoutMs",
                    format!("{ms} is out of range (1–{MAX_TIMEOUT_MS})"),
                ));
            }
        };
        let response_token_paths = match config.response_token_path.clone() {
            None => vec![DEFAULT_TOKEN_PATH.to_owned()],
            Some(paths) => check_paths(&field("responseTokenPath"), paths.into_vec())?,
        };
        let mut state_write_back = BTreeMap::new();
        for (name, paths) in config.state_write_back.clone().unwrap_or_default() {
            let at = field(&format!("stateWriteBack.{name}"));
            if name.trim().is_empty() {
                return Err(bad("stateWriteBack", "a field name is empty".into()));
            }
            state_write_back.insert(name, check_paths(&at, paths.into_vec())?);
        }
        let clear_on_success = config.clear_on_success.clone().unwrap_or_default();
        if let Some(i) = clear_on_success.iter().position(|p| p.trim().is_empty()) {
            return Err(bad(&format!("clearOnSuccess.{i}"), "empty".into()));
        }
        let headers = config.headers.clone().unwrap_or_default();

        // Everything that reads or writes the state file needs one.
        if state_file.is_none() {
            let mut uses = Vec::new();
            collect_state_uses(&field("endpoint"), &serde_json::json!(endpoint), &mut uses);
            for (name, value) in &headers {
                collect_state_uses(
                    &field(&format!("headers.{name}")),
                    &serde_json::json!(value),
                    &mut uses,
                );
            }
            if let Some(body) = &config.body {
                collect_state_uses(&field("body"), body, &mut uses);
            }
            for (i, path) in clear_on_success.iter().enumerate() {
                collect_state_uses(
                    &field(&format!("clearOnSuccess.{i}")),
                    &serde_json::json!(path),
                    &mut uses,
                );
            }
            if let Some((where_, placeholder)) = uses.first() {
                return Err(ChannelError::bad_input(format!(
                    "{where_}: uses {placeholder} but {} is not set",
                    field("stateFile")
                )));
            }
            if !state_write_back.is_empty() {
                return Err(bad(
                    "stateWriteBack",
                    format!("needs {} to write to", field("stateFile")),
                ));
            }
        }
        Ok(Self {
            state_file,
            endpoint,
            method,
            headers,
            body: config.body.clone().filter(|b| !b.is_null()),
            timeout,
            response_token_paths,
            state_write_back,
            clear_on_success,
        })
    }
}

fn resolve_backoff(
    at: &str,
    config: Option<&BackoffConfig>,
) -> Result<RefreshBackoff, ChannelError> {
    let defaults = RefreshBackoff::DEFAULT;
    let Some(config) = config else {
        return Ok(defaults);
    };
    let initial = config
        .initial_ms
        .map_or(defaults.initial, Duration::from_millis);
    let max = config
        .max_ms
        .map_or(defaults.max.max(initial), Duration::from_millis);
    let max_attempts = config.max_attempts.unwrap_or(defaults.max_attempts);
    if initial.is_zero() {
        return Err(ChannelError::bad_input(format!(
            "{at}.initialMs: must be at least 1"
        )));
    }
    if max < initial {
        return Err(ChannelError::bad_input(format!(
            "{at}.maxMs: {} is less than initialMs {}",
            max.as_millis(),
            initial.as_millis()
        )));
    }
    if max_attempts == 0 {
        return Err(ChannelError::bad_input(format!(
            "{at}.maxAttempts: must be at least 1"
        )));
    }
    Ok(RefreshBackoff {
        initial,
        max,
        max_attempts,
    })
}

/// A dot-path list must have at least one path, and no path an empty segment.
fn check_paths(at: &str, paths: Vec<String>) -> Result<Vec<String>, ChannelError> {
    if paths.is_empty() {
        return Err(ChannelError::bad_input(format!("{at}: no path given")));
    }
    for (i, path) in paths.iter().enumerate() {
        if path.trim().is_empty() || path.split('.').any(|s| s.trim().is_empty()) {
            let where_ = if paths.len() == 1 {
                at.to_owned()
            } else {
                format!("{at}.{i}")
            };
            return Err(ChannelError::bad_input(format!(
                "{where_}: {path:?} is not a dot-path like \"data.token\""
            )));
        }
    }
    Ok(paths)
}

/// Every `{state.<field>}` in the string leaves of `value`, with the config path it is at.
fn collect_state_uses(at: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("{state.") {
                let after = &rest[start..];
                match after.find('}') {
                    Some(end) => {
                        out.push((at.to_owned(), after[..=end].to_owned()));
                        rest = &after[end + 1..];
                    }
                    None => break,
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_state_uses(&format!("{at}.{i}"), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                collect_state_uses(&format!("{at}.{key}"), item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use channel_core::ErrorKind;
    use serde_json::json;

    use super::*;

    const AT: &str = "channels.multi-openim.tokenRefresh";

    fn resolve(value: serde_json::Value) -> Result<TokenRefresh, ChannelError> {
        let config: TokenRefreshConfig = channel_core::parse_config(AT, &value)?;
        TokenRefresh::resolve(AT, Some(&config))
    }

    #[test]
    fn the_seed_multi_server_example() {
        let refresh = resolve(json!({
            "mode": "http",
            "http": {
                "stateFile": "/abs/path/to/tokens.json",
                "endpoint": "{state.auth_server_url}/api/refresh",
                "method": "POST",
                "headers": { "content-type": "application/json" },
                "body": { "refreshToken": "{state.refresh_token}" },
                "timeoutMs": 15000,
                "responseTokenPath": ["tokens.openimToken", "data.openimToken"],
                "stateWriteBack": {
                    "openim_token": ["tokens.openimToken", "data.openimToken"],
                    "access_token": ["tokens.accessToken", "data.accessToken"],
                    "refresh_token": ["tokens.refreshToken", "data.refreshToken"]
                },
                "clearOnSuccess": ["/abs/path/to/manual-login.{accountId}.json"]
            }
        }))
        .expect("resolve");
        assert_eq!(refresh.mode, RefreshMode::Http);
        let http = refresh.http.expect("http");
        assert_eq!(http.method, "POST");
        assert_eq!(http.timeout, Duration::from_millis(15_000));
        assert_eq!(
            http.response_token_paths,
            ["tokens.openimToken", "data.openimToken"]
        );
        assert_eq!(
            http.state_write_back["refresh_token"],
            ["tokens.refreshToken", "data.refreshToken"]
        );
        assert_eq!(
            http.clear_on_success,
            ["/abs/path/to/manual-login.{accountId}.json"]
        );
        assert_eq!(refresh.backoff, RefreshBackoff::DEFAULT);
    }

    #[test]
    fn the_seed_minimal_example_and_defaults() {
        let refresh = resolve(json!({"mode": "http", "http": {
            "stateFile": "/abs/path/to/tokens.json",
            "endpoint": "https://auth.example.com/refresh",
            "headers": { "content-type": "application/json" },
            "body": { "refreshToken": "{state.refresh_token}" },
            "responseTokenPath": "token",
            "stateWriteBack": { "refresh_token": "refresh_token" }
        }}))
        .expect("resolve");
        let http = refresh.http.expect("http");
        assert_eq!(http.method, "POST");
        assert_eq!(http.timeout, DEFAULT_TIMEOUT);
        assert_eq!(http.response_token_paths, ["token"]);
        assert_eq!(http.state_write_back["refresh_token"], ["refresh_token"]);
        let debug = format!("{http:?}");
        assert!(
            !debug.contains("application/json") && !debug.contains("refreshToken"),
            "{debug}"
        );

        let defaults = TokenRefresh::resolve(AT, None).expect("defaults");
        assert_eq!(defaults.mode, RefreshMode::Hook);
        assert_eq!(defaults.http, None);
        assert_eq!(defaults.manual_login_marker_path, DEFAULT_MARKER_PATH);
        let off = resolve(json!({"mode": "off", "http": {"timeoutMs": 0}})).expect("unused http");
        assert_eq!((off.mode, off.http), (RefreshMode::Off, None));
        let get =
            resolve(json!({"mode": "http", "http": {"endpoint": "http://a/r", "method": "get"}}))
                .expect("get");
        let get = get.http.expect("http");
        assert_eq!(
            (get.method.as_str(), get.response_token_paths.as_slice()),
            ("GET", &["token".to_owned()][..])
        );
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let cases = [
            (
                json!({"mode": "sometimes"}),
                "tokenRefresh.mode: unknown variant",
            ),
            (
                json!({"mode": "http"}),
                "tokenRefresh.http: required when channels.multi-openim.tokenRefresh.mode is \"http\"",
            ),
            (
                json!({"mode": "http", "http": {}}),
                "tokenRefresh.http.endpoint: required",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "auth.example.com"}}),
                "tokenRefresh.http.endpoint: not a URL",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "ftp://a/r"}}),
                "tokenRefresh.http.endpoint: must start with http",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "method": "BREW"}}),
                "tokenRefresh.http.method: \"BREW\" is not one of",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "method": "GET", "body": {}}}),
                "tokenRefresh.http.body: a GET request cannot have a body",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "timeoutMs": 0}}),
                "tokenRefresh.http.timeoutMs: 0 is out of range",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "timeoutMs": -1}}),
                "tokenRefresh.http.timeoutMs: invalid value",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "responseTokenPath": []}}),
                "tokenRefresh.http.responseTokenPath: no path given",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "responseTokenPath": ["a", "b..c"]}}),
                "tokenRefresh.http.responseTokenPath.1: \"b..c\" is not a dot-path",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "responseTokenPath": 5}}),
                "tokenRefresh.http.responseTokenPath: data did not match",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "{state.url}/r"}}),
                "tokenRefresh.http.endpoint: uses {state.url} but channels.multi-openim.tokenRefresh.http.stateFile is not set",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "headers": {"authorization": "Bearer {state.access}"}}}),
                "tokenRefresh.http.headers.authorization: uses {state.access}",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "body": {"a": [{"b": "{state.rt}"}]}}}),
                "tokenRefresh.http.body.a.0.b: uses {state.rt}",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "stateWriteBack": {"rt": "x"}}}),
                "tokenRefresh.http.stateWriteBack: needs channels.multi-openim.tokenRefresh.http.stateFile",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "stateFile": "/s", "stateWriteBack": {"rt": ""}}}),
                "tokenRefresh.http.stateWriteBack.rt: \"\" is not a dot-path",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "clearOnSuccess": [" "]}}),
                "tokenRefresh.http.clearOnSuccess.0: empty",
            ),
            (
                json!({"mode": "http", "http": {"endpoint": "http://a/r", "stateFile": " "}}),
                "tokenRefresh.http.stateFile: empty",
            ),
            (
                json!({"manualLoginMarkerPath": ""}),
                "tokenRefresh.manualLoginMarkerPath: empty",
            ),
            (
                json!({"backoff": {"initialMs": 0}}),
                "tokenRefresh.backoff.initialMs: must be at least 1",
            ),
            (
                json!({"backoff": {"initialMs": 5000, "maxMs": 1000}}),
                "tokenRefresh.backoff.maxMs: 1000 is less than initialMs 5000",
            ),
            (
                json!({"backoff": {"maxAttempts": 0}}),
                "tokenRefresh.backoff.maxAttempts: must be at least 1",
            ),
        ];
        for (value, expected) in cases {
            let err = resolve(value).expect_err(expected);
            assert_eq!(err.kind, ErrorKind::BadInput);
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }

    #[test]
    fn backoff_settings() {
        let refresh =
            resolve(json!({"backoff": {"initialMs": 200, "maxMs": 1000, "maxAttempts": 2}}))
                .expect("resolve");
        assert_eq!(
            refresh.backoff,
            RefreshBackoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(1),
                max_attempts: 2
            }
        );
        let mut backoff = refresh.backoff.backoff();
        assert!(backoff.next_delay() <= Duration::from_millis(200));
        // A long first wait raises the default ceiling with it.
        let long = resolve(json!({"backoff": {"initialMs": 600_000}})).expect("resolve");
        assert_eq!(long.backoff.max, Duration::from_secs(600));
    }

    #[test]
    fn marker_paths_are_per_account() {
        let home = Path::new("/home/op");
        let marker = |template: Option<&str>, id: &str| {
            let config = TokenRefreshConfig {
                manual_login_marker_path: template.map(str::to_owned),
                ..TokenRefreshConfig::default()
            };
            TokenRefresh::resolve(AT, Some(&config))
                .expect("resolve")
                .manual_login_marker(id, Some(home))
                .expect("marker")
        };
        assert_eq!(
            marker(None, "primary"),
            Path::new("/home/op/.openclaw/multi-openim/manual-login.primary.json")
        );
        assert_eq!(
            marker(Some("/var/lib/im/login.marker.json"), "team-b"),
            Path::new("/var/lib/im/login.marker.team-b.json")
        );
        assert_eq!(
            marker(Some("/var/lib/im.d/marker"), "a"),
            Path::new("/var/lib/im.d/marker.a")
        );
        assert_eq!(
            marker(Some("/var/lib/.marker"), "a"),
            Path::new("/var/lib/.marker.a")
        );
        assert_eq!(
            marker(Some("/m/{accountId}/login.json"), "a"),
            Path::new("/m/a/login.json")
        );
        assert_eq!(
            marker(Some("rel/m.json"), "../../etc/x"),
            Path::new("rel/m..._.._etc_x.json")
        );
        let no_home = TokenRefresh::resolve(AT, None)
            .expect("resolve")
            .manual_login_marker("a", None)
            .expect("marker");
        assert_eq!(
            no_home,
            Path::new("~/.openclaw/multi-openim/manual-login.a.json")
        );
    }

    #[test]
    fn a_marker_id_that_climbs_out_of_the_directory_is_refused() {
        let config = TokenRefreshConfig {
            manual_login_marker_path: Some("/m/{accountId}/login.json".into()),
            ..TokenRefreshConfig::default()
        };
        let refresh = TokenRefresh::resolve(AT, Some(&config)).expect("resolve");
        let err = refresh
            .manual_login_marker("..", None)
            .expect_err("outside /m/");
        assert!(
            err.message
                .starts_with("channels.multi-openim.tokenRefresh.manualLoginMarkerPath: "),
            "{err}"
        );
    }
}
