//! The napi-rs addon that OpenClaw loads through `js/index.js`. It is the only crate that knows
//! Node: it links the channels selected by Cargo features and exposes them to a JS entry that
//! knows no channel.
//!
//! Every export returns a JSON envelope, `{"ok": value}` or `{"error": {kind, code, message,
//! retryable, rpcCode}}` ([`boundary::Returned`]); `js/lib/native.js` unwraps it and throws an
//! `ImbridgeError` with those fields. Errors are never text to parse.
//!
//! ```js
//! import { native } from "./lib/native.js";
//! const { channels } = native.descriptor();
//! const handle = await native.startAccount("openclaw-weixin", "b0f5-im-bot", JSON.stringify(section));
//! native.listen(handle, (json) => {
//!   // one event (request | status | stopped), as JSON; null once the session is over.
//!   // Answer requests with native.respond(handle, event.id, true, JSON.stringify(result));
//!   // after the `stopped` event, native.release(handle).
//! });
//! ```
//!
//! Events are pushed, not pulled: a pull would park a task of ours until JS asks again, and each
//! such round costs a thread wake-up on both sides, per request.
//!
//! Logins (`startLogin`), actions (`startAction`: agent tools and gateway methods) and CLI
//! commands (`startCommand`) are sessions too: their events reach `listen` the same way, and
//! host services they need (prompts, global functions, config writes) are requests.
//!
//! Accounts and actions may run transport modules in JS (requests `transport.open`,
//! `transport.call`, `transport.close`); JS hands each event a module emits to
//! `transportEvent(handle, transportId, json)`.
//!
//! The types that cross, events and requests included, are in [`boundary`], and
//! `js/boundary.schema.json` is generated from them. A Rust panic becomes an error envelope; it
//! never takes the gateway down.
#![allow(unsafe_code)] // napi-derive expands to FFI glue.

pub mod boundary;
mod catalog;
mod facts;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod guard;
mod logs;
mod registry;
mod session;
#[cfg(feature = "testkit")]
mod testkit;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use channel_core::{CancellationToken, ChannelError, Outbound, Receipt};
use napi::bindgen_prelude::create_custom_tokio_runtime;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;

use crate::boundary::{DeliveredReply, Event, HostFailure, TransportEvent};
use crate::guard::{guard, guard_async};
use crate::session::JsHost;

/// Worker threads of the addon's runtime: the gateway shares the machine.
const WORKER_THREADS: usize = 2;

#[napi_derive::module_init]
fn init() {
    // Node may run a module's init more than once (several `dlopen`s of one file); the runtime
    // and the logger are process-wide and must be set up once.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        logs::init();
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("imbridge")
            .enable_all()
            .build()
        {
            Ok(runtime) => create_custom_tokio_runtime(runtime),
            // napi-rs falls back to its own default runtime.
            Err(err) => tracing::error!(%err, "could not build the imbridge runtime"),
        }
    });
}

/// One running account.
struct Session {
    host: Arc<JsHost>,
    cancel: CancellationToken,
}

static SESSIONS: LazyLock<Mutex<HashMap<u32, Arc<Session>>>> = LazyLock::new(Mutex::default);
static NEXT_HANDLE: AtomicU32 = AtomicU32::new(1);

/// Registers a new session and returns its handle, its host and its stop switch.
fn open_session() -> (u32, Arc<JsHost>, CancellationToken) {
    let host = JsHost::new();
    let cancel = CancellationToken::new();
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    let session = Session {
        host: Arc::clone(&host),
        cancel: cancel.clone(),
    };
    SESSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(handle, Arc::new(session));
    (handle, host, cancel)
}

fn find_session(handle: u32) -> Option<Arc<Session>> {
    SESSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&handle)
        .cloned()
}

fn parse_json(what: &str, text: &str) -> Result<Value, ChannelError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| ChannelError::bad_input(format!("{what}: invalid JSON: {e}")))
}

/// `text` as a `T`, or a `BadInput` error naming `what`.
fn parse_as<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, ChannelError> {
    serde_json::from_str(text).map_err(|e| ChannelError::bad_input(format!("{what}: {e}")))
}

/// Log lines since the last call, as JSON `[{level, message}]`. The first call moves Rust's
/// log output from stderr to the caller for the rest of the process.
#[napi]
pub fn drain_logs() -> String {
    guard(|| Ok(logs::drain()))
}

/// The plugin and its channels: ids, meta, capabilities, config schemas. JSON.
#[napi]
pub fn descriptor() -> String {
    guard(|| Ok(registry::descriptor()))
}

/// Account ids of `channel` for the config section `section` (JSON).
#[napi]
pub fn list_account_ids(channel: String, section: String) -> String {
    guard(|| registry::channel(&channel)?.account_ids(&parse_json("section", &section)?))
}

/// The account the host means when it names none (`message send` without `--account`).
#[napi]
pub fn default_account_id(channel: String, section: String) -> String {
    guard(|| {
        let handler = registry::channel(&channel)?;
        registry::account_or_default(handler.as_ref(), &parse_json("section", &section)?, None)
    })
}

/// A secret-free view of one account; `null` is the default account.
#[napi]
pub fn describe_account(channel: String, section: String, account: Option<String>) -> String {
    guard(|| {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let account = registry::account_or_default(handler.as_ref(), &section, account)?;
        handler.describe(&section, &account)
    })
}

/// `openclaw channels add`: the channel's section with `input` (the typed flag values)
/// written to `accounts.<account>`, and the account as it would then run. Refuses an account
/// that could not start, saying why.
#[napi]
pub fn setup_account(channel: String, section: String, account: String, input: String) -> String {
    guard(|| {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let input = parse_json("input", &input)?;
        let next = channel_core::setup::apply(&handler.descriptor(), &section, &account, &input)?;
        let view = handler.describe(&next, &account)?;
        if let Some(reason) = view
            .unconfigured_reason
            .as_deref()
            .filter(|_| !view.configured)
        {
            return Err(ChannelError::bad_input(format!(
                "{channel} account {account:?} could not start: {reason}"
            )));
        }
        Ok(serde_json::json!({ "section": next, "account": view }))
    })
}

/// Lists this package's other channels in OpenClaw's user catalog (see `catalog.rs`);
/// `null` when there is nothing to list.
#[napi]
pub fn publish_catalog() -> String {
    guard(registry::publish_catalog)
}

/// What waits in one account running in this process (`null` when it does not run here):
/// pending turns, queued replies, windows closing soon, and warnings about them. Read when
/// `openclaw channels status` asks.
#[napi]
pub fn account_backlog(channel: String, section: String, account: Option<String>) -> String {
    guard(|| {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let account = registry::account_or_default(handler.as_ref(), &section, account)?;
        handler.backlog(&section, &account)
    })
}

/// Parses a user-typed target: `{kind, id}`.
#[napi]
pub fn parse_target(channel: String, raw: String) -> String {
    guard(|| registry::channel(&channel)?.parse_target(&raw))
}

/// Starts an account's receive loop; returns the handle to `listen` to.
#[napi]
pub async fn start_account(channel: String, account: String, section: String) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let (handle, host, cancel) = open_session();
        tokio::spawn(async move {
            let run = guard::catch_panic_apart(handler.run(&section, &account, Arc::clone(&host) as _, cancel))
                .await
                .unwrap_or_else(|panicked| {
                    // The account's supervisor died with it: its last status would stay.
                    channel_core::Host::report_status(host.as_ref(), &channel, &account, channel_core::StatusPatch::blocked(&panicked));
                    Err(panicked)
                });
            // Nothing the account started outlives it (a panic, or a channel that forgot).
            host.close_transports().await;
            let error = match run {
                Ok(()) => None,
                Err(err) => {
                    tracing::warn!(channel = %channel, account = %account, %err, "account stopped with an error");
                    Some((&err).into())
                }
            };
            host.emit(Event::Stopped { error });
        });
        Ok(handle)
    })
    .await
}

/// Starts an interactive login (QR scan) for `account` (`null`: a new one); returns a handle
/// whose events (`qr`, `message`, `request` op `prompt`, then `loginDone` or `stopped`) are
/// heard with `listen`.
#[napi]
pub async fn start_login(channel: String, section: String, account: Option<String>) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let (handle, host, cancel) = open_session();
        tokio::spawn(async move {
            let ui = Arc::new(session::JsUi(Arc::clone(&host)));
            let login =
                guard::catch_panic(handler.login(&section, account.as_deref(), ui, cancel)).await;
            match login {
                Ok(result) => host.emit(Event::LoginDone { result }),
                Err(err) => host.emit(Event::Stopped {
                    error: Some((&err).into()),
                }),
            }
        });
        Ok(handle)
    })
    .await
}

/// The actions (agent tools, gateway methods) of `channel`: `[ActionSpec]`. The same list is
/// in the descriptor.
#[napi]
pub fn list_actions(channel: String) -> String {
    guard(|| Ok(registry::channel(&channel)?.actions()))
}

/// The CLI commands of `channel`: `[CommandSpec]`. The same list is in the descriptor.
#[napi]
pub fn list_commands(channel: String) -> String {
    guard(|| Ok(registry::channel(&channel)?.commands()))
}

/// Starts action `name` of `channel` with JSON `args`; returns a handle whose events (`request`
/// ops `global.call` and `config.set`, then `actionDone {result}` or `stopped {error}`) are
/// heard with `listen`. `stopAccount(handle)` cancels it. An unknown action rejects at once.
#[napi]
pub async fn start_action(channel: String, section: String, name: String, args: String) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        channel_core::action::find(&channel, &handler.actions(), &name)?;
        let section = parse_json("section", &section)?;
        let args = parse_json("args", &args)?;
        let (handle, host, cancel) = open_session();
        tokio::spawn(async move {
            let call = guard::catch_panic(handler.call_action(
                &section,
                &name,
                args,
                Arc::clone(&host) as _,
            ));
            let outcome = tokio::select! {
                () = cancel.cancelled() => Err(ChannelError::transient(format!("{channel} action {name}: cancelled"))),
                outcome = call => outcome,
            };
            host.close_transports().await;
            match outcome {
                Ok(result) => host.emit(Event::ActionDone { result }),
                Err(err) => {
                    tracing::debug!(channel = %channel, action = %name, %err, "action failed");
                    host.emit(Event::Stopped {
                        error: Some((&err).into()),
                    })
                }
            }
        });
        Ok(handle)
    })
    .await
}

/// Starts `openclaw <command> <subcommand>` of `channel` with its parsed options (JSON, by
/// key); returns a handle whose events (`message`, `request` op `prompt`, then `commandDone
/// {outcome}` or `stopped {error}`) are heard with `listen`. An unknown command rejects at once.
#[napi]
pub async fn start_command(
    channel: String,
    section: String,
    command: String,
    subcommand: String,
    options: String,
) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let known = handler.commands().iter().any(|c| {
            c.command == command && c.subcommands.iter().any(|s| s.name == subcommand)
        });
        if !known {
            return Err(ChannelError::bad_input(format!(
                "{channel}: unknown command {command} {subcommand}"
            )));
        }
        let section = parse_json("section", &section)?;
        let options = parse_json("options", &options)?;
        let (handle, host, cancel) = open_session();
        tokio::spawn(async move {
            let ui = Arc::new(session::JsUi(Arc::clone(&host)));
            let run = guard::catch_panic(handler.run_command(
                &section,
                &command,
                &subcommand,
                options,
                ui,
            ));
            let outcome = tokio::select! {
                () = cancel.cancelled() => Err(ChannelError::transient(format!("{command} {subcommand}: cancelled"))),
                outcome = run => outcome,
            };
            match outcome {
                Ok(outcome) => host.emit(Event::CommandDone { outcome }),
                Err(err) => host.emit(Event::Stopped {
                    error: Some((&err).into()),
                }),
            }
        });
        Ok(handle)
    })
    .await
}

/// Forgets an account's credentials and state; whether there was anything to forget.
#[napi]
pub async fn logout(channel: String, section: String, account: String) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        handler
            .logout(&parse_json("section", &section)?, &account)
            .await
    })
    .await
}

/// JS's listener: a function called with each event as JSON, then with `null` at the end.
type EventCallback =
    ThreadsafeFunction<Option<String>, napi::Unknown<'static>, Option<String>, napi::Status, false>;

struct JsListener(EventCallback);

impl session::Listener for JsListener {
    fn hear(&self, event: Event) -> bool {
        let json = match serde_json::to_string(&event) {
            Ok(json) => json,
            Err(err) => {
                tracing::error!(%err, "an event could not be written as JSON; dropped");
                return true;
            }
        };
        // Queued for Node's event loop; several queued calls run in one wake-up of it.
        self.0
            .call(Some(json), ThreadsafeFunctionCallMode::NonBlocking)
            == napi::Status::Ok
    }

    fn end(&self) {
        let _ = self.0.call(None, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// Hands each event of session `handle` ([`Event`], as JSON) to `listener` as it happens, in
/// order, starting with those made before this call; then `null` once the session is over (it
/// was released, or has nothing left to say). False when the session is already gone.
///
/// The listener keeps Node's event loop alive until `release(handle)`. It runs on the event
/// loop and must not throw: Node treats a throw there as uncaught.
#[napi]
pub fn listen(
    handle: u32,
    #[napi(ts_arg_type = "(event: string | null) => void")] listener: EventCallback,
) -> String {
    guard(|| {
        let Some(session) = find_session(handle) else {
            return Ok(false);
        };
        session.host.listen(Box::new(JsListener(listener)))?;
        Ok(true)
    })
}

/// Answers request `id` of a session: `ok` with its JSON result, or a JSON [`HostFailure`].
/// An answer Rust cannot read still answers the request, as a failure that says so, so the
/// request never waits for an answer that will not come.
#[napi]
pub fn respond(handle: u32, id: u32, ok: bool, payload: String) -> String {
    guard(|| {
        // The account stopped (a restart, a reload) while JS was working on the request: the
        // answer is moot, and the unfinished turn is replayed by the account's next run.
        let Some(session) = find_session(handle) else {
            return Ok(false);
        };
        let unreadable = |e: ChannelError| HostFailure {
            message: format!("unreadable answer: {}", e.message),
            code: None,
        };
        let answer = if ok {
            parse_json("answer", &payload).map_err(unreadable)
        } else {
            Err(parse_as::<HostFailure>("failure", &payload).unwrap_or_else(unreadable))
        };
        Ok(session.host.respond(id, answer))
    })
}

/// Sends one reply ([`DeliveredReply`]) of an open turn back to the chat it came from; its
/// receipt.
#[napi]
pub async fn deliver(handle: u32, turn_id: u32, payload: String) -> String {
    guard_async(async move {
        let gone = || {
            ChannelError::transient(format!(
                "the account restarted during turn {turn_id}; this reply is dropped and the turn runs again"
            ))
        };
        let session = find_session(handle).ok_or_else(gone)?;
        let replier = session.host.replier(turn_id).ok_or_else(gone)?;
        let reply: DeliveredReply = parse_as("reply", &payload)?;
        replier.reply(reply.into_payload()).await
    })
    .await
}

/// Stops a running account (or cancels a login, action or command); its listener then hears
/// the `stopped` event.
#[napi]
pub fn stop_account(handle: u32) -> String {
    guard(|| {
        if let Some(session) = find_session(handle) {
            session.cancel.cancel();
        }
        Ok(())
    })
}

/// Forgets a stopped account's handle. Requests still waiting fail, and its transports deliver
/// no more events.
#[napi]
pub fn release(handle: u32) -> String {
    guard(|| {
        let session = SESSIONS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&handle);
        if let Some(session) = session {
            session.host.detach();
        }
        Ok(())
    })
}

/// Hands one event of transport `transport_id` ([`TransportEvent`], as the module emitted it)
/// to the channel of session `handle`; false once that transport is closed or the session is
/// gone.
#[napi]
pub fn transport_event(handle: u32, transport_id: u32, event: String) -> String {
    guard(|| {
        let Some(session) = find_session(handle) else {
            return Ok(false);
        };
        let event: TransportEvent = parse_as("transport event", &event)?;
        let event = serde_json::json!({ "event": event.event, "payload": event.payload });
        Ok(session.host.transport_event(transport_id, event))
    })
}

/// Sends a message outside any turn (`openclaw message send`, cron) from `account` (`null`:
/// the default one); its receipt. A message that was queued instead of sent (a closed WeChat
/// window) is an error with code `IMBRIDGE_QUEUED`: the caller must not report it as sent.
#[napi]
pub async fn send(
    channel: String,
    account: Option<String>,
    section: String,
    target: String,
    message: String,
) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let account = registry::account_or_default(handler.as_ref(), &section, account)?;
        let message: Outbound = parse_as("message", &message)?;
        match handler.send(&section, &account, &target, &message).await? {
            Receipt::Queued { queue_id, reason } => {
                tracing::info!(channel = %channel, %target, %queue_id, %reason, "message queued, not sent yet");
                Err(ChannelError::transient(format!(
                    "queued, not sent yet: {reason} (queue id {queue_id})"
                ))
                .with_code(QUEUED))
            }
            sent => Ok(sent),
        }
    })
    .await
}

/// The error code of a send that was queued instead of sent.
const QUEUED: &str = "IMBRIDGE_QUEUED";

/// Checks an account's credentials and reachability (`null`: the default account);
/// `{ok, detail, elapsedMs}`.
#[napi]
pub async fn probe(channel: String, account: Option<String>, section: String) -> String {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let account = registry::account_or_default(handler.as_ref(), &section, account)?;
        handler.probe(&section, &account).await
    })
    .await
}

/// Panics on purpose inside a synchronous call, so tests can prove a panic reaches JS as an
/// error and the process lives on. Test builds only (feature `testkit`, never packaged).
#[cfg(feature = "testkit")]
#[napi]
pub fn debug_panic_sync() -> String {
    guard::<()>(|| panic!("deliberate panic in a synchronous call"))
}

/// The same, inside a future on the runtime.
#[cfg(feature = "testkit")]
#[napi]
pub async fn debug_panic_async() -> String {
    guard_async::<()>(async {
        tokio::task::yield_now().await;
        panic!("deliberate panic inside a future")
    })
    .await
}
