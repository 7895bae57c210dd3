//! REST request bodies read the way Go's `encoding/json` fills the protobuf request structs:
//! keys matched case-insensitively, unknown keys ignored, missing or `null` = zero value, a wrong
//! JSON type = 1001 ArgsError naming the field. And the JSON shapes of the responses (proto field
//! names, zero values included, empty maps omitted, `bytes` as base64).

use serde_json::{Map, Value, json};

use super::errs::{CodeError, CodeResult};
use super::msgs::b64;
use super::pb;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Body<'a> {
    map: &'a Map<String, Value>,
}

fn type_err(key: &str, want: &str, got: &Value) -> CodeError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    CodeError::args(format!(
        "json: cannot unmarshal {kind} into Go struct field .{key} of type {want}"
    ))
}

impl<'a> Body<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map
            .get(key)
            .or_else(|| {
                self.map
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, key: &str) -> CodeResult<String> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(type_err(key, "string", v)),
        }
    }

    pub(crate) fn i64(&self, key: &str) -> CodeResult<i64> {
        match self.get(key) {
            None => Ok(0),
            Some(v) => v.as_i64().ok_or_else(|| type_err(key, "int64", v)),
        }
    }

    pub(crate) fn i32(&self, key: &str) -> CodeResult<i32> {
        match self.get(key) {
            None => Ok(0),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| type_err(key, "int32", v)),
        }
    }

    pub(crate) fn u64(&self, key: &str) -> CodeResult<u64> {
        match self.get(key) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| type_err(key, "uint64", v)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> CodeResult<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(type_err(key, "bool", v)),
        }
    }

    pub(crate) fn strs(&self, key: &str) -> CodeResult<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(type_err(key, "[]string", other)),
                })
                .collect(),
            Some(v) => Err(type_err(key, "[]string", v)),
        }
    }

    pub(crate) fn obj(&self, key: &str) -> CodeResult<Option<Body<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Body::new(m))),
            Some(v) => Err(type_err(key, "object", v)),
        }
    }

    pub(crate) fn objs(&self, key: &str) -> CodeResult<Vec<Body<'a>>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Body::new(m)),
                    other => Err(type_err(key, "[]object", other)),
                })
                .collect(),
            Some(v) => Err(type_err(key, "[]object", v)),
        }
    }

    /// `RequestPagination` → (offset, limit); absent or zero `showNumber` = everything.
    pub(crate) fn pagination(&self) -> CodeResult<(usize, usize)> {
        let Some(p) = self.obj("pagination")? else {
            return Ok((0, usize::MAX));
        };
        let page = p.i32("pageNumber")?.max(1);
        let show = p.i32("showNumber")?;
        if show <= 0 {
            return Ok((0, usize::MAX));
        }
        let show = usize::try_from(show).unwrap_or(usize::MAX);
        let page = usize::try_from(page).unwrap_or(1);
        Ok(((page - 1).saturating_mul(show), show))
    }
}

pub(crate) fn page<T>(items: Vec<T>, (offset, limit): (usize, usize)) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}

// ---- response JSON -----------------------------------------------------------------------------

pub(crate) fn msg_json(m: &pb::MsgData) -> Value {
    let mut v = json!({
        "sendID": m.send_id,
        "recvID": m.recv_id,
        "groupID": m.group_id,
        "clientMsgID": m.client_msg_id,
        "serverMsgID": m.server_msg_id,
        "senderPlatformID": m.sender_platform_id,
        "senderNickname": m.sender_nickname,
        "senderFaceURL": m.sender_face_url,
        "sessionType": m.session_type,
        "msgFrom": m.msg_from,
        "contentType": m.content_type,
        "content": if m.content.is_empty() { Value::Null } else { Value::String(b64(&m.content)) },
        "seq": m.seq,
        "sendTime": m.send_time,
        "createTime": m.create_time,
        "status": m.status,
        "isRead": m.is_read,
        "offlinePushInfo": m.offline_push_info.as_ref().map(|o| json!({
            "title": o.title, "desc": o.desc, "ex": o.ex, "iOSPushSound": o.ios_push_sound,
            "iOSBadgeCount": o.ios_badge_count, "signalInfo": o.signal_info,
        })),
        "atUserIDList": if m.at_user_id_list.is_empty() { Value::Null } else { json!(m.at_user_id_list) },
        "attachedInfo": m.attached_info,
        "ex": m.ex,
    });
    if !m.options.is_empty() {
        v["options"] = json!(m.options);
    }
    v
}

pub(crate) fn pull_json(p: &pb::PushMessages) -> Value {
    let conv = |map: &std::collections::BTreeMap<String, pb::PullMsgs>| -> Value {
        let mut out = Map::new();
        for (k, v) in map {
            out.insert(
                k.clone(),
                json!({
                    "Msgs": v.msgs.iter().map(msg_json).collect::<Vec<_>>(),
                    "isEnd": v.is_end,
                    "endSeq": v.end_seq,
                }),
            );
        }
        Value::Object(out)
    };
    let mut v = json!({});
    if !p.msgs.is_empty() {
        v["msgs"] = conv(&p.msgs);
    }
    if !p.notification_msgs.is_empty() {
        v["notificationMsgs"] = conv(&p.notification_msgs);
    }
    v
}

pub(crate) fn user_json(u: &pb::UserInfo) -> Value {
    json!({
        "userID": u.user_id,
        "nickname": u.nickname,
        "faceURL": u.face_url,
        "ex": u.ex,
        "createTime": u.create_time,
        "appMangerLevel": u.app_manger_level,
        "globalRecvMsgOpt": u.global_recv_msg_opt,
    })
}

pub(crate) fn group_json(g: &pb::GroupInfo) -> Value {
    json!({
        "groupID": g.group_id,
        "groupName": g.group_name,
        "notification": g.notification,
        "introduction": g.introduction,
        "faceURL": g.face_url,
        "ownerUserID": g.owner_user_id,
        "createTime": g.create_time,
        "memberCount": g.member_count,
        "ex": g.ex,
        "status": g.status,
        "creatorUserID": g.creator_user_id,
        "groupType": g.group_type,
        "needVerification": g.need_verification,
        "lookMemberInfo": g.look_member_info,
        "applyMemberFriend": g.apply_member_friend,
        "notificationUpdateTime": g.notification_update_time,
        "notificationUserID": g.notification_user_id,
    })
}

pub(crate) fn conversation_json(c: &pb::Conversation) -> Value {
    json!({
        "ownerUserID": c.owner_user_id,
        "conversationID": c.conversation_id,
        "recvMsgOpt": c.recv_msg_opt,
        "conversationType": c.conversation_type,
        "userID": c.user_id,
        "groupID": c.group_id,
        "isPinned": c.is_pinned,
        "attachedInfo": c.attached_info,
        "isPrivateChat": c.is_private_chat,
        "groupAtType": c.group_at_type,
        "ex": c.ex,
        "burnDuration": c.burn_duration,
        "minSeq": c.min_seq,
        "maxSeq": c.max_seq,
        "msgDestructTime": c.msg_destruct_time,
        "latestMsgDestructTime": c.latest_msg_destruct_time,
        "isMsgDestruct": c.is_msg_destruct,
    })
}

pub(crate) fn conversation_msg_json(c: &pb::ConversationMsg) -> Value {
    json!({
        "conversation": c.conversation.as_ref().map(conversation_json),
        "lastMsg": c.last_msg.as_ref().map(msg_json),
        "user": c.user.as_ref().map(user_json),
        "friend": c.friend.as_ref().map(|f| json!({
            "ownerUserID": f.owner_user_id, "friendUserID": f.friend_user_id,
            "friendNickname": f.friend_nickname, "friendFaceURL": f.friend_face_url,
            "remark": f.remark, "createTime": f.create_time, "addSource": f.add_source,
            "operatorUserID": f.operator_user_id, "ex": f.ex, "isPinned": f.is_pinned,
        })),
        "group": c.group.as_ref().map(group_json),
        "maxSeq": c.max_seq,
        "readSeq": c.read_seq,
    })
}
