//! The simulator's memory and the server-side rules that act on it.
//!
//! Everything runs synchronously under one `std::sync::Mutex`; handlers take the lock, decide, and
//! release it before any `.await`. Waiting (long-poll holds, `wait_sent`) goes through `watch`
//! channels that are bumped whenever relevant state changes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::cdn::CdnStore;
use super::qr::QrBook;
use super::types::{Bot, Fault, Injected, RequestRecord, Sent};
use super::wire::{self, IdGen};
use super::{Addrs, IlinkOptions};
use crate::http::now_ms;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SimError {
    #[error("unknown bot `{0}`")]
    UnknownBot(String),
    #[error("no bot has been added yet")]
    NoBots,
    #[error("{0}")]
    BadMessage(String),
    #[error("unknown qrcode `{0}`")]
    UnknownQrcode(String),
    #[error("no QR code has been issued yet")]
    NoQrcodes,
    /// The request is well-formed but the object is in the wrong state for it.
    #[error("{0}")]
    Conflict(String),
}

/// `sendmessage` calls let through before the server stops answering, and those hanging now.
#[derive(Debug, Default)]
struct Stall {
    passes: Option<u32>,
    hanging: usize,
}

/// State shared by the HTTP handlers and the `IlinkSim` handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) opts: IlinkOptions,
    /// Where each listener of this simulator is bound.
    pub(crate) addrs: Addrs,
    /// QR login sessions (own lock; never held while taking `state`'s, except to register a bot).
    pub(crate) qr: QrBook,
    /// CDN tickets, files and uploads (own lock, never nested with the others).
    pub(crate) cdn: CdnStore,
    state: Mutex<State>,
    /// Bumped on every recorded `sendmessage`, for `wait_sent`.
    sent_tx: watch::Sender<u64>,
    /// Stalled sends ([`Shared::stall_sends`]).
    stall: Mutex<Stall>,
    /// Bumped by [`Shared::resume_sends`]: stalled sends give up.
    resumed: watch::Sender<u64>,
    /// Set to `true` when the `IlinkSim` is dropped; held long-polls return at once.
    pub(crate) shutdown: watch::Sender<bool>,
}

#[derive(Debug)]
struct State {
    /// In insertion order, because "the first bot" is the admin API's default.
    bots: Vec<BotState>,
    requests: Vec<RequestRecord>,
    ids: IdGen,
}

#[derive(Debug)]
struct BotState {
    bot: Bot,
    /// Token revoked (`expire_token`): every endpoint answers -14 until `add_bot` again.
    revoked: bool,
    log: Vec<LogEntry>,
    last_seq: u64,
    /// Users who have sent to this bot, keyed by their exact (case-sensitive) id.
    peers: HashMap<String, Peer>,
    faults: VecDeque<Fault>,
    /// When a queued fault last answered a poll with "session expired" (unix ms).
    expired_answered_ms: Option<u64>,
    sent: Vec<Sent>,
    online: bool,
    typing: Vec<(String, u8)>,
    /// typing ticket → user it was issued for
    tickets: HashMap<String, String>,
    /// Carries the latest `seq`; also bumped on revocation so held polls re-check.
    wake: watch::Sender<u64>,
}

#[derive(Debug)]
struct LogEntry {
    seq: u64,
    message_id: u64,
    msg: Value,
    /// A copy appended by at-least-once emulation; never itself scheduled for redelivery.
    is_redelivery: bool,
    redelivery_scheduled: bool,
}

/// Per (bot, user) server-side context: the send window of spec §9.
#[derive(Debug)]
struct Peer {
    context_token: String,
    session_id: String,
    last_inbound: Instant,
    sends_since_inbound: u32,
}

/// Outcome of one look at the log by a `getupdates` call.
#[derive(Debug)]
pub(crate) enum Poll {
    /// Messages to return now, and the ids that should be redelivered later (first deliveries).
    Ready {
        response: Value,
        redeliver: Vec<u64>,
    },
    /// Nothing new; wait for the receiver to change.
    Wait(watch::Receiver<u64>),
    Revoked,
}

/// Who an authenticated request belongs to.
#[derive(Debug)]
pub(crate) enum Auth {
    Bot(String),
    Expired,
}

/// A parsed `sendmessage` request, ready for the rules.
#[derive(Debug)]
pub(crate) struct SendRequest {
    pub to_user_id: String,
    pub client_id: String,
    pub context_token: Option<String>,
    pub run_id: Option<String>,
    pub text: Option<String>,
    pub longest_text_chars: usize,
    pub items: Value,
    pub body: Value,
    pub headers: BTreeMap<String, String>,
}

impl Shared {
    pub(crate) fn new(opts: IlinkOptions, addrs: Addrs) -> Self {
        Self {
            qr: QrBook::default(),
            cdn: CdnStore::new(opts.upload_full_url),
            opts,
            addrs,
            state: Mutex::new(State {
                bots: Vec::new(),
                requests: Vec::new(),
                ids: IdGen::new(),
            }),
            sent_tx: watch::channel(0).0,
            stall: Mutex::default(),
            resumed: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        }
    }

    /// From now on `after` more `sendmessage` calls pass; later ones hang until
    /// [`Shared::resume_sends`] (a server that stopped answering).
    pub(crate) fn stall_sends(&self, after: u32) {
        self.stall_lock().passes = Some(after);
    }

    /// Ends a stall: what hung is answered 503 without reaching the rules (never accepted).
    pub(crate) fn resume_sends(&self) {
        self.stall_lock().passes = None;
        self.resumed.send_modify(|n| *n += 1);
    }

    pub(crate) fn stalled_sends(&self) -> usize {
        self.stall_lock().hanging
    }

    /// Whether this `sendmessage` may reach the rules; a stalled one waits, then gets `false`.
    pub(crate) async fn admit_send(&self) -> bool {
        let mut resumed = self.resumed.subscribe();
        let mut shutdown = self.shutdown.subscribe();
        {
            let mut stall = self.stall_lock();
            match &mut stall.passes {
                None => return true,
                Some(0) => stall.hanging += 1,
                Some(n) => {
                    *n -= 1;
                    return true;
                }
            }
        }
        tokio::select! {
            _ = resumed.changed() => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
        self.stall_lock().hanging -= 1;
        false
    }

    fn stall_lock(&self) -> MutexGuard<'_, Stall> {
        self.stall.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent-enough data for a test fake.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record_request(&self, record: RequestRecord) {
        self.lock().requests.push(record);
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// Adds a bot, or re-logs an existing one in with a (possibly new) token; history is kept.
    pub(crate) fn add_bot(&self, bot: Bot) {
        let mut st = self.lock();
        if let Some(existing) = st.bots.iter_mut().find(|b| b.bot.bot_id == bot.bot_id) {
            existing.bot = bot;
            existing.revoked = false;
            return;
        }
        st.bots.push(BotState {
            bot,
            revoked: false,
            log: Vec::new(),
            last_seq: 0,
            peers: HashMap::new(),
            faults: VecDeque::new(),
            expired_answered_ms: None,
            sent: Vec::new(),
            online: false,
            typing: Vec::new(),
            tickets: HashMap::new(),
            wake: watch::channel(0).0,
        });
    }

    /// A QR login bound `bot`: register it, and revoke every other bot of the same WeChat user,
    /// because a user can be bound to one bot at a time (spec §1, #69). Returns the revoked ids.
    pub(crate) fn bind_bot(&self, bot: Bot) -> Vec<String> {
        let owner = bot.owner.clone();
        let bot_id = bot.bot_id.clone();
        self.add_bot(bot);
        let mut st = self.lock();
        let mut revoked = Vec::new();
        for other in st.bots.iter_mut() {
            if other.bot.owner == owner && other.bot.bot_id != bot_id && !other.revoked {
                other.revoked = true;
                other.wake.send_modify(|_| {});
                revoked.push(other.bot.bot_id.clone());
            }
        }
        revoked
    }

    /// A fresh server id (for item `msg_id`s of messages built outside this module).
    pub(crate) fn next_id(&self) -> u64 {
        self.lock().ids.next_id()
    }

    pub(crate) fn bots(&self) -> Vec<Bot> {
        self.lock().bots.iter().map(|b| b.bot.clone()).collect()
    }

    /// `requested` if given and known, else the first bot (admin API default).
    pub(crate) fn resolve_bot(&self, requested: Option<&str>) -> Result<Bot, SimError> {
        let st = self.lock();
        match requested {
            Some(id) => st.bot(id).map(|b| b.bot.clone()),
            None => st
                .bots
                .first()
                .map(|b| b.bot.clone())
                .ok_or(SimError::NoBots),
        }
    }

    /// The WeChat user a bot is bound to.
    pub(crate) fn bot_owner(&self, bot_id: &str) -> Option<String> {
        let st = self.lock();
        st.bots
            .iter()
            .find(|b| b.bot.bot_id == bot_id)
            .map(|b| b.bot.owner.clone())
    }

    pub(crate) fn authenticate(&self, token: Option<&str>) -> Auth {
        let st = self.lock();
        let found = token.and_then(|t| st.bots.iter().find(|b| !b.revoked && b.bot.token == t));
        match found {
            Some(b) => Auth::Bot(b.bot.bot_id.clone()),
            None => Auth::Expired,
        }
    }

    /// The bot a bearer token belongs to, revoked or not: what the network in front of the
    /// server keys its faults by.
    pub(crate) fn bot_for_token(&self, token: Option<&str>) -> Option<String> {
        let token = token?;
        self.lock()
            .bots
            .iter()
            .find(|b| b.bot.token == token)
            .map(|b| b.bot.bot_id.clone())
    }

    pub(crate) fn inject_text(
        &self,
        bot_id: &str,
        from: &str,
        text: &str,
    ) -> Result<Injected, SimError> {
        let mut st = self.lock();
        let State { bots, ids, .. } = &mut *st;
        let bot = find_mut(bots, bot_id)?;
        let (message_id, item_msg_id) = (ids.next_id(), ids.next_id());
        let context_token = wire::random_context_token();
        let session_id = bot.touch_peer(from, &context_token);
        let seq = bot.last_seq + 1;
        let msg = wire::text_message(&wire::TextMessage {
            seq,
            message_id,
            item_msg_id,
            from,
            bot_id,
            create_time_ms: now_ms(),
            session_id: &session_id,
            context_token: &context_token,
            text,
        });
        bot.append(message_id, msg, false);
        Ok(Injected {
            seq,
            message_id,
            context_token,
            media: None,
        })
    }

    /// `count` texts under one lock, senders taken in turn from `from`: a burst that a poll
    /// sees whole, or not at all. Returns the last `seq`.
    pub(crate) fn inject_texts(
        &self,
        bot_id: &str,
        from: &[String],
        count: usize,
    ) -> Result<u64, SimError> {
        if from.is_empty() {
            return Err(SimError::BadMessage("`from` names no sender".into()));
        }
        let mut st = self.lock();
        let State { bots, ids, .. } = &mut *st;
        let bot = find_mut(bots, bot_id)?;
        for n in 0..count {
            let sender = &from[n % from.len()];
            let (message_id, item_msg_id) = (ids.next_id(), ids.next_id());
            let context_token = wire::random_context_token();
            let session_id = bot.touch_peer(sender, &context_token);
            let msg = wire::text_message(&wire::TextMessage {
                seq: bot.last_seq + 1,
                message_id,
                item_msg_id,
                from: sender,
                bot_id,
                create_time_ms: now_ms(),
                session_id: &session_id,
                context_token: &context_token,
                text: &format!("message {n}"),
            });
            bot.append(message_id, msg, false);
        }
        Ok(bot.last_seq)
    }

    /// Injects a raw `WeixinMessage`. `seq` is always assigned by the simulator (the cursor depends on
    /// it); `message_id`, `context_token`, `create_time_ms`, `from_user_id` (the owner),
    /// `to_user_id` (the bot), `message_type` (1) and `message_state` (2) are filled if absent.
    pub(crate) fn inject_message(&self, bot_id: &str, msg: Value) -> Result<Injected, SimError> {
        let Value::Object(mut msg) = msg else {
            return Err(SimError::BadMessage("message must be a JSON object".into()));
        };
        let mut st = self.lock();
        let State { bots, ids, .. } = &mut *st;
        let bot = find_mut(bots, bot_id)?;

        let message_id = match msg.get("message_id") {
            None | Some(Value::Null) => {
                let id = ids.next_id();
                msg.insert("message_id".into(), json!(id));
                id
            }
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(v) => v.as_u64().unwrap_or(0),
        };
        let context_token = fill_str(&mut msg, "context_token", wire::random_context_token);
        let from = fill_str(&mut msg, "from_user_id", || bot.bot.owner.clone());
        fill_str(&mut msg, "to_user_id", || bot_id.to_owned());
        let session_id = bot.touch_peer(&from, &context_token);
        fill_str(&mut msg, "session_id", || session_id);
        msg.entry("create_time_ms")
            .or_insert_with(|| json!(now_ms()));
        msg.entry("message_type").or_insert(json!(1));
        msg.entry("message_state").or_insert(json!(2));
        let seq = bot.last_seq + 1;
        msg.insert("seq".into(), json!(seq));
        bot.append(message_id, Value::Object(msg), false);
        Ok(Injected {
            seq,
            message_id,
            context_token,
            media: None,
        })
    }

    /// Puts the latest copy of `message_id` back into the stream under a new `seq`.
    pub(crate) fn redeliver(&self, bot_id: &str, message_id: u64) -> Result<bool, SimError> {
        let mut st = self.lock();
        let bot = find_mut(&mut st.bots, bot_id)?;
        Ok(bot.redeliver(message_id))
    }

    pub(crate) fn redeliver_all(&self, bot_id: &str, message_ids: &[u64]) {
        let mut st = self.lock();
        if let Ok(bot) = find_mut(&mut st.bots, bot_id) {
            for &id in message_ids {
                bot.redeliver(id);
            }
        }
    }

    pub(crate) fn push_fault(&self, bot_id: &str, fault: Fault) -> Result<(), SimError> {
        find_mut(&mut self.lock().bots, bot_id)?
            .faults
            .push_back(fault);
        Ok(())
    }

    pub(crate) fn take_fault(&self, bot_id: &str) -> Option<Fault> {
        let mut st = self.lock();
        let bot = find_mut(&mut st.bots, bot_id).ok()?;
        let fault = bot.faults.pop_front();
        if matches!(fault, Some(Fault::SessionExpired(_))) {
            bot.expired_answered_ms = Some(now_ms());
        }
        fault
    }

    /// Faults still queued for the bot, and when one last answered "session expired".
    pub(crate) fn fault_state(&self, bot_id: &str) -> Result<(usize, Option<u64>), SimError> {
        let mut st = self.lock();
        let bot = find_mut(&mut st.bots, bot_id)?;
        Ok((bot.faults.len(), bot.expired_answered_ms))
    }

    pub(crate) fn expire_token(&self, bot_id: &str) -> Result<(), SimError> {
        let mut st = self.lock();
        let bot = find_mut(&mut st.bots, bot_id)?;
        bot.revoked = true;
        bot.wake.send_modify(|_| {});
        Ok(())
    }

    /// One look at the log for `getupdates`: messages with `seq > after`, if any.
    pub(crate) fn poll(&self, bot_id: &str, after: u64) -> Poll {
        let mut st = self.lock();
        let Ok(bot) = find_mut(&mut st.bots, bot_id) else {
            return Poll::Revoked;
        };
        if bot.revoked {
            return Poll::Revoked;
        }
        // The log is in `seq` order (every append takes the next one).
        let start = bot.log.partition_point(|e| e.seq <= after);
        let end = self
            .opts
            .batch
            .map_or(bot.log.len(), |most| start.saturating_add(most.max(1)))
            .min(bot.log.len());
        let batch = &mut bot.log[start..end];
        let mut msgs = Vec::with_capacity(batch.len());
        let mut redeliver = Vec::new();
        for entry in batch.iter_mut() {
            msgs.push(entry.msg.clone());
            if !entry.is_redelivery && !entry.redelivery_scheduled {
                entry.redelivery_scheduled = true;
                redeliver.push(entry.message_id);
            }
        }
        let Some(last) = batch.last() else {
            return Poll::Wait(bot.wake.subscribe());
        };
        let response = json!({
            "ret": 0,
            "errmsg": "",
            "msgs": msgs,
            "get_updates_buf": wire::encode_cursor(bot_id, last.seq),
            "longpolling_timeout_ms": self.opts.longpolling_timeout_ms,
        });
        Poll::Ready {
            response,
            redeliver,
        }
    }

    /// Applies the `sendmessage` rules (spec §3.4, §9, §14) in order, records the call, and returns the answer.
    pub(crate) fn send(&self, bot_id: &str, req: SendRequest) -> Value {
        let mut st = self.lock();
        let State { bots, ids, .. } = &mut *st;
        let Ok(bot) = find_mut(bots, bot_id) else {
            return wire::session_expired(Default::default());
        };
        let opts = &self.opts;
        let mut message_id = None;
        let result = match bot.peers.get_mut(&req.to_user_id) {
            None => wire::ret(-3, "invalid arguments"),
            Some(peer) if req.context_token.as_deref() != Some(peer.context_token.as_str()) => {
                wire::ret(-2, "")
            }
            Some(peer)
                if peer.sends_since_inbound >= opts.window_max_sends
                    || peer.last_inbound.elapsed() > opts.window =>
            {
                wire::ret(-2, "")
            }
            Some(_) if req.longest_text_chars > opts.max_text_chars => {
                wire::ret(-2, "prepare failed")
            }
            Some(peer) => {
                peer.sends_since_inbound += 1;
                let id = ids.next_id();
                message_id = Some(id);
                json!({ "ret": 0, "errmsg": "", "message_id": id })
            }
        };
        bot.sent.push(Sent {
            to_user_id: req.to_user_id,
            client_id: req.client_id,
            context_token: req.context_token,
            run_id: req.run_id,
            text: req.text,
            items: req.items,
            body: req.body,
            headers: req.headers,
            result: result.clone(),
            accepted: message_id.is_some(),
            message_id,
            at_ms: now_ms(),
        });
        drop(st);
        self.sent_tx.send_modify(|n| *n += 1);
        result
    }

    pub(crate) fn sent(&self, bot_id: &str) -> Vec<Sent> {
        self.with_bot(bot_id, |b| b.sent.clone())
            .unwrap_or_default()
    }

    pub(crate) fn inbound(&self, bot_id: &str) -> Vec<Value> {
        self.with_bot(bot_id, |b| {
            b.log
                .iter()
                .filter(|e| !e.is_redelivery)
                .map(|e| e.msg.clone())
                .collect()
        })
        .unwrap_or_default()
    }

    pub(crate) fn accepted(&self, bot_id: &str) -> Vec<Sent> {
        self.with_bot(bot_id, |b| {
            b.sent.iter().filter(|s| s.accepted).cloned().collect()
        })
        .unwrap_or_default()
    }

    pub(crate) fn subscribe_sent(&self) -> watch::Receiver<u64> {
        self.sent_tx.subscribe()
    }

    pub(crate) fn issue_ticket(&self, bot_id: &str, user: &str) -> String {
        let ticket = wire::random_typing_ticket();
        let mut st = self.lock();
        if let Ok(bot) = find_mut(&mut st.bots, bot_id) {
            bot.tickets.insert(ticket.clone(), user.to_owned());
        }
        ticket
    }

    /// Records a typing status if the ticket was issued by this bot; returns whether it was.
    pub(crate) fn typing_status(&self, bot_id: &str, ticket: &str, user: &str, status: u8) -> bool {
        let mut st = self.lock();
        let Ok(bot) = find_mut(&mut st.bots, bot_id) else {
            return false;
        };
        if !bot.tickets.contains_key(ticket) {
            return false;
        }
        bot.typing.push((user.to_owned(), status));
        true
    }

    pub(crate) fn typing(&self, bot_id: &str) -> Vec<(String, u8)> {
        self.with_bot(bot_id, |b| b.typing.clone())
            .unwrap_or_default()
    }

    pub(crate) fn set_online(&self, bot_id: &str, online: bool) {
        if let Ok(bot) = find_mut(&mut self.lock().bots, bot_id) {
            bot.online = online;
        }
    }

    pub(crate) fn online(&self, bot_id: &str) -> bool {
        self.with_bot(bot_id, |b| b.online).unwrap_or(false)
    }

    /// A JSON snapshot for `GET /_admin/state`.
    pub(crate) fn snapshot(&self) -> Value {
        let st = self.lock();
        let bots: Vec<Value> = st
            .bots
            .iter()
            .map(|b| {
                let mut users: Vec<Value> = b
                    .peers
                    .iter()
                    .map(|(id, p)| {
                        json!({
                            "user_id": id,
                            "context_token": p.context_token,
                            "session_id": p.session_id,
                            "sends_since_inbound": p.sends_since_inbound,
                            "ms_since_inbound": u64::try_from(p.last_inbound.elapsed().as_millis()).unwrap_or(u64::MAX),
                        })
                    })
                    .collect();
                users.sort_by(|a, b| a["user_id"].as_str().cmp(&b["user_id"].as_str()));
                json!({
                    "bot_id": b.bot.bot_id,
                    "token": b.bot.token,
                    "owner": b.bot.owner,
                    "token_valid": !b.revoked,
                    "online": b.online,
                    "last_seq": b.last_seq,
                    "log_len": b.log.len(),
                    "sent": b.sent.len(),
                    "pending_faults": b.faults.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
                    "typing": b.typing,
                    "users": users,
                })
            })
            .collect();
        json!({ "bots": bots, "requests": st.requests.len() })
    }

    fn with_bot<T>(&self, bot_id: &str, f: impl FnOnce(&BotState) -> T) -> Option<T> {
        self.lock().bot(bot_id).ok().map(f)
    }
}

impl State {
    fn bot(&self, bot_id: &str) -> Result<&BotState, SimError> {
        self.bots
            .iter()
            .find(|b| b.bot.bot_id == bot_id)
            .ok_or_else(|| SimError::UnknownBot(bot_id.to_owned()))
    }
}

fn find_mut<'a>(bots: &'a mut [BotState], bot_id: &str) -> Result<&'a mut BotState, SimError> {
    bots.iter_mut()
        .find(|b| b.bot.bot_id == bot_id)
        .ok_or_else(|| SimError::UnknownBot(bot_id.to_owned()))
}

/// Returns the string at `key`, inserting `default()` first if it is absent or not a string.
fn fill_str(msg: &mut Map<String, Value>, key: &str, default: impl FnOnce() -> String) -> String {
    if let Some(Value::String(s)) = msg.get(key) {
        return s.clone();
    }
    let value = default();
    msg.insert(key.to_owned(), Value::String(value.clone()));
    value
}

impl BotState {
    /// A user message opens a fresh send window and makes its token the only valid one (spec §9).
    /// Returns the user's session id.
    fn touch_peer(&mut self, user: &str, context_token: &str) -> String {
        let peer = self.peers.entry(user.to_owned()).or_insert_with(|| Peer {
            context_token: String::new(),
            session_id: wire::random_session_id(),
            last_inbound: Instant::now(),
            sends_since_inbound: 0,
        });
        peer.context_token = context_token.to_owned();
        peer.last_inbound = Instant::now();
        peer.sends_since_inbound = 0;
        peer.session_id.clone()
    }

    fn append(&mut self, message_id: u64, msg: Value, is_redelivery: bool) {
        self.last_seq += 1;
        self.log.push(LogEntry {
            seq: self.last_seq,
            message_id,
            msg,
            is_redelivery,
            redelivery_scheduled: false,
        });
        self.wake.send_replace(self.last_seq);
    }

    /// Same JSON, same `message_id` and `context_token`, new `seq`: what at-least-once looks like.
    /// Peer state is untouched, because no new user message was sent.
    fn redeliver(&mut self, message_id: u64) -> bool {
        let Some(entry) = self.log.iter().rev().find(|e| e.message_id == message_id) else {
            return false;
        };
        let mut msg = entry.msg.clone();
        if let Some(obj) = msg.as_object_mut() {
            obj.insert("seq".into(), json!(self.last_seq + 1));
        }
        self.append(message_id, msg, true);
        true
    }
}
