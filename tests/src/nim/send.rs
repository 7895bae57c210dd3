//! The two send APIs (spec §4): V1 `sendMsg.action` (form fields) and V2
//! `conversations/{id}/messages` (JSON). Both validate, store an [`NimSent`] and answer a new
//! server id; V2 also answers a resend of the same `message_client_id` from the remembered
//! first answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};

use super::rest::{Api, Reply, code};
use super::state::{Shared, State as SimState, uuid_like};
use super::types::{ConvType, NimReceipt, NimSent, Via};
use crate::http::{Obj, now_ms, parse_object};

/// Longest text (and V1 `body`), in characters.
const MAX_TEXT_CHARS: usize = 5000;

/// Message types a server send may carry (V2NIMMessageType minus notification 5, robot 11 and
/// call 12, which only the server itself produces).
const SENDABLE_TYPES: [u64; 8] = [0, 1, 2, 3, 4, 6, 10, 100];

fn is_media(message_type: u64) -> bool {
    matches!(message_type, 1 | 2 | 3 | 6)
}

fn type_check(message_type: u64) -> Result<(), String> {
    if SENDABLE_TYPES.contains(&message_type) {
        Ok(())
    } else {
        Err(format!(
            "message type {message_type} is not one of 0 text, 1 image, 2 audio, 3 video, \
             4 location, 6 file, 10 tip, 100 custom"
        ))
    }
}

fn text_check(text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        Err(format!(
            "text is {chars} characters, more than {MAX_TEXT_CHARS}"
        ))
    } else {
        Ok(())
    }
}

/// Who may send where; `Err` carries the (V2) code and text. Runs under the state lock.
fn peers_check(
    st: &SimState,
    sender: &str,
    conv_type: ConvType,
    receiver: &str,
) -> Result<(), (i64, String)> {
    if !st.accounts.contains_key(sender) {
        return Err((
            code::ACCOUNT_NOT_EXIST,
            format!("sender account not exist: {sender:?}"),
        ));
    }
    match conv_type {
        ConvType::P2p if !st.accounts.contains_key(receiver) => Err((
            code::ACCOUNT_NOT_EXIST,
            format!("receiver account not exist: {receiver:?}"),
        )),
        ConvType::P2p => Ok(()),
        ConvType::Team | ConvType::SuperTeam => match st.is_member(receiver, sender) {
            None => Err((
                code::TEAM_NOT_EXIST,
                format!("team not exist: {receiver:?}"),
            )),
            Some(false) => Err((
                code::NOT_TEAM_MEMBER,
                format!("{sender:?} is not a member of team {receiver:?}"),
            )),
            Some(true) => Ok(()),
        },
    }
}

// ---- V2 ------------------------------------------------------------------------------------

/// `POST /im/v2/conversations/{conversation_id}/messages`.
///
/// A resend (same sender, same `message_client_id`) within [`super::NimOptions::dedup_window`]
/// is answered with the first answer and stores nothing: NetEase dedupes resends on the client
/// id, which is what makes a client's retry after a lost answer safe.
pub(crate) async fn v2_send(
    State(shared): State<Arc<Shared>>,
    Path(conversation_id): Path<String>,
    body: Bytes,
) -> Reply {
    v2(&shared, &conversation_id, &body).unwrap_or_else(|e| e)
}

fn v2(shared: &Shared, conversation_id: &str, raw: &[u8]) -> Result<Reply, Reply> {
    let bad = |text: String| Reply::err(Api::V2, code::PARAMETER, text);
    let (sender, conv_type, receiver) = parse_conversation_id(conversation_id).map_err(bad)?;
    let map = parse_object(raw).map_err(|e| bad(e.0))?;
    let root = Obj::root(&map);
    let message = root
        .object("message")
        .map_err(|e| bad(e.0))?
        .ok_or_else(|| bad(root.missing("message").0))?;
    let message_type = message
        .u64("message_type")
        .map_err(|e| bad(e.0))?
        .ok_or_else(|| bad(message.missing("message_type").0))?;
    type_check(message_type).map_err(bad)?;
    let text = message.str("text").map_err(|e| bad(e.0))?;
    let sub_type = message.u64("sub_type").map_err(|e| bad(e.0))?;
    let client_id = message.str("message_client_id").map_err(|e| bad(e.0))?;
    let attachment = message.object("attachment").map_err(|e| bad(e.0))?;

    match text {
        Some(t) => text_check(t).map_err(bad)?,
        None if message_type == 0 => return Err(bad(message.missing("text").0)),
        None => {}
    }
    if message_type == 0 && text.is_some_and(str::is_empty) {
        return Err(bad("field `message.text` is empty".to_owned()));
    }
    if is_media(message_type) {
        let url = match &attachment {
            Some(att) => att.str("url").map_err(|e| bad(e.0))?,
            None => return Err(bad(message.missing("attachment").0)),
        };
        if url.is_none_or(str::is_empty) {
            return Err(bad(
                "field `message.attachment.url` is required for media messages".to_owned(),
            ));
        }
    }

    if let Some(ext) = root.str("extension").map_err(|e| bad(e.0))? {
        extension_check(ext).map_err(bad)?;
    }
    let force_push = match root.object("push_config").map_err(|e| bad(e.0))? {
        Some(push) => force_push_ids(&push).map_err(bad)?,
        None => Vec::new(),
    };

    let mut st = shared.lock();
    peers_check(&st, sender, conv_type, receiver)
        .map_err(|(c, text)| Reply::err(Api::V2, c, text))?;
    // A mention reaches team members only (NetEase answers 414 for anyone else).
    for id in &force_push {
        if conv_type == ConvType::P2p || st.is_member(receiver, id) != Some(true) {
            return Err(bad(format!(
                "push_config.push_forcepush_ids: {id:?} is not a member of team {receiver:?}"
            )));
        }
    }
    if let Some(cid) = client_id
        && let Some(data) = st.resend(sender, cid, shared.opts.dedup_window)
    {
        return Ok(Reply::v2_ok(data));
    }

    let server_id = st.server_id();
    let create_time = now_ms();
    let client_id = client_id.map_or_else(uuid_like, str::to_owned);
    let attachment = message.get("attachment").cloned();
    let mut data = json!({
        "message_server_id": if shared.opts.server_id_as_string {
            json!(server_id.to_string())
        } else {
            json!(server_id)
        },
        "message_client_id": client_id,
        "sender_id": sender,
        "conversation_type": conv_type.v2_code(),
        "receiver_id": receiver,
        "create_time": create_time,
        "message_type": message_type,
    });
    if let Some(sub_type) = sub_type {
        data["sub_type"] = json!(sub_type);
    }
    if let Some(text) = text {
        data["text"] = json!(text);
    }
    if let Some(att) = &attachment {
        data["attachment"] = att.clone();
    }
    st.remember(sender, &client_id, data.clone());
    st.sent.push(NimSent {
        via: Via::V2,
        sender: sender.to_owned(),
        conv_type,
        receiver: receiver.to_owned(),
        message_type: i64::try_from(message_type).unwrap_or(i64::MAX),
        text: text.map(str::to_owned),
        attachment,
        client_id: Some(client_id),
        server_id,
        create_time,
        request: Value::Object(map.clone()),
    });
    drop(st);
    shared.bump();
    Ok(Reply::v2_ok(data))
}

/// The server extension: a JSON object as text, at most 1,024 characters.
fn extension_check(ext: &str) -> Result<(), String> {
    if ext.chars().count() > 1024 {
        return Err("field `extension` is longer than 1024 characters".to_owned());
    }
    match serde_json::from_str::<Value>(ext) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err("field `extension` is not a JSON object".to_owned()),
    }
}

/// `push_config.push_forcepush_ids` (strings, at most 100), when force push is enabled.
fn force_push_ids(push: &crate::http::Obj<'_>) -> Result<Vec<String>, String> {
    let Some(ids) = push.array("push_forcepush_ids").map_err(|e| e.0)? else {
        return Ok(Vec::new());
    };
    if push.bool("push_forcepush_enable").map_err(|e| e.0)? != Some(true) {
        return Err(
            "push_config.push_forcepush_ids needs push_config.push_forcepush_enable true"
                .to_owned(),
        );
    }
    if ids.len() > 100 {
        return Err("push_config.push_forcepush_ids has more than 100 accounts".to_owned());
    }
    ids.iter()
        .map(|id| match id {
            Value::String(id) if !id.is_empty() => Ok(id.clone()),
            other => Err(format!(
                "push_config.push_forcepush_ids: {other} is not an account id"
            )),
        })
        .collect()
}

/// `POST /im/v2/messages/actions/p2p_read_receipt`: `from_account_id` has read
/// `to_account_id`'s message `message_server_id`, which must be one of theirs to it.
pub(crate) async fn v2_read_receipt(State(shared): State<Arc<Shared>>, body: Bytes) -> Reply {
    read_receipt(&shared, &body).unwrap_or_else(|e| e)
}

fn read_receipt(shared: &Shared, raw: &[u8]) -> Result<Reply, Reply> {
    let bad = |text: String| Reply::err(Api::V2, code::PARAMETER, text);
    let map = parse_object(raw).map_err(|e| bad(e.0))?;
    let root = Obj::root(&map);
    let required = |key: &str| -> Result<&str, Reply> {
        root.str(key)
            .map_err(|e| bad(e.0))?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad(root.missing(key).0))
    };
    let from = required("from_account_id")?;
    let to = required("to_account_id")?;
    let server_id = root
        .u64("message_server_id")
        .map_err(|e| bad(e.0))?
        .ok_or_else(|| bad(root.missing("message_server_id").0))?;
    let mut st = shared.lock();
    for account in [from, to] {
        if !st.accounts.contains_key(account) {
            return Err(Reply::err(
                Api::V2,
                code::ACCOUNT_NOT_EXIST,
                format!("account not exist: {account:?}"),
            ));
        }
    }
    // The messages the simulator delivered are its webhook pushes.
    let known = st.pushes.iter().any(|p| {
        let body: Value = serde_json::from_str(&p.body).unwrap_or_default();
        p.msgid_server.as_deref() == Some(server_id.to_string().as_str())
            && body["fromAccount"] == to
            && body["to"] == from
            && body["convType"] == "PERSON"
    });
    if !known {
        return Err(bad(format!(
            "message_server_id {server_id} is not a P2P message from {to:?} to {from:?}"
        )));
    }
    st.receipts.push(NimReceipt {
        from: from.to_owned(),
        to: to.to_owned(),
        server_id,
    });
    drop(st);
    shared.bump();
    Ok(Reply::v2_ok(json!({})))
}

/// `sender|type|target`, type 1 P2P, 2 team, 3 super team (spec §1.2).
fn parse_conversation_id(id: &str) -> Result<(&str, ConvType, &str), String> {
    let shape = || {
        format!(
            "conversation_id {id:?} is not sender|type|target with type 1 (P2P), 2 (team) or 3 (super team)"
        )
    };
    let mut parts = id.split('|');
    let (Some(sender), Some(kind), Some(target), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(shape());
    };
    let conv_type = kind
        .parse::<i64>()
        .ok()
        .and_then(ConvType::from_v2_code)
        .ok_or_else(shape)?;
    if sender.is_empty() || target.is_empty() {
        return Err(shape());
    }
    Ok((sender, conv_type, target))
}

// ---- V1 ------------------------------------------------------------------------------------

/// `POST /nimserver/msg/sendMsg.action`, `application/x-www-form-urlencoded`: `from`, `ope`
/// (0 P2P, 1 team), `to`, `type`, `body` (a JSON object as a string). Every rejection is code
/// 414 with a `desc` naming the field, as V1 answers parameter errors. V1 has no client id, so
/// nothing is deduped.
pub(crate) async fn v1_send(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    v1(&shared, &headers, &body).unwrap_or_else(|text| Reply::err(Api::V1, code::PARAMETER, text))
}

/// The fields of a V1 call: `application/x-www-form-urlencoded` only; the first of repeated
/// fields wins.
pub(crate) fn v1_form(headers: &HeaderMap, raw: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(format!(
            "Content-Type {content_type:?} is not application/x-www-form-urlencoded"
        ));
    }
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    Ok(fields)
}

fn v1(shared: &Shared, headers: &HeaderMap, raw: &[u8]) -> Result<Reply, String> {
    let fields = v1_form(headers, raw)?;
    let field = |name: &str| -> Result<&str, String> {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("missing field `{name}`"))
    };
    let from = field("from")?;
    let to = field("to")?;
    let conv_type = match field("ope")? {
        "0" => ConvType::P2p,
        "1" => ConvType::Team,
        other => return Err(format!("ope {other:?} is not 0 (P2P) or 1 (team)")),
    };
    let type_field = field("type")?;
    let message_type = type_field
        .parse::<u64>()
        .map_err(|_| format!("type {type_field:?} is not a number"))?;
    type_check(message_type)?;
    let body = field("body")?;
    text_check(body).map_err(|e| format!("body: {e}"))?;
    let Ok(Value::Object(body_obj)) = serde_json::from_str::<Value>(body) else {
        return Err("body is not a JSON object string".to_owned());
    };
    let text = match body_obj.get("msg") {
        Some(Value::String(s)) if matches!(message_type, 0 | 10) => Some(s.clone()),
        _ => None,
    };
    if message_type == 0 && text.as_deref().is_none_or(str::is_empty) {
        return Err("body of a text (type 0) must be {\"msg\":\"<text>\"}".to_owned());
    }
    if is_media(message_type)
        && body_obj
            .get("url")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err(format!(
            "body of a type {message_type} message must carry a \"url\""
        ));
    }

    let mut st = shared.lock();
    peers_check(&st, from, conv_type, to).map_err(|(_, text)| text)?;
    let server_id = st.server_id();
    let timetag = now_ms();
    let request: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    st.sent.push(NimSent {
        via: Via::V1,
        sender: from.to_owned(),
        conv_type,
        receiver: to.to_owned(),
        message_type: i64::try_from(message_type).unwrap_or(i64::MAX),
        text: text.clone(),
        attachment: text.is_none().then(|| Value::Object(body_obj.clone())),
        client_id: None,
        server_id,
        create_time: timetag,
        request: Value::Object(request),
    });
    drop(st);
    shared.bump();
    Ok(Reply::v1_ok(json!({
        "msgid": server_id,
        "timetag": timetag,
        "antispam": false,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_parse_and_reject() {
        assert_eq!(
            parse_conversation_id("bot|1|alice").unwrap(),
            ("bot", ConvType::P2p, "alice")
        );
        assert_eq!(
            parse_conversation_id("bot|3|42").unwrap(),
            ("bot", ConvType::SuperTeam, "42")
        );
        for bad in [
            "bot|0|alice",
            "bot|1",
            "bot|1|a|b",
            "|1|alice",
            "bot|x|alice",
            "",
        ] {
            assert!(parse_conversation_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_limit_counts_characters() {
        assert!(text_check(&"字".repeat(5000)).is_ok());
        assert!(text_check(&"a".repeat(5001)).is_err());
    }
}
