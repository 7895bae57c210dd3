//! A session as the JS entry sees it (a running account, a login, an action or a command): the
//! events it pushes to JS's listener, and the host services (routing, turns, the pairing store, global
//! functions, config writes, prompts, transport modules) that Rust asks JS for.
//!
//! Every request is an event with an id; JS answers it with `respond(id, …)`. Replies of a turn
//! come back through `deliver(turnId, payload)` while the turn request is open.
//!
//! Transport modules (NetEase's JS SDK, say) run in JS: `transport.open {id, module, options}`
//! starts one under an id chosen here, `transport.call {id, method, params}` and
//! `transport.close {id}` drive it, and its events come back through
//! `transportEvent(handle, id, json)` to the channel's event queue. A session that ends closes
//! the transports it left open, and a released one delivers no event any more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use channel_core::dm::{PairingCode, PairingStore};
use channel_core::{
    ChannelError, ErrorKind, Host, HostTransport, LoginUi, Prompter, Question, Replier, Route,
    RouteQuery, SessionKeyResolver, StatusPatch, Turn, TurnOutcome, lock,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::boundary::{
    Event, HostFailure, PairingCodeAnswer, Peer, Request, RouteAnswer, SavedMedia, TurnDone,
};

/// Requests other than turns get an answer quickly, or something is wrong on the JS side.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(60);
/// Loading a transport module and starting it.
const TRANSPORT_OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// One call into a transport module. Only a safety net for a JS side that never answers: the
/// modules keep their own, shorter limits (an SDK login with its retries can take a minute, a
/// send 30 s plus its upload).
const TRANSPORT_CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Closing a transport module (a logout, then freeing the SDK instance): best-effort.
const TRANSPORT_CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// JS's answer to a request: a JSON result, or its failure.
pub type Answer = Result<Value, HostFailure>;

/// JS's side of a session's events: each one goes to JS as it happens, without a task of
/// ours waiting on JS to ask for it (every such wait costs a wake-up of a thread on each side).
pub trait Listener: Send + Sync {
    /// Hands `event` to JS; false when JS can take nothing more.
    fn hear(&self, event: Event) -> bool;
    /// Nothing more will come: the session is over.
    fn end(&self);
}

/// Where a session's events go.
enum Outlet {
    /// JS has not listened yet (it learns the handle only once the session started): the
    /// events wait, in order.
    Held(Vec<Event>),
    Listening(Box<dyn Listener>),
    /// Released: JS takes nothing more.
    Closed,
}

/// The host of one running account, backed by the JS entry.
pub struct JsHost {
    /// This host, for the transports it hands out.
    me: Weak<JsHost>,
    outlet: Mutex<Outlet>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Answer>>>,
    repliers: Mutex<HashMap<u32, Arc<dyn Replier>>>,
    /// Open transport modules by id: where their events go.
    transports: Mutex<HashMap<u32, mpsc::UnboundedSender<Value>>>,
    next_id: AtomicU32,
}

impl std::fmt::Debug for JsHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsHost").finish_non_exhaustive()
    }
}

impl JsHost {
    pub fn new() -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            outlet: Mutex::new(Outlet::Held(Vec::new())),
            pending: Mutex::default(),
            repliers: Mutex::default(),
            transports: Mutex::default(),
            next_id: AtomicU32::new(1),
        })
    }

    /// Sends `event` to JS, or holds it until JS listens. A released session has nobody left
    /// to tell.
    pub fn emit(&self, event: Event) {
        self.offer(event);
    }

    /// [`JsHost::emit`], saying whether JS will see it: false once JS takes nothing more.
    fn offer(&self, event: Event) -> bool {
        // Under the lock, so events from several threads reach JS in the order they were made.
        match &mut *lock(&self.outlet) {
            Outlet::Held(events) => {
                events.push(event);
                true
            }
            Outlet::Listening(listener) => listener.hear(event),
            Outlet::Closed => false,
        }
    }

    /// From now on, events go to `listener`: first those held, in order. A session has one
    /// listener; a released one ends the listener at once.
    pub fn listen(&self, listener: Box<dyn Listener>) -> Result<(), ChannelError> {
        let mut outlet = lock(&self.outlet);
        match &mut *outlet {
            Outlet::Held(held) => {
                for event in held.drain(..) {
                    listener.hear(event);
                }
                *outlet = Outlet::Listening(listener);
                Ok(())
            }
            Outlet::Listening(_) => Err(ChannelError::bad_input(
                "this session already has a listener",
            )),
            Outlet::Closed => {
                listener.end();
                Ok(())
            }
        }
    }

    /// JS answered request `id`.
    pub fn respond(&self, id: u32, answer: Answer) -> bool {
        match lock(&self.pending).remove(&id) {
            Some(tx) => tx.send(answer).is_ok(),
            None => false,
        }
    }

    /// The replier of an open turn request.
    pub fn replier(&self, turn_id: u32) -> Option<Arc<dyn Replier>> {
        lock(&self.repliers).get(&turn_id).cloned()
    }

    /// Asks JS for `request` and reads its answer as `T`.
    async fn request<T: DeserializeOwned>(
        &self,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<T, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.call(id, request, timeout).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        id: u32,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<T, ChannelError> {
        let op = request.op();
        let value = self
            .exchange(id, request, timeout)
            .await?
            .map_err(|failure| {
                failure
                    .into_error(ErrorKind::Transient)
                    .context(format!("host {op} failed"))
            })?;
        // The answer itself stays out of the message: a prompt's may be a token.
        serde_json::from_value(value).map_err(|e| {
            ChannelError::transient(format!("host {op} answered with the wrong shape: {e}"))
        })
    }

    /// Sends `request` and waits for JS's answer. `Err` when there is none: the time is up, or
    /// JS stopped listening.
    async fn exchange(
        &self,
        id: u32,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<Answer, ChannelError> {
        let op = request.op();
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        if !self.offer(Event::Request { id, request }) {
            lock(&self.pending).remove(&id);
            return Err(ChannelError::transient(format!(
                "host went away before {op}"
            )));
        }
        let answer = match timeout {
            Some(limit) => match tokio::time::timeout(limit, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    lock(&self.pending).remove(&id);
                    return Err(ChannelError::transient(format!(
                        "host did not answer {op} within {limit:?}"
                    )));
                }
            },
            None => rx.await,
        };
        answer.map_err(|_| ChannelError::transient(format!("host went away during {op}")))
    }

    /// JS emitted `event` (`{"event", "payload"}`) of transport `id`; false when that transport
    /// is closed or its channel stopped listening.
    pub fn transport_event(&self, id: u32, event: Value) -> bool {
        lock(&self.transports)
            .get(&id)
            .is_some_and(|events| events.send(event).is_ok())
    }

    /// Closes transport `id` once: its events stop at once, then JS is asked to close the module.
    /// Best-effort: a failure is logged, never returned.
    async fn close_transport(&self, id: u32) {
        if lock(&self.transports).remove(&id).is_none() {
            return;
        }
        if let Err(err) = self
            .request::<Value>(
                Request::TransportClose { id },
                Some(TRANSPORT_CLOSE_TIMEOUT),
            )
            .await
        {
            tracing::debug!(transport = id, %err, "closing a transport module failed");
        }
    }

    /// Closes every transport still open: the session is ending.
    pub async fn close_transports(&self) {
        let open: Vec<u32> = lock(&self.transports).keys().copied().collect();
        for id in open {
            self.close_transport(id).await;
        }
    }

    /// The session's handle was released: JS answers nothing any more. Waiting requests fail at
    /// once and transports deliver no more events (JS closes the modules it still runs). The
    /// listener goes now, not when the last task holding this host ends: it keeps Node's event
    /// loop alive, and a CLI command must be able to exit.
    pub fn detach(&self) {
        let outlet = std::mem::replace(&mut *lock(&self.outlet), Outlet::Closed);
        if let Outlet::Listening(listener) = outlet {
            listener.end();
        }
        lock(&self.transports).clear();
        lock(&self.pending).clear();
    }
}

impl Drop for JsHost {
    fn drop(&mut self) {
        if let Outlet::Listening(listener) = &*lock(&self.outlet) {
            listener.end();
        }
    }
}

/// A transport module running in JS, as a channel holds it.
#[derive(Debug)]
struct JsTransport {
    host: Arc<JsHost>,
    id: u32,
    module: String,
}

#[async_trait::async_trait]
impl HostTransport for JsTransport {
    /// Request `transport.call {id, method, params}`. A rejection keeps the module's own
    /// message and code.
    async fn call(&self, method: &str, params: Value) -> Result<Value, ChannelError> {
        let what = || format!("{}.{method}", self.module);
        if !lock(&self.host.transports).contains_key(&self.id) {
            return Err(ChannelError::transient(format!("{}: closed", what())));
        }
        let id = self.host.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request::TransportCall {
            id: self.id,
            method: method.to_owned(),
            params,
        };
        match self
            .host
            .exchange(id, request, Some(TRANSPORT_CALL_TIMEOUT))
            .await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failure)) => Err(failure.into_error(ErrorKind::Transient)),
            Err(err) => Err(err.context(what())),
        }
    }

    /// Request `transport.close {id}`, once; events stop before it is sent.
    async fn close(&self) {
        self.host.close_transport(self.id).await;
    }
}

#[async_trait::async_trait]
impl SessionKeyResolver for JsHost {
    async fn resolve_route(&self, q: &RouteQuery) -> Result<Route, ChannelError> {
        let request = Request::Route {
            channel: q.channel.clone(),
            account_id: q.account.clone(),
            peer: Peer {
                kind: q.peer_kind,
                id: q.peer_id.clone(),
            },
        };
        let answer: RouteAnswer = self.request(request, Some(SERVICE_TIMEOUT)).await?;
        Ok(Route {
            main_session_key: answer
                .main_session_key
                .unwrap_or_else(|| answer.session_key.clone()),
            agent_id: answer.agent_id,
            session_key: answer.session_key,
        })
    }
}

#[async_trait::async_trait]
impl PairingStore for JsHost {
    async fn read_allow_from(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Vec<String>, ChannelError> {
        let request = Request::PairingReadAllowFrom {
            channel: channel.to_owned(),
            account_id: account.to_owned(),
        };
        // The store may hold numeric ids; anything else is not an id.
        let entries: Vec<Value> = self.request(request, Some(SERVICE_TIMEOUT)).await?;
        Ok(entries
            .iter()
            .filter_map(|e| match e {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect())
    }

    async fn upsert_request(
        &self,
        channel: &str,
        account: &str,
        id: &str,
        meta: Value,
    ) -> Result<PairingCode, ChannelError> {
        let request = Request::PairingUpsert {
            channel: channel.to_owned(),
            account_id: account.to_owned(),
            id: id.to_owned(),
            meta,
        };
        let answer: PairingCodeAnswer = self.request(request, Some(SERVICE_TIMEOUT)).await?;
        Ok(PairingCode {
            code: answer.code,
            created: answer.created,
        })
    }

    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> Result<String, ChannelError> {
        let request = Request::PairingReplyText {
            channel: channel.to_owned(),
            id_line: id_line.to_owned(),
            code: code.to_owned(),
        };
        self.request(request, Some(SERVICE_TIMEOUT)).await
    }
}

/// Forgets a turn's replier however the turn ends, a cancelled one included: the replier holds
/// the account's pipeline, which must not outlive the account.
struct ForgetReplier<'a> {
    host: &'a JsHost,
    id: u32,
}

impl Drop for ForgetReplier<'_> {
    fn drop(&mut self) {
        lock(&self.host.repliers).remove(&self.id);
    }
}

#[async_trait::async_trait]
impl Host for JsHost {
    /// JS resolves the route as it starts the turn: one request per message instead of two.
    fn routes_turns(&self) -> bool {
        true
    }

    async fn run_turn(
        &self,
        turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> Result<TurnOutcome, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.repliers).insert(id, replier);
        let _forget = ForgetReplier { host: self, id };
        let (channel, account, message) = (
            turn.inbound.channel.clone(),
            turn.inbound.account.clone(),
            turn.inbound.server_id.clone(),
        );
        let facts = crate::facts::inbound_facts(
            &turn.inbound.channel,
            &turn.inbound.account,
            &turn.inbound.chat.id,
            &turn.context,
        );
        let request = Request::Turn {
            facts,
            route: turn.route,
            route_peer: Peer {
                kind: turn.inbound.chat.kind,
                id: turn.inbound.chat.peer().to_owned(),
            },
            peer: Peer {
                kind: turn.inbound.chat.kind,
                id: turn.inbound.chat.id,
            },
            account_id: turn.inbound.account,
            if_idle: turn.if_idle,
            block_streaming: turn.block_streaming,
        };
        // A turn runs the agent: it takes as long as it takes.
        let done: TurnDone = self.call(id, request, None).await?;
        if let Some(at_us) = done.dispatched_at_us {
            tracing::debug!(target: channel_core::LATENCY_TARGET, %channel, %account, id = %message, at_us, "dispatched");
        }
        if let Some(admission) = &done.declined {
            tracing::info!(%channel, %account, id = %message, admission, "the host declined this turn (its echo or bot-loop checks); nothing to answer");
        }
        Ok(TurnOutcome {
            replies: done.replies,
            deferred: done.deferred,
            session_running: done.session_running,
            held_back: done.held_back,
        })
    }

    async fn save_media(
        &self,
        file: &std::path::Path,
        mime: &str,
        file_name: Option<&str>,
    ) -> Result<String, ChannelError> {
        // The download cap was enforced while the file was written: the host's store needs no
        // other limit than its size.
        let size = tokio::fs::metadata(file)
            .await
            .map_err(|e| ChannelError::transient(format!("{}: {e}", file.display())))?
            .len();
        let request = Request::MediaSave {
            path: file.to_string_lossy().into_owned(),
            content_type: mime.to_owned(),
            file_name: file_name.map(str::to_owned),
            max_bytes: size,
        };
        let saved: SavedMedia = self.request(request, Some(SERVICE_TIMEOUT)).await?;
        Ok(saved.path)
    }

    fn report_status(&self, _channel: &str, _account: &str, patch: StatusPatch) {
        self.emit(Event::Status { patch });
    }

    /// Request `global.call` `{name, args}`; JS answers `null` for a missing function.
    async fn call_global(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<Option<Value>, ChannelError> {
        let request = Request::GlobalCall {
            name: name.to_owned(),
            args,
        };
        let v: Value = self.request(request, Some(SERVICE_TIMEOUT)).await?;
        Ok(Some(v).filter(|v| !v.is_null()))
    }

    /// Request `config.set` `{path, value}`, saved with the host's config API.
    async fn set_config(&self, path: &[String], value: Value) -> Result<(), ChannelError> {
        if path.is_empty() || path.iter().any(String::is_empty) {
            return Err(ChannelError::bad_input(format!(
                "config path {:?} has an empty segment",
                path.join(".")
            )));
        }
        let request = Request::ConfigSet {
            path: path.to_vec(),
            value,
        };
        self.request::<Value>(request, Some(SERVICE_TIMEOUT))
            .await
            .map_err(|e| e.context(format!("saving {}", path.join("."))))?;
        Ok(())
    }

    /// Request `media.roots`: the directories the action's caller may send files from.
    async fn media_roots(&self) -> Result<Vec<String>, ChannelError> {
        self.request(Request::MediaRoots, Some(SERVICE_TIMEOUT))
            .await
    }

    /// Request `transport.open {id, module, options}`: JS starts `transports/<module>.mjs`. The
    /// id is chosen here and routed before JS starts the module, so an event the module emits
    /// while it starts is not lost.
    async fn open_transport(
        &self,
        module: &str,
        options: Value,
        events: mpsc::UnboundedSender<Value>,
    ) -> Result<Arc<dyn HostTransport>, ChannelError> {
        let host = self
            .me
            .upgrade()
            .ok_or_else(|| ChannelError::transient("the session ended"))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.transports).insert(id, events);
        let request = self.next_id.fetch_add(1, Ordering::Relaxed);
        let open = Request::TransportOpen {
            id,
            module: module.to_owned(),
            options,
        };
        let failed = match self
            .exchange(request, open, Some(TRANSPORT_OPEN_TIMEOUT))
            .await
        {
            Ok(Ok(_)) => {
                return Ok(Arc::new(JsTransport {
                    host,
                    id,
                    module: module.to_owned(),
                }));
            }
            // JS started nothing.
            Ok(Err(failure)) => {
                lock(&self.transports).remove(&id);
                failure.into_error(ErrorKind::Transient)
            }
            // It may still start: closed as soon as it does.
            Err(err) => {
                self.close_transport(id).await;
                err
            }
        };
        Err(failed.context(format!("opening transport module {module}")))
    }
}

/// A login's or a command's UI, shown by the JS entry: a terminal in the CLI, the Control UI in
/// the gateway. Questions are `prompt` requests whose args are a [`Question`].
pub struct JsUi(pub Arc<JsHost>);

impl JsUi {
    async fn ask_js(&self, question: &Question) -> Result<String, ChannelError> {
        // A person types the answer: no deadline.
        self.0
            .request(Request::Prompt(question.clone()), None)
            .await
    }
}

#[async_trait::async_trait]
impl Prompter for JsUi {
    async fn say(&self, text: &str) {
        self.0.emit(Event::Message {
            text: text.to_owned(),
        });
    }

    async fn prompt(&self, question: &Question) -> Result<String, ChannelError> {
        self.ask_js(question).await
    }
}

#[async_trait::async_trait]
impl LoginUi for JsUi {
    async fn show_qr(&self, url: &str) {
        let rendered = channel_core::login::render_terminal(url)
            .and_then(|terminal| Ok((terminal, channel_core::login::render_png_data_url(url)?)));
        match rendered {
            Ok((terminal, data_url)) => self.0.emit(Event::Qr {
                url: url.to_owned(),
                terminal,
                data_url,
                hint: if channel_core::locale::chinese() {
                    format!("如果二维码无法扫描，请在手机上打开此链接：{url}")
                } else {
                    format!("If the QR code does not scan, open this link on the phone: {url}")
                },
            }),
            Err(err) => self.0.emit(Event::Message {
                text: format!("could not draw the QR code ({err}); open {url}"),
            }),
        }
    }

    async fn status(&self, text: &str) {
        self.0.emit(Event::Message {
            text: text.to_owned(),
        });
    }

    async fn prompt(&self, question: &str) -> Result<String, ChannelError> {
        self.ask_js(&Question::new(question)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failure(message: &str) -> HostFailure {
        HostFailure {
            message: message.into(),
            code: None,
        }
    }

    #[tokio::test]
    async fn requests_round_trip_and_time_out_cleanly() {
        let (host, mut rx) = listened();
        let asking = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                host.resolve_route(&RouteQuery {
                    channel: "c".into(),
                    account: "a".into(),
                    peer_kind: channel_core::ChatKind::Direct,
                    peer_id: "P".into(),
                })
                .await
            })
        };
        let (id, op, args) = next_request(&mut rx).await;
        assert_eq!(op, "route");
        assert_eq!(args["peer"]["id"], "P");
        assert!(host.respond(
            id,
            Ok(json!({"agentId": "main", "sessionKey": "agent:main:main"}))
        ));
        let route = asking.await.expect("join").expect("route");
        assert_eq!(route.main_session_key, "agent:main:main");
        assert!(
            !host.respond(id, Ok(Value::Null)),
            "a request is answered once"
        );

        let failing = {
            let host = Arc::clone(&host);
            tokio::spawn(async move { host.read_allow_from("c", "a").await })
        };
        let (id, ..) = next_request(&mut rx).await;
        host.respond(id, Err(failure("store locked")));
        let err = failing
            .await
            .expect("join")
            .expect_err("error passes through");
        assert!(err.message.contains("store locked"), "{err}");
    }

    #[tokio::test]
    async fn globals_and_config_writes_travel_as_requests() {
        let (host, mut rx) = listened();
        let calling = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                let missing = host.call_global("__none", vec![]).await?;
                let found = host.call_global("__refresh", vec![json!("a1")]).await?;
                let path = ["channels", "c", "accounts", "a1", "token"].map(String::from);
                host.set_config(&path, json!("t0k3n")).await?;
                Ok::<_, ChannelError>((missing, found))
            })
        };
        let mut answers = [Value::Null, json!({"token": "t"}), Value::Null].into_iter();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (id, op, args) = next_request(&mut rx).await;
            seen.push((op, args));
            host.respond(id, Ok(answers.next().expect("answer")));
        }
        let (missing, found) = calling.await.expect("join").expect("calls");
        assert_eq!(missing, None, "null means no such function");
        assert_eq!(found, Some(json!({"token": "t"})));
        assert_eq!(
            seen[1],
            ("global.call", json!({"name": "__refresh", "args": ["a1"]}))
        );
        assert_eq!(seen[2].0, "config.set");
        assert_eq!(
            seen[2].1["path"],
            json!(["channels", "c", "accounts", "a1", "token"])
        );

        let failing = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                let path = ["channels", "c", "x"].map(String::from);
                host.set_config(&path, json!("secret-value")).await
            })
        };
        let (id, ..) = next_request(&mut rx).await;
        host.respond(id, Err(failure("config is read-only")));
        let err = failing.await.expect("join").expect_err("refused");
        assert!(err.message.starts_with("saving channels.c.x"), "{err}");
        assert!(!err.message.contains("secret-value"), "{err}");
        let empty = host.set_config(&[String::new()], Value::Null).await;
        assert!(empty.is_err());
    }

    /// What JS would do: hear every event in a queue.
    impl Listener for mpsc::UnboundedSender<Event> {
        fn hear(&self, event: Event) -> bool {
            self.send(event).is_ok()
        }
        fn end(&self) {}
    }

    /// A host with a listener, and what it hears.
    fn listened() -> (Arc<JsHost>, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let host = JsHost::new();
        host.listen(Box::new(tx)).expect("first listener");
        (host, rx)
    }

    /// The next request JS would see.
    async fn next_request(rx: &mut mpsc::UnboundedReceiver<Event>) -> (u32, &'static str, Value) {
        match rx.recv().await {
            Some(Event::Request { id, request }) => {
                let op = request.op();
                let args = serde_json::to_value(&request).expect("json")["args"].clone();
                (id, op, args)
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// Opens a transport as a channel does, answering JS's side; returns it, the transport id
    /// and its event queue.
    async fn opened(
        host: &Arc<JsHost>,
        rx: &mut mpsc::UnboundedReceiver<Event>,
    ) -> (Arc<dyn HostTransport>, u32, mpsc::UnboundedReceiver<Value>) {
        let (events_tx, events) = mpsc::unbounded_channel();
        let opening = {
            let host = Arc::clone(host);
            tokio::spawn(async move {
                host.open_transport("nim-sdk", json!({"appKey": "k"}), events_tx)
                    .await
            })
        };
        let (request, op, args) = next_request(rx).await;
        assert_eq!(op, "transport.open");
        assert_eq!(args["module"], "nim-sdk");
        assert_eq!(args["options"], json!({"appKey": "k"}));
        let id = u32::try_from(args["id"].as_u64().expect("transport id")).expect("u32");
        // An event emitted while the module starts already has its route.
        assert!(host.transport_event(id, json!({"event": "loginStatus", "payload": 0})));
        assert!(host.respond(request, Ok(Value::Null)));
        let transport = opening.await.expect("join").expect("opened");
        (transport, id, events)
    }

    #[tokio::test]
    async fn transports_open_call_route_events_and_close_once() {
        let (host, mut rx) = listened();
        let (transport, id, mut events) = opened(&host, &mut rx).await;
        assert_eq!(
            events.recv().await,
            Some(json!({"event": "loginStatus", "payload": 0}))
        );

        let calling = {
            let transport = Arc::clone(&transport);
            tokio::spawn(async move {
                let refused = transport
                    .call("login", json!({"accountId": "bot", "token": "t"}))
                    .await;
                let sent = transport.call("sendText", json!({"text": "hi"})).await;
                (refused, sent)
            })
        };
        let (request, op, args) = next_request(&mut rx).await;
        assert_eq!(op, "transport.call");
        assert_eq!(args["id"], id);
        assert_eq!(args["method"], "login");
        assert_eq!(args["params"]["accountId"], "bot");
        host.respond(
            request,
            Err(HostFailure {
                message: "wrong token".into(),
                code: Some(crate::boundary::Code("302".into())),
            }),
        );
        let (request, _, args) = next_request(&mut rx).await;
        assert_eq!(args["method"], "sendText");
        host.respond(request, Ok(json!({"messageServerId": "9"})));
        let (refused, sent) = calling.await.expect("join");
        let refused = refused.expect_err("refused");
        assert_eq!(
            (refused.message.as_str(), refused.code.as_deref()),
            ("wrong token", Some("302")),
            "the module's message and code, untouched"
        );
        assert_eq!(sent.expect("sent"), json!({"messageServerId": "9"}));

        assert!(host.transport_event(id, json!({"event": "receiveMessages", "payload": []})));
        assert_eq!(
            events.recv().await.expect("event")["event"],
            "receiveMessages"
        );
        assert!(
            !host.transport_event(id + 1000, json!({})),
            "no such transport"
        );

        let closing = {
            let transport = Arc::clone(&transport);
            tokio::spawn(async move { transport.close().await })
        };
        let (request, op, args) = next_request(&mut rx).await;
        assert_eq!((op, args), ("transport.close", json!({"id": id})));
        assert!(
            !host.transport_event(id, json!({"event": "late"})),
            "no event after close"
        );
        assert_eq!(events.recv().await, None, "the event queue ends");
        // Best-effort: a failure to close is not the channel's problem.
        host.respond(request, Err(failure("destroy failed")));
        closing.await.expect("join");

        transport.close().await;
        let err = transport
            .call("sendText", json!({}))
            .await
            .expect_err("closed");
        assert!(err.message.contains("nim-sdk.sendText: closed"), "{err}");
        assert!(rx.try_recv().is_err(), "nothing more went to JS");
    }

    #[tokio::test]
    async fn a_module_that_fails_to_open_leaves_nothing_behind() {
        let (host, mut rx) = listened();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let opening = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                host.open_transport("nope", Value::Null, events_tx)
                    .await
                    .map(drop)
            })
        };
        let (request, _, args) = next_request(&mut rx).await;
        let id = u32::try_from(args["id"].as_u64().expect("id")).expect("u32");
        host.respond(request, Err(failure("unknown transport module \"nope\"")));
        let err = opening.await.expect("join").expect_err("refused");
        assert_eq!(
            err.message,
            "opening transport module nope: unknown transport module \"nope\""
        );
        assert!(!host.transport_event(id, json!({})));
        assert_eq!(events.recv().await, None);
        host.close_transports().await;
        assert!(rx.try_recv().is_err(), "nothing to close");
    }

    #[tokio::test(start_paused = true)]
    async fn transport_calls_wait_longer_than_services_and_opens_that_time_out_are_closed() {
        let (host, mut rx) = listened();
        let (transport, id, _events) = opened(&host, &mut rx).await;
        let login = {
            let transport = Arc::clone(&transport);
            tokio::spawn(async move { transport.call("login", json!({})).await })
        };
        let (request, ..) = next_request(&mut rx).await;
        tokio::time::sleep(SERVICE_TIMEOUT * 2).await;
        assert!(
            !login.is_finished(),
            "a login may take longer than a service"
        );
        host.respond(request, Ok(json!({})));
        assert_eq!(login.await.expect("join").expect("login"), json!({}));

        let stuck = {
            let transport = Arc::clone(&transport);
            tokio::spawn(async move { transport.call("sendText", json!({})).await })
        };
        next_request(&mut rx).await;
        let err = stuck.await.expect("join").expect_err("timed out");
        assert!(
            err.message
                .starts_with("nim-sdk.sendText: host did not answer"),
            "{err}"
        );
        assert!(host.transport_event(id, json!({})), "still open");

        let (events_tx, _events) = mpsc::unbounded_channel();
        let opening = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                host.open_transport("nim-sdk", Value::Null, events_tx)
                    .await
                    .map(drop)
            })
        };
        let (_, _, args) = next_request(&mut rx).await;
        let late = args["id"].clone();
        let (request, op, args) = next_request(&mut rx).await;
        assert_eq!((op, &args), ("transport.close", &json!({"id": late})));
        host.respond(request, Ok(Value::Null));
        let err = opening.await.expect("join").expect_err("timed out");
        assert!(
            err.message.contains("did not answer transport.open"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_ending_session_closes_its_transports_and_a_released_one_drops_their_events() {
        let (host, mut rx) = listened();
        let (_first, first, mut first_events) = opened(&host, &mut rx).await;
        let (_second, second, _) = opened(&host, &mut rx).await;
        first_events.recv().await;
        let ending = {
            let host = Arc::clone(&host);
            tokio::spawn(async move { host.close_transports().await })
        };
        let mut closed = Vec::new();
        for _ in 0..2 {
            let (request, op, args) = next_request(&mut rx).await;
            assert_eq!(op, "transport.close");
            closed.push(args["id"].as_u64().expect("id"));
            host.respond(request, Ok(Value::Null));
        }
        ending.await.expect("join");
        closed.sort_unstable();
        assert_eq!(closed, vec![u64::from(first), u64::from(second)]);
        assert_eq!(first_events.recv().await, None);

        let (transport, id, mut events) = opened(&host, &mut rx).await;
        events.recv().await;
        let waiting = {
            let transport = Arc::clone(&transport);
            tokio::spawn(async move { transport.call("login", json!({})).await })
        };
        next_request(&mut rx).await;
        host.detach();
        let err = waiting.await.expect("join").expect_err("released");
        assert!(err.message.contains("went away"), "{err}");
        assert!(!host.transport_event(id, json!({})));
        assert_eq!(events.recv().await, None);
        transport.close().await;
        assert!(rx.try_recv().is_err(), "a released session asks JS nothing");
    }

    #[tokio::test]
    async fn requests_fail_at_once_when_js_stopped_listening() {
        let (host, _rx) = listened();
        host.detach();
        let (events_tx, _events) = mpsc::unbounded_channel();
        let err = host
            .open_transport("nim-sdk", Value::Null, events_tx)
            .await
            .expect_err("nobody listens");
        assert!(
            err.message.contains("went away before transport.open"),
            "{err}"
        );
    }

    /// Counts what it hears, and whether it was ended.
    #[derive(Default)]
    struct Ear {
        heard: Mutex<Vec<String>>,
        ended: AtomicU32,
    }

    impl Listener for Arc<Ear> {
        fn hear(&self, event: Event) -> bool {
            let json = serde_json::to_value(&event).expect("json");
            lock(&self.heard).push(json["type"].as_str().unwrap_or("?").to_owned());
            true
        }
        fn end(&self) {
            self.ended.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn events_wait_for_the_listener_in_order_and_a_release_ends_it_once() {
        let host = JsHost::new();
        assert!(host.offer(Event::Status {
            patch: StatusPatch::default()
        }));
        assert!(host.offer(Event::Stopped { error: None }));
        let ear = Arc::new(Ear::default());
        host.listen(Box::new(Arc::clone(&ear))).expect("first");
        assert_eq!(
            *lock(&ear.heard),
            ["status", "stopped"],
            "held, then handed over in order"
        );
        assert!(host.offer(Event::Stopped { error: None }));
        assert_eq!(lock(&ear.heard).len(), 3, "then each as it comes");
        let again = host.listen(Box::new(Arc::new(Ear::default())));
        assert!(again.is_err(), "one listener per session");

        host.detach();
        assert!(
            !host.offer(Event::Stopped { error: None }),
            "a released session takes nothing"
        );
        drop(host);
        assert_eq!(
            ear.ended.load(Ordering::Relaxed),
            1,
            "ended by the release, not again by the drop"
        );

        let late = Arc::new(Ear::default());
        let host = JsHost::new();
        host.detach();
        host.listen(Box::new(Arc::clone(&late)))
            .expect("a released session still answers");
        assert_eq!(
            late.ended.load(Ordering::Relaxed),
            1,
            "told at once that nothing will come"
        );
    }
}
