//! Conversations, seqs and the send path (spec §1.4, §1.5, §1.8, §2.5, §2.6).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use serde_json::{Value, json};

use super::errs::{CodeError, CodeResult, code};
use super::pb::{self, MsgData, PullMsgs, PushMessages};
use super::state::{Out, Shared, State, WsResp, hex32, now_ms_i64};
use super::types::{Injected, Sent};
use crate::http::now_ms;

pub(crate) const SINGLE: i32 = 1;
pub(crate) const WRITE_GROUP: i32 = 2;
pub(crate) const GROUP: i32 = 3;
pub(crate) const NOTIFICATION: i32 = 4;

/// One conversation's stored messages. Seqs start at 1 and are contiguous; a deleted message
/// leaves a hole that pulls answer with a placeholder.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConvRec {
    pub max_seq: i64,
    pub msgs: BTreeMap<i64, MsgData>,
}

/// One user's record of a conversation (created when the first message is stored).
#[derive(Debug, Clone, Default)]
pub(crate) struct UserConv {
    pub conversation_type: i32,
    pub peer_user_id: String,
    pub group_id: String,
    /// Lowest seq this user may pull (a late group join sets it to the group's max + 1).
    pub min_seq: i64,
    /// Highest seq this user may pull (set when they leave a group).
    pub max_cap: Option<i64>,
    pub has_read_seq: i64,
    pub is_pinned: bool,
    pub recv_msg_opt: i32,
}

/// `si_<min>_<max>` (byte-wise sort, like Go's `sort.Strings`).
pub fn single_conversation_id(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("si_{x}_{y}")
}

pub fn group_conversation_id(group_id: &str) -> String {
    format!("sg_{group_id}")
}

/// The notification twin of a chat conversation: the prefix before the first `_` becomes `n`.
pub fn notification_twin(conversation_id: &str) -> String {
    match conversation_id.split_once('_') {
        Some((_, rest)) => format!("n_{rest}"),
        None => format!("n_{conversation_id}"),
    }
}

/// `Options.Is`: a missing key counts as true.
pub(crate) fn opt_is(msg: &MsgData, key: &str) -> bool {
    msg.options.get(key).copied().unwrap_or(true)
}

/// The conversation a message belongs to (spec §2.6). Empty for unknown session types.
pub(crate) fn conversation_id_of(msg: &MsgData) -> String {
    let notification = !opt_is(msg, "isNotNotification");
    let (a, b) = if msg.send_id <= msg.recv_id {
        (&msg.send_id, &msg.recv_id)
    } else {
        (&msg.recv_id, &msg.send_id)
    };
    match (msg.session_type, notification) {
        (SINGLE, false) => format!("si_{a}_{b}"),
        (SINGLE | NOTIFICATION, true) => format!("n_{a}_{b}"),
        (NOTIFICATION, false) => format!("sn_{a}_{b}"),
        (GROUP, false) => format!("sg_{}", msg.group_id),
        (WRITE_GROUP, false) => format!("g_{}", msg.group_id),
        (GROUP | WRITE_GROUP, true) => format!("n_{}", msg.group_id),
        _ => String::new(),
    }
}

/// The text a test most likely wants to assert on: `content` of 101/118, `text` of 106/114/117.
pub fn text_of(content_type: i32, content: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(content).ok()?;
    let key = match content_type {
        101 | 118 => "content",
        106 | 114 | 117 => "text",
        _ => return None,
    };
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A 2001 push; `operation_id` is the originating request's (pushes carry the sender's context).
pub(crate) fn push_frame(conversation_id: &str, msg: &MsgData, operation_id: &str) -> Out {
    let mut push = PushMessages::default();
    let pulled = PullMsgs {
        msgs: vec![msg.clone()],
        is_end: false,
        end_seq: 0,
    };
    if conversation_id.starts_with("n_") {
        push.notification_msgs
            .insert(conversation_id.to_owned(), pulled);
    } else {
        push.msgs.insert(conversation_id.to_owned(), pulled);
    }
    Out::Frame(WsResp {
        req_identifier: 2001,
        msg_incr: String::new(),
        operation_id: operation_id.to_owned(),
        err_code: 0,
        err_msg: String::new(),
        data: Some(b64(&push.encode_to_vec())),
    })
}

fn placeholder(seq: i64) -> MsgData {
    MsgData {
        seq,
        status: 4,
        ..MsgData::default()
    }
}

impl State {
    /// The pullable window `[min, max]` of `user` in `conv`, or `None` when the user has no
    /// record of it (or it has no messages). `n_` conversations need no record.
    pub(crate) fn window(&self, user: &str, conv: &str) -> Option<(i64, i64)> {
        let c = self.convs.get(conv)?;
        if conv.starts_with("n_") {
            return (c.max_seq > 0).then_some((1, c.max_seq));
        }
        let rec = self.records.get(user)?.get(conv)?;
        let max = rec.max_cap.map_or(c.max_seq, |cap| cap.min(c.max_seq));
        let min = rec.min_seq.max(1);
        (max > 0).then_some((min, max))
    }

    fn msg_or_placeholder(&self, conv: &str, seq: i64) -> MsgData {
        self.convs
            .get(conv)
            .and_then(|c| c.msgs.get(&seq))
            .cloned()
            .unwrap_or_else(|| placeholder(seq))
    }

    /// 1001 / `/msg/newest_seq`: every conversation of the user, the `n_` twins and
    /// `n_<uid>_<uid>`; zeros dropped.
    pub(crate) fn max_seqs(&self, user: &str) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        let mut candidates: Vec<String> = Vec::new();
        if let Some(recs) = self.records.get(user) {
            for conv in recs.keys() {
                candidates.push(conv.clone());
                candidates.push(notification_twin(conv));
            }
        }
        candidates.push(format!("n_{user}_{user}"));
        for conv in candidates {
            if let Some((_, max)) = self.window(user, &conv) {
                out.insert(conv, max);
            }
        }
        out
    }

    /// 1002 / `/msg/pull_msg_by_seq` with the last-`num` rule (spec §1.8).
    pub(crate) fn pull_by_seqs(&self, user: &str, req: &pb::PullMessageBySeqsReq) -> PushMessages {
        let mut resp = PushMessages::default();
        let desc = req.order == 1;
        for range in &req.seq_ranges {
            let conv = &range.conversation_id;
            let Some((min, max)) = self.window(user, conv) else {
                continue;
            };
            let notification = conv.starts_with("n_");
            let mut begin = range.begin.max(min);
            let end = range.end.min(max);
            if end < begin {
                continue;
            }
            if !notification {
                if range.num <= 0 {
                    continue;
                }
                if end - begin + 1 > range.num {
                    begin = end - range.num + 1;
                }
            }
            let msgs: Vec<MsgData> = (begin..=end)
                .map(|s| self.msg_or_placeholder(conv, s))
                .collect();
            let is_end = if desc { begin <= min } else { max <= end };
            let pulled = PullMsgs {
                msgs,
                is_end,
                end_seq: 0,
            };
            if notification {
                resp.notification_msgs.insert(conv.clone(), pulled);
            } else {
                resp.msgs.insert(conv.clone(), pulled);
            }
        }
        resp
    }

    /// 1005: exact seqs (clamped to the user's window).
    pub(crate) fn seq_messages(&self, user: &str, req: &pb::GetSeqMessageReq) -> PushMessages {
        let mut resp = PushMessages::default();
        let desc = req.order == 1;
        for cs in &req.conversations {
            let conv = &cs.conversation_id;
            let Some((min, max)) = self.window(user, conv) else {
                continue;
            };
            let mut seqs: Vec<i64> = cs
                .seqs
                .iter()
                .copied()
                .filter(|s| (min..=max).contains(s))
                .collect();
            seqs.sort_unstable();
            seqs.dedup();
            let (is_end, end_seq) = if desc {
                let first = seqs.first().copied().unwrap_or(min);
                (first <= min, first)
            } else {
                let last = seqs.last().copied().unwrap_or(max);
                (last >= max, last)
            };
            let pulled = PullMsgs {
                msgs: seqs
                    .iter()
                    .map(|s| self.msg_or_placeholder(conv, *s))
                    .collect(),
                is_end,
                end_seq,
            };
            if conv.starts_with("n_") {
                resp.notification_msgs.insert(conv.clone(), pulled);
            } else {
                resp.msgs.insert(conv.clone(), pulled);
            }
        }
        resp
    }

    /// 1006: chat conversations only.
    pub(crate) fn has_read_and_max_seq(
        &self,
        user: &str,
        req: &pb::GetConversationsHasReadAndMaxSeqReq,
    ) -> pb::GetConversationsHasReadAndMaxSeqResp {
        let mut resp = pb::GetConversationsHasReadAndMaxSeqResp::default();
        let Some(recs) = self.records.get(user) else {
            return resp;
        };
        for (conv, rec) in recs {
            if conv.starts_with("n_")
                || (!req.conversation_ids.is_empty() && !req.conversation_ids.contains(conv))
            {
                continue;
            }
            let Some((_, max)) = self.window(user, conv) else {
                continue;
            };
            let max_seq_time = self
                .convs
                .get(conv)
                .and_then(|c| c.msgs.get(&max))
                .map_or(0, |m| m.send_time);
            resp.seqs.insert(
                conv.clone(),
                pb::Seqs {
                    max_seq: max,
                    has_read_seq: rec.has_read_seq,
                    max_seq_time,
                },
            );
            if req.return_pinned && rec.is_pinned {
                resp.pinned_conversation_ids.push(conv.clone());
            }
        }
        resp
    }

    /// 1007
    pub(crate) fn last_messages(&self, user: &str, ids: &[String]) -> BTreeMap<String, MsgData> {
        let mut out = BTreeMap::new();
        for conv in ids {
            if let Some((min, max)) = self.window(user, conv) {
                let last = self
                    .convs
                    .get(conv)
                    .and_then(|c| c.msgs.range(min..=max).next_back().map(|(_, m)| m.clone()));
                if let Some(m) = last {
                    out.insert(conv.clone(), m);
                }
            }
        }
        out
    }

    /// The checks of the send path (spec §1.4 "typical send errors"); `admin` skips membership.
    pub(crate) fn check_send(
        &self,
        msg: &MsgData,
        friend_verify: bool,
        admin: bool,
    ) -> CodeResult<()> {
        match msg.session_type {
            SINGLE | NOTIFICATION => {
                let Some(recv) = self.users.get(&msg.recv_id) else {
                    return Err(CodeError::not_found(format!(
                        "recvID {:?} not found",
                        msg.recv_id
                    )));
                };
                if msg.send_id == msg.recv_id || admin {
                    return Ok(());
                }
                if recv.global_recv_msg_opt == 1 {
                    return Err(CodeError::args("message is not sent"));
                }
                if self
                    .blacks
                    .contains(&(msg.recv_id.clone(), msg.send_id.clone()))
                {
                    return Err(CodeError::new(code::BLOCKED_BY_PEER, "blocked by peer"));
                }
                if friend_verify && !self.is_friend(&msg.recv_id, &msg.send_id) {
                    return Err(CodeError::new(code::NOT_PEERS_FRIEND, "not peer's friend"));
                }
                Ok(())
            }
            GROUP => {
                let Some(g) = self.groups.get(&msg.group_id) else {
                    return Err(CodeError::new(
                        code::GROUP_ID_NOT_FOUND,
                        format!("group {:?} not found", msg.group_id),
                    ));
                };
                if g.info.status == 2 {
                    return Err(CodeError::new(code::DISMISSED_ALREADY, "group dismissed"));
                }
                if admin {
                    return Ok(());
                }
                let Some(member) = g.members.get(&msg.send_id) else {
                    return Err(CodeError::new(
                        code::NOT_IN_GROUP_YET,
                        "you are not in the group",
                    ));
                };
                if member.mute_end_time > now_ms_i64() {
                    return Err(CodeError::new(code::MUTED_IN_GROUP, "you are muted"));
                }
                if g.info.status == 3 && member.role_level < 60 {
                    return Err(CodeError::new(code::MUTED_GROUP, "group is muted"));
                }
                Ok(())
            }
            other => Err(CodeError::args(format!(
                "sessionType {other} is not supported"
            ))),
        }
    }

    /// Creates the owners' conversation records for a message stored in `conv`.
    fn ensure_records(&mut self, conv: &str, msg: &MsgData) {
        let owners: Vec<(String, String, String)> = match msg.session_type {
            GROUP | WRITE_GROUP => self
                .groups
                .get(&msg.group_id)
                .map(|g| {
                    g.members
                        .keys()
                        .map(|m| (m.clone(), String::new(), msg.group_id.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            _ => {
                let mut v = vec![(msg.send_id.clone(), msg.recv_id.clone(), String::new())];
                if msg.recv_id != msg.send_id {
                    v.push((msg.recv_id.clone(), msg.send_id.clone(), String::new()));
                }
                v
            }
        };
        for (owner, peer, group) in owners {
            if !self.users.contains_key(&owner) {
                continue;
            }
            let recs = self.records.entry(owner.clone()).or_default();
            if !recs.contains_key(conv) {
                recs.insert(
                    conv.to_owned(),
                    UserConv {
                        conversation_type: msg.session_type,
                        peer_user_id: peer,
                        group_id: group,
                        ..UserConv::default()
                    },
                );
                self.bump_version("conv", &owner);
            }
        }
    }

    /// Stores (unless `history=false`) and pushes a message that passed the checks: seq, status 2,
    /// one-message `PushMessages` to the receiver(s) and the sender's connections.
    pub(crate) fn commit(&mut self, mut msg: MsgData, sent_index: Option<usize>) -> (String, i64) {
        let conv = conversation_id_of(&msg);
        msg.status = 2;
        if opt_is(&msg, "history") {
            let c = self.convs.entry(conv.clone()).or_default();
            c.max_seq += 1;
            msg.seq = c.max_seq;
            c.msgs.insert(msg.seq, msg.clone());
            self.ensure_records(&conv, &msg);
        } else {
            msg.seq = 0;
        }
        if let Some(s) = sent_index.and_then(|i| self.sent.get_mut(i)) {
            s.seq = msg.seq;
            s.conversation_id = conv.clone();
        }
        let sender_sync = opt_is(&msg, "senderSync");
        let mut recipients: Vec<String> = match msg.session_type {
            GROUP | WRITE_GROUP => self
                .groups
                .get(&msg.group_id)
                .map(|g| g.members.keys().cloned().collect())
                .unwrap_or_default(),
            _ => vec![msg.recv_id.clone(), msg.send_id.clone()],
        };
        if !sender_sync && msg.send_id != msg.recv_id {
            recipients.retain(|r| r != &msg.send_id);
        }
        recipients.sort();
        recipients.dedup();
        // the push carries the operationID of the request that sent the message
        let operation_id = sent_index
            .and_then(|i| self.sent.get(i))
            .map(|s| s.operation_id.clone())
            .filter(|op| !op.is_empty())
            .unwrap_or_else(|| format!("imsim-{}", &hex32()[..16]));
        let frame = push_frame(&conv, &msg, &operation_id);
        for r in &recipients {
            self.push_to(r, &frame);
        }
        (conv, msg.seq)
    }

    /// Records a send for `OpenImSim::sent`; returns its index.
    pub(crate) fn record_sent(
        &mut self,
        via: &str,
        user: &str,
        operation_id: &str,
        msg: &MsgData,
        err: Option<&CodeError>,
    ) -> usize {
        self.sent.push(Sent {
            via: via.to_owned(),
            user_id: user.to_owned(),
            operation_id: operation_id.to_owned(),
            client_msg_id: msg.client_msg_id.clone(),
            server_msg_id: if err.is_none() {
                msg.server_msg_id.clone()
            } else {
                String::new()
            },
            send_id: msg.send_id.clone(),
            recv_id: msg.recv_id.clone(),
            group_id: msg.group_id.clone(),
            session_type: msg.session_type,
            content_type: msg.content_type,
            content: String::from_utf8_lossy(&msg.content).into_owned(),
            text: text_of(msg.content_type, &msg.content),
            at_user_id_list: msg.at_user_id_list.clone(),
            conversation_id: conversation_id_of(msg),
            err_code: err.map_or(0, |e| e.code),
            err_dlt: err.map(|e| e.detail.clone()).unwrap_or_default(),
            seq: 0,
            at_ms: now_ms(),
        });
        self.sent.len() - 1
    }

    /// A user message as a phone client would send it, stored and pushed at once.
    pub(crate) fn inject(
        &mut self,
        from: &str,
        recv: &str,
        group: &str,
        content_type: i32,
        content: Value,
        at: &[String],
    ) -> Injected {
        let nickname = self
            .users
            .get(from)
            .map(|u| u.nickname.clone())
            .unwrap_or_else(|| from.to_owned());
        let face = self
            .users
            .get(from)
            .map(|u| u.face_url.clone())
            .unwrap_or_default();
        let now = now_ms_i64();
        let msg = MsgData {
            send_id: from.to_owned(),
            recv_id: recv.to_owned(),
            group_id: group.to_owned(),
            client_msg_id: hex32(),
            server_msg_id: hex32(),
            sender_platform_id: 1,
            sender_nickname: nickname,
            sender_face_url: face,
            session_type: if group.is_empty() { SINGLE } else { GROUP },
            msg_from: 100,
            content_type,
            content: content.to_string().into_bytes(),
            send_time: now,
            create_time: now,
            status: 1,
            at_user_id_list: at.to_vec(),
            ..MsgData::default()
        };
        let (client, server) = (msg.client_msg_id.clone(), msg.server_msg_id.clone());
        let text = text_of(msg.content_type, &msg.content).unwrap_or_default();
        let (conv, seq) = self.commit(msg, None);
        Injected {
            conversation_id: conv,
            seq,
            client_msg_id: client,
            server_msg_id: server,
            send_time: now,
            text,
        }
    }
}

/// `content` of a text message (101), or of an @ message (106) when `at` is non-empty.
pub(crate) fn text_content(text: &str, at: &[String], users: &State) -> (i32, Value) {
    if at.is_empty() {
        return (101, json!({ "content": text }));
    }
    let infos: Vec<Value> = at
        .iter()
        .map(|u| {
            json!({
                "atUserID": u,
                "groupNickname": users.users.get(u).map(|x| x.nickname.clone()).unwrap_or_else(|| u.clone()),
            })
        })
        .collect();
    (
        106,
        json!({ "text": text, "atUserList": at, "atUsersInfo": infos, "isAtSelf": false }),
    )
}

impl Shared {
    /// Stores and pushes an accepted send, honouring `push_delay`.
    pub(crate) fn commit_later(self: &std::sync::Arc<Self>, msg: MsgData, sent_index: usize) {
        let delay = self.opts.push_delay;
        if delay.is_zero() {
            self.lock().commit(msg, Some(sent_index));
            self.bump();
        } else {
            let shared = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                shared.lock().commit(msg, Some(sent_index));
                shared.bump();
            });
        }
    }
}
