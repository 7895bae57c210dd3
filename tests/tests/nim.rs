//! The NIM simulator over real loopback: signed REST sends with reqwest, and the webhook pusher
//! against a tiny axum receiver that checks signatures with the crate's own vector functions.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use imsim::nim::{
    ConvType, NimFault, NimOptions, NimSim, PushError, Via, md5_hex, rest_checksum,
    webhook_checksum,
};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(5);

fn http() -> reqwest::Client {
    // reqwest is compiled without a default TLS provider and refuses to build a client without one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn sim_with(opts: NimOptions) -> NimSim {
    let sim = NimSim::start(opts).await.expect("start nim sim");
    sim.add_account("bot", "bot-token");
    sim.add_account("alice", "alice-token");
    sim
}

async fn sim() -> NimSim {
    sim_with(NimOptions::default()).await
}

/// The four signature headers, as a correct client sends them.
fn signed(sim: &NimSim, cur_time: u64) -> Vec<(&'static str, String)> {
    signed_with(sim.app_key(), sim.app_secret(), cur_time)
}

fn signed_with(app_key: &str, secret: &str, cur_time: u64) -> Vec<(&'static str, String)> {
    let nonce = format!("{:032x}", rand::random::<u128>());
    let cur_time = cur_time.to_string();
    vec![
        ("AppKey", app_key.to_owned()),
        ("CheckSum", rest_checksum(secret, &nonce, &cur_time)),
        ("Nonce", nonce),
        ("CurTime", cur_time),
    ]
}

async fn call(req: reqwest::RequestBuilder, headers: Vec<(&'static str, String)>) -> (u16, Value) {
    let mut req = req;
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.json().await.expect("JSON answer");
    (status, body)
}

async fn v2_send_with(
    sim: &NimSim,
    conversation_id: &str,
    body: Value,
    headers: Vec<(&'static str, String)>,
) -> (u16, Value) {
    let url = format!(
        "{}/im/v2/conversations/{}/messages",
        sim.base_url(),
        conversation_id.replace('|', "%7C")
    );
    call(http().post(url).json(&body), headers).await
}

async fn v2_send(sim: &NimSim, conversation_id: &str, body: Value) -> Value {
    let (status, answer) = v2_send_with(sim, conversation_id, body, signed(sim, now_s())).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn v1_send_with(
    sim: &NimSim,
    form: &[(&str, &str)],
    headers: Vec<(&'static str, String)>,
) -> (u16, Value) {
    let url = format!("{}/nimserver/msg/sendMsg.action", sim.base_url());
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http()
        .post(url)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(body);
    call(req, headers).await
}

async fn v1_send(sim: &NimSim, form: &[(&str, &str)]) -> Value {
    let (status, answer) = v1_send_with(sim, form, signed(sim, now_s())).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn text(t: &str) -> Value {
    json!({ "message": { "message_type": 0, "text": t } })
}

// ---- REST sends --------------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_v2_text_is_stored_and_answered() {
    let sim = sim().await;
    let answer = v2_send(
        &sim,
        "bot|1|alice",
        json!({ "message": { "message_type": 0, "text": "hello", "message_client_id": "c-1" } }),
    )
    .await;
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["msg"], "success");
    let data = &answer["data"];
    let server_id = data["message_server_id"]
        .as_u64()
        .expect("numeric server id");
    assert_eq!(data["message_client_id"], "c-1");
    assert_eq!(data["sender_id"], "bot");
    assert_eq!(data["receiver_id"], "alice");
    assert_eq!(data["conversation_type"], 1);
    assert_eq!(data["text"], "hello");
    assert!(data["create_time"].as_u64().unwrap() > 1_700_000_000_000);

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    let s = &sent[0];
    assert_eq!(s.via, Via::V2);
    assert_eq!(
        (s.sender.as_str(), s.conv_type, s.receiver.as_str()),
        ("bot", ConvType::P2p, "alice")
    );
    assert_eq!(s.message_type, 0);
    assert_eq!(s.text.as_deref(), Some("hello"));
    assert_eq!(s.client_id.as_deref(), Some("c-1"));
    assert_eq!(s.server_id, server_id);

    let calls = sim.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].code, Some(200));
    assert_eq!(calls[0].method, "POST");
    assert!(calls[0].path.starts_with("/im/v2/conversations/bot"));
    assert_eq!(calls[0].header("appkey"), Some(sim.app_key()));
    assert!(!calls[0].body.contains(sim.app_secret()));
}

#[tokio::test]
async fn v2_media_team_and_generated_client_ids() {
    let sim = sim().await;
    sim.add_team("42", &["bot", "alice"]);
    let answer = v2_send(
        &sim,
        "bot|2|42",
        json!({ "message": { "message_type": 1,
            "attachment": { "url": "https://nos.example/a.png", "w": 10, "h": 20 } } }),
    )
    .await;
    assert_eq!(answer["data"]["conversation_type"], 2);
    assert_eq!(
        answer["data"]["attachment"]["url"],
        "https://nos.example/a.png"
    );
    let generated = answer["data"]["message_client_id"].as_str().unwrap();
    assert!(!generated.is_empty());
    let s = &sim.sent()[0];
    assert_eq!(s.conv_type, ConvType::Team);
    assert_eq!(s.receiver, "42");
    assert_eq!(s.client_id.as_deref(), Some(generated));
    assert_eq!(s.attachment.as_ref().unwrap()["w"], 10);
}

#[tokio::test]
async fn v2_rejections_carry_nim_codes() {
    let sim = sim().await;
    sim.add_team("42", &["alice"]);
    let cases = [
        ("mallory|1|alice", text("hi"), 102404, "sender"),
        ("bot|1|nobody", text("hi"), 102404, "receiver"),
        ("bot|2|7", text("hi"), 108404, "team"),
        ("bot|2|42", text("hi"), 109404, "member"),
        ("bot|9|alice", text("hi"), 414, "conversation_id"),
        ("bot|1", text("hi"), 414, "conversation_id"),
        (
            "bot|1|alice",
            json!({ "message": { "message_type": 0 } }),
            414,
            "message.text",
        ),
        (
            "bot|1|alice",
            json!({ "message": { "message_type": 5, "text": "x" } }),
            414,
            "type 5",
        ),
        (
            "bot|1|alice",
            json!({ "message": { "message_type": 1, "attachment": { "w": 1 } } }),
            414,
            "url",
        ),
        (
            "bot|1|alice",
            json!({ "message": { "message_type": 6 } }),
            414,
            "attachment",
        ),
        ("bot|1|alice", text(&"x".repeat(5001)), 414, "5000"),
        ("bot|1|alice", json!({ "text": "hi" }), 414, "message"),
    ];
    for (conv, body, code, needle) in cases {
        let (status, answer) = v2_send_with(&sim, conv, body, signed(&sim, now_s())).await;
        assert_eq!(status, 200);
        assert_eq!(answer["code"], code, "{conv}: {answer}");
        let msg = answer["msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
    assert!(sim.sent().is_empty());
    // Exactly 5000 characters is fine.
    v2_send(&sim, "bot|1|alice", text(&"字".repeat(5000))).await;
    assert_eq!(sim.sent().len(), 1);
}

#[tokio::test]
async fn a_resend_with_the_same_client_id_is_stored_once() {
    let sim = sim().await;
    let body =
        json!({ "message": { "message_type": 0, "text": "once", "message_client_id": "dup-1" } });
    let first = v2_send(&sim, "bot|1|alice", body.clone()).await;
    let again = v2_send(&sim, "bot|1|alice", body).await;
    assert_eq!(first["data"], again["data"]);
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(sim.calls().len(), 2);

    // Another sender may use the same client id; so may the same sender with a new one.
    let other = v2_send(
        &sim,
        "alice|1|bot",
        json!({ "message": { "message_type": 0, "text": "x", "message_client_id": "dup-1" } }),
    )
    .await;
    assert_ne!(
        other["data"]["message_server_id"],
        first["data"]["message_server_id"]
    );
    v2_send(
        &sim,
        "bot|1|alice",
        json!({ "message": { "message_type": 0, "text": "x", "message_client_id": "dup-2" } }),
    )
    .await;
    assert_eq!(sim.sent().len(), 3);
}

#[tokio::test]
async fn the_dedup_window_ends() {
    let sim = sim_with(NimOptions {
        dedup_window: Duration::from_millis(50),
        ..NimOptions::default()
    })
    .await;
    let body = json!({ "message": { "message_type": 0, "text": "x", "message_client_id": "c" } });
    v2_send(&sim, "bot|1|alice", body.clone()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    v2_send(&sim, "bot|1|alice", body).await;
    assert_eq!(sim.sent().len(), 2);
}

#[tokio::test]
async fn server_ids_can_be_strings() {
    let sim = sim_with(NimOptions {
        server_id_as_string: true,
        ..NimOptions::default()
    })
    .await;
    let answer = v2_send(&sim, "bot|1|alice", text("hi")).await;
    let id = answer["data"]["message_server_id"]
        .as_str()
        .expect("string id");
    assert_eq!(id.parse::<u64>().unwrap(), sim.sent()[0].server_id);
}

#[tokio::test]
async fn a_signed_v1_text_is_stored_and_answered() {
    let sim = sim().await;
    let answer = v1_send(
        &sim,
        &[
            ("from", "bot"),
            ("ope", "0"),
            ("to", "alice"),
            ("type", "0"),
            ("body", r#"{"msg":"hello v1"}"#),
        ],
    )
    .await;
    assert_eq!(answer["code"], 200);
    let msgid = answer["data"]["msgid"].as_u64().expect("numeric msgid");
    assert!(answer["data"]["timetag"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(answer["data"]["antispam"], false);
    let s = &sim.sent()[0];
    assert_eq!(s.via, Via::V1);
    assert_eq!(
        (s.sender.as_str(), s.conv_type, s.receiver.as_str()),
        ("bot", ConvType::P2p, "alice")
    );
    assert_eq!(s.text.as_deref(), Some("hello v1"));
    assert_eq!(s.client_id, None);
    assert_eq!(s.server_id, msgid);
    assert_eq!(s.request["ope"], "0");

    sim.add_team("42", &["bot"]);
    v1_send(
        &sim,
        &[
            ("from", "bot"),
            ("ope", "1"),
            ("to", "42"),
            ("type", "1"),
            ("body", r#"{"url":"https://nos.example/a.jpg","w":1,"h":2}"#),
        ],
    )
    .await;
    let s = &sim.sent()[1];
    assert_eq!((s.conv_type, s.message_type), (ConvType::Team, 1));
    assert_eq!(
        s.attachment.as_ref().unwrap()["url"],
        "https://nos.example/a.jpg"
    );
}

#[tokio::test]
async fn v1_rejections_are_414_with_a_desc() {
    let sim = sim().await;
    let good = [
        ("from", "bot"),
        ("ope", "0"),
        ("to", "alice"),
        ("type", "0"),
        ("body", r#"{"msg":"hi"}"#),
    ];
    let with = |key: &str, value: &'static str| -> Vec<(String, String)> {
        good.iter()
            .map(|(k, v)| {
                let v = if *k == key { value } else { v };
                ((*k).to_owned(), v.to_owned())
            })
            .collect()
    };
    let cases = [
        (with("from", "mallory"), "mallory"),
        (with("to", "nobody"), "nobody"),
        (with("ope", "2"), "ope"),
        (with("type", "5"), "type 5"),
        (with("body", "not json"), "body"),
        (with("body", r#"{"text":"hi"}"#), "msg"),
        (with("from", ""), "from"),
    ];
    for (form, needle) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, answer) = v1_send_with(&sim, &form, signed(&sim, now_s())).await;
        assert_eq!(status, 200);
        assert_eq!(answer["code"], 414, "{answer}");
        let desc = answer["desc"].as_str().unwrap();
        assert!(desc.contains(needle), "{desc:?} should mention {needle:?}");
    }

    // JSON instead of a form.
    let mut req = http()
        .post(format!("{}/nimserver/msg/sendMsg.action", sim.base_url()))
        .json(&json!({"from": "bot"}));
    for (n, v) in signed(&sim, now_s()) {
        req = req.header(n, v);
    }
    let answer: Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["code"], 414);
    assert!(answer["desc"].as_str().unwrap().contains("Content-Type"));
    assert!(sim.sent().is_empty());
}

#[tokio::test]
async fn the_account_probe_answers_known_and_unknown_accounts() {
    let sim = sim().await;
    let get = |id: &str| http().get(format!("{}/im/v2/accounts/{id}", sim.base_url()));
    let (status, answer) = call(get("bot"), signed(&sim, now_s())).await;
    assert_eq!(status, 200);
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["data"]["account_id"], "bot");
    assert_eq!(answer["data"]["configuration"]["enabled"], true);
    let (_, answer) = call(get("nobody"), signed(&sim, now_s())).await;
    assert_eq!(answer["code"], 102404);
    let (status, answer) = call(
        http().get(format!("{}/im/v2/nothing", sim.base_url())),
        signed(&sim, now_s()),
    )
    .await;
    assert_eq!((status, answer["code"].as_i64()), (404, Some(404)));
}

async fn upload_with(sim: &NimSim, form: &[(&str, &str)]) -> (u16, Value) {
    let url = format!("{}/nimserver/msg/upload.action", sim.base_url());
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http()
        .post(url)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(body);
    call(req, signed(sim, now_s())).await
}

#[tokio::test]
async fn an_upload_is_stored_and_served_back_unsigned() {
    use base64::Engine as _;
    let sim = sim().await;
    // Bytes whose base64 has `+` and `/`, which the form encoding must carry intact.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let (status, answer) = upload_with(
        &sim,
        &[
            ("content", &content),
            ("type", "png"),
            ("ishttps", "true"),
            ("tag", "bot"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["code"], 200, "{answer}");
    assert!(
        answer.get("data").is_none(),
        "url is at the top level: {answer}"
    );
    let url = answer["url"].as_str().expect("url");
    let uploads = sim.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].url, url);
    assert_eq!(uploads[0].content, bytes);
    assert_eq!(uploads[0].file_type.as_deref(), Some("png"));
    assert!(uploads[0].https);
    assert_eq!(uploads[0].tag.as_deref(), Some("bot"));

    // No signature headers: NOS links are public.
    let served = http().get(url).send().await.unwrap();
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let missing = http()
        .get(format!("{}/nos/0000", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // The uploaded URL is what a media send then carries.
    let sent = v2_send(
        &sim,
        "bot|1|alice",
        json!({ "message": { "message_type": 1, "attachment": { "url": url, "size": 3000 } } }),
    )
    .await;
    assert_eq!(sent["data"]["attachment"]["url"], url);
}

#[tokio::test]
async fn upload_rejections_are_414_naming_the_field() {
    let sim = sim().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("type", "png")], "content"),
        (&[("content", "not base64!")], "base64"),
        (&[("content", "aGk="), ("ishttps", "yes")], "ishttps"),
        (&[("content", "aGk="), ("expireSec", "60")], "expireSec"),
        (&[("content", "aGk="), ("tag", &"t".repeat(33))], "tag"),
    ];
    for (form, needle) in cases {
        let (status, answer) = upload_with(&sim, form).await;
        assert_eq!(status, 200);
        assert_eq!(answer["code"], 414, "{answer}");
        let desc = answer["desc"].as_str().unwrap();
        assert!(desc.contains(needle), "{desc:?} should mention {needle:?}");
    }
    assert!(sim.uploads().is_empty());
    // Unsigned uploads are refused like every other call.
    let answer: Value = http()
        .post(format!("{}/nimserver/msg/upload.action", sim.base_url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("content=aGk%3D")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["code"], 414);
    assert!(sim.uploads().is_empty());
}

// ---- signatures --------------------------------------------------------------------------------

#[tokio::test]
async fn bad_signatures_get_414_naming_the_header() {
    let sim = sim().await;
    let now = now_s();
    let mut bad_checksum = signed(&sim, now);
    bad_checksum[1].1 = rest_checksum("wrong-secret", &bad_checksum[2].1, &now.to_string());
    let mut upper_checksum = signed(&sim, now);
    upper_checksum[1].1 = upper_checksum[1].1.to_ascii_uppercase();
    let stale = signed(&sim, now - 600);
    let future = signed(&sim, now + 600);
    let unknown_key = signed_with("not-the-app-key", sim.app_secret(), now);
    let missing_nonce: Vec<_> = signed(&sim, now)
        .into_iter()
        .filter(|(n, _)| *n != "Nonce")
        .collect();
    let millis = signed(&sim, now * 1000);
    let cases = [
        (bad_checksum, "CheckSum"),
        (upper_checksum, "CheckSum"),
        (stale, "CurTime"),
        (future, "CurTime"),
        (millis, "CurTime"),
        (unknown_key, "AppKey"),
        (missing_nonce, "Nonce"),
        (Vec::new(), "AppKey"),
    ];
    for (headers, needle) in cases {
        let (status, answer) = v2_send_with(&sim, "bot|1|alice", text("hi"), headers.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(answer["code"], 414, "{answer}");
        for key in ["desc", "msg"] {
            let t = answer[key].as_str().unwrap();
            assert!(t.contains(needle), "V2 {key} {t:?} should name {needle}");
        }
        let form = [
            ("from", "bot"),
            ("ope", "0"),
            ("to", "alice"),
            ("type", "0"),
            ("body", r#"{"msg":"hi"}"#),
        ];
        let (status, answer) = v1_send_with(&sim, &form, headers).await;
        assert_eq!(status, 200);
        assert_eq!(answer["code"], 414);
        let desc = answer["desc"].as_str().unwrap();
        assert!(
            desc.contains(needle),
            "V1 desc {desc:?} should name {needle}"
        );
    }
    assert!(sim.sent().is_empty());
    assert!(sim.calls().iter().all(|c| c.code == Some(414)));
}

#[tokio::test]
async fn given_keys_are_used_and_a_clock_within_five_minutes_passes() {
    let sim = sim_with(NimOptions {
        app_key: Some("my-app-key".to_owned()),
        app_secret: Some("SECRET".to_owned()),
        ..NimOptions::default()
    })
    .await;
    assert_eq!((sim.app_key(), sim.app_secret()), ("my-app-key", "SECRET"));
    v2_send_with(&sim, "bot|1|alice", text("a"), signed(&sim, now_s() - 240)).await;
    v2_send_with(&sim, "bot|1|alice", text("b"), signed(&sim, now_s() + 240)).await;
    assert_eq!(sim.sent().len(), 2);
    assert!(!format!("{sim:?}").contains("SECRET"));
    let opts = NimOptions {
        app_secret: Some("SECRET".to_owned()),
        ..NimOptions::default()
    };
    assert!(!format!("{opts:?}").contains("SECRET"));
}

// ---- faults ------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_and_server_error_faults_run_out() {
    let sim = sim().await;
    sim.set_fault(NimFault::RateLimit { calls: 2 });
    // A call failing authentication does not use the fault up.
    let (_, answer) = v2_send_with(&sim, "bot|1|alice", text("x"), Vec::new()).await;
    assert_eq!(answer["code"], 414);
    for _ in 0..2 {
        let (status, answer) =
            v2_send_with(&sim, "bot|1|alice", text("x"), signed(&sim, now_s())).await;
        assert_eq!((status, answer["code"].as_i64()), (200, Some(416)));
    }
    v2_send(&sim, "bot|1|alice", text("x")).await;
    assert_eq!(sim.sent().len(), 1);

    sim.set_fault(NimFault::ServerError { calls: 1 });
    let form = [
        ("from", "bot"),
        ("ope", "0"),
        ("to", "alice"),
        ("type", "0"),
        ("body", r#"{"msg":"hi"}"#),
    ];
    let (status, answer) = v1_send_with(&sim, &form, signed(&sim, now_s())).await;
    assert_eq!((status, answer["code"].as_i64()), (500, Some(500)));
    v1_send(&sim, &form).await;
    assert_eq!(sim.sent().len(), 2);

    sim.set_fault(NimFault::RateLimit { calls: 5 });
    sim.clear_fault();
    v1_send(&sim, &form).await;
}

#[tokio::test]
async fn a_hang_fault_delays_the_answer() {
    let sim = sim().await;
    sim.set_fault(NimFault::Hang {
        calls: 1,
        delay: Duration::from_millis(400),
    });
    let started = Instant::now();
    let answer = v2_send(&sim, "bot|1|alice", text("slow")).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(answer["code"], 200);

    // A client with a short timeout gives up; the server still stores the message, and the
    // client's resend under the same client id gets the first answer without a second copy.
    sim.set_fault(NimFault::Hang {
        calls: 1,
        delay: Duration::from_millis(300),
    });
    let lost = json!({ "message": { "message_type": 0, "text": "lost answer", "message_client_id": "lost-1" } });
    let mut req = http()
        .post(format!(
            "{}/im/v2/conversations/bot%7C1%7Calice/messages",
            sim.base_url()
        ))
        .timeout(Duration::from_millis(100))
        .json(&lost);
    for (n, v) in signed(&sim, now_s()) {
        req = req.header(n, v);
    }
    assert!(req.send().await.unwrap_err().is_timeout());
    let sent = sim.wait_sent(2, T).await;
    assert_eq!(sent[1].text.as_deref(), Some("lost answer"));
    let resent = v2_send(&sim, "bot|1|alice", lost).await;
    assert_eq!(
        resent["data"]["message_server_id"].as_u64(),
        Some(sent[1].server_id)
    );
    assert_eq!(sim.sent().len(), 2);
}

// ---- webhook -----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing header {name}"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// What a receiver must check: MD5 of the raw body, then the CheckSum over the header MD5.
    fn verify(&self, secret: &str) -> (bool, bool) {
        let md5_ok = md5_hex(&self.body) == self.header("MD5");
        let checksum_ok = webhook_checksum(secret, self.header("MD5"), self.header("CurTime"))
            == self.header("CheckSum");
        (md5_ok, checksum_ok)
    }

    fn age_ms(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        i64::try_from(now).unwrap() - self.header("CurTime").parse::<i64>().unwrap()
    }
}

/// A webhook receiver that records every request and answers `status`.
#[derive(Debug, Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            got: Arc::new(Mutex::new(Vec::new())),
            status: Arc::new(AtomicU16::new(200)),
            url: format!("http://{}/nim/webhook", listener.local_addr().unwrap()),
        };
        let app = Router::new().fallback(receive).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push(Received { headers, body });
    StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap()
}

async fn webhook_sim() -> (NimSim, Receiver) {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    sim.set_webhook(&receiver.url);
    (sim, receiver)
}

#[tokio::test]
async fn a_text_push_is_signed_as_the_spec_says() {
    let (sim, receiver) = webhook_sim().await;
    let pushed = sim.push_text("alice", "bot", "hi there").await.unwrap();
    assert_eq!(pushed.status, 200);
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.verify(sim.app_secret()), (true, true));
    assert_eq!(r.header("AppKey"), sim.app_key());
    assert!(r.header("content-type").starts_with("application/json"));
    // CurTime is in milliseconds.
    assert!((0..5_000).contains(&r.age_ms()), "age {} ms", r.age_ms());
    assert_eq!(r.body, pushed.body.as_bytes());

    let body = r.json();
    for (key, value) in body.as_object().unwrap() {
        assert!(value.is_string(), "{key} is not a string: {value}");
    }
    assert_eq!(body["eventType"], "1");
    assert_eq!(body["convType"], "PERSON");
    assert_eq!(body["fromAccount"], "alice");
    assert_eq!(body["to"], "bot");
    assert_eq!(body["msgType"], "TEXT");
    assert_eq!(body["body"], "hi there");
    assert_eq!(body["resendFlag"], "0");
    for key in ["fromClientType", "fromDeviceId", "fromNick", "msgidClient"] {
        assert!(!body[key].as_str().unwrap().is_empty(), "{key}");
    }
    body["msgidServer"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .expect("numeric msgidServer");
    assert!(
        body["msgTimestamp"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_700_000_000_000
    );
    assert_eq!(pushed.msgid_server.as_deref(), body["msgidServer"].as_str());
    assert_eq!(pushed.msgid_client.as_deref(), body["msgidClient"].as_str());
    assert_eq!(sim.pushes(), vec![pushed]);
}

#[tokio::test]
async fn media_and_team_pushes_carry_attach_and_mentions() {
    let (sim, receiver) = webhook_sim().await;
    sim.push_image(
        "alice",
        "bot",
        "https://nos.example/x/cat.png?v=1",
        640,
        480,
    )
    .await
    .unwrap();
    sim.push_file(
        "alice",
        "bot",
        "https://nos.example/report",
        "report.PDF",
        1234,
    )
    .await
    .unwrap();
    sim.add_team("42", &["alice", "bot"]);
    sim.push_team_text("alice", "42", "@bot hello", &["bot"])
        .await
        .unwrap();
    sim.push_team_text("alice", "77", "no mention", &[])
        .await
        .unwrap();

    let got = receiver.got();
    assert_eq!(got.len(), 4);
    for r in &got {
        assert_eq!(r.verify(sim.app_secret()), (true, true));
    }
    let image = got[0].json();
    assert_eq!(image["msgType"], "PICTURE");
    let attach: Value = serde_json::from_str(image["attach"].as_str().unwrap()).unwrap();
    assert_eq!(attach["url"], "https://nos.example/x/cat.png?v=1");
    assert_eq!(
        (attach["w"].as_u64(), attach["h"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(
        (attach["name"].as_str(), attach["ext"].as_str()),
        (Some("cat.png"), Some("png"))
    );

    let file = got[1].json();
    assert_eq!(file["msgType"], "FILE");
    let attach: Value = serde_json::from_str(file["attach"].as_str().unwrap()).unwrap();
    assert_eq!(attach["name"], "report.PDF");
    assert_eq!(attach["size"], 1234);
    assert_eq!(attach["ext"], "pdf");

    let team = got[2].json();
    assert_eq!(team["convType"], "TEAM");
    assert_eq!(team["to"], "42");
    assert_eq!(team["body"], "@bot hello");
    assert_eq!(team["tMembers"], "[alice, bot]");
    let ext: Value = serde_json::from_str(team["ext"].as_str().unwrap()).unwrap();
    assert!(ext["yxAitMsg"]["bot"].is_object());

    let plain = got[3].json();
    assert!(plain.get("ext").is_none());
    assert!(plain.get("tMembers").is_none());
}

#[tokio::test]
async fn forged_tampered_and_stale_pushes_are_really_bad() {
    let (sim, receiver) = webhook_sim().await;
    let secret = sim.app_secret().to_owned();
    sim.push_forged("alice", "bot", "forged").await.unwrap();
    sim.push_tampered("alice", "bot", "tampered").await.unwrap();
    sim.push_stale("alice", "bot", "stale").await.unwrap();
    let got = receiver.got();

    // Forged: the body matches its MD5, the CheckSum was not made with the app secret.
    assert_eq!(got[0].verify(&secret), (true, false));
    // Tampered: the CheckSum covers the announced MD5, but the body is not what was hashed.
    assert_eq!(got[1].verify(&secret), (false, true));
    assert_eq!(got[1].json()["body"], "tampered (tampered)");
    // Stale: everything verifies, but CurTime is ten minutes old.
    assert_eq!(got[2].verify(&secret), (true, true));
    let age = got[2].age_ms();
    assert!((600_000..605_000).contains(&age), "age {age} ms");
}

#[tokio::test]
async fn redeliver_posts_the_identical_request_and_statuses_come_back() {
    let (sim, receiver) = webhook_sim().await;
    receiver.status.store(503, Ordering::SeqCst);
    let first = sim.push_text("alice", "bot", "retry me").await.unwrap();
    assert_eq!(first.status, 503);
    receiver.status.store(200, Ordering::SeqCst);
    let again = sim.redeliver(&first).await.unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers, first.headers);
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    for name in ["AppKey", "CurTime", "MD5", "CheckSum"] {
        assert_eq!(got[0].header(name), got[1].header(name));
    }
    assert_eq!(sim.pushes().len(), 2);
}

#[tokio::test]
async fn raw_and_signed_pushes() {
    let (sim, receiver) = webhook_sim().await;
    let body = r#"{"eventType":"1","convType":"PERSON","fromAccount":"alice","to":"bot","msgType":"TEXT","body":"hi","msgidClient":"c1","msgidServer":"123","msgTimestamp":"1700000000000"}"#;
    let pushed = sim
        .push_raw(
            body,
            &[
                ("CurTime", "1700000000000"),
                ("MD5", "c9fb19a95a2050842a21dce2d7e5fcfd"),
                ("CheckSum", "7f12d0272b92fb958df2f858d4aa493fe24f3ae2"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(pushed.msgid_server.as_deref(), Some("123"));
    let raw = &receiver.got()[0];
    assert_eq!(raw.body, body.as_bytes());
    assert_eq!(raw.verify("SECRET"), (true, true));
    assert!(raw.headers.get("AppKey").is_none());
    assert_eq!(raw.header("content-type"), "application/json");

    sim.push_signed(body).await.unwrap();
    let signed = &receiver.got()[1];
    assert_eq!(signed.body, body.as_bytes());
    assert_eq!(signed.verify(sim.app_secret()), (true, true));
    assert!((0..5_000).contains(&signed.age_ms()));
}

#[tokio::test]
async fn pushes_without_a_reachable_webhook_fail_cleanly() {
    let sim = sim().await;
    assert_eq!(
        sim.push_text("alice", "bot", "x").await.unwrap_err(),
        PushError::NoWebhook
    );
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    sim.set_webhook(&format!("http://127.0.0.1:{port}/hook"));
    match sim.push_text("alice", "bot", "x").await {
        Err(PushError::Http { url, .. }) => assert!(url.contains(&port.to_string())),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert!(sim.pushes().is_empty());
}

/// `POST /_admin/push` with `body`: the status and the answer.
async fn admin_push(sim: &NimSim, body: Value) -> (StatusCode, Value) {
    let resp = http()
        .post(format!("{}/_admin/push", sim.base_url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test]
async fn the_admin_push_signs_as_netease_does_and_sent_lists_the_sends() {
    let (sim, receiver) = webhook_sim().await;
    sim.add_team("t1", &["alice", "bot"]);
    // No signature headers: the admin calls are the simulator's own, a person plays a user.
    let p2p = json!({"from": "alice", "to": "bot", "text": "hi from curl"});
    let (status, answer) = admin_push(&sim, p2p).await;
    assert_eq!((status, &answer["status"]), (StatusCode::OK, &json!(200)));
    let team = json!({"from": "alice", "tid": "t1", "text": "@bot hi", "at": ["bot"]});
    assert_eq!(admin_push(&sim, team).await.1["status"], 200);
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.verify(sim.app_secret()), (true, true));
    }
    assert_eq!(got[0].json()["body"], "hi from curl");
    assert_eq!(answer["body"].as_str().unwrap().as_bytes(), got[0].body);
    assert_eq!(got[1].json()["convType"], "TEAM");
    assert!(got[1].json()["ext"].as_str().unwrap().contains("bot"));

    let to_nobody = json!({"from": "alice", "text": "to nobody"});
    assert_eq!(admin_push(&sim, to_nobody).await.0, StatusCode::BAD_REQUEST);
    let sent = http()
        .get(format!("{}/_admin/sent", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.json::<Value>().await.unwrap(), json!([]));
}
