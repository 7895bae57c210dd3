//! A session as the JS entry sees it (a running account, a login, an action or a command): a
//! queue of events to pull, and the host services (routing, turns, the pairing store, global
//! functions, config writes, prompts) that Rust asks JS for.
//!
//! Every request is an event with an id; JS answers it with `respond(id, …)`. Replies of a turn
//! come back through `deliver(turnId, payload)` while the turn request is open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::dm::{PairingCode, PairingStore};
use channel_core::{
    ChannelError, CommandOutcome, ErrorKind, Host, LoginResult, LoginUi, Prompter, Question,
    Replier, ReplyPayload, Route, RouteQuery, SessionKeyResolver, StatusPatch, Turn, TurnOutcome,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// What `next()` hands to JS.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A host service call; answer with `respond`.
    Request {
        id: u32,
        op: &'static str,
        args: Value,
    },
    /// Merge into the account status.
    Status { patch: StatusPatch },
    /// The account's receive loop (or a login) ended with an error, or without one.
    Stopped { error: Option<ErrorJson> },
    /// A QR code to show: its URL, a terminal drawing and a PNG `data:` URL.
    #[serde(rename_all = "camelCase")]
    Qr {
        url: String,
        terminal: String,
        data_url: String,
    },
    /// A progress line of a login.
    Message { text: String },
    /// A login finished.
    LoginDone { result: LoginResult },
    /// An action finished; `result` goes to the model or the RPC caller.
    ActionDone { result: Value },
    /// A command finished: print `text` once `configEdits` are saved.
    CommandDone { outcome: CommandOutcome },
}

#[derive(Debug, Serialize)]
pub struct ErrorJson {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&ChannelError> for ErrorJson {
    fn from(err: &ChannelError) -> Self {
        Self {
            kind: err.kind,
            message: err.message.clone(),
        }
    }
}

/// Requests other than turns get an answer quickly, or something is wrong on the JS side.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(60);

type Answer = Result<Value, String>;

/// The host of one running account, backed by the JS entry.
pub struct JsHost {
    events: mpsc::UnboundedSender<Event>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Answer>>>,
    repliers: Mutex<HashMap<u32, Arc<dyn Replier>>>,
    next_id: AtomicU32,
}

impl std::fmt::Debug for JsHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsHost").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl JsHost {
    pub fn new(events: mpsc::UnboundedSender<Event>) -> Self {
        Self {
            events,
            pending: Mutex::default(),
            repliers: Mutex::default(),
            next_id: AtomicU32::new(1),
        }
    }

    pub fn emit(&self, event: Event) {
        // A closed queue means JS stopped listening; nothing is left to tell.
        let _ = self.events.send(event);
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

    async fn request(
        &self,
        op: &'static str,
        args: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.call(id, op, args, timeout).await
    }

    async fn call(
        &self,
        id: u32,
        op: &'static str,
        args: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, ChannelError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        self.emit(Event::Request { id, op, args });
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
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(ChannelError::transient(format!(
                "host {op} failed: {message}"
            ))),
            Err(_) => Err(ChannelError::transient(format!(
                "host went away during {op}"
            ))),
        }
    }
}

fn field<'a>(op: &str, value: &'a Value, name: &str) -> Result<&'a str, ChannelError> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| {
        ChannelError::transient(format!("host {op} answer lacks string `{name}`: {value}"))
    })
}

#[async_trait::async_trait]
impl SessionKeyResolver for JsHost {
    async fn resolve_route(&self, q: &RouteQuery) -> Result<Route, ChannelError> {
        let args = json!({
            "channel": q.channel,
            "accountId": q.account,
            "peer": {"kind": q.peer_kind.as_str(), "id": q.peer_id},
        });
        let v = self.request("route", args, Some(SERVICE_TIMEOUT)).await?;
        Ok(Route {
            agent_id: field("route", &v, "agentId")?.to_owned(),
            session_key: field("route", &v, "sessionKey")?.to_owned(),
            main_session_key: v
                .get("mainSessionKey")
                .and_then(Value::as_str)
                .unwrap_or_else(|| v["sessionKey"].as_str().unwrap_or_default())
                .to_owned(),
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
        let v = self
            .request(
                "pairing.readAllowFrom",
                json!({"channel": channel, "accountId": account}),
                Some(SERVICE_TIMEOUT),
            )
            .await?;
        let entries = v.as_array().ok_or_else(|| {
            ChannelError::transient(format!("pairing.readAllowFrom: not a list: {v}"))
        })?;
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
        let args = json!({"channel": channel, "accountId": account, "id": id, "meta": meta});
        let v = self
            .request("pairing.upsert", args, Some(SERVICE_TIMEOUT))
            .await?;
        Ok(PairingCode {
            code: field("pairing.upsert", &v, "code")?.to_owned(),
            created: v.get("created").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> Result<String, ChannelError> {
        let args = json!({"channel": channel, "idLine": id_line, "code": code});
        let v = self
            .request("pairing.replyText", args, Some(SERVICE_TIMEOUT))
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| ChannelError::transient(format!("pairing.replyText: not a string: {v}")))
    }
}

#[async_trait::async_trait]
impl Host for JsHost {
    async fn run_turn(
        &self,
        turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> Result<TurnOutcome, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.repliers).insert(id, replier);
        let args = json!({
            "context": turn.context,
            "route": turn.route,
            "peer": {"kind": turn.inbound.chat.kind.as_str(), "id": turn.inbound.chat.id},
            "accountId": turn.inbound.account,
        });
        // A turn runs the agent: it takes as long as it takes.
        let result = self.call(id, "turn", args, None).await;
        lock(&self.repliers).remove(&id);
        let v = result?;
        Ok(TurnOutcome {
            replies: v.get("replies").and_then(Value::as_u64).unwrap_or(0) as usize,
        })
    }

    async fn save_media(
        &self,
        file: &std::path::Path,
        mime: &str,
        file_name: Option<&str>,
    ) -> Result<String, ChannelError> {
        let args = json!({"path": file, "contentType": mime, "fileName": file_name});
        let v = self
            .request("media.save", args, Some(SERVICE_TIMEOUT))
            .await?;
        Ok(field("media.save", &v, "path")?.to_owned())
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
        let v = self
            .request(
                "global.call",
                json!({"name": name, "args": args}),
                Some(SERVICE_TIMEOUT),
            )
            .await?;
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
        self.request(
            "config.set",
            json!({"path": path, "value": value}),
            Some(SERVICE_TIMEOUT),
        )
        .await
        .map_err(|e| e.context(format!("saving {}", path.join("."))))?;
        Ok(())
    }

    /// Request `media.roots`: the directories the action's caller may send files from.
    async fn media_roots(&self) -> Result<Vec<String>, ChannelError> {
        let roots = self
            .request("media.roots", Value::Null, Some(SERVICE_TIMEOUT))
            .await?;
        serde_json::from_value(roots).map_err(|e| {
            ChannelError::permanent(format!("media.roots: expected a list of paths: {e}"))
        })
    }
}

/// A login's or a command's UI, shown by the JS entry: a terminal in the CLI, the Control UI in
/// the gateway. Questions are `prompt` requests whose args are a [`Question`].
pub struct JsUi(pub Arc<JsHost>);

impl JsUi {
    async fn ask_js(&self, question: &Question) -> Result<String, ChannelError> {
        let args = serde_json::to_value(question).unwrap_or_default();
        // A person types the answer: no deadline.
        let answer = self.0.request("prompt", args, None).await?;
        Ok(answer.as_str().unwrap_or_default().to_owned())
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

/// Turns host reply JSON (`{text, mediaUrl, mediaUrls, kind}`) into a payload.
pub fn reply_payload(raw: &Value) -> ReplyPayload {
    let mut media: Vec<String> = Vec::new();
    if let Some(url) = raw.get("mediaUrl").and_then(Value::as_str) {
        media.push(url.to_owned());
    }
    if let Some(urls) = raw.get("mediaUrls").and_then(Value::as_array) {
        for url in urls.iter().filter_map(Value::as_str) {
            if !media.iter().any(|m| m == url) {
                media.push(url.to_owned());
            }
        }
    }
    ReplyPayload {
        text: raw
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        media,
        kind: raw
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("final")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_round_trip_and_time_out_cleanly() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let host = Arc::new(JsHost::new(tx));
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
        let Some(Event::Request { id, op, args }) = rx.recv().await else {
            panic!("no request")
        };
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
        let Some(Event::Request { id, .. }) = rx.recv().await else {
            panic!("no request")
        };
        host.respond(id, Err("store locked".into()));
        let err = failing
            .await
            .expect("join")
            .expect_err("error passes through");
        assert!(err.message.contains("store locked"), "{err}");
    }

    #[tokio::test]
    async fn globals_and_config_writes_travel_as_requests() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let host = Arc::new(JsHost::new(tx));
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
            let Some(Event::Request { id, op, args }) = rx.recv().await else {
                panic!("no request")
            };
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
        let Some(Event::Request { id, .. }) = rx.recv().await else {
            panic!("no request")
        };
        host.respond(id, Err("config is read-only".into()));
        let err = failing.await.expect("join").expect_err("refused");
        assert!(err.message.starts_with("saving channels.c.x"), "{err}");
        assert!(!err.message.contains("secret-value"), "{err}");
        let empty = host.set_config(&[String::new()], Value::Null).await;
        assert!(empty.is_err());
    }

    #[test]
    fn reply_payloads_merge_media_fields() {
        let p = reply_payload(
            &json!({"text": "hi", "mediaUrl": "/a.png", "mediaUrls": ["/a.png", "/b.png"]}),
        );
        assert_eq!(p.media, vec!["/a.png", "/b.png"]);
        assert_eq!(p.kind, "final");
    }
}
