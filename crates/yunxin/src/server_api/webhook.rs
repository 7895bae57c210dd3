//! The message-copy webhook (消息抄送, spec §4): NetEase POSTs a copy of every message of the
//! app, signed with `AppKey`, `CurTime` (ms), `MD5` and `CheckSum`. The receiver keeps the
//! conversation messages addressed to this account and hands them to the channel as
//! `receiveMessages` events.
//!
//! Answers: 401 when a signature check fails (logged with the check and the peer, never the
//! secret or the body), 400 for a signed body that is not a copy, 413 for a body over
//! [`MAX_BODY`], 200 once the copy is durable in the account's journal (or is not for this
//! account), and 503 when it could not be kept in time (the account is stopping, the journal
//! cannot be written), so that NetEase delivers it again.
//!
//! Replays: NetEase does not say whether a redelivered copy is signed again, so a copy's age
//! (`CurTime`) is not held against it unless `maxSkewSeconds` asks for it. A validly signed copy
//! that comes again is stopped by the dedup journal (its window is a week), not by the clock;
//! only someone holding the app secret can sign a new one. `AppKey` is checked when present;
//! NetEase's published copy samples carry only `CurTime`, `MD5` and `CheckSum`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use channel_core::{CancellationToken, now_ms};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::sign;
use crate::config::Secret;
use crate::nim::{
    Attachment, ConversationId, ConversationType, Durable, Message, MessageSource, MessageType,
    NimError, NimEvent,
};

/// Largest body read. A copy is a message and its metadata (NetEase caps a text at 5,000
/// characters; attachments travel as URLs), so a megabyte is generous.
const MAX_BODY: usize = 1024 * 1024;
/// How long one request may take, body included, before it is cut off: a slow or stalled
/// sender cannot hold a connection and its buffers for ever.
const REQUEST_TIME: Duration = Duration::from_secs(30);
/// How long a copy waits to be durable before the answer is 503 (NetEase then retries; a
/// copy kept meanwhile is a duplicate then, answered 200).
const DURABLE_WAIT: Duration = Duration::from_secs(10);
/// How long stopping waits for requests in flight before cutting them off.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The NIM code a listener failure is reported with (network class: the account retries).
const LISTEN_FAILED: i64 = 415;

/// What requests are checked against, and where their messages go.
#[derive(Debug)]
pub(crate) struct Hook {
    /// The account's id in the config, for logs.
    pub account: String,
    pub app_key: String,
    pub secret: Secret,
    /// The bot's accid: copies to and from other accounts of the app are not for it.
    pub me: String,
    pub path: String,
    /// Refuse copies whose `CurTime` is further than this from our clock (`maxSkewSeconds`).
    pub max_skew: Option<Duration>,
    pub events: mpsc::UnboundedSender<NimEvent>,
}

/// A running webhook listener.
#[derive(Debug)]
pub(crate) struct Listener {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Receiver {
    hook: Hook,
}

impl Listener {
    /// Binds `listen` and serves `POST <hook.path>` until [`Listener::stop`].
    pub(crate) async fn start(listen: SocketAddr, hook: Hook) -> Result<Listener, NimError> {
        let tcp = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            NimError::new(
                LISTEN_FAILED,
                format!("serverApi.webhookListen {listen}: cannot listen: {e}"),
            )
        })?;
        let addr = tcp.local_addr().unwrap_or(listen);
        tracing::info!(account = %hook.account, %addr, path = %hook.path, "[netease-yunxin] webhook listening");
        let stop = CancellationToken::new();
        let events = hook.events.clone();
        let account = hook.account.clone();
        // One fallback handler instead of a route: the configured path is compared as it is,
        // never parsed as an axum route pattern.
        let app = Router::new()
            .fallback(timed)
            .with_state(Arc::new(Receiver { hook }));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let served =
                    axum::serve(tcp, app.into_make_service_with_connect_info::<SocketAddr>())
                        .with_graceful_shutdown(stop.clone().cancelled_owned())
                        .await;
                if !stop.is_cancelled() {
                    // Ended on its own: the channel opens the transport again.
                    let why = served
                        .err()
                        .map_or_else(|| "stopped".to_owned(), |e| e.to_string());
                    tracing::warn!(%account, %addr, %why, "[netease-yunxin] webhook listener ended");
                    let _ = events.send(NimEvent::Closed(Some(NimError::new(
                        LISTEN_FAILED,
                        format!("the webhook listener on {addr} ended: {why}"),
                    ))));
                }
            }
        });
        Ok(Listener { stop, task })
    }

    /// Stops accepting, lets requests in flight finish (up to [`STOP_GRACE`]) and frees the
    /// port, so the next session can bind it again.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        let mut task = self.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// [`receive`], within [`REQUEST_TIME`] (408 past it).
async fn timed(
    state: State<Arc<Receiver>>,
    peer: ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let account = state.hook.account.clone();
    let work = async move {
        // The body is read here, inside the time limit, not by an extractor before it.
        let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
            Ok(body) => body,
            Err(_) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {MAX_BODY} bytes or was cut off"),
                )
                    .into_response();
            }
        };
        receive(state, peer, method, uri, headers, body).await
    };
    match tokio::time::timeout(REQUEST_TIME, work).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%account, peer = %peer.0, "[netease-yunxin] webhook request took over {} s; cut off", REQUEST_TIME.as_secs());
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let hook = &receiver.hook;
    if uri.path() != hook.path {
        return StatusCode::NOT_FOUND.into_response();
    }
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response();
    }
    let verified = verify(
        &headers,
        &body,
        &hook.app_key,
        hook.secret.expose(),
        now_ms(),
        hook.max_skew,
    );
    if let Err(refusal) = verified {
        tracing::warn!(account = %hook.account, %peer, reason = %refusal, "[netease-yunxin] webhook request refused");
        return (StatusCode::UNAUTHORIZED, refusal.to_string()).into_response();
    }
    let copy = match parse(&body) {
        Ok(Copied::Message(copy)) => copy,
        Ok(Copied::Other { event_type }) => {
            tracing::debug!(account = %hook.account, %event_type, "webhook event that is not a conversation message");
            return StatusCode::OK.into_response();
        }
        Err(error) => {
            tracing::warn!(account = %hook.account, %peer, %error, "[netease-yunxin] webhook body refused");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    let message = match route(&copy, &hook.me) {
        Ok(message) => message,
        Err(ignored) => {
            tracing::trace!(account = %hook.account, ?ignored, "webhook copy not for this account");
            return StatusCode::OK.into_response();
        }
    };
    let id = message.message_server_id.clone();
    let (durable, kept) = Durable::new();
    if hook
        .events
        .send(NimEvent::Copied(Box::new(message), durable))
        .is_err()
    {
        // Nobody reads events any more (the account is stopping): NetEase delivers it again.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(DURABLE_WAIT, kept).await {
        Ok(Ok(true)) => StatusCode::OK.into_response(),
        outcome => {
            let why = match outcome {
                Ok(Ok(_)) => "the journal could not keep it",
                Ok(Err(_)) => "the account stopped before keeping it",
                Err(_) => "it was not kept in time",
            };
            tracing::warn!(account = %hook.account, %id, why, "[netease-yunxin] webhook copy answered 503; NetEase delivers it again");
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
    }
}

/// Why a webhook request was refused (answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("missing or unreadable {0} header")]
    Header(&'static str),
    #[error("AppKey is not this account's app key")]
    AppKey,
    #[error("MD5 does not match the body (changed on the way)")]
    Md5,
    #[error("CheckSum does not match (not signed with this app's secret)")]
    CheckSum,
    #[error("CurTime is not a number of milliseconds")]
    CurTime,
    #[error(
        "CurTime is {off_ms} ms away from this host's clock (limit {limit_ms} ms): a replay, or a wrong clock"
    )]
    Skew { off_ms: i64, limit_ms: i64 },
}

/// The checks of spec §4: `MD5` is the body's, `CheckSum` is `sha1hex(secret + MD5 + CurTime)`,
/// `AppKey` (when sent) is ours, and, only under `max_skew`, `CurTime` (ms) is that close to
/// `now_ms`.
pub(crate) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    app_key: &str,
    secret: &str,
    now_ms: i64,
    max_skew: Option<Duration>,
) -> Result<(), Refusal> {
    let optional = |name: &'static str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map_err(|_| Refusal::Header(name)))
            .transpose()
    };
    let header = |name: &'static str| {
        optional(name)?
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::Header(name))
    };
    if let Some(sent) = optional("AppKey")?
        && sent != app_key
    {
        return Err(Refusal::AppKey);
    }
    let cur_time = header("CurTime")?;
    let md5 = header("MD5")?;
    let checksum = header("CheckSum")?;
    if !sign::same_hex(md5, &sign::md5_hex(body)) {
        return Err(Refusal::Md5);
    }
    if !sign::same_hex(checksum, &sign::webhook_checksum(secret, md5, cur_time)) {
        return Err(Refusal::CheckSum);
    }
    let sent_at: i64 = cur_time.parse().map_err(|_| Refusal::CurTime)?;
    if let Some(max_skew) = max_skew {
        let off_ms = now_ms.saturating_sub(sent_at).saturating_abs();
        let limit_ms = i64::try_from(max_skew.as_millis()).unwrap_or(i64::MAX);
        if off_ms > limit_ms {
            return Err(Refusal::Skew { off_ms, limit_ms });
        }
    }
    Ok(())
}

/// A signed body, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Copied {
    /// `eventType` "1": a conversation message (boxed: it is ten times the other variant).
    Message(Box<MessageCopy>),
    /// Login events, recalls, …: acknowledged, not used.
    Other { event_type: String },
}

/// The fields of a copied message (all strings on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MessageCopy {
    pub conv_type: String,
    pub from: String,
    pub to: String,
    pub msg_type: String,
    pub body: String,
    pub attach: Option<String>,
    pub msgid_client: String,
    pub msgid_server: String,
    pub timestamp: Option<i64>,
    pub from_nick: Option<String>,
    pub ext: Option<String>,
    /// `tMembers` of a team message, `[a, b]`.
    pub team_members: Option<String>,
}

/// Why a signed body is not a copy (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadBody {
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    #[error("field `{0}` is missing or empty")]
    Missing(&'static str),
    #[error("field `{0}` is not a string")]
    NotText(&'static str),
}

pub(crate) fn parse(body: &[u8]) -> Result<Copied, BadBody> {
    let map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(BadBody::NotJson("another JSON value".into())),
        Err(e) => return Err(BadBody::NotJson(e.to_string())),
    };
    // NetEase sends strings; a number is taken as its decimal text rather than refused.
    let text = |name: &'static str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(BadBody::NotText(name)),
    };
    let required = |name: &'static str| {
        text(name)?
            .filter(|v| !v.is_empty())
            .ok_or(BadBody::Missing(name))
    };
    let event_type = required("eventType")?;
    if event_type != "1" {
        return Ok(Copied::Other { event_type });
    }
    Ok(Copied::Message(Box::new(MessageCopy {
        conv_type: required("convType")?,
        from: required("fromAccount")?,
        to: required("to")?,
        msg_type: required("msgType")?,
        msgid_server: required("msgidServer")?,
        msgid_client: text("msgidClient")?.unwrap_or_default(),
        body: text("body")?.unwrap_or_default(),
        attach: text("attach")?.filter(|a| !a.is_empty()),
        timestamp: text("msgTimestamp")?.and_then(|t| t.trim().parse().ok()),
        from_nick: text("fromNick")?.filter(|n| !n.is_empty()),
        ext: text("ext")?.filter(|e| !e.is_empty()),
        team_members: text("tMembers")?.filter(|m| !m.is_empty()),
    })))
}

/// Why a copy is not for this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// Sent by this account (our own sends are copied too).
    OwnMessage,
    /// A P2P message between two other accounts of the app.
    ToSomeoneElse,
    /// A team message of a team this account is not in (per `tMembers`).
    NotAMember,
    /// `convType` other than PERSON, TEAM, SUPER_TEAM (chat rooms, custom notifications).
    NotAConversation(String),
}

/// The V2 message a copy stands for, as seen by `me`.
pub(crate) fn route(copy: &MessageCopy, me: &str) -> Result<Message, Ignored> {
    if copy.from == me {
        return Err(Ignored::OwnMessage);
    }
    let conversation = match copy.conv_type.as_str() {
        "PERSON" if copy.to == me => ConversationId::p2p(me, &copy.from),
        "PERSON" => return Err(Ignored::ToSomeoneElse),
        kind @ ("TEAM" | "SUPER_TEAM") => {
            // Without `tMembers` the copy cannot say; the send of a reply would tell.
            if let Some(members) = &copy.team_members
                && !members_of(members).any(|m| m == me)
            {
                return Err(Ignored::NotAMember);
            }
            ConversationId {
                me: me.to_owned(),
                kind: if kind == "TEAM" {
                    ConversationType::Team
                } else {
                    ConversationType::SuperTeam
                },
                target: copy.to.clone(),
            }
        }
        other => return Err(Ignored::NotAConversation(other.to_owned())),
    };
    Ok(Message {
        message_client_id: copy.msgid_client.clone(),
        message_server_id: copy.msgid_server.clone(),
        create_time: copy.timestamp.unwrap_or_else(now_ms),
        sender_id: copy.from.clone(),
        sender_name: copy.from_nick.clone(),
        receiver_id: copy.to.clone(),
        conversation_type: conversation.kind,
        conversation_id: conversation.to_string(),
        message_type: message_type(&copy.msg_type),
        sub_type: None,
        text: Some(copy.body.clone()).filter(|t| !t.is_empty()),
        attachment: copy.attach.as_deref().and_then(attachment),
        // The copy's `ext` is the message's extension; the V2 message has one place for it.
        server_extension: copy.ext.clone(),
        force_push_account_ids: copy.ext.as_deref().map(mentions).unwrap_or_default(),
        is_self: false,
        message_source: MessageSource::Online,
    })
}

/// `msgType` names → V2 numbers. An unknown name is kept as `Other(-1)`, which the channel
/// skips as not content.
fn message_type(name: &str) -> MessageType {
    match name {
        "TEXT" => MessageType::Text,
        "PICTURE" => MessageType::Image,
        "AUDIO" => MessageType::Audio,
        "VIDEO" => MessageType::Video,
        "LOCATION" => MessageType::Location,
        "NOTIFICATION" => MessageType::Notification,
        "FILE" => MessageType::File,
        "TIPS" => MessageType::Tip,
        "ROBOT" => MessageType::Robot,
        "CUSTOM" => MessageType::Custom,
        _ => MessageType::Other(-1),
    }
}

/// `attach`, a JSON object in a string: `url`, `name`, `ext`, `size`, `md5`, `w`, `h`, `dur`,
/// and for locations `lat`, `lng`, `title`. Numbers may come as strings. An unreadable `attach`
/// leaves the message without an attachment rather than dropping it.
fn attachment(attach: &str) -> Option<Attachment> {
    let Ok(Value::Object(a)) = serde_json::from_str::<Value>(attach) else {
        return None;
    };
    let text = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let uint = |k: &str| {
        a.get(k)
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
    };
    let float = |k: &str| {
        a.get(k)
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
    };
    let dimension = |k: &str| uint(k).and_then(|v| u32::try_from(v).ok());
    Some(Attachment {
        url: text("url"),
        name: text("name"),
        ext: text("ext"),
        size: uint("size"),
        md5: text("md5"),
        width: dimension("w"),
        height: dimension("h"),
        duration: uint("dur"),
        latitude: float("lat"),
        longitude: float("lng"),
        address: text("title"),
    })
}

/// Accounts @-mentioned: the keys of `yxAitMsg` in the extension (the convention of NetEase's
/// UI kits; the copy has no field of its own for mentions).
fn mentions(ext: &str) -> Vec<String> {
    serde_json::from_str::<Value>(ext)
        .ok()
        .and_then(|v| {
            v.get("yxAitMsg")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// `[a, b]` (NetEase's form) or `["a","b"]` → the accids.
fn members_of(list: &str) -> impl Iterator<Item = &str> {
    list.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Spec §4's vector.
    const BODY: &str = r#"{"eventType":"1","convType":"PERSON","fromAccount":"alice","to":"bot","msgType":"TEXT","body":"hi","msgidClient":"c1","msgidServer":"123","msgTimestamp":"1700000000000"}"#;
    const NOW: i64 = 1_700_000_000_000;
    const SKEW: Option<Duration> = Some(Duration::from_secs(300));

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn signed() -> HeaderMap {
        headers(&[
            ("AppKey", "key"),
            ("CurTime", "1700000000000"),
            ("MD5", "c9fb19a95a2050842a21dce2d7e5fcfd"),
            ("CheckSum", "7f12d0272b92fb958df2f858d4aa493fe24f3ae2"),
        ])
    }

    #[test]
    fn the_spec_vector_verifies_and_each_broken_part_is_named() {
        let body = BODY.as_bytes();
        assert_eq!(verify(&signed(), body, "key", "SECRET", NOW, SKEW), Ok(()));
        assert_eq!(
            verify(&signed(), body, "key", "SECRET", NOW + 299_000, SKEW),
            Ok(())
        );
        assert_eq!(
            verify(&signed(), body, "other", "SECRET", NOW, SKEW),
            Err(Refusal::AppKey)
        );
        assert_eq!(
            verify(&signed(), body, "key", "NOT-IT", NOW, SKEW),
            Err(Refusal::CheckSum)
        );
        let tampered = BODY.replace("\"hi\"", "\"hi!\"");
        assert_eq!(
            verify(&signed(), tampered.as_bytes(), "key", "SECRET", NOW, SKEW),
            Err(Refusal::Md5)
        );
        assert!(matches!(
            verify(&signed(), body, "key", "SECRET", NOW + 600_000, SKEW),
            Err(Refusal::Skew {
                off_ms: 600_000,
                ..
            })
        ));
        assert!(matches!(
            verify(&signed(), body, "key", "SECRET", NOW - 600_000, SKEW),
            Err(Refusal::Skew { .. })
        ));
        // Without maxSkewSeconds a copy's age is not held against it: the journal stops repeats.
        assert_eq!(
            verify(&signed(), body, "key", "SECRET", NOW + 86_400_000, None),
            Ok(())
        );
        // NetEase's samples carry no AppKey: a copy whose CheckSum verifies is taken without
        // one, and refused when it names another app.
        let mut no_app_key = signed();
        no_app_key.remove("AppKey");
        assert_eq!(
            verify(&no_app_key, body, "key", "SECRET", NOW, SKEW),
            Ok(())
        );
        assert_eq!(
            verify(&no_app_key, body, "key", "NOT-IT", NOW, SKEW),
            Err(Refusal::CheckSum)
        );
        let mut missing = signed();
        missing.remove("CheckSum");
        assert_eq!(
            verify(&missing, body, "key", "SECRET", NOW, SKEW),
            Err(Refusal::Header("CheckSum"))
        );
        // Correctly signed, but CurTime in seconds: refused as far off, not misread.
        let md5 = sign::md5_hex(body);
        let seconds = headers(&[
            ("AppKey", "key"),
            ("CurTime", "1700000000"),
            ("MD5", &md5),
            (
                "CheckSum",
                &sign::webhook_checksum("SECRET", &md5, "1700000000"),
            ),
        ]);
        assert!(matches!(
            verify(&seconds, body, "key", "SECRET", NOW, SKEW),
            Err(Refusal::Skew { .. })
        ));
    }

    #[test]
    fn a_p2p_copy_becomes_a_v2_message() {
        let Ok(Copied::Message(copy)) = parse(BODY.as_bytes()) else {
            panic!("not a message");
        };
        let msg = route(&copy, "bot").unwrap();
        assert_eq!(msg.conversation_id, "bot|1|alice");
        assert_eq!(msg.conversation_type, ConversationType::P2p);
        assert_eq!(
            (msg.sender_id.as_str(), msg.receiver_id.as_str()),
            ("alice", "bot")
        );
        assert_eq!(msg.message_type, MessageType::Text);
        assert_eq!(msg.text.as_deref(), Some("hi"));
        assert_eq!(
            (
                msg.message_server_id.as_str(),
                msg.message_client_id.as_str()
            ),
            ("123", "c1")
        );
        assert_eq!(msg.create_time, NOW);
        assert_eq!(route(&copy, "carol"), Err(Ignored::ToSomeoneElse));
        assert_eq!(route(&copy, "alice"), Err(Ignored::OwnMessage));
    }

    #[test]
    fn pictures_teams_and_mentions() {
        let picture = serde_json::json!({
            "eventType": "1", "convType": "PERSON", "fromAccount": "alice", "to": "bot",
            "msgType": "PICTURE", "msgidServer": "9", "fromNick": "Alice",
            "attach": r#"{"url":"http://x/cat.png","name":"cat.png","ext":"png","w":640,"h":"480","size":12,"md5":"ab"}"#,
        });
        let Ok(Copied::Message(copy)) = parse(picture.to_string().as_bytes()) else {
            panic!("not a message");
        };
        let msg = route(&copy, "bot").unwrap();
        assert_eq!(msg.message_type, MessageType::Image);
        assert_eq!(msg.sender_name.as_deref(), Some("Alice"));
        let a = msg.attachment.unwrap();
        assert_eq!(a.url.as_deref(), Some("http://x/cat.png"));
        assert_eq!(
            (a.width, a.height, a.size),
            (Some(640), Some(480), Some(12))
        );
        assert!(msg.create_time > NOW, "a missing msgTimestamp is now");

        let team = serde_json::json!({
            "eventType": "1", "convType": "TEAM", "fromAccount": "alice", "to": "42",
            "msgType": "TEXT", "body": "@bot hi", "msgidServer": "10",
            "ext": r#"{"yxAitMsg":{"bot":{"text":"@bot","segments":[]}}}"#,
            "tMembers": "[alice, bot]",
        });
        let Ok(Copied::Message(copy)) = parse(team.to_string().as_bytes()) else {
            panic!("not a message");
        };
        let msg = route(&copy, "bot").unwrap();
        assert_eq!(msg.conversation_id, "bot|2|42");
        assert_eq!(msg.force_push_account_ids, ["bot"]);
        assert_eq!(route(&copy, "carol"), Err(Ignored::NotAMember));
        let super_team = MessageCopy {
            conv_type: "SUPER_TEAM".into(),
            team_members: None,
            ..(*copy).clone()
        };
        assert_eq!(
            route(&super_team, "carol").unwrap().conversation_id,
            "carol|3|42"
        );
        let room = MessageCopy {
            conv_type: "CUSTOM_PERSON".into(),
            ..*copy
        };
        assert!(matches!(
            route(&room, "bot"),
            Err(Ignored::NotAConversation(_))
        ));
    }

    #[test]
    fn bad_bodies_name_the_field_and_other_events_pass() {
        assert!(matches!(parse(b"not json"), Err(BadBody::NotJson(_))));
        assert!(matches!(parse(b"[1]"), Err(BadBody::NotJson(_))));
        assert_eq!(parse(b"{}"), Err(BadBody::Missing("eventType")));
        assert_eq!(
            parse(br#"{"eventType":"1","convType":"PERSON","to":"bot"}"#),
            Err(BadBody::Missing("fromAccount"))
        );
        assert_eq!(
            parse(br#"{"eventType":"1","convType":["x"]}"#),
            Err(BadBody::NotText("convType"))
        );
        assert_eq!(
            parse(br#"{"eventType":2,"accid":"bot"}"#),
            Ok(Copied::Other {
                event_type: "2".into()
            })
        );
    }
}
