//! One logged-in WebSocket session with the message gateway (spec §1): the handshake, request /
//! reply matching by `msgIncr`, pushes and kicks as [`Event`]s, and the heartbeat.
//!
//! A [`Connection`] lives until the socket closes; the account loop makes a new one per
//! reconnect. Frames from the server that cannot be decoded are logged with their class and
//! skipped: one bad frame must not take down a session that still carries good ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::lock;
use channel_core::{ChannelError, ErrorKind};
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::errors;
use crate::wire::proto::{PushMessages, Reply, Request};
use crate::wire::{self, Handshake, RequestHeader, Response, ServerFrame};
use crate::wire::{MAX_SERVER_FRAME, TextFrame, decode_text_frame};

/// The socket's read buffer. tungstenite's default (128 KiB) is zero-filled on the first read,
/// so each idle account held 128 KiB of it; a frame larger than this still grows it. Pushes are
/// a few hundred bytes, and a read of 8 KiB takes dozens of them at once.
const READ_BUFFER: usize = 8 * 1024;

/// Timing of one session. The defaults follow spec §1.6: the server drops a client that is silent
/// for 30 s, so we ping well inside that, and call the link dead after a longer silence.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long the TCP connect, the upgrade and the first (login result) frame may take.
    pub handshake: Duration,
    /// Between our WebSocket pings.
    pub ping_every: Duration,
    /// With nothing at all received for this long, the session is closed as dead.
    pub dead_after: Duration,
    /// How long a request waits for its reply.
    pub request: Duration,
    /// After we close a session, how long we keep reading while the server works through
    /// what we sent before the close. A server reads a socket in order, so its close (or EOF)
    /// means every earlier request was handled: a send whose reply was lost is then stored or
    /// never will be, and the next connection can tell which.
    pub drain: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(15),
            ping_every: Duration::from_secs(15),
            dead_after: Duration::from_secs(45),
            request: Duration::from_secs(15),
            drain: Duration::from_secs(15),
        }
    }
}

/// Who logs in where. The token is only ever put into the connect URL, never into a log line.
#[derive(Clone)]
pub struct Login {
    pub ws_addr: Url,
    pub user_id: String,
    pub token: String,
    pub platform_id: i32,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("ws_addr", &self.ws_addr.as_str())
            .field("user_id", &self.user_id)
            .field("platform_id", &self.platform_id)
            .finish_non_exhaustive()
    }
}

/// What the server says without being asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// 2001: new messages (usually one).
    Push(PushMessages),
    /// 2002: another login took over this account; the server drops the socket next.
    Kicked,
    /// The session ended; the error says why (a transient error for a plain disconnect).
    Closed(ChannelError),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Response>>>>;

/// A live session. Cheap to clone; every clone talks over the same socket.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    user_id: String,
    timing: Timing,
    outgoing: mpsc::Sender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    /// Distinguishes this session's `msgIncr`s from an earlier session's late replies.
    session: String,
    closed: CancellationToken,
    /// Set once the socket is gone: after the server closed it, or after the drain of a close
    /// of ours.
    ended: CancellationToken,
    /// The session ended because the server sent a frame over [`MAX_SERVER_FRAME`].
    oversized: AtomicBool,
}

/// A fresh 32-hex id, the shape the SDKs use for `operationID` and `clientMsgID`.
pub fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl Connection {
    /// Opens the socket, waits for the login result and starts the session's I/O task. Events
    /// go to `events`; the last one is always [`Event::Closed`].
    pub async fn open(
        login: &Login,
        timing: Timing,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<Self, ChannelError> {
        let operation_id = random_id();
        let url = wire::connect_url(
            &login.ws_addr,
            &login.user_id,
            &login.token,
            login.platform_id,
            &operation_id,
        );
        let request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ChannelError::bad_input(format!("wsAddr: {}", redact(&e.to_string()))))?;
        let config = tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(MAX_SERVER_FRAME))
            .max_frame_size(Some(MAX_SERVER_FRAME));
        let opened = tokio::time::timeout(
            timing.handshake,
            tokio_tungstenite::connect_async_with_config(request, Some(config), true),
        )
        .await
        .map_err(|_| {
            ChannelError::transient(format!(
                "gateway {}: no answer to the connect within {:?}",
                login.ws_addr, timing.handshake
            ))
        })?;
        let (mut socket, _) = opened.map_err(|e| connect_error(&login.ws_addr, e))?;

        // With isMsgResp=true the first TEXT frame is the login result (spec §1.2).
        let deadline = Instant::now() + timing.handshake;
        loop {
            let frame = tokio::time::timeout_at(deadline, socket.next())
                .await
                .map_err(|_| {
                    ChannelError::transient(format!(
                        "gateway {}: no login result within {:?}",
                        login.ws_addr, timing.handshake
                    ))
                })?;
            match frame {
                Some(Ok(Message::Text(text))) => match decode_text_frame(text.as_str())? {
                    TextFrame::Handshake(result) => {
                        result.result()?;
                        break;
                    }
                    TextFrame::Ping | TextFrame::Pong => {}
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => {
                    return Err(ChannelError::transient(format!(
                        "gateway {}: expected the login result as a text frame, got {}",
                        login.ws_addr,
                        kind_of(&other)
                    )));
                }
                Some(Err(e)) => return Err(socket_error("reading the login result", e)),
                None => {
                    return Err(ChannelError::transient(format!(
                        "gateway {}: closed before the login result",
                        login.ws_addr
                    )));
                }
            }
        }

        let (outgoing, queue) = mpsc::channel(64);
        let inner = Arc::new(Inner {
            user_id: login.user_id.clone(),
            timing,
            outgoing,
            pending: Pending::default(),
            next_id: AtomicU64::new(1),
            session: random_id()[..8].to_owned(),
            closed: CancellationToken::new(),
            ended: CancellationToken::new(),
            oversized: AtomicBool::new(false),
        });
        tokio::spawn(io_task(socket, queue, Arc::clone(&inner), events));
        Ok(Self { inner })
    }

    /// Sends `body` and waits for its reply. A lost connection or a timeout is a transient
    /// error; the server's `errCode` is classified (spec §3.7).
    pub async fn request<R: Request, M: Reply>(&self, body: &R) -> Result<M, ChannelError> {
        let response = self.exchange(body).await?;
        response.decode::<M>()
    }

    /// Sends `body` and returns its reply unchecked. An error here means no reply arrived (the
    /// request may or may not have reached the server); the server's verdict is in the reply.
    pub async fn exchange<R: Request>(&self, body: &R) -> Result<Response, ChannelError> {
        let inner = &self.inner;
        let n = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let msg_incr = format!("{}_{}_{n}", inner.user_id, inner.session);
        let operation_id = random_id();
        let frame = wire::encode_request(
            &RequestHeader {
                send_id: &inner.user_id,
                operation_id: &operation_id,
                msg_incr: &msg_incr,
            },
            body,
        )?;
        let what = format!("{} request ({})", R::REQ, R::NAME);
        if inner.closed.is_cancelled() {
            return Err(ChannelError::transient(format!(
                "{what}: the gateway connection is closed"
            )));
        }
        let (tx, rx) = oneshot::channel();
        lock(&inner.pending).insert(msg_incr.clone(), tx);
        let sent = tokio::select! {
            () = inner.closed.cancelled() => Err(()),
            sent = inner.outgoing.send(Message::Binary(frame.into())) => sent.map_err(|_| ()),
        };
        if sent.is_err() {
            lock(&inner.pending).remove(&msg_incr);
            return Err(ChannelError::transient(format!(
                "{what}: the gateway connection is closed"
            )));
        }
        let reply = tokio::select! {
            reply = rx => reply.map_err(|_| ChannelError::transient(format!(
                "{what}: the gateway connection closed before the reply"
            ))),
            () = tokio::time::sleep(inner.timing.request) => Err(ChannelError::transient(format!(
                "{what}: no reply within {:?}", inner.timing.request
            ))),
        };
        lock(&inner.pending).remove(&msg_incr);
        reply
    }

    pub fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Whether the session ended on a frame larger than [`MAX_SERVER_FRAME`]. The socket cannot
    /// skip such a frame, so the requests then pending lose their replies; the catch-up asks
    /// for a smaller page next time.
    pub fn ended_by_oversized_frame(&self) -> bool {
        self.inner.oversized.load(Ordering::SeqCst)
    }

    /// Resolves once the session has ended.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await;
    }

    /// Ends the session: nothing new is sent, and the I/O task closes the socket once the
    /// server has answered the close (see [`Timing::drain`]).
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// Resolves once the socket is gone, so that the next connection starts after the server
    /// handled everything this one sent.
    pub async fn ended(&self) {
        self.inner.ended.cancelled().await;
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn io_task(
    socket: Socket,
    mut queue: mpsc::Receiver<Message>,
    inner: Arc<Inner>,
    events: mpsc::UnboundedSender<Event>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(inner.timing.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let mut by_us = false;
    let end: ChannelError = loop {
        let dead_at = last_heard + inner.timing.dead_after;
        tokio::select! {
            () = inner.closed.cancelled() => {
                by_us = true;
                break ChannelError::transient("gateway session closed by us");
            }
            () = tokio::time::sleep_until(dead_at) => {
                break ChannelError::transient(format!(
                    "gateway: nothing received for {:?}; the link is dead",
                    inner.timing.dead_after
                ));
            }
            _ = ping.tick() => {
                if let Err(e) = sink.send(Message::Ping(Vec::new().into())).await {
                    break socket_error("sending a ping", e);
                }
            }
            next = queue.recv() => {
                let Some(message) = next else {
                    break ChannelError::transient("gateway session dropped");
                };
                if let Err(e) = sink.send(message).await {
                    break socket_error("sending a request", e);
                }
            }
            frame = stream.next() => {
                last_heard = Instant::now();
                match frame {
                    None => break ChannelError::transient("gateway closed the connection"),
                    Some(Err(e)) => {
                        if matches!(e, tungstenite::Error::Capacity(_)) {
                            // Set before the pending requests learn the session is gone.
                            inner.oversized.store(true, Ordering::SeqCst);
                        }
                        break socket_error("reading", e);
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Some(kicked) = on_binary(&inner, &events, &bytes) {
                            break kicked;
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        if let Err(err) = decode_text_frame(text.as_str()) {
                            tracing::warn!(user = %inner.user_id, kind = %err.kind, %err, "skipping a bad text frame");
                        }
                    }
                    Some(Ok(Message::Close(_))) => break ChannelError::transient("gateway closed the connection"),
                    // tungstenite answers pings itself.
                    Some(Ok(_)) => {}
                }
            }
        }
    };
    inner.closed.cancel();
    // Bounded like the drain: on a dead link even the close frame may never get out, and the
    // next connection waits for this task.
    let until = Instant::now() + inner.timing.drain;
    let closed = tokio::time::timeout_at(until, sink.close()).await;
    if by_us && closed.is_ok() {
        drain(&inner, &events, &mut stream, until).await;
    }
    // Whoever still waits learns the connection is gone (their oneshot is dropped).
    lock(&inner.pending).clear();
    let _ = events.send(Event::Closed(end));
    inner.ended.cancel();
}

/// Reads what the server still sends after our close frame, until its own close or EOF:
/// late replies still reach their requests, and pushes their listener.
async fn drain(
    inner: &Inner,
    events: &mpsc::UnboundedSender<Event>,
    stream: &mut futures::stream::SplitStream<Socket>,
    until: Instant,
) {
    loop {
        match tokio::time::timeout_at(until, stream.next()).await {
            Err(_) => {
                tracing::debug!(user = %inner.user_id, drain = ?inner.timing.drain, "the gateway did not answer our close in time; going on without it");
                return;
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return,
            Ok(Some(Ok(Message::Binary(bytes)))) => {
                if on_binary(inner, events, &bytes).is_some() {
                    return;
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Routes one BINARY frame. Returns the session's end when the server kicked us.
fn on_binary(
    inner: &Inner,
    events: &mpsc::UnboundedSender<Event>,
    bytes: &[u8],
) -> Option<ChannelError> {
    match wire::decode_server_frame(bytes) {
        Ok(ServerFrame::Reply(response)) => {
            let waiter = lock(&inner.pending).remove(&response.msg_incr);
            match waiter {
                Some(waiter) => {
                    let _ = waiter.send(response);
                }
                None => {
                    tracing::debug!(user = %inner.user_id, frame = %response.label(), "reply to no pending request (timed out or from an earlier session)")
                }
            }
            None
        }
        Ok(ServerFrame::Push(push)) => {
            let _ = events.send(Event::Push(push));
            None
        }
        Ok(ServerFrame::Kick) => {
            let _ = events.send(Event::Kicked);
            Some(errors::kicked())
        }
        Ok(ServerFrame::OnlineStatus(_)) => None,
        Err(err) => {
            tracing::warn!(user = %inner.user_id, kind = %err.kind, %err, "skipping an undecodable gateway frame");
            None
        }
    }
}

fn kind_of(message: &Message) -> &'static str {
    match message {
        Message::Text(_) => "a text frame",
        Message::Binary(_) => "a binary frame",
        Message::Ping(_) => "a ping",
        Message::Pong(_) => "a pong",
        Message::Close(_) => "a close frame",
        Message::Frame(_) => "a raw frame",
    }
}

fn socket_error(what: &str, e: tungstenite::Error) -> ChannelError {
    match e {
        tungstenite::Error::Capacity(c) => ChannelError::transient(format!(
            "gateway: {what}: frame too large ({c}); the limit is {MAX_SERVER_FRAME} bytes"
        )),
        other => {
            ChannelError::transient(format!("gateway: {what}: {}", redact(&other.to_string())))
        }
    }
}

/// Errors of the connect step. A refusal without upgrade comes as HTTP 200 with the handshake
/// JSON (spec §1.2): that is the server's verdict (e.g. 1602), not a network problem.
fn connect_error(ws_addr: &Url, e: tungstenite::Error) -> ChannelError {
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            if let Some(body) = response.body().as_deref()
                && let Ok(result) = Handshake::parse(body)
                && let Err(err) = result.result()
            {
                return err;
            }
            errors::http_status(&format!("gateway {ws_addr}"), status).unwrap_or_else(|| {
                ChannelError::transient(format!(
                    "gateway {ws_addr}: refused the WebSocket upgrade with HTTP {status}"
                ))
            })
        }
        tungstenite::Error::Url(u) => {
            ChannelError::bad_input(format!("wsAddr {ws_addr}: {}", redact(&u.to_string())))
        }
        other => ChannelError::new(
            ErrorKind::Transient,
            format!(
                "gateway {ws_addr}: cannot connect: {}",
                redact(&other.to_string())
            ),
        ),
    }
}

/// Error texts of the WebSocket library may quote the request URL, which holds the token.
fn redact(text: &str) -> String {
    const KEY: &str = "token=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Every occurrence, in any case: an error may quote the URL twice (the request and a
    // redirect), and a `Token=` is as secret as a `token=`.
    while let Some(at) = rest.char_indices().map(|(i, _)| i).find(|&i| {
        rest.get(i..i + KEY.len())
            .is_some_and(|k| k.eq_ignore_ascii_case(KEY))
    }) {
        out.push_str(&rest[..at + KEY.len()]);
        out.push_str("<redacted>");
        let value = &rest[at + KEY.len()..];
        let end = value
            .find(['&', ' ', '"', '\'', '#'])
            .unwrap_or(value.len());
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn tokens_are_cut_from_error_texts() {
        assert_eq!(
            redact("bad url ws://h/?sendID=a&token=eyJ.x.y&platformID=7"),
            "bad url ws://h/?sendID=a&token=<redacted>&platformID=7"
        );
        assert_eq!(redact("no secret here"), "no secret here");
        // Before, only the first was replaced.
        assert_eq!(
            redact("GET ws://h/?token=one&x=1 -> ws://g/?TOKEN=two#frag, token=three"),
            "GET ws://h/?token=<redacted>&x=1 -> ws://g/?TOKEN=<redacted>#frag, token=<redacted>"
        );
    }
}
