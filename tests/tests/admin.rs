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

async fn qr_status(sim: &IlinkSim, qrcode: &str) -> Value {
    let url = format!(
        "{}ilink/bot/get_qrcode_status?qrcode={qrcode}",
        sim.base_url()
    );
    http().get(url).send().await.unwrap().json().await.unwrap()
}

async fn new_qrcode(sim: &IlinkSim) -> String {
    let url = format!("{}ilink/bot/get_bot_qrcode?bot_type=3", sim.base_url());
    let resp: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    resp["qrcode"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admin_api_drives_qr_login() {
    let sim = IlinkSim::start(imsim::ilink::IlinkOptions {
        qr_hold: Duration::from_millis(200),
        ..fast()
    })
    .await
    .unwrap();
    let (status, err) = admin(&sim, "qr/scan", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");

    // Manual (default): scan and confirm the latest qrcode.
    let q = new_qrcode(&sim).await;
    let (status, session) = admin(&sim, "qr/scan", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (session["qrcode"].as_str(), session["status"].as_str()),
        (Some(q.as_str()), Some("scaned"))
    );
    assert_eq!(qr_status(&sim, &q).await["status"], "scaned");
    let owner = "o9cq80AbCdEfGhIjKlMnOpQrStUv@im.wechat";
    let (_, set) = admin(
        &sim,
        "qr/script",
        Some(json!({ "script": "manual", "owner": owner })),
    )
    .await;
    assert_eq!(set["owner"], owner);
    let (status, bot) = admin(&sim, "qr/confirm", Some(json!({ "qrcode": q }))).await;
    assert_eq!(status, StatusCode::OK, "{bot}");
    assert_eq!(bot["owner"], owner);
    let confirmed = qr_status(&sim, &q).await;
    assert_eq!(confirmed["bot_token"], bot["token"]);
    let (status, err) = admin(&sim, "qr/expire", Some(json!({ "qrcode": q }))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, _) = admin(&sim, "qr/scan", Some(json!({ "qrcode": "nope" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Scripts by name.
    let (status, err) = admin(&sim, "qr/script", Some(json!({ "script": "verify_code" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`code`"));
    let (status, err) = admin(&sim, "qr/script", Some(json!({ "script": "dance" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`script`"));
    admin(
        &sim,
        "qr/script",
        Some(json!({ "script": "verify_code", "code": "77", "max_wrong": 1, "owner": null })),
    )
    .await;
    let q2 = new_qrcode(&sim).await;
    assert_eq!(qr_status(&sim, &q2).await["status"], "wait");
    assert_eq!(qr_status(&sim, &q2).await["status"], "need_verifycode");
    let url = format!(
        "{}ilink/bot/get_qrcode_status?qrcode={q2}&verify_code=1",
        sim.base_url()
    );
    let blocked: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(blocked["status"], "verify_code_blocked");

    let q3 = new_qrcode(&sim).await;
    let (_, expired) = admin(&sim, "qr/expire", Some(json!({}))).await;
    assert_eq!(expired["qrcode"], q3.as_str());
    assert_eq!(qr_status(&sim, &q3).await["status"], "expired");

    let (_, sessions) = admin(&sim, "qr/sessions", None).await;
    let statuses: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["confirmed", "verify_code_blocked", "expired"]);
    assert_eq!(sessions[1]["script"], "verify_code");
    let (_, state) = admin(&sim, "state", None).await;
    assert_eq!(state["qr"]["sessions"], 3);
    assert_eq!(state["qr"]["redirect_host"], sim.qr_redirect_host());
}

#[tokio::test]
async fn admin_api_drives_the_cdn() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    let (sim, bot) = sim_with_bot(fast()).await;
    let content = B64.encode(b"%PDF admin file");
    let (status, injected) = admin(
        &sim,
        "media",
        Some(json!({ "kind": "file", "file_name": "a.pdf", "content_base64": content, "key": "base64_raw", "caption": "see", "full_url": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{injected}");
    let media = &injected["media"];
    assert!(
        media["download_url"]
            .as_str()
            .unwrap()
            .starts_with(&sim.cdn_base_url())
    );
    let resp = getupdates(&sim, &bot.token, "").await;
    let items = resp["msgs"][0]["item_list"].as_array().unwrap();
    assert_eq!(items[0]["text_item"]["text"], "see");
    assert_eq!(items[1]["file_item"]["file_name"], "a.pdf");
    assert!(items[1]["file_item"]["media"].get("full_url").is_none());
    assert_eq!(
        items[1]["file_item"]["media"]["encrypt_query_param"],
        media["encrypt_query_param"]
    );

    let (status, voice) = admin(
        &sim,
        "media",
        Some(
            json!({ "kind": "voice", "content_base64": "AAAA", "text": "转写", "playtime": 2500 }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{voice}");
    for (body, needle) in [
        (json!({ "kind": "file" }), "`content_base64`"),
        (
            json!({ "kind": "file", "content_base64": "!!" }),
            "`content_base64`",
        ),
        (json!({ "kind": "gif", "content_base64": "" }), "`kind`"),
        (
            json!({ "kind": "file", "content_base64": "", "key": "rot13" }),
            "`key`",
        ),
        (
            json!({ "kind": "file", "content_base64": "", "key": "image_aeskey_hex" }),
            "images only",
        ),
    ] {
        let (status, err) = admin(&sim, "media", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            err["error"].as_str().unwrap().contains(needle),
            "{body}: {err}"
        );
    }

    // Options and faults.
    let (_, opts) = admin(
        &sim,
        "cdn/options",
        Some(json!({ "upload_full_url": false })),
    )
    .await;
    assert_eq!(opts["upload_full_url"], false);
    let (status, _) = admin(
        &sim,
        "cdn/fault",
        Some(json!({ "fault": "upload_4xx", "status": 403, "message": "denied" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = admin(
        &sim,
        "cdn/fault",
        Some(json!({ "fault": "upload_5xx", "status": 404 })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("`status`"));
    let (status, _) = admin(&sim, "cdn/fault", Some(json!({ "fault": "flood" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, state) = admin(&sim, "state", None).await;
    assert_eq!(state["cdn"]["pending_faults"].as_array().unwrap().len(), 1);
    assert_eq!(state["cdn"]["upload_full_url"], false);

    // An upload through getuploadurl; the first attempt eats the queued 403.
    let plain = b"uploaded by a client";
    let key = [7u8; 16];
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        json!({
            "filekey": "00112233445566778899aabbccddeeff", "media_type": 1, "to_user_id": bot.owner,
            "rawsize": plain.len(), "rawfilemd5": "ffffffffffffffffffffffffffffffff",
            "filesize": 32, "no_need_thumb": true, "aeskey": hex::encode(key), "base_info": base_info(),
        }),
    )
    .await;
    assert!(resp.get("upload_full_url").is_none());
    let param: String = resp["upload_param"]
        .as_str()
        .unwrap()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let url = format!(
        "{}/upload?encrypted_query_param={param}&filekey=00112233445566778899aabbccddeeff",
        sim.cdn_base_url()
    );
    use aes::cipher::{BlockEncryptMut as _, KeyInit as _, block_padding::Pkcs7};
    let cipher =
        ecb::Encryptor::<aes::Aes128>::new(&key.into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
    let denied = http().post(&url).body(cipher.clone()).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(denied.headers()["x-error-message"], "denied");
    let md5_wrong = http().post(&url).body(cipher).send().await.unwrap();
    assert_eq!(md5_wrong.status(), StatusCode::BAD_REQUEST);
    let (_, uploads) = admin(&sim, "cdn/uploads", None).await;
    assert_eq!(uploads.as_array().unwrap().len(), 1);
    assert_eq!(uploads[0]["plaintext_base64"], B64.encode(plain));
    assert_eq!(uploads[0]["md5_ok"], false);
    assert_eq!(uploads[0]["accepted"], false);
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
        let cdn = ready["cdn"].as_str().unwrap();
        assert!(cdn.starts_with("http://127.0.0.1:") && cdn.ends_with("/c2c"));
        assert!(
            ready["qr_redirect"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        let download = http()
            .get(format!("{cdn}/download?encrypted_query_param=x"))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::NOT_FOUND);
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
