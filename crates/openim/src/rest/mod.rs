//! The OpenIM REST API (spec §3) for one account: users, groups, the server clock, object
//! upload for media messages, and the guarded friend operations.
//!
//! Every business call is a `POST` of JSON with a fresh `operationID` header and the account's
//! `token`; the answer is the HTTP-200 envelope `{errCode, errMsg, errDlt, data}`. Failures
//! come back as [`ChannelError`]s that name the endpoint and never contain the token: a
//! non-zero `errCode` is classified by [`crate::errors`] (so 1501–1505/1507 are
//! [`ErrorKind::AuthExpired`](channel_core::ErrorKind::AuthExpired) and 1506 is
//! [`Kicked`](channel_core::ErrorKind::Kicked): refresh the token, [`RestClient::set_token`],
//! and call again); other HTTP statuses, non-JSON answers and timeouts are classified too.
//!
//! ```no_run
//! use openim::config::Secret;
//! use openim::rest::{FriendMethod, RestClient, RestConfig};
//!
//! # async fn demo() -> Result<(), channel_core::ChannelError> {
//! let api = url::Url::parse("http://127.0.0.1:10002").expect("url");
//! let mut config = RestConfig::new("primary", api, "bot1", Secret::new("eyJ…"));
//! config.friend_guard = false; // `disableFriendSdk: false`
//! let client = RestClient::new(config)?;
//!
//! let users = client.users_info(&["alice".to_owned()]).await?;
//! let server_ms = client.server_time().await?; // also the cheap health probe
//!
//! // Media: upload, then send the returned `/object/…` URL in a 102/104/105 message.
//! let photo = std::fs::read("cat.png")?;
//! let uploaded = client.upload(photo, "cat.png", "image/png").await?;
//! // Inbound media is fetched through `channel_core::media` (guarded), never from here.
//!
//! // Friend operations, refused without a network call while the guard is on.
//! let added = client
//!     .friend(FriendMethod::AddFriend, serde_json::json!({"toUserID": "alice", "reqMsg": "hi"}))
//!     .await?;
//!
//! // After a token refresh, every later call uses the new token.
//! client.set_token(Secret::new("eyJ…new"));
//! # let _ = (users, server_ms, added); Ok(()) }
//! ```

mod friend;
mod http;
mod object;
mod types;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use channel_core::ChannelError;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::config::{AccountSettings, Secret};
use crate::errors;

pub use friend::FriendMethod;
pub use object::Uploaded;
pub use types::{GroupInfo, GroupMemberFullInfo, Page, Pagination, UserInfo};

use http::{Capped, display_url, read_capped, redact, snippet, transport_error};

/// Time allowed for one JSON call, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Time allowed for one object part PUT.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

/// What a [`RestClient`] needs for one account.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// The account's id in our config, for error messages (`account=<id>`).
    pub account_id: String,
    /// `apiAddr`; a path prefix (a reverse proxy's `/api/`) is kept.
    pub api_addr: Url,
    /// Our OpenIM user id: filled into friend calls and object names.
    pub user_id: String,
    pub token: Secret,
    /// `disableFriendSdk`: refuse friend operations without calling the server.
    pub friend_guard: bool,
    pub timeout: Duration,
    pub transfer_timeout: Duration,
}

impl RestConfig {
    /// Default timeouts, and the friend guard on (the config's default).
    pub fn new(
        account_id: impl Into<String>,
        api_addr: Url,
        user_id: impl Into<String>,
        token: Secret,
    ) -> Self {
        Self {
            account_id: account_id.into(),
            api_addr,
            user_id: user_id.into(),
            token,
            friend_guard: true,
            timeout: DEFAULT_TIMEOUT,
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
        }
    }

    /// From an account's effective settings; fails with the credentials' own error.
    pub fn from_account(settings: &AccountSettings) -> Result<Self, ChannelError> {
        let credentials = settings.base.credentials.clone()?;
        let mut config = Self::new(
            settings.base.id.clone(),
            credentials.api_addr,
            credentials.user_id,
            credentials.token,
        );
        config.friend_guard = settings.disable_friend_sdk;
        Ok(config)
    }
}

/// The REST client of one account. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct RestClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// API calls and object PUTs: redirects are not followed (a POST redirected by a proxy
    /// would silently become a GET, and a presigned PUT has nowhere legitimate to go).
    api: reqwest::Client,
    base: String,
    account_id: String,
    user_id: String,
    token: RwLock<Secret>,
    friend_guard: bool,
    timeout: Duration,
    transfer_timeout: Duration,
}

impl std::fmt::Debug for RestClient {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("api", &self.inner.base)
            .field("account_id", &self.inner.account_id)
            .field("user_id", &self.inner.user_id)
            .field("friend_guard", &self.inner.friend_guard)
            .finish_non_exhaustive()
    }
}

/// The REST envelope. `errCode` is optional here only to tell "not OpenIM" apart.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "errCode")]
    err_code: Option<i64>,
    #[serde(rename = "errMsg", default, deserialize_with = "types::nullable")]
    err_msg: String,
    #[serde(rename = "errDlt", default, deserialize_with = "types::nullable")]
    err_dlt: String,
    #[serde(default)]
    data: Value,
}

impl RestClient {
    pub fn new(config: RestConfig) -> Result<Self, ChannelError> {
        if !matches!(config.api_addr.scheme(), "http" | "https") {
            return Err(ChannelError::bad_input(format!(
                "accounts.{}.apiAddr: must be http(s), got {}",
                config.account_id,
                display_url(&config.api_addr)
            )));
        }
        let api = channel_core::http::api_client()?;
        let base = config.api_addr.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                base,
                account_id: config.account_id,
                user_id: config.user_id,
                token: RwLock::new(config.token),
                friend_guard: config.friend_guard,
                timeout: config.timeout,
                transfer_timeout: config.transfer_timeout,
            }),
        })
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    pub fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    /// `apiAddr` without a trailing `/`.
    pub fn api_base(&self) -> &str {
        &self.inner.base
    }

    pub fn friend_guard(&self) -> bool {
        self.inner.friend_guard
    }

    /// Replaces the token after a refresh; calls already on the wire keep the old one.
    pub fn set_token(&self, token: Secret) {
        *self
            .inner
            .token
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    fn token(&self) -> Secret {
        self.inner
            .token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Any business endpoint: POSTs `body`, checks the envelope and decodes `data` (an absent
    /// `data` reads as `{}`). For endpoints without a typed method (`/msg/newest_seq`, …).
    pub async fn call<Req, Resp>(&self, endpoint: &str, body: &Req) -> Result<Resp, ChannelError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let data = self.call_value(endpoint, body).await?;
        decode_data(endpoint, data)
    }

    /// As [`RestClient::call`], returning `data` as it came (`Null` when absent).
    pub async fn call_value<Req>(&self, endpoint: &str, body: &Req) -> Result<Value, ChannelError>
    where
        Req: Serialize + ?Sized,
    {
        if !endpoint.starts_with('/') {
            return Err(ChannelError::bad_input(format!(
                "{endpoint}: an endpoint is a path starting with /"
            )));
        }
        let url = Url::parse(&format!("{}{endpoint}", self.inner.base)).map_err(|e| {
            ChannelError::bad_input(format!("{endpoint}: cannot build the URL: {e}"))
        })?;
        let body = serde_json::to_vec(body).map_err(|e| {
            ChannelError::bad_input(format!("{endpoint}: cannot encode the request body: {e}"))
        })?;
        let token = self.token();
        let mut token_header = HeaderValue::from_str(token.expose()).map_err(|_| {
            ChannelError::bad_input(format!(
                "{endpoint}: the token of account {} has characters not allowed in a header",
                self.inner.account_id
            ))
        })?;
        token_header.set_sensitive(true);
        let operation_id = http::operation_id();
        let timeout = self.inner.timeout;
        let started = Instant::now();
        let tag = |err: ChannelError| {
            tracing::debug!(
                endpoint,
                operation_id,
                account = %self.inner.account_id,
                kind = %err.kind,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "openim REST call failed"
            );
            ChannelError {
                message: format!(
                    "{} (operationID {operation_id})",
                    redact(&err.message, token.expose())
                ),
                ..err
            }
        };
        let mut response = self
            .inner
            .api
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("operationID", &operation_id)
            .header("token", token_header)
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| tag(transport_error(endpoint, e, timeout)))?;
        let status = response.status().as_u16();
        let body = match read_capped(endpoint, &mut response, http::MAX_JSON_BYTES, timeout)
            .await
            .map_err(tag)?
        {
            Capped::Body(body) => body,
            Capped::TooLarge => {
                return Err(tag(ChannelError::transient(format!(
                    "{endpoint}: answer larger than {} bytes",
                    http::MAX_JSON_BYTES
                ))));
            }
        };
        if let Some(mut err) = errors::http_status(endpoint, status) {
            if let Some(after) = http::retry_after(response.headers()) {
                err = err.with_retry_after(after);
            }
            err.message = format!("{} ({})", err.message, snippet(&body));
            return Err(tag(err));
        }
        let not_openim = || {
            tag(ChannelError::transient(format!(
                "{endpoint}: not an OpenIM answer (HTTP {status}: {}); check the account's apiAddr",
                snippet(&body)
            )))
        };
        let envelope: Envelope = serde_json::from_slice(&body).map_err(|_| not_openim())?;
        let Some(code) = envelope.err_code else {
            return Err(not_openim());
        };
        errors::check(endpoint, code, &envelope.err_msg, &envelope.err_dlt).map_err(tag)?;
        tracing::trace!(
            endpoint,
            operation_id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "openim REST call"
        );
        Ok(envelope.data)
    }

    /// `/user/get_users_info`: unknown ids are simply missing from the answer.
    pub async fn users_info(&self, user_ids: &[String]) -> Result<Vec<UserInfo>, ChannelError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let resp: types::UsersInfoResp = self
            .call("/user/get_users_info", &json!({ "userIDs": user_ids }))
            .await?;
        Ok(resp.users_info)
    }

    /// `/group/get_groups_info`: unknown ids are missing from the answer. (The server refuses
    /// an empty list with 1001; we answer it without asking.)
    pub async fn groups_info(&self, group_ids: &[String]) -> Result<Vec<GroupInfo>, ChannelError> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let resp: types::GroupsInfoResp = self
            .call("/group/get_groups_info", &json!({ "groupIDs": group_ids }))
            .await?;
        Ok(resp.group_infos)
    }

    /// `/group/get_group_member_list`, one page. We must be a member (else 1203).
    pub async fn group_member_list(
        &self,
        group_id: &str,
        page: Pagination,
    ) -> Result<Page<GroupMemberFullInfo>, ChannelError> {
        let resp: types::MemberListResp = self
            .call(
                "/group/get_group_member_list",
                &json!({ "groupID": group_id, "pagination": page, "filter": 0, "keyword": "" }),
            )
            .await?;
        Ok(Page {
            total: resp.total,
            items: resp.members,
        })
    }

    /// Every member of a group, page by page.
    pub async fn all_group_members(
        &self,
        group_id: &str,
    ) -> Result<Vec<GroupMemberFullInfo>, ChannelError> {
        collect_pages("/group/get_group_member_list", |page| {
            self.group_member_list(group_id, page)
        })
        .await
        .map(|all| dedup_by(all, |m| m.user_id.clone()))
    }

    /// `/group/get_joined_group_list` of our own user, one page.
    pub async fn joined_groups(&self, page: Pagination) -> Result<Page<GroupInfo>, ChannelError> {
        let resp: types::JoinedGroupsResp = self
            .call(
                "/group/get_joined_group_list",
                &json!({ "fromUserID": self.inner.user_id, "pagination": page }),
            )
            .await?;
        Ok(Page {
            total: resp.total,
            items: resp.groups,
        })
    }

    /// Every group we are in, page by page.
    pub async fn all_joined_groups(&self) -> Result<Vec<GroupInfo>, ChannelError> {
        collect_pages("/group/get_joined_group_list", |page| {
            self.joined_groups(page)
        })
        .await
        .map(|all| dedup_by(all, |g| g.group_id.clone()))
    }

    /// `/msg/get_server_time`: the server's clock in unix ms. Cheap and authenticated, so it
    /// doubles as the health probe (a stale token shows up here as `AuthExpired`).
    pub async fn server_time(&self) -> Result<i64, ChannelError> {
        let resp: types::ServerTimeResp = self.call("/msg/get_server_time", &json!({})).await?;
        Ok(resp.server_time)
    }
}

/// `data` into the caller's type; the error names the endpoint and the field's path.
fn decode_data<T: DeserializeOwned>(endpoint: &str, data: Value) -> Result<T, ChannelError> {
    let data = if data.is_null() { json!({}) } else { data };
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ChannelError::transient(format!(
            "{endpoint}: unexpected answer: data.{path}: {inner}"
        ))
    })
}

/// Pages through a list until a short page or the total. Members may join or leave between
/// pages, so the callers drop duplicates.
async fn collect_pages<T, F, Fut>(endpoint: &str, mut fetch: F) -> Result<Vec<T>, ChannelError>
where
    F: FnMut(Pagination) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, ChannelError>>,
{
    // A million entries: far beyond OpenIM's group size limits, so hitting it means a server
    // that ignores pagination.
    const MAX_PAGES: i32 = 10_000;
    let show = Pagination::DEFAULT_SHOW;
    let mut all = Vec::new();
    for number in 1..=MAX_PAGES {
        let page = fetch(Pagination::new(number, show)).await?;
        let short = page.items.len() < usize::try_from(show).unwrap_or(usize::MAX);
        all.extend(page.items);
        if short || all.len() as u64 >= page.total {
            return Ok(all);
        }
    }
    Err(ChannelError::permanent(format!(
        "{endpoint}: still not at the end after {MAX_PAGES} pages; the server seems to ignore \
         pagination"
    )))
}

fn dedup_by<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_name_endpoint_and_field() {
        let err = decode_data::<types::UsersInfoResp>(
            "/user/get_users_info",
            json!({"usersInfo": [{"userID": 5}]}),
        )
        .expect_err("bad type");
        assert_eq!(err.kind, channel_core::ErrorKind::Transient);
        assert!(
            err.message
                .starts_with("/user/get_users_info: unexpected answer: data.usersInfo[0].userID:"),
            "{err}"
        );
        let empty: types::UsersInfoResp =
            decode_data("/user/get_users_info", Value::Null).expect("absent data");
        assert!(empty.users_info.is_empty());
        let err = decode_data::<types::ServerTimeResp>("/msg/get_server_time", Value::Null)
            .expect_err("missing field");
        assert!(err.message.contains("serverTime"), "{err}");
    }

    #[test]
    fn debug_hides_the_token() {
        let client = RestClient::new(RestConfig::new(
            "primary",
            Url::parse("http://127.0.0.1:1/api/").expect("url"),
            "bot1",
            Secret::new("super-secret-token"),
        ))
        .expect("client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert_eq!(client.api_base(), "http://127.0.0.1:1/api");
        assert!(client.friend_guard());
    }

    #[test]
    fn only_http_api_addresses() {
        let err = RestClient::new(RestConfig::new(
            "primary",
            Url::parse("ws://127.0.0.1:1").expect("url"),
            "bot1",
            Secret::new("t"),
        ))
        .expect_err("ws");
        assert!(
            err.message
                .starts_with("accounts.primary.apiAddr: must be http(s)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn pages_until_short_or_total() {
        let calls = std::sync::Mutex::new(Vec::new());
        let all = collect_pages("/x", |p| {
            calls.lock().expect("lock").push(p.page_number);
            let n = if p.page_number < 3 { 100 } else { 7 };
            async move {
                Ok(Page {
                    total: 207,
                    items: vec![p.page_number; n],
                })
            }
        })
        .await
        .expect("pages");
        assert_eq!(all.len(), 207);
        assert_eq!(*calls.lock().expect("lock"), [1, 2, 3]);
        // A full last page stops at the total instead of asking for an empty one.
        let calls = std::sync::Mutex::new(0);
        let all = collect_pages("/x", |_| {
            *calls.lock().expect("lock") += 1;
            async {
                Ok(Page {
                    total: 100,
                    items: vec![0; 100],
                })
            }
        })
        .await
        .expect("pages");
        assert_eq!((all.len(), *calls.lock().expect("lock")), (100, 1));
    }
}
