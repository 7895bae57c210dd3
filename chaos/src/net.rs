//! Each network's simulator as the parent drives it: the account's config, how a peer writes,
//! which faults the simulator can really produce, and what the server stored as sent by the
//! bot.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use imsim::ilink::{self, Bot, ExpiryVariant, IlinkOptions, IlinkSim};
use imsim::nim::{NimFault, NimOptions, NimSim, Pushed};
use imsim::openim::{self, MultiLoginPolicy, OpenImOptions, OpenImSim, RefreshBackend};
use rand::Rng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Net, Result};

/// A fault the parent applies while messages flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// The server closes the connection (OpenIM: TCP close, no frame).
    DropConnection,
    /// OpenIM 2002 kick: every token of the bot is marked kicked, so the channel must renew it.
    Kick,
    /// OpenIM: one bad frame before the next one.
    MalformedFrame,
    BadBase64,
    BadProtobuf,
    UnknownFrame,
    OversizedFrame {
        bytes: usize,
    },
    /// OpenIM: the next frame, and everything behind it, held back.
    FrameDelay {
        ms: u64,
    },
    /// OpenIM: the connection closes instead of the next frame.
    FrameDrop,
    /// OpenIM: the server stores the reply to a message injected soon after but its answer to
    /// the send is lost.
    LoseSendReply {
        marker: String,
    },
    /// The token stops working. OpenIM: the refresh backend answers 500 for a second, then a new
    /// token. WeChat: every call answers -14 until the bot logs in again.
    TokenExpiry,
    /// The server delivers a message again (same id).
    DuplicateDelivery {
        marker: String,
    },
    /// WeChat `getupdates` answers: wrong JSON shape, HTML, empty body, an HTTP status.
    MalformedAnswer,
    NonJsonAnswer,
    EmptyAnswer,
    HttpStatus {
        status: u16,
    },
    /// WeChat: one `getupdates` answered late.
    AnswerDelay {
        ms: u64,
    },
    /// WeChat: one stale -14 answer while the token is still valid.
    SessionExpiredOnce,
    /// WeChat: `sendmessage` hangs for `ms`, then the hung calls get 503 and were never stored.
    StallSends {
        ms: u64,
    },
    /// NetEase REST: the next `calls` authenticated calls answer 500.
    RestServerError {
        calls: u32,
    },
    /// NetEase REST: the next `calls` calls answer 416 (too frequent).
    RestRateLimit {
        calls: u32,
    },
    /// NetEase REST: the next `calls` calls are held `ms`, then handled.
    RestHang {
        calls: u32,
        ms: u64,
    },
}

impl Fault {
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v["fault"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A fault the network cannot produce, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotCovered {
    pub fault: &'static str,
    pub reason: &'static str,
}

/// What the server stored as sent by the bot.
#[derive(Debug, Clone)]
pub struct Stored {
    pub to: String,
    pub text: String,
    /// When the server stored it (unix ms).
    pub at_ms: u64,
}

/// One network behind its simulator.
#[async_trait::async_trait]
pub trait Network: Send + Sync {
    fn channel_id(&self) -> &'static str;
    fn account(&self) -> String;
    /// The `channels.<id>` section of the account.
    fn section(&self) -> Value;
    /// Send targets, one per peer.
    fn targets(&self) -> Vec<String>;
    /// Peer `peer` writes `text`; returns once the server took it (a webhook: once the
    /// receiver answered 200, retrying as the network does).
    async fn inject(&self, peer: usize, text: &str) -> Result;
    /// A fault drawn from this network's menu; `marker_ahead` names a message not injected yet,
    /// `marker_behind` one already injected.
    fn draw(&self, rng: &mut StdRng, marker_ahead: &str, marker_behind: &str) -> Fault;
    async fn apply(&self, fault: &Fault) -> Result<String>;
    /// Whether `fault` has something to break now. A fault of the connection (a dropped or
    /// corrupted frame, a close) needs one: the simulators would otherwise keep it for the next
    /// connection, and faults drawn while the account reconnects would pile up and greet every
    /// new connection, which no real network does.
    fn can_hit(&self, _fault: &Fault) -> bool {
        true
    }
    /// Called when the child exited by itself with `code`; true when the parent may start it
    /// again (after whatever a person would have done).
    fn after_exit(&self, code: Option<i32>) -> bool;
    fn stored(&self) -> Vec<Stored>;
    /// Shortest pause between two messages of one peer, by default.
    fn peer_gap_ms(&self) -> u64 {
        0
    }
    /// Whether a message injected now arrives while the bot's token is expired.
    fn token_expired(&self) -> bool {
        false
    }
    /// Whether a send the server took can never be stored twice: the network drops a repeated
    /// client id, or the channel reads its stored copies back before sending again.
    fn idempotent_sends(&self) -> bool;
    fn covered(&self) -> Vec<&'static str>;
    fn not_covered(&self) -> Vec<NotCovered>;
}

pub async fn start(net: Net, dir: &Path, peers: usize) -> Result<Box<dyn Network>> {
    Ok(match net {
        Net::Openim => Box::new(Openim::start(dir, peers).await?),
        Net::Weixin => Box::new(Weixin::start(dir, peers).await?),
        Net::Yunxin => Box::new(Yunxin::start(peers).await?),
    })
}

fn pick<T: Clone>(rng: &mut StdRng, menu: &[T]) -> T {
    menu[rng.random_range(0..menu.len())].clone()
}

// ---- OpenIM -------------------------------------------------------------------------------------

const OPENIM_BOT: &str = "bot1";
const OPENIM_ACCOUNT: &str = "primary";
/// The supervisor stops an account after more than 3 kicks in 10 minutes; a run stays below.
const MAX_KICKS: usize = 2;

struct Openim {
    sim: OpenImSim,
    backend: RefreshBackend,
    peers: Vec<String>,
    tokens: Mutex<Vec<String>>,
    kicks: Mutex<usize>,
    markers: Mutex<std::collections::HashMap<String, (String, String)>>,
    dir: std::path::PathBuf,
}

impl Openim {
    async fn start(dir: &Path, peers: usize) -> Result<Self> {
        let sim = OpenImSim::start(OpenImOptions {
            // A token issued for a refresh must not itself kick the running connection.
            multi_login_policy: MultiLoginPolicy::NoKick,
            ..OpenImOptions::default()
        })
        .await?;
        sim.add_user(OPENIM_BOT);
        let peers: Vec<String> = (0..peers).map(|p| format!("p{p:02}")).collect();
        for peer in &peers {
            sim.add_user(peer);
        }
        let token = sim.issue_token(OPENIM_BOT, 7);
        let backend = RefreshBackend::start().await?;
        backend.answer(OPENIM_ACCOUNT, 200, json!({"token": token}));
        Ok(Self {
            sim,
            backend,
            peers,
            tokens: Mutex::new(vec![token]),
            kicks: Mutex::new(0),
            markers: Mutex::default(),
            dir: dir.to_owned(),
        })
    }

    fn fresh_token(&self) -> String {
        let token = self.sim.issue_token(OPENIM_BOT, 7);
        lock(&self.tokens).push(token.clone());
        token
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait::async_trait]
impl Network for Openim {
    fn idempotent_sends(&self) -> bool {
        // The catch-up records every stored copy of ours in the send log before a send.
        true
    }

    fn channel_id(&self) -> &'static str {
        ::openim::CHANNEL_ID
    }

    fn account(&self) -> String {
        OPENIM_ACCOUNT.into()
    }

    fn section(&self) -> Value {
        json!({
            "dmPolicy": "open",
            "allowFrom": ["*"],
            "tokenRefresh": {
                "mode": "http",
                "manualLoginMarkerPath": self.dir.join("markers").join("manual-login.json"),
                "backoff": {"initialMs": 200, "maxMs": 1000, "maxAttempts": 20},
                "http": {
                    "endpoint": format!("{}/refresh/{{accountId}}", self.backend.url()),
                    "body": {"account": "{accountId}"},
                    "responseTokenPath": "token",
                },
            },
            "accounts": {OPENIM_ACCOUNT: {
                "token": lock(&self.tokens)[0],
                "wsAddr": self.sim.ws_url(),
                "apiAddr": self.sim.api_url(),
            }},
        })
    }

    fn targets(&self) -> Vec<String> {
        self.peers.clone()
    }

    async fn inject(&self, peer: usize, text: &str) -> Result {
        let injected = self.sim.inject_text(&self.peers[peer], OPENIM_BOT, text);
        lock(&self.markers).insert(
            text.to_owned(),
            (injected.conversation_id, injected.client_msg_id),
        );
        Ok(())
    }

    fn draw(&self, rng: &mut StdRng, ahead: &str, behind: &str) -> Fault {
        let menu = [
            Fault::DropConnection,
            Fault::Kick,
            Fault::MalformedFrame,
            Fault::BadBase64,
            Fault::BadProtobuf,
            Fault::UnknownFrame,
            Fault::OversizedFrame {
                bytes: if rng.random_bool(0.5) {
                    64 * 1024
                } else {
                    2 * 1024 * 1024
                },
            },
            Fault::FrameDelay {
                ms: rng.random_range(200..3000),
            },
            Fault::FrameDrop,
            Fault::LoseSendReply {
                marker: ahead.to_owned(),
            },
            Fault::TokenExpiry,
            Fault::DuplicateDelivery {
                marker: behind.to_owned(),
            },
        ];
        match pick(rng, &menu) {
            Fault::Kick => {
                let mut kicks = lock(&self.kicks);
                if *kicks >= MAX_KICKS {
                    Fault::DropConnection
                } else {
                    *kicks += 1;
                    Fault::Kick
                }
            }
            fault => fault,
        }
    }

    fn can_hit(&self, fault: &Fault) -> bool {
        match fault {
            Fault::DropConnection
            | Fault::Kick
            | Fault::MalformedFrame
            | Fault::BadBase64
            | Fault::BadProtobuf
            | Fault::UnknownFrame
            | Fault::OversizedFrame { .. }
            | Fault::FrameDelay { .. }
            | Fault::FrameDrop => self.sim.online(OPENIM_BOT),
            _ => true,
        }
    }

    async fn apply(&self, fault: &Fault) -> Result<String> {
        let fault_for = |f: openim::Fault| {
            self.sim.fault(OPENIM_BOT, f);
            Ok("queued for the next server frame".to_owned())
        };
        match fault {
            Fault::DropConnection => Ok(format!(
                "{} connection(s) dropped",
                self.sim.drop_connections(OPENIM_BOT)
            )),
            Fault::Kick => {
                let kicked = self.sim.kick(OPENIM_BOT);
                let token = self.fresh_token();
                self.backend
                    .answer(OPENIM_ACCOUNT, 200, json!({"token": token}));
                Ok(format!(
                    "{kicked} connection(s) kicked; the refresh backend has a new token"
                ))
            }
            Fault::MalformedFrame => fault_for(openim::Fault::MalformedFrame),
            Fault::BadBase64 => fault_for(openim::Fault::BadBase64),
            Fault::BadProtobuf => fault_for(openim::Fault::BadProtobuf),
            Fault::UnknownFrame => fault_for(openim::Fault::UnknownReqIdentifier),
            Fault::OversizedFrame { bytes } => {
                fault_for(openim::Fault::Oversized { bytes: *bytes })
            }
            Fault::FrameDelay { ms } => fault_for(openim::Fault::Delay { ms: *ms }),
            Fault::FrameDrop => fault_for(openim::Fault::Drop),
            Fault::LoseSendReply { marker } => {
                self.sim.lose_send_replies(&format!("echo: {marker}"));
                Ok(format!(
                    "the answer to the bot's send of `echo: {marker}` will be lost"
                ))
            }
            Fault::TokenExpiry => {
                let tokens = lock(&self.tokens).clone();
                for token in &tokens {
                    self.sim.expire_token(token);
                }
                let fresh = self.fresh_token();
                self.backend.answer(
                    OPENIM_ACCOUNT,
                    500,
                    json!({"error": "refresh backend restarting"}),
                );
                let dropped = self.sim.drop_connections(OPENIM_BOT);
                // The backend comes back after a second, with the new token.
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.backend
                    .answer(OPENIM_ACCOUNT, 200, json!({"token": fresh}));
                Ok(format!(
                    "{} token(s) expired, {dropped} connection(s) dropped, refresh answered 500 for 1 s",
                    tokens.len()
                ))
            }
            Fault::DuplicateDelivery { marker } => {
                let Some((conv, client_msg_id)) = lock(&self.markers).get(marker).cloned() else {
                    return Err(format!("no injected message {marker}").into());
                };
                let original = self
                    .sim
                    .messages(&conv)
                    .into_iter()
                    .find(|m| m.client_msg_id == client_msg_id)
                    .ok_or_else(|| format!("{marker} is not stored in {conv}"))?;
                // A second stored copy with the same clientMsgID, as servers do produce.
                let copy = self.sim.inject_msg(openim::pb::MsgData {
                    seq: 0,
                    server_msg_id: String::new(),
                    ..original
                });
                Ok(format!(
                    "a second copy of {marker} stored at seq {}",
                    copy.seq
                ))
            }
            other => Err(format!("openim cannot produce {other:?}").into()),
        }
    }

    fn after_exit(&self, _code: Option<i32>) -> bool {
        false
    }

    fn stored(&self) -> Vec<Stored> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.err_code == 0 && s.send_id == OPENIM_BOT)
            .filter_map(|s| {
                Some(Stored {
                    to: s.recv_id,
                    text: s.text?,
                    at_ms: s.at_ms,
                })
            })
            .collect()
    }

    fn covered(&self) -> Vec<&'static str> {
        vec![
            "connection drops (TCP close, and a close instead of a frame)",
            "malformed frames (not JSON, bad base64, bad protobuf, unknown reqIdentifier, oversized)",
            "delayed frames",
            "duplicate delivery (a second stored copy with the same clientMsgID)",
            "lost send answers (stored, answer never sent)",
            "token expiry with refresh over http (backend 500 for 1 s, then a new token)",
            "kicks (2002; tokens marked kicked; at most 2 per run)",
            "SIGKILL of the account process and restart on the same state",
        ]
    }

    fn not_covered(&self) -> Vec<NotCovered> {
        vec![
            NotCovered {
                fault: "server forgets the cursor",
                reason: "OpenIM keeps no per-client cursor: the client keeps its seqs, and the server's seqs are permanent",
            },
            NotCovered {
                fault: "5xx answers",
                reason: "messages go over the WebSocket gateway, which has no HTTP status; the refresh backend's 500 is covered under token expiry",
            },
        ]
    }
}

// ---- WeChat (iLink) -----------------------------------------------------------------------------

/// The account asks once more 2 s after a first "session expired" answer; a new expiry fault
/// waits this long after the last one answered, so that re-check stays clean.
const EXPIRY_QUIET_MS: u64 = 5_000;

struct Weixin {
    sim: IlinkSim,
    bot: Bot,
    peers: Vec<String>,
    markers: Mutex<std::collections::HashMap<String, u64>>,
    /// Set while the token is expired; cleared when the bot logged in again.
    expired: Mutex<bool>,
    /// A token expiry is in the schedule already.
    expiry_drawn: Mutex<bool>,
}

impl Weixin {
    async fn start(dir: &Path, peers: usize) -> Result<Self> {
        let sim = IlinkSim::start(IlinkOptions {
            hold: Duration::from_millis(1000),
            longpolling_timeout_ms: 5_000,
            ..IlinkOptions::default()
        })
        .await?;
        let bot = IlinkSim::new_bot();
        sim.add_bot(bot.clone());
        let state = channel_core::StateDir::new(dir.join("state"));
        let store = weixin::store::Store::new(state.channel(weixin::CHANNEL_ID));
        // What a QR login leaves behind, as Tencent's plugin writes it.
        store.save_account(
            &weixin::store::normalize_account_id(&bot.bot_id),
            &weixin::store::AccountFile {
                token: bot.token.clone(),
                saved_at: Some("2026-11-22T00:00:00.000Z".into()),
                base_url: Some(sim.base_url()),
                user_id: Some(bot.owner.clone()),
                bot_id: None,
            },
        )?;
        // Peer ids in WeChat's shape; the simulator knows a peer once it wrote.
        let peers = (0..peers)
            .map(|p| format!("o9cq80Chaos{p:04}xxxxxxxxxxxxx@im.wechat"))
            .collect();
        Ok(Self {
            sim,
            bot,
            peers,
            markers: Mutex::default(),
            expired: Mutex::new(false),
            expiry_drawn: Mutex::new(false),
        })
    }
}

#[async_trait::async_trait]
impl Network for Weixin {
    fn idempotent_sends(&self) -> bool {
        // iLink neither drops a repeated client_id (per the spec) nor lists what the bot sent.
        false
    }

    fn channel_id(&self) -> &'static str {
        weixin::CHANNEL_ID
    }

    fn account(&self) -> String {
        weixin::store::normalize_account_id(&self.bot.bot_id)
    }

    fn section(&self) -> Value {
        json!({
            "dmPolicy": "open",
            "allowFrom": ["*"],
            "accounts": {self.account(): {"baseUrl": self.sim.base_url()}},
        })
    }

    fn targets(&self) -> Vec<String> {
        self.peers.clone()
    }

    async fn inject(&self, peer: usize, text: &str) -> Result {
        let injected = self
            .sim
            .inject_text(&self.bot.bot_id, &self.peers[peer], text);
        lock(&self.markers).insert(text.to_owned(), injected.message_id);
        Ok(())
    }

    fn draw(&self, rng: &mut StdRng, _ahead: &str, behind: &str) -> Fault {
        let menu = [
            Fault::MalformedAnswer,
            Fault::NonJsonAnswer,
            Fault::EmptyAnswer,
            Fault::HttpStatus {
                status: pick(rng, &[500, 502, 503]),
            },
            Fault::AnswerDelay {
                ms: rng.random_range(200..3000),
            },
            Fault::SessionExpiredOnce,
            Fault::DuplicateDelivery {
                marker: behind.to_owned(),
            },
            Fault::StallSends {
                ms: rng.random_range(500..3000),
            },
            Fault::TokenExpiry,
        ];
        match pick(rng, &menu) {
            // One re-login per run: each costs a restart of the account by hand.
            Fault::TokenExpiry if std::mem::replace(&mut *lock(&self.expiry_drawn), true) => {
                Fault::SessionExpiredOnce
            }
            fault => fault,
        }
    }

    fn can_hit(&self, fault: &Fault) -> bool {
        let (queued, last_expiry) = self.sim.fault_state(&self.bot.bot_id);
        match fault {
            // One "session expired" answer, as the fault's name says. Two in a row (a second
            // queued behind the first, or one meeting the re-check the first one triggers) are
            // what a lost login looks like, and the account rightly stops for a new QR scan.
            Fault::SessionExpiredOnce => {
                queued == 0
                    && last_expiry.is_none_or(|at| {
                        crate::ledger::now_ms().saturating_sub(at) > EXPIRY_QUIET_MS
                    })
            }
            // A bad answer hits the poll of its moment. While the account is not polling (a
            // backoff, a restart, reading held back by a full inbox), the simulator would keep
            // each one for the next polls, and a pile of them would fail poll after poll.
            Fault::MalformedAnswer
            | Fault::NonJsonAnswer
            | Fault::EmptyAnswer
            | Fault::HttpStatus { .. }
            | Fault::AnswerDelay { .. } => queued == 0,
            _ => true,
        }
    }

    async fn apply(&self, fault: &Fault) -> Result<String> {
        let bot = &self.bot.bot_id;
        let queue = |f: ilink::Fault| {
            self.sim.fault(bot, f);
            Ok("queued for the next getupdates".to_owned())
        };
        match fault {
            Fault::MalformedAnswer => queue(ilink::Fault::MalformedBody),
            Fault::NonJsonAnswer => queue(ilink::Fault::NonJson200),
            Fault::EmptyAnswer => queue(ilink::Fault::EmptyBody200),
            Fault::HttpStatus { status } => queue(ilink::Fault::HttpStatus(*status)),
            Fault::AnswerDelay { ms } => queue(ilink::Fault::Delay(Duration::from_millis(*ms))),
            Fault::SessionExpiredOnce => {
                queue(ilink::Fault::SessionExpired(ExpiryVariant::ErrcodeOnly))
            }
            Fault::DuplicateDelivery { marker } => {
                let id = lock(&self.markers)
                    .get(marker)
                    .copied()
                    .ok_or_else(|| format!("no injected message {marker}"))?;
                if self.sim.redeliver(bot, id) {
                    Ok(format!("{marker} (message_id {id}) delivered again"))
                } else {
                    Err(format!("the simulator does not know {marker}").into())
                }
            }
            Fault::StallSends { ms } => {
                self.sim.stall_sends(0);
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                let hung = self.sim.stalled_sends();
                self.sim.resume_sends();
                Ok(format!(
                    "sendmessage hung for {ms} ms; {hung} hung call(s) answered 503"
                ))
            }
            Fault::TokenExpiry => {
                *lock(&self.expired) = true;
                self.sim.expire_token(bot);
                Ok("token revoked: every call answers -14 until the bot logs in again".into())
            }
            other => Err(format!("weixin cannot produce {other:?}").into()),
        }
    }

    fn after_exit(&self, code: Option<i32>) -> bool {
        if code == Some(i32::from(crate::EXIT_NEEDS_LOGIN)) && *lock(&self.expired) {
            // The person scans the QR code again: the same bot, its token valid again.
            self.sim.add_bot(self.bot.clone());
            *lock(&self.expired) = false;
            return true;
        }
        false
    }

    fn stored(&self) -> Vec<Stored> {
        self.sim
            .sent(&self.bot.bot_id)
            .into_iter()
            .filter(|s| s.accepted)
            .filter_map(|s| {
                Some(Stored {
                    to: s.to_user_id,
                    text: s.text?,
                    at_ms: s.at_ms,
                })
            })
            .collect()
    }

    fn token_expired(&self) -> bool {
        *lock(&self.expired)
    }

    fn peer_gap_ms(&self) -> u64 {
        // A person typing fast. iLink answers only with a peer's newest context token, 10 sends
        // per message: a faster peer makes replies wait for tokens no person would send.
        1000
    }

    fn covered(&self) -> Vec<&'static str> {
        vec![
            "getupdates answered with malformed JSON, HTML, an empty body, HTTP 500/502/503",
            "getupdates answered late",
            "one stale -14 answer while the token is valid",
            "duplicate delivery (same message_id, new seq)",
            "sendmessage hanging, then 503 for the hung calls (never stored)",
            "token expiry: -14 everywhere, the account stops (needs login), the bot logs in again and the account is started again (once per run)",
            "SIGKILL of the account process and restart on the same state",
        ]
    }

    fn not_covered(&self) -> Vec<NotCovered> {
        vec![
            NotCovered {
                fault: "server forgets the cursor",
                reason: "the iLink simulator keeps every message and always honours a cursor it issued; it has no way to forget one",
            },
            NotCovered {
                fault: "connection drops",
                reason: "iLink is plain HTTP long polling; the simulator has no fault that cuts a connection mid-answer (HTTP errors and delays are covered)",
            },
            NotCovered {
                fault: "token refresh",
                reason: "iLink tokens cannot be refreshed: only a new QR login gives one (covered as expiry + re-login)",
            },
            NotCovered {
                fault: "kicks",
                reason: "iLink has no kick; a bot bound elsewhere shows as an expired token",
            },
        ]
    }
}

// ---- NetEase Yunxin (server API + webhook) ------------------------------------------------------

const NIM_BOT: &str = "bot";
const NIM_PATH: &str = "/nim/webhook";
/// How long a copy is retried while the receiver does not answer 200, as NetEase does.
const PUSH_DEADLINE: Duration = Duration::from_secs(120);

struct Yunxin {
    sim: NimSim,
    port: u16,
    peers: Vec<String>,
    next_id: Mutex<u64>,
    pushed: Mutex<std::collections::HashMap<String, Pushed>>,
}

impl Yunxin {
    async fn start(peers: usize) -> Result<Self> {
        let sim = NimSim::start(NimOptions::default()).await?;
        sim.add_account(NIM_BOT, "unused-token");
        let peers: Vec<String> = (0..peers).map(|p| format!("p{p:02}")).collect();
        for peer in &peers {
            sim.add_account(peer, &format!("{peer}-token"));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        sim.set_webhook(&format!("http://127.0.0.1:{port}{NIM_PATH}"));
        Ok(Self {
            sim,
            port,
            peers,
            next_id: Mutex::new(7_100_000_000),
            pushed: Mutex::default(),
        })
    }

    /// A message copy as NetEase posts it (spec §4), with ids fixed here so that a copy whose
    /// POST failed can be posted again unchanged.
    fn copy_body(&self, from: &str, text: &str) -> String {
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            *next
        };
        json!({
            "eventType": "1",
            "convType": "PERSON",
            "to": NIM_BOT,
            "fromAccount": from,
            "fromClientType": "WEB",
            "fromDeviceId": format!("chaos-{from}"),
            "fromNick": from,
            "msgTimestamp": crate::ledger::now_ms().to_string(),
            "msgType": "TEXT",
            "body": text,
            "msgidClient": format!("chaos-{id}"),
            "msgidServer": id.to_string(),
            "resendFlag": "0",
        })
        .to_string()
    }
}

#[async_trait::async_trait]
impl Network for Yunxin {
    fn idempotent_sends(&self) -> bool {
        // NetEase's server API does not say it drops a repeated msgid; nothing lists our sends.
        false
    }

    fn channel_id(&self) -> &'static str {
        yunxin::CHANNEL_ID
    }

    fn account(&self) -> String {
        "default".into()
    }

    fn section(&self) -> Value {
        json!({
            "appKey": self.sim.app_key(), "accountId": NIM_BOT, "transport": "server-api",
            "dmPolicy": "open", "allowFrom": ["*"],
            "serverApi": {
                "appSecret": self.sim.app_secret(), "baseUrl": self.sim.base_url(),
                "webhookListen": format!("127.0.0.1:{}", self.port), "webhookPath": NIM_PATH,
            }
        })
    }

    fn targets(&self) -> Vec<String> {
        self.peers.clone()
    }

    async fn inject(&self, peer: usize, text: &str) -> Result {
        let body = self.copy_body(&self.peers[peer], text);
        let deadline = tokio::time::Instant::now() + PUSH_DEADLINE;
        loop {
            // Signed afresh on each try: NetEase does not say whether a retry is, and the
            // receiver must take both.
            let last = match self.sim.push_signed(&body).await {
                Ok(pushed) if pushed.status == 200 => {
                    lock(&self.pushed).insert(text.to_owned(), pushed);
                    return Ok(());
                }
                Ok(pushed) => format!("HTTP {}", pushed.status),
                Err(err) => err.to_string(),
            };
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the webhook did not take {text} within {PUSH_DEADLINE:?}: {last}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn draw(&self, rng: &mut StdRng, _ahead: &str, behind: &str) -> Fault {
        let menu = [
            Fault::RestServerError {
                calls: rng.random_range(1..4),
            },
            Fault::RestRateLimit {
                calls: rng.random_range(1..4),
            },
            Fault::RestHang {
                calls: rng.random_range(1..3),
                ms: rng.random_range(200..3000),
            },
            Fault::DuplicateDelivery {
                marker: behind.to_owned(),
            },
        ];
        pick(rng, &menu)
    }

    async fn apply(&self, fault: &Fault) -> Result<String> {
        match fault {
            Fault::RestServerError { calls } => {
                self.sim.set_fault(NimFault::ServerError { calls: *calls });
                Ok(format!("the next {calls} REST call(s) answer 500"))
            }
            Fault::RestRateLimit { calls } => {
                self.sim.set_fault(NimFault::RateLimit { calls: *calls });
                Ok(format!("the next {calls} REST call(s) answer 416"))
            }
            Fault::RestHang { calls, ms } => {
                self.sim.set_fault(NimFault::Hang {
                    calls: *calls,
                    delay: Duration::from_millis(*ms),
                });
                Ok(format!("the next {calls} REST call(s) are held {ms} ms"))
            }
            Fault::DuplicateDelivery { marker } => {
                let pushed = lock(&self.pushed)
                    .get(marker)
                    .cloned()
                    .ok_or_else(|| format!("no pushed copy of {marker}"))?;
                // Byte for byte, old signature included, as a NetEase retry.
                let again = self.sim.redeliver(&pushed).await?;
                Ok(format!("{marker} posted again; answered {}", again.status))
            }
            other => Err(format!("yunxin cannot produce {other:?}").into()),
        }
    }

    fn after_exit(&self, _code: Option<i32>) -> bool {
        false
    }

    fn stored(&self) -> Vec<Stored> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.sender == NIM_BOT)
            .filter_map(|s| {
                Some(Stored {
                    to: s.receiver,
                    text: s.text?,
                    at_ms: s.create_time,
                })
            })
            .collect()
    }

    fn covered(&self) -> Vec<&'static str> {
        vec![
            "REST sends answered 500, 416 (rate limit), or held (client timeouts)",
            "duplicate delivery (the same copy posted again, byte for byte)",
            "webhook copies refused while the receiver is down, posted again until 200 (NetEase's retry)",
            "SIGKILL of the account process (mid-copy, mid-turn, mid-send) and restart on the same state",
        ]
    }

    fn not_covered(&self) -> Vec<NotCovered> {
        vec![
            NotCovered {
                fault: "connection drops",
                reason: "transport server-api has no standing connection: each copy and each send is one HTTP request (a receiver killed mid-request is covered by the SIGKILLs)",
            },
            NotCovered {
                fault: "token expiry and refresh",
                reason: "server-api signs every call with the app secret; there is no token to expire",
            },
            NotCovered {
                fault: "kicks",
                reason: "server-api never logs in as a client, so nothing can kick it",
            },
            NotCovered {
                fault: "server forgets the cursor",
                reason: "copies are pushed; there is no cursor",
            },
            NotCovered {
                fault: "malformed answers",
                reason: "the NIM simulator has no fault that garbles a REST answer (500 and 416 are covered)",
            },
        ]
    }
}
