//! A loopback fake of NetEase Yunxin IM's server side (spec `netease-nim.md` §4): the REST API
//! a bot sends with, and the message-copy webhook (消息抄送) it receives from. Written from the
//! spec; it shares nothing with any client crate.
//!
//! # REST ([`NimSim::base_url`], one listener on 127.0.0.1)
//! Every call must carry `AppKey`, `Nonce`, `CurTime` (seconds) and
//! `CheckSum = sha1hex(AppSecret + Nonce + CurTime)` ([`rest_checksum`]). A missing or wrong
//! header, or a `CurTime` more than [`NimOptions::max_clock_skew`] (5 min) off, is answered
//! HTTP 200 `{"code":414,"desc":"<names the header>"}` (V2 paths add the same text as `msg`).
//!
//! | Call | Body | Answer `data` |
//! |---|---|---|
//! | `POST /im/v2/conversations/{sender\|1\|receiver}/messages` (also `\|2\|tid`, `\|3\|tid`) | `{"message":{"message_type","text"?,"attachment"?,"message_client_id"?,"sub_type"?},…}` | `{message_server_id, message_client_id, sender_id, conversation_type, receiver_id, create_time, message_type, text?, attachment?, sub_type?}` |
//! | `POST /nimserver/msg/sendMsg.action` | form `from, ope (0 P2P / 1 team), to, type, body` (JSON string; text `{"msg":"…"}`) | `{msgid, timetag, antispam: false}` |
//! | `GET /im/v2/accounts/{account_id}` | | `{account_id, token, configuration}` |
//! | `POST /nimserver/msg/upload.action` | form `content` (standard base64, ≤ 15 MB of text), `type`?, `ishttps`? (`true`/`false`), `expireSec`? (≥ 86400), `tag`? (≤ 32 chars) | none: `url` is at the top level, `{"code":200,"url":…}` |
//!
//! An upload is stored ([`NimSim::uploads`]) and served back, unsigned, at the answered URL
//! (`GET /nos/{id}`, plain HTTP whatever `ishttps` says), as NOS serves uploaded files.
//!
//! V2 answers `{"code":200,"msg":"success","data":…}` or `{"code":N,"msg":"…"}`; V1 answers
//! `{"code":200,"data":…}` or `{"code":414,"desc":"…"}`. Codes: 414 parameter, 416 rate limit
//! (fault), 500 (fault), 102404 account not exist (sender, P2P receiver, probe), 108404 team not
//! exist, 109404 not a team member (V1 answers these as 414). Sendable types: 0 text (text
//! required), 1 image, 2 audio, 3 video, 6 file (attachment `url` required), 4 location, 10 tip,
//! 100 custom; text at most 5000 characters. A V2 resend with the same `message_client_id` from
//! the same sender within [`NimOptions::dedup_window`] gets the first answer and stores nothing
//! (NetEase dedupes resends on the client id). Unknown paths: HTTP 404, code 404.
//!
//! # Webhook
//! [`NimSim::set_webhook`] names the receiver; `push_*` POST `application/json` bodies of
//! `eventType` "1" (string values only) with `AppKey`, `CurTime` (**milliseconds**),
//! `MD5 = md5hex(body)` and `CheckSum = sha1hex(AppSecret + MD5 + CurTime)`
//! ([`webhook_checksum`], [`md5_hex`]). [`NimSim::push_forged`], [`NimSim::push_tampered`] and
//! [`NimSim::push_stale`] break the signature on purpose; [`NimSim::redeliver`] posts a push
//! again byte for byte, as NetEase does when it retries.
//!
//! # Admin API (`/_admin/` on the same listener, unsigned: the simulator's own controls)
//!
//! | Call | Body | Answer |
//! |---|---|---|
//! | `POST /_admin/push` | `{from, to, text}` (P2P) or `{from, tid, text, at?: [accid]}` (team) | `{status, body}`: the webhook's HTTP status and the signed body posted |
//! | `GET /_admin/sent` | | `[NimSent]` |
//!
//! A person plays a user with `curl -s http://127.0.0.1:PORT/_admin/push -d
//! '{"from":"alice","to":"bot","text":"hello"}'`: the simulator signs the copy as NetEase does.
//!
//! ```no_run
//! use std::time::Duration;
//! use imsim::nim::{NimOptions, NimSim};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = NimSim::start(NimOptions::default()).await?;
//! sim.add_account("bot", "bot-token");
//! sim.add_account("alice", "alice-token");
//! // Configure the client under test with sim.base_url(), sim.app_key(), sim.app_secret(),
//! // and its webhook receiver's URL here:
//! sim.set_webhook("http://127.0.0.1:8080/nim/webhook");
//! let pushed = sim.push_text("alice", "bot", "hello").await?;
//! assert_eq!(pushed.status, 200);
//! let sent = sim.wait_sent(1, Duration::from_secs(5)).await;
//! assert_eq!(sent[0].receiver, "alice");
//! # Ok(()) }
//! ```

mod admin;
mod rest;
mod send;
mod sign;
mod state;
mod types;
mod upload;
mod webhook;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

pub use sign::{md5_hex, rest_checksum, webhook_checksum};
pub use types::{
    ConvType, NimCall, NimFault, NimReceipt, NimSent, NimUpload, PushError, Pushed, Via,
};

use state::Shared;
use webhook::{Outgoing, Signing};

/// Knobs of the simulated server. Defaults are NetEase's where the spec says so.
#[derive(Clone)]
pub struct NimOptions {
    /// Port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// The app key (default: 32 random hex digits, the shape of a real one).
    pub app_key: Option<String>,
    /// The app secret (default: 12 random hex digits, the shape of a real one).
    pub app_secret: Option<String>,
    /// Largest accepted difference between a REST `CurTime` and the server clock.
    pub max_clock_skew: Duration,
    /// How long a V2 answer is remembered for resends of its `message_client_id`. NetEase does
    /// not publish its window; one hour covers any client retry loop.
    pub dedup_window: Duration,
    /// Answer V2 `message_server_id` as a decimal string instead of a JSON number. NetEase's Go
    /// server SDK reads it as an int64, so a number is the default; the string form lets a client
    /// prove it accepts both.
    pub server_id_as_string: bool,
    /// Longest wait for the webhook receiver's answer.
    pub webhook_timeout: Duration,
}

impl Default for NimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            app_key: None,
            app_secret: None,
            max_clock_skew: Duration::from_secs(300),
            dedup_window: Duration::from_secs(3600),
            server_id_as_string: false,
            webhook_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for NimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NimOptions")
            .field("port", &self.port)
            .field("app_key", &self.app_key)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("max_clock_skew", &self.max_clock_skew)
            .field("dedup_window", &self.dedup_window)
            .field("server_id_as_string", &self.server_id_as_string)
            .field("webhook_timeout", &self.webhook_timeout)
            .finish()
    }
}

/// A running NIM simulator. Dropping it stops the server.
pub struct NimSim {
    shared: Arc<Shared>,
}

impl fmt::Debug for NimSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NimSim")
            .field("addr", &self.shared.addr)
            .field("app_key", &self.shared.app_key)
            .finish_non_exhaustive()
    }
}

impl Drop for NimSim {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

impl NimSim {
    /// Binds 127.0.0.1 and serves until dropped.
    pub async fn start(opts: NimOptions) -> io::Result<NimSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port)).await?;
        let addr = listener.local_addr()?;
        // reqwest is built without a TLS provider and refuses to build a client without one,
        // even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(opts.webhook_timeout)
            .build()
            .map_err(io::Error::other)?;
        let app_key = opts
            .app_key
            .clone()
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
        let app_secret = opts
            .app_secret
            .clone()
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 6]>()));
        let shared = Arc::new(Shared::new(opts, app_key, app_secret, addr, http));

        let app = rest::router(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "nim simulator listener stopped");
            }
        });
        tracing::info!(%addr, "nim simulator listening");
        Ok(NimSim { shared })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: stands for both `https://api.yunxinapi.com`
    /// (V1, paths `/nimserver/…`) and `https://open.yunxinapi.com` (V2, paths `/im/v2/…`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The app key every call must carry.
    pub fn app_key(&self) -> &str {
        &self.shared.app_key
    }

    /// The app secret both signatures use.
    pub fn app_secret(&self) -> &str {
        &self.shared.app_secret
    }

    // ---- accounts and teams ----------------------------------------------------------------------

    /// Creates (or replaces) an account with its login token.
    pub fn add_account(&self, accid: &str, token: &str) {
        self.shared
            .lock()
            .accounts
            .insert(accid.to_owned(), token.to_owned());
    }

    /// Account ids, sorted.
    pub fn accounts(&self) -> Vec<String> {
        self.shared.lock().accounts.keys().cloned().collect()
    }

    /// Creates (or replaces) a team. Team and super-team sends to `tid` need it, and the sender
    /// must be one of `members`; members need not be accounts.
    pub fn add_team(&self, tid: &str, members: &[&str]) {
        let members = members.iter().map(|m| (*m).to_owned()).collect();
        self.shared.lock().teams.insert(tid.to_owned(), members);
    }

    // ---- records and faults ----------------------------------------------------------------------

    /// Every accepted send, in order (resends answered from the dedup table appear once).
    pub fn sent(&self) -> Vec<NimSent> {
        self.shared.lock().sent.clone()
    }

    /// The P2P read receipts received so far.
    pub fn receipts(&self) -> Vec<NimReceipt> {
        self.shared.lock().receipts.clone()
    }

    /// Waits until at least `count` sends were accepted and returns them all, or whatever there
    /// was when `timeout` ran out.
    pub async fn wait_sent(&self, count: usize, timeout: Duration) -> Vec<NimSent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.changed.subscribe();
        loop {
            let sent = self.sent();
            if sent.len() >= count {
                return sent;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.sent(),
            }
        }
    }

    /// Stores a file as another user's client would have uploaded it, and returns its NOS URL
    /// (served like any upload; listed in [`NimSim::uploads`]).
    pub fn put_object(&self, content: Vec<u8>) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let url = format!("http://{}/nos/{id}", self.shared.addr);
        self.shared.lock().uploads.push(NimUpload {
            id,
            url: url.clone(),
            content,
            file_type: None,
            https: false,
            expire_sec: None,
            tag: None,
        });
        url
    }

    /// Every file stored by `upload.action`, in order.
    pub fn uploads(&self) -> Vec<NimUpload> {
        self.shared.lock().uploads.clone()
    }

    /// Every REST call received, in order, accepted or not.
    pub fn calls(&self) -> Vec<NimCall> {
        self.shared.lock().calls.clone()
    }

    /// Puts `fault` in force for its `calls` next authenticated REST calls, replacing any other.
    pub fn set_fault(&self, fault: NimFault) {
        let calls = fault.calls();
        self.shared.lock().fault = (calls > 0).then_some((fault, calls));
    }

    /// Ends the fault in force, if any.
    pub fn clear_fault(&self) {
        self.shared.lock().fault = None;
    }

    // ---- webhook -----------------------------------------------------------------------------------

    /// Where pushes go (the URL configured in NetEase's console for 消息抄送).
    pub fn set_webhook(&self, url: &str) {
        self.shared.lock().webhook = Some(url.to_owned());
    }

    /// Every push made, in order.
    pub fn pushes(&self) -> Vec<Pushed> {
        self.shared.lock().pushes.clone()
    }

    /// `from` writes `text` to `to` (P2P `TEXT`).
    pub async fn push_text(&self, from: &str, to: &str, text: &str) -> Result<Pushed, PushError> {
        self.push(p2p_text(from, to, text), Signing::Valid).await
    }

    /// `from` sends `to` a picture (`PICTURE`, `attach` `{url, name, ext, w, h}`).
    pub async fn push_image(
        &self,
        from: &str,
        to: &str,
        url: &str,
        width: u32,
        height: u32,
    ) -> Result<Pushed, PushError> {
        let name = webhook::file_name_of(url);
        let attach = json!({
            "url": url,
            "name": name,
            "ext": webhook::ext_of(&name, "jpg"),
            "w": width,
            "h": height,
        });
        let msg = Outgoing {
            conv_type: "PERSON",
            from: from.to_owned(),
            to: to.to_owned(),
            msg_type: "PICTURE",
            body: String::new(),
            attach: Some(attach.to_string()),
            ext: None,
            team_members: None,
        };
        self.push(msg, Signing::Valid).await
    }

    /// `from` sends `to` a file (`FILE`, `attach` `{url, name, size, ext}`).
    pub async fn push_file(
        &self,
        from: &str,
        to: &str,
        url: &str,
        name: &str,
        size: u64,
    ) -> Result<Pushed, PushError> {
        let attach = json!({
            "url": url,
            "name": name,
            "size": size,
            "ext": webhook::ext_of(name, "bin"),
        });
        let msg = Outgoing {
            conv_type: "PERSON",
            from: from.to_owned(),
            to: to.to_owned(),
            msg_type: "FILE",
            body: String::new(),
            attach: Some(attach.to_string()),
            ext: None,
            team_members: None,
        };
        self.push(msg, Signing::Valid).await
    }

    /// `from` writes `text` in team `tid` (`convType` `TEAM`, `to` = tid). `at` lists mentioned
    /// accounts, carried in `ext` as `{"yxAitMsg":{"<accid>":…}}` (the UI kits' convention; the
    /// spec names no webhook field for mentions); write `@<accid>` into `text` yourself if the
    /// client looks at the text. `tMembers` is set when the team was added with
    /// [`NimSim::add_team`].
    pub async fn push_team_text(
        &self,
        from: &str,
        tid: &str,
        text: &str,
        at: &[&str],
    ) -> Result<Pushed, PushError> {
        let msg = team_text(&self.shared, from, tid, text, at);
        self.push(msg, Signing::Valid).await
    }

    /// A P2P text whose `CheckSum` was made with another secret.
    pub async fn push_forged(&self, from: &str, to: &str, text: &str) -> Result<Pushed, PushError> {
        self.push(p2p_text(from, to, text), Signing::Forged).await
    }

    /// A P2P text signed correctly, then changed (`body` field), so `MD5` does not match.
    pub async fn push_tampered(
        &self,
        from: &str,
        to: &str,
        text: &str,
    ) -> Result<Pushed, PushError> {
        self.push(p2p_text(from, to, text), Signing::Tampered).await
    }

    /// A P2P text correctly signed with a `CurTime` ten minutes old.
    pub async fn push_stale(&self, from: &str, to: &str, text: &str) -> Result<Pushed, PushError> {
        self.push(p2p_text(from, to, text), Signing::Stale).await
    }

    /// A P2P text signed correctly but without the `AppKey` header, as in NetEase's samples.
    pub async fn push_without_app_key(
        &self,
        from: &str,
        to: &str,
        text: &str,
    ) -> Result<Pushed, PushError> {
        self.push(p2p_text(from, to, text), Signing::NoAppKey).await
    }

    /// Posts `body` with exactly `headers` (plus `Content-Type: application/json` unless given).
    pub async fn push_raw(
        &self,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Pushed, PushError> {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        webhook::post(&self.shared, body.to_owned(), headers).await
    }

    /// Signs `body` as NetEase would (fresh `CurTime`) and posts it, for message shapes the
    /// other helpers do not build.
    pub async fn push_signed(&self, body: &str) -> Result<Pushed, PushError> {
        let (body, headers) = webhook::sign(&self.shared, body.to_owned(), Signing::Valid);
        webhook::post(&self.shared, body, headers).await
    }

    /// Posts an earlier push again with the identical body and headers (NetEase retries when the
    /// receiver did not answer 200 in time). Goes to the webhook URL in force now.
    pub async fn redeliver(&self, pushed: &Pushed) -> Result<Pushed, PushError> {
        webhook::post(&self.shared, pushed.body.clone(), pushed.headers.clone()).await
    }

    async fn push(&self, msg: Outgoing, signing: Signing) -> Result<Pushed, PushError> {
        push_message(&self.shared, msg, signing).await
    }
}

/// Builds the body of `msg`, signs it with `signing` and posts it to the webhook.
async fn push_message(
    shared: &Shared,
    msg: Outgoing,
    signing: Signing,
) -> Result<Pushed, PushError> {
    let body = webhook::body_of(shared, &msg);
    let (body, headers) = webhook::sign(shared, body, signing);
    webhook::post(shared, body, headers).await
}

/// `from` writes `text` in team `tid`, mentioning `at` (see [`NimSim::push_team_text`]).
fn team_text(shared: &Shared, from: &str, tid: &str, text: &str, at: &[&str]) -> Outgoing {
    let team_members = shared
        .lock()
        .teams
        .get(tid)
        .map(|m| format!("[{}]", m.join(", ")));
    Outgoing {
        conv_type: "TEAM",
        from: from.to_owned(),
        to: tid.to_owned(),
        msg_type: "TEXT",
        body: text.to_owned(),
        attach: None,
        ext: webhook::mention_ext(at),
        team_members,
    }
}

fn p2p_text(from: &str, to: &str, text: &str) -> Outgoing {
    Outgoing {
        conv_type: "PERSON",
        from: from.to_owned(),
        to: to.to_owned(),
        msg_type: "TEXT",
        body: text.to_owned(),
        attach: None,
        ext: None,
        team_members: None,
    }
}
