//! REST `/group/*`, `/friend/*`, `/conversation/*` and `/jssdk/*` (spec §3.4, §5.3, §5.4).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use prost::Message as _;
use serde_json::{Value, json};

use super::body::{conversation_json, conversation_msg_json, group_json, page, user_json};
use super::errs::{CodeError, CodeResult, code};
use super::msgs::{GROUP, SINGLE};
use super::pb;
use super::rest::Ctx;
use super::state::{FriendRec, FriendReqRec, GroupRec, MemberRec, State, now_ms_i64};

type Handler = fn(&Ctx) -> CodeResult<Value>;

pub(crate) fn route(path: &str) -> Option<Handler> {
    let h: Handler = match path {
        "/group/create_group" => create_group,
        "/group/get_groups_info" => get_groups_info,
        "/group/get_group_member_list" => get_group_member_list,
        "/group/get_group_members_info" => get_group_members_info,
        "/group/get_joined_group_list" => get_joined_group_list,
        "/group/get_full_join_group_ids" => get_full_join_group_ids,
        "/group/get_incremental_join_groups" => get_incremental_join_groups,
        "/group/invite_user_to_group" => invite_user_to_group,
        "/group/kick_group" => kick_group,
        "/group/quit_group" => quit_group,
        "/group/dismiss_group" => dismiss_group,
        "/friend/get_friend_list" => get_friend_list,
        "/friend/get_designated_friends" => get_designated_friends,
        "/friend/add_friend" => add_friend,
        "/friend/add_friend_response" => add_friend_response,
        "/friend/import_friend" => import_friend,
        "/friend/is_friend" => is_friend,
        "/friend/delete_friend" => delete_friend,
        "/friend/get_incremental_friends" => get_incremental_friends,
        "/friend/get_full_friend_user_ids" => get_full_friend_user_ids,
        "/friend/get_friend_apply_list" => get_friend_apply_list,
        "/friend/get_self_friend_apply_list" => get_self_friend_apply_list,
        "/friend/add_black" => add_black,
        "/friend/remove_black" => remove_black,
        "/friend/get_black_list" => get_black_list,
        "/friend/get_incremental_blacks" => get_incremental_blacks,
        "/conversation/get_conversations" => get_conversations,
        "/conversation/get_all_conversations" => get_all_conversations,
        "/conversation/get_owner_conversation" => get_owner_conversation,
        "/conversation/get_incremental_conversations" => get_incremental_conversations,
        "/conversation/get_full_conversation_ids" => get_full_conversation_ids,
        "/conversation/get_not_notify_conversation_ids" => get_not_notify_conversation_ids,
        "/conversation/get_pinned_conversation_ids" => get_pinned_conversation_ids,
        "/jssdk/get_active_conversations" => jssdk_active_conversations,
        "/jssdk/get_conversations" => jssdk_get_conversations,
        _ => return None,
    };
    Some(h)
}

/// A stable 64-bit hash of an id list (the `idHash` of the full-ids endpoints).
fn id_hash(ids: &[String]) -> u64 {
    let digest = Md5::digest(ids.join(",").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

fn null_if_empty(v: Vec<Value>) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::Array(v)
    }
}

/// The incremental-sync answer: everything (`full`) unless the client is already up to date.
fn incremental(ctx: &Ctx, list: &'static str, user: &str, items: Vec<Value>) -> CodeResult<Value> {
    let version_id = ctx.body.str("versionID")?;
    let version = ctx.body.u64("version")?;
    let current = ctx.shared.lock().version(list, user);
    let up_to_date = version_id == ctx.shared.version_id && version == current;
    Ok(json!({
        "version": current,
        "versionID": ctx.shared.version_id,
        "full": !up_to_date,
        "delete": Value::Null,
        "insert": if up_to_date { Value::Null } else { null_if_empty(items) },
        "update": Value::Null,
    }))
}

fn full_ids(
    ctx: &Ctx,
    list: &'static str,
    user: &str,
    key: &str,
    ids: Vec<String>,
) -> CodeResult<Value> {
    let equal = ctx.body.u64("idHash")? == id_hash(&ids);
    let version = ctx.shared.lock().version(list, user);
    let mut v = json!({
        "version": version,
        "versionID": ctx.shared.version_id,
        "equal": equal,
    });
    v[key] = if equal { Value::Null } else { json!(ids) };
    Ok(v)
}

// ---- groups ------------------------------------------------------------------------------------

fn group<'a>(st: &'a State, gid: &str) -> CodeResult<&'a GroupRec> {
    st.groups
        .get(gid)
        .ok_or_else(|| CodeError::new(code::GROUP_ID_NOT_FOUND, format!("group {gid:?} not found")))
}

fn create_group(ctx: &Ctx) -> CodeResult<Value> {
    let caller = ctx.caller()?.clone();
    let members = ctx.body.strs("memberUserIDs")?;
    let admins = ctx.body.strs("adminUserIDs")?;
    let owner = ctx.body.str("ownerUserID")?;
    let info = ctx
        .body
        .obj("groupInfo")?
        .ok_or_else(|| CodeError::args("groupInfo is required"))?;
    if info.i32("groupType")? != 2 {
        return Err(CodeError::args("groupType must be 2 (working group)"));
    }
    if owner.is_empty() {
        return Err(CodeError::args("ownerUserID is empty"));
    }
    if owner != caller.user_id && !caller.admin {
        return Err(CodeError::no_permission("ownerUserID must be the caller"));
    }
    let mut all: Vec<String> = members.iter().chain(admins.iter()).cloned().collect();
    all.push(owner.clone());
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != all.len() {
        return Err(CodeError::args("duplicate userIDs in the group"));
    }
    let mut st = ctx.shared.lock();
    for u in &all {
        st.require_user(u)?;
    }
    let mut gid = info.str("groupID")?;
    if gid.is_empty() {
        gid = loop {
            let candidate = (rand::random::<u64>() % 9_000_000_000 + 1_000_000_000).to_string();
            if !st.groups.contains_key(&candidate) {
                break candidate;
            }
        };
    }
    if st.groups.contains_key(&gid) {
        return Err(CodeError::new(
            code::GROUP_ID_EXISTED,
            format!("group {gid:?} exists"),
        ));
    }
    let now = now_ms_i64();
    let mut rec = GroupRec {
        info: pb::GroupInfo {
            group_id: gid.clone(),
            group_name: info.str("groupName")?,
            notification: info.str("notification")?,
            introduction: info.str("introduction")?,
            face_url: info.str("faceURL")?,
            owner_user_id: owner.clone(),
            create_time: now,
            ex: info.str("ex")?,
            creator_user_id: caller.user_id.clone(),
            group_type: 2,
            need_verification: info.i32("needVerification")?,
            look_member_info: info.i32("lookMemberInfo")?,
            apply_member_friend: info.i32("applyMemberFriend")?,
            ..pb::GroupInfo::default()
        },
        members: BTreeMap::new(),
    };
    for u in &all {
        let role = if *u == owner {
            100
        } else if admins.contains(u) {
            60
        } else {
            20
        };
        rec.members.insert(
            u.clone(),
            MemberRec {
                role_level: role,
                join_time: now,
                join_source: 2,
                operator_user_id: caller.user_id.clone(),
                inviter_user_id: caller.user_id.clone(),
                ..MemberRec::default()
            },
        );
    }
    let out = group_json(&rec.info());
    st.groups.insert(gid, rec);
    for u in &all {
        st.bump_version("group", u);
    }
    Ok(json!({ "groupInfo": out }))
}

fn get_groups_info(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let ids = ctx.body.strs("groupIDs")?;
    if ids.is_empty() {
        return Err(CodeError::args("groupIDs is empty"));
    }
    let st = ctx.shared.lock();
    let infos: Vec<Value> = ids
        .iter()
        .filter_map(|g| st.groups.get(g))
        .map(|g| group_json(&g.info()))
        .collect();
    Ok(json!({ "groupInfos": infos }))
}

fn member_or_admin(ctx: &Ctx, g: &GroupRec) -> CodeResult<()> {
    let c = ctx.caller()?;
    if c.admin || g.members.contains_key(&c.user_id) {
        Ok(())
    } else {
        Err(CodeError::new(
            code::NOT_IN_GROUP_YET,
            "you are not in the group",
        ))
    }
}

fn get_group_member_list(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let keyword = ctx.body.str("keyword")?;
    let filter = ctx.body.i32("filter")?;
    let st = ctx.shared.lock();
    let g = group(&st, &gid)?;
    member_or_admin(ctx, g)?;
    let all: Vec<Value> = g
        .members
        .iter()
        .filter(|(_, m)| match filter {
            1 => m.role_level == 100,
            2 => m.role_level == 60,
            3 => m.role_level == 20,
            4 => m.role_level >= 60,
            5 => m.role_level < 100,
            _ => true,
        })
        .map(|(u, _)| g.member_info(u, &st.users))
        .filter(|v| {
            keyword.is_empty()
                || v["nickname"].as_str().unwrap_or("").contains(&keyword)
                || v["userID"].as_str().unwrap_or("").contains(&keyword)
        })
        .collect();
    let total = all.len();
    Ok(json!({ "total": total, "members": page(all, ctx.body.pagination()?) }))
}

fn get_group_members_info(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let ids = ctx.body.strs("userIDs")?;
    let st = ctx.shared.lock();
    let g = group(&st, &gid)?;
    member_or_admin(ctx, g)?;
    let members: Vec<Value> = ids
        .iter()
        .filter(|u| g.members.contains_key(*u))
        .map(|u| g.member_info(u, &st.users))
        .collect();
    Ok(json!({ "members": members }))
}

fn joined_groups(st: &State, user: &str) -> Vec<Value> {
    st.groups
        .values()
        .filter(|g| g.members.contains_key(user) && g.info.status != 2)
        .map(|g| group_json(&g.info()))
        .collect()
}

fn get_joined_group_list(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("fromUserID")?;
    ctx.check_access(&user)?;
    let all = joined_groups(&ctx.shared.lock(), &user);
    let total = all.len();
    Ok(json!({ "total": total, "groups": page(all, ctx.body.pagination()?) }))
}

fn get_full_join_group_ids(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let ids: Vec<String> = {
        let st = ctx.shared.lock();
        st.groups
            .values()
            .filter(|g| g.members.contains_key(&user) && g.info.status != 2)
            .map(|g| g.info.group_id.clone())
            .collect()
    };
    full_ids(ctx, "group", &user, "groupIDs", ids)
}

fn get_incremental_join_groups(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let items = joined_groups(&ctx.shared.lock(), &user);
    incremental(ctx, "group", &user, items)
}

impl State {
    /// Adds members; a member joining a group with history starts at its max seq + 1.
    pub(crate) fn join_group(&mut self, gid: &str, users: &[String], inviter: &str, source: i32) {
        let conv = format!("sg_{gid}");
        let max = self.convs.get(&conv).map_or(0, |c| c.max_seq);
        let now = now_ms_i64();
        let Some(g) = self.groups.get_mut(gid) else {
            return;
        };
        let mut added = Vec::new();
        for u in users {
            if g.members.contains_key(u) {
                continue;
            }
            g.members.insert(
                u.clone(),
                MemberRec {
                    role_level: 20,
                    join_time: now,
                    join_source: source,
                    operator_user_id: inviter.to_owned(),
                    inviter_user_id: inviter.to_owned(),
                    ..MemberRec::default()
                },
            );
            added.push(u.clone());
        }
        for u in added {
            if max > 0 {
                let rec = self
                    .records
                    .entry(u.clone())
                    .or_default()
                    .entry(conv.clone())
                    .or_default();
                rec.conversation_type = GROUP;
                rec.group_id = gid.to_owned();
                rec.min_seq = max + 1;
                rec.max_cap = None;
                self.bump_version("conv", &u);
            }
            self.bump_version("group", &u);
        }
    }

    /// Removes members; their record of the group conversation stops at the current max seq.
    pub(crate) fn leave_group(&mut self, gid: &str, users: &[String]) {
        let conv = format!("sg_{gid}");
        let max = self.convs.get(&conv).map_or(0, |c| c.max_seq);
        if let Some(g) = self.groups.get_mut(gid) {
            for u in users {
                g.members.remove(u);
            }
        }
        for u in users {
            if let Some(rec) = self.records.get_mut(u).and_then(|r| r.get_mut(&conv)) {
                rec.max_cap = Some(max);
            }
            self.bump_version("group", u);
        }
    }
}

fn invite_user_to_group(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let invited = ctx.body.strs("invitedUserIDs")?;
    if invited.is_empty() {
        return Err(CodeError::args("invitedUserIDs is empty"));
    }
    let caller = ctx.caller()?.user_id.clone();
    let mut st = ctx.shared.lock();
    member_or_admin(ctx, group(&st, &gid)?)?;
    for u in &invited {
        st.require_user(u)?;
    }
    st.join_group(&gid, &invited, &caller, 3);
    Ok(Value::Null)
}

fn kick_group(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let kicked = ctx.body.strs("kickedUserIDs")?;
    let c = ctx.caller()?.clone();
    let mut st = ctx.shared.lock();
    let g = group(&st, &gid)?;
    let role = g.members.get(&c.user_id).map_or(0, |m| m.role_level);
    if !c.admin && role < 60 {
        return Err(CodeError::no_permission(
            "only the owner or an admin can kick",
        ));
    }
    if kicked.contains(&g.info.owner_user_id) {
        return Err(CodeError::no_permission("cannot kick the owner"));
    }
    st.leave_group(&gid, &kicked);
    Ok(Value::Null)
}

fn quit_group(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let mut user = ctx.body.str("userID")?;
    if user.is_empty() {
        user = ctx.caller()?.user_id.clone();
    }
    ctx.check_access(&user)?;
    let mut st = ctx.shared.lock();
    let g = group(&st, &gid)?;
    if !g.members.contains_key(&user) {
        return Err(CodeError::new(code::NOT_IN_GROUP_YET, "not in the group"));
    }
    if g.info.owner_user_id == user {
        return Err(CodeError::no_permission("the owner cannot quit"));
    }
    st.leave_group(&gid, &[user]);
    Ok(Value::Null)
}

fn dismiss_group(ctx: &Ctx) -> CodeResult<Value> {
    let gid = ctx.body.str("groupID")?;
    let c = ctx.caller()?.clone();
    let mut st = ctx.shared.lock();
    let g = group(&st, &gid)?;
    if !c.admin && g.info.owner_user_id != c.user_id {
        return Err(CodeError::no_permission("only the owner can dismiss"));
    }
    if let Some(g) = st.groups.get_mut(&gid) {
        g.info.status = 2;
    }
    Ok(Value::Null)
}

// ---- friends -----------------------------------------------------------------------------------

fn friend_json(st: &State, owner: &str, friend: &str, rec: &FriendRec) -> Value {
    json!({
        "ownerUserID": owner,
        "remark": rec.remark,
        "createTime": rec.create_time,
        "friendUser": st.user_info(friend).map(|u| user_json(&u)),
        "addSource": rec.add_source,
        "operatorUserID": rec.operator_user_id,
        "ex": rec.ex,
        "isPinned": rec.is_pinned,
    })
}

fn friends_of(st: &State, owner: &str) -> Vec<Value> {
    st.friends
        .get(owner)
        .map(|m| {
            m.iter()
                .map(|(f, rec)| friend_json(st, owner, f, rec))
                .collect()
        })
        .unwrap_or_default()
}

fn get_friend_list(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let all = friends_of(&ctx.shared.lock(), &user);
    let total = all.len();
    Ok(json!({ "friendsInfo": page(all, ctx.body.pagination()?), "total": total }))
}

fn get_designated_friends(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    ctx.check_access(&owner)?;
    let ids = ctx.body.strs("friendUserIDs")?;
    let st = ctx.shared.lock();
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|f| {
            st.friends
                .get(&owner)
                .and_then(|m| m.get(f))
                .map(|rec| friend_json(&st, &owner, f, rec))
        })
        .collect();
    Ok(json!({ "friendsInfo": out }))
}

fn add_friend(ctx: &Ctx) -> CodeResult<Value> {
    let from = ctx.body.str("fromUserID")?;
    let to = ctx.body.str("toUserID")?;
    ctx.check_access(&from)?;
    if from == to {
        return Err(CodeError::new(
            code::CAN_NOT_ADD_YOURSELF,
            "cannot add yourself",
        ));
    }
    let mut st = ctx.shared.lock();
    st.require_user(&to)?;
    if st.is_friend(&from, &to) && st.is_friend(&to, &from) {
        return Err(CodeError::new(
            code::RELATIONSHIP_ALREADY,
            "already friends",
        ));
    }
    let now = now_ms_i64();
    let req = FriendReqRec {
        from: from.clone(),
        to: to.clone(),
        req_msg: ctx.body.str("reqMsg")?,
        ex: ctx.body.str("ex")?,
        handle_result: 0,
        handle_msg: String::new(),
        create_time: now,
        handle_time: 0,
    };
    // a newer application replaces a pending one between the same two users
    st.friend_requests
        .retain(|r| !(r.from == from && r.to == to && r.handle_result == 0));
    st.friend_requests.push(req);
    Ok(Value::Null)
}

fn add_friend_response(ctx: &Ctx) -> CodeResult<Value> {
    let from = ctx.body.str("fromUserID")?;
    let to = ctx.body.str("toUserID")?;
    let result = ctx.body.i32("handleResult")?;
    let msg = ctx.body.str("handleMsg")?;
    ctx.check_access(&to)?;
    if result != 1 && result != -1 {
        return Err(CodeError::args("handleResult must be 1 or -1"));
    }
    let mut st = ctx.shared.lock();
    let idx = st
        .friend_requests
        .iter()
        .rposition(|r| r.from == from && r.to == to)
        .ok_or_else(|| CodeError::not_found("no friend application between these users"))?;
    if st.friend_requests[idx].handle_result != 0 {
        return Err(CodeError::new(
            code::FRIEND_REQUEST_HANDLED,
            "friend application already handled",
        ));
    }
    let r = &mut st.friend_requests[idx];
    r.handle_result = result;
    r.handle_msg = msg;
    r.handle_time = now_ms_i64();
    if result == 1 {
        st.make_friends(&from, &to, 3, &to);
    }
    Ok(Value::Null)
}

fn import_friend(ctx: &Ctx) -> CodeResult<Value> {
    ctx.require_admin()?;
    let owner = ctx.body.str("ownerUserID")?;
    let ids = ctx.body.strs("friendUserIDs")?;
    let mut st = ctx.shared.lock();
    st.require_user(&owner)?;
    for f in &ids {
        st.require_user(f)?;
        if *f == owner {
            return Err(CodeError::new(
                code::CAN_NOT_ADD_YOURSELF,
                "cannot add yourself",
            ));
        }
    }
    let caller = ctx.caller()?.user_id.clone();
    for f in &ids {
        st.make_friends(&owner, f, 1, &caller);
    }
    Ok(Value::Null)
}

fn is_friend(ctx: &Ctx) -> CodeResult<Value> {
    ctx.caller()?;
    let a = ctx.body.str("userID1")?;
    let b = ctx.body.str("userID2")?;
    let st = ctx.shared.lock();
    Ok(json!({ "inUser1Friends": st.is_friend(&a, &b), "inUser2Friends": st.is_friend(&b, &a) }))
}

fn delete_friend(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    let friend = ctx.body.str("friendUserID")?;
    ctx.check_access(&owner)?;
    let mut st = ctx.shared.lock();
    let removed = st
        .friends
        .get_mut(&owner)
        .and_then(|m| m.remove(&friend))
        .is_some();
    if !removed {
        return Err(CodeError::not_found("not a friend"));
    }
    st.bump_version("friend", &owner);
    Ok(Value::Null)
}

fn get_incremental_friends(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let items = friends_of(&ctx.shared.lock(), &user);
    let mut v = incremental(ctx, "friend", &user, items)?;
    v["sortVersion"] = json!(0);
    Ok(v)
}

fn get_full_friend_user_ids(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let ids: Vec<String> = ctx
        .shared
        .lock()
        .friends
        .get(&user)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    full_ids(ctx, "friend", &user, "userIDs", ids)
}

fn request_json(st: &State, r: &FriendReqRec) -> Value {
    let info = |u: &str| st.user_info(u).unwrap_or_default();
    let (f, t) = (info(&r.from), info(&r.to));
    json!({
        "fromUserID": r.from, "fromNickname": f.nickname, "fromFaceURL": f.face_url,
        "toUserID": r.to, "toNickname": t.nickname, "toFaceURL": t.face_url,
        "handleResult": r.handle_result, "reqMsg": r.req_msg, "createTime": r.create_time,
        "handlerUserID": if r.handle_result == 0 { "" } else { r.to.as_str() },
        "handleMsg": r.handle_msg, "handleTime": r.handle_time, "ex": r.ex,
    })
}

fn get_friend_apply_list(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let st = ctx.shared.lock();
    let all: Vec<Value> = st
        .friend_requests
        .iter()
        .filter(|r| r.to == user)
        .map(|r| request_json(&st, r))
        .collect();
    let total = all.len();
    Ok(json!({ "FriendRequests": page(all, ctx.body.pagination()?), "total": total }))
}

fn get_self_friend_apply_list(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let st = ctx.shared.lock();
    let all: Vec<Value> = st
        .friend_requests
        .iter()
        .filter(|r| r.from == user)
        .map(|r| request_json(&st, r))
        .collect();
    let total = all.len();
    Ok(json!({ "friendRequests": page(all, ctx.body.pagination()?), "total": total }))
}

fn add_black(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    let black = ctx.body.str("blackUserID")?;
    ctx.check_access(&owner)?;
    let mut st = ctx.shared.lock();
    st.require_user(&black)?;
    st.blacks.insert((owner.clone(), black));
    st.bump_version("black", &owner);
    Ok(Value::Null)
}

fn remove_black(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    let black = ctx.body.str("blackUserID")?;
    ctx.check_access(&owner)?;
    let mut st = ctx.shared.lock();
    if !st.blacks.remove(&(owner.clone(), black)) {
        return Err(CodeError::not_found("not in the blacklist"));
    }
    st.bump_version("black", &owner);
    Ok(Value::Null)
}

fn blacks_of(st: &State, owner: &str) -> Vec<Value> {
    st.blacks
        .iter()
        .filter(|(o, _)| o == owner)
        .map(|(_, b)| {
            let u = st.user_info(b).unwrap_or_default();
            json!({
                "ownerUserID": owner, "createTime": 0, "addSource": 0, "operatorUserID": owner, "ex": "",
                "blackUserInfo": { "userID": b, "nickname": u.nickname, "faceURL": u.face_url, "ex": u.ex },
            })
        })
        .collect()
}

fn get_black_list(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let all = blacks_of(&ctx.shared.lock(), &user);
    let total = all.len();
    Ok(json!({ "blacks": page(all, ctx.body.pagination()?), "total": total }))
}

fn get_incremental_blacks(ctx: &Ctx) -> CodeResult<Value> {
    let user = ctx.body.str("userID")?;
    ctx.check_access(&user)?;
    let items = blacks_of(&ctx.shared.lock(), &user);
    incremental(ctx, "black", &user, items)
}

// ---- conversations -----------------------------------------------------------------------------

impl State {
    /// The owner's `Conversation`, from their record or synthesized from the id (`si_`/`sg_`).
    pub(crate) fn conversation(&self, owner: &str, conv: &str) -> Option<pb::Conversation> {
        let mut c = pb::Conversation {
            owner_user_id: owner.to_owned(),
            conversation_id: conv.to_owned(),
            ..pb::Conversation::default()
        };
        if let Some(rec) = self.records.get(owner).and_then(|r| r.get(conv)) {
            c.conversation_type = rec.conversation_type;
            c.user_id = rec.peer_user_id.clone();
            c.group_id = rec.group_id.clone();
            c.is_pinned = rec.is_pinned;
            c.recv_msg_opt = rec.recv_msg_opt;
            c.min_seq = rec.min_seq;
            c.max_seq = self.window(owner, conv).map_or(0, |(_, max)| max);
            return Some(c);
        }
        if let Some(rest) = conv.strip_prefix("si_") {
            let peer = if let Some(p) = rest.strip_prefix(&format!("{owner}_")) {
                p
            } else {
                rest.strip_suffix(&format!("_{owner}"))?
            };
            c.conversation_type = SINGLE;
            c.user_id = peer.to_owned();
            return Some(c);
        }
        if let Some(gid) = conv.strip_prefix("sg_") {
            c.conversation_type = GROUP;
            c.group_id = gid.to_owned();
            return Some(c);
        }
        None
    }

    fn conversation_msg(&self, owner: &str, conv: &str) -> Option<pb::ConversationMsg> {
        let c = self.conversation(owner, conv)?;
        let window = self.window(owner, conv);
        let last = window.and_then(|(min, max)| {
            self.convs
                .get(conv)
                .and_then(|x| x.msgs.range(min..=max).next_back().map(|(_, m)| m.clone()))
        });
        let read = self
            .records
            .get(owner)
            .and_then(|r| r.get(conv))
            .map_or(0, |r| r.has_read_seq);
        let friend = (!c.user_id.is_empty())
            .then(|| {
                self.friends
                    .get(owner)
                    .and_then(|m| m.get(&c.user_id))
                    .map(|f| {
                        let u = self.user_info(&c.user_id).unwrap_or_default();
                        pb::FriendInfoOnly {
                            owner_user_id: owner.to_owned(),
                            friend_user_id: c.user_id.clone(),
                            friend_nickname: u.nickname,
                            friend_face_url: u.face_url,
                            remark: f.remark.clone(),
                            create_time: f.create_time,
                            add_source: f.add_source,
                            operator_user_id: f.operator_user_id.clone(),
                            ex: f.ex.clone(),
                            is_pinned: f.is_pinned,
                        }
                    })
            })
            .flatten();
        Some(pb::ConversationMsg {
            user: (!c.user_id.is_empty())
                .then(|| self.user_info(&c.user_id))
                .flatten(),
            group: (!c.group_id.is_empty())
                .then(|| self.groups.get(&c.group_id).map(GroupRec::info))
                .flatten(),
            friend,
            max_seq: window.map_or(0, |(_, max)| max),
            read_seq: read,
            last_msg: last,
            conversation: Some(c),
        })
    }

    fn chat_conversations(&self, owner: &str) -> Vec<String> {
        self.records
            .get(owner)
            .map(|r| r.keys().filter(|k| !k.starts_with("n_")).cloned().collect())
            .unwrap_or_default()
    }
}

fn conversations_json(st: &State, owner: &str, ids: &[String]) -> Vec<Value> {
    ids.iter()
        .filter_map(|c| st.conversation(owner, c))
        .map(|c| conversation_json(&c))
        .collect()
}

fn get_conversations(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    ctx.check_access(&owner)?;
    let ids = ctx.body.strs("conversationIDs")?;
    let st = ctx.shared.lock();
    let known: Vec<String> = ids
        .into_iter()
        .filter(|c| st.records.get(&owner).is_some_and(|r| r.contains_key(c)))
        .collect();
    Ok(json!({ "conversations": conversations_json(&st, &owner, &known) }))
}

fn get_all_conversations(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("ownerUserID")?;
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let ids = st.chat_conversations(&owner);
    Ok(json!({ "conversations": conversations_json(&st, &owner, &ids) }))
}

fn get_owner_conversation(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("userID")?;
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let ids = st.chat_conversations(&owner);
    let all = conversations_json(&st, &owner, &ids);
    let total = all.len();
    Ok(json!({ "total": total, "conversations": page(all, ctx.body.pagination()?) }))
}

fn get_incremental_conversations(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("userID")?;
    ctx.check_access(&owner)?;
    let items = {
        let st = ctx.shared.lock();
        let ids = st.chat_conversations(&owner);
        conversations_json(&st, &owner, &ids)
    };
    incremental(ctx, "conv", &owner, items)
}

fn get_full_conversation_ids(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("userID")?;
    ctx.check_access(&owner)?;
    let ids = ctx.shared.lock().chat_conversations(&owner);
    full_ids(ctx, "conv", &owner, "conversationIDs", ids)
}

fn get_not_notify_conversation_ids(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("userID")?;
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let ids: Vec<String> = st
        .records
        .get(&owner)
        .map(|r| {
            r.iter()
                .filter(|(_, c)| c.recv_msg_opt != 0)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({ "conversationIDs": ids }))
}

fn get_pinned_conversation_ids(ctx: &Ctx) -> CodeResult<Value> {
    let owner = ctx.body.str("userID")?;
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let ids: Vec<String> = st
        .records
        .get(&owner)
        .map(|r| {
            r.iter()
                .filter(|(_, c)| c.is_pinned)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({ "conversationIDs": ids }))
}

// ---- jssdk -------------------------------------------------------------------------------------

/// The two `/jssdk/*` calls take raw protobuf (`application/x-protobuf`) and answer base64
/// protobuf in `data`; with a JSON body they take and answer JSON.
fn jssdk_answer(ctx: &Ctx, unread: i64, convs: Vec<pb::ConversationMsg>) -> Value {
    if ctx.protobuf {
        let resp = pb::ConversationsResp {
            unread_count: unread,
            conversations: convs,
        };
        Value::String(STANDARD.encode(resp.encode_to_vec()))
    } else {
        json!({
            "unreadCount": unread,
            "conversations": convs.iter().map(conversation_msg_json).collect::<Vec<_>>(),
        })
    }
}

fn unread_of(c: &pb::ConversationMsg) -> i64 {
    (c.max_seq - c.read_seq).max(0)
}

fn jssdk_active_conversations(ctx: &Ctx) -> CodeResult<Value> {
    let (owner, count) = if ctx.protobuf {
        let r = pb::GetActiveConversationsReq::decode(ctx.raw)
            .map_err(|e| CodeError::args(format!("proto: {e}")))?;
        (r.owner_user_id, r.count)
    } else {
        (ctx.body.str("ownerUserID")?, ctx.body.i64("count")?)
    };
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let mut convs: Vec<pb::ConversationMsg> = st
        .chat_conversations(&owner)
        .iter()
        .filter_map(|c| st.conversation_msg(&owner, c))
        .collect();
    convs.sort_by_key(|c| std::cmp::Reverse(c.last_msg.as_ref().map_or(0, |m| m.send_time)));
    let unread = convs.iter().map(unread_of).sum();
    if count > 0 {
        convs.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    }
    Ok(jssdk_answer(ctx, unread, convs))
}

fn jssdk_get_conversations(ctx: &Ctx) -> CodeResult<Value> {
    let (owner, ids) = if ctx.protobuf {
        let r = pb::GetJsConversationsReq::decode(ctx.raw)
            .map_err(|e| CodeError::args(format!("proto: {e}")))?;
        (r.owner_user_id, r.conversation_ids)
    } else {
        (
            ctx.body.str("ownerUserID")?,
            ctx.body.strs("conversationIDs")?,
        )
    };
    ctx.check_access(&owner)?;
    let st = ctx.shared.lock();
    let convs: Vec<pb::ConversationMsg> = ids
        .iter()
        .filter_map(|c| st.conversation_msg(&owner, c))
        .collect();
    let unread = convs.iter().map(unread_of).sum();
    Ok(jssdk_answer(ctx, unread, convs))
}
