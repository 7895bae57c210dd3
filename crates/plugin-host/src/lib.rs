//! The napi-rs addon that OpenClaw loads through `js/index.js`. It is the only crate that knows
//! Node: it links the channels selected by Cargo features and exposes them to a JS entry that
//! knows no channel.
//!
//! ```js
//! import { createRequire } from "node:module";
//! const native = createRequire(import.meta.url)("./imbridge.node");
//! const { channels } = JSON.parse(native.descriptor());
//! const handle = await native.startAccount("openclaw-weixin", "b0f5-im-bot", JSON.stringify(section));
//! for (;;) {
//!   const event = JSON.parse(await native.next(handle));   // request | status | stopped
//!   if (event.type === "stopped") break;
//!   // … answer requests with native.respond(handle, event.id, true, JSON.stringify(result))
//! }
//! ```
//!
//! Logins (`startLogin`), actions (`startAction`: agent tools and gateway methods) and CLI
//! commands (`startCommand`) are sessions too: their events are pulled with `next` the same
//! way, and host services they need (prompts, global functions, config writes) are requests.
//!
//! Accounts and actions may run transport modules in JS (requests `transport.open`,
//! `transport.call`, `transport.close`); JS hands each event a module emits to
//! `transportEvent(handle, transportId, json)`.
//!
//! Every call that can fail rejects with an `Error` whose message starts with the error kind
//! (`badInput: …`, `needsLogin: …`). A Rust panic becomes such an error too; it never takes the
//! gateway down.
#![allow(unsafe_code)] // napi-derive expands to FFI glue.

mod guard;
mod logs;
mod registry;
mod session;
#[cfg(feature = "testkit")]
mod testkit;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use channel_core::{CancellationToken, ChannelError, Outbound};
use napi::bindgen_prelude::create_custom_tokio_runtime;
use napi_derive::napi;
use tokio::sync::mpsc;

use crate::guard::{guard, guard_async};
use crate::session::{Event, JsHost};

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
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    cancel: CancellationToken,
}

static SESSIONS: LazyLock<Mutex<HashMap<u32, Arc<Session>>>> = LazyLock::new(Mutex::default);
static NEXT_HANDLE: AtomicU32 = AtomicU32::new(1);

/// Registers a new session and returns its handle, its host and its stop switch.
fn open_session() -> (u32, Arc<JsHost>, CancellationToken) {
    let (tx, rx) = mpsc::unbounded_channel();
    let host = JsHost::new(tx);
    let cancel = CancellationToken::new();
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    let session = Session {
        host: Arc::clone(&host),
        events: tokio::sync::Mutex::new(rx),
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

fn parse_json(what: &str, text: &str) -> Result<serde_json::Value, ChannelError> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| ChannelError::bad_input(format!("{what}: invalid JSON: {e}")))
}

/// Log lines since the last call, as JSON `[{level, message}]`. The first call moves Rust's
/// log output from stderr to the caller for the rest of the process.
#[napi]
pub fn drain_logs() -> napi::Result<String> {
    guard(|| Ok(serde_json::to_string(&logs::drain()).unwrap_or_else(|_| "[]".into())))
}

/// The plugin and its channels: ids, meta, capabilities, config schemas. JSON.
#[napi]
pub fn descriptor() -> napi::Result<String> {
    guard(|| Ok(registry::descriptor().to_string()))
}

/// Account ids of `channel` for the config section `section` (JSON).
#[napi]
pub fn list_account_ids(channel: String, section: String) -> napi::Result<Vec<String>> {
    guard(|| registry::channel(&channel)?.account_ids(&parse_json("section", &section)?))
}

/// A secret-free view of one account (JSON).
#[napi]
pub fn describe_account(channel: String, section: String, account: String) -> napi::Result<String> {
    guard(|| {
        let view =
            registry::channel(&channel)?.describe(&parse_json("section", &section)?, &account)?;
        Ok(serde_json::to_value(view).unwrap_or_default().to_string())
    })
}

/// Parses a user-typed target; JSON `{kind, id}`.
#[napi]
pub fn parse_target(channel: String, raw: String) -> napi::Result<String> {
    guard(|| {
        let target = registry::channel(&channel)?.parse_target(&raw)?;
        Ok(serde_json::to_value(target).unwrap_or_default().to_string())
    })
}

/// Starts an account's receive loop; returns the handle to pull its events with.
#[napi]
pub async fn start_account(channel: String, account: String, section: String) -> napi::Result<u32> {
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
/// pulled with `next`.
#[napi]
pub async fn start_login(
    channel: String,
    section: String,
    account: Option<String>,
) -> napi::Result<u32> {
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

/// The actions (agent tools, gateway methods) of `channel`: JSON `[ActionSpec]`. The same list
/// is in the descriptor.
#[napi]
pub fn list_actions(channel: String) -> napi::Result<String> {
    guard(|| {
        let actions = registry::channel(&channel)?.actions();
        Ok(serde_json::to_string(&actions).unwrap_or_else(|_| "[]".into()))
    })
}

/// The CLI commands of `channel`: JSON `[CommandSpec]`. The same list is in the descriptor.
#[napi]
pub fn list_commands(channel: String) -> napi::Result<String> {
    guard(|| {
        let commands = registry::channel(&channel)?.commands();
        Ok(serde_json::to_string(&commands).unwrap_or_else(|_| "[]".into()))
    })
}

/// Starts action `name` of `channel` with JSON `args`; returns a handle whose events (`request`
/// ops `global.call` and `config.set`, then `actionDone {result}` or `stopped {error}`) are
/// pulled with `next`. `stopAccount(handle)` cancels it. An unknown action rejects at once.
#[napi]
pub async fn start_action(
    channel: String,
    section: String,
    name: String,
    args: String,
) -> napi::Result<u32> {
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
/// {outcome}` or `stopped {error}`) are pulled with `next`. An unknown command rejects at once.
#[napi]
pub async fn start_command(
    channel: String,
    section: String,
    command: String,
    subcommand: String,
    options: String,
) -> napi::Result<u32> {
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
pub async fn logout(channel: String, section: String, account: String) -> napi::Result<bool> {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        handler
            .logout(&parse_json("section", &section)?, &account)
            .await
    })
    .await
}

/// The next event of a running account (JSON), or `null` once it is gone.
#[napi]
pub async fn next(handle: u32) -> napi::Result<Option<String>> {
    guard_async(async move {
        let Some(session) = find_session(handle) else {
            return Ok(None);
        };
        let mut events = session.events.lock().await;
        Ok(events
            .recv()
            .await
            .map(|event| serde_json::to_string(&event).unwrap_or_default()))
    })
    .await
}

/// Answers request `id` of a running account: `ok` with a JSON result, or an error message.
#[napi]
pub fn respond(handle: u32, id: u32, ok: bool, payload: String) -> napi::Result<bool> {
    guard(|| {
        // The account stopped (a restart, a reload) while JS was working on the request: the
        // answer is moot, and the unfinished turn is replayed by the account's next run.
        let Some(session) = find_session(handle) else {
            return Ok(false);
        };
        let answer = if ok {
            Ok(parse_json("respond payload", &payload)?)
        } else {
            Err(payload)
        };
        Ok(session.host.respond(id, answer))
    })
}

/// Sends one reply of an open turn back to the chat it came from; JSON receipt.
#[napi]
pub async fn deliver(handle: u32, turn_id: u32, payload: String) -> napi::Result<String> {
    guard_async(async move {
        let gone = || {
            ChannelError::transient(format!(
                "the account restarted during turn {turn_id}; this reply is dropped and the turn runs again"
            ))
        };
        let session = find_session(handle).ok_or_else(gone)?;
        let replier = session.host.replier(turn_id).ok_or_else(gone)?;
        let payload = session::reply_payload(&parse_json("reply payload", &payload)?);
        let receipt = replier.reply(payload).await?;
        Ok(serde_json::to_value(receipt)
            .unwrap_or_default()
            .to_string())
    })
    .await
}

/// Stops a running account (or cancels a login, action or command); its `next()` then yields
/// the `stopped` event.
#[napi]
pub fn stop_account(handle: u32) -> napi::Result<()> {
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
pub fn release(handle: u32) -> napi::Result<()> {
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

/// Hands one event of transport `transport_id` (JSON `{"event", "payload"}`, as the module
/// emitted it) to the channel of session `handle`; false once that transport is closed or the
/// session is gone.
#[napi]
pub fn transport_event(handle: u32, transport_id: u32, event: String) -> napi::Result<bool> {
    guard(|| {
        let Some(session) = find_session(handle) else {
            return Ok(false);
        };
        let event = parse_json("transport event", &event)?;
        Ok(session.host.transport_event(transport_id, event))
    })
}

/// Sends a message outside any turn (`openclaw message send`, cron); JSON receipt.
#[napi]
pub async fn send(
    channel: String,
    account: String,
    section: String,
    target: String,
    message: String,
) -> napi::Result<String> {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let section = parse_json("section", &section)?;
        let message: Outbound = serde_json::from_value(parse_json("message", &message)?)
            .map_err(|e| ChannelError::bad_input(format!("message: {e}")))?;
        let receipt = handler.send(&section, &account, &target, &message).await?;
        Ok(serde_json::to_value(receipt)
            .unwrap_or_default()
            .to_string())
    })
    .await
}

/// Checks an account's credentials and reachability; JSON `{ok, detail, elapsedMs}`.
#[napi]
pub async fn probe(channel: String, account: String, section: String) -> napi::Result<String> {
    guard_async(async move {
        let handler = registry::channel(&channel)?;
        let probe = handler
            .probe(&parse_json("section", &section)?, &account)
            .await?;
        Ok(serde_json::to_value(probe).unwrap_or_default().to_string())
    })
    .await
}

/// Panics on purpose inside a synchronous call, so tests can prove a panic reaches JS as an
/// error and the process lives on. Test builds only (feature `testkit`, never packaged).
#[cfg(feature = "testkit")]
#[napi]
pub fn debug_panic_sync() -> napi::Result<()> {
    guard(|| panic!("deliberate panic in a synchronous call"))
}

/// The same, inside a future on the runtime.
#[cfg(feature = "testkit")]
#[napi]
pub async fn debug_panic_async() -> napi::Result<()> {
    guard_async(async {
        tokio::task::yield_now().await;
        panic!("deliberate panic inside a future")
    })
    .await
}
