//! The entry point of the `plugin_host_boundary` fuzz target of `fuzz/` (feature `fuzzing`).
//! It exists for fuzzing only: JS hands Rust strings it built from host answers, module events
//! and agent replies, and each is read here exactly as the exports read it.

use channel_core::ErrorKind;
use serde_json::Value;

use crate::boundary::{
    DeliveredReply, HostFailure, PairingCodeAnswer, RouteAnswer, SavedMedia, TransportEvent,
    TurnDone,
};
use crate::{parse_as, parse_json};

/// One string from JS, read as every payload an export accepts: `respond`'s answer (then as
/// each typed answer a request expects) and failure, `deliver`'s reply, `transportEvent`'s
/// event. Whatever is refused is refused with a message naming what was being read.
pub fn boundary(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_json("answer", text) {
        Ok(answer) => typed_answers(answer),
        Err(err) => {
            assert!(err.message.starts_with("answer: invalid JSON: "), "{err}");
            assert!(
                !text.trim().is_empty(),
                "an empty answer is null, not an error"
            );
        }
    }
    match parse_as::<HostFailure>("failure", text) {
        Ok(failure) => {
            let (message, code) = (failure.message.clone(), failure.code.clone());
            let err = failure.into_error(ErrorKind::Transient);
            assert_eq!(err.message, message);
            assert_eq!(
                err.code,
                code.map(|c| c.0),
                "the module's code is kept as given"
            );
        }
        Err(err) => assert!(err.message.starts_with("failure: "), "{err}"),
    }
    match parse_as::<DeliveredReply>("reply", text) {
        Ok(reply) => check_reply(reply),
        Err(err) => assert!(err.message.starts_with("reply: "), "{err}"),
    }
    match parse_as::<TransportEvent>("transport event", text) {
        Ok(event) => {
            // Re-wrapped as `transport_event` does for the channel, then read back by name.
            let wrapped = serde_json::json!({ "event": event.event, "payload": event.payload });
            assert_eq!(wrapped["event"].as_str(), Some(event.event.as_str()));
        }
        Err(err) => assert!(err.message.starts_with("transport event: "), "{err}"),
    }
}

/// `Session::call` reads an answer as the request's type; a wrong shape is an error, never a
/// panic, whatever the value.
fn typed_answers(answer: Value) {
    fn read<T: serde::de::DeserializeOwned>(answer: &Value) -> Option<T> {
        serde_json::from_value(answer.clone()).ok()
    }
    // serde also reads a struct from an array of its fields in order; the entry only ever
    // answers with objects, so only those are checked field by field.
    if !answer.is_object() {
        let _ = (read::<RouteAnswer>(&answer), read::<TurnDone>(&answer));
        let _ = (
            read::<PairingCodeAnswer>(&answer),
            read::<SavedMedia>(&answer),
        );
        return;
    }
    if let Some(route) = read::<RouteAnswer>(&answer) {
        assert_eq!(Some(route.agent_id.as_str()), answer["agentId"].as_str());
    }
    if let Some(code) = read::<PairingCodeAnswer>(&answer) {
        assert_eq!(Some(code.code.as_str()), answer["code"].as_str());
    }
    if let Some(saved) = read::<SavedMedia>(&answer) {
        assert_eq!(Some(saved.path.as_str()), answer["path"].as_str());
    }
    if let Some(done) = read::<TurnDone>(&answer) {
        let given = answer.get("replies").and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(done.replies as u64, given);
    }
}

/// A reply's media is each URL of `mediaUrl` and `mediaUrls` once, in order; the kind defaults
/// to `final`.
fn check_reply(reply: DeliveredReply) {
    let mut given: Vec<String> = reply.media_url.iter().cloned().collect();
    given.extend(reply.media_urls.iter().flatten().cloned());
    let explicit_kind = reply.kind.clone();
    let text = reply.text.clone().unwrap_or_default();
    let payload = reply.into_payload();
    assert_eq!(payload.text, text);
    assert_eq!(
        payload.kind,
        explicit_kind.unwrap_or_else(|| "final".into())
    );
    for url in &given {
        assert_eq!(
            payload.media.iter().filter(|m| *m == url).count(),
            1,
            "{url:?} must be sent exactly once"
        );
    }
    assert!(
        payload.media.iter().all(|m| given.contains(m)),
        "media from nowhere"
    );
    let firsts: Vec<&String> = given
        .iter()
        .enumerate()
        .filter(|(i, url)| !given[..*i].contains(url))
        .map(|(_, url)| url)
        .collect();
    assert_eq!(
        payload.media.iter().collect::<Vec<_>>(),
        firsts,
        "order kept"
    );
}
