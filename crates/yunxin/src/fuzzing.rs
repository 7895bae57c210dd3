//! Entry points for the fuzz targets of `fuzz/` (feature `fuzzing`). They exist for fuzzing
//! only: each takes raw bytes as NetEase or the JS SDK would send them, runs the decoders the
//! channel runs, and panics when one breaks a promise it makes (an error with no message, a
//! message attributed to someone else, an event that does not read back as itself).

use channel_core::testing::assert_named;

use crate::config::YunxinConfig;
use crate::nim::{Message, NimEvent};
use crate::normalize::{Skip, normalize};
use crate::server_api::webhook::{Copied, Ignored, parse, route};

const ACCOUNT: &str = "default";
const ME: &str = "bot";

/// The body of a webhook request whose signature checked out: read, routed to this account,
/// and normalized as the channel would.
pub fn webhook(data: &[u8]) {
    let copy = match parse(data) {
        Ok(Copied::Message(copy)) => copy,
        Ok(Copied::Other { event_type }) => {
            assert!(
                !event_type.is_empty() && event_type != "1",
                "{event_type:?}"
            );
            return;
        }
        Err(bad) => {
            assert!(!bad.to_string().trim().is_empty(), "{bad:?}");
            return;
        }
    };
    for (field, value) in [
        ("convType", &copy.conv_type),
        ("fromAccount", &copy.from),
        ("to", &copy.to),
        ("msgType", &copy.msg_type),
        ("msgidServer", &copy.msgid_server),
    ] {
        assert!(
            !value.is_empty(),
            "a required field came out empty: {field}"
        );
    }
    let message = match route(&copy, ME) {
        Ok(message) => message,
        Err(Ignored::OwnMessage) => {
            assert_eq!(copy.from, ME);
            return;
        }
        Err(Ignored::ToSomeoneElse) => {
            assert!(copy.conv_type == "PERSON" && copy.to != ME);
            return;
        }
        Err(Ignored::NotAMember | Ignored::NotAConversation(_)) => return,
    };
    assert_eq!(message.sender_id, copy.from);
    assert_eq!(message.message_server_id, copy.msgid_server);
    assert!(!message.dedup_id().is_empty(), "a copy without a dedup key");
    deliver(&message);
}

/// One `{event, payload}` a transport module emitted, as `sdk::open` reads it. A readable
/// event must survive a trip through JSON unchanged (it is logged and replayed that way), and
/// received messages are normalized.
pub fn nim_event(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(event) = serde_json::from_value::<NimEvent>(value) else {
        return;
    };
    // Through `Value`, not text: floats then keep every bit whatever the text parser does.
    let again = serde_json::to_value(&event)
        .and_then(serde_json::from_value::<NimEvent>)
        .unwrap_or_else(|e| panic!("{event:?} does not read back: {e}"));
    assert_eq!(again, event);
    if let NimEvent::ReceiveMessages(messages) = &event {
        for message in messages {
            deliver(message);
        }
    }
}

fn deliver(message: &Message) {
    match normalize(ACCOUNT, ME, message) {
        Ok(inbound) => {
            assert_eq!(inbound.sender.id, message.sender_id);
            assert_ne!(inbound.sender.id, ME, "our own message went to the agent");
            assert_eq!(inbound.server_id, message.dedup_id());
            assert!(!inbound.text.trim().is_empty() || !inbound.media.is_empty());
        }
        Err(Skip::OwnMessage) => assert!(message.is_self || message.sender_id == ME),
        Err(Skip::BadConversation(why)) => assert!(!why.trim().is_empty()),
        Err(Skip::NotContent(_) | Skip::Empty) => {}
    }
}

/// `channels.netease-yunxin` as the host hands it over, without environment variables: every
/// account it names resolves, or says which key is wrong.
pub fn config(data: &[u8]) {
    let Ok(section) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let config = match YunxinConfig::parse(&section) {
        Ok(config) => config,
        Err(err) => {
            assert_named(&err);
            assert!(err.message.contains("channels.netease-yunxin"), "{err}");
            return;
        }
    };
    let no_env = |_: &str| None;
    let ids = config.account_ids(&no_env);
    assert!(
        !ids.is_empty(),
        "there is always at least the default account"
    );
    for id in ids {
        match config.account(&id, &no_env) {
            Ok(settings) => {
                assert_eq!(settings.base.id, id);
                if let Err(err) = &settings.base.credentials {
                    assert!(err.message.starts_with("missing: "), "{err}");
                }
                if let Err(err) = config.media_policy(&settings, std::env::temp_dir()) {
                    assert_named(&err);
                }
            }
            Err(err) => {
                assert_named(&err);
                assert!(err.message.contains("channels.netease-yunxin"), "{err}");
            }
        }
    }
}
