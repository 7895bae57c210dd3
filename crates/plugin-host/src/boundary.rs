//! Everything that crosses between Rust and the JS entry, as types: the events JS hears with
//! `listen`, the host requests among them, JS's answers, and the envelope every export returns.
//! `js/boundary.schema.json` is generated from these types (see the test below); the JS tests
//! check the entry against it, so a request kind added here without a JS service fails CI.
//!
//! Errors cross as data, never as text to parse: an export resolves with `{"ok": value}` or
//! `{"error": BoundaryError}`, and a failed request is answered with a [`HostFailure`].

use channel_core::{
    ChannelError, ChatKind, CommandOutcome, ErrorKind, LoginResult, Question, Route, StatusPatch,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event of a session; `listen` hands each to JS as it happens.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A host service call; answer it with `respond(handle, id, …)`.
    Request {
        id: u32,
        #[serde(flatten)]
        request: Request,
    },
    /// Merge into the account status.
    Status { patch: StatusPatch },
    /// The session ended, with an error or without one.
    Stopped { error: Option<BoundaryError> },
    /// A QR code to show: its URL, a terminal drawing and a PNG `data:` URL.
    #[serde(rename_all = "camelCase")]
    Qr {
        url: String,
        terminal: String,
        data_url: String,
        /// What to tell a person in a terminal beside the drawing, in their language.
        hint: String,
    },
    /// A progress line of a login or a command.
    Message { text: String },
    /// A login finished.
    LoginDone { result: LoginResult },
    /// An action finished; `result` goes to the model or the RPC caller.
    ActionDone { result: Value },
    /// A command finished: print `text` once `configEdits` are saved.
    CommandDone { outcome: CommandOutcome },
}

/// One host service Rust asks JS for: `op` names it, `args` carries its input.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "op", content = "args")]
pub enum Request {
    /// The agent and session for a peer: the host's `routing.resolveAgentRoute`. Answer:
    /// [`RouteAnswer`].
    #[serde(rename = "route")]
    Route {
        channel: String,
        #[serde(rename = "accountId")]
        account_id: String,
        peer: Peer,
    },
    /// The pairing store's approved senders. Answer: a list of ids.
    #[serde(rename = "pairing.readAllowFrom")]
    PairingReadAllowFrom {
        channel: String,
        #[serde(rename = "accountId")]
        account_id: String,
    },
    /// Creates (or finds) a pairing request for a sender. Answer: [`PairingCodeAnswer`].
    #[serde(rename = "pairing.upsert")]
    PairingUpsert {
        channel: String,
        #[serde(rename = "accountId")]
        account_id: String,
        id: String,
        meta: Value,
    },
    /// The text that tells a sender their pairing code. Answer: a string.
    #[serde(rename = "pairing.replyText")]
    PairingReplyText {
        channel: String,
        #[serde(rename = "idLine")]
        id_line: String,
        code: String,
    },
    /// Moves a downloaded attachment into the host's media store. `maxBytes` is the cap Rust
    /// already enforced while downloading it. Answer: [`SavedMedia`].
    #[serde(rename = "media.save", rename_all = "camelCase")]
    MediaSave {
        path: String,
        content_type: String,
        file_name: Option<String>,
        max_bytes: u64,
    },
    /// The directories an action's caller may send files from. Answer: a list of paths.
    #[serde(rename = "media.roots")]
    MediaRoots,
    /// Runs the agent on one inbound message. Each reply comes back through
    /// `deliver(handle, id, DeliveredReply)` while the request is open. Answer: [`TurnDone`].
    #[serde(rename = "turn", rename_all = "camelCase")]
    Turn {
        /// The message as OpenClaw's inbound facts (`channelRuntime.inbound.buildContext`'s
        /// input, see [`crate::facts`]) without the route, which JS adds.
        facts: Value,
        /// The route Rust resolved. Absent as a rule: JS resolves the route for `routePeer`
        /// (as the `route` request does) when it starts the turn, which saves a round trip per
        /// message.
        route: Option<Route>,
        /// The peer the route is resolved for (an OpenIM group's carries its account).
        route_peer: Peer,
        /// The chat replies go to.
        peer: Peer,
        account_id: String,
        /// Dispatch only if the session has no run; otherwise answer at once, `heldBack`.
        if_idle: bool,
        /// Ask for the answer in blocks as the agent writes it (`streaming.block.enabled`).
        block_streaming: bool,
    },
    /// `globalThis[name](...args)`, awaited. Answer: its result, `null` when there is no such
    /// function.
    #[serde(rename = "global.call")]
    GlobalCall { name: String, args: Vec<Value> },
    /// Saves one config value the channel already uses (a refreshed token) without restarting
    /// it. Answer: `null`.
    #[serde(rename = "config.set")]
    ConfigSet { path: Vec<String>, value: Value },
    /// Starts transport module `transports/<module>.mjs` under the id chosen here; its events
    /// go to `transportEvent(handle, id, TransportEvent)`. Answer: `null`.
    #[serde(rename = "transport.open")]
    TransportOpen {
        id: u32,
        module: String,
        options: Value,
    },
    /// Calls a method of an open transport module. Answer: its result; a rejection is a
    /// [`HostFailure`] with the module's own `code`.
    #[serde(rename = "transport.call")]
    TransportCall {
        id: u32,
        method: String,
        params: Value,
    },
    /// Closes a transport module. Answer: `null`.
    #[serde(rename = "transport.close")]
    TransportClose { id: u32 },
    /// A question for the person at the terminal (a login, a command). Answer: a string.
    #[serde(rename = "prompt")]
    Prompt(Question),
}

impl Request {
    /// The `op` JS sees, for logs and errors.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Route { .. } => "route",
            Self::PairingReadAllowFrom { .. } => "pairing.readAllowFrom",
            Self::PairingUpsert { .. } => "pairing.upsert",
            Self::PairingReplyText { .. } => "pairing.replyText",
            Self::MediaSave { .. } => "media.save",
            Self::MediaRoots => "media.roots",
            Self::Turn { .. } => "turn",
            Self::GlobalCall { .. } => "global.call",
            Self::ConfigSet { .. } => "config.set",
            Self::TransportOpen { .. } => "transport.open",
            Self::TransportCall { .. } => "transport.call",
            Self::TransportClose { .. } => "transport.close",
            Self::Prompt(_) => "prompt",
        }
    }
}

/// A chat as the host names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Peer {
    pub kind: ChatKind,
    pub id: String,
}

/// The answer to `route`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteAnswer {
    pub agent_id: String,
    pub session_key: String,
    /// The agent's main session; the session itself when absent.
    #[serde(default)]
    pub main_session_key: Option<String>,
}

/// The answer to `pairing.upsert`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct PairingCodeAnswer {
    pub code: String,
    /// False when the sender already had a pending request.
    #[serde(default)]
    pub created: bool,
}

/// The answer to `media.save`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SavedMedia {
    pub path: String,
}

/// The answer to `turn`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnDone {
    /// How many replies the host delivered.
    #[serde(default)]
    pub replies: usize,
    /// Set when the host did not run the turn but handed it to the session's active run
    /// (OpenClaw's `deferredToActiveRun`: `steer` or `followup`); its answer, if any, comes
    /// from that run.
    #[serde(default)]
    pub deferred: Option<String>,
    /// Whether the session had a run when the turn was handed over (OpenClaw's persisted
    /// session `status` was `running`: a run in flight, or one a restart cut short, which its
    /// restart recovery resumes); `null` when the host cannot tell.
    #[serde(default)]
    pub session_running: Option<bool>,
    /// Not dispatched: the request asked for an idle session (`ifIdle`) and it had a run.
    #[serde(default)]
    pub held_back: bool,
    /// When JS handed the turn over to the host (its session record, then its dispatch),
    /// microseconds since the epoch (from `Date.now()`: millisecond steps): the end of what the
    /// plugin adds to a message's way in, logged under `imbridge::latency`.
    #[serde(default)]
    pub dispatched_at_us: Option<u64>,
    /// The host declined to dispatch the turn (its admission: an echo of the bot's own
    /// message, bot-loop protection); nothing was recorded or answered.
    #[serde(default)]
    pub declined: Option<String>,
}

/// One reply of an open turn, as the host's dispatcher produced it (`deliver`'s payload).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredReply {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub media_url: Option<String>,
    #[serde(default)]
    pub media_urls: Option<Vec<String>>,
    /// `final`, `block` or `tool`; `final` when absent.
    #[serde(default)]
    pub kind: Option<String>,
}

impl DeliveredReply {
    /// The reply a channel sends: the media of both fields once each, in order.
    pub fn into_payload(self) -> channel_core::ReplyPayload {
        let mut media: Vec<String> = Vec::new();
        for url in self
            .media_url
            .into_iter()
            .chain(self.media_urls.into_iter().flatten())
        {
            if !media.contains(&url) {
                media.push(url);
            }
        }
        channel_core::ReplyPayload {
            text: self.text.unwrap_or_default(),
            media,
            kind: self.kind.unwrap_or_else(|| "final".into()),
        }
    }
}

/// One event a transport module emitted (`transportEvent`'s payload).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TransportEvent {
    pub event: String,
    #[serde(default)]
    pub payload: Value,
}

/// JS's answer to a request that failed: the error's message, and the code the failing module
/// gave (NIM's `302`), if any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct HostFailure {
    pub message: String,
    /// A number or a string, as the module gave it.
    #[serde(default)]
    #[schemars(with = "Option<Value>")]
    pub code: Option<Code>,
}

/// A module's error code, a number or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(pub String);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self(s)),
            Value::Number(n) => Ok(Self(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "an error code is a number or a string, not {other}"
            ))),
        }
    }
}

impl HostFailure {
    /// The failure as a channel error of `kind`, keeping the module's code.
    pub fn into_error(self, kind: ErrorKind) -> ChannelError {
        let err = ChannelError::new(kind, self.message);
        match self.code {
            Some(Code(code)) => err.with_code(code),
            None => err,
        }
    }
}

/// A Rust error as JS receives it. Everything JS does with an error is decided here: whether
/// the caller may retry, and which gateway RPC code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryError {
    pub kind: ErrorKind,
    /// The code of the failing server or module, when it gave one; `IMBRIDGE_QUEUED` for a send
    /// that was queued instead of sent.
    pub code: Option<String>,
    /// For people; carries no secret.
    pub message: String,
    /// The same call may succeed when simply tried again later.
    pub retryable: bool,
    /// The gateway protocol's error code for an RPC that failed this way.
    pub rpc_code: RpcCode,
}

/// Error codes of OpenClaw's gateway protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RpcCode {
    InvalidRequest,
    Unavailable,
}

impl From<&ChannelError> for BoundaryError {
    fn from(err: &ChannelError) -> Self {
        Self {
            kind: err.kind,
            code: err.code.clone(),
            message: err.message.clone(),
            retryable: err.kind.is_retryable(),
            rpc_code: match err.kind {
                ErrorKind::BadInput => RpcCode::InvalidRequest,
                _ => RpcCode::Unavailable,
            },
        }
    }
}

/// What every export returns: `{"ok": value}` or `{"error": BoundaryError}`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Returned<T> {
    Ok(T),
    Error(BoundaryError),
}

impl<T: Serialize> Returned<T> {
    pub fn of(result: Result<T, ChannelError>) -> Self {
        match result {
            Ok(value) => Self::Ok(value),
            Err(err) => Self::Error((&err).into()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            // A value that cannot be written as JSON (a map with non-string keys): a bug, told
            // as an error rather than a panic across the boundary.
            let failure = ChannelError::permanent(format!("unserializable result: {err}"));
            serde_json::to_string(&Returned::<()>::Error((&failure).into()))
                .unwrap_or_else(|_| r#"{"error":{"kind":"permanent","code":null,"message":"unserializable result","retryable":false,"rpcCode":"UNAVAILABLE"}}"#.into())
        })
    }
}

/// The boundary as one JSON schema: what JS receives (`event`, the `request` kinds among them,
/// `error`, an export's `returned`) and what it sends back (`answers` by request op, `failure`, `reply`, `transportEvent`).
pub fn schema() -> Value {
    #[derive(JsonSchema)]
    #[allow(dead_code)] // only its schema is used
    #[serde(rename_all = "camelCase")]
    struct Boundary {
        event: Event,
        /// The requests among the events, by themselves.
        request: Request,
        returned: Returned<Value>,
        error: BoundaryError,
        answers: Answers,
        failure: HostFailure,
        reply: DeliveredReply,
        transport_event: TransportEvent,
    }
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Answers {
        route: RouteAnswer,
        #[serde(rename = "pairing.readAllowFrom")]
        pairing_read_allow_from: Vec<String>,
        #[serde(rename = "pairing.upsert")]
        pairing_upsert: PairingCodeAnswer,
        #[serde(rename = "pairing.replyText")]
        pairing_reply_text: String,
        #[serde(rename = "media.save")]
        media_save: SavedMedia,
        #[serde(rename = "media.roots")]
        media_roots: Vec<String>,
        turn: TurnDone,
        #[serde(rename = "global.call")]
        global_call: Value,
        #[serde(rename = "config.set")]
        config_set: (),
        #[serde(rename = "transport.open")]
        transport_open: (),
        #[serde(rename = "transport.call")]
        transport_call: Value,
        #[serde(rename = "transport.close")]
        transport_close: (),
        prompt: String,
    }
    serde_json::to_value(schemars::schema_for!(Boundary)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `js/boundary.schema.json` is what the types say. `IMBRIDGE_BLESS=1` rewrites it.
    #[test]
    fn the_checked_in_schema_is_current() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/boundary.schema.json");
        let mut text = serde_json::to_string_pretty(&schema()).expect("schema");
        text.push('\n');
        if std::env::var_os("IMBRIDGE_BLESS").is_some() {
            std::fs::write(&file, &text).expect("write the schema");
        }
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            checked_in == text,
            "{} is stale: run `IMBRIDGE_BLESS=1 cargo test -p plugin-host --all-features boundary` and commit it",
            file.display()
        );
    }

    #[test]
    fn every_request_op_is_an_answer_in_the_schema() {
        let schema = schema();
        let answers = &schema["$defs"]["Answers"]["properties"];
        let requests = serde_json::to_string(&schema["$defs"]["Request"]).expect("json");
        for op in [
            Request::MediaRoots.op(),
            Request::TransportClose { id: 1 }.op(),
            Request::Prompt(Question::new("q")).op(),
        ] {
            assert!(requests.contains(&format!("\"{op}\"")), "{op} in Request");
        }
        let ops = requests.matches("\"const\":").count();
        assert_eq!(
            answers.as_object().map(|a| a.len()),
            Some(ops),
            "one answer per request op: {answers}"
        );
    }

    #[test]
    fn requests_travel_as_op_and_args_next_to_the_event_id() {
        let event = Event::Request {
            id: 7,
            request: Request::MediaSave {
                path: "/tmp/x".into(),
                content_type: "image/png".into(),
                file_name: None,
                max_bytes: 12,
            },
        };
        assert_eq!(
            serde_json::to_value(&event).expect("json"),
            json!({"type": "request", "id": 7, "op": "media.save",
                   "args": {"path": "/tmp/x", "contentType": "image/png", "fileName": null, "maxBytes": 12}})
        );
        let roots = Event::Request {
            id: 8,
            request: Request::MediaRoots,
        };
        assert_eq!(
            serde_json::to_value(&roots).expect("json"),
            json!({"type": "request", "id": 8, "op": "media.roots"})
        );
    }

    #[test]
    fn errors_carry_kind_code_and_the_decisions_js_used_to_make() {
        let queued = ChannelError::transient("window closed").with_code("IMBRIDGE_QUEUED");
        let returned = Returned::<()>::of(Err(queued));
        assert_eq!(
            serde_json::from_str::<Value>(&returned.to_json()).expect("json"),
            json!({"error": {"kind": "transient", "code": "IMBRIDGE_QUEUED", "message": "window closed",
                             "retryable": true, "rpcCode": "UNAVAILABLE"}})
        );
        let bad = BoundaryError::from(&ChannelError::bad_input("to: empty"));
        assert_eq!(
            (bad.rpc_code, bad.retryable),
            (RpcCode::InvalidRequest, false)
        );
        assert_eq!(Returned::of(Ok(3)).to_json(), r#"{"ok":3}"#);
    }

    #[test]
    fn failures_keep_the_modules_code_as_given() {
        let number: HostFailure =
            serde_json::from_value(json!({"message": "wrong token", "code": 302})).expect("parse");
        let err = number.into_error(ErrorKind::Transient);
        assert_eq!(
            (err.code.as_deref(), err.message.as_str()),
            (Some("302"), "wrong token")
        );
        let text: HostFailure =
            serde_json::from_value(json!({"message": "x", "code": "E_X"})).expect("parse");
        assert_eq!(text.code, Some(Code("E_X".into())));
        let none: HostFailure = serde_json::from_value(json!({"message": "x"})).expect("parse");
        assert_eq!(none.code, None);
        assert!(
            serde_json::from_value::<HostFailure>(json!({"message": "x", "code": {}})).is_err()
        );
    }

    #[test]
    fn delivered_replies_merge_their_media_fields() {
        let reply: DeliveredReply = serde_json::from_value(
            json!({"text": "hi", "mediaUrl": "/a.png", "mediaUrls": ["/a.png", "/b.png"]}),
        )
        .expect("parse");
        let payload = reply.into_payload();
        assert_eq!(payload.media, vec!["/a.png", "/b.png"]);
        assert_eq!(payload.kind, "final");
    }
}
