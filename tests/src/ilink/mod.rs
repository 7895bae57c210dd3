//! A loopback fake of Tencent's iLink bot API (spec `weixin-ilink-protocol.md` §3, §14).
//!
//! Three listeners on 127.0.0.1, all started by [`IlinkSim::start`]:
//! * the API ([`IlinkSim::base_url`]): QR login (`get_bot_qrcode`, `get_qrcode_status`, see
//!   [below](#qr-login)), the logged-in bot endpoints (`getupdates`, `sendmessage`,
//!   `getconfig`, `sendtyping`, `msg/notifystart`, `msg/notifystop`, `getuploadurl`) and `/_admin/`;
//! * a second "IDC" host that only serves `get_qrcode_status`, which `scaned_but_redirect` sends
//!   clients to ([`IlinkSim::qr_redirect_host`]);
//! * the CDN ([`IlinkSim::cdn_base_url`], `…/c2c/upload`, `…/c2c/download`).
//!
//! Semantics worth knowing when writing tests:
//! * The `getupdates` cursor is opaque base64. `""`, or a cursor that does not decode or belongs to
//!   another bot, means "from the beginning of the retained log" (nothing is ever dropped).
//! * Messages are delivered at least once: with [`IlinkOptions::redeliver_after`] every first
//!   delivery is repeated once (same `message_id` and `context_token`, new `seq`) after the delay;
//!   [`IlinkSim::redeliver`] does the same on demand.
//! * `sendmessage` checks, in this order: `to_user_id` is (byte-exact) a user who has written to
//!   the bot, else `ret=-3 "invalid arguments"`; `context_token` is that user's latest, else `ret=-2`;
//!   fewer than `window_max_sends` accepted sends since that user's last message and within
//!   `window` of it, else `ret=-2`; no text item longer than `max_text_chars` characters, else
//!   `ret=-2 "prepare failed"`.
//! * [`IlinkSim::stall_sends`] makes `sendmessage` hang after a number of calls; the calls that
//!   hung are answered 503 (never accepted) once [`IlinkSim::resume_sends`] is called.
//! * Unknown, missing or revoked tokens get HTTP 200 `{"errcode":-14,"errmsg":"session timeout"}`.
//!
//! # QR login
//! `get_bot_qrcode` (POST, or the legacy GET) issues a session whose `get_qrcode_status` answers
//! follow the [`QrScript`] in force when it was issued (set with [`IlinkSim::qr_script`]; the
//! default, [`QrScript::Manual`], waits for [`IlinkSim::qr_scan`] / [`IlinkSim::qr_confirm`]).
//! A poll answers at once when the session has something new to say (the next scripted step, or a
//! change made by the test), and otherwise is held up to [`IlinkOptions::qr_hold`] and then
//! repeats the current status. `confirmed` binds a new bot (new id and token, owner from
//! [`IlinkSim::set_qr_owner`] or random) and revokes the owner's other bots (-14), as the real server
//! does: one bot per WeChat user. A POST whose `local_token_list` holds a live token gets
//! `binded_redirect` on its first poll. Unknown qrcodes poll as `expired`. `qrcode_img_content`
//! points at `/q/x` on the API host, which answers a short text telling a person how to scan.
//!
//! # CDN
//! `getuploadurl` validates the request and registers an upload ticket (`upload_param`);
//! `POST …/c2c/upload` accepts only a body that is the AES-128-ECB/PKCS#7 ciphertext of a file with
//! the announced size and MD5, under the announced key, and answers `x-encrypted-param`; the file
//! is then downloadable with `GET …/c2c/download`. Every parameter is standard base64 with `+`,
//! `/` and `=`, so clients that forget to URL-encode get 4xx/404. [`IlinkSim::uploaded`] returns
//! the decrypted uploads, [`IlinkSim::inject_media`] puts an encrypted file on the CDN and
//! delivers a message pointing at it, [`IlinkSim::cdn_fault`] queues one-shot failures.
//!
//! # Admin API
//! Served on the same listener (not recorded in [`IlinkSim::requests`]); `bot_id` defaults to the
//! first bot added, `from` to that bot's owner. Errors: 400 (bad input), 404 (unknown bot,
//! message or qrcode) or 409 (acting on a used-up qrcode), all as `{"error": "..."}`.
//!
//! | Call | Body / query | Answer |
//! |---|---|---|
//! | `POST /_admin/bots` | `{bot_id?, token?, owner?}` (missing ones generated) | the `Bot` |
//! | `GET /_admin/bots` | | all bots |
//! | `POST /_admin/inbound` | `{bot_id?, from?, text}` or `{bot_id?, msg: <WeixinMessage>}` | `Injected` |
//! | `POST /_admin/inbound_many` | `{bot_id?, from: [user…], count}`: `count` texts at once, `from` taken in turn | `{injected, last_seq}` |
//! | `POST /_admin/redeliver` | `{bot_id?, message_id}` (number or string) | `{redelivered, message_id}` |
//! | `POST /_admin/fault` | `{bot_id?, fault: malformed\|non_json\|empty\|http_status\|delay\|expired, status? (502), ms?, variant?: errcode\|ret\|both}` | `{bot_id, queued}` |
//! | `POST /_admin/expire` | `{bot_id?}` | `{bot_id, expired}` |
//! | `GET /_admin/sent[?bot_id=]` | | `[Sent]` |
//! | `GET /_admin/requests` | | `[RequestRecord]` |
//! | `GET /_admin/state` | | bots with token validity, online flag, typing, users and their windows |
//! | `POST /_admin/qr/script` | `{script: manual\|confirm\|expire_then_confirm\|always_expire\|verify_code\|redirect\|already_bound, code?, max_wrong? (3), owner?}` (`owner` present: as [`IlinkSim::set_qr_owner`], `null` = random) | `{script, owner}` |
//! | `POST /_admin/qr/scan` | `{qrcode?}` (default: the latest) | `QrSession` |
//! | `POST /_admin/qr/confirm` | `{qrcode?}` | the bound `Bot` |
//! | `POST /_admin/qr/expire` | `{qrcode?}` | `QrSession` |
//! | `GET /_admin/qr/sessions` | | `[QrSession]` |
//! | `POST /_admin/media` | `{bot_id?, from?, kind: image\|file\|video\|voice, content_base64, key?: image_aeskey_hex\|base64_raw\|base64_hex\|none\|wrong, full_url? (true), caption?, file_name?, text?, encode_type?, playtime?}` | `Injected` (with `media`) |
//! | `POST /_admin/cdn/fault` | `{fault: upload_4xx\|upload_5xx\|upload_no_param\|uploadurl_refused\|download_error, status?, message?}` | `{queued}` |
//! | `POST /_admin/cdn/options` | `{upload_full_url: bool}` | `{upload_full_url}` |
//! | `GET /_admin/cdn/uploads` | | `[Upload]`, plaintext as `plaintext_base64` |
//!
//! ```text
//! curl -s -XPOST http://127.0.0.1:PORT/_admin/inbound -d '{"text":"[[ECHO:hi]]"}'
//! curl -s http://127.0.0.1:PORT/_admin/sent
//! ```

mod admin;
mod api;
mod cdn;
mod qr;
mod state;
mod types;
mod wire;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;

pub use cdn::{CdnFault, KeyEncoding, MediaKind, MediaRef, MediaSpec, Upload};
pub use qr::{QrPoll, QrScript, QrSession, QrStatus};
use state::{Shared, SimError};
pub use types::{Bot, ExpiryVariant, Fault, Injected, RequestRecord, Sent};
pub use wire::valid_uin;

/// Knobs of the simulated server.
#[derive(Debug, Clone)]
pub struct IlinkOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Longest time an empty `getupdates` is held. The hold is also capped at 6/7 of
    /// `longpolling_timeout_ms`, so the client's own timeout never fires first.
    pub hold: Duration,
    /// Returned to clients as `longpolling_timeout_ms` (their next poll timeout).
    pub longpolling_timeout_ms: u64,
    /// At-least-once emulation: redeliver each first-time delivered message once after this delay.
    pub redeliver_after: Option<Duration>,
    /// Longer text items are rejected with `ret=-2 "prepare failed"`.
    pub max_text_chars: usize,
    /// Bot messages allowed per user message.
    pub window_max_sends: u32,
    /// How long after a user message the bot may still send.
    pub window: Duration,
    /// Reject (HTTP 400) requests without `AuthorizationType: ilink_bot_token` or without a valid
    /// `X-WECHAT-UIN` (bot endpoints and the `get_bot_qrcode` POST). When off, those headers are
    /// only recorded.
    pub strict_headers: bool,
    /// Longest hold of a `get_qrcode_status` poll that has nothing new to say (clients give up
    /// after 35 s).
    pub qr_hold: Duration,
    /// Port of the CDN listener on 127.0.0.1; 0 picks a free one.
    pub cdn_port: u16,
    /// `getuploadurl` answers `upload_full_url` besides `upload_param`. When off, clients must build
    /// `<cdnBase>/upload?encrypted_query_param=…&filekey=…` themselves. Also settable at run time
    /// ([`IlinkSim::set_upload_full_url`]).
    pub upload_full_url: bool,
    /// Most messages one `getupdates` answer carries; the rest wait for the next poll. `None`:
    /// everything after the cursor at once.
    pub batch: Option<usize>,
}

impl Default for IlinkOptions {
    fn default() -> Self {
        Self {
            port: 0,
            hold: Duration::from_secs(30),
            longpolling_timeout_ms: 35_000,
            redeliver_after: None,
            max_text_chars: 4000,
            window_max_sends: 10,
            window: Duration::from_secs(24 * 60 * 60),
            strict_headers: true,
            qr_hold: Duration::from_secs(30),
            cdn_port: 0,
            upload_full_url: true,
            batch: None,
        }
    }
}

/// Where the listeners of one simulator are bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addrs {
    pub api: SocketAddr,
    /// The second host `scaned_but_redirect` points at; serves only `get_qrcode_status`.
    pub qr_redirect: SocketAddr,
    pub cdn: SocketAddr,
}

/// A running iLink simulator. Dropping it stops the server (held polls return at once).
pub struct IlinkSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl fmt::Debug for IlinkSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IlinkSim")
            .field("addr", &self.addr)
            .field("bots", &self.shared.bots().len())
            .finish_non_exhaustive()
    }
}

impl Drop for IlinkSim {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// A bot with realistic random id, token and owner (same as [`Bot::random`]).
pub fn new_bot() -> Bot {
    Bot::random()
}

impl IlinkSim {
    /// Binds 127.0.0.1:`opts.port` (API and `/_admin/`), a free port (QR redirect host) and
    /// 127.0.0.1:`opts.cdn_port` (CDN), and serves them in background tasks.
    pub async fn start(opts: IlinkOptions) -> io::Result<IlinkSim> {
        let api_listener = bind(opts.port).await?;
        let redirect_listener = bind(0).await?;
        let cdn_listener = bind(opts.cdn_port).await?;
        let addrs = Addrs {
            api: api_listener.local_addr()?,
            qr_redirect: redirect_listener.local_addr()?,
            cdn: cdn_listener.local_addr()?,
        };
        let shared = Arc::new(Shared::new(opts, addrs));

        let api_routes = api::routes().merge(qr::routes()).merge(cdn::api_routes());
        let api_app = api::finish(api_routes, &shared, addrs.api, api::MAX_BODY, true)
            .merge(admin::router(shared.clone()));
        let redirect_app = api::finish(
            qr::redirect_routes(),
            &shared,
            addrs.qr_redirect,
            api::MAX_BODY,
            true,
        );
        let cdn_app = api::finish(cdn::routes(), &shared, addrs.cdn, cdn::MAX_FILE, false);
        serve(&shared, api_listener, api_app);
        serve(&shared, redirect_listener, redirect_app);
        serve(&shared, cdn_listener, cdn_app);
        tracing::info!(api = %addrs.api, qr_redirect = %addrs.qr_redirect, cdn = %addrs.cdn, "ilink simulator listening");
        Ok(IlinkSim {
            shared,
            addr: addrs.api,
        })
    }

    /// `http://127.0.0.1:PORT/` — the API base (trailing slash included). QR logins hand out the
    /// same URL without the slash as `baseurl`, the way the real server does.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A bot with realistic random values; pass it to [`IlinkSim::add_bot`].
    pub fn new_bot() -> Bot {
        Bot::random()
    }

    /// Registers a bot, or replaces the token of an existing one (re-login; clears `expire_token`).
    pub fn add_bot(&self, bot: Bot) {
        self.shared.add_bot(bot);
    }

    pub fn bots(&self) -> Vec<Bot> {
        self.shared.bots()
    }

    /// A user sends `text` to the bot. The user becomes a known peer, gets a fresh context token, and
    /// their send window restarts.
    ///
    /// # Panics
    /// If `bot_id` was never added (a bug in the test).
    pub fn inject_text(&self, bot_id: &str, from: &str, text: &str) -> Injected {
        expect(self.shared.inject_text(bot_id, from, text))
    }

    /// Injects a raw `WeixinMessage`. `seq` is always assigned by the simulator; `message_id`,
    /// `context_token`, `create_time_ms`, `session_id`, `from_user_id` (default: the owner),
    /// `to_user_id`, `message_type` and `message_state` are filled in if absent.
    ///
    /// # Panics
    /// If `bot_id` is unknown or `msg` is not a JSON object.
    pub fn inject_message(&self, bot_id: &str, msg: Value) -> Injected {
        expect(self.shared.inject_message(bot_id, msg))
    }

    /// Puts an already injected message back into the stream (same JSON, `message_id` and
    /// `context_token`; new `seq`). Returns `false` if no such message exists.
    ///
    /// # Panics
    /// If `bot_id` is unknown.
    pub fn redeliver(&self, bot_id: &str, message_id: u64) -> bool {
        expect(self.shared.redeliver(bot_id, message_id))
    }

    /// Queues a one-shot fault for the bot's next `getupdates`. Faults queue up in order and hit
    /// the next polls whether the token is valid or revoked, as a gateway in front of iLink would.
    ///
    /// # Panics
    /// If `bot_id` is unknown.
    pub fn fault(&self, bot_id: &str, fault: Fault) {
        expect(self.shared.push_fault(bot_id, fault));
    }

    /// How many queued faults have not hit a poll yet, and when (unix ms) a queued
    /// [`Fault::SessionExpired`] last answered one.
    ///
    /// # Panics
    /// If `bot_id` is unknown.
    pub fn fault_state(&self, bot_id: &str) -> (usize, Option<u64>) {
        expect(self.shared.fault_state(bot_id))
    }

    /// Revokes the bot's token: every endpoint answers `{"errcode":-14,...}` (HTTP 200), held polls
    /// included, until [`IlinkSim::add_bot`] is called again for this bot.
    ///
    /// # Panics
    /// If `bot_id` is unknown.
    pub fn expire_token(&self, bot_id: &str) {
        expect(self.shared.expire_token(bot_id));
    }

    /// Every `sendmessage` that got an iLink answer, accepted or rejected, in arrival order.
    /// (Requests rejected earlier — bad headers, unknown token, unparsable body — are only in
    /// [`IlinkSim::requests`].)
    pub fn sent(&self, bot_id: &str) -> Vec<Sent> {
        self.shared.sent(bot_id)
    }

    /// Every message injected for the bot (the `WeixinMessage` JSON), in order; redeliveries
    /// are not listed again.
    pub fn inbound(&self, bot_id: &str) -> Vec<Value> {
        self.shared.inbound(bot_id)
    }

    /// Every request to the bot API (not `/_admin/`), in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    /// Waits until the bot has accepted at least `count` messages, and returns the accepted ones —
    /// or whatever was accepted when `timeout` ran out.
    pub async fn wait_sent(&self, bot_id: &str, count: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.subscribe_sent();
        loop {
            let accepted = self.shared.accepted(bot_id);
            if accepted.len() >= count {
                return accepted;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.shared.accepted(bot_id),
            }
        }
    }

    /// Lets `after` more `sendmessage` calls through, then holds every later one unanswered
    /// until [`IlinkSim::resume_sends`], as a server that stopped answering would.
    pub fn stall_sends(&self, after: u32) {
        self.shared.stall_sends(after);
    }

    /// Ends a stall. The calls that hung are answered HTTP 503 and never accepted, so a client
    /// that gave up on them (or crashed) and sends again is not recorded twice.
    pub fn resume_sends(&self) {
        self.shared.resume_sends();
    }

    /// How many `sendmessage` calls hang in a stall right now.
    pub fn stalled_sends(&self) -> usize {
        self.shared.stalled_sends()
    }

    /// Whether the last notify call was `notifystart` (false before any).
    pub fn online(&self, bot_id: &str) -> bool {
        self.shared.online(bot_id)
    }

    /// `(user, status)` of every accepted `sendtyping`, in order (1 = typing, 2 = cancel).
    pub fn typing(&self, bot_id: &str) -> Vec<(String, u8)> {
        self.shared.typing(bot_id)
    }
}

async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
}

/// Serves `app` until the simulator is dropped.
fn serve(shared: &Shared, listener: TcpListener, app: Router) {
    let mut stop = shared.shutdown.subscribe();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "ilink simulator listener stopped");
        }
    });
}

fn expect<T>(result: Result<T, SimError>) -> T {
    result.unwrap_or_else(|e| panic!("imsim: {e}"))
}
