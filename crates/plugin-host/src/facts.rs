//! A turn's `MsgContext` (see [`channel_core::msg_context`]) → the inbound facts OpenClaw's
//! `channelRuntime.inbound.buildContext` takes: the host builds the agent's context from
//! these, as it does for its own channels, instead of from the deprecated
//! `finalizeInboundContext`.
//!
//! The route is left out: JS resolves it as the turn starts and adds it. Each field maps one
//! to one, so what the agent sees is what the context said; a field the context lacks stays
//! out of the facts.

use serde_json::{Map, Value, json};

/// The `buildContext` parameters for `context`, of a message on `channel` to `account`, in
/// the chat `conversation` (its id, as replies address it).
pub fn inbound_facts(channel: &str, account: &str, conversation: &str, context: &Value) -> Value {
    let field = |name: &str| context.get(name).filter(|v| !v.is_null()).cloned();
    let text = |name: &str| field(name).unwrap_or_else(|| json!(""));
    // The context fields present among `pairs` (fact key, context name), added to `into`.
    let copy = |into: &mut Map<String, Value>, pairs: &[(&str, &str)]| {
        for (key, name) in pairs {
            if let Some(value) = field(name) {
                into.insert((*key).to_owned(), value);
            }
        }
    };
    let mut facts = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            facts.insert(key.to_owned(), value);
        }
    };
    put("channel", Some(json!(channel)));
    put("accountId", Some(json!(account)));
    put("messageId", field("MessageSid"));
    put("messageIdFull", field("MessageSidFull"));
    put("timestamp", field("Timestamp"));
    put("from", Some(text("From")));
    let mut sender = Map::new();
    copy(&mut sender, &[("id", "SenderId"), ("name", "SenderName")]);
    put("sender", Some(Value::Object(sender)));
    let kind = field("ChatType").unwrap_or_else(|| json!("direct"));
    let is_group = kind == "group";
    let mut chat = Map::new();
    chat.insert("kind".into(), kind);
    chat.insert("id".into(), json!(conversation));
    copy(&mut chat, &[("label", "ConversationLabel")]);
    put("conversation", Some(Value::Object(chat)));
    let mut reply = Map::new();
    reply.insert("to".into(), text("To"));
    copy(
        &mut reply,
        &[
            ("originatingTo", "OriginatingTo"),
            ("replyToId", "ReplyToId"),
        ],
    );
    put("reply", Some(Value::Object(reply)));
    let mut message = Map::new();
    message.insert(
        "rawBody".into(),
        field("RawBody").unwrap_or_else(|| text("Body")),
    );
    copy(
        &mut message,
        &[("body", "Body"), ("commandBody", "CommandBody")],
    );
    put("message", Some(Value::Object(message)));
    let mut access = Map::new();
    access.insert(
        "commands".into(),
        json!({ "authorized": field("CommandAuthorized") == Some(json!(true)) }),
    );
    if is_group {
        access.insert(
            "mentions".into(),
            json!({
                "canDetectMention": true,
                "wasMentioned": field("WasMentioned") == Some(json!(true)),
            }),
        );
    }
    put("access", Some(Value::Object(access)));
    if let Some(body) = field("ReplyToBody") {
        let mut quote = Map::new();
        copy(&mut quote, &[("id", "ReplyToId")]);
        quote.insert("body".into(), body);
        put("supplemental", Some(json!({ "quote": quote })));
    }
    put(
        "media",
        field("media").filter(|m| m.as_array().is_some_and(|a| !a.is_empty())),
    );
    Value::Object(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group message with a quote and a picture: every field of the context lands in its
    /// fact, and nothing else is made up.
    #[test]
    fn a_group_message_maps_field_by_field() {
        let context = json!({
            "Body": "look", "RawBody": "look", "CommandBody": "look",
            "From": "alice", "To": "g1", "AccountId": "a", "ChatType": "group",
            "Provider": "multi-openim", "Surface": "multi-openim",
            "OriginatingChannel": "multi-openim", "OriginatingTo": "g1",
            "MessageSid": "m1", "MessageSidFull": "m1:replay", "Timestamp": 1_700_000_000_000i64,
            "SenderId": "alice", "SenderName": "Alice", "CommandAuthorized": true,
            "WasMentioned": true, "ConversationLabel": "Team", "ReplyToId": "m0",
            "ReplyToBody": "earlier", "SessionKey": "agent:main:x",
            "media": [{"path": "/m/a.png", "contentType": "image/png", "kind": "image", "messageId": "m1"}],
        });
        let facts = inbound_facts("multi-openim", "a", "g1", &context);
        assert_eq!(
            facts,
            json!({
                "channel": "multi-openim", "accountId": "a", "messageId": "m1",
                "messageIdFull": "m1:replay", "timestamp": 1_700_000_000_000i64, "from": "alice",
                "sender": {"id": "alice", "name": "Alice"},
                "conversation": {"kind": "group", "id": "g1", "label": "Team"},
                "reply": {"to": "g1", "originatingTo": "g1", "replyToId": "m0"},
                "message": {"rawBody": "look", "body": "look", "commandBody": "look"},
                "access": {"commands": {"authorized": true}, "mentions": {"canDetectMention": true, "wasMentioned": true}},
                "supplemental": {"quote": {"id": "m0", "body": "earlier"}},
                "media": [{"path": "/m/a.png", "contentType": "image/png", "kind": "image", "messageId": "m1"}],
            })
        );
    }

    /// A direct message: no mention facts (mentions mean nothing there), no quote, no media.
    #[test]
    fn a_direct_message_has_no_mention_quote_or_media_facts() {
        let context = json!({"Body": "hi", "RawBody": "hi", "From": "bob", "To": "bob",
            "ChatType": "direct", "SenderId": "bob", "CommandAuthorized": false, "media": []});
        let facts = inbound_facts("openclaw-weixin", "b", "bob", &context);
        assert_eq!(facts["access"], json!({"commands": {"authorized": false}}));
        assert_eq!(
            facts["conversation"],
            json!({"kind": "direct", "id": "bob"})
        );
        assert!(facts.get("supplemental").is_none() && facts.get("media").is_none());
        assert_eq!(facts["message"], json!({"rawBody": "hi", "body": "hi"}));
    }
}
