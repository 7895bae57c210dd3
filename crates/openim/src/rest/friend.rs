//! Friend operations and the friend guard (`disableFriendSdk`).
//!
//! The seed plugin wraps sixteen `@openim/client-sdk` methods and throws
//! `MULTI_OPENIM_FRIEND_API_DISABLED` from each while the guard is on, for deployments where
//! another system owns friend relationships. We have no SDK: each method maps onto the REST
//! endpoint the SDK would end up calling, and the guard refuses it before anything touches the
//! network.
//!
//! `params` is the REST body (spec §3.4) minus our own user id, which is filled in. For callers
//! ported from the SDK, the SDK's shapes are accepted too: a bare string is the other user, and
//! `toUserID` names the other user where the REST body calls them something else
//! (`acceptFriendApplication({toUserID, handleMsg})`, `addBlack({toUserID})`, …).
//!
//! | method | endpoint | our id goes in | the other user |
//! |---|---|---|---|
//! | addFriend, addFriendV2, applyFriend | `/friend/add_friend` | fromUserID | toUserID |
//! | acceptFriendApplication | `/friend/add_friend_response` (handleResult 1) | toUserID | fromUserID |
//! | refuseFriendApplication | `/friend/add_friend_response` (handleResult -1) | toUserID | fromUserID |
//! | deleteFriend | `/friend/delete_friend` | ownerUserID | friendUserID |
//! | checkFriend | `/friend/is_friend` | userID1 | userID2 |
//! | setFriendRemark | `/friend/set_friend_remark` | ownerUserID | friendUserID |
//! | addBlack, removeBlack | `/friend/add_black`, `/friend/remove_black` | ownerUserID | blackUserID |
//! | getFriendApplicationListAsRecipient, getFriendApplicationList, getRecvFriendApplicationList | `/friend/get_friend_apply_list` | userID | |
//! | getFriendApplicationListAsApplicant, getSendFriendApplicationList | `/friend/get_self_friend_apply_list` | userID | |
//! | getFriendList | `/friend/get_friend_list` | userID | |
//!
//! `/friend/set_friend_remark {ownerUserID, friendUserID, remark}` is the server's route
//! (open-im-server v3 `friend` router); the loopback simulator does not implement it and
//! answers 404.

use std::fmt;
use std::str::FromStr;

use channel_core::ChannelError;
use serde_json::{Map, Value, json};

use super::RestClient;
use super::types::Pagination;
use crate::config::FRIEND_API_DISABLED;

/// A friend operation of the seed plugin's guard list, by its SDK method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FriendMethod {
    AddFriend,
    AddFriendV2,
    ApplyFriend,
    AcceptFriendApplication,
    RefuseFriendApplication,
    DeleteFriend,
    CheckFriend,
    SetFriendRemark,
    AddBlack,
    RemoveBlack,
    GetFriendApplicationListAsApplicant,
    GetFriendApplicationListAsRecipient,
    GetFriendApplicationList,
    GetRecvFriendApplicationList,
    GetSendFriendApplicationList,
    GetFriendList,
}

/// Where a method goes and which body fields are ours.
struct Route {
    endpoint: &'static str,
    /// The field that must hold our own user id.
    own: &'static str,
    /// The field naming the other user, when there is one (and it is required).
    peer: Option<&'static str>,
    /// Fields the method fixes.
    fixed: &'static [(&'static str, i64)],
    /// List endpoints: a `pagination` is added when absent.
    paged: bool,
}

impl FriendMethod {
    /// Every guarded method, in the seed plugin's order.
    pub const ALL: [FriendMethod; 16] = [
        Self::AddFriend,
        Self::AddFriendV2,
        Self::ApplyFriend,
        Self::AcceptFriendApplication,
        Self::RefuseFriendApplication,
        Self::DeleteFriend,
        Self::CheckFriend,
        Self::SetFriendRemark,
        Self::AddBlack,
        Self::RemoveBlack,
        Self::GetFriendApplicationListAsApplicant,
        Self::GetFriendApplicationListAsRecipient,
        Self::GetFriendApplicationList,
        Self::GetRecvFriendApplicationList,
        Self::GetSendFriendApplicationList,
        Self::GetFriendList,
    ];

    /// The SDK method name (`addFriend`), as the guard's message and the seed plugin say it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AddFriend => "addFriend",
            Self::AddFriendV2 => "addFriendV2",
            Self::ApplyFriend => "applyFriend",
            Self::AcceptFriendApplication => "acceptFriendApplication",
            Self::RefuseFriendApplication => "refuseFriendApplication",
            Self::DeleteFriend => "deleteFriend",
            Self::CheckFriend => "checkFriend",
            Self::SetFriendRemark => "setFriendRemark",
            Self::AddBlack => "addBlack",
            Self::RemoveBlack => "removeBlack",
            Self::GetFriendApplicationListAsApplicant => "getFriendApplicationListAsApplicant",
            Self::GetFriendApplicationListAsRecipient => "getFriendApplicationListAsRecipient",
            Self::GetFriendApplicationList => "getFriendApplicationList",
            Self::GetRecvFriendApplicationList => "getRecvFriendApplicationList",
            Self::GetSendFriendApplicationList => "getSendFriendApplicationList",
            Self::GetFriendList => "getFriendList",
        }
    }

    /// The REST endpoint the method is carried out with.
    pub fn endpoint(self) -> &'static str {
        self.route().endpoint
    }

    fn route(self) -> Route {
        let route = |endpoint, own, peer| Route {
            endpoint,
            own,
            peer,
            fixed: &[],
            paged: false,
        };
        let list = |endpoint| Route {
            paged: true,
            ..route(endpoint, "userID", None)
        };
        match self {
            Self::AddFriend | Self::AddFriendV2 | Self::ApplyFriend => {
                route("/friend/add_friend", "fromUserID", Some("toUserID"))
            }
            // The applicant is `fromUserID`; the server checks that `toUserID` (the one
            // answering) is the token's user.
            Self::AcceptFriendApplication => Route {
                fixed: &[("handleResult", 1)],
                ..route(
                    "/friend/add_friend_response",
                    "toUserID",
                    Some("fromUserID"),
                )
            },
            Self::RefuseFriendApplication => Route {
                fixed: &[("handleResult", -1)],
                ..route(
                    "/friend/add_friend_response",
                    "toUserID",
                    Some("fromUserID"),
                )
            },
            Self::DeleteFriend => {
                route("/friend/delete_friend", "ownerUserID", Some("friendUserID"))
            }
            Self::CheckFriend => route("/friend/is_friend", "userID1", Some("userID2")),
            Self::SetFriendRemark => route(
                "/friend/set_friend_remark",
                "ownerUserID",
                Some("friendUserID"),
            ),
            Self::AddBlack => route("/friend/add_black", "ownerUserID", Some("blackUserID")),
            Self::RemoveBlack => route("/friend/remove_black", "ownerUserID", Some("blackUserID")),
            Self::GetFriendApplicationListAsRecipient
            | Self::GetFriendApplicationList
            | Self::GetRecvFriendApplicationList => list("/friend/get_friend_apply_list"),
            Self::GetFriendApplicationListAsApplicant | Self::GetSendFriendApplicationList => {
                list("/friend/get_self_friend_apply_list")
            }
            Self::GetFriendList => list("/friend/get_friend_list"),
        }
    }
}

impl fmt::Display for FriendMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FriendMethod {
    type Err = ChannelError;

    /// The exact SDK name (case-sensitive, as JavaScript method names are).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                ChannelError::bad_input(format!(
                    "{s:?} is not a friend method; known: {}",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }
}

/// The guard's refusal.
///
/// Kind `Permanent`, not `BadInput`: the call is well formed and would work with
/// `disableFriendSdk: false`; it is refused by deployment policy, like the server's own 1002
/// NoPermission (also `Permanent`). `BadInput` stays for malformed params, so a caller can tell
/// "you passed garbage" from "this account does not do friend operations". Neither is retried.
pub(crate) fn disabled(method: FriendMethod, account_id: &str) -> ChannelError {
    ChannelError::permanent(format!(
        "{FRIEND_API_DISABLED}: SDK {}() is disabled by multi-openim (account={account_id}). \
         Route friend operations through your own backend.",
        method.name()
    ))
}

/// The REST body for `method` called by `own_user` with `params`.
pub(crate) fn body(
    method: FriendMethod,
    own_user: &str,
    params: Value,
) -> Result<Map<String, Value>, ChannelError> {
    let route = method.route();
    let what = format!("{}() ({})", method.name(), route.endpoint);
    let mut body = match params {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        Value::String(peer) => match route.peer {
            Some(field) => Map::from_iter([(field.to_owned(), Value::String(peer))]),
            None => {
                return Err(ChannelError::bad_input(format!(
                    "{what}: params must be an object (this method names no other user)"
                )));
            }
        },
        // `checkFriend([id])`: the SDK takes a list, the endpoint one pair.
        Value::Array(ids) if route.peer.is_some() => match ids.as_slice() {
            [Value::String(peer)] => {
                Map::from_iter([(route.peer.unwrap_or_default().to_owned(), json!(peer))])
            }
            _ => {
                return Err(ChannelError::bad_input(format!(
                    "{what}: a list of exactly one user id is accepted; call once per user"
                )));
            }
        },
        other => {
            return Err(ChannelError::bad_input(format!(
                "{what}: params must be an object, not {}",
                json_type(&other)
            )));
        }
    };
    if let Some(peer) = route.peer.filter(|p| *p != "toUserID") {
        // The SDK's `toUserID` is always the other user. In the REST body of accept/refuse it
        // is us, which a caller may have written out: only another user's id is moved.
        let sdk_peer = body
            .get("toUserID")
            .and_then(Value::as_str)
            .is_some_and(|to| to != own_user);
        if sdk_peer
            && !body.contains_key(peer)
            && let Some(to) = body.remove("toUserID")
        {
            body.insert(peer.to_owned(), to);
        }
    }
    // The server would refuse another user with 1002; refusing here names the field.
    match body.get(route.own) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() || s == own_user => {}
        Some(other) => {
            return Err(ChannelError::bad_input(format!(
                "{what}: {} is {other}, not this account's user {own_user:?}; friend operations \
                 act as the account itself",
                route.own
            )));
        }
    }
    body.insert(route.own.to_owned(), json!(own_user));
    for (field, value) in route.fixed {
        match body.get(*field) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_i64() == Some(*value) => {}
            Some(other) => {
                return Err(ChannelError::bad_input(format!(
                    "{what}: {field} is {other}; this method always sends {value}"
                )));
            }
        }
        body.insert((*field).to_owned(), json!(value));
    }
    if let Some(peer) = route.peer {
        match body.get(peer) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ChannelError::bad_input(format!(
                    "{what}: missing {peer} (the other user's id)"
                )));
            }
            Some(other) => {
                return Err(ChannelError::bad_input(format!(
                    "{what}: {peer} must be a string, not {}",
                    json_type(other)
                )));
            }
        }
    }
    // Without a pagination the server counts the list but returns none of it.
    if route.paged && body.get("pagination").is_none_or(Value::is_null) {
        body.insert("pagination".to_owned(), json!(Pagination::default()));
    }
    Ok(body)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl RestClient {
    /// Runs one friend operation as this account and returns the endpoint's `data` (`Null`
    /// when the server sends none). With the friend guard on, fails at once with
    /// `MULTI_OPENIM_FRIEND_API_DISABLED: …` (kind `Permanent`) and sends nothing.
    pub async fn friend(&self, method: FriendMethod, params: Value) -> Result<Value, ChannelError> {
        if self.inner.friend_guard {
            tracing::debug!(
                account = %self.inner.account_id,
                method = method.name(),
                "friend operation refused by disableFriendSdk"
            );
            return Err(disabled(method, &self.inner.account_id));
        }
        let body = body(method, &self.inner.user_id, params)?;
        self.call_value(method.endpoint(), &body).await
    }
}

#[cfg(test)]
mod tests {
    use channel_core::ErrorKind;

    use super::*;

    #[test]
    fn names_round_trip() {
        let mut names: Vec<&str> = FriendMethod::ALL.iter().map(|m| m.name()).collect();
        for method in FriendMethod::ALL {
            assert_eq!(
                method.name().parse::<FriendMethod>().expect("parse"),
                method
            );
            assert_eq!(method.to_string(), method.name());
            assert!(method.endpoint().starts_with("/friend/"), "{method}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 16);
        let err = "AddFriend".parse::<FriendMethod>().expect_err("case");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(
            err.message.contains("known: addFriend, addFriendV2"),
            "{err}"
        );
    }

    #[test]
    fn the_refusal_text() {
        let err = disabled(FriendMethod::AddFriend, "primary");
        assert_eq!(err.kind, ErrorKind::Permanent);
        assert_eq!(
            err.message,
            "MULTI_OPENIM_FRIEND_API_DISABLED: SDK addFriend() is disabled by multi-openim \
             (account=primary). Route friend operations through your own backend."
        );
    }

    fn built(method: FriendMethod, params: Value) -> Value {
        Value::Object(body(method, "bot1", params).expect("body"))
    }

    #[test]
    fn our_id_is_filled_in() {
        assert_eq!(
            built(
                FriendMethod::AddFriend,
                json!({"toUserID": "alice", "reqMsg": "hi"})
            ),
            json!({"fromUserID": "bot1", "toUserID": "alice", "reqMsg": "hi"})
        );
        assert_eq!(
            built(FriendMethod::DeleteFriend, json!("alice")),
            json!({"ownerUserID": "bot1", "friendUserID": "alice"})
        );
        assert_eq!(
            built(FriendMethod::CheckFriend, json!(["alice"])),
            json!({"userID1": "bot1", "userID2": "alice"})
        );
        assert_eq!(
            built(FriendMethod::GetFriendList, Value::Null),
            json!({"userID": "bot1", "pagination": {"pageNumber": 1, "showNumber": 100}})
        );
        assert_eq!(
            built(
                FriendMethod::GetFriendApplicationListAsApplicant,
                json!({"pagination": {"pageNumber": 2, "showNumber": 5}})
            ),
            json!({"userID": "bot1", "pagination": {"pageNumber": 2, "showNumber": 5}})
        );
    }

    #[test]
    fn sdk_and_rest_shapes_of_a_response() {
        let expected = json!({"fromUserID": "alice", "toUserID": "bot1", "handleResult": 1,
            "handleMsg": "ok"});
        // SDK: `toUserID` is the applicant.
        assert_eq!(
            built(
                FriendMethod::AcceptFriendApplication,
                json!({"toUserID": "alice", "handleMsg": "ok"})
            ),
            expected
        );
        // REST: `toUserID` is us.
        assert_eq!(
            built(
                FriendMethod::AcceptFriendApplication,
                json!({"fromUserID": "alice", "toUserID": "bot1", "handleMsg": "ok"})
            ),
            expected
        );
        assert_eq!(
            built(FriendMethod::RefuseFriendApplication, json!("alice"))["handleResult"],
            -1
        );
        assert_eq!(
            built(
                FriendMethod::AddBlack,
                json!({"toUserID": "mallory", "ex": ""})
            ),
            json!({"ownerUserID": "bot1", "blackUserID": "mallory", "ex": ""})
        );
        assert_eq!(
            built(
                FriendMethod::SetFriendRemark,
                json!({"toUserID": "alice", "remark": "A"})
            ),
            json!({"ownerUserID": "bot1", "friendUserID": "alice", "remark": "A"})
        );
    }

    #[test]
    fn bad_params_are_refused_naming_the_field() {
        let cases = [
            (
                FriendMethod::AddFriend,
                json!({"fromUserID": "mallory", "toUserID": "alice"}),
                "addFriend() (/friend/add_friend): fromUserID is \"mallory\", not this account's user",
            ),
            (
                FriendMethod::AddFriend,
                json!({"reqMsg": "hi"}),
                "addFriend() (/friend/add_friend): missing toUserID",
            ),
            (
                FriendMethod::DeleteFriend,
                json!({"friendUserID": 7}),
                "friendUserID must be a string, not a number",
            ),
            (
                FriendMethod::AcceptFriendApplication,
                json!({"fromUserID": "alice", "handleResult": -1}),
                "handleResult is -1; this method always sends 1",
            ),
            (
                FriendMethod::GetFriendList,
                json!("alice"),
                "params must be an object (this method names no other user)",
            ),
            (
                FriendMethod::CheckFriend,
                json!(["alice", "bob"]),
                "a list of exactly one user id",
            ),
            (
                FriendMethod::AddBlack,
                json!(3),
                "params must be an object, not a number",
            ),
        ];
        for (method, params, expected) in cases {
            let err = body(method, "bot1", params).expect_err(expected);
            assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }
}
