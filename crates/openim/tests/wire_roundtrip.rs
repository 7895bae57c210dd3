//! Round trips of the gateway wire format: what we encode decodes to the same value, and a
//! server envelope reads back the fields it was built from.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openim::wire::proto::{MsgData, PullMsgs, PushMessages, SendMsgResp};
use openim::wire::{
    Content, FileElem, MAX_CLIENT_FRAME, ReqIdentifier, RequestHeader, Response, ServerFrame,
    TextElem, decode_server_frame, encode_request,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use prost::Message as _;

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_]{1,12}"
}

fn msg_data() -> impl Strategy<Value = MsgData> {
    (
        (id(), id(), ".{0,8}", id(), ".{0,8}"),
        (
            any::<i32>(),
            1..=4i32,
            any::<i32>(),
            vec(any::<u8>(), 0..64),
        ),
        (
            any::<i64>(),
            any::<i64>(),
            any::<bool>(),
            btree_map(id(), any::<bool>(), 0..3),
        ),
        vec(id(), 0..3),
    )
        .prop_map(
            |(
                (send_id, recv_id, group_id, client_msg_id, sender_nickname),
                (sender_platform_id, session_type, content_type, content),
                (seq, send_time, is_read, options),
                at_user_id_list,
            )| MsgData {
                send_id,
                recv_id,
                group_id,
                client_msg_id,
                sender_nickname,
                sender_platform_id,
                session_type,
                content_type,
                content,
                seq,
                send_time,
                is_read,
                options,
                at_user_id_list,
                ..MsgData::default()
            },
        )
}

fn reply_frame(req: i32, msg_incr: &str, op: &str, code: i64, err: &str, data: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "reqIdentifier": req, "msgIncr": msg_incr, "operationID": op,
        "errCode": code, "errMsg": err, "data": STANDARD.encode(data),
    }))
    .expect("json")
}

proptest! {
    #[test]
    fn a_send_request_carries_the_message_unchanged(msg in msg_data(), incr in id()) {
        let header = RequestHeader { send_id: "bot1", operation_id: "op", msg_incr: &incr };
        let frame = encode_request(&header, &msg).expect("small messages fit");
        prop_assert!(frame.len() <= MAX_CLIENT_FRAME);
        let json: serde_json::Value = serde_json::from_slice(&frame).expect("json");
        prop_assert_eq!(json["reqIdentifier"].as_i64(), Some(1003));
        prop_assert_eq!(json["msgIncr"].as_str(), Some(incr.as_str()));
        let data = STANDARD.decode(json["data"].as_str().expect("data")).expect("base64");
        prop_assert_eq!(MsgData::decode(data.as_slice()).expect("protobuf"), msg);
    }

    #[test]
    fn protobuf_pushes_round_trip(
        conversations in btree_map(id(), (vec(msg_data(), 0..3), any::<bool>(), any::<i64>()), 0..3),
    ) {
        let push = PushMessages {
            msgs: conversations
                .into_iter()
                .map(|(id, (msgs, is_end, end_seq))| (id, PullMsgs { msgs, is_end, end_seq }))
                .collect(),
            notification_msgs: Default::default(),
        };
        let bytes = push.encode_to_vec();
        prop_assert_eq!(&PushMessages::decode(bytes.as_slice()).expect("decode"), &push);
        // Through the envelope, as the gateway sends it.
        let frame = reply_frame(2001, "", "", 0, "", &bytes);
        prop_assert_eq!(decode_server_frame(&frame).expect("push"), ServerFrame::Push(push));
    }

    #[test]
    fn reply_envelopes_read_back_their_fields(
        req in prop::sample::select(ReqIdentifier::ALL.to_vec()),
        incr in "[ -~]{0,80}",
        op in "[ -~]{0,20}",
        code in any::<i64>(),
        err in ".{0,20}",
        data in vec(any::<u8>(), 0..100),
    ) {
        let frame = reply_frame(req.code(), &incr, &op, code, &err, &data);
        let response = Response::parse(&frame).expect("envelope");
        prop_assert_eq!(
            response,
            Response { req, msg_incr: incr, operation_id: op, err_code: code, err_msg: err, data }
        );
    }

    #[test]
    fn send_replies_decode_as_sent(server in id(), client in id(), time in any::<i64>()) {
        let body = SendMsgResp { server_msg_id: server, client_msg_id: client, send_time: time, modify: None };
        let frame = reply_frame(1003, "m1", "op", 0, "", &body.encode_to_vec());
        let ServerFrame::Reply(response) = decode_server_frame(&frame).expect("reply") else {
            panic!("not a reply");
        };
        prop_assert_eq!(response.decode::<SendMsgResp>().expect("body"), body);
    }

    #[test]
    fn content_round_trips(text in ".{0,200}", name in ".{0,30}", size in any::<i64>()) {
        for content in [
            Content::Text(TextElem { content: text.clone() }),
            Content::Markdown(TextElem { content: text.clone() }),
            Content::File(FileElem { file_name: name.clone(), file_size: size, source_url: text.clone(), ..FileElem::default() }),
        ] {
            let bytes = content.encode().expect("encode");
            prop_assert_eq!(Content::decode(content.content_type(), &bytes).expect("decode"), content);
        }
    }
}
