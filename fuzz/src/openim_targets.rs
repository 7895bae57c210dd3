//! OpenIM's decoders are public (`openim::wire`, `openim::normalize`, `openim::config`), so
//! their target bodies live here rather than behind a `fuzzing` feature of the crate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use channel_core::ErrorKind;
use channel_core::testing::assert_named;
use openim::config::OpenimConfig;
use openim::normalize::normalize;
use openim::wire::proto::{
    DelUserPushTokenResp, GetConversationsHasReadAndMaxSeqResp, GetLastMessageResp, GetMaxSeqResp,
    GetSeqMessageResp, MsgData, PullMessageBySeqsResp, PullMsgs, PushMessages, SendMsgResp,
    SetAppBackgroundStatusResp, SubUserOnlineStatusTips,
};
use openim::wire::{
    Content, Handshake, ReqIdentifier, Response, ServerFrame, content_type, decode_server_frame,
    decode_text_frame,
};

const ACCOUNT: &str = "primary";

/// A server frame, BINARY (the JSON envelope around base64 protobuf) or TEXT (handshake,
/// heartbeat). A readable envelope must read back the same from the JSON it stands for, and a
/// reply or push is decoded down to its messages.
pub fn envelope(data: &[u8]) {
    match Response::parse(data) {
        Ok(response) => {
            let again = serde_json::json!({
                "reqIdentifier": response.req.code(),
                "msgIncr": response.msg_incr,
                "operationID": response.operation_id,
                "errCode": response.err_code,
                "errMsg": response.err_msg,
                "data": STANDARD.encode(&response.data),
            });
            let bytes = serde_json::to_vec(&again).unwrap_or_default();
            assert_eq!(Response::parse(&bytes).as_ref(), Ok(&response), "{again}");
        }
        Err(err) => {
            assert_named(&err);
            assert_eq!(err.kind, ErrorKind::Transient, "{err}");
        }
    }
    match decode_server_frame(data) {
        Ok(ServerFrame::Reply(response)) => reply(&response),
        Ok(ServerFrame::Push(push)) => {
            conversations(&push.msgs);
            conversations(&push.notification_msgs);
        }
        Ok(ServerFrame::Kick | ServerFrame::OnlineStatus(_)) => {}
        Err(err) => assert_named(&err),
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(err) = decode_text_frame(text)
    {
        assert_named(&err);
    }
    match Handshake::parse(data) {
        Ok(handshake) => {
            if let Err(err) = handshake.result() {
                assert!(err.message.starts_with("handshake: errCode "), "{err}");
                assert_eq!(err.code, Some(handshake.err_code.to_string()));
            }
        }
        Err(err) => assert!(err.message.starts_with("handshake result: "), "{err}"),
    }
}

/// A reply is decoded as the body its `reqIdentifier` answers, as the waiting request would.
fn reply(response: &Response) {
    let label = response.label();
    let result = match response.req {
        ReqIdentifier::GetNewestSeq => response.decode::<GetMaxSeqResp>().map(drop),
        ReqIdentifier::PullMsgBySeqList => response
            .decode::<PullMessageBySeqsResp>()
            .map(|r| conversations(&r.msgs)),
        ReqIdentifier::SendMsg => response.decode::<SendMsgResp>().map(drop),
        ReqIdentifier::PullMsg => response
            .decode::<GetSeqMessageResp>()
            .map(|r| conversations(&r.msgs)),
        ReqIdentifier::GetConvMaxReadSeq => response
            .decode::<GetConversationsHasReadAndMaxSeqResp>()
            .map(drop),
        ReqIdentifier::PullConvLastMessage => response.decode::<GetLastMessageResp>().map(drop),
        ReqIdentifier::Logout => response.decode::<DelUserPushTokenResp>().map(drop),
        ReqIdentifier::SetBackgroundStatus => {
            response.decode::<SetAppBackgroundStatusResp>().map(drop)
        }
        ReqIdentifier::SubUserOnlineStatus => {
            response.decode::<SubUserOnlineStatusTips>().map(drop)
        }
        _ => Ok(()),
    };
    if let Err(err) = result {
        assert_named(&err);
        assert!(
            err.message.starts_with(&label),
            "{err} does not name {label}"
        );
    }
}

/// Every message of a pull or push, normalized as catch-up does.
fn conversations(msgs: &std::collections::BTreeMap<String, PullMsgs>) {
    for (conversation, pulled) in msgs {
        for msg in &pulled.msgs {
            message(conversation, msg);
        }
    }
}

fn message(conversation: &str, msg: &MsgData) {
    match normalize(ACCOUNT, conversation, msg) {
        Ok(inbound) => {
            let expected = if matches!(msg.session_type, 2 | 3) {
                &msg.group_id
            } else {
                &msg.send_id
            };
            assert_eq!(&inbound.chat.id, expected);
            assert_eq!(inbound.sender.id, msg.send_id);
        }
        Err(err) => {
            assert_named(&err);
            assert!(err.message.contains(conversation), "{err}");
        }
    }
}

/// `decode(encode(m)) == m`, and encoding is canonical (the second encoding is the first).
fn round_trip<M: prost::Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<M> {
    let decoded = M::decode(data).ok()?;
    let bytes = decoded.encode_to_vec();
    let again = M::decode(bytes.as_slice()).unwrap_or_else(|e| panic!("{decoded:?}: {e}"));
    assert_eq!(again, decoded);
    assert_eq!(again.encode_to_vec(), bytes, "encoding is not canonical");
    Some(decoded)
}

/// Protobuf `data` of every reply and push the client reads, and the messages in them.
pub fn proto(data: &[u8]) {
    if let Some(push) = round_trip::<PushMessages>(data) {
        conversations(&push.msgs);
        conversations(&push.notification_msgs);
    }
    if let Some(pulled) = round_trip::<PullMessageBySeqsResp>(data) {
        conversations(&pulled.msgs);
    }
    if let Some(msg) = round_trip::<MsgData>(data) {
        message("si_alice_bot1", &msg);
    }
    round_trip::<GetMaxSeqResp>(data);
    round_trip::<SendMsgResp>(data);
    round_trip::<GetSeqMessageResp>(data);
    round_trip::<GetConversationsHasReadAndMaxSeqResp>(data);
    round_trip::<GetLastMessageResp>(data);
    round_trip::<SubUserOnlineStatusTips>(data);
}

/// The content types with a shape of their own, then one we do not model.
const CONTENT_TYPES: [i32; 10] = [
    content_type::TEXT,
    content_type::PICTURE,
    content_type::SOUND,
    content_type::VIDEO,
    content_type::FILE,
    content_type::AT_TEXT,
    content_type::CUSTOM,
    content_type::QUOTE,
    content_type::MARKDOWN_TEXT,
    content_type::GROUP_CREATED,
];

/// `MsgData.content`: the first byte picks the content type, the rest is the elem. What
/// decodes must encode and decode back to itself; what does not names the content type.
pub fn content(data: &[u8]) {
    let Some((&pick, elem)) = data.split_first() else {
        return;
    };
    let kind = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    match Content::decode(kind, elem) {
        Ok(content) => {
            assert_eq!(content.content_type(), kind);
            match content.encode() {
                Ok(bytes) => {
                    let again = Content::decode(kind, &bytes)
                        .unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"));
                    assert_eq!(again, content);
                }
                Err(err) => {
                    assert!(matches!(content, Content::Other { .. }), "{err}");
                    assert_named(&err);
                }
            }
        }
        Err(err) => {
            assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
            assert!(
                err.message.starts_with(&format!("content {kind}: ")),
                "{err}"
            );
        }
    }
    let msg = MsgData {
        send_id: "alice".into(),
        recv_id: "bot1".into(),
        client_msg_id: "c1".into(),
        session_type: 1,
        content_type: kind,
        content: elem.to_vec(),
        seq: 7,
        ..MsgData::default()
    };
    message("si_alice_bot1", &msg);
}

/// `channels.multi-openim` as the host hands it over: every account it names resolves (its
/// token's claims decoded), or an error names the key.
pub fn config(data: &[u8]) {
    let Ok(section) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let config = match OpenimConfig::parse(&section) {
        Ok(config) => config,
        Err(err) => {
            assert_named(&err);
            assert!(err.message.contains("channels.multi-openim"), "{err}");
            return;
        }
    };
    for id in config.account_ids() {
        match config.account(&id) {
            Ok(settings) => {
                assert_eq!(settings.base.id, id);
                match &settings.base.credentials {
                    Ok(credentials) => {
                        assert!(openim::wire::platform::is_known(i64::from(
                            credentials.platform_id
                        )));
                        assert!(!credentials.user_id.is_empty());
                    }
                    Err(err) => assert_named(err),
                }
                if let Err(err) = config.media_policy(&settings, std::env::temp_dir()) {
                    assert_named(&err);
                }
            }
            Err(err) => assert_named(&err),
        }
    }
}
