//! The OpenIM simulator over real loopback: WS gateway (tokio-tungstenite as the client) and REST.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read as _, Write as _};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::{SinkExt as _, StreamExt as _};
use imsim::openim::pb::{self, MsgData};
use imsim::openim::{Fault, MultiLoginPolicy, OpenImOptions, OpenImSim, Target};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const T: Duration = Duration::from_secs(5);

async fn sim() -> OpenImSim {
    sim_with(OpenImOptions::default()).await
}

async fn sim_with(opts: OpenImOptions) -> OpenImSim {
    OpenImSim::start(opts).await.expect("start openim sim")
}

fn url(sim: &OpenImSim, user: &str, token: &str, platform: i32) -> String {
    format!(
        "{}/?sendID={user}&token={token}&platformID={platform}&operationID=op-{}&isBackground=false&isMsgResp=true&sdkType=js",
        sim.ws_url(),
        rand::random::<u32>()
    )
}

/// What a handshake ended with.
#[derive(Debug)]
enum Refusal {
    /// Upgraded, then the first text frame carried this error (and the socket closed).
    Frame(Value, Box<Ws>),
    /// Plain HTTP answer (status, JSON body).
    Http(u16, Value),
}

async fn handshake(url: &str) -> Result<Client, Refusal> {
    let msg_resp = url.contains("isMsgResp=true") || url.contains("v=");
    let gzip = url.contains("compression=gzip");
    match tokio_tungstenite::connect_async(url).await {
        Ok((mut ws, _)) => {
            if msg_resp {
                let first = tokio::time::timeout(T, ws.next())
                    .await
                    .expect("first frame in time");
                let Some(Ok(Message::Text(t))) = first else {
                    panic!("expected the first TEXT frame, got {first:?}");
                };
                let v: Value = serde_json::from_str(t.as_str()).expect("first frame JSON");
                if v["errCode"] != 0 {
                    return Err(Refusal::Frame(v, Box::new(ws)));
                }
                assert_eq!(t.as_str(), r#"{"errCode":0,"errMsg":"","errDlt":""}"#);
            }
            Ok(Client {
                ws,
                n: 0,
                gzip,
                backlog: VecDeque::new(),
                user: query_param(url, "sendID"),
            })
        }
        Err(tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp.body().clone().unwrap_or_default();
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Err(Refusal::Http(status, v))
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

fn query_param(url: &str, key: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_owned()
}

async fn connect(sim: &OpenImSim, user: &str, token: &str, platform: i32) -> Client {
    match handshake(&url(sim, user, token, platform)).await {
        Ok(c) => c,
        Err(r) => panic!("connect {user} refused: {r:?}"),
    }
}

async fn login(sim: &OpenImSim, user: &str) -> Client {
    let token = sim.issue_token(user, 7);
    connect(sim, user, &token, 7).await
}

fn refusal_code(r: &Result<Client, Refusal>) -> (i64, &'static str) {
    match r {
        Ok(_) => (0, "ok"),
        Err(Refusal::Frame(v, _)) => (v["errCode"].as_i64().unwrap(), "frame"),
        Err(Refusal::Http(status, v)) => {
            assert_eq!(*status, 200);
            (v["errCode"].as_i64().unwrap(), "http")
        }
    }
}

#[derive(Debug)]
enum Frame {
    Json(Value),
    Text(String),
    Closed,
}

struct Client {
    ws: Ws,
    n: u64,
    gzip: bool,
    user: String,
    backlog: VecDeque<Value>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("user", &self.user).finish()
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

impl Client {
    async fn send_raw(&mut self, payload: Vec<u8>) {
        let payload = if self.gzip { gzip(&payload) } else { payload };
        self.ws
            .send(Message::Binary(payload.into()))
            .await
            .expect("send frame");
    }

    /// Sends a request envelope; returns its msgIncr.
    async fn send_req(&mut self, id: i32, data: &[u8]) -> String {
        self.n += 1;
        let incr = format!("{}_{}", self.user, self.n);
        let env = json!({
            "reqIdentifier": id,
            "sendID": self.user,
            "operationID": format!("op-{}", self.n),
            "msgIncr": incr,
            "data": STANDARD.encode(data),
        });
        self.send_raw(env.to_string().into_bytes()).await;
        incr
    }

    async fn recv(&mut self, t: Duration) -> Option<Frame> {
        loop {
            let next = match tokio::time::timeout(t, self.ws.next()).await {
                Err(_) => return None,
                Ok(n) => n,
            };
            return Some(match next {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Frame::Closed,
                Some(Ok(Message::Binary(b))) => {
                    let b = if self.gzip { gunzip(&b) } else { b.to_vec() };
                    Frame::Json(
                        serde_json::from_slice(&b).unwrap_or_else(
                            |_| json!({ "unparsable": String::from_utf8_lossy(&b) }),
                        ),
                    )
                }
                Some(Ok(Message::Text(t))) => Frame::Text(t.to_string()),
                Some(Ok(_)) => continue,
            });
        }
    }

    /// The response to `incr`; other JSON frames are kept for `push`.
    async fn response(&mut self, incr: &str) -> Value {
        loop {
            match self.recv(T).await {
                Some(Frame::Json(v)) if v["msgIncr"] == incr => return v,
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                Some(Frame::Text(_)) => {}
                other => panic!("no response to {incr}: {other:?}"),
            }
        }
    }

    async fn call(&mut self, id: i32, data: &[u8]) -> Value {
        let incr = self.send_req(id, data).await;
        let v = self.response(&incr).await;
        assert_eq!(v["reqIdentifier"], id);
        v
    }

    /// The next frame with this reqIdentifier (backlog first).
    async fn next_of(&mut self, id: i32, t: Duration) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(|v| v["reqIdentifier"] == id) {
            return self.backlog.remove(i);
        }
        loop {
            match self.recv(t).await {
                Some(Frame::Json(v)) if v["reqIdentifier"] == id => return Some(v),
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                Some(Frame::Text(_)) => {}
                _ => return None,
            }
        }
    }

    async fn push(&mut self) -> pb::PushMessages {
        let v = self.next_of(2001, T).await.expect("a push");
        assert_eq!(v["msgIncr"], "");
        assert_eq!(v["errCode"], 0);
        data(&v)
    }

    /// True if the server closes the connection within `t` (frames before that are ignored).
    async fn closed_within(&mut self, t: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Some(Frame::Closed) => return true,
                None => return false,
                Some(_) => {}
            }
        }
    }

    async fn send_text(&mut self, recv: &str, group: &str, text: &str) -> (Value, MsgData) {
        let msg = text_msg(&self.user.clone(), recv, group, text);
        let v = self.call(1003, &msg.encode_to_vec()).await;
        (v, msg)
    }

    async fn max_seqs(&mut self) -> BTreeMap<String, i64> {
        let req = pb::GetMaxSeqReq {
            user_id: self.user.clone(),
        };
        let v = self.call(1001, &req.encode_to_vec()).await;
        assert_eq!(v["errCode"], 0, "{v}");
        data::<pb::GetMaxSeqResp>(&v).max_seqs
    }

    async fn pull(&mut self, conv: &str, begin: i64, end: i64, num: i64) -> pb::PushMessages {
        let req = pb::PullMessageBySeqsReq {
            user_id: self.user.clone(),
            seq_ranges: vec![pb::SeqRange {
                conversation_id: conv.to_owned(),
                begin,
                end,
                num,
            }],
            order: 0,
        };
        let v = self.call(1002, &req.encode_to_vec()).await;
        assert_eq!(v["errCode"], 0, "{v}");
        data(&v)
    }
}

fn data<M: prost::Message + Default>(v: &Value) -> M {
    let b64 = v["data"].as_str().unwrap_or("");
    M::decode(STANDARD.decode(b64).expect("base64 data").as_slice()).expect("protobuf data")
}

fn text_msg(from: &str, recv: &str, group: &str, text: &str) -> MsgData {
    MsgData {
        send_id: from.to_owned(),
        recv_id: recv.to_owned(),
        group_id: group.to_owned(),
        client_msg_id: format!("{:032x}", rand::random::<u128>()),
        sender_platform_id: 7,
        session_type: if group.is_empty() { 1 } else { 3 },
        msg_from: 100,
        content_type: 101,
        content: json!({ "content": text }).to_string().into_bytes(),
        create_time: 1,
        status: 1,
        ..MsgData::default()
    }
}

fn text_of(m: &MsgData) -> String {
    let v: Value = serde_json::from_slice(&m.content).unwrap();
    v["content"]
        .as_str()
        .or(v["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

// ---- handshake ---------------------------------------------------------------------------------

#[tokio::test]
async fn handshake_validates_in_order_and_reports_per_is_msg_resp() {
    let sim = sim().await;
    let token = sim.issue_token("bot1", 7);
    let base = sim.ws_url();
    let q = |s: &str| format!("{base}/msg_gateway?{s}");
    let good = format!(
        "sendID=bot1&token={token}&platformID=7&operationID=o&isBackground=false&sdkType=js"
    );

    // parameter errors: always plain HTTP 200 JSON, even with isMsgResp=true
    for (query, code, detail) in [
        (
            format!(
                "token={token}&platformID=7&operationID=o&isBackground=false&isMsgResp=true&sdkType=js"
            ),
            1602,
            "sendID is empty",
        ),
        (
            "sendID=bot1&platformID=7&operationID=o&isBackground=false&sdkType=js".to_owned(),
            1602,
            "token is empty",
        ),
        (
            format!(
                "sendID=bot1&token={token}&platformID=x&operationID=o&isBackground=false&sdkType=js"
            ),
            1602,
            "platformID is not int",
        ),
        (
            format!(
                "sendID=bot1&token={token}&platformID=12&operationID=o&isBackground=false&sdkType=js"
            ),
            1602,
            "platformID is invalid",
        ),
        (
            format!("sendID=bot1&token={token}&platformID=7&isBackground=false&sdkType=js"),
            1602,
            "operationID is empty",
        ),
        (
            format!(
                "sendID=bot1&token={token}&platformID=7&operationID=o&isMsgResp=true&sdkType=js"
            ),
            500,
            "strconv.ParseBool",
        ),
        (
            format!(
                "sendID=bot1&token={token}&platformID=7&operationID=o&isBackground=false&sdkType=xml"
            ),
            1602,
            "sdkType is invalid",
        ),
        (
            format!("sendID=bot1&token={token}&platformID=7&operationID=o&isBackground=false"),
            1602,
            "sdkType",
        ),
    ] {
        match handshake(&q(&query)).await {
            Err(Refusal::Http(200, v)) => {
                assert_eq!(v["errCode"], code, "{query}: {v}");
                assert!(
                    v["errDlt"].as_str().unwrap().contains(detail),
                    "{query}: {v}"
                );
                assert!(v.get("data").is_none());
            }
            other => panic!("{query}: {other:?}"),
        }
    }

    // token errors: isMsgResp=true → upgrade + one text frame + close; false → plain HTTP
    let other_user = sim.issue_token("alice", 7);
    let expired = sim.issue_token_with_ttl("bot1", 3, -10);
    let forged = imsim::openim::sign_jwt(
        b"openIM123",
        &imsim::openim::Claims {
            user_id: "bot1".into(),
            platform_id: 7,
            exp: i64::MAX / 4,
            iat: 0,
        },
    );
    let cases = [
        (format!("sendID=bot1&token={other_user}&platformID=7"), 1502),
        (format!("sendID=bot1&token={token}&platformID=5"), 1502),
        ("sendID=bot1&token=garbage&platformID=7".to_owned(), 1503),
        (format!("sendID=bot1&token={token}x&platformID=7"), 1505),
        (format!("sendID=bot1&token={expired}&platformID=3"), 1501),
        (format!("sendID=bot1&token={forged}&platformID=7"), 1507),
    ];
    for (auth, code) in &cases {
        let with = q(&format!(
            "{auth}&operationID=o&isBackground=false&isMsgResp=true&sdkType=js"
        ));
        match handshake(&with).await {
            Err(Refusal::Frame(v, mut ws)) => {
                assert_eq!(v["errCode"], *code, "{auth}: {v}");
                assert!(!v["errMsg"].as_str().unwrap().is_empty());
                // then the TCP connection is closed without a close frame
                let end = tokio::time::timeout(T, ws.next()).await.unwrap();
                assert!(
                    matches!(end, None | Some(Err(_))),
                    "expected an abnormal closure, got {end:?}"
                );
            }
            other => panic!("{auth}: {other:?}"),
        }
        let without = q(&format!(
            "{auth}&operationID=o&isBackground=false&sdkType=js"
        ));
        match handshake(&without).await {
            Err(Refusal::Http(200, v)) => assert_eq!(v["errCode"], *code, "{auth}: {v}"),
            other => panic!("{auth}: {other:?}"),
        }
    }

    // success without isMsgResp: no first frame; the first frame is the reply
    let mut c = handshake(&q(&good)).await.expect("connect");
    let seqs = c.max_seqs().await;
    assert!(seqs.is_empty(), "{seqs:?}");

    // the `v=` form
    let v = URL_SAFE_NO_PAD.encode(
        json!({"token": token, "userID": "bot1", "platformID": 7, "operationID": "o",
               "sdkType": "js", "sendResponse": true, "background": false})
        .to_string(),
    );
    let mut c2 = handshake(&q(&format!("v={v}&sendID=ignored")))
        .await
        .expect("v form");
    c2.user = "bot1".to_owned();
    c2.max_seqs().await;

    // not a websocket request but valid: 400
    let resp = http()
        .get(q(&good).replace("ws://", "http://"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn connection_limit_is_1601() {
    let sim = sim_with(OpenImOptions {
        max_conns: 1,
        ..OpenImOptions::default()
    })
    .await;
    let _a = login(&sim, "a").await;
    let token = sim.issue_token("b", 7);
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "b", &token, 7)).await),
        (1601, "http")
    );
}

// ---- heartbeat and timeouts --------------------------------------------------------------------

#[tokio::test]
async fn heartbeat_and_read_deadline() {
    let sim = sim_with(OpenImOptions {
        read_timeout: Duration::from_millis(600),
        server_ping_interval: Duration::from_millis(150),
        ..OpenImOptions::default()
    })
    .await;
    let mut c = login(&sim, "bot1").await;
    // text ping → text pong (body echoed)
    c.ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    match c.recv(T).await {
        Some(Frame::Text(t)) => assert_eq!(t, r#"{"type":"pong","body":null}"#),
        other => panic!("{other:?}"),
    }
    c.ws.send(Message::Text(r#"{"type":"ping","body":"aGk="}"#.into()))
        .await
        .unwrap();
    match c.recv(T).await {
        Some(Frame::Text(t)) => {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v, json!({"type": "pong", "body": "aGk="}));
        }
        other => panic!("{other:?}"),
    }
    // WS ping → pong
    c.ws.send(Message::Ping(b"op-1".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(T, c.ws.next()).await.unwrap();
    assert!(
        matches!(&pong, Some(Ok(Message::Pong(p))) if p.as_ref() == b"op-1"),
        "{pong:?}"
    );
    // keeping the link busy (pings every 200 ms) outlives the 600 ms deadline
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.ws.send(Message::Ping(Vec::new().into())).await.unwrap();
    }
    assert!(sim.online("bot1"));
    // silence closes it
    assert!(c.closed_within(Duration::from_secs(3)).await);
    assert!(sim.wait_online("bot1", false, T).await);

    // platform 5 (Web) gets server pings; others do not
    let token = sim.issue_token("web", 5);
    let mut web = connect(&sim, "web", &token, 5).await;
    let got = tokio::time::timeout(Duration::from_secs(2), web.ws.next())
        .await
        .unwrap();
    assert!(matches!(got, Some(Ok(Message::Ping(_)))), "{got:?}");
    let mut linux = login(&sim, "linux").await;
    let got = tokio::time::timeout(Duration::from_millis(400), linux.ws.next()).await;
    assert!(got.is_err(), "platform 7 must not be pinged: {got:?}");

    // an unsupported text frame closes the connection
    let mut c = login(&sim, "bot2").await;
    c.ws.send(Message::Text("hello".into())).await.unwrap();
    assert!(c.closed_within(T).await);
}

// ---- send and push -----------------------------------------------------------------------------

#[tokio::test]
async fn send_reply_then_push_to_receiver_and_sender() {
    let sim = sim().await;
    sim.add_user("bob");
    let mut alice = login(&sim, "alice").await;
    let mut bob = login(&sim, "bob").await;
    let (resp, msg) = alice.send_text("bob", "", "hi bob").await;
    assert_eq!(resp["errCode"], 0, "{resp}");
    assert_eq!(resp["errMsg"], "");
    assert_eq!(resp["operationID"], "op-1");
    let r: pb::SendMsgResp = data(&resp);
    assert_eq!(r.client_msg_id, msg.client_msg_id);
    assert_eq!(r.server_msg_id.len(), 32);
    assert!(r.send_time > 0);

    for c in [&mut bob, &mut alice] {
        let env = c.next_of(2001, T).await.expect("push");
        assert_eq!(env["msgIncr"], "");
        // pushes carry the operationID of the request that sent the message
        assert_eq!(env["operationID"], "op-1");
        let push: pb::PushMessages = data(&env);
        let pulled = &push.msgs["si_alice_bob"];
        assert_eq!(pulled.msgs.len(), 1);
        let m = &pulled.msgs[0];
        assert_eq!(
            (m.seq, m.status, m.client_msg_id.as_str()),
            (1, 2, msg.client_msg_id.as_str())
        );
        assert_eq!(m.server_msg_id, r.server_msg_id);
        assert_eq!(text_of(m), "hi bob");
        assert!(push.notification_msgs.is_empty());
    }

    let sent = sim.wait_sent(1, T).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].client_msg_id, msg.client_msg_id);
    assert_eq!(sent[0].text.as_deref(), Some("hi bob"));
    assert_eq!(sent[0].conversation_id, "si_alice_bob");
    assert_eq!(sent[0].seq, 1);

    // inject from bob → alice lands as seq 2 of the same conversation
    let inj = sim.inject_text("bob", "alice", "back at you");
    assert_eq!((inj.conversation_id.as_str(), inj.seq), ("si_alice_bob", 2));
    let push = alice.push().await;
    assert_eq!(text_of(&push.msgs["si_alice_bob"].msgs[0]), "back at you");
    // the sender's own connections get the echo too
    let echo = bob.push().await;
    assert_eq!(echo.msgs["si_alice_bob"].msgs[0].seq, 2);

    // group: every member including the sender gets the push
    sim.add_group("g1", &["alice", "bob", "carol"]);
    let (resp, _) = alice.send_text("", "g1", "hello group").await;
    assert_eq!(resp["errCode"], 0);
    for c in [&mut alice, &mut bob] {
        let push = c.push().await;
        let m = &push.msgs["sg_g1"].msgs[0];
        assert_eq!((m.seq, m.group_id.as_str()), (1, "g1"));
    }
    let inj = sim.inject_group_text("carol", "g1", "@bob look", &["bob"]);
    let push = bob.push().await;
    let m = &push.msgs["sg_g1"].msgs[0];
    assert_eq!((m.seq, m.content_type), (inj.seq, 106));
    assert_eq!(m.at_user_id_list, vec!["bob".to_owned()]);
    assert_eq!(text_of(m), "@bob look");
    assert!(sim.conversation_ids().contains(&"sg_g1".to_owned()));
    let stored = sim.messages("sg_g1");
    let last = stored.last().unwrap();
    assert_eq!(
        imsim::openim::text_of(last.content_type, &last.content).as_deref(),
        Some("@bob look")
    );
}

#[tokio::test]
async fn send_errors_and_protocol_violations() {
    let sim = sim().await;
    sim.add_group("g1", &["owner", "member"]);
    sim.add_user("peer");
    let mut c = login(&sim, "bot").await;
    let code = |v: &Value| v["errCode"].as_i64().unwrap();

    let mut m = text_msg("bot", "peer", "", "x");
    m.session_type = 2;
    let v = c.call(1003, &m.encode_to_vec()).await;
    assert_eq!(code(&v), 1001);
    assert_eq!(v["data"], Value::Null);
    assert_eq!(code(&c.send_text("ghost", "", "x").await.0), 1004);
    assert_eq!(code(&c.send_text("", "nope", "x").await.0), 1201);
    assert_eq!(code(&c.send_text("", "g1", "x").await.0), 1203);
    let forged = text_msg("peer", "bot", "", "x");
    assert_eq!(code(&c.call(1003, &forged.encode_to_vec()).await), 1002);
    sim.block("peer", "bot");
    assert_eq!(code(&c.send_text("peer", "", "x").await.0), 1302);
    let v = c.call(1003, b"\x0a\xff").await;
    assert_eq!(code(&v), 500);
    // 1001 with someone else's userID
    let v = c
        .call(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "peer".into(),
            }
            .encode_to_vec(),
        )
        .await;
    assert_eq!(code(&v), 1002);
    // 1002 without msgIncr → 500 reply (validator)
    let env = json!({"reqIdentifier": 1002, "sendID": "bot", "operationID": "o", "msgIncr": "", "data": ""});
    c.send_raw(env.to_string().into_bytes()).await;
    let v = c.next_of(1002, T).await.unwrap();
    assert_eq!(code(&v), 500);
    // 1004 is broken server side
    assert_eq!(code(&c.call(1004, b"").await), 500);
    let rejected: Vec<i32> = sim.sent().iter().map(|s| s.err_code).collect();
    assert_eq!(rejected, vec![1001, 1004, 1201, 1203, 1002, 1302]);

    // muted member / muted group
    let mut member = login(&sim, "member").await;
    sim.mute_member("g1", "member", i64::MAX);
    assert_eq!(code(&member.send_text("", "g1", "x").await.0), 1402);
    sim.mute_member("g1", "member", 0);
    sim.set_group_status("g1", 3);
    assert_eq!(code(&member.send_text("", "g1", "x").await.0), 1403);
    sim.set_group_status("g1", 2);
    assert_eq!(code(&member.send_text("", "g1", "x").await.0), 1204);

    // violations close the connection without a reply
    for payload in [
        b"not json".to_vec(),
        json!({"reqIdentifier": 1001, "sendID": "someone-else", "msgIncr": "1", "operationID": "o"})
            .to_string()
            .into_bytes(),
        json!({"reqIdentifier": 4242, "sendID": "bot", "msgIncr": "1", "operationID": "o"})
            .to_string()
            .into_bytes(),
        json!({"reqIdentifier": 1001, "sendID": "bot", "msgIncr": "1", "operationID": "o", "data": "!!"})
            .to_string()
            .into_bytes(),
    ] {
        let mut c = login(&sim, "bot").await;
        c.send_raw(payload.clone()).await;
        assert!(
            c.closed_within(T).await,
            "{}",
            String::from_utf8_lossy(&payload)
        );
        assert!(c.backlog.is_empty());
    }
}

// ---- seqs and catch-up -------------------------------------------------------------------------

#[tokio::test]
async fn newest_seq_and_paged_pull_catch_up_gap_free_after_a_drop() {
    let sim = sim().await;
    sim.add_group("team", &["alice", "bot", "carol"]);
    let mut bot = login(&sim, "bot").await;
    sim.inject_text("alice", "bot", "before");
    bot.push().await;
    let mut last: BTreeMap<String, i64> = bot.max_seqs().await;
    assert_eq!(last, BTreeMap::from([("si_alice_bot".to_owned(), 1)]));

    // offline: 25 messages in each of two conversations
    assert_eq!(sim.drop_connections("bot"), 1);
    assert!(bot.closed_within(T).await);
    assert!(sim.wait_online("bot", false, T).await);
    let injected = sim.inject_many(
        "alice",
        &[Target::User("bot".into()), Target::Group("team".into())],
        25,
    );
    assert_eq!(injected.len(), 50);
    assert_eq!(sim.max_seq("si_alice_bot"), 26);
    assert_eq!(sim.max_seq("sg_team"), 25);

    // reconnect: 1001 then pull [last+1, max] in chunks of 10
    let mut bot = login(&sim, "bot").await;
    let server = bot.max_seqs().await;
    assert_eq!(
        server,
        BTreeMap::from([("si_alice_bot".to_owned(), 26), ("sg_team".to_owned(), 25)])
    );
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (conv, max) in &server {
        let mut local = last.get(conv).copied().unwrap_or(0);
        while local < *max {
            let end = (local + 10).min(*max);
            let resp = bot.pull(conv, local + 1, end, end - local).await;
            let pulled = &resp.msgs[conv];
            let seqs: Vec<i64> = pulled.msgs.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, ((local + 1)..=end).collect::<Vec<_>>());
            assert_eq!(pulled.is_end, end == *max);
            got.entry(conv.clone())
                .or_default()
                .extend(pulled.msgs.iter().map(text_of));
            local = end;
        }
        last.insert(conv.clone(), local);
    }
    let want = |to: &str| {
        (1..=25)
            .map(|n| format!("{n}/25 to {to}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(got["si_alice_bot"], want("bot"));
    assert_eq!(got["sg_team"], want("team"));

    // the last-`num` rule, clamping, unknown conversations, placeholders
    let resp = bot.pull("si_alice_bot", 1, 26, 10).await;
    let seqs: Vec<i64> = resp.msgs["si_alice_bot"]
        .msgs
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, (17..=26).collect::<Vec<_>>());
    let resp = bot.pull("si_alice_bot", 20, 1000, 100).await;
    assert_eq!(resp.msgs["si_alice_bot"].msgs.len(), 7);
    assert!(resp.msgs["si_alice_bot"].is_end);
    assert!(bot.pull("si_alice_bot", 5, 4, 10).await.msgs.is_empty());
    assert!(bot.pull("si_alice_bot", 1, 5, 0).await.msgs.is_empty());
    assert!(bot.pull("si_carol_dave", 1, 5, 5).await.msgs.is_empty());
    assert!(sim.delete_message("si_alice_bot", 3));
    let resp = bot.pull("si_alice_bot", 2, 4, 3).await;
    let m = &resp.msgs["si_alice_bot"].msgs;
    assert_eq!(
        (m[1].seq, m[1].status, m[1].client_msg_id.as_str()),
        (3, 4, "")
    );
    assert_eq!(m[2].status, 2);

    // 1005 exact seqs, 1006 has-read/max, 1007 last message
    let req = pb::GetSeqMessageReq {
        user_id: "bot".into(),
        conversations: vec![pb::ConversationSeqs {
            conversation_id: "sg_team".into(),
            seqs: vec![25, 1],
        }],
        order: 0,
    };
    let v = bot.call(1005, &req.encode_to_vec()).await;
    let r: pb::PushMessages = data(&v);
    let seqs: Vec<i64> = r.msgs["sg_team"].msgs.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 25]);
    assert!(r.msgs["sg_team"].is_end);
    let req = pb::GetConversationsHasReadAndMaxSeqReq {
        user_id: "bot".into(),
        conversation_ids: vec![],
        return_pinned: true,
    };
    let v = bot.call(1006, &req.encode_to_vec()).await;
    let r: pb::GetConversationsHasReadAndMaxSeqResp = data(&v);
    assert_eq!(r.seqs["si_alice_bot"].max_seq, 26);
    assert_eq!(r.seqs["sg_team"].max_seq, 25);
    assert!(r.seqs["sg_team"].max_seq_time > 0);
    let req = pb::GetLastMessageReq {
        user_id: "bot".into(),
        conversation_ids: vec!["sg_team".into(), "si_x_y".into()],
    };
    let v = bot.call(1007, &req.encode_to_vec()).await;
    let r: pb::GetLastMessageResp = data(&v);
    assert_eq!(r.msgs.len(), 1);
    assert_eq!(r.msgs["sg_team"].seq, 25);

    // a late joiner cannot pull older group history
    sim.join_group("team", &["late"]);
    let mut late = login(&sim, "late").await;
    assert!(
        late.max_seqs()
            .await
            .get("sg_team")
            .is_none_or(|m| *m == 25)
    );
    assert!(late.pull("sg_team", 1, 25, 25).await.msgs.is_empty());
    sim.inject_group_text("alice", "team", "welcome", &[]);
    let push = late.push().await;
    assert_eq!(push.msgs["sg_team"].msgs[0].seq, 26);
    let resp = late.pull("sg_team", 1, 26, 26).await;
    let seqs: Vec<i64> = resp.msgs["sg_team"].msgs.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![26]);
}

#[tokio::test]
async fn push_delay_and_push_before_reply_orders() {
    for before in [false, true] {
        let sim = sim_with(OpenImOptions {
            push_before_reply: before,
            push_delay: if before {
                Duration::ZERO
            } else {
                Duration::from_millis(200)
            },
            ..OpenImOptions::default()
        })
        .await;
        sim.add_user("peer");
        let mut c = login(&sim, "bot").await;
        let msg = text_msg("bot", "peer", "", "x");
        let incr = c.send_req(1003, &msg.encode_to_vec()).await;
        let mut order = Vec::new();
        while order.len() < 2 {
            match c.recv(T).await {
                Some(Frame::Json(v)) if v["msgIncr"] == incr => order.push("reply"),
                Some(Frame::Json(v)) if v["reqIdentifier"] == 2001 => order.push("push"),
                other => panic!("{other:?}"),
            }
        }
        let want = if before {
            ["push", "reply"]
        } else {
            ["reply", "push"]
        };
        assert_eq!(order, want);
    }
}

// ---- multi-login and kick ----------------------------------------------------------------------

#[tokio::test]
async fn multi_login_kick_and_token_states() {
    let sim = sim().await;
    let old = sim.issue_token("bot", 7);
    let mut first = connect(&sim, "bot", &old, 7).await;
    // same token, second socket: both stay
    let mut same = connect(&sim, "bot", &old, 7).await;
    // other platform: stays
    let pc = sim.issue_token("bot", 3);
    let mut other_platform = connect(&sim, "bot", &pc, 3).await;
    assert_eq!(sim.connections().len(), 3);

    // a new token for the same platform: the old one is kicked at issue (REST 1506) …
    let new = sim.issue_token("bot", 7);
    assert_ne!(old, new);
    let (code, _) = rest(
        &sim,
        &old,
        "/user/get_users_info",
        json!({"userIDs": ["bot"]}),
    )
    .await;
    assert_eq!(code, 1506);
    // … the established sockets survive until the new token connects
    first.max_seqs().await;
    let _newer = connect(&sim, "bot", &new, 7).await;
    for c in [&mut first, &mut same] {
        let kick = c.next_of(2002, T).await.expect("kick frame");
        assert_eq!(
            kick,
            json!({"reqIdentifier": 2002, "msgIncr": "", "operationID": "", "errCode": 0, "errMsg": "", "data": null})
        );
        assert!(c.closed_within(T).await);
    }
    other_platform.max_seqs().await;
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "bot", &old, 7)).await),
        (1506, "frame")
    );

    // kick(user): 2002 on every connection, tokens unusable
    assert_eq!(sim.kick("bot"), 2);
    assert!(other_platform.next_of(2002, T).await.is_some());
    assert!(other_platform.closed_within(T).await);
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "bot", &pc, 3)).await),
        (1506, "frame")
    );

    // policy 0: nobody is kicked
    let sim = sim_with(OpenImOptions {
        multi_login_policy: MultiLoginPolicy::NoKick,
        ..OpenImOptions::default()
    })
    .await;
    let t1 = sim.issue_token("bot", 7);
    let mut c1 = connect(&sim, "bot", &t1, 7).await;
    let t2 = sim.issue_token("bot", 7);
    let _c2 = connect(&sim, "bot", &t2, 7).await;
    c1.max_seqs().await;
    assert!(c1.backlog.is_empty());
}

#[tokio::test]
async fn expired_and_revoked_tokens() {
    let sim = sim().await;
    let expired = sim.issue_token_with_ttl("bot", 7, -5);
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "bot", &expired, 7)).await),
        (1501, "frame")
    );
    let token = sim.issue_token("bot", 3);
    let mut c = connect(&sim, "bot", &token, 3).await;
    assert!(sim.expire_token(&token));
    // established connections are not dropped by expiry
    c.max_seqs().await;
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "bot", &token, 3)).await),
        (1501, "frame")
    );
    let (code, body) = rest(
        &sim,
        &token,
        "/user/get_users_info",
        json!({"userIDs": ["bot"]}),
    )
    .await;
    assert_eq!(code, 1501);
    assert_eq!(body["errMsg"], "TokenExpiredError");
    let t = sim.issue_token("bot", 2);
    assert!(sim.revoke(&t));
    assert_eq!(
        refusal_code(&handshake(&url(&sim, "bot", &t, 2)).await),
        (1507, "frame")
    );
}

// ---- frames ------------------------------------------------------------------------------------

#[tokio::test]
async fn frame_limit_gzip_logout_and_subscriptions() {
    let sim = sim().await;
    let mut c = login(&sim, "bot").await;
    // exactly 51 200 bytes is fine
    let mut env = json!({"reqIdentifier": 1001, "sendID": "bot", "msgIncr": "big", "operationID": "o",
        "data": STANDARD.encode(pb::GetMaxSeqReq { user_id: "bot".into() }.encode_to_vec()), "pad": ""});
    let len = env.to_string().len();
    env["pad"] = json!("x".repeat(51_200 - len));
    let payload = env.to_string().into_bytes();
    assert_eq!(payload.len(), 51_200);
    c.send_raw(payload).await;
    assert_eq!(c.response("big").await["errCode"], 0);
    // one byte more closes the connection
    env["pad"] = json!("x".repeat(51_201 - len));
    c.send_raw(env.to_string().into_bytes()).await;
    assert!(c.closed_within(T).await);

    // gzip both ways
    let token = sim.issue_token("bot", 7);
    let mut z = handshake(&format!("{}&compression=gzip", url(&sim, "bot", &token, 7)))
        .await
        .expect("gzip connect");
    assert!(z.gzip);
    sim.inject_text("alice", "bot", "zipped");
    let push = z.push().await;
    assert_eq!(text_of(&push.msgs["si_alice_bot"].msgs[0]), "zipped");
    assert_eq!(z.max_seqs().await["si_alice_bot"], 1);

    // 2005 subscribe, then status pushes
    let v = z
        .call(
            2005,
            &pb::SubUserOnlineStatus {
                subscribe_user_id: vec!["alice".into()],
                unsubscribe_user_id: vec![],
            }
            .encode_to_vec(),
        )
        .await;
    let tips: pb::SubUserOnlineStatusTips = data(&v);
    assert_eq!(tips.subscribers[0].user_id, "alice");
    assert!(tips.subscribers[0].online_platform_ids.is_empty());
    let _alice = login(&sim, "alice").await;
    let v = z.next_of(2005, T).await.expect("status push");
    assert_eq!(v["msgIncr"], "");
    let tips: pb::SubUserOnlineStatusTips = data(&v);
    assert_eq!(tips.subscribers[0].online_platform_ids, vec![7]);

    // 2004, then 2003 logout: reply, then close
    let v = z
        .call(
            2004,
            &pb::SetAppBackgroundStatusReq {
                user_id: "bot".into(),
                is_background: true,
            }
            .encode_to_vec(),
        )
        .await;
    assert_eq!(
        (v["errCode"].clone(), v["data"].clone()),
        (json!(0), Value::Null)
    );
    let v = z
        .call(
            2003,
            &pb::DelUserPushTokenReq {
                user_id: "bot".into(),
                platform_id: 7,
            }
            .encode_to_vec(),
        )
        .await;
    assert_eq!(v["errCode"], 0);
    assert!(z.closed_within(T).await);
}

#[tokio::test]
async fn one_shot_faults() {
    let sim = sim().await;
    let mut c = login(&sim, "bot").await;

    sim.fault("bot", Fault::MalformedFrame);
    let incr = c
        .send_req(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "bot".into(),
            }
            .encode_to_vec(),
        )
        .await;
    match c.recv(T).await {
        Some(Frame::Json(v)) => assert!(v.get("unparsable").is_some(), "{v}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.response(&incr).await["errCode"], 0);

    sim.fault("bot", Fault::BadBase64);
    let incr = c
        .send_req(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "bot".into(),
            }
            .encode_to_vec(),
        )
        .await;
    let v = c.response(&incr).await;
    assert!(STANDARD.decode(v["data"].as_str().unwrap()).is_err());

    sim.fault("bot", Fault::BadProtobuf);
    let incr = c
        .send_req(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "bot".into(),
            }
            .encode_to_vec(),
        )
        .await;
    let v = c.response(&incr).await;
    let bytes = STANDARD.decode(v["data"].as_str().unwrap()).unwrap();
    assert!(pb::GetMaxSeqResp::decode(bytes.as_slice()).is_err());

    sim.fault("bot", Fault::UnknownReqIdentifier);
    let incr = c
        .send_req(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "bot".into(),
            }
            .encode_to_vec(),
        )
        .await;
    match c.recv(T).await {
        Some(Frame::Json(v)) => {
            assert_eq!(v["reqIdentifier"], 9999);
            assert!(v["msgIncr"].as_str().unwrap().starts_with("imsim-unknown-"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.response(&incr).await["errCode"], 0);

    sim.fault("bot", Fault::Oversized { bytes: 2_000_000 });
    let incr = c
        .send_req(
            1001,
            &pb::GetMaxSeqReq {
                user_id: "bot".into(),
            }
            .encode_to_vec(),
        )
        .await;
    match c.recv(T).await {
        Some(Frame::Json(v)) => {
            assert_eq!(v["reqIdentifier"], 3001);
            assert!(v.to_string().len() >= 1_999_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.response(&incr).await["errCode"], 0);

    sim.fault("bot", Fault::delay(Duration::from_millis(400)));
    let started = std::time::Instant::now();
    c.max_seqs().await;
    assert!(started.elapsed() >= Duration::from_millis(400));

    // faults also hit pushes
    sim.fault("bot", Fault::BadBase64);
    sim.inject_text("alice", "bot", "lost");
    let v = c.next_of(2001, T).await.unwrap();
    assert!(STANDARD.decode(v["data"].as_str().unwrap()).is_err());

    sim.fault("bot", Fault::Drop);
    sim.inject_text("alice", "bot", "never arrives");
    assert!(c.closed_within(T).await);
}

// ---- REST --------------------------------------------------------------------------------------

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// POST with `operationID` and `token`; returns (errCode, whole envelope).
async fn rest(sim: &OpenImSim, token: &str, path: &str, body: Value) -> (i64, Value) {
    let resp = http()
        .post(format!("{}{path}", sim.api_url()))
        .header("operationID", "op-rest")
        .header("token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    let v: Value = resp.json().await.unwrap();
    (v["errCode"].as_i64().unwrap(), v)
}

#[tokio::test]
async fn rest_envelope_auth_and_send() {
    let sim = sim().await;
    let http = http();
    // missing headers
    let v: Value = http
        .post(format!("{}/user/get_users_info", sim.api_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errCode"], 1001);
    assert_eq!(v["errDlt"], "header must have operationID");
    let v: Value = http
        .post(format!("{}/user/get_users_info", sim.api_url()))
        .header("operationID", "o")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errDlt"], "header must have token");
    let resp = http
        .post(format!("{}/nope/nothing", sim.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

    // admin token, then user tokens
    let (code, v) = rest(
        &sim,
        "",
        "/auth/get_admin_token",
        json!({"secret": "wrong", "userID": "imAdmin"}),
    )
    .await;
    assert_eq!(
        (code, v["errMsg"].as_str()),
        (1002, Some("NoPermissionError"))
    );
    let (code, v) = rest(
        &sim,
        "",
        "/auth/get_admin_token",
        json!({"secret": "openIM123", "userID": "imAdmin"}),
    )
    .await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["expireTimeSeconds"], 7_776_000);
    let admin = v["data"]["token"].as_str().unwrap().to_owned();
    let (code, _) = rest(&sim, &admin, "/user/user_register", json!({"users": [{"userID": "bot1", "nickname": "Bot"}, {"userID": "alice", "nickname": "Alice"}]})).await;
    assert_eq!(code, 0);
    let (code, _) = rest(
        &sim,
        &admin,
        "/user/user_register",
        json!({"users": [{"userID": "bot1"}]}),
    )
    .await;
    assert_eq!(code, 1102);
    let (code, _) = rest(
        &sim,
        &admin,
        "/auth/get_user_token",
        json!({"platformID": 10, "userID": "bot1"}),
    )
    .await;
    assert_eq!(code, 1002);
    let (code, _) = rest(
        &sim,
        &admin,
        "/auth/get_user_token",
        json!({"platformID": 7, "userID": "ghost"}),
    )
    .await;
    assert_eq!(code, 1004);
    let (code, v) = rest(
        &sim,
        &admin,
        "/auth/get_user_token",
        json!({"platformID": 7, "userID": "bot1"}),
    )
    .await;
    assert_eq!(code, 0);
    let bot = v["data"]["token"].as_str().unwrap().to_owned();
    let (code, _) = rest(
        &sim,
        &bot,
        "/auth/get_user_token",
        json!({"platformID": 7, "userID": "alice"}),
    )
    .await;
    assert_eq!(code, 1002);
    let (code, v) = rest(&sim, "", "/auth/parse_token", json!({"token": bot})).await;
    assert_eq!(code, 0);
    assert_eq!(v["data"]["userID"], "bot1");
    assert_eq!(v["data"]["platformID"], 7);
    assert!(v["data"]["expireTimeSeconds"].as_i64().unwrap() > 1_700_000_000);
    let (code, _) = rest(
        &sim,
        "garbage",
        "/user/get_users_info",
        json!({"userIDs": []}),
    )
    .await;
    assert_eq!(code, 1503);

    // users
    let (code, v) = rest(
        &sim,
        &bot,
        "/user/get_users_info",
        json!({"userIDs": ["alice", "ghost"]}),
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(v["data"]["usersInfo"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["usersInfo"][0]["nickname"], "Alice");
    assert_eq!(v["data"]["usersInfo"][0]["globalRecvMsgOpt"], 0);
    let (code, v) = rest(
        &sim,
        &bot,
        "/user/get_users_info",
        json!({"userIDs": "alice"}),
    )
    .await;
    assert_eq!(code, 1001, "{v}");

    // send_msg is admin-only; the push reaches the WS client
    let mut c = connect(&sim, "bot1", &bot, 7).await;
    let send = json!({"sendID": "alice", "recvID": "bot1", "senderPlatformID": 1,
        "content": {"content": "from rest"}, "contentType": 101, "sessionType": 1});
    let (code, _) = rest(&sim, &bot, "/msg/send_msg", send.clone()).await;
    assert_eq!(code, 1002);
    let (code, _) = rest(
        &sim,
        &admin,
        "/msg/send_msg",
        json!({"sendID": "alice", "recvID": "bot1",
        "content": {"text": "x"}, "contentType": 101, "sessionType": 1}),
    )
    .await;
    assert_eq!(code, 1001);
    let (code, v) = rest(&sim, &admin, "/msg/send_msg", send).await;
    assert_eq!(code, 0, "{v}");
    let client_msg_id = v["data"]["clientMsgID"].as_str().unwrap().to_owned();
    let push = c.push().await;
    let m = &push.msgs["si_alice_bot1"].msgs[0];
    assert_eq!(
        (m.msg_from, m.client_msg_id.as_str()),
        (200, client_msg_id.as_str())
    );
    assert_eq!(text_of(m), "from rest");
    let sent = sim.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent.iter()
            .map(|s| (s.via.as_str(), s.err_code))
            .collect::<Vec<_>>(),
        vec![("rest", 1002), ("rest", 1001), ("rest", 0)]
    );

    // newest_seq + pull_msg_by_seq as JSON (content is base64, PullMsgs key is "Msgs")
    let (_, v) = rest(&sim, &bot, "/msg/newest_seq", json!({"userID": "bot1"})).await;
    assert_eq!(v["data"]["maxSeqs"], json!({"si_alice_bot1": 1}));
    let (_, v) = rest(&sim, &bot, "/msg/newest_seq", json!({"userID": "alice"})).await;
    assert_eq!(v["errCode"], 1002);
    let (_, v) = rest(&sim, &bot, "/msg/pull_msg_by_seq", json!({"userID": "bot1", "seqRanges": [{"conversationID": "si_alice_bot1", "begin": 1, "end": 1, "num": 1}], "order": 0})).await;
    let m = &v["data"]["msgs"]["si_alice_bot1"]["Msgs"][0];
    assert_eq!(
        STANDARD.decode(m["content"].as_str().unwrap()).unwrap(),
        br#"{"content":"from rest"}"#
    );
    assert!(v["data"].get("notificationMsgs").is_none());
    let (_, v) = rest(
        &sim,
        &bot,
        "/msg/get_conversations_has_read_and_max_seq",
        json!({"userID": "bot1"}),
    )
    .await;
    assert_eq!(v["data"]["seqs"]["si_alice_bot1"]["maxSeq"], 1);

    // gzip when asked
    let resp = http
        .post(format!("{}/msg/get_server_time", sim.api_url()))
        .header("operationID", "o")
        .header("token", &bot)
        .header("Accept-Encoding", "gzip")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let v: Value = serde_json::from_slice(&gunzip(&resp.bytes().await.unwrap())).unwrap();
    assert!(v["data"]["serverTime"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn rest_groups_friends_conversations() {
    let sim = sim().await;
    for u in ["bot", "alice", "carol"] {
        sim.add_user(u);
    }
    let bot = sim.issue_token("bot", 7);
    let alice = sim.issue_token("alice", 7);

    // groups
    let (code, _) = rest(&sim, &bot, "/group/create_group", json!({"memberUserIDs": ["alice"], "ownerUserID": "bot", "groupInfo": {"groupName": "G", "groupType": 1}})).await;
    assert_eq!(code, 1001);
    let (code, _) = rest(&sim, &bot, "/group/create_group", json!({"memberUserIDs": ["alice", "alice"], "ownerUserID": "bot", "groupInfo": {"groupType": 2}})).await;
    assert_eq!(code, 1001);
    let (code, _) = rest(
        &sim,
        &bot,
        "/group/create_group",
        json!({"memberUserIDs": ["bot"], "ownerUserID": "alice", "groupInfo": {"groupType": 2}}),
    )
    .await;
    assert_eq!(code, 1002);
    let (code, v) = rest(&sim, &bot, "/group/create_group", json!({"memberUserIDs": ["alice"], "adminUserIDs": ["carol"], "ownerUserID": "bot", "groupInfo": {"groupID": "g9", "groupName": "Nine", "groupType": 2}})).await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["groupInfo"]["memberCount"], 3);
    let (_, v) = rest(
        &sim,
        &bot,
        "/group/get_groups_info",
        json!({"groupIDs": ["g9"]}),
    )
    .await;
    assert_eq!(v["data"]["groupInfos"][0]["groupName"], "Nine");
    assert_eq!(v["data"]["groupInfos"][0]["ownerUserID"], "bot");
    let (code, _) = rest(
        &sim,
        &bot,
        "/group/get_groups_info",
        json!({"groupIDs": []}),
    )
    .await;
    assert_eq!(code, 1001);
    let (_, v) = rest(
        &sim,
        &bot,
        "/group/get_group_member_list",
        json!({"groupID": "g9", "pagination": {"pageNumber": 1, "showNumber": 2}}),
    )
    .await;
    assert_eq!(v["data"]["total"], 3);
    assert_eq!(v["data"]["members"].as_array().unwrap().len(), 2);
    let (_, v) = rest(
        &sim,
        &bot,
        "/group/get_group_members_info",
        json!({"groupID": "g9", "userIDs": ["carol"]}),
    )
    .await;
    assert_eq!(v["data"]["members"][0]["roleLevel"], 60);
    let (_, v) = rest(
        &sim,
        &alice,
        "/group/get_joined_group_list",
        json!({"fromUserID": "alice"}),
    )
    .await;
    assert_eq!(v["data"]["total"], 1);
    let outsider = sim.issue_token("dave", 7);
    let (code, _) = rest(
        &sim,
        &outsider,
        "/group/get_group_member_list",
        json!({"groupID": "g9"}),
    )
    .await;
    assert_eq!(code, 1203);

    // friends
    let (code, _) = rest(
        &sim,
        &bot,
        "/friend/add_friend",
        json!({"fromUserID": "bot", "toUserID": "bot"}),
    )
    .await;
    assert_eq!(code, 1301);
    let (code, _) = rest(
        &sim,
        &bot,
        "/friend/add_friend",
        json!({"fromUserID": "bot", "toUserID": "alice", "reqMsg": "hi"}),
    )
    .await;
    assert_eq!(code, 0);
    let (_, v) = rest(
        &sim,
        &alice,
        "/friend/get_friend_apply_list",
        json!({"userID": "alice"}),
    )
    .await;
    assert_eq!(v["data"]["FriendRequests"][0]["reqMsg"], "hi");
    let (code, _) = rest(
        &sim,
        &bot,
        "/friend/add_friend_response",
        json!({"fromUserID": "bot", "toUserID": "alice", "handleResult": 1}),
    )
    .await;
    assert_eq!(code, 1002);
    let (code, _) = rest(
        &sim,
        &alice,
        "/friend/add_friend_response",
        json!({"fromUserID": "bot", "toUserID": "alice", "handleResult": 1, "handleMsg": "ok"}),
    )
    .await;
    assert_eq!(code, 0);
    let (code, _) = rest(
        &sim,
        &alice,
        "/friend/add_friend_response",
        json!({"fromUserID": "bot", "toUserID": "alice", "handleResult": 1}),
    )
    .await;
    assert_eq!(code, 1305);
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/is_friend",
        json!({"userID1": "bot", "userID2": "alice"}),
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"inUser1Friends": true, "inUser2Friends": true})
    );
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/get_friend_list",
        json!({"userID": "bot", "pagination": {"pageNumber": 1, "showNumber": 10}}),
    )
    .await;
    assert_eq!(v["data"]["total"], 1);
    assert_eq!(v["data"]["friendsInfo"][0]["friendUser"]["userID"], "alice");
    let admin = sim.admin_token();
    let (code, _) = rest(
        &sim,
        &bot,
        "/friend/import_friend",
        json!({"ownerUserID": "bot", "friendUserIDs": ["carol"]}),
    )
    .await;
    assert_eq!(code, 1002);
    let (code, _) = rest(
        &sim,
        &admin,
        "/friend/import_friend",
        json!({"ownerUserID": "bot", "friendUserIDs": ["carol"]}),
    )
    .await;
    assert_eq!(code, 0);
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/get_designated_friends",
        json!({"ownerUserID": "bot", "friendUserIDs": ["carol", "dave"]}),
    )
    .await;
    assert_eq!(v["data"]["friendsInfo"].as_array().unwrap().len(), 1);
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/get_full_friend_user_ids",
        json!({"userID": "bot", "idHash": 0}),
    )
    .await;
    assert_eq!(v["data"]["userIDs"], json!(["alice", "carol"]));
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/get_incremental_friends",
        json!({"userID": "bot", "version": 0, "versionID": ""}),
    )
    .await;
    assert_eq!(v["data"]["full"], true);
    assert_eq!(v["data"]["insert"].as_array().unwrap().len(), 2);
    let (version, version_id) = (v["data"]["version"].clone(), v["data"]["versionID"].clone());
    let (_, v) = rest(
        &sim,
        &bot,
        "/friend/get_incremental_friends",
        json!({"userID": "bot", "version": version, "versionID": version_id}),
    )
    .await;
    assert_eq!(
        (v["data"]["full"].clone(), v["data"]["insert"].clone()),
        (json!(false), Value::Null)
    );
    let calls = sim.friend_calls();
    assert_eq!(calls.len(), 14);
    assert_eq!(calls[0].path, "/friend/add_friend");
    assert_eq!(
        (calls[0].user_id.as_str(), calls[0].err_code),
        ("bot", 1301)
    );

    // conversations
    sim.inject_text("alice", "bot", "hey");
    sim.inject_group_text("alice", "g9", "all", &[]);
    let (_, v) = rest(
        &sim,
        &bot,
        "/conversation/get_all_conversations",
        json!({"ownerUserID": "bot"}),
    )
    .await;
    let ids: Vec<&str> = v["data"]["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversationID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["sg_g9", "si_alice_bot"]);
    let (_, v) = rest(
        &sim,
        &bot,
        "/conversation/get_owner_conversation",
        json!({"userID": "bot", "pagination": {"pageNumber": 2, "showNumber": 1}}),
    )
    .await;
    assert_eq!(v["data"]["total"], 2);
    assert_eq!(
        v["data"]["conversations"][0]["conversationID"],
        "si_alice_bot"
    );
    assert_eq!(v["data"]["conversations"][0]["userID"], "alice");
    assert_eq!(v["data"]["conversations"][0]["conversationType"], 1);
    let (_, v) = rest(
        &sim,
        &bot,
        "/conversation/get_incremental_conversations",
        json!({"userID": "bot", "version": 0, "versionID": ""}),
    )
    .await;
    assert_eq!(v["data"]["insert"].as_array().unwrap().len(), 2);
    let (_, v) = rest(
        &sim,
        &bot,
        "/conversation/get_not_notify_conversation_ids",
        json!({"userID": "bot"}),
    )
    .await;
    assert_eq!(v["data"]["conversationIDs"], json!([]));

    // jssdk: protobuf in, base64 protobuf out; unknown-but-valid ids are synthesized
    let req = pb::GetJsConversationsReq {
        owner_user_id: "bot".into(),
        conversation_ids: vec!["si_alice_bot".into(), "si_bot_carol".into()],
    };
    let resp = http()
        .post(format!("{}/jssdk/get_conversations", sim.api_url()))
        .header("operationID", "o")
        .header("token", &bot)
        .header("Content-Type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errCode"], 0, "{v}");
    let r: pb::ConversationsResp = data(&v);
    assert_eq!(r.conversations.len(), 2);
    let first = &r.conversations[0];
    assert_eq!(first.conversation.as_ref().unwrap().user_id, "alice");
    assert_eq!(first.max_seq, 1);
    assert_eq!(text_of(first.last_msg.as_ref().unwrap()), "hey");
    assert_eq!(first.user.as_ref().unwrap().user_id, "alice");
    assert!(first.friend.is_some());
    assert_eq!(
        r.conversations[1].conversation.as_ref().unwrap().user_id,
        "carol"
    );
    let req = pb::GetActiveConversationsReq {
        owner_user_id: "bot".into(),
        count: 1,
    };
    let resp = http()
        .post(format!("{}/jssdk/get_active_conversations", sim.api_url()))
        .header("operationID", "o")
        .header("token", &bot)
        .header("Content-Type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    let r: pb::ConversationsResp = data(&v);
    assert_eq!(r.conversations.len(), 1);
    assert_eq!(r.unread_count, 2);
}

// ---- objects -----------------------------------------------------------------------------------

fn md5_hex(b: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(b))
}

fn full_url(sign: &Value, part: &Value) -> String {
    let base = part["url"]
        .as_str()
        .filter(|u| !u.is_empty())
        .or(sign["url"].as_str())
        .unwrap();
    let mut q: Vec<String> = Vec::new();
    for list in [&sign["query"], &part["query"]] {
        for kv in list.as_array().into_iter().flatten() {
            q.push(format!(
                "{}={}",
                kv["key"].as_str().unwrap(),
                kv["values"][0].as_str().unwrap()
            ));
        }
    }
    if q.is_empty() {
        base.to_owned()
    } else if base.contains('?') {
        format!("{base}&{}", q.join("&"))
    } else {
        format!("{base}?{}", q.join("&"))
    }
}

#[tokio::test]
async fn object_upload_round_trip() {
    let sim = sim_with(OpenImOptions {
        min_part_size: 1024,
        ..OpenImOptions::default()
    })
    .await;
    let bot = sim.issue_token("bot", 7);
    let (_, v) = rest(&sim, &bot, "/object/part_limit", json!({})).await;
    assert_eq!(v["data"]["minPartSize"], 1024);
    let (_, v) = rest(&sim, &bot, "/object/part_size", json!({"size": 2500})).await;
    assert_eq!(v["data"]["size"], 1024);
    let (code, _) = rest(&sim, &bot, "/object/part_size", json!({"size": 0})).await;
    assert_eq!(code, 1001);

    // multipart: 2500 bytes in parts of 1024
    let file: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let parts: Vec<&[u8]> = file.chunks(1024).collect();
    let part_md5s: Vec<String> = parts.iter().map(|p| md5_hex(p)).collect();
    let hash = md5_hex(part_md5s.join(",").as_bytes());
    let (code, _) = rest(&sim, &bot, "/object/initiate_multipart_upload", json!({"hash": hash, "size": 2500, "partSize": 1024, "maxParts": -1, "name": "alice/x.bin", "contentType": "application/octet-stream"})).await;
    assert_eq!(code, 1002);
    let (code, v) = rest(&sim, &bot, "/object/initiate_multipart_upload", json!({"hash": hash, "size": 2500, "partSize": 1024, "maxParts": -1, "cause": "", "name": "bot/x.bin", "contentType": "application/octet-stream"})).await;
    assert_eq!(code, 0, "{v}");
    let upload = &v["data"]["upload"];
    let sign = &upload["sign"];
    assert_eq!(sign["parts"].as_array().unwrap().len(), 3);
    let http = http();
    for (i, part) in sign["parts"].as_array().unwrap().iter().enumerate() {
        assert_eq!(part["partNumber"], i + 1);
        let resp = http
            .put(full_url(sign, part))
            .body(parts[i].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            resp.headers()["etag"],
            format!("\"{}\"", part_md5s[i]).as_str()
        );
    }
    // a PUT without the signature is refused like S3 would
    let bad = http
        .put(format!(
            "http://{}/_s3/part/{}?partNumber=1",
            sim.api_addr(),
            upload["uploadID"].as_str().unwrap()
        ))
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 403);
    let mut wrong = part_md5s.clone();
    wrong.swap(0, 1);
    let (code, v) = rest(&sim, &bot, "/object/complete_multipart_upload", json!({"uploadID": upload["uploadID"], "parts": wrong, "name": "bot/x.bin", "contentType": "application/octet-stream"})).await;
    assert_eq!(code, 1001);
    assert_eq!(v["errDlt"], "md5 mismatching");
    let (code, v) = rest(&sim, &bot, "/object/complete_multipart_upload", json!({"uploadID": upload["uploadID"], "parts": part_md5s, "name": "bot/x.bin", "contentType": "application/octet-stream", "cause": ""})).await;
    assert_eq!(code, 0, "{v}");
    let url = v["data"]["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/object/bot/x.bin", sim.api_url()));

    // GET /object/<name> → 302 → the bytes (no token needed)
    let no_redirect = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let got = http.get(&url).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), file);
    assert_eq!(
        http.get(format!("{}/object/bot/missing", sim.api_url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // single part: one presigned PUT
    let small = b"hello object".to_vec();
    let hash = imsim::openim::object_hash(&small);
    let (_, v) = rest(&sim, &bot, "/object/initiate_multipart_upload", json!({"hash": hash, "size": small.len(), "partSize": 1024, "maxParts": -1, "name": "bot/hello.txt", "contentType": "text/plain"})).await;
    let sign = &v["data"]["upload"]["sign"];
    assert_eq!(sign["parts"].as_array().unwrap().len(), 1);
    let put = http
        .put(full_url(sign, &sign["parts"][0]))
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let (code, v) = rest(&sim, &bot, "/object/complete_multipart_upload", json!({"uploadID": v["data"]["upload"]["uploadID"], "parts": [md5_hex(&small)], "name": "bot/hello.txt", "contentType": "text/plain"})).await;
    assert_eq!(code, 0, "{v}");
    let got = http
        .get(v["data"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.headers()["content-type"], "text/plain");
    assert_eq!(got.bytes().await.unwrap().to_vec(), small);

    // same hash again: the URL comes back at once
    let (_, v) = rest(&sim, &bot, "/object/initiate_multipart_upload", json!({"hash": hash, "size": small.len(), "partSize": 1024, "maxParts": -1, "name": "bot/again.txt", "contentType": "text/plain"})).await;
    assert_eq!(
        v["data"]["url"],
        format!("{}/object/bot/again.txt", sim.api_url())
    );
    assert_eq!(v["data"]["upload"], Value::Null);

    let uploads = sim.uploads();
    assert_eq!(uploads.len(), 3);
    assert_eq!((uploads[0].parts, uploads[0].bytes.len()), (3, 2500));
    assert!(uploads[2].dedup);
    assert_eq!(sim.object("bot/again.txt").unwrap(), small);
}

// ---- admin API ---------------------------------------------------------------------------------

#[tokio::test]
async fn admin_http_mirror() {
    let sim = sim().await;
    let http = http();
    let admin = |path: &str| format!("{}/_admin/{path}", sim.api_url());
    let post = |path: &str, body: Value| {
        let req = http.post(admin(path)).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(
        post("users", json!({"userID": "bot", "nickname": "Bot"}))
            .await
            .0,
        200
    );
    assert_eq!(post("users", json!({})).await.0, 400);
    let (_, v) = post(
        "groups",
        json!({"groupID": "g", "members": ["alice", "bot"]}),
    )
    .await;
    assert_eq!(v["memberCount"], 2);
    let (_, v) = post("token", json!({"userID": "bot", "platformID": 7})).await;
    let token = v["token"].as_str().unwrap().to_owned();
    let mut c = connect(&sim, "bot", &token, 7).await;
    let (_, v) = http
        .get(admin("online?userID=bot"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .map(|v| (0, v))
        .unwrap();
    assert_eq!(v["platforms"], json!([7]));
    let (status, v) = post(
        "inject",
        json!({"from": "alice", "groupID": "g", "text": "hi @bot", "atUserIDs": ["bot"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["conversationID"], "sg_g");
    let push = c.push().await;
    assert_eq!(
        push.msgs["sg_g"].msgs[0].at_user_id_list,
        vec!["bot".to_owned()]
    );
    assert_eq!(
        post(
            "inject",
            json!({"from": "alice", "groupID": "nope", "text": "x"})
        )
        .await
        .0,
        404
    );
    let (_, v) = post(
        "inject_many",
        json!({"from": "alice", "to": ["bot"], "groups": ["g"], "count": 3}),
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 6);
    for _ in 0..6 {
        c.push().await;
    }
    let (_, v) = post(
        "fault",
        json!({"userID": "bot", "fault": "unknown_req_identifier"}),
    )
    .await;
    assert_eq!(v["queued"], 1);
    assert_eq!(
        post("fault", json!({"userID": "bot", "fault": "nonsense"}))
            .await
            .0,
        400
    );
    c.max_seqs().await;
    assert_eq!(c.backlog.len(), 1);
    let (v, _) = c.send_text("alice", "", "to alice").await;
    assert_eq!(v["errCode"], 0);
    let sent: Value = http
        .get(admin("sent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent[0]["text"], "to alice");
    assert_eq!(sent[0]["clientMsgID"].as_str().unwrap().len(), 32);
    let (_, v) = post("kick", json!({"userID": "bot"})).await;
    assert_eq!(v["kicked"], 1);
    assert!(c.closed_within(T).await);
    let (status, _) = post("token/expire", json!({"token": "nope"})).await;
    assert_eq!(status, 404);
    let state: Value = http
        .get(admin("state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["conversations"]["sg_g"]["maxSeq"], 4);
    assert_eq!(state["connections"], json!([]));
}

#[tokio::test]
async fn dropping_the_sim_closes_connections() {
    let sim = sim().await;
    let mut c = login(&sim, "bot").await;
    let api = sim.api_url();
    drop(sim);
    assert!(c.closed_within(T).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        http()
            .post(format!("{api}/msg/get_server_time"))
            .send()
            .await
            .is_err()
    );
}
