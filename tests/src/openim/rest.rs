//! The REST API (spec §3): POST-only JSON, `operationID` + `token` headers, the HTTP-200
//! `{errCode, errMsg, errDlt, data}` envelope, gzip when asked, CORS wide open. This file holds
//! the framework and the `/auth`, `/msg` and `/user` endpoints; groups, friends and conversations
//! are in `social.rs`, objects in `objects.rs`.

use std::io::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::body::{Body, page, pull_json, user_json};
use super::errs::{CodeError, CodeResult, code};
use super::msgs::{GROUP, NOTIFICATION, SINGLE, conversation_id_of};
use super::objects;
use super::pb;
use super::social;
use super::state::{ADMIN_PLATFORM, Shared, TokenRec, hex32, now_ms_i64, valid_platform};
use super::types::{FriendCall, RestCall, User};
use crate::http::now_ms;

/// Largest REST body accepted (object parts go to `/_s3/`, which has its own limit).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(super::admin::router(shared.clone()))
        .fallback(entry)
        .layer(middleware::from_fn(cors))
        .with_state(shared)
}

async fn cors(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("*"),
    );
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST, GET, PUT, OPTIONS"),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("*"),
    );
    resp
}

/// The authenticated caller of a REST request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user_id: String,
    pub admin: bool,
}

/// Everything a REST handler gets.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub caller: Option<Caller>,
    pub body: Body<'a>,
    pub raw: &'a [u8],
    pub protobuf: bool,
    pub headers: &'a HeaderMap,
}

impl Ctx<'_> {
    pub(crate) fn caller(&self) -> CodeResult<&Caller> {
        self.caller
            .as_ref()
            .ok_or_else(|| CodeError::internal("no caller"))
    }

    /// `CheckAccess`: the body's user must be the token user, unless the caller is an admin.
    pub(crate) fn check_access(&self, user_id: &str) -> CodeResult<()> {
        let c = self.caller()?;
        if c.admin || c.user_id == user_id {
            Ok(())
        } else {
            Err(CodeError::no_permission(format!(
                "{user_id:?} is not the token's user {:?}",
                c.user_id
            )))
        }
    }

    pub(crate) fn require_admin(&self) -> CodeResult<()> {
        if self.caller()?.admin {
            Ok(())
        } else {
            Err(CodeError::no_permission("only app manager can do this"))
        }
    }

    /// `http://<Host>/` or the `X-Request-Api` header, for object URLs.
    pub(crate) fn api_base(&self) -> String {
        if let Some(api) = self
            .headers
            .get("x-request-api")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            return if api.ends_with('/') {
                api.to_owned()
            } else {
                format!("{api}/")
            };
        }
        match self.headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
            Some(host) => format!("http://{host}/"),
            None => format!("http://{}/", self.shared.addrs.api),
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

async fn entry(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let uri = req.uri().clone();
    let path = uri.path().to_owned();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    if method == Method::OPTIONS {
        return StatusCode::OK.into_response();
    }
    if method == Method::GET {
        if let Some(name) = path.strip_prefix("/object/") {
            return objects::get_object(&shared, name, uri.query());
        }
        if let Some(key) = path.strip_prefix("/_s3/blob/") {
            return objects::get_blob(&shared, key, uri.query());
        }
        return not_found();
    }
    if method == Method::PUT {
        if let Some(upload_id) = path.strip_prefix("/_s3/part/") {
            return objects::put_part(&shared, upload_id, uri.query(), &headers, &body);
        }
        return not_found();
    }
    if method != Method::POST {
        return not_found();
    }
    let Some(handler) = route(&path) else {
        return not_found();
    };
    api(&shared, &path, &headers, &body, handler)
}

type Handler = fn(&Ctx) -> CodeResult<Value>;

/// Paths that need no token.
const WHITELIST: &[&str] = &["/auth/get_admin_token", "/auth/parse_token"];

fn route(path: &str) -> Option<Handler> {
    let h: Handler = match path {
        "/auth/get_admin_token" => get_admin_token,
        "/auth/get_user_token" => get_user_token,
        "/auth/parse_token" => parse_token,
        "/auth/force_logout" => force_logout,
        "/msg/newest_seq" => newest_seq,
        "/msg/pull_msg_by_seq" => pull_msg_by_seq,
        "/msg/get_conversations_has_read_and_max_seq" => has_read_and_max_seq,
        "/msg/mark_conversation_as_read" | "/msg/set_conversation_has_read_seq" => mark_read,
        "/msg/get_server_time" => |_| Ok(json!({ "serverTime": now_ms_i64() })),
        "/msg/send_msg" => send_msg,
        "/user/user_register" => user_register,
        "/user/get_users_info" => get_users_info,
        "/user/get_users" => get_users,
        "/user/get_users_online_status" => get_users_online_status,
        "/user/account_check" => account_check,
        p if p.starts_with("/object/") => return objects::route(p),
        p => return social::route(p),
    };
    Some(h)
}

/// Runs one business call: headers, token, body, handler, envelope, records.
fn api(
    shared: &Arc<Shared>,
    path: &str,
    headers: &HeaderMap,
    raw: &[u8],
    handler: Handler,
) -> Response {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|v| !v.is_empty())
    };
    let operation_id = header("operationID");
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("protobuf"));
    let empty = Map::new();
    let parsed: Result<Map<String, Value>, CodeError> = if protobuf {
        Ok(Map::new())
    } else {
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(CodeError::args("request body must be a JSON object")),
            Err(e) => Err(CodeError::args(format!("invalid JSON body: {e}"))),
        }
    };
    let mut caller_id = None;
    let result = (|| -> CodeResult<Value> {
        if operation_id.is_none() {
            return Err(CodeError::args("header must have operationID"));
        }
        let caller = if WHITELIST.contains(&path) {
            None
        } else {
            let token = header("token").ok_or_else(|| CodeError::args("header must have token"))?;
            let rec: TokenRec = shared.parse_token(&token)?;
            caller_id = Some(rec.user_id.clone());
            Some(Caller {
                admin: shared.is_admin(&rec.user_id),
                user_id: rec.user_id,
            })
        };
        let map = match &parsed {
            Ok(m) => m,
            Err(e) => return Err(e.clone()),
        };
        let ctx = Ctx {
            shared,
            caller,
            body: Body::new(map),
            raw,
            protobuf,
            headers,
        };
        handler(&ctx)
    })();
    let err_code = result.as_ref().err().map_or(0, |e| e.code);
    let shown_body = if protobuf {
        json!({ "protobuf_base64": base64::engine::general_purpose::STANDARD.encode(raw) })
    } else {
        Value::Object(parsed.as_ref().unwrap_or(&empty).clone())
    };
    {
        let mut st = shared.lock();
        if path.starts_with("/friend/") && caller_id.is_some() {
            st.friend_calls.push(FriendCall {
                path: path.to_owned(),
                user_id: caller_id.clone().unwrap_or_default(),
                body: shown_body.clone(),
                err_code,
                at_ms: now_ms(),
            });
        }
        st.rest_calls.push(RestCall {
            method: "POST".to_owned(),
            path: path.to_owned(),
            operation_id: operation_id.clone(),
            user_id: caller_id,
            body: shown_body,
            err_code,
            at_ms: now_ms(),
        });
    }
    shared.bump();
    let envelope = match result {
        Ok(Value::Null) => json!({ "errCode": 0, "errMsg": "", "errDlt": "" }),
        Ok(data) => json!({ "errCode": 0, "errMsg": "", "errDlt": "", "data": data }),
        Err(e) => {
            tracing::debug!(path, error = %e, "openim REST error");
            json!({ "errCode": e.code, "errMsg": e.msg(), "errDlt": e.detail })
        }
    };
    json_response(headers, envelope.to_string().into_bytes())
}

/// HTTP 200 JSON, gzip'd when the request accepts it.
fn json_response(headers: &HeaderMap, body: Vec<u8>) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        match enc.write_all(&body).and_then(|()| enc.finish()) {
            Ok(z) => {
                builder = builder.header(header::CONTENT_ENCODING, "gzip");
                z
            }
            Err(_) => body,
        }
    } else {
        body
    };
    builder
        .body(HttpBody::from(Bytes::from(body)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

// ---- /auth -------------------------------------------------------------------------------------

fn get_admin_token(ctx: &Ctx) -> CodeResult<Value> {
    let secret = ctx.body.str("secret")?;
    let user_id = ctx.body.str("userID")?;
    if secret != ctx.shared.opts.secret {
        return Err(CodeError::no_permission("secret invalid"));
    }
    if !ctx.shared.is_admin(&user_id) {
        return Err(CodeError::args(format!(
            "{user_id:?} is not an admin userID"
        )));
    }
    let ttl = ctx.shared.opts.token_ttl_secs();
    let token = ctx.shared.issue_token(&user_id, ADMIN_PLATFORM, ttl);
    Ok(json!({ "token": token, "expireTimeSeconds": ttl }))
}

fn get_user_token(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let platform = ctx.body.i32("platformID")?;
    let user_id = ctx.body.str("userID")?;
    if platform == ADMIN_PLATFORM {
        return Err(CodeError::no_permission(
            "platformID 10 is for admin tokens only",
        ));
    }
    if !valid_platform(platform) {
        return Err(CodeError::args(format!("platformID {platform} is invalid")));
    }
    if ctx.shared.is_admin(&user_id) {
        return Err(CodeError::no_permission(
            "cannot issue a user token for an admin",
        ));
    }
    ctx.shared.lock().require_user(&user_id)?;
    let ttl = ctx.shared.opts.token_ttl_secs();
    let token = ctx.shared.issue_token(&user_id, platform, ttl);
    Ok(json!({ "token": token, "expireTimeSeconds": ttl }))
}

fn parse_token(ctx: &Ctx) -> CodeResult<Value> {
    let token = ctx.body.str("token")?;
    let rec = ctx.shared.parse_token(&token)?;
    Ok(json!({
        "userID": rec.user_id,
        "platformID": rec.platform_id,
        "expireTimeSeconds": rec.exp,
    }))
}

fn force_logout(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let user_id = ctx.body.str("userID")?;
    let platform = ctx.body.i32("platformID")?;
    ctx.shared.force_logout(&user_id, Some(platform));
    Ok(Value::Null)
}

// ---- /msg --------------------------------------------------------------------------------------

fn newest_seq(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let max = ctx.shared.lock().max_seqs(&user);
    let mut v = json!({});
    if !max.is_empty() {
        v["maxSeqs"] = json!(max);
    }
    Ok(v)
}

fn pull_msg_by_seq(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let mut req = pb::PullMessageBySeqsReq {
        user_id: user.clone(),
        seq_ranges: Vec::new(),
        order: ctx.body.i32("order")?,
    };
    for r in ctx.body.objs("seqRanges")? {
        req.seq_ranges.push(pb::SeqRange {
            conversation_id: r.str("conversationID")?,
            begin: r.i64("begin")?,
            end: r.i64("end")?,
            num: r.i64("num")?,
        });
    }
    Ok(pull_json(&ctx.shared.lock().pull_by_seqs(&user, &req)))
}

fn has_read_and_max_seq(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let req = pb::GetConversationsHasReadAndMaxSeqReq {
        user_id: user.clone(),
        conversation_ids: ctx.body.strs("conversationIDs")?,
        return_pinned: ctx.body.bool("returnPinned")?,
    };
    let resp = ctx.shared.lock().has_read_and_max_seq(&user, &req);
    let mut v = json!({ "pinnedConversationIDs": resp.pinned_conversation_ids });
    if !resp.seqs.is_empty() {
        let seqs: Map<String, Value> = resp
            .seqs
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    json!({ "maxSeq": s.max_seq, "hasReadSeq": s.has_read_seq, "maxSeqTime": s.max_seq_time }),
                )
            })
            .collect();
        v["seqs"] = Value::Object(seqs);
    }
    Ok(v)
}

fn mark_read(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let conv = ctx.body.str("conversationID")?;
    let seq = ctx.body.i64("hasReadSeq")?;
    let mut st = ctx.shared.lock();
    let rec = st
        .records
        .get_mut(&user)
        .and_then(|r| r.get_mut(&conv))
        .ok_or_else(|| CodeError::not_found(format!("conversation {conv:?} not found")))?;
    rec.has_read_seq = rec.has_read_seq.max(seq);
    Ok(Value::Null)
}

/// Admin-only `/msg/send_msg` (apistruct `SendMsgReq`).
fn send_msg(ctx: &Ctx) -> CodeResult<Value> {
    let caller = ctx.caller()?.clone();
    let b = ctx.body;
    let content_type = b.i32("contentType")?;
    let session_type = b.i32("sessionType")?;
    let mut msg = pb::MsgData {
        send_id: b.str("sendID")?,
        recv_id: b.str("recvID")?,
        group_id: b.str("groupID")?,
        client_msg_id: hex32(),
        server_msg_id: hex32(),
        sender_platform_id: b.i32("senderPlatformID")?,
        sender_nickname: b.str("senderNickname")?,
        sender_face_url: b.str("senderFaceURL")?,
        session_type,
        msg_from: 200,
        content_type,
        send_time: b.i64("sendTime")?,
        create_time: now_ms_i64(),
        status: 1,
        ex: b.str("ex")?,
        ..pb::MsgData::default()
    };
    let content = b.obj("content")?;
    let mut check = || -> CodeResult<()> {
        if !caller.admin {
            return Err(CodeError::no_permission(
                "only app manager can send message",
            ));
        }
        let Some(content) = content else {
            return Err(CodeError::args("content is required (an elem object)"));
        };
        validate_elem(content_type, content)?;
        let raw = ctx
            .body
            .get("content")
            .cloned()
            .unwrap_or(Value::Null)
            .to_string();
        msg.content = if content_type == 1400 {
            msg.session_type = NOTIFICATION;
            json!({ "detail": raw }).to_string().into_bytes()
        } else {
            raw.into_bytes()
        };
        if content_type == 106 {
            msg.at_user_id_list = content.strs("atUserList")?;
        }
        if b.bool("isOnlineOnly")? {
            for k in [
                "history",
                "persistent",
                "senderSync",
                "conversationUpdate",
                "senderConversationUpdate",
                "unreadCount",
                "offlinePush",
            ] {
                msg.options.insert(k.to_owned(), false);
            }
        }
        if b.bool("notOfflinePush")? {
            msg.options.insert("offlinePush".to_owned(), false);
        }
        if msg.send_id.is_empty() {
            return Err(CodeError::args("sendID is empty"));
        }
        match msg.session_type {
            SINGLE | NOTIFICATION if msg.recv_id.is_empty() => {
                return Err(CodeError::args("recvID is empty"));
            }
            GROUP if msg.group_id.is_empty() => return Err(CodeError::args("groupID is empty")),
            _ => {}
        }
        let st = ctx.shared.lock();
        st.require_user(&msg.send_id)?;
        st.check_send(&msg, false, true)
    };
    let result = check();
    let mut st = ctx.shared.lock();
    if let Err(e) = result {
        st.record_sent("rest", &caller.user_id, &operation_id(ctx), &msg, Some(&e));
        return Err(e);
    }
    if msg.send_time == 0 {
        msg.send_time = now_ms_i64();
    }
    let index = st.record_sent("rest", &caller.user_id, &operation_id(ctx), &msg, None);
    let reply = json!({
        "serverMsgID": msg.server_msg_id,
        "clientMsgID": msg.client_msg_id,
        "sendTime": msg.send_time,
    });
    debug_assert!(!conversation_id_of(&msg).is_empty());
    drop(st);
    ctx.shared.commit_later(msg, index);
    Ok(reply)
}

fn operation_id(ctx: &Ctx) -> String {
    ctx.headers
        .get("operationID")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The REST send validator (spec §2.4), for the content types it supports.
fn validate_elem(content_type: i32, c: Body) -> CodeResult<()> {
    let need_str = |k: &str| -> CodeResult<()> {
        if c.str(k)?.is_empty() {
            Err(CodeError::args(format!("content.{k} is required")))
        } else {
            Ok(())
        }
    };
    let need_pos = |k: &str| -> CodeResult<()> {
        if c.i64(k)? <= 0 {
            Err(CodeError::args(format!("content.{k} must be > 0")))
        } else {
            Ok(())
        }
    };
    match content_type {
        101 | 118 => need_str("content"),
        102 => {
            for pic in ["sourcePicture", "bigPicture", "snapshotPicture"] {
                let p = c
                    .obj(pic)?
                    .ok_or_else(|| CodeError::args(format!("content.{pic} is required")))?;
                if p.str("type")?.is_empty()
                    || p.str("url")?.is_empty()
                    || p.i64("width")? <= 0
                    || p.i64("height")? <= 0
                {
                    return Err(CodeError::args(format!(
                        "content.{pic} needs type, url, width and height"
                    )));
                }
            }
            Ok(())
        }
        103 => {
            need_str("sourceUrl")?;
            need_pos("duration")
        }
        104 => {
            need_str("videoUrl")?;
            need_str("videoType")?;
            need_pos("videoSize")?;
            need_pos("duration")?;
            need_str("snapshotUrl")?;
            need_pos("snapshotWidth")?;
            need_pos("snapshotHeight")
        }
        105 => {
            need_str("sourceUrl")?;
            need_str("fileName")?;
            need_pos("fileSize")
        }
        106 => {
            need_str("text")?;
            if c.strs("atUserList")?.len() > 1000 {
                return Err(CodeError::args("at most 1000 atUserList entries"));
            }
            Ok(())
        }
        110 => Ok(()),
        114 => need_str("text"),
        1400 => Ok(()),
        other => Err(CodeError::args(format!(
            "contentType {other} is not supported by send_msg"
        ))),
    }
}

// ---- /user -------------------------------------------------------------------------------------

fn user_register(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let users = ctx.body.objs("users")?;
    if users.is_empty() {
        return Err(CodeError::args("users is empty"));
    }
    let mut new = Vec::new();
    for u in users {
        let id = u.str("userID")?;
        if id.is_empty() {
            return Err(CodeError::args("userID is empty"));
        }
        new.push(User {
            nickname: u.str("nickname")?,
            face_url: u.str("faceURL")?,
            ex: u.str("ex")?,
            global_recv_msg_opt: 0,
            user_id: id,
        });
    }
    let mut st = ctx.shared.lock();
    if let Some(dup) = new.iter().find(|u| st.users.contains_key(&u.user_id)) {
        return Err(CodeError::new(
            code::REGISTERED_ALREADY,
            format!("{:?} is registered already", dup.user_id),
        ));
    }
    for u in new {
        st.add_user(u);
    }
    Ok(Value::Null)
}

fn get_users_info(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let ids = ctx.body.strs("userIDs")?;
    let st = ctx.shared.lock();
    let infos: Vec<Value> = ids
        .iter()
        .filter_map(|id| st.user_info(id))
        .map(|u| user_json(&u))
        .collect();
    Ok(json!({ "usersInfo": infos }))
}

fn get_users(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let filter_id = ctx.body.str("userID")?;
    let nickname = ctx.body.str("nickName")?;
    let st = ctx.shared.lock();
    let all: Vec<Value> = st
        .users
        .keys()
        .filter(|id| filter_id.is_empty() || **id == filter_id)
        .filter_map(|id| st.user_info(id))
        .filter(|u| nickname.is_empty() || u.nickname.contains(&nickname))
        .map(|u| user_json(&u))
        .collect();
    let total = all.len();
    Ok(json!({ "total": total, "users": page(all, ctx.body.pagination()?) }))
}

fn get_users_online_status(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let ids = ctx.body.strs("userIDs")?;
    let st = ctx.shared.lock();
    let out: Vec<Value> = ids
        .iter()
        .map(|id| {
            let conns: Vec<Value> = st
                .conns
                .values()
                .filter(|c| &c.info.user_id == id)
                .map(|c| json!({ "platformID": c.info.platform_id, "status": "online", "connID": c.info.id.to_string(), "token": c.info.token, "isBackground": false }))
                .collect();
            json!({
                "userID": id,
                "status": if conns.is_empty() { "offline" } else { "online" },
                "detailPlatformStatus": conns,
            })
        })
        .collect();
    Ok(Value::Array(out))
}

fn account_check(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let ids = ctx.body.strs("checkUserIDs")?;
    let st = ctx.shared.lock();
    let results: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "userID": id, "accountStatus": if st.users.contains_key(id) { "registered" } else { "unregistered" } }))
        .collect();
    Ok(json!({ "results": results }))
}
