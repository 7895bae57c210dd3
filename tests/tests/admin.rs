//! The `/_admin/` HTTP API and the `imsim` binary.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use imsim::ilink::IlinkSim;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn admin(sim: &IlinkSim, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let url = format!("{}_admin/{path}", sim.base_url());
    let req = match body {
        Some(body) => http().post(url).body(body.to_string()),
        None => http().get(url),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn admin_api_mirrors_the_rust_api() {
    let sim = IlinkSim::start(fast()).await.unwrap();
    let (status, err) = admin(&sim, "inbound", Some(json!({ "text": "hi" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");

    let (_, bot) = admin(&sim, "bots", Some(json!({}))).await;
    let bot_id = bot["bot_id"].as_str().unwrap().to_owned();
    let token = bot["token"].as_str().unwrap().to_owned();
    let owner = bot["owner"].as_str().unwrap().to_owned();
    assert!(bot_id.ends_with("@im.bot") && token.starts_with(&format!("{bot_id}:")));
    assert!(owner.ends_with("@im.wechat"));
    let (_, second) = admin(
        &sim,
        "bots",
        Some(json!({ "bot_id": "0123456789ab@im.bot", "token": "t2" })),
    )
    .await;
    assert_eq!(second["token"], "t2");

    // bot_id and from default to the first bot and its owner.
    let (status, injected) = admin(&sim, "inbound", Some(json!({ "text": "hello" }))).await;
    assert_eq!(status, StatusCode::OK);
    let message_id = injected["message_id"].as_u64().unwrap();
    let resp = getupdates(&sim, &token, "").await;
    assert_eq!(resp["msgs"][0]["from_user_id"], owner);
    assert_eq!(resp["msgs"][0]["message_id"].as_u64(), Some(message_id));
    let next = resp["get_updates_buf"].as_str().unwrap().to_owned();

    let (_, raw) = admin(
        &sim,
        "inbound",
        Some(json!({ "bot_id": "0123456789ab@im.bot", "msg": { "item_list": [] } })),
    )
    .await;
    assert_eq!(raw["seq"], 1);

    let (status, _) = admin(
        &sim,
        "redeliver",
        Some(json!({ "message_id": message_id.to_string() })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin(&sim, "redeliver", Some(json!({ "message_id": 1 }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        getupdates(&sim, &token, &next).await["msgs"][0]["message_id"].as_u64(),
        Some(message_id)
    );

    for (fault, expect_status) in [
        (
            json!({ "fault": "http_status", "status": 503 }),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            json!({ "fault": "expired", "variant": "ret" }),
            StatusCode::OK,
        ),
        (json!({ "fault": "delay", "ms": 10 }), StatusCode::OK),
    ] {
        let (status, queued) = admin(&sim, "fault", Some(fault)).await;
        assert_eq!(status, StatusCode::OK, "{queued}");
        let (status, _) = call(
            &sim,
            &token,
            "getupdates",
            json!({ "get_updates_buf": next }),
        )
        .await;
        assert_eq!(status, expect_status);
    }
    let (status, err) = admin(&sim, "fault", Some(json!({ "fault": "meteor" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`fault`"));
    let (status, err) = admin(&sim, "fault", Some(json!({ "fault": "delay" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`ms`"));

    let token_now = injected["context_token"].as_str().unwrap();
    send_text(
        &sim,
        &imsim::ilink::Bot {
            bot_id: bot_id.clone(),
            token: token.clone(),
            owner: owner.clone(),
        },
        &owner,
        Some(token_now),
        "reply",
    )
    .await;
    let (_, sent) = admin(
        &sim,
        &format!("sent?bot_id={}", bot_id.replace('@', "%40")),
        None,
    )
    .await;
    assert_eq!(sent[0]["text"], "reply");
    assert_eq!(sent[0]["accepted"], true);
    let (_, sent_default) = admin(&sim, "sent", None).await;
    assert_eq!(sent_default, sent);

    let (_, state) = admin(&sim, "state", None).await;
    assert_eq!(state["bots"][0]["users"][0]["user_id"], owner);
    assert_eq!(state["bots"][0]["users"][0]["sends_since_inbound"], 1);
    assert_eq!(state["bots"][1]["bot_id"], "0123456789ab@im.bot");

    let (_, expired) = admin(&sim, "expire", Some(json!({}))).await;
    assert_eq!(expired["bot_id"], bot_id);
    assert_eq!(getupdates(&sim, &token, "").await["errcode"], -14);

    let (_, requests) = admin(&sim, "requests", None).await;
    let requests = requests.as_array().unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r["path"].as_str().unwrap().starts_with("/ilink/bot/"))
    );
    assert_eq!(requests.len(), sim.requests().len());

    let (status, err) = admin(&sim, "inbound", Some(json!({ "text": 5 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`text`"));
}

#[cfg(unix)]
#[test]
fn binary_prints_endpoints_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imsim"))
        .args(["--bots", "2", "--hold-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn imsim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ilink = ready["ilink"].as_str().unwrap();
        assert!(ilink.starts_with("http://127.0.0.1:") && ilink.ends_with('/'));
        assert!(ready["model"].as_str().unwrap().ends_with("/v1"));
        assert_eq!(ready["bots"].as_array().unwrap().len(), 2);
        let token = ready["bots"][1]["token"].as_str().unwrap();
        let resp = official(http().post(format!("{ilink}ilink/bot/getupdates")), token)
            .body(json!({ "get_updates_buf": "" }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json::<Value>().await.unwrap()["ret"], 0);
        let models = http()
            .get(format!("{}/models", ready["model"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(models.status(), StatusCode::OK);
    });

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("imsim did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
