//! The JSON envelope around every gateway frame (spec §1.3), the handshake result and the
//! heartbeat (§1.2, §1.6), and the connect URL (§1.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use channel_core::ChannelError;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use super::ReqIdentifier;
use super::proto::{PushMessages, Reply, Request, SubUserOnlineStatusTips};
use crate::errors;

/// The largest frame the gateway reads from a client (hard-coded `maxMessageSize`). A larger
/// frame makes the server close the connection, so we refuse to build one.
pub const MAX_CLIENT_FRAME: usize = 51_200;

/// The largest server frame we decode. The server has no limit of its own (a 1002 pull of a
/// hundred messages easily exceeds [`MAX_CLIENT_FRAME`]); 1 MiB is the Go SDK's read cap.
pub const MAX_SERVER_FRAME: usize = 1 << 20;

/// The JS SDK's heartbeat, sent as a TEXT frame; the server answers `{"type":"pong",...}`.
/// A WebSocket Ping control frame works just as well (spec §1.6).
pub const HEARTBEAT_PING: &str = r#"{"type":"ping"}"#;

/// Who sends a request and how it is correlated.
#[derive(Debug, Clone, Copy)]
pub struct RequestHeader<'a> {
    /// Must equal the connection's user, or the server closes the connection.
    pub send_id: &'a str,
    /// Tracing id, echoed back.
    pub operation_id: &'a str,
    /// Correlation id, echoed back; unique per request.
    pub msg_incr: &'a str,
}

#[derive(Serialize)]
struct RequestEnvelope<'a> {
    #[serde(rename = "reqIdentifier")]
    req_identifier: i32,
    #[serde(rename = "msgIncr")]
    msg_incr: &'a str,
    #[serde(rename = "sendID")]
    send_id: &'a str,
    #[serde(rename = "operationID")]
    operation_id: &'a str,
    /// Standard base64 with padding: Go decodes `[]byte` with `base64.StdEncoding`.
    data: String,
}

/// Builds the payload of the BINARY frame carrying `body`.
///
/// The token is left out (the server ignores it, the JS SDK omits it), so frames can be logged.
pub fn encode_request<R: Request>(
    header: &RequestHeader<'_>,
    body: &R,
) -> Result<Vec<u8>, ChannelError> {
    let what = format!("{} request ({})", R::REQ, R::NAME);
    // The server rejects (1002/1005/1006/2004) or closes on (sendID) these when empty.
    for (field, value) in [
        ("sendID", header.send_id),
        ("operationID", header.operation_id),
        ("msgIncr", header.msg_incr),
    ] {
        if value.is_empty() {
            return Err(ChannelError::bad_input(format!("{what}: {field} is empty")));
        }
    }
    let envelope = RequestEnvelope {
        req_identifier: R::REQ.code(),
        msg_incr: header.msg_incr,
        send_id: header.send_id,
        operation_id: header.operation_id,
        data: STANDARD.encode(body.encode_to_vec()),
    };
    let frame = serde_json::to_vec(&envelope)
        .map_err(|e| ChannelError::permanent(format!("{what}: encoding the envelope: {e}")))?;
    if frame.len() > MAX_CLIENT_FRAME {
        return Err(ChannelError::bad_input(format!(
            "{what}: the frame would be {} bytes, over the gateway's limit of {MAX_CLIENT_FRAME} \
             (the server closes the connection on larger frames); split the message",
            frame.len()
        )));
    }
    Ok(frame)
}

/// One decoded reply or push envelope. `data` is still protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub req: ReqIdentifier,
    /// Our correlation id; empty on pushes.
    pub msg_incr: String,
    pub operation_id: String,
    pub err_code: i64,
    pub err_msg: String,
    pub data: Vec<u8>,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(rename = "reqIdentifier")]
    req_identifier: i64,
    #[serde(rename = "msgIncr", default, deserialize_with = "null_as_default")]
    msg_incr: String,
    #[serde(rename = "operationID", default, deserialize_with = "null_as_default")]
    operation_id: String,
    #[serde(rename = "errCode", default, deserialize_with = "null_as_default")]
    err_code: i64,
    #[serde(rename = "errMsg", default, deserialize_with = "null_as_default")]
    err_msg: String,
    /// `null` (nil bytes), `""` (empty message) or base64.
    #[serde(default, deserialize_with = "null_as_default")]
    data: String,
}

impl Response {
    /// Decodes the envelope of a BINARY server frame.
    pub fn parse(bytes: &[u8]) -> Result<Self, ChannelError> {
        const WHAT: &str = "gateway frame";
        if bytes.len() > MAX_SERVER_FRAME {
            return Err(ChannelError::transient(format!(
                "{WHAT}: {} bytes, over the {MAX_SERVER_FRAME}-byte limit",
                bytes.len()
            )));
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(ChannelError::transient(format!(
                "{WHAT}: gzip-compressed, but the connection did not ask for compression"
            )));
        }
        let raw: RawResponse = from_json(WHAT, bytes)?;
        let Some(req) = ReqIdentifier::from_code(raw.req_identifier) else {
            return Err(ChannelError::transient(format!(
                "{WHAT}: reqIdentifier: unknown value {}{}",
                raw.req_identifier,
                describe_incr(&raw.msg_incr)
            )));
        };
        let data = STANDARD.decode(raw.data.as_bytes()).map_err(|e| {
            ChannelError::transient(format!(
                "{}: data: not standard base64: {e}",
                label(req, &raw.msg_incr)
            ))
        })?;
        Ok(Self {
            req,
            msg_incr: raw.msg_incr,
            operation_id: raw.operation_id,
            err_code: raw.err_code,
            err_msg: raw.err_msg,
            data,
        })
    }

    /// Names the frame in error messages: `1003 reply (msgIncr m1)`, `2001 push`.
    pub fn label(&self) -> String {
        label(self.req, &self.msg_incr)
    }

    /// The server's verdict: `errCode` 0, or a classified error (spec §3.7).
    pub fn check(&self) -> Result<(), ChannelError> {
        errors::check(&self.label(), self.err_code, &self.err_msg, "")
    }

    /// Checks the verdict and decodes `data` as the reply `M`, which must answer this frame's
    /// `reqIdentifier`.
    pub fn decode<M: Reply>(&self) -> Result<M, ChannelError> {
        if self.req != M::REQ {
            return Err(ChannelError::permanent(format!(
                "{}: expected a {} reply carrying {}",
                self.label(),
                M::REQ,
                M::NAME
            )));
        }
        self.check()?;
        self.decode_data(M::NAME)
    }

    fn decode_data<M: prost::Message + Default>(&self, name: &str) -> Result<M, ChannelError> {
        M::decode(self.data.as_slice()).map_err(|e| {
            ChannelError::transient(format!(
                "{}: data: not a valid {name} protobuf: {e}",
                self.label()
            ))
        })
    }
}

fn label(req: ReqIdentifier, msg_incr: &str) -> String {
    match req {
        ReqIdentifier::PushMsg => format!("{req} push"),
        ReqIdentifier::KickOnlineMsg => format!("{req} kick"),
        _ if msg_incr.is_empty() => format!("{req} frame"),
        _ => format!("{req} reply{}", describe_incr(msg_incr)),
    }
}

fn describe_incr(msg_incr: &str) -> String {
    if msg_incr.is_empty() {
        return String::new();
    }
    // Our own ids are short; a server echoing garbage must not flood the logs.
    let shown: String = msg_incr.chars().take(64).collect();
    let more = if shown.len() < msg_incr.len() {
        "…"
    } else {
        ""
    };
    format!(" (msgIncr {shown:?}{more})")
}

/// What a BINARY server frame is, routed as the SDKs do (spec §1.3).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// The answer to one of our requests, to be matched by `msg_incr`. Its verdict is not
    /// checked yet, so a failed request can still be found and woken up.
    Reply(Response),
    /// 2001: new messages.
    Push(PushMessages),
    /// 2002: another client took over; the server drops the connection next.
    Kick,
    /// 2005 with an empty `msgIncr`: a subscribed user's online status changed.
    OnlineStatus(SubUserOnlineStatusTips),
}

/// Decodes a BINARY server frame.
pub fn decode_server_frame(bytes: &[u8]) -> Result<ServerFrame, ChannelError> {
    let response = Response::parse(bytes)?;
    match response.req {
        ReqIdentifier::PushMsg => {
            response.check()?;
            response
                .decode_data::<PushMessages>("PushMessages")
                .map(ServerFrame::Push)
        }
        ReqIdentifier::KickOnlineMsg => Ok(ServerFrame::Kick),
        ReqIdentifier::SubUserOnlineStatus if response.msg_incr.is_empty() => {
            response.check()?;
            response
                .decode_data::<SubUserOnlineStatusTips>("SubUserOnlineStatusTips")
                .map(ServerFrame::OnlineStatus)
        }
        _ if response.msg_incr.is_empty() => Err(ChannelError::transient(format!(
            "{}: a reply without msgIncr cannot be matched to a request",
            response.label()
        ))),
        _ => Ok(ServerFrame::Reply(response)),
    }
}

/// The first TEXT frame after the upgrade when `isMsgResp=true`, or the HTTP 200 body when
/// the server refused without upgrading (spec §1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Handshake {
    #[serde(rename = "errCode", default, deserialize_with = "null_as_default")]
    pub err_code: i64,
    #[serde(rename = "errMsg", default, deserialize_with = "null_as_default")]
    pub err_msg: String,
    #[serde(rename = "errDlt", default, deserialize_with = "null_as_default")]
    pub err_dlt: String,
}

impl Handshake {
    /// Decodes an HTTP body or text frame holding only the handshake result.
    pub fn parse(bytes: &[u8]) -> Result<Self, ChannelError> {
        from_json("handshake result", bytes)
    }

    /// Logged in, or why not: 1501–1507 are token problems, 1601 a full server, 1602 bad
    /// connect parameters.
    pub fn result(&self) -> Result<(), ChannelError> {
        errors::check("handshake", self.err_code, &self.err_msg, &self.err_dlt)
    }
}

/// What a TEXT server frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextFrame {
    Handshake(Handshake),
    Pong,
    Ping,
}

/// Decodes a TEXT server frame: the handshake result or a heartbeat.
pub fn decode_text_frame(text: &str) -> Result<TextFrame, ChannelError> {
    const WHAT: &str = "text frame";
    let value: serde_json::Value = from_json(WHAT, text.as_bytes())?;
    let Some(object) = value.as_object() else {
        return Err(ChannelError::transient(format!(
            "{WHAT}: expected a JSON object"
        )));
    };
    if let Some(kind) = object.get("type") {
        return match kind.as_str() {
            Some("pong") => Ok(TextFrame::Pong),
            Some("ping") => Ok(TextFrame::Ping),
            _ => Err(ChannelError::transient(format!(
                "{WHAT}: type: expected \"ping\" or \"pong\", got {}",
                short(kind)
            ))),
        };
    }
    if object.contains_key("errCode") {
        let handshake = serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            ChannelError::transient(format!("handshake result: {path}: {}", e.into_inner()))
        })?;
        return Ok(TextFrame::Handshake(handshake));
    }
    Err(ChannelError::transient(format!(
        "{WHAT}: neither a handshake result (errCode) nor a heartbeat (type)"
    )))
}

/// The gateway URL for one login (spec §1.1): `sdkType=js` for JSON frames, `isMsgResp=true`
/// so the server upgrades first and reports the login in the first text frame, and
/// `isBackground=false` because the server fails the handshake without it.
///
/// The URL holds the token: never log it.
pub fn connect_url(
    ws_addr: &Url,
    user_id: &str,
    token: &str,
    platform_id: i32,
    operation_id: &str,
) -> Url {
    let mut url = ws_addr.clone();
    url.query_pairs_mut()
        .append_pair("sendID", user_id)
        .append_pair("token", token)
        .append_pair("platformID", &platform_id.to_string())
        .append_pair("operationID", operation_id)
        .append_pair("isBackground", "false")
        .append_pair("isMsgResp", "true")
        .append_pair("sdkType", "js");
    url
}

/// Parses JSON with errors that name the field path, classified as a bad answer.
fn from_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ChannelError> {
    // serde also reads a struct from an array of its fields; an envelope is an object only.
    if !starts_object(bytes) {
        return Err(ChannelError::transient(format!(
            "{what}: not a valid envelope: expected a JSON object"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ChannelError::transient(format!("{what}: not a valid envelope: {inner}"))
        } else {
            ChannelError::transient(format!("{what}: {path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ChannelError::transient(format!("{what}: trailing data: {e}")))?;
    Ok(value)
}

/// Whether JSON text starts with `{` (after whitespace).
pub(super) fn starts_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'{')
}

fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use channel_core::ErrorKind;
    use prost::Message;

    use super::*;
    use crate::wire::proto::{
        GetMaxSeqReq, GetMaxSeqResp, MsgData, PullMessageBySeqsReq, PullMsgs, SendMsgResp, SeqRange,
    };
    use crate::wire::{content_type, msg_from, msg_status, session_type};

    const HEADER: RequestHeader<'static> = RequestHeader {
        send_id: "bot1",
        operation_id: "op-1",
        msg_incr: "bot1_1",
    };

    fn frame(json: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json).expect("json")
    }

    fn reply(req: i32, msg_incr: &str, data: &[u8]) -> Vec<u8> {
        frame(serde_json::json!({
            "reqIdentifier": req, "msgIncr": msg_incr, "operationID": "op-1",
            "errCode": 0, "errMsg": "", "data": STANDARD.encode(data)
        }))
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn newest_seq_request_snapshot() {
        let body = GetMaxSeqReq {
            user_id: "bot1".into(),
        };
        insta::assert_snapshot!(text(&encode_request(&HEADER, &body).expect("encode")));
    }

    #[test]
    fn pull_by_seq_request_snapshot() {
        let body = PullMessageBySeqsReq {
            user_id: "bot1".into(),
            seq_ranges: vec![
                SeqRange {
                    conversation_id: "si_alice_bot1".into(),
                    begin: 11,
                    end: 110,
                    num: 100,
                },
                SeqRange {
                    conversation_id: "sg_g1".into(),
                    begin: 1,
                    end: 3,
                    num: 3,
                },
            ],
            order: 0,
        };
        let header = RequestHeader {
            msg_incr: "bot1_2",
            ..HEADER
        };
        insta::assert_snapshot!(text(&encode_request(&header, &body).expect("encode")));
    }

    fn outgoing_text() -> MsgData {
        MsgData {
            send_id: "bot1".into(),
            recv_id: "alice".into(),
            client_msg_id: "0123456789abcdef0123456789abcdef".into(),
            sender_platform_id: 7,
            sender_nickname: "Bot".into(),
            session_type: session_type::SINGLE,
            msg_from: msg_from::USER,
            content_type: content_type::TEXT,
            content: br#"{"content":"hello"}"#.to_vec(),
            create_time: 1_763_800_000_000,
            status: msg_status::SENDING,
            ..MsgData::default()
        }
    }

    #[test]
    fn send_request_snapshot() {
        let header = RequestHeader {
            msg_incr: "bot1_3",
            ..HEADER
        };
        let frame = encode_request(&header, &outgoing_text()).expect("encode");
        // Spec §1.3's example starts the same way.
        assert!(text(&frame).contains(r#""data":"CgRib3Qx"#));
        insta::assert_snapshot!(text(&frame));
    }

    #[test]
    fn request_data_roundtrips() {
        let frame = encode_request(&HEADER, &outgoing_text()).expect("encode");
        let json: serde_json::Value = serde_json::from_slice(&frame).expect("json");
        let data = STANDARD
            .decode(json["data"].as_str().expect("data"))
            .expect("base64");
        assert_eq!(
            MsgData::decode(data.as_slice()).expect("pb"),
            outgoing_text()
        );
        assert_eq!(json["reqIdentifier"], 1003);
        assert!(json.get("token").is_none());
    }

    #[test]
    fn oversized_requests_are_refused() {
        let mut msg = outgoing_text();
        msg.content = vec![b'x'; MAX_CLIENT_FRAME];
        let err = encode_request(&HEADER, &msg).expect_err("too big");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(
            err.message.contains("1003 request (MsgData)") && err.message.contains("51200"),
            "{err}"
        );
        // Just under the limit is fine (base64 grows by 4/3, plus the envelope).
        msg.content = vec![b'x'; 37_000];
        assert!(encode_request(&HEADER, &msg).expect("fits").len() <= MAX_CLIENT_FRAME);
    }

    #[test]
    fn empty_header_fields_are_refused() {
        let header = RequestHeader {
            msg_incr: "",
            ..HEADER
        };
        let err = encode_request(&header, &GetMaxSeqReq::default()).expect_err("empty");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(err.message.contains("msgIncr is empty"), "{err}");
    }

    #[test]
    fn decodes_replies() {
        let body = SendMsgResp {
            server_msg_id: "s1".into(),
            client_msg_id: "c1".into(),
            send_time: 5,
            modify: None,
        };
        let ServerFrame::Reply(response) =
            decode_server_frame(&reply(1003, "m1", &body.encode_to_vec())).expect("decode")
        else {
            panic!("not a reply");
        };
        assert_eq!(response.msg_incr, "m1");
        assert_eq!(response.decode::<SendMsgResp>().expect("body"), body);
        // Asking for the wrong reply type is our bug, and says so.
        let err = response.decode::<GetMaxSeqResp>().expect_err("wrong type");
        assert!(
            err.message
                .contains("1003 reply (msgIncr \"m1\"): expected a 1001 reply"),
            "{err}"
        );
    }

    #[test]
    fn null_and_empty_data_are_empty_messages() {
        for data in [serde_json::Value::Null, serde_json::json!("")] {
            let bytes =
                frame(serde_json::json!({"reqIdentifier": 1001, "msgIncr": "m", "data": data}));
            let ServerFrame::Reply(response) = decode_server_frame(&bytes).expect("decode") else {
                panic!("not a reply");
            };
            assert_eq!(
                response.decode::<GetMaxSeqResp>().expect("empty"),
                GetMaxSeqResp::default()
            );
        }
    }

    #[test]
    fn error_replies_are_classified() {
        let bytes = frame(serde_json::json!({
            "reqIdentifier": 1003, "msgIncr": "m9", "operationID": "op", "errCode": 1302,
            "errMsg": "BlockedByPeer", "data": null
        }));
        let ServerFrame::Reply(response) = decode_server_frame(&bytes).expect("decode") else {
            panic!("not a reply");
        };
        let err = response.decode::<SendMsgResp>().expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Permanent);
        assert!(
            err.message.contains("1003 reply (msgIncr \"m9\")") && err.message.contains("1302"),
            "{err}"
        );
    }

    #[test]
    fn decodes_pushes_kicks_and_online_status() {
        let push = PushMessages {
            msgs: [(
                "si_alice_bot1".to_string(),
                PullMsgs {
                    msgs: vec![outgoing_text()],
                    is_end: false,
                    end_seq: 0,
                },
            )]
            .into(),
            notification_msgs: Default::default(),
        };
        assert_eq!(
            decode_server_frame(&reply(2001, "", &push.encode_to_vec())).expect("push"),
            ServerFrame::Push(push)
        );
        let kick = frame(serde_json::json!({
            "reqIdentifier": 2002, "msgIncr": "", "operationID": "", "errCode": 0, "errMsg": "",
            "data": null
        }));
        assert_eq!(decode_server_frame(&kick).expect("kick"), ServerFrame::Kick);
        let tips = SubUserOnlineStatusTips::default();
        assert_eq!(
            decode_server_frame(&reply(2005, "", &tips.encode_to_vec())).expect("status"),
            ServerFrame::OnlineStatus(tips.clone())
        );
        assert!(matches!(
            decode_server_frame(&reply(2005, "m", &tips.encode_to_vec())).expect("reply"),
            ServerFrame::Reply(_)
        ));
    }

    fn decode_err(bytes: &[u8]) -> ChannelError {
        decode_server_frame(bytes).expect_err("must fail")
    }

    #[test]
    fn malformed_frames_are_classified_and_named() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not json".to_vec(), "gateway frame: not a valid envelope"),
            (b"[1,2]".to_vec(), "gateway frame: not a valid envelope"),
            (b"{}".to_vec(), "missing field `reqIdentifier`"),
            (b"{\"reqIdentifier\":1001} x".to_vec(), "trailing data"),
            (
                frame(serde_json::json!({"reqIdentifier": "1001"})),
                "gateway frame: reqIdentifier: invalid type: string",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 1001, "errCode": "0"})),
                "gateway frame: errCode: invalid type: string",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 1001, "msgIncr": 7})),
                "gateway frame: msgIncr: invalid type: integer",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 1001, "data": [1]})),
                "gateway frame: data: invalid type: sequence",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 2100, "msgIncr": "m"})),
                "gateway frame: reqIdentifier: unknown value 2100 (msgIncr \"m\")",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 1003, "msgIncr": "m", "data": "***"})),
                "1003 reply (msgIncr \"m\"): data: not standard base64",
            ),
            (
                frame(serde_json::json!({"reqIdentifier": 1003, "msgIncr": "m", "data": "AAA"})),
                "1003 reply (msgIncr \"m\"): data: not standard base64",
            ),
            (
                // Field 1, wire type 7: not protobuf.
                reply(2001, "", b"\x0f\xff\xff"),
                "2001 push: data: not a valid PushMessages protobuf",
            ),
            (
                reply(2005, "", b"\x0a\x05ab"),
                "2005 frame: data: not a valid SubUserOnlineStatusTips protobuf",
            ),
            (
                reply(1001, "", b""),
                "1001 frame: a reply without msgIncr cannot be matched",
            ),
            (vec![0x1f, 0x8b, 8, 0], "gateway frame: gzip-compressed"),
            (
                vec![b' '; MAX_SERVER_FRAME + 1],
                "gateway frame: 1048577 bytes, over the 1048576-byte limit",
            ),
        ];
        for (bytes, expected) in cases {
            let err = decode_err(&bytes);
            assert_eq!(err.kind, ErrorKind::Transient, "{err}");
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }

    #[test]
    fn bad_protobuf_in_a_reply_is_reported_on_decode() {
        let ServerFrame::Reply(response) =
            decode_server_frame(&reply(1001, "m", b"\x0a\xff")).expect("envelope is fine")
        else {
            panic!("not a reply");
        };
        let err = response.decode::<GetMaxSeqResp>().expect_err("bad pb");
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(
            err.message
                .contains("1001 reply (msgIncr \"m\"): data: not a valid GetMaxSeqResp protobuf"),
            "{err}"
        );
    }

    #[test]
    fn long_msg_incr_is_truncated_in_messages() {
        let long = "x".repeat(500);
        let err = decode_err(&frame(
            serde_json::json!({"reqIdentifier": 9, "msgIncr": long}),
        ));
        assert!(err.message.len() < 200, "{err}");
    }

    #[test]
    fn text_frames() {
        assert_eq!(
            decode_text_frame(r#"{"errCode":0,"errMsg":"","errDlt":""}"#).expect("ok"),
            TextFrame::Handshake(Handshake::default())
        );
        assert_eq!(
            decode_text_frame(r#"{"type":"pong","body":null}"#).expect("pong"),
            TextFrame::Pong
        );
        assert_eq!(
            decode_text_frame(HEARTBEAT_PING).expect("ping"),
            TextFrame::Ping
        );
        for (bad, expected) in [
            ("nope", "text frame: not a valid envelope"),
            (
                "[]",
                "text frame: not a valid envelope: expected a JSON object",
            ),
            (r#"{"type":"hello"}"#, "text frame: type: expected"),
            (
                r#"{"errCode":"1501"}"#,
                "handshake result: errCode: invalid type",
            ),
            (r#"{"hello":1}"#, "neither a handshake result"),
        ] {
            let err = decode_text_frame(bad).expect_err(bad);
            assert_eq!(err.kind, ErrorKind::Transient);
            assert!(err.message.contains(expected), "{expected:?} not in {err}");
        }
    }

    #[test]
    fn handshake_results_are_classified() {
        let ok = Handshake::parse(br#"{"errCode":0,"errMsg":"","errDlt":""}"#).expect("parse");
        assert!(ok.result().is_ok());
        let expired = Handshake::parse(
            br#"{"errCode":1501,"errMsg":"TokenExpiredError","errDlt":"token is expired"}"#,
        )
        .expect("parse");
        let err = expired.result().expect_err("expired");
        assert_eq!(err.kind, ErrorKind::AuthExpired);
        assert!(
            err.message
                .starts_with("handshake: errCode 1501 TokenExpired"),
            "{err}"
        );
        let err = Handshake::parse(b"<html>").expect_err("not json");
        assert!(err.message.starts_with("handshake result:"), "{err}");
    }

    #[test]
    fn connect_url_has_every_required_parameter() {
        let base = Url::parse("wss://im.example.com/msg_gateway").expect("url");
        let url = connect_url(&base, "bot 1", "a.b.c", 7, "op-9");
        assert_eq!(
            url.as_str(),
            "wss://im.example.com/msg_gateway?sendID=bot+1&token=a.b.c&platformID=7\
             &operationID=op-9&isBackground=false&isMsgResp=true&sdkType=js"
        );
    }
}
