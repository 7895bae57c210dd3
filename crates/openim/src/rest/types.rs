//! The REST shapes we read (spec §2.1, §3.4), with the server's JSON names.
//!
//! Every field defaults: the server includes zero values today, but older builds and proxies
//! that strip them must not turn a user lookup into an error. Go encodes an empty slice as
//! `null`, so list fields read `null` as empty.

use serde::{Deserialize, Deserializer, Serialize};

/// `null` (Go's nil slice or map) reads as the type's default.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `sdkws.UserInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserInfo {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub nickname: String,
    #[serde(rename = "faceURL")]
    pub face_url: String,
    pub ex: String,
    /// Unix ms.
    pub create_time: i64,
    /// The server's spelling.
    pub app_manger_level: i32,
    /// 0 receive, 1 do not receive, 2 receive without offline push.
    pub global_recv_msg_opt: i32,
}

/// `sdkws.GroupInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupInfo {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub group_name: String,
    pub notification: String,
    pub introduction: String,
    #[serde(rename = "faceURL")]
    pub face_url: String,
    #[serde(rename = "ownerUserID")]
    pub owner_user_id: String,
    /// Unix ms.
    pub create_time: i64,
    pub member_count: u32,
    pub ex: String,
    /// 0 ok, 1 ban chat, 2 dismissed, 3 muted.
    pub status: i32,
    #[serde(rename = "creatorUserID")]
    pub creator_user_id: String,
    /// 2 for every group created since v3.
    pub group_type: i32,
    pub need_verification: i32,
    pub look_member_info: i32,
    pub apply_member_friend: i32,
    pub notification_update_time: i64,
    #[serde(rename = "notificationUserID")]
    pub notification_user_id: String,
}

/// `sdkws.GroupMemberFullInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupMemberFullInfo {
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    /// 20 member, 60 admin, 100 owner.
    pub role_level: i32,
    /// Unix ms.
    pub join_time: i64,
    /// The member's nickname in this group (may differ from the user's).
    pub nickname: String,
    #[serde(rename = "faceURL")]
    pub face_url: String,
    pub app_manger_level: i32,
    pub join_source: i32,
    #[serde(rename = "operatorUserID")]
    pub operator_user_id: String,
    pub ex: String,
    /// Unix ms; in the future while the member is muted.
    pub mute_end_time: i64,
    #[serde(rename = "inviterUserID")]
    pub inviter_user_id: String,
}

impl GroupMemberFullInfo {
    pub const ROLE_OWNER: i32 = 100;
    pub const ROLE_ADMIN: i32 = 60;
    pub const ROLE_MEMBER: i32 = 20;
}

/// `sdkws.RequestPagination`. Pages start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page_number: i32,
    pub show_number: i32,
}

impl Pagination {
    /// The default page size of the `all_*` helpers and of friend lists.
    pub const DEFAULT_SHOW: i32 = 100;

    pub fn new(page_number: i32, show_number: i32) -> Self {
        Self {
            page_number,
            show_number,
        }
    }

    /// Page 1 of `show_number` items.
    pub fn first(show_number: i32) -> Self {
        Self::new(1, show_number)
    }
}

impl Default for Pagination {
    fn default() -> Self {
        Self::first(Self::DEFAULT_SHOW)
    }
}

/// One page of a paged list, with the server's total count of the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

// ---- answers, as `data` holds them ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct UsersInfoResp {
    #[serde(rename = "usersInfo", default, deserialize_with = "nullable")]
    pub users_info: Vec<UserInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GroupsInfoResp {
    #[serde(rename = "groupInfos", default, deserialize_with = "nullable")]
    pub group_infos: Vec<GroupInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MemberListResp {
    #[serde(default)]
    pub total: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub members: Vec<GroupMemberFullInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JoinedGroupsResp {
    #[serde(default)]
    pub total: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<GroupInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerTimeResp {
    #[serde(rename = "serverTime")]
    pub server_time: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_json_names() {
        let user: UserInfo = serde_json::from_value(json!({
            "userID": "alice", "nickname": "Alice", "faceURL": "http://f", "ex": "x",
            "createTime": 5, "appMangerLevel": 1, "globalRecvMsgOpt": 2
        }))
        .expect("user");
        assert_eq!(user.user_id, "alice");
        assert_eq!(user.face_url, "http://f");
        assert_eq!((user.app_manger_level, user.global_recv_msg_opt), (1, 2));
        let back = serde_json::to_value(&user).expect("ser");
        assert_eq!(back["userID"], "alice");
        assert_eq!(back["appMangerLevel"], 1);

        let group: GroupInfo = serde_json::from_value(json!({
            "groupID": "g1", "groupName": "G", "ownerUserID": "bot1", "memberCount": 3,
            "creatorUserID": "bot1", "groupType": 2, "notificationUserID": "u"
        }))
        .expect("group");
        assert_eq!(
            (
                group.group_id.as_str(),
                group.member_count,
                group.group_type
            ),
            ("g1", 3, 2)
        );
        assert_eq!(group.notification_user_id, "u");

        let member: GroupMemberFullInfo = serde_json::from_value(json!({
            "groupID": "g1", "userID": "alice", "roleLevel": 100, "muteEndTime": 9,
            "operatorUserID": "o", "inviterUserID": "i"
        }))
        .expect("member");
        assert_eq!(member.role_level, GroupMemberFullInfo::ROLE_OWNER);
        assert_eq!(
            (
                member.operator_user_id.as_str(),
                member.inviter_user_id.as_str()
            ),
            ("o", "i")
        );
    }

    #[test]
    fn go_nil_lists_read_as_empty() {
        let resp: MemberListResp =
            serde_json::from_value(json!({"total": 0, "members": null})).expect("null");
        assert!(resp.members.is_empty());
        let resp: UsersInfoResp = serde_json::from_value(json!({})).expect("missing");
        assert!(resp.users_info.is_empty());
    }

    #[test]
    fn pagination_json() {
        assert_eq!(
            serde_json::to_value(Pagination::default()).expect("ser"),
            json!({"pageNumber": 1, "showNumber": 100})
        );
    }
}
