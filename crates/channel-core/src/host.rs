//! What a channel needs from its host (OpenClaw, or a standalone stand-in): routing, the pairing
//! store, running a turn, and a place to report status.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::dm::PairingStore;
use crate::error::ChannelError;
use crate::message::{Inbound, Receipt};
use crate::session::{Route, SessionKeyResolver};

/// One reply the host's agent produced during a turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyPayload {
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    /// `final`, `block` or `tool`, as the host labels it.
    #[serde(default)]
    pub kind: String,
}

/// Where the host's replies for one turn go: back to the chat the message came from.
#[async_trait::async_trait]
pub trait Replier: Send + Sync {
    async fn reply(&self, payload: ReplyPayload) -> Result<Receipt, ChannelError>;
}

/// An accepted inbound message, ready for the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub inbound: Inbound,
    /// The agent and session the turn goes to; `None` for a host that resolves them itself as
    /// it starts the turn ([`Host::routes_turns`]).
    pub route: Option<Route>,
    /// OpenClaw's `MsgContext` fields, built by [`msg_context`].
    pub context: serde_json::Value,
    /// Hand the turn over only if the conversation's session has no run; otherwise come back
    /// at once, [`TurnOutcome::held_back`]. A busy OpenClaw session would take the message
    /// into its active run, or queue it in memory only, where a restart loses it.
    #[serde(default)]
    pub if_idle: bool,
    /// Ask the host for the answer in blocks as the agent writes it (`streaming.block`).
    #[serde(default)]
    pub block_streaming: bool,
}

/// How a turn ended, as far as the host tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnOutcome {
    #[serde(default)]
    pub replies: usize,
    /// The host handed the turn to the session's active run instead of running it (how:
    /// OpenClaw's `steer` or `followup`): the turn is accepted, and its answer comes from that
    /// run, which the host holds only in memory.
    #[serde(default)]
    pub deferred: Option<String>,
    /// Whether the conversation's session had a run when the turn was handed over: one in
    /// flight, or one a restart cut short, which OpenClaw's restart recovery resumes and
    /// answers itself. `None` when the host cannot tell.
    #[serde(default)]
    pub session_running: Option<bool>,
    /// Not handed over: the turn asked for an idle session ([`Turn::if_idle`]) and the session
    /// had a run.
    #[serde(default)]
    pub held_back: bool,
}

/// A partial update of an account's status, merged by the host into what it shows in
/// `openclaw channels status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<AccountPhase>,
    /// `Some(None)` clears a previous error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outbound_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_login: Option<bool>,
    /// Why the account is not running, in a few words (`needs login`); `Some(None)` clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_start_at: Option<i64>,
    /// When the account last reached its network (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_connected_at: Option<i64>,
    /// When, and why, the connection was last lost: OpenClaw's health monitor gives an account
    /// that lost it recently time to reconnect by itself before restarting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_disconnect: Option<Disconnect>,
}

/// A lost connection, as OpenClaw's account snapshot keeps it (`lastDisconnect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disconnect {
    /// Epoch ms.
    pub at: i64,
    pub error: String,
}

/// Where an account is in its life, as `openclaw channels status` shows it (`lifecycle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountPhase {
    Starting,
    Ready,
    /// Connecting again after a lost connection; messages wait on the server.
    Recovering,
    /// Stopped until a person acts (a new login, another client to stop, a config fix).
    Blocked,
    Stopped,
}

impl StatusPatch {
    pub fn starting() -> Self {
        Self {
            running: Some(true),
            lifecycle: Some(AccountPhase::Starting),
            last_error: Some(None),
            state_reason: Some(None),
            last_start_at: Some(crate::now_ms()),
            ..Self::default()
        }
    }

    pub fn stopped() -> Self {
        Self {
            running: Some(false),
            connected: Some(false),
            lifecycle: Some(AccountPhase::Stopped),
            ..Self::default()
        }
    }

    pub fn connected() -> Self {
        Self {
            running: Some(true),
            connected: Some(true),
            lifecycle: Some(AccountPhase::Ready),
            last_error: Some(None),
            needs_login: Some(false),
            state_reason: Some(None),
            last_connected_at: Some(crate::now_ms()),
            ..Self::default()
        }
    }

    pub fn recovering(error: &ChannelError) -> Self {
        Self {
            running: Some(true),
            connected: Some(false),
            lifecycle: Some(AccountPhase::Recovering),
            last_error: Some(Some(error.to_string())),
            last_disconnect: Some(Disconnect {
                at: crate::now_ms(),
                error: error.to_string(),
            }),
            ..Self::default()
        }
    }

    /// Stopped until a person acts; `needsLogin` when what they must do is log in again.
    pub fn blocked(error: &ChannelError) -> Self {
        let needs_login = error.kind.stops_account();
        Self {
            running: Some(false),
            connected: Some(false),
            lifecycle: Some(AccountPhase::Blocked),
            last_error: Some(Some(error.to_string())),
            needs_login: Some(needs_login),
            state_reason: Some(needs_login.then(|| "needs login".to_owned())),
            ..Self::default()
        }
    }
}

/// The host. OpenClaw's is in `plugin-host`; [`crate::testing::StandaloneHost`] stands in for
/// tests.
#[async_trait::async_trait]
pub trait Host: PairingStore + SessionKeyResolver {
    /// Whether the host resolves a turn's route itself, as it starts the turn. The pipeline then
    /// hands the turn over without one (no [`Turn::route`], no `SessionKey` in its context)
    /// instead of asking first: for a host across a boundary (OpenClaw's, in Node) that saves a
    /// round trip per message, which on a busy event loop is a wait behind everything else.
    fn routes_turns(&self) -> bool {
        false
    }

    /// Runs the agent on one message; replies go through `replier` before this returns.
    async fn run_turn(
        &self,
        turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> Result<TurnOutcome, ChannelError>;

    /// Moves a downloaded attachment into the host's media store; returns its stored path.
    async fn save_media(
        &self,
        file: &std::path::Path,
        mime: &str,
        file_name: Option<&str>,
    ) -> Result<String, ChannelError>;

    /// Reports a status change of `account`.
    fn report_status(&self, channel: &str, account: &str, patch: StatusPatch);

    /// Calls a function the operator installed in the host (in OpenClaw: `globalThis[name]`,
    /// awaited if it returns a promise) with `args`. `Ok(None)` when there is no such function
    /// or it returned nothing; `Err` when it threw. The default host has no functions.
    async fn call_global(
        &self,
        _name: &str,
        _args: Vec<serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, ChannelError> {
        Ok(None)
    }

    /// Writes one value into the host's config file at `path` (`["channels", "multi-openim",
    /// "accounts", "primary", "token"]`), leaving everything else as it is; `null` removes the
    /// key. Meant for values the channel already uses (a refreshed token), so it does not make
    /// the host restart the channel. Errors never contain the value.
    async fn set_config(
        &self,
        path: &[String],
        _value: serde_json::Value,
    ) -> Result<(), ChannelError> {
        Err(ChannelError::permanent(format!(
            "this host cannot write the config ({})",
            path.join(".")
        )))
    }

    /// Directories whose files the current caller may have sent as attachments (in OpenClaw,
    /// for an agent tool: the agent's workspace and the host's media store). Local paths
    /// outside them are refused. The default host grants none: only URLs.
    async fn media_roots(&self) -> Result<Vec<String>, ChannelError> {
        Ok(Vec::new())
    }

    /// Starts transport module `module` in the host (in OpenClaw: a JS module shipped with the
    /// plugin, such as NetEase's SDK adapter) with `options`. Its events arrive on `events` as
    /// JSON until it is closed. The default host runs no modules.
    async fn open_transport(
        &self,
        module: &str,
        _options: serde_json::Value,
        _events: tokio::sync::mpsc::UnboundedSender<serde_json::Value>,
    ) -> Result<Arc<dyn HostTransport>, ChannelError> {
        Err(ChannelError::permanent(format!(
            "transport module {module:?} needs the OpenClaw host (this host runs no JS)"
        )))
    }
}

/// A JS module a channel runs in the host through [`Host::open_transport`]. Data for the packager:
/// the package holds it as `transports/<name>.mjs`, copied from `source`, and lists
/// `npm_dependencies` in its `package.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransportModule {
    /// What the channel opens it by (lower-case letters, digits and `-`).
    pub name: &'static str,
    /// The module's file, relative to the workspace root.
    pub source: &'static str,
    /// npm packages the module imports, as `(package, exact version)`; a JSON object in the
    /// descriptor, as in `package.json`.
    #[serde(serialize_with = "dependency_map")]
    pub npm_dependencies: &'static [(&'static str, &'static str)],
}

fn dependency_map<S: serde::Serializer>(
    dependencies: &&'static [(&'static str, &'static str)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(dependencies.iter().copied())
}

/// A transport module running in the host: calls go in, events come out on the channel it was
/// opened with.
#[async_trait::async_trait]
pub trait HostTransport: Send + Sync + std::fmt::Debug {
    /// Calls `method` with JSON `params`. A failure's message is the module's error text.
    async fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, ChannelError>;

    /// Stops the module and its events. Idempotent.
    async fn close(&self);
}

/// Builds OpenClaw's `MsgContext` for an inbound message; its `SessionKey` is the route's, or
/// left to a host that routes turns itself.
pub fn msg_context(inbound: &Inbound, route: Option<&Route>) -> serde_json::Value {
    let peer = inbound.chat.peer();
    let mut ctx = serde_json::json!({
        "Body": inbound.text,
        "RawBody": inbound.text,
        "CommandBody": inbound.text,
        "From": inbound.sender.id,
        "To": peer,
        "AccountId": inbound.account,
        "ChatType": inbound.chat.kind.as_str(),
        "Provider": inbound.channel,
        "Surface": inbound.channel,
        "OriginatingChannel": inbound.channel,
        "OriginatingTo": peer,
        "MessageSid": inbound.server_id,
        "MessageSidFull": inbound.server_id,
        "Timestamp": inbound.timestamp_ms,
        "SenderId": inbound.sender.id,
        "CommandAuthorized": inbound.command_authorized,
    });
    let fields = ctx
        .as_object_mut()
        .expect("a json! object literal is an object");
    if let Some(route) = route {
        fields.insert("SessionKey".into(), route.session_key.clone().into());
    }
    if let Some(name) = &inbound.sender.name {
        fields.insert("SenderName".into(), name.clone().into());
    }
    if inbound.chat.kind == crate::ChatKind::Group {
        fields.insert("WasMentioned".into(), inbound.was_mentioned.into());
    }
    if let Some(title) = &inbound.chat.title {
        fields.insert("ConversationLabel".into(), title.clone().into());
    }
    if let Some(reply) = &inbound.reply_to {
        if let Some(id) = &reply.id {
            fields.insert("ReplyToId".into(), id.clone().into());
        }
        if let Some(body) = &reply.body {
            fields.insert("ReplyToBody".into(), body.clone().into());
        }
    }
    if !inbound.media.is_empty() {
        fields.insert("media".into(), media_facts(inbound).into());
    }
    ctx
}

/// OpenClaw's ordered media facts (`ChannelInboundMediaInput`), one per attachment, in the
/// message's order: position is identity. One that could not be downloaded still says what
/// it was, without a path.
fn media_facts(inbound: &Inbound) -> Vec<serde_json::Value> {
    inbound
        .media
        .iter()
        .map(|media| {
            let kind = match media.kind.as_str() {
                "image" => "image",
                "voice" | "audio" => "audio",
                "video" => "video",
                "file" => "document",
                _ => "unknown",
            };
            let mut fact = serde_json::json!({ "kind": kind, "messageId": inbound.server_id });
            let fields = fact.as_object_mut().expect("an object literal");
            for (key, value) in [
                ("path", &media.path),
                ("contentType", &media.mime),
                ("fileName", &media.file_name),
            ] {
                if let Some(value) = value {
                    fields.insert(key.into(), value.clone().into());
                }
            }
            fact
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lost connection says when, which OpenClaw's health monitor reads as time to
    /// reconnect; a connection says when it came.
    #[test]
    fn status_patches_date_connections_and_disconnections() {
        let lost = StatusPatch::recovering(&ChannelError::transient("link down"));
        let disconnect = lost.last_disconnect.expect("lastDisconnect");
        assert!(disconnect.at > 0 && disconnect.error.contains("link down"));
        assert_eq!(lost.connected, Some(false));
        let json = serde_json::to_value(StatusPatch::connected()).expect("json");
        assert!(json["lastConnectedAt"].is_i64(), "{json}");
        assert!(json.get("lastDisconnect").is_none());
    }

    /// Attachments become ordered facts; one that could not be downloaded still says what it
    /// was, without a path, and no legacy `Media*` field is written.
    #[test]
    fn attachments_are_ordered_media_facts() {
        let media = |kind: &str, path: Option<&str>, mime: Option<&str>| crate::Media {
            kind: kind.into(),
            path: path.map(Into::into),
            mime: mime.map(Into::into),
            file_name: None,
            locator: serde_json::Value::Null,
            error: path.is_none().then(|| "gone".to_owned()),
        };
        let inbound = Inbound {
            channel: "c".into(),
            account: "a".into(),
            chat: crate::Chat {
                kind: crate::ChatKind::Direct,
                id: "p".into(),
                title: None,
                host_peer: None,
            },
            sender: crate::Sender {
                id: "p".into(),
                name: None,
            },
            text: String::new(),
            media: vec![
                media("voice", Some("/m/v.wav"), Some("audio/wav")),
                media("file", None, None),
            ],
            mentions: vec![],
            was_mentioned: false,
            command_authorized: false,
            reply_to: None,
            server_id: "m9".into(),
            timestamp_ms: 0,
            raw: serde_json::Value::Null,
        };
        let ctx = msg_context(&inbound, None);
        assert_eq!(
            ctx["media"],
            serde_json::json!([
                {"kind": "audio", "path": "/m/v.wav", "contentType": "audio/wav", "messageId": "m9"},
                {"kind": "document", "messageId": "m9"},
            ])
        );
        assert!(ctx.get("MediaPath").is_none() && ctx.get("MediaPaths").is_none());
    }

    #[test]
    fn transport_modules_serialize_as_the_packager_reads_them() {
        let module = TransportModule {
            name: "echo",
            source: "crates/x/js/echo.mjs",
            npm_dependencies: &[("left-pad", "1.3.0")],
        };
        assert_eq!(
            serde_json::to_value(module).expect("json"),
            serde_json::json!({
                "name": "echo",
                "source": "crates/x/js/echo.mjs",
                "npmDependencies": {"left-pad": "1.3.0"},
            })
        );
    }
}
