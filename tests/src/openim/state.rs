//! The simulator's memory: users, groups, friends, tokens, live connections, objects and the
//! records tests read back. Messages and seqs live in `msgs.rs` (same `State`).
//!
//! Everything sits under one `std::sync::Mutex`; handlers lock, decide, enqueue frames with
//! `try_send` and unlock before any `.await`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::errs::{CodeError, CodeResult, code};
use super::jwt::{self, Claims};
use super::msgs::{ConvRec, UserConv};
use super::objects::ObjectStore;
use super::pb;
use super::types::{ConnInfo, Fault, FriendCall, MultiLoginPolicy, RestCall, Sent, User};
use super::{Addrs, OpenImOptions};
use crate::http::now_ms;

/// Platform ids 1–11 (spec §2.2).
pub(crate) fn valid_platform(p: i32) -> bool {
    (1..=11).contains(&p)
}

pub(crate) const ADMIN_PLATFORM: i32 = 10;

/// Platform class for multi-login policy 4.
fn platform_class(p: i32) -> i32 {
    match p {
        1 | 2 => 1,     // Mobile
        3 | 4 | 7 => 2, // PC
        8 | 9 => 3,     // Pad
        other => 100 + other,
    }
}

pub(crate) fn now_s() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX)
}

pub(crate) fn now_ms_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// A 32-hex id, like the server's md5-based ids.
pub(crate) fn hex32() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A frame for one connection's writer.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    /// A response or push (binary frame, gzip'd when the connection asked for it).
    Frame(WsResp),
    /// A text frame (heartbeat pong).
    Text(String),
    /// Flush what is queued before, then drop TCP (no close frame).
    Close,
}

/// The `Resp` envelope (spec §1.3), field order as the Go struct.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct WsResp {
    #[serde(rename = "reqIdentifier")]
    pub req_identifier: i32,
    #[serde(rename = "msgIncr")]
    pub msg_incr: String,
    #[serde(rename = "operationID")]
    pub operation_id: String,
    #[serde(rename = "errCode")]
    pub err_code: i32,
    #[serde(rename = "errMsg")]
    pub err_msg: String,
    /// Standard base64 of the protobuf; `null` when empty.
    pub data: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ConnRec {
    pub info: ConnInfo,
    pub tx: mpsc::Sender<Out>,
    /// Set to `true` to drop the TCP connection at once (nothing more is written).
    pub kill: watch::Sender<bool>,
    /// Users whose online status this connection subscribed to (2005).
    pub subs: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub user_id: String,
    pub platform_id: i32,
    pub kicked: bool,
    /// Set by `expire_token`: answers 1501 as if `exp` had passed.
    pub force_expired: bool,
    pub issued: u64,
    /// The `exp` claim (unix seconds).
    pub exp: i64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MemberRec {
    pub role_level: i32,
    pub join_time: i64,
    pub nickname: String,
    pub join_source: i32,
    pub operator_user_id: String,
    pub inviter_user_id: String,
    pub mute_end_time: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupRec {
    pub info: pb::GroupInfo,
    pub members: BTreeMap<String, MemberRec>,
}

impl GroupRec {
    pub(crate) fn info(&self) -> pb::GroupInfo {
        let mut info = self.info.clone();
        info.member_count = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        info
    }

    pub(crate) fn member_info(&self, user: &str, users: &BTreeMap<String, User>) -> Value {
        let m = self.members.get(user).cloned().unwrap_or_default();
        let u = users.get(user);
        serde_json::json!({
            "groupID": self.info.group_id,
            "userID": user,
            "roleLevel": m.role_level,
            "joinTime": m.join_time,
            "nickname": if m.nickname.is_empty() { u.map(|u| u.nickname.clone()).unwrap_or_default() } else { m.nickname.clone() },
            "faceURL": u.map(|u| u.face_url.clone()).unwrap_or_default(),
            "appMangerLevel": 0,
            "joinSource": m.join_source,
            "operatorUserID": m.operator_user_id,
            "ex": "",
            "muteEndTime": m.mute_end_time,
            "inviterUserID": m.inviter_user_id,
        })
    }
}

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub(crate) struct FriendRec {
    pub remark: String,
    pub create_time: i64,
    pub add_source: i32,
    pub operator_user_id: String,
    pub ex: String,
    pub is_pinned: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct FriendReqRec {
    pub from: String,
    pub to: String,
    pub req_msg: String,
    pub ex: String,
    /// 0 pending, 1 accepted, -1 refused
    pub handle_result: i32,
    pub handle_msg: String,
    pub create_time: i64,
    pub handle_time: i64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub users: BTreeMap<String, User>,
    pub user_create_time: BTreeMap<String, i64>,
    pub groups: BTreeMap<String, GroupRec>,
    /// owner → friend → record
    pub friends: BTreeMap<String, BTreeMap<String, FriendRec>>,
    pub friend_requests: Vec<FriendReqRec>,
    /// (owner, blocked)
    pub blacks: BTreeSet<(String, String)>,
    pub tokens: BTreeMap<String, TokenRec>,
    pub token_counter: u64,
    pub convs: BTreeMap<String, ConvRec>,
    /// user → conversation → the user's record of it
    pub records: BTreeMap<String, BTreeMap<String, UserConv>>,
    pub conns: BTreeMap<u64, ConnRec>,
    pub next_conn: u64,
    pub sent: Vec<Sent>,
    pub faults: BTreeMap<String, VecDeque<Fault>>,
    /// user → how long the server takes before it reads the user's next request frame.
    pub read_stalls: BTreeMap<String, std::time::Duration>,
    /// Sends whose content contains one of these are stored and pushed, but never answered.
    pub lost_replies: Vec<String>,
    pub friend_calls: Vec<FriendCall>,
    pub rest_calls: Vec<RestCall>,
    pub objects: ObjectStore,
    /// Per-user version counters of the incremental-sync lists (`friend`, `group`, `conv`).
    pub versions: BTreeMap<(&'static str, String), u64>,
    pub unknown_counter: u64,
}

/// State shared by the listeners and the `OpenImSim` handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub opts: OpenImOptions,
    pub addrs: Addrs,
    /// Identifies this simulator run in incremental-sync `versionID`s.
    pub version_id: String,
    state: Mutex<State>,
    /// Set to `true` when the `OpenImSim` is dropped.
    pub shutdown: watch::Sender<bool>,
    /// Bumped on every recorded send, connection change and upload, for the `wait_*` helpers.
    pub changed: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(opts: OpenImOptions, addrs: Addrs) -> Self {
        let mut state = State::default();
        for admin in &opts.admin_user_ids {
            state.add_user(User::new(admin));
        }
        Self {
            opts,
            addrs,
            version_id: format!("imsim-{}", &hex32()[..12]),
            state: Mutex::new(state),
            shutdown: watch::channel(false).0,
            changed: watch::channel(0).0,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn is_admin(&self, user: &str) -> bool {
        self.opts.admin_user_ids.iter().any(|a| a == user)
    }

    // ---- tokens (spec §4, §1.9) ----------------------------------------------------------------

    /// Issues a token the way `get_user_token` / `get_admin_token` do, applying the multi-login
    /// policy to the user's older tokens. `ttl_s` may be negative (already expired).
    pub(crate) fn issue_token(&self, user_id: &str, platform_id: i32, ttl_s: i64) -> String {
        let mut st = self.lock();
        let policy = self.opts.multi_login_policy;
        let now = now_s();
        // the server deletes expired and non-normal tokens of the user+platform first
        let secret = self.opts.secret.as_bytes();
        st.tokens.retain(|tok, rec| {
            !(rec.user_id == user_id
                && rec.platform_id == platform_id
                && (rec.kicked || rec.force_expired || jwt::verify(secret, tok, now).is_err()))
        });
        let same_slot = |p: i32| match policy {
            MultiLoginPolicy::NoKick => false,
            MultiLoginPolicy::SamePlatformKick => p == platform_id,
            MultiLoginPolicy::SameClassKick => platform_class(p) == platform_class(platform_id),
            MultiLoginPolicy::SingleTerminal => true,
        };
        let mut newest_other: BTreeMap<i32, u64> = BTreeMap::new();
        for rec in st.tokens.values() {
            if rec.user_id == user_id && !rec.kicked && !same_slot(rec.platform_id) {
                let e = newest_other.entry(rec.platform_id).or_insert(0);
                *e = (*e).max(rec.issued);
            }
        }
        for rec in st.tokens.values_mut() {
            if rec.user_id != user_id {
                continue;
            }
            if same_slot(rec.platform_id)
                || (policy != MultiLoginPolicy::NoKick
                    && newest_other.get(&rec.platform_id) != Some(&rec.issued))
            {
                rec.kicked = true;
            }
        }
        // JWTs are deterministic; bump `exp` until the string is new so two tokens issued in
        // the same second stay distinguishable (the claim set is unchanged).
        let mut exp = now.saturating_add(ttl_s);
        let token = loop {
            let t = jwt::sign(
                secret,
                &Claims {
                    user_id: user_id.to_owned(),
                    platform_id,
                    exp,
                    iat: now - 5,
                },
            );
            if !st.tokens.contains_key(&t) {
                break t;
            }
            exp += 1;
        };
        st.token_counter += 1;
        let issued = st.token_counter;
        st.tokens.insert(
            token.clone(),
            TokenRec {
                user_id: user_id.to_owned(),
                platform_id,
                kicked: false,
                force_expired: false,
                issued,
                exp,
            },
        );
        token
    }

    /// `ParseToken` (spec §4): JWT checks, then the registry.
    pub(crate) fn parse_token(&self, token: &str) -> CodeResult<TokenRec> {
        let claims = jwt::verify(self.opts.secret.as_bytes(), token, now_s())?;
        let st = self.lock();
        let rec = st.tokens.get(token).ok_or_else(|| {
            CodeError::new(code::TOKEN_NOT_EXIST, "token is not in the token store")
        })?;
        if rec.force_expired {
            return Err(CodeError::new(code::TOKEN_EXPIRED, "token is expired"));
        }
        if rec.kicked {
            return Err(CodeError::new(code::TOKEN_KICKED, "token has been kicked"));
        }
        debug_assert_eq!(claims.user_id, rec.user_id);
        Ok(rec.clone())
    }

    /// Kicks the user's connections on `platform` (all platforms when `None`) with a 2002 frame
    /// and marks their tokens kicked (`force_logout`).
    pub(crate) fn force_logout(&self, user_id: &str, platform: Option<i32>) -> usize {
        let mut st = self.lock();
        for rec in st.tokens.values_mut() {
            if rec.user_id == user_id && platform.is_none_or(|p| p == rec.platform_id) {
                rec.kicked = true;
            }
        }
        let ids: Vec<u64> = st
            .conns
            .values()
            .filter(|c| {
                c.info.user_id == user_id && platform.is_none_or(|p| p == c.info.platform_id)
            })
            .map(|c| c.info.id)
            .collect();
        for id in &ids {
            st.kick_conn(*id);
        }
        ids.len()
    }

    pub(crate) fn expire_token(&self, token: &str) -> bool {
        match self.lock().tokens.get_mut(token) {
            Some(rec) => {
                rec.force_expired = true;
                true
            }
            None => false,
        }
    }

    pub(crate) fn revoke_token(&self, token: &str) -> bool {
        self.lock().tokens.remove(token).is_some()
    }

    // ---- connections -----------------------------------------------------------------------------

    pub(crate) fn take_read_stall(&self, user: &str) -> Option<std::time::Duration> {
        self.lock().read_stalls.remove(user)
    }

    pub(crate) fn take_fault(&self, user: &str) -> Option<Fault> {
        let mut st = self.lock();
        st.faults.get_mut(user).and_then(VecDeque::pop_front)
    }

    pub(crate) fn next_unknown(&self) -> u64 {
        let mut st = self.lock();
        st.unknown_counter += 1;
        st.unknown_counter
    }

    pub(crate) fn unregister(&self, id: u64) {
        let mut st = self.lock();
        if let Some(conn) = st.conns.remove(&id) {
            let user = conn.info.user_id;
            st.notify_status(&user);
        }
        drop(st);
        self.bump();
    }

    pub(crate) fn drop_connections(&self, user: &str) -> usize {
        let st = self.lock();
        let mut n = 0;
        for c in st.conns.values().filter(|c| c.info.user_id == user) {
            // Counted once: a connection already told to close is not dropped again.
            if !c.kill.send_replace(true) {
                n += 1;
            }
        }
        n
    }
}

impl State {
    pub(crate) fn add_user(&mut self, user: User) {
        self.user_create_time
            .entry(user.user_id.clone())
            .or_insert_with(now_ms_i64);
        self.users.insert(user.user_id.clone(), user);
    }

    pub(crate) fn user_info(&self, user_id: &str) -> Option<pb::UserInfo> {
        self.users.get(user_id).map(|u| pb::UserInfo {
            user_id: u.user_id.clone(),
            nickname: u.nickname.clone(),
            face_url: u.face_url.clone(),
            ex: u.ex.clone(),
            create_time: self.user_create_time.get(user_id).copied().unwrap_or(0),
            app_manger_level: 0,
            global_recv_msg_opt: u.global_recv_msg_opt,
        })
    }

    pub(crate) fn bump_version(&mut self, list: &'static str, user: &str) {
        *self.versions.entry((list, user.to_owned())).or_insert(0) += 1;
    }

    pub(crate) fn version(&self, list: &'static str, user: &str) -> u64 {
        self.versions
            .get(&(list, user.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn online_platforms(&self, user: &str) -> Vec<i32> {
        let set: BTreeSet<i32> = self
            .conns
            .values()
            .filter(|c| c.info.user_id == user)
            .map(|c| c.info.platform_id)
            .collect();
        set.into_iter().collect()
    }

    /// Enqueues `out` on every connection of `user`; a full write queue drops that connection.
    pub(crate) fn push_to(&mut self, user: &str, out: &Out) {
        for c in self.conns.values().filter(|c| c.info.user_id == user) {
            send_or_kill(c, out.clone());
        }
    }

    pub(crate) fn send_conn(&self, id: u64, out: Out) {
        if let Some(c) = self.conns.get(&id) {
            send_or_kill(c, out);
        }
    }

    /// 2002 then close, and the connection's token is marked kicked.
    pub(crate) fn kick_conn(&mut self, id: u64) {
        let Some(c) = self.conns.get(&id) else { return };
        let token = c.info.token.clone();
        send_or_kill(
            c,
            Out::Frame(WsResp {
                req_identifier: 2002,
                msg_incr: String::new(),
                operation_id: String::new(),
                err_code: 0,
                err_msg: String::new(),
                data: None,
            }),
        );
        send_or_kill(c, Out::Close);
        if let Some(rec) = self.tokens.get_mut(&token) {
            rec.kicked = true;
        }
    }

    /// Pushes a 2005 status change of `user` to every connection subscribed to them.
    pub(crate) fn notify_status(&mut self, user: &str) {
        use base64::Engine as _;
        use prost::Message as _;
        let tips = pb::SubUserOnlineStatusTips {
            subscribers: vec![pb::SubUserOnlineStatusElem {
                user_id: user.to_owned(),
                online_platform_ids: self.online_platforms(user),
            }],
        };
        let frame = Out::Frame(WsResp {
            req_identifier: 2005,
            msg_incr: String::new(),
            operation_id: String::new(),
            err_code: 0,
            err_msg: String::new(),
            data: Some(base64::engine::general_purpose::STANDARD.encode(tips.encode_to_vec())),
        });
        for c in self.conns.values().filter(|c| c.subs.contains(user)) {
            send_or_kill(c, frame.clone());
        }
    }

    pub(crate) fn require_user(&self, user: &str) -> CodeResult<()> {
        if self.users.contains_key(user) {
            Ok(())
        } else {
            Err(CodeError::new(
                code::RECORD_NOT_FOUND,
                format!("user {user:?} not found"),
            ))
        }
    }

    pub(crate) fn is_friend(&self, owner: &str, friend: &str) -> bool {
        self.friends
            .get(owner)
            .is_some_and(|f| f.contains_key(friend))
    }

    pub(crate) fn make_friends(&mut self, a: &str, b: &str, add_source: i32, operator: &str) {
        let now = now_ms_i64();
        for (owner, friend) in [(a, b), (b, a)] {
            if owner == friend {
                continue;
            }
            let map = self.friends.entry(owner.to_owned()).or_default();
            if !map.contains_key(friend) {
                map.insert(
                    friend.to_owned(),
                    FriendRec {
                        create_time: now,
                        add_source,
                        operator_user_id: operator.to_owned(),
                        ..FriendRec::default()
                    },
                );
                self.bump_version("friend", owner);
            }
        }
    }

    /// The multi-login policy at WS connect: connections in the same slot with another token
    /// get 2002 and their tokens are marked kicked.
    pub(crate) fn kick_on_connect(
        &mut self,
        policy: MultiLoginPolicy,
        user: &str,
        platform: i32,
        token: &str,
    ) {
        let victims: Vec<u64> = self
            .conns
            .values()
            .filter(|c| c.info.user_id == user && c.info.token != token)
            .filter(|c| match policy {
                MultiLoginPolicy::NoKick => false,
                MultiLoginPolicy::SamePlatformKick => c.info.platform_id == platform,
                MultiLoginPolicy::SameClassKick => {
                    platform_class(c.info.platform_id) == platform_class(platform)
                }
                MultiLoginPolicy::SingleTerminal => true,
            })
            .map(|c| c.info.id)
            .collect();
        for id in victims {
            self.kick_conn(id);
        }
    }
}

fn send_or_kill(c: &ConnRec, out: Out) {
    match c.tx.try_send(out) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::debug!(
                conn = c.info.id,
                "write queue full; dropping the connection"
            );
            c.kill.send_replace(true);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}
