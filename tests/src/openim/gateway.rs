//! The message gateway WebSocket (spec §1): handshake validation and error reporting, the JSON
//! envelope with base64 protobuf `data`, heartbeats, the read deadline and frame limit, and the
//! request handlers (1001–1007, 2003–2005).

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};
use prost::Message as _;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, interval_at, sleep, timeout};

use super::errs::{CodeError, code};
use super::msgs::b64;
use super::pb;
use super::state::{ConnRec, Out, Shared, WsResp, hex32, now_ms_i64, valid_platform};
use super::types::{ConnInfo, Fault};
use crate::http::now_ms;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handshake).with_state(shared)
}

/// Validated connection parameters.
#[derive(Debug, Clone)]
struct Args {
    user_id: String,
    token: String,
    platform_id: i32,
    msg_resp: bool,
    compression: bool,
}

/// The first-frame / plain-HTTP error body `{"errCode","errMsg","errDlt"}`.
fn first_frame(err: Option<&CodeError>) -> String {
    match err {
        None => r#"{"errCode":0,"errMsg":"","errDlt":""}"#.to_owned(),
        Some(e) => json!({ "errCode": e.code, "errMsg": e.msg(), "errDlt": e.detail }).to_string(),
    }
}

fn http_error(err: &CodeError) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        first_frame(Some(err)),
    )
        .into_response()
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Result<bool, CodeError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(CodeError::internal(format!(
            "strconv.ParseBool: parsing {other:?}: invalid syntax"
        ))),
    }
}

fn conn_args(detail: &str) -> CodeError {
    CodeError::new(code::CONN_ARGS, detail)
}

fn check_sdk_type(sdk_type: &str) -> Result<(), CodeError> {
    match sdk_type {
        "js" => Ok(()),
        "" | "go" => Err(conn_args(
            "sdkType go (gob frames) is not supported by imsim; connect with sdkType=js",
        )),
        _ => Err(conn_args("sdkType is invalid")),
    }
}

fn check_platform(p: i32) -> Result<i32, CodeError> {
    if valid_platform(p) {
        Ok(p)
    } else {
        Err(conn_args("platformID is invalid"))
    }
}

/// Step 2 of spec §1.2, query form.
fn parse_query(q: &[(String, String)], headers: &HeaderMap) -> Result<Args, CodeError> {
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let has = |k: &str| q.iter().any(|(key, _)| key == k);
    if has("v") {
        return parse_v(get("v"), headers);
    }
    let user_id = get("sendID");
    if user_id.is_empty() {
        return Err(conn_args("sendID is empty"));
    }
    let token = get("token");
    if token.is_empty() {
        return Err(conn_args("token is empty"));
    }
    let platform_id = get("platformID")
        .parse::<i32>()
        .map_err(|_| conn_args("platformID is not int"))
        .and_then(check_platform)?;
    if get("operationID").is_empty() {
        return Err(conn_args("operationID is empty"));
    }
    parse_bool(get("isBackground"))?;
    let msg_resp = if has("isMsgResp") {
        parse_bool(get("isMsgResp"))?
    } else {
        false
    };
    check_sdk_type(get("sdkType"))?;
    let compression = if has("compression") {
        get("compression") == "gzip"
    } else {
        header_gzip(headers)
    };
    Ok(Args {
        user_id: user_id.to_owned(),
        token: token.to_owned(),
        platform_id,
        msg_resp,
        compression,
    })
}

fn header_gzip(headers: &HeaderMap) -> bool {
    headers
        .get("compression")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "gzip")
}

/// The `v=<base64url(JSON)>` form.
fn parse_v(v: &str, headers: &HeaderMap) -> Result<Args, CodeError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(v)
        .or_else(|_| URL_SAFE.decode(v))
        .map_err(|_| conn_args("v is not base64url"))?;
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(conn_args("v is not a JSON object"));
    };
    let s = |k: &str| -> Result<String, CodeError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(conn_args(&format!("v.{k} must be a string"))),
        }
    };
    let b = |k: &str| -> Result<bool, CodeError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(conn_args(&format!("v.{k} must be a bool"))),
        }
    };
    let user_id = s("userID")?;
    if user_id.is_empty() {
        return Err(conn_args("userID is empty"));
    }
    let token = s("token")?;
    if token.is_empty() {
        return Err(conn_args("token is empty"));
    }
    let platform_id = match m.get("platformID") {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| conn_args("platformID is not int"))?,
        _ => return Err(conn_args("platformID is not int")),
    };
    check_platform(platform_id)?;
    if s("operationID")?.is_empty() {
        return Err(conn_args("operationID is empty"));
    }
    b("background")?;
    let msg_resp = b("sendResponse")?;
    check_sdk_type(&s("sdkType")?)?;
    let compression = match m.get("compression") {
        Some(Value::String(c)) => c == "gzip",
        _ => header_gzip(headers),
    };
    Ok(Args {
        user_id,
        token,
        platform_id,
        msg_resp,
        compression,
    })
}

async fn handshake(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // 1. connection limit
    if shared.lock().conns.len() >= shared.opts.max_conns {
        return http_error(&CodeError::new(
            code::CONN_OVER_MAX_NUM_LIMIT,
            "over max conn num limit",
        ));
    }
    // 2. parameters (reported as plain HTTP: isMsgResp is not known yet)
    let query: Vec<(String, String)> = axum::extract::Query::try_from_uri(&uri)
        .map(|q: axum::extract::Query<Vec<(String, String)>>| q.0)
        .unwrap_or_default();
    let args = match parse_query(&query, &headers) {
        Ok(a) => a,
        Err(e) => return http_error(&e),
    };
    // 3. token, 4. claims
    let verdict = shared.parse_token(&args.token).and_then(|rec| {
        if rec.user_id == args.user_id && rec.platform_id == args.platform_id {
            Ok(())
        } else {
            Err(CodeError::new(
                code::TOKEN_INVALID,
                "token does not match sendID / platformID",
            ))
        }
    });
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return match verdict {
                Err(e) => http_error(&e),
                Ok(()) => (
                    StatusCode::BAD_REQUEST,
                    "Bad Request\nwebsocket: the client is not using the websocket protocol",
                )
                    .into_response(),
            };
        }
    };
    if let Err(e) = verdict {
        if !args.msg_resp {
            return http_error(&e);
        }
        let text = first_frame(Some(&e));
        return ws.on_upgrade(move |mut socket| async move {
            let _ = socket.send(Message::Text(text.into())).await;
            // dropped without a close frame: the peer sees an abnormal closure
        });
    }
    let max = shared.opts.max_frame;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve_conn(shared, socket, args))
}

async fn serve_conn(shared: Arc<Shared>, mut socket: WebSocket, args: Args) {
    let (tx, rx) = mpsc::channel(shared.opts.write_queue.max(1));
    let (kill_tx, mut kill_rx) = watch::channel(false);
    let id = {
        let mut st = shared.lock();
        st.kick_on_connect(
            shared.opts.multi_login_policy,
            &args.user_id,
            args.platform_id,
            &args.token,
        );
        st.next_conn += 1;
        let id = st.next_conn;
        st.conns.insert(
            id,
            ConnRec {
                info: ConnInfo {
                    id,
                    user_id: args.user_id.clone(),
                    platform_id: args.platform_id,
                    token: args.token.clone(),
                    compression: args.compression,
                    connected_at_ms: now_ms(),
                },
                tx: tx.clone(),
                kill: kill_tx,
                subs: Default::default(),
            },
        );
        st.notify_status(&args.user_id);
        id
    };
    shared.bump();
    tracing::debug!(
        conn = id,
        user = args.user_id,
        platform = args.platform_id,
        "openim connection"
    );
    if args.msg_resp
        && socket
            .send(Message::Text(first_frame(None).into()))
            .await
            .is_err()
    {
        shared.unregister(id);
        return;
    }
    let (sink, stream) = socket.split();
    let mut stop = shared.shutdown.subscribe();
    let conn = Conn {
        id,
        user: args.user_id.clone(),
        compression: args.compression,
    };
    tokio::select! {
        _ = writer(&shared, &conn, args.platform_id, sink, rx) => {}
        _ = reader(&shared, &conn, stream) => {}
        _ = kill_rx.wait_for(|k| *k) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    shared.unregister(id);
}

struct Conn {
    id: u64,
    user: String,
    compression: bool,
}

fn gzip(payload: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    if enc.write_all(payload).is_err() {
        return payload.to_vec();
    }
    enc.finish().unwrap_or_else(|_| payload.to_vec())
}

fn gunzip(payload: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(payload)
        .take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

type Sink = SplitSink<WebSocket, Message>;

async fn writer(
    shared: &Shared,
    conn: &Conn,
    platform: i32,
    mut sink: Sink,
    mut rx: mpsc::Receiver<Out>,
) {
    let period = shared.opts.server_ping_interval;
    let mut ping = interval_at(Instant::now() + period, period);
    let pings = platform == 5;
    loop {
        tokio::select! {
            out = rx.recv() => {
                let ok = match out {
                    None | Some(Out::Close) => return,
                    Some(Out::Text(t)) => sink.send(Message::Text(t.into())).await.is_ok(),
                    Some(Out::Frame(resp)) => write_frame(shared, conn, &mut sink, resp).await,
                };
                if !ok {
                    return;
                }
            }
            _ = ping.tick(), if pings => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send_binary(conn: &Conn, sink: &mut Sink, payload: Vec<u8>) -> bool {
    let payload = if conn.compression {
        gzip(&payload)
    } else {
        payload
    };
    sink.send(Message::Binary(payload.into())).await.is_ok()
}

fn envelope(resp: &WsResp) -> Vec<u8> {
    serde_json::to_vec(resp).unwrap_or_default()
}

/// Writes one response or push, applying the user's next queued fault.
async fn write_frame(shared: &Shared, conn: &Conn, sink: &mut Sink, mut resp: WsResp) -> bool {
    if let Some(fault) = shared.take_fault(&conn.user) {
        tracing::debug!(conn = conn.id, ?fault, "openim fault");
        match fault {
            Fault::MalformedFrame => {
                let junk =
                    b"{\"reqIdentifier\":2001,\"msgIncr\":\"\",\"data\":\"CgR\x00\xff".to_vec();
                if !send_binary(conn, sink, junk).await {
                    return false;
                }
            }
            Fault::BadBase64 => resp.data = Some("!!not*base64!!".to_owned()),
            Fault::BadProtobuf => resp.data = Some(b64(&[0x0a, 0xff, 0x01, 0x12])),
            Fault::UnknownReqIdentifier => {
                let extra = WsResp {
                    req_identifier: 9999,
                    msg_incr: format!("imsim-unknown-{}", shared.next_unknown()),
                    operation_id: String::new(),
                    err_code: 0,
                    err_msg: String::new(),
                    data: None,
                };
                if !send_binary(conn, sink, envelope(&extra)).await {
                    return false;
                }
            }
            Fault::Oversized { bytes } => {
                let raw = bytes.saturating_mul(3) / 4;
                let extra = WsResp {
                    req_identifier: 3001,
                    msg_incr: String::new(),
                    operation_id: String::new(),
                    err_code: 0,
                    err_msg: String::new(),
                    data: Some(b64(&vec![0u8; raw])),
                };
                if !send_binary(conn, sink, envelope(&extra)).await {
                    return false;
                }
            }
            Fault::Delay { ms } => sleep(Duration::from_millis(ms)).await,
            Fault::Drop => return false,
        }
    }
    send_binary(conn, sink, envelope(&resp)).await
}

type Stream = SplitStream<WebSocket>;

/// Reads until the connection must close: read deadline, EOF, a bad frame or a kick/logout.
async fn reader(shared: &Arc<Shared>, conn: &Conn, mut stream: Stream) {
    let deadline = shared.opts.read_timeout;
    loop {
        let msg = match timeout(deadline, stream.next()).await {
            Err(_) => {
                tracing::debug!(conn = conn.id, "read deadline passed; closing");
                return;
            }
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            // the WebSocket layer answers pings itself; any frame refreshes the deadline
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return,
            Message::Text(text) => {
                let Some(reply) = heartbeat(text.as_str()) else {
                    tracing::debug!(conn = conn.id, "unsupported text frame; closing");
                    return;
                };
                if let Some(reply) = reply {
                    shared.lock().send_conn(conn.id, Out::Text(reply));
                }
            }
            Message::Binary(data) => {
                if let Some(stall) = shared.take_read_stall(&conn.user) {
                    sleep(stall).await;
                }
                let payload = if conn.compression {
                    match gunzip(&data, 16 * 1024 * 1024) {
                        Some(p) => p,
                        None => return,
                    }
                } else {
                    data.to_vec()
                };
                if !handle_request(shared, conn, &payload) {
                    return;
                }
            }
        }
    }
}

/// `{"type":"ping"}` → `Some(Some(pong))`, `{"type":"pong"}` → `Some(None)`, other → `None`.
fn heartbeat(text: &str) -> Option<Option<String>> {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let body = m.get("body").cloned().unwrap_or(Value::Null);
    match m.get("type").and_then(Value::as_str) {
        Some("ping") => Some(Some(format!(r#"{{"type":"pong","body":{body}}}"#))),
        Some("pong") => Some(None),
        _ => None,
    }
}

/// Case-insensitive key lookup, like Go's `encoding/json` (exact match first).
fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The decoded `Req` envelope.
struct Req {
    id: i32,
    operation_id: String,
    msg_incr: String,
    data: Vec<u8>,
}

fn parse_envelope(payload: &[u8]) -> Option<(Req, String)> {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    let string = |k: &str| -> Option<String> {
        match field(&m, k) {
            None | Some(Value::Null) => Some(String::new()),
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => None,
        }
    };
    let id = match field(&m, "reqIdentifier") {
        None | Some(Value::Null) => 0,
        Some(v) => i32::try_from(v.as_i64()?).ok()?,
    };
    let data = match field(&m, "data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => STANDARD.decode(s).ok()?,
        Some(_) => return None,
    };
    string("token")?;
    Some((
        Req {
            id,
            operation_id: string("operationID")?,
            msg_incr: string("msgIncr")?,
            data,
        },
        string("sendID")?,
    ))
}

/// Handles one request frame; `false` closes the connection (without a reply).
fn handle_request(shared: &Arc<Shared>, conn: &Conn, payload: &[u8]) -> bool {
    let Some((req, send_id)) = parse_envelope(payload) else {
        tracing::debug!(conn = conn.id, "undecodable request envelope; closing");
        return false;
    };
    if send_id != conn.user {
        tracing::debug!(conn = conn.id, send_id, "sendID mismatch; closing");
        return false;
    }
    if !matches!(req.id, 1001..=1007 | 2003..=2005) {
        tracing::debug!(
            conn = conn.id,
            id = req.id,
            "unknown reqIdentifier; closing"
        );
        return false;
    }
    let reply = |result: Result<Option<Vec<u8>>, CodeError>| {
        let (err_code, err_msg, data) = match result {
            Ok(data) => (0, String::new(), data.map(|d| b64(&d))),
            Err(e) => {
                tracing::debug!(conn = conn.id, id = req.id, error = %e, "openim request failed");
                (e.code, e.msg().to_owned(), None)
            }
        };
        Out::Frame(WsResp {
            req_identifier: req.id,
            msg_incr: req.msg_incr.clone(),
            operation_id: req.operation_id.clone(),
            err_code,
            err_msg,
            data,
        })
    };
    let send = |out: Out| shared.lock().send_conn(conn.id, out);
    if matches!(req.id, 1002 | 1005 | 1006 | 2004)
        && (req.operation_id.is_empty() || req.msg_incr.is_empty())
    {
        send(reply(Err(CodeError::internal(
            "validator: operationID and msgIncr are required",
        ))));
        return true;
    }
    fn decode<M: prost::Message + Default>(data: &[u8]) -> Result<M, CodeError> {
        M::decode(data).map_err(|e| CodeError::internal(format!("proto: {e}")))
    }
    let self_check = |user_id: &str| {
        if user_id == conn.user {
            Ok(())
        } else {
            Err(CodeError::no_permission(format!(
                "userID {user_id:?} is not the connection's user"
            )))
        }
    };
    match req.id {
        1001 => {
            let r = decode::<pb::GetMaxSeqReq>(&req.data).and_then(|r| {
                self_check(&r.user_id)?;
                let resp = pb::GetMaxSeqResp {
                    max_seqs: shared.lock().max_seqs(&conn.user),
                    min_seqs: Default::default(),
                };
                Ok(Some(resp.encode_to_vec()))
            });
            send(reply(r));
        }
        1002 => {
            let r = decode::<pb::PullMessageBySeqsReq>(&req.data).and_then(|r| {
                self_check(&r.user_id)?;
                Ok(Some(
                    shared.lock().pull_by_seqs(&conn.user, &r).encode_to_vec(),
                ))
            });
            send(reply(r));
        }
        1003 => send_msg(shared, conn, &req, reply),
        1004 => send(reply(Err(CodeError::internal(
            "WSSendSignalMsg is not supported by the server",
        )))),
        1005 => {
            let r = decode::<pb::GetSeqMessageReq>(&req.data).and_then(|r| {
                self_check(&r.user_id)?;
                Ok(Some(
                    shared.lock().seq_messages(&conn.user, &r).encode_to_vec(),
                ))
            });
            send(reply(r));
        }
        1006 => {
            let r = decode::<pb::GetConversationsHasReadAndMaxSeqReq>(&req.data).and_then(|r| {
                self_check(&r.user_id)?;
                Ok(Some(
                    shared
                        .lock()
                        .has_read_and_max_seq(&conn.user, &r)
                        .encode_to_vec(),
                ))
            });
            send(reply(r));
        }
        1007 => {
            let r = decode::<pb::GetLastMessageReq>(&req.data).and_then(|r| {
                self_check(&r.user_id)?;
                let msgs = shared.lock().last_messages(&conn.user, &r.conversation_ids);
                Ok(Some(pb::GetLastMessageResp { msgs }.encode_to_vec()))
            });
            send(reply(r));
        }
        2003 => {
            let r = decode::<pb::DelUserPushTokenReq>(&req.data).map(|_| None);
            let ok = r.is_ok();
            send(reply(r));
            if ok {
                send(Out::Close);
            }
        }
        2004 => {
            let r = decode::<pb::SetAppBackgroundStatusReq>(&req.data).map(|_| None);
            send(reply(r));
        }
        2005 => {
            let r = decode::<pb::SubUserOnlineStatus>(&req.data).map(|sub| {
                let mut st = shared.lock();
                if let Some(c) = st.conns.get_mut(&conn.id) {
                    for u in &sub.unsubscribe_user_id {
                        c.subs.remove(u);
                    }
                    for u in &sub.subscribe_user_id {
                        c.subs.insert(u.clone());
                    }
                }
                let subscribers = sub
                    .subscribe_user_id
                    .iter()
                    .map(|u| pb::SubUserOnlineStatusElem {
                        user_id: u.clone(),
                        online_platform_ids: st.online_platforms(u),
                    })
                    .collect();
                Some(pb::SubUserOnlineStatusTips { subscribers }.encode_to_vec())
            });
            send(reply(r));
        }
        _ => return false,
    }
    true
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// 1003: checks, reply `SendMsgResp` (no seq), then store + push.
fn send_msg(
    shared: &Arc<Shared>,
    conn: &Conn,
    req: &Req,
    reply: impl Fn(Result<Option<Vec<u8>>, CodeError>) -> Out,
) {
    let mut msg = match pb::MsgData::decode(req.data.as_slice()) {
        Ok(m) => m,
        Err(e) => {
            let out = reply(Err(CodeError::internal(format!("proto: {e}"))));
            shared.lock().send_conn(conn.id, out);
            return;
        }
    };
    let mut st = shared.lock();
    let check = if msg.send_id != conn.user {
        Err(CodeError::no_permission(format!(
            "MsgData.sendID {:?} is not the token's user",
            msg.send_id
        )))
    } else {
        st.check_send(&msg, shared.opts.friend_verify, false)
    };
    if let Err(e) = check {
        st.record_sent("ws", &conn.user, &req.operation_id, &msg, Some(&e));
        st.send_conn(conn.id, reply(Err(e)));
        drop(st);
        shared.bump();
        return;
    }
    msg.server_msg_id = hex32();
    if msg.send_time == 0 {
        msg.send_time = now_ms_i64();
    }
    let index = st.record_sent("ws", &conn.user, &req.operation_id, &msg, None);
    let resp = pb::SendMsgResp {
        server_msg_id: msg.server_msg_id.clone(),
        client_msg_id: msg.client_msg_id.clone(),
        send_time: msg.send_time,
        modify: None,
    };
    let out = reply(Ok(Some(resp.encode_to_vec())));
    let lost = st
        .lost_replies
        .iter()
        .any(|text| contains(&msg.content, text.as_bytes()));
    if lost {
        st.commit(msg, Some(index));
        drop(st);
        shared.bump();
        return;
    }
    if shared.opts.push_before_reply {
        st.commit(msg, Some(index));
        st.send_conn(conn.id, out);
        drop(st);
        shared.bump();
    } else {
        st.send_conn(conn.id, out);
        drop(st);
        shared.commit_later(msg, index);
    }
}
