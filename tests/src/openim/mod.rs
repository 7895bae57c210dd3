//! A loopback fake of an OpenIM server (spec `openim-protocol.md`), written from the spec.
//!
//! Two listeners on 127.0.0.1, both started by [`OpenImSim::start`]:
//! * the message gateway WebSocket ([`OpenImSim::ws_url`], the port-10001 role, spec §1);
//! * the REST API ([`OpenImSim::api_url`], the port-10002 role, spec §3), which also serves the
//!   object "S3" (`/_s3/…`) and the admin API (`/_admin/…`).
//!
//! # Gateway (spec §1)
//! * Handshake checks in the spec's order: connection limit (1601), parameters (1602, or 500 for
//!   a missing/bad `isBackground` or bad `isMsgResp`), token (1501/1503/1504/1505/1506/1507),
//!   claims vs `sendID`/`platformID` (1502). Parameter errors always come back as plain HTTP 200
//!   JSON; token errors as an upgrade + one TEXT frame + TCP close when `isMsgResp=true`, else as
//!   plain HTTP 200 JSON. Success with `isMsgResp=true` sends `{"errCode":0,"errMsg":"","errDlt":""}`.
//!   The `v=<base64url JSON>` form is accepted. **Only `sdkType=js`** is served (gob is refused
//!   with 1602).
//! * Frames: requests in BINARY frames (`{reqIdentifier, token, sendID, operationID, msgIncr,
//!   data}`, std base64 protobuf), optional gzip; TEXT `{"type":"ping"}` → `{"type":"pong","body":null}`;
//!   WS ping → pong. A bad envelope, bad base64, unknown `reqIdentifier`, `sendID` mismatch, other
//!   text, gzip error, a frame over [`OpenImOptions::max_frame`] (51 200) or
//!   [`OpenImOptions::read_timeout`] (30 s) without any frame close the connection without reply
//!   or close frame. Protobuf decode errors answer `errCode` 500.
//! * 1001 newest seq, 1002 pull by seq ranges (last-`num` rule, clamping, placeholders, `isEnd`),
//!   1003 send (reply first, then seq + push to receivers and all sender connections), 1004
//!   (always 500, as the real server), 1005 exact seqs, 1006 has-read + max seq, 1007 last
//!   message, 2003 logout (reply, then close), 2004 background status, 2005 online-status
//!   subscription (+ later 2005 pushes). Pushes (2001) carry one message each; kicks are 2002.
//! * Platform 5 (Web) connections get a WS ping every [`OpenImOptions::server_ping_interval`].
//! * Multi-login policy ([`MultiLoginPolicy`], default 1) at token issue and at connect.
//!
//! # REST (spec §3)
//! POST-only JSON with `operationID` and `token` headers (whitelist: `get_admin_token`,
//! `parse_token`), HTTP 200 `{errCode, errMsg, errDlt, data}`, gzip on `Accept-Encoding: gzip`,
//! CORS open, unknown paths 404. Endpoints: `/auth/{get_admin_token, get_user_token, parse_token,
//! force_logout}`; `/msg/{newest_seq, pull_msg_by_seq, get_conversations_has_read_and_max_seq,
//! mark_conversation_as_read, set_conversation_has_read_seq, get_server_time, send_msg}`;
//! `/user/{user_register, get_users_info, get_users, get_users_online_status, account_check}`;
//! `/group/{create_group, get_groups_info, get_group_member_list, get_group_members_info,
//! get_joined_group_list, get_full_join_group_ids, get_incremental_join_groups,
//! invite_user_to_group, kick_group, quit_group, dismiss_group}`; `/friend/{get_friend_list,
//! get_designated_friends, add_friend, add_friend_response, import_friend, is_friend,
//! delete_friend, get_incremental_friends, get_full_friend_user_ids, get_friend_apply_list,
//! get_self_friend_apply_list, add_black, remove_black, get_black_list, get_incremental_blacks}`;
//! `/conversation/{get_conversations, get_all_conversations, get_owner_conversation,
//! get_incremental_conversations, get_full_conversation_ids, get_not_notify_conversation_ids,
//! get_pinned_conversation_ids}`; `/jssdk/{get_active_conversations, get_conversations}`
//! (protobuf or JSON); `/object/{part_limit, part_size, initiate_multipart_upload, auth_sign,
//! complete_multipart_upload, access_url}`; `GET /object/<name>` → 302 → `/_s3/blob/…`.
//!
//! # Admin API (`/_admin/` on the REST listener)
//! Errors: 400 (bad input) or 404 (unknown user/group/token) as `{"error": "..."}`.
//!
//! | Call | Body / query | Answer |
//! |---|---|---|
//! | `POST /_admin/users` | `{userID, nickname?, faceURL?, globalRecvMsgOpt?}` | the `User` |
//! | `GET /_admin/users` | | all users |
//! | `POST /_admin/groups` | `{groupID, members: [owner, ...], name?}` | `GroupInfo` JSON |
//! | `POST /_admin/friends` | `{a, b}` | `{}` |
//! | `POST /_admin/token` | `{userID, platformID, ttlSeconds?}` (unknown users are created) | `{token}` |
//! | `POST /_admin/token/expire` | `{token}` | `{expired}` |
//! | `POST /_admin/token/revoke` | `{token}` | `{revoked}` |
//! | `POST /_admin/inject` | `{from, to?, groupID?, text, atUserIDs?}` | `Injected` |
//! | `POST /_admin/inject_many` | `{from, to?: [userID], groups?: [groupID], count}` | `[Injected]` |
//! | `POST /_admin/drop` | `{userID}` | `{dropped}` |
//! | `POST /_admin/kick` | `{userID}` | `{kicked}` |
//! | `POST /_admin/fault` | `{userID, fault: malformed_frame\|bad_base64\|bad_protobuf\|unknown_req_identifier\|oversized\|delay\|drop, bytes?, ms?}` | `{queued}` |
//! | `GET /_admin/sent` | | `[Sent]` |
//! | `GET /_admin/online?userID=` | | `{userID, online, platforms}` |
//! | `GET /_admin/connections` | | `[ConnInfo]` |
//! | `GET /_admin/uploads` | | `[Upload]` (with `bytesBase64`) |
//! | `GET /_admin/friend_calls` | | `[FriendCall]` |
//! | `GET /_admin/rest_calls` | | `[RestCall]` |
//! | `GET /_admin/state` | | users, groups, conversations with max seqs, connections |
//!
//! ```no_run
//! use imsim::openim::{OpenImOptions, OpenImSim};
//! # async fn demo() -> std::io::Result<()> {
//! let sim = OpenImSim::start(OpenImOptions::default()).await?;
//! sim.add_user("bot1");
//! sim.add_user("alice");
//! let token = sim.issue_token("bot1", 7);
//! // connect a client to sim.ws_url() / sim.api_url() with `token`, then play alice:
//! let injected = sim.inject_text("alice", "bot1", "hello");
//! assert_eq!(injected.conversation_id, "si_alice_bot1");
//! # Ok(()) }
//! ```

mod admin;
mod body;
mod errs;
mod gateway;
mod jwt;
mod msgs;
mod objects;
pub mod pb;
mod refresh;
mod rest;
mod social;
mod state;
mod types;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;

pub use errs::{CodeError, code, err_msg};
pub use jwt::{Claims, sign as sign_jwt, verify as verify_jwt};
pub use msgs::{group_conversation_id, notification_twin, single_conversation_id, text_of};
pub use objects::object_hash;
pub use refresh::{RefreshBackend, RefreshCall};
pub use types::{
    ConnInfo, Fault, FriendCall, Injected, MultiLoginPolicy, RestCall, Sent, Target, Upload, User,
};

use state::Shared;

/// Knobs of the simulated server. Defaults are the real server's.
#[derive(Debug, Clone)]
pub struct OpenImOptions {
    /// Gateway port on 127.0.0.1 (0 = any free port).
    pub ws_port: u16,
    /// REST port on 127.0.0.1 (0 = any free port).
    pub api_port: u16,
    /// `share.yml: secret`: the JWT key and the admin-token password.
    pub secret: String,
    /// `imAdminUser.userIDs`; created as users at start.
    pub admin_user_ids: Vec<String>,
    /// Lifetime of issued tokens (90 days).
    pub token_ttl: Duration,
    /// Read deadline, refreshed by any frame (30 s).
    pub read_timeout: Duration,
    /// Server pings for platform 5 (27 s).
    pub server_ping_interval: Duration,
    /// Largest client frame (51 200 bytes); larger closes the connection.
    pub max_frame: usize,
    /// `websocketMaxConnNum` (100 000).
    pub max_conns: usize,
    /// Write queue per connection (256 frames); overflow drops the connection.
    pub write_queue: usize,
    pub multi_login_policy: MultiLoginPolicy,
    /// Delay between the 1003 reply and the seq assignment + push (0: at once, still after the reply).
    pub push_delay: Duration,
    /// Store and push before replying to 1003 (exercises the other race order).
    pub push_before_reply: bool,
    /// `friendVerify`: single-chat sends need friendship (1303).
    pub friend_verify: bool,
    /// `minPartSize` of the object store (MinIO: 5 MiB). Lower it to test multipart uploads.
    pub min_part_size: usize,
}

impl Default for OpenImOptions {
    fn default() -> Self {
        Self {
            ws_port: 0,
            api_port: 0,
            secret: "openIM123".to_owned(),
            admin_user_ids: vec!["imAdmin".to_owned()],
            token_ttl: Duration::from_secs(90 * 24 * 60 * 60),
            read_timeout: Duration::from_secs(30),
            server_ping_interval: Duration::from_secs(27),
            max_frame: 51_200,
            max_conns: 100_000,
            write_queue: 256,
            multi_login_policy: MultiLoginPolicy::default(),
            push_delay: Duration::ZERO,
            push_before_reply: false,
            friend_verify: false,
            min_part_size: 5 * 1024 * 1024,
        }
    }
}

impl OpenImOptions {
    pub(crate) fn token_ttl_secs(&self) -> i64 {
        i64::try_from(self.token_ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Addrs {
    pub ws: SocketAddr,
    pub api: SocketAddr,
}

/// A running OpenIM simulator. Dropping it stops both listeners and closes every connection.
pub struct OpenImSim {
    shared: Arc<Shared>,
}

impl fmt::Debug for OpenImSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenImSim")
            .field("ws", &self.shared.addrs.ws)
            .field("api", &self.shared.addrs.api)
            .finish_non_exhaustive()
    }
}

impl Drop for OpenImSim {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

fn expect<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("imsim openim: {e}"))
}

impl OpenImSim {
    pub async fn start(opts: OpenImOptions) -> io::Result<OpenImSim> {
        let ws_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, opts.ws_port)).await?;
        let api_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, opts.api_port)).await?;
        let addrs = Addrs {
            ws: ws_listener.local_addr()?,
            api: api_listener.local_addr()?,
        };
        let shared = Arc::new(Shared::new(opts, addrs));
        serve(&shared, ws_listener, gateway::router(shared.clone()));
        serve(&shared, api_listener, rest::router(shared.clone()));
        tracing::info!(ws = %addrs.ws, api = %addrs.api, "openim simulator listening");
        Ok(OpenImSim { shared })
    }

    /// `ws://127.0.0.1:PORT` (any path works).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.shared.addrs.ws)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash, as SDKs take `apiAddr`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.shared.addrs.api)
    }

    pub fn ws_addr(&self) -> SocketAddr {
        self.shared.addrs.ws
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.shared.addrs.api
    }

    pub fn secret(&self) -> &str {
        &self.shared.opts.secret
    }

    // ---- users, groups, friends ----------------------------------------------------------------

    /// Registers (or replaces) a user with nickname = id.
    pub fn add_user(&self, user_id: &str) -> User {
        let u = User::new(user_id);
        self.add_user_info(u.clone());
        u
    }

    pub fn add_user_info(&self, user: User) {
        self.shared.lock().add_user(user);
    }

    pub fn users(&self) -> Vec<User> {
        self.shared.lock().users.values().cloned().collect()
    }

    /// Creates a working group; the first member is the owner. Unknown members are created.
    ///
    /// # Panics
    /// If `members` is empty.
    pub fn add_group(&self, group_id: &str, members: &[&str]) {
        let members: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        expect(admin::create_group(&self.shared, group_id, group_id, &members).map(|_| ()));
    }

    /// Adds members to a group (late joiners cannot pull older history, spec §1.8).
    ///
    /// # Panics
    /// If the group is unknown.
    pub fn join_group(&self, group_id: &str, users: &[&str]) {
        let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
        let mut st = self.shared.lock();
        if !st.groups.contains_key(group_id) {
            panic!("imsim openim: unknown group {group_id:?}");
        }
        for u in &users {
            if !st.users.contains_key(u) {
                st.add_user(User::new(u));
            }
        }
        st.join_group(group_id, &users, "imAdmin", 2);
    }

    /// Removes members from a group (their window stops at the current max seq).
    pub fn leave_group(&self, group_id: &str, users: &[&str]) {
        let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
        self.shared.lock().leave_group(group_id, &users);
    }

    /// Mutes a member until `until_ms` (unix ms): their group sends fail with 1402.
    pub fn mute_member(&self, group_id: &str, user_id: &str, until_ms: i64) {
        if let Some(m) = self
            .shared
            .lock()
            .groups
            .get_mut(group_id)
            .and_then(|g| g.members.get_mut(user_id))
        {
            m.mute_end_time = until_ms;
        }
    }

    /// Group status: 0 ok, 2 dismissed (1204), 3 muted (1403 for non-admins).
    pub fn set_group_status(&self, group_id: &str, status: i32) {
        if let Some(g) = self.shared.lock().groups.get_mut(group_id) {
            g.info.status = status;
        }
    }

    pub fn make_friends(&self, a: &str, b: &str) {
        self.shared.lock().make_friends(a, b, 1, "imAdmin");
    }

    /// `owner` blocks `blocked`: `blocked`'s single-chat sends to `owner` fail with 1302.
    pub fn block(&self, owner: &str, blocked: &str) {
        self.shared
            .lock()
            .blacks
            .insert((owner.to_owned(), blocked.to_owned()));
    }

    // ---- tokens ----------------------------------------------------------------------------------

    /// A token as `get_user_token` issues it (multi-login policy applied). Unknown users are
    /// created.
    pub fn issue_token(&self, user_id: &str, platform_id: i32) -> String {
        self.issue_token_with_ttl(user_id, platform_id, self.shared.opts.token_ttl_secs())
    }

    /// As [`OpenImSim::issue_token`] with `exp = now + ttl_secs` (negative = already expired).
    pub fn issue_token_with_ttl(&self, user_id: &str, platform_id: i32, ttl_secs: i64) -> String {
        {
            let mut st = self.shared.lock();
            if !st.users.contains_key(user_id) {
                st.add_user(User::new(user_id));
            }
        }
        self.shared.issue_token(user_id, platform_id, ttl_secs)
    }

    /// An admin token (platform 10) for the first admin user.
    pub fn admin_token(&self) -> String {
        let admin = self
            .shared
            .opts
            .admin_user_ids
            .first()
            .cloned()
            .unwrap_or_else(|| "imAdmin".to_owned());
        self.shared.issue_token(
            &admin,
            state::ADMIN_PLATFORM,
            self.shared.opts.token_ttl_secs(),
        )
    }

    /// From now on the token answers 1501 (expired). Established connections stay up.
    pub fn expire_token(&self, token: &str) -> bool {
        self.shared.expire_token(token)
    }

    /// Removes the token from the registry: it answers 1507 (not exist).
    pub fn revoke(&self, token: &str) -> bool {
        self.shared.revoke_token(token)
    }

    // ---- messages --------------------------------------------------------------------------------

    /// `from` sends a text to `to_user` (single chat): stored, pushed to both users' connections.
    /// Unknown users are created.
    pub fn inject_text(&self, from: &str, to_user: &str, text: &str) -> Injected {
        let mut st = self.shared.lock();
        for u in [from, to_user] {
            if !st.users.contains_key(u) {
                st.add_user(User::new(u));
            }
        }
        let (ct, content) = msgs::text_content(text, &[], &st);
        let out = st.inject(from, to_user, "", ct, content, &[]);
        drop(st);
        self.shared.bump();
        out
    }

    /// `from` sends `to_user` a picture (102) whose three `PictureBaseInfo`s all point at `url`
    /// (spec §2: `sourcePicture`, `bigPicture`, `snapshotPicture`), e.g. an object of this
    /// server from [`OpenImSim::put_object`], or a URL elsewhere.
    pub fn inject_picture(&self, from: &str, to_user: &str, url: &str, size: usize) -> Injected {
        let mut st = self.shared.lock();
        for u in [from, to_user] {
            if !st.users.contains_key(u) {
                st.add_user(User::new(u));
            }
        }
        let info = json!({
            "uuid": state::hex32(), "type": "image/png", "size": size,
            "width": 64, "height": 48, "url": url,
        });
        let content = json!({
            "sourcePath": "", "sourcePicture": info, "bigPicture": info, "snapshotPicture": info,
        });
        let out = st.inject(from, to_user, "", 102, content, &[]);
        drop(st);
        self.shared.bump();
        out
    }

    /// `from` sends a text to group `group_id`; with `at_user_ids` it is an @ message (106,
    /// `atUserIDList` set; `"AtAllTag"` = everyone).
    ///
    /// # Panics
    /// If the group is unknown.
    pub fn inject_group_text(
        &self,
        from: &str,
        group_id: &str,
        text: &str,
        at_user_ids: &[&str],
    ) -> Injected {
        let at: Vec<String> = at_user_ids.iter().map(|u| (*u).to_owned()).collect();
        let mut st = self.shared.lock();
        if !st.groups.contains_key(group_id) {
            panic!("imsim openim: unknown group {group_id:?}");
        }
        let (ct, content) = msgs::text_content(text, &at, &st);
        let out = st.inject(from, "", group_id, ct, content, &at);
        drop(st);
        self.shared.bump();
        out
    }

    /// Stores `count` texts from `from` in every target conversation, interleaved round-robin
    /// (`"<n>/<count> to <target>"`), e.g. while the client under test is offline.
    ///
    /// # Panics
    /// If a group target is unknown.
    pub fn inject_many(&self, from: &str, targets: &[Target], count: usize) -> Vec<Injected> {
        let mut out = Vec::new();
        for n in 1..=count {
            for t in targets {
                out.push(match t {
                    Target::User(u) => self.inject_text(from, u, &format!("{n}/{count} to {u}")),
                    Target::Group(g) => {
                        self.inject_group_text(from, g, &format!("{n}/{count} to {g}"), &[])
                    }
                });
            }
        }
        out
    }

    /// Stores and pushes a raw message (`seq`, `status` assigned; ids and times kept if set).
    pub fn inject_msg(&self, mut msg: pb::MsgData) -> Injected {
        let now = state::now_ms_i64();
        if msg.client_msg_id.is_empty() {
            msg.client_msg_id = state::hex32();
        }
        if msg.server_msg_id.is_empty() {
            msg.server_msg_id = state::hex32();
        }
        if msg.send_time == 0 {
            msg.send_time = now;
        }
        if msg.create_time == 0 {
            msg.create_time = now;
        }
        let text = msgs::text_of(msg.content_type, &msg.content).unwrap_or_default();
        let (client, server, send_time) = (
            msg.client_msg_id.clone(),
            msg.server_msg_id.clone(),
            msg.send_time,
        );
        let (conv, seq) = self.shared.lock().commit(msg, None);
        self.shared.bump();
        Injected {
            conversation_id: conv,
            seq,
            client_msg_id: client,
            server_msg_id: server,
            send_time,
            text,
        }
    }

    /// Deletes a stored message: pulls then answer a placeholder `{seq, status: 4}` for it.
    pub fn delete_message(&self, conversation_id: &str, seq: i64) -> bool {
        self.shared
            .lock()
            .convs
            .get_mut(conversation_id)
            .and_then(|c| c.msgs.remove(&seq))
            .is_some()
    }

    pub fn max_seq(&self, conversation_id: &str) -> i64 {
        self.shared
            .lock()
            .convs
            .get(conversation_id)
            .map_or(0, |c| c.max_seq)
    }

    /// Claims `seq` as the conversation's newest seq without storing anything, as a server with
    /// a corrupt seq counter would: 1001 reports it and pulls answer placeholders below it. Do
    /// not store into the conversation afterwards (the next seq would overflow at `i64::MAX`).
    pub fn set_max_seq(&self, conversation_id: &str, seq: i64) {
        if let Some(c) = self.shared.lock().convs.get_mut(conversation_id) {
            c.max_seq = seq;
        }
    }

    /// The ids of every conversation with a stored message, sorted.
    pub fn conversation_ids(&self) -> Vec<String> {
        self.shared.lock().convs.keys().cloned().collect()
    }

    /// Stored messages of a conversation in seq order.
    pub fn messages(&self, conversation_id: &str) -> Vec<pb::MsgData> {
        self.shared
            .lock()
            .convs
            .get(conversation_id)
            .map(|c| c.msgs.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every send received (WS 1003 with decodable `MsgData`, REST `send_msg` past auth), in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().sent.clone()
    }

    /// Waits until at least `count` sends were accepted (`errCode` 0) and returns the accepted
    /// ones, or whatever there was when `timeout` ran out.
    pub async fn wait_sent(&self, count: usize, timeout: Duration) -> Vec<Sent> {
        let accepted = || -> Vec<Sent> {
            self.sent()
                .into_iter()
                .filter(|s| s.err_code == 0)
                .collect()
        };
        self.wait_for(timeout, || {
            let a = accepted();
            (a.len() >= count).then_some(a)
        })
        .await
        .unwrap_or_else(accepted)
    }

    // ---- connections -----------------------------------------------------------------------------

    /// Whether the user has a connection that is not being dropped: a connection told to close
    /// stays in the table until its task ends, and must not count as "back online".
    pub fn online(&self, user_id: &str) -> bool {
        self.shared
            .lock()
            .conns
            .values()
            .any(|c| c.info.user_id == user_id && !*c.kill.borrow())
    }

    pub fn connections(&self) -> Vec<ConnInfo> {
        self.shared
            .lock()
            .conns
            .values()
            .map(|c| c.info.clone())
            .collect()
    }

    /// Waits until `online(user_id) == online`; returns whether it got there before `timeout`.
    pub async fn wait_online(&self, user_id: &str, online: bool, timeout: Duration) -> bool {
        self.wait_for(timeout, || (self.online(user_id) == online).then_some(()))
            .await
            .is_some()
    }

    /// Drops every connection of the user at once (TCP close, no frame). Returns how many.
    pub fn drop_connections(&self, user_id: &str) -> usize {
        self.shared.drop_connections(user_id)
    }

    /// Kicks every connection of the user (2002, then close) and marks all their tokens kicked.
    pub fn kick(&self, user_id: &str) -> usize {
        self.shared.force_logout(user_id, None)
    }

    /// `/auth/force_logout` for one platform.
    pub fn force_logout(&self, user_id: &str, platform_id: i32) -> usize {
        self.shared.force_logout(user_id, Some(platform_id))
    }

    /// From now on, a 1003 send whose content contains `text` is stored and pushed as usual, but
    /// its reply is never sent: the reply is lost on the way, as when the connection dies right
    /// after the server stored the message.
    pub fn lose_send_replies(&self, text: &str) {
        self.shared.lock().lost_replies.push(text.to_owned());
    }

    /// The server falls behind: it handles the user's next request frame only after `stall`,
    /// and the frames behind it after that, on a connection the client may have closed by
    /// then (a server reads what reached it before the close).
    pub fn stall_next_request(&self, user_id: &str, stall: std::time::Duration) {
        self.shared
            .lock()
            .read_stalls
            .insert(user_id.to_owned(), stall);
    }

    /// Queues a one-shot fault for the user's next server → client binary frame.
    pub fn fault(&self, user_id: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(user_id.to_owned())
            .or_default()
            .push_back(fault);
    }

    // ---- records ---------------------------------------------------------------------------------

    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().objects.uploads.clone()
    }

    /// Puts an object (as if uploaded) and returns its `http://API/object/<name>` URL.
    pub fn put_object(&self, name: &str, bytes: Vec<u8>, content_type: &str) -> String {
        self.shared.lock().objects.put(name, bytes, content_type);
        format!("{}/object/{name}", self.api_url())
    }

    /// An object's bytes, by name.
    pub fn object(&self, name: &str) -> Option<Vec<u8>> {
        self.shared.lock().objects.get(name).map(|(b, _)| b)
    }

    pub fn friend_calls(&self) -> Vec<FriendCall> {
        self.shared.lock().friend_calls.clone()
    }

    pub fn rest_calls(&self) -> Vec<RestCall> {
        self.shared.lock().rest_calls.clone()
    }

    async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.changed.subscribe();
        loop {
            if let Some(v) = check() {
                return Some(v);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return check(),
            }
        }
    }
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
            tracing::warn!(error = %e, "openim simulator listener stopped");
        }
    });
}
