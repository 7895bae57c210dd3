//! Conversation ids (spec §2.6): the keys of seqs, pulls and pushes.
//!
//! Single chats sort the two user ids byte-wise (Go's `sort.Strings`), which is what `str`'s
//! `Ord` does, so both sides compute the same id.

use super::proto::MsgData;
use super::session_type;

/// What a conversation id denotes, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationKind {
    /// `si_<a>_<b>`.
    Single,
    /// `sg_<groupID>`: every group.
    Group,
    /// `g_<groupID>`: legacy write-diffusion group.
    LegacyGroup,
    /// `sn_<a>_<b>`: a notification chat (sessionType 4).
    NotificationChat,
    /// `n_…`: the notification twin of a chat, or a user's own stream `n_<uid>_<uid>`.
    Notification,
}

/// `si_<min>_<max>`.
pub fn single(a: &str, b: &str) -> String {
    format!("si_{}", sorted_pair(a, b))
}

/// `sg_<groupID>`.
pub fn group(group_id: &str) -> String {
    format!("sg_{group_id}")
}

/// `sn_<min>_<max>`.
pub fn notification_chat(a: &str, b: &str) -> String {
    format!("sn_{}", sorted_pair(a, b))
}

/// The notification twin of a chat: the prefix before the first `_` replaced by `n`.
pub fn notification_twin(conversation_id: &str) -> String {
    match conversation_id.split_once('_') {
        Some((_, rest)) => format!("n_{rest}"),
        None => format!("n_{conversation_id}"),
    }
}

/// A user's own notification stream, `n_<uid>_<uid>`.
pub fn own_notifications(user_id: &str) -> String {
    format!("n_{user_id}_{user_id}")
}

fn sorted_pair(a: &str, b: &str) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{low}_{high}")
}

/// The id the server files a message under (Go `GetConversationIDByMsg`), or `None` for an
/// unknown session type. Messages with `isNotNotification=false` go to the `n_` twin.
pub fn for_message(msg: &MsgData) -> Option<String> {
    let notification = !msg.option("isNotNotification");
    let pair = || sorted_pair(&msg.send_id, &msg.recv_id);
    Some(match msg.session_type {
        session_type::SINGLE if notification => format!("n_{}", pair()),
        session_type::SINGLE => format!("si_{}", pair()),
        session_type::WRITE_GROUP if notification => format!("n_{}", msg.group_id),
        session_type::WRITE_GROUP => format!("g_{}", msg.group_id),
        session_type::GROUP if notification => format!("n_{}", msg.group_id),
        session_type::GROUP => group(&msg.group_id),
        session_type::NOTIFICATION if notification => format!("n_{}", pair()),
        session_type::NOTIFICATION => format!("sn_{}", pair()),
        _ => return None,
    })
}

/// The kind of a conversation id, or `None` for an unknown prefix.
pub fn kind(conversation_id: &str) -> Option<ConversationKind> {
    let (prefix, _) = conversation_id.split_once('_')?;
    Some(match prefix {
        "si" => ConversationKind::Single,
        "sg" => ConversationKind::Group,
        "g" => ConversationKind::LegacyGroup,
        "sn" => ConversationKind::NotificationChat,
        "n" => ConversationKind::Notification,
        _ => return None,
    })
}

/// Whether pulls of this conversation return exactly the range asked for (spec §1.8).
pub fn is_notification(conversation_id: &str) -> bool {
    conversation_id.starts_with("n_")
}

/// The other user of a single chat with `me`, or `None` if `me` is not in it. User ids may
/// contain `_`, so the id is split by knowing one side rather than by searching.
pub fn single_peer<'a>(conversation_id: &'a str, me: &str) -> Option<&'a str> {
    let pair = conversation_id.strip_prefix("si_")?;
    let after_me = pair.strip_prefix(me).and_then(|r| r.strip_prefix('_'));
    let before_me = pair.strip_suffix(me).and_then(|r| r.strip_suffix('_'));
    // Keep only a split consistent with the sort order, so `a_b_a` style ids resolve once.
    after_me
        .filter(|peer| me <= *peer)
        .or(before_me.filter(|peer| *peer <= me))
}

/// The group id of a `sg_` conversation.
pub fn group_id(conversation_id: &str) -> Option<&str> {
    conversation_id.strip_prefix("sg_")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn msg(session_type: i32, send: &str, recv: &str, group: &str) -> MsgData {
        MsgData {
            session_type,
            send_id: send.into(),
            recv_id: recv.into(),
            group_id: group.into(),
            ..MsgData::default()
        }
    }

    #[test]
    fn ids_follow_the_spec() {
        assert_eq!(single("bot1", "alice"), "si_alice_bot1");
        assert_eq!(single("alice", "bot1"), "si_alice_bot1");
        // Byte-wise: uppercase sorts before lowercase, digits before letters.
        assert_eq!(single("b", "B"), "si_B_b");
        assert_eq!(single("10", "9"), "si_10_9");
        assert_eq!(group("g1"), "sg_g1");
        assert_eq!(notification_chat("z", "a"), "sn_a_z");
        assert_eq!(notification_twin("si_alice_bot1"), "n_alice_bot1");
        assert_eq!(notification_twin("sg_g_1"), "n_g_1");
        assert_eq!(own_notifications("bot1"), "n_bot1_bot1");
    }

    #[test]
    fn for_message_matches_the_server() {
        assert_eq!(
            for_message(&msg(1, "bot1", "alice", "")).as_deref(),
            Some("si_alice_bot1")
        );
        assert_eq!(
            for_message(&msg(3, "alice", "", "g1")).as_deref(),
            Some("sg_g1")
        );
        assert_eq!(
            for_message(&msg(2, "alice", "", "g1")).as_deref(),
            Some("g_g1")
        );
        assert_eq!(
            for_message(&msg(4, "sys", "bot1", "")).as_deref(),
            Some("sn_bot1_sys")
        );
        let mut note = msg(3, "alice", "", "g1");
        note.options = BTreeMap::from([("isNotNotification".into(), false)]);
        assert_eq!(for_message(&note).as_deref(), Some("n_g1"));
        note.session_type = 1;
        note.recv_id = "bot1".into();
        assert_eq!(for_message(&note).as_deref(), Some("n_alice_bot1"));
        assert_eq!(for_message(&msg(9, "a", "b", "")), None);
    }

    #[test]
    fn kinds_and_peers() {
        assert_eq!(kind("si_a_b"), Some(ConversationKind::Single));
        assert_eq!(kind("sg_g"), Some(ConversationKind::Group));
        assert_eq!(kind("g_g"), Some(ConversationKind::LegacyGroup));
        assert_eq!(kind("sn_a_b"), Some(ConversationKind::NotificationChat));
        assert_eq!(kind("n_a_b"), Some(ConversationKind::Notification));
        assert_eq!(kind("x_a"), None);
        assert_eq!(kind("nounderscore"), None);
        assert!(is_notification("n_g1") && !is_notification("sg_g1"));
        assert_eq!(single_peer("si_alice_bot1", "bot1"), Some("alice"));
        assert_eq!(single_peer("si_alice_bot1", "alice"), Some("bot1"));
        assert_eq!(single_peer(&single("bot_1", "a_b"), "bot_1"), Some("a_b"));
        assert_eq!(single_peer("si_alice_bot1", "carol"), None);
        assert_eq!(single_peer("sg_g1", "bot1"), None);
        assert_eq!(group_id("sg_g_1"), Some("g_1"));
        assert_eq!(group_id("si_a_b"), None);
    }
}
