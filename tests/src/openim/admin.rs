//! `/_admin/*` on the REST listener: the Rust control API over HTTP (see the table in `mod.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::body::group_json;
use super::msgs::text_content;
use super::state::{GroupRec, MemberRec, Shared, now_ms_i64, valid_platform};
use super::types::{Fault, User};
use crate::http::{BadRequest, Obj, parse_object};

pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let _ = shared;
    Router::new()
        .route("/_admin/users", post(add_user).get(list_users))
        .route("/_admin/groups", post(add_group))
        .route("/_admin/friends", post(add_friends))
        .route("/_admin/token", post(token))
        .route("/_admin/token/expire", post(expire))
        .route("/_admin/token/revoke", post(revoke))
        .route("/_admin/inject", post(inject))
        .route("/_admin/inject_many", post(inject_many))
        .route("/_admin/drop", post(drop_conns))
        .route("/_admin/kick", post(kick))
        .route("/_admin/fault", post(fault))
        .route("/_admin/sent", get(sent))
        .route("/_admin/online", get(online))
        .route("/_admin/connections", get(connections))
        .route("/_admin/uploads", get(uploads))
        .route("/_admin/friend_calls", get(friend_calls))
        .route("/_admin/rest_calls", get(rest_calls))
        .route("/_admin/state", get(state))
}

#[derive(Debug)]
enum AdminError {
    Bad(BadRequest),
    NotFound(String),
}

impl From<BadRequest> for AdminError {
    fn from(e: BadRequest) -> Self {
        Self::Bad(e)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Bad(e) => e.into_response(),
            Self::NotFound(msg) => {
                (StatusCode::NOT_FOUND, Json(json!({ "error": msg }))).into_response()
            }
        }
    }
}

type AdminResult = Result<Json<Value>, AdminError>;

fn to_json(v: impl serde::Serialize) -> Json<Value> {
    Json(serde_json::to_value(v).unwrap_or(Value::Null))
}

fn required<'a>(o: &Obj<'a>, key: &str) -> Result<&'a str, BadRequest> {
    o.str(key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| o.missing(key))
}

fn strings(o: &Obj, key: &str) -> Result<Vec<String>, BadRequest> {
    o.array(key)?
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| BadRequest::new(format!("field `{key}[{i}]` must be a string")))
        })
        .collect()
}

/// Creates a working group (first member = owner); unknown members are created.
pub(crate) fn create_group(
    shared: &Shared,
    group_id: &str,
    name: &str,
    members: &[String],
) -> Result<Value, String> {
    let Some(owner) = members.first() else {
        return Err("a group needs at least one member (the owner)".to_owned());
    };
    if group_id.is_empty() {
        return Err("groupID is empty".to_owned());
    }
    let mut st = shared.lock();
    for m in members {
        if !st.users.contains_key(m) {
            st.add_user(User::new(m));
        }
    }
    let now = now_ms_i64();
    let mut rec = GroupRec {
        info: super::pb::GroupInfo {
            group_id: group_id.to_owned(),
            group_name: name.to_owned(),
            owner_user_id: owner.clone(),
            creator_user_id: owner.clone(),
            create_time: now,
            group_type: 2,
            ..Default::default()
        },
        members: BTreeMap::new(),
    };
    for m in members {
        rec.members.insert(
            m.clone(),
            MemberRec {
                role_level: if m == owner { 100 } else { 20 },
                join_time: now,
                join_source: 2,
                operator_user_id: owner.clone(),
                inviter_user_id: owner.clone(),
                ..MemberRec::default()
            },
        );
    }
    let info = group_json(&rec.info());
    st.groups.insert(group_id.to_owned(), rec);
    for m in members {
        st.bump_version("group", m);
    }
    Ok(info)
}

async fn add_user(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let id = required(&o, "userID")?;
    let user = User {
        user_id: id.to_owned(),
        nickname: o.str("nickname")?.unwrap_or(id).to_owned(),
        face_url: o.str("faceURL")?.unwrap_or_default().to_owned(),
        ex: o.str("ex")?.unwrap_or_default().to_owned(),
        global_recv_msg_opt: i32::try_from(o.u64("globalRecvMsgOpt")?.unwrap_or(0)).unwrap_or(0),
    };
    shared.lock().add_user(user.clone());
    Ok(to_json(user))
}

async fn list_users(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.lock().users.values().cloned().collect::<Vec<_>>())
}

async fn add_group(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let gid = required(&o, "groupID")?;
    let members = strings(&o, "members")?;
    let name = o.str("name")?.unwrap_or(gid);
    create_group(&shared, gid, name, &members)
        .map(Json)
        .map_err(|e| AdminError::Bad(BadRequest(e)))
}

async fn add_friends(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let a = required(&o, "a")?;
    let b = required(&o, "b")?;
    let mut st = shared.lock();
    for u in [a, b] {
        if !st.users.contains_key(u) {
            return Err(AdminError::NotFound(format!("unknown user {u:?}")));
        }
    }
    st.make_friends(a, b, 1, "imAdmin");
    Ok(Json(json!({})))
}

async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let user = required(&o, "userID")?;
    let platform = o
        .u64("platformID")?
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| o.missing("platformID"))?;
    if !valid_platform(platform) {
        return Err(BadRequest::new("platformID must be 1..=11").into());
    }
    let ttl = match o.get("ttlSeconds") {
        None => shared.opts.token_ttl_secs(),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| BadRequest::new("field `ttlSeconds` must be an integer"))?,
    };
    {
        let mut st = shared.lock();
        if !st.users.contains_key(user) {
            st.add_user(User::new(user));
        }
    }
    let token = shared.issue_token(user, platform, ttl);
    Ok(Json(json!({ "token": token })))
}

async fn expire(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let token = required(&Obj::root(&map), "token")?;
    if shared.expire_token(token) {
        Ok(Json(json!({ "expired": true })))
    } else {
        Err(AdminError::NotFound("unknown token".to_owned()))
    }
}

async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let token = required(&Obj::root(&map), "token")?;
    if shared.revoke_token(token) {
        Ok(Json(json!({ "revoked": true })))
    } else {
        Err(AdminError::NotFound("unknown token".to_owned()))
    }
}

fn inject_one(
    shared: &Shared,
    from: &str,
    to: Option<&str>,
    group: Option<&str>,
    text: &str,
    at: &[String],
) -> AdminResult {
    let mut st = shared.lock();
    if !st.users.contains_key(from) {
        st.add_user(User::new(from));
    }
    let injected = match (to, group) {
        (Some(to), None) => {
            if !st.users.contains_key(to) {
                st.add_user(User::new(to));
            }
            let (ct, content) = text_content(text, &[], &st);
            st.inject(from, to, "", ct, content, &[])
        }
        (None, Some(g)) => {
            if !st.groups.contains_key(g) {
                return Err(AdminError::NotFound(format!("unknown group {g:?}")));
            }
            let (ct, content) = text_content(text, at, &st);
            st.inject(from, "", g, ct, content, at)
        }
        _ => {
            return Err(BadRequest::new("give exactly one of `to` and `groupID`").into());
        }
    };
    drop(st);
    shared.bump();
    Ok(to_json(injected))
}

async fn inject(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let from = required(&o, "from")?;
    let text = o.str("text")?.ok_or_else(|| o.missing("text"))?;
    let at = strings(&o, "atUserIDs")?;
    inject_one(&shared, from, o.str("to")?, o.str("groupID")?, text, &at)
}

async fn inject_many(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let from = required(&o, "from")?;
    let to = strings(&o, "to")?;
    let groups = strings(&o, "groups")?;
    let count = usize::try_from(o.u64("count")?.unwrap_or(1)).unwrap_or(1);
    if count > 100_000 {
        return Err(BadRequest::new("count must be at most 100000").into());
    }
    let mut out = Vec::new();
    for n in 1..=count {
        for u in &to {
            let Json(v) = inject_one(
                &shared,
                from,
                Some(u),
                None,
                &format!("{n}/{count} to {u}"),
                &[],
            )?;
            out.push(v);
        }
        for g in &groups {
            let Json(v) = inject_one(
                &shared,
                from,
                None,
                Some(g),
                &format!("{n}/{count} to {g}"),
                &[],
            )?;
            out.push(v);
        }
    }
    Ok(Json(Value::Array(out)))
}

async fn drop_conns(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let user = required(&Obj::root(&map), "userID")?;
    Ok(Json(json!({ "dropped": shared.drop_connections(user) })))
}

async fn kick(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let user = required(&Obj::root(&map), "userID")?;
    Ok(Json(json!({ "kicked": shared.force_logout(user, None) })))
}

async fn fault(State(shared): State<Arc<Shared>>, body: Bytes) -> AdminResult {
    let map = parse_object(&body)?;
    let o = Obj::root(&map);
    let user = required(&o, "userID")?;
    let fault = match required(&o, "fault")? {
        "malformed_frame" => Fault::MalformedFrame,
        "bad_base64" => Fault::BadBase64,
        "bad_protobuf" => Fault::BadProtobuf,
        "unknown_req_identifier" => Fault::UnknownReqIdentifier,
        "oversized" => Fault::Oversized {
            bytes: usize::try_from(o.u64("bytes")?.unwrap_or(1_048_577)).unwrap_or(1_048_577),
        },
        "delay" => Fault::Delay {
            ms: o.u64("ms")?.unwrap_or(1000),
        },
        "drop" => Fault::Drop,
        other => {
            return Err(BadRequest::new(format!(
                "unknown fault {other:?}; one of malformed_frame, bad_base64, bad_protobuf, \
                 unknown_req_identifier, oversized, delay, drop"
            ))
            .into());
        }
    };
    let mut st = shared.lock();
    let q = st.faults.entry(user.to_owned()).or_default();
    q.push_back(fault);
    Ok(Json(json!({ "queued": q.len() })))
}

async fn sent(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.lock().sent.clone())
}

async fn online(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> AdminResult {
    let user = q
        .get("userID")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| BadRequest::new("query parameter `userID` is required"))?;
    let platforms = shared.lock().online_platforms(user);
    Ok(Json(
        json!({ "userID": user, "online": !platforms.is_empty(), "platforms": platforms }),
    ))
}

async fn connections(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(
        shared
            .lock()
            .conns
            .values()
            .map(|c| c.info.clone())
            .collect::<Vec<_>>(),
    )
}

async fn uploads(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let uploads = shared.lock().objects.uploads.clone();
    let out: Vec<Value> = uploads
        .iter()
        .map(|u| {
            let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
            v["bytesBase64"] = json!(base64::engine::general_purpose::STANDARD.encode(&u.bytes));
            v
        })
        .collect();
    Json(Value::Array(out))
}

async fn friend_calls(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.lock().friend_calls.clone())
}

async fn rest_calls(State(shared): State<Arc<Shared>>) -> Json<Value> {
    to_json(shared.lock().rest_calls.clone())
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let st = shared.lock();
    let groups: Vec<Value> = st
        .groups
        .values()
        .map(|g| {
            let mut v = group_json(&g.info());
            v["members"] = json!(g.members.keys().collect::<Vec<_>>());
            v
        })
        .collect();
    let convs: Map<String, Value> = st
        .convs
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                json!({ "maxSeq": c.max_seq, "stored": c.msgs.len() }),
            )
        })
        .collect();
    let conns: Vec<Value> = st
        .conns
        .values()
        .map(|c| serde_json::to_value(&c.info).unwrap_or(Value::Null))
        .collect();
    let tokens: Vec<Value> = st
        .tokens
        .values()
        .map(|t| json!({ "userID": t.user_id, "platformID": t.platform_id, "kicked": t.kicked, "expired": t.force_expired }))
        .collect();
    Json(json!({
        "users": st.users.values().collect::<Vec<_>>(),
        "groups": groups,
        "conversations": convs,
        "connections": conns,
        "tokens": tokens,
    }))
}
