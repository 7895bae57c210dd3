//! QR login over real loopback HTTP: every script, the redirect host, verify codes, re-login.

mod common;

use std::time::{Duration, Instant};

use common::*;
use imsim::ilink::{IlinkOptions, IlinkSim, QrScript, QrStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn opts() -> IlinkOptions {
    IlinkOptions {
        qr_hold: Duration::from_millis(300),
        ..fast()
    }
}

async fn sim() -> IlinkSim {
    IlinkSim::start(opts()).await.expect("start sim")
}

/// `POST get_bot_qrcode?bot_type=3` exactly as the official client sends it (no Authorization).
async fn fetch_qr(sim: &IlinkSim, tokens: &[&str]) -> Value {
    let resp = http()
        .post(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .header("Content-Type", "application/json")
        .header("AuthorizationType", "ilink_bot_token")
        .header("X-WECHAT-UIN", "MzczNTkyODU1OQ==")
        .header("iLink-App-Id", "bot")
        .header("iLink-App-ClientVersion", "132105")
        .body(json!({ "local_token_list": tokens }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

fn qrcode(resp: &Value) -> String {
    resp["qrcode"].as_str().expect("qrcode").to_owned()
}

/// `GET get_qrcode_status` at `base` (with trailing slash), with the three common headers only.
async fn poll_at(base: &str, qrcode: &str, verify_code: Option<&str>) -> Value {
    let mut url = format!("{base}ilink/bot/get_qrcode_status?qrcode={qrcode}");
    if let Some(code) = verify_code {
        url.push_str(&format!("&verify_code={code}"));
    }
    let resp = http()
        .get(url)
        .header("iLink-App-Id", "bot")
        .header("iLink-App-ClientVersion", "132105")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn poll(sim: &IlinkSim, qrcode: &str, verify_code: Option<&str>) -> Value {
    poll_at(&sim.base_url(), qrcode, verify_code).await
}

async fn statuses(sim: &IlinkSim, qrcode: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            poll(sim, qrcode, None).await["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    out
}

/// What the official client's login loop (spec §5) ends with.
#[derive(Debug)]
enum LoginEnd {
    Confirmed(Value),
    AlreadyBound,
    GaveUp(&'static str),
}

/// The official login loop of spec §5, minus the 1 s sleeps: at most 3 QR codes, redirect host
/// switch, verify codes taken from `codes`.
async fn official_login(sim: &IlinkSim, codes: &[&str]) -> LoginEnd {
    let mut codes = codes.iter();
    let mut qr = qrcode(&fetch_qr(sim, &[]).await);
    let mut issued = 1;
    let mut base = sim.base_url();
    let mut pending: Option<String> = None;
    for _ in 0..50 {
        let resp = poll_at(&base, &qr, pending.as_deref()).await;
        match resp["status"].as_str().unwrap_or_default() {
            "scaned" => pending = None,
            "need_verifycode" => {
                let Some(code) = codes.next() else {
                    return LoginEnd::GaveUp("no more codes to type");
                };
                pending = Some((*code).to_owned());
            }
            "expired" | "verify_code_blocked" => {
                pending = None;
                if issued == 3 {
                    return LoginEnd::GaveUp("QR code expired too often");
                }
                qr = qrcode(&fetch_qr(sim, &[]).await);
                issued += 1;
                base = sim.base_url();
            }
            "scaned_but_redirect" => {
                if let Some(host) = resp["redirect_host"].as_str() {
                    base = format!("http://{host}/");
                }
            }
            "binded_redirect" => return LoginEnd::AlreadyBound,
            "confirmed" => return LoginEnd::Confirmed(resp),
            _ => {}
        }
    }
    LoginEnd::GaveUp("deadline")
}

fn confirmed(end: LoginEnd) -> Value {
    match end {
        LoginEnd::Confirmed(resp) => resp,
        other => panic!("login did not confirm: {other:?}"),
    }
}

/// A bot call that answers at once: `ret` 0 with a live token, -14 with a revoked one.
async fn getconfig(sim: &IlinkSim, token: &str) -> Value {
    let body = json!({ "ilink_user_id": "o9cq80AbCdEfGhIjKlMnOpQrStUv@im.wechat", "base_info": base_info() });
    call_json(sim, token, "getconfig", body).await
}

fn session_statuses(sim: &IlinkSim) -> Vec<QrStatus> {
    sim.qr_sessions().iter().map(|s| s.status).collect()
}

#[tokio::test]
async fn qrcode_is_issued_by_post_and_legacy_get() {
    let sim = sim().await;
    let resp = fetch_qr(&sim, &[]).await;
    let q = qrcode(&resp);
    assert_eq!(resp["ret"], 0);
    assert!(
        q.len() == 32 && q.bytes().all(|b| b.is_ascii_hexdigit()),
        "{q}"
    );
    assert_eq!(
        resp["qrcode_img_content"],
        format!("http://{}/q/x?qrcode={q}&bot_type=3", sim.addr())
    );

    // The QR content is a URL (served, with a hint for a person).
    let page = http()
        .get(resp["qrcode_img_content"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(&q));

    // No body at all is fine too, and so is the legacy GET.
    let no_body = official_headers_post(&sim, "ilink/bot/get_bot_qrcode?bot_type=3", "").await;
    assert_eq!(no_body.0, StatusCode::OK, "{}", no_body.1);
    let legacy = http()
        .get(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), StatusCode::OK);
    let legacy: Value = legacy.json().await.unwrap();
    assert_ne!(qrcode(&legacy), q);

    let sessions = sim.qr_sessions();
    let methods: Vec<&str> = sessions.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(
        methods,
        ["POST", "POST", "GET"],
        "the page visit issues nothing"
    );
    assert!(sessions.iter().all(|s| s.status == QrStatus::Wait));

    // Recorded with the host they hit, and without Authorization.
    let first = &sim.requests()[0];
    assert_eq!(sim.requests().len(), 4);
    assert_eq!(first.path, "/ilink/bot/get_bot_qrcode");
    assert_eq!(first.host, sim.addr().to_string());
    assert_eq!(first.query.as_deref(), Some("bot_type=3"));
    assert_eq!(first.headers["authorizationtype"], "ilink_bot_token");
    assert!(!first.headers.contains_key("authorization"));
}

/// A POST with the official headers but a custom body; returns status and body.
async fn official_headers_post(sim: &IlinkSim, path: &str, body: &str) -> (StatusCode, String) {
    let resp = http()
        .post(format!("{}{path}", sim.base_url()))
        .header("Content-Type", "application/json")
        .header("AuthorizationType", "ilink_bot_token")
        .header("X-WECHAT-UIN", "MzczNTkyODU1OQ==")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn bad_qr_requests_are_400_naming_the_problem() {
    let sim = sim().await;
    let cases = [
        ("ilink/bot/get_bot_qrcode", "{}", "`bot_type` is required"),
        (
            "ilink/bot/get_bot_qrcode?bot_type=2",
            "{}",
            "`bot_type` must be 3",
        ),
        ("ilink/bot/get_bot_qrcode?bot_type=3", "[]", "JSON object"),
        (
            "ilink/bot/get_bot_qrcode?bot_type=3",
            r#"{"local_token_list": "t"}"#,
            "`local_token_list`",
        ),
        (
            "ilink/bot/get_bot_qrcode?bot_type=3",
            r#"{"local_token_list": ["a", 5]}"#,
            "`local_token_list[1]`",
        ),
    ];
    for (path, body, needle) in cases {
        let (status, text) = official_headers_post(&sim, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(text.contains(needle), "{path} {body}: {text}");
    }
    // Strict headers apply to the POST as to every official POST.
    let resp = http()
        .post(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("AuthorizationType"));

    let resp = http()
        .get(format!("{}ilink/bot/get_qrcode_status", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("`qrcode`"));

    // A qrcode this server never issued polls as expired, so clients fetch a new one.
    let unknown = poll(&sim, &"0".repeat(32), None).await;
    assert_eq!(unknown, json!({ "ret": 0, "status": "expired" }));
    assert!(sim.qr_sessions().is_empty());
}

#[tokio::test]
async fn manual_script_holds_until_the_test_scans_and_confirms() {
    let hold = Duration::from_secs(1);
    let sim = IlinkSim::start(IlinkOptions {
        qr_hold: hold,
        ..opts()
    })
    .await
    .unwrap();
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    assert_eq!(
        sim.wait_qr_sessions(1, Duration::from_secs(1)).await[0].qrcode,
        q
    );

    // Nothing happens: held for qr_hold, then `wait`.
    let started = Instant::now();
    assert_eq!(
        poll(&sim, &q, None).await,
        json!({ "ret": 0, "status": "wait" })
    );
    assert!(started.elapsed() >= hold, "{:?}", started.elapsed());

    // A held poll wakes at once on the scan.
    let sim = std::sync::Arc::new(sim);
    let held = tokio::spawn({
        let (sim, q) = (sim.clone(), q.clone());
        async move {
            let started = Instant::now();
            (poll(&sim, &q, None).await, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.qr_scan(&q);
    let (resp, took) = held.await.unwrap();
    assert_eq!(resp["status"], "scaned");
    assert!(took < hold, "{took:?}");

    sim.set_qr_owner(Some("o9cq80AbCdEfGhIjKlMnOpQrStUv@im.wechat"));
    let bot = sim.qr_confirm(&q);
    let resp = poll(&sim, &q, None).await;
    assert_eq!(
        resp,
        json!({
            "ret": 0,
            "status": "confirmed",
            "bot_token": bot.token,
            "ilink_bot_id": bot.bot_id,
            "baseurl": format!("http://{}", sim.addr()),
            "ilink_user_id": "o9cq80AbCdEfGhIjKlMnOpQrStUv@im.wechat",
        })
    );
    // Used up: the answer repeats, and the test cannot act on it any more.
    assert_eq!(poll(&sim, &q, None).await, resp);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.qr_scan(&q)));
    assert!(panicked.is_err());

    let session = &sim.qr_sessions()[0];
    assert_eq!(session.script, "manual");
    assert_eq!(session.bot.as_ref(), Some(&bot));
    let seen: Vec<QrStatus> = session.polls.iter().map(|p| p.status).collect();
    use QrStatus::*;
    assert_eq!(seen, [Wait, Scaned, Confirmed, Confirmed]);
}

#[tokio::test]
async fn confirmed_bot_works_right_away() {
    let sim = sim().await;
    sim.qr_script(QrScript::Confirm);
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    assert_eq!(statuses(&sim, &q, 2).await, ["wait", "scaned"]);
    let resp = poll(&sim, &q, None).await;
    assert_eq!(resp["status"], "confirmed");

    let bot_id = resp["ilink_bot_id"].as_str().unwrap();
    let token = resp["bot_token"].as_str().unwrap();
    let user = resp["ilink_user_id"].as_str().unwrap();
    let local = bot_id.strip_suffix("@im.bot").unwrap();
    assert!(local.len() == 12 && local.bytes().all(|b| b.is_ascii_hexdigit()));
    let secret = token.strip_prefix(&format!("{bot_id}:")).unwrap();
    assert!(!secret.is_empty() && secret.bytes().all(|b| b.is_ascii_hexdigit()));
    let name = user.strip_suffix("@im.wechat").unwrap();
    assert!(name.starts_with("o9cq80") && name.len() == 28);
    assert!(name.bytes().any(|b| b.is_ascii_uppercase()));
    assert!(name.bytes().any(|b| b.is_ascii_lowercase()));
    assert_eq!(resp["baseurl"], format!("http://{}", sim.addr()));

    // Registered like add_bot: polls and sends work with the new token at once.
    let bot = sim.bots().into_iter().find(|b| b.bot_id == bot_id).unwrap();
    assert_eq!((bot.token.as_str(), bot.owner.as_str()), (token, user));
    let injected = sim.inject_text(bot_id, user, "hi");
    let updates = getupdates(&sim, token, "").await;
    assert_eq!(updates["msgs"][0]["from_user_id"], user);
    let sent = send_text(&sim, &bot, user, Some(&injected.context_token), "hello").await;
    assert_eq!(sent["ret"], 0);
    // A repeated confirmed answer hands out the same credentials.
    assert_eq!(poll(&sim, &q, None).await, resp);
    assert_eq!(sim.bots().len(), 1);
}

#[tokio::test]
async fn expire_then_confirm_needs_a_second_qrcode() {
    let sim = sim().await;
    sim.qr_script(QrScript::ExpireThenConfirm);
    let resp = confirmed(official_login(&sim, &[]).await);
    assert!(resp["bot_token"].is_string());
    assert_eq!(
        session_statuses(&sim),
        [QrStatus::Expired, QrStatus::Confirmed]
    );
    assert_eq!(sim.qr_sessions()[1].script, "expire_then_confirm");
}

#[tokio::test]
async fn always_expire_makes_the_client_give_up_after_three_codes() {
    let sim = sim().await;
    sim.qr_script(QrScript::AlwaysExpire);
    let end = official_login(&sim, &[]).await;
    assert!(
        matches!(end, LoginEnd::GaveUp("QR code expired too often")),
        "{end:?}"
    );
    assert_eq!(session_statuses(&sim), [QrStatus::Expired; 3]);
    assert!(sim.bots().is_empty());
}

#[tokio::test]
async fn verify_code_accepts_the_right_code_after_wrong_ones() {
    let sim = sim().await;
    sim.qr_script(QrScript::VerifyCode {
        code: "4821".into(),
        max_wrong: 3,
    });
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    assert_eq!(statuses(&sim, &q, 2).await, ["wait", "need_verifycode"]);
    // Nobody typed anything yet: held, then asked again.
    let started = Instant::now();
    assert_eq!(poll(&sim, &q, None).await["status"], "need_verifycode");
    assert!(started.elapsed() >= Duration::from_millis(250));

    assert_eq!(
        poll(&sim, &q, Some("1111")).await["status"],
        "need_verifycode"
    );
    assert_eq!(
        poll(&sim, &q, Some("2222")).await["status"],
        "need_verifycode"
    );
    assert_eq!(poll(&sim, &q, Some("4821")).await["status"], "scaned");
    assert_eq!(poll(&sim, &q, None).await["status"], "confirmed");
    let codes: Vec<Option<String>> = sim.qr_sessions()[0]
        .polls
        .iter()
        .map(|p| p.verify_code.clone())
        .collect();
    let typed = [
        None,
        None,
        None,
        Some("1111"),
        Some("2222"),
        Some("4821"),
        None,
    ];
    assert_eq!(codes, typed.map(|c| c.map(str::to_owned)));

    // The same through the official loop.
    let resp = confirmed(official_login(&sim, &["9", "4821"]).await);
    assert_eq!(resp["status"], "confirmed");
}

#[tokio::test]
async fn verify_code_blocks_after_max_wrong_and_the_client_refreshes() {
    let sim = sim().await;
    sim.qr_script(QrScript::VerifyCode {
        code: "4821".into(),
        max_wrong: 2,
    });
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    statuses(&sim, &q, 2).await;
    assert_eq!(poll(&sim, &q, Some("1")).await["status"], "need_verifycode");
    assert_eq!(
        poll(&sim, &q, Some("2")).await["status"],
        "verify_code_blocked"
    );
    // Used up: even the right code is too late.
    assert_eq!(
        poll(&sim, &q, Some("4821")).await["status"],
        "verify_code_blocked"
    );

    // The official client refreshes the QR code; the next one gets fresh tries.
    let resp = confirmed(official_login(&sim, &["1", "2", "4821"]).await);
    assert!(resp["ilink_bot_id"].is_string());
    use QrStatus::*;
    assert_eq!(
        session_statuses(&sim),
        [VerifyCodeBlocked, VerifyCodeBlocked, Confirmed]
    );
}

#[tokio::test]
async fn redirect_moves_the_polls_to_the_second_host() {
    let sim = sim().await;
    sim.qr_script(QrScript::Redirect);
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    assert_eq!(poll(&sim, &q, None).await["status"], "wait");
    let redirect = poll(&sim, &q, None).await;
    assert_eq!(
        redirect,
        json!({ "ret": 0, "status": "scaned_but_redirect", "redirect_host": sim.qr_redirect_host() })
    );
    let host = sim.qr_redirect_host();
    assert!(host.starts_with("127.0.0.1:") && host != sim.addr().to_string());
    // Still at the first host: told again, nothing more.
    assert_eq!(poll(&sim, &q, None).await, redirect);
    let second = format!("http://{host}/");
    let done = poll_at(&second, &q, None).await;
    assert_eq!(done["status"], "confirmed");
    assert_eq!(done["baseurl"], format!("http://{}", sim.addr()));
    assert_eq!(poll(&sim, &q, None).await, redirect);

    // Which host each poll hit, in the session and in requests().
    let hosts: Vec<String> = sim.qr_sessions()[0]
        .polls
        .iter()
        .map(|p| p.host.clone())
        .collect();
    let api = sim.addr().to_string();
    assert_eq!(hosts, [&api, &api, &api, &host, &api].map(String::clone));
    let polled: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/ilink/bot/get_qrcode_status")
        .map(|r| r.host.clone())
        .collect();
    assert_eq!(polled, hosts);

    // The second host serves status polls only.
    let resp = http()
        .get(format!("{second}ilink/bot/get_bot_qrcode?bot_type=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The official loop follows the redirect.
    let resp = confirmed(official_login(&sim, &[]).await);
    assert_eq!(resp["status"], "confirmed");
    let last = sim.qr_sessions().pop().unwrap();
    assert_eq!(last.polls.last().unwrap().host, host);
}

#[tokio::test]
async fn already_bound_by_script_or_by_local_tokens() {
    let sim = sim().await;
    sim.qr_script(QrScript::AlreadyBound);
    assert!(matches!(
        official_login(&sim, &[]).await,
        LoginEnd::AlreadyBound
    ));
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    assert_eq!(
        statuses(&sim, &q, 3).await,
        ["wait", "binded_redirect", "binded_redirect"]
    );

    // A live token of another user's bot does not make the scanner "already bound".
    sim.qr_script(QrScript::Confirm);
    let bot = IlinkSim::new_bot();
    sim.add_bot(bot.clone());
    let q = qrcode(&fetch_qr(&sim, &[&bot.token]).await);
    assert_eq!(statuses(&sim, &q, 1).await, ["wait"]);

    // A live token of the scanner's own bot: binded_redirect on the first poll, whatever the script.
    sim.set_qr_owner(Some(&bot.owner));
    let q = qrcode(&fetch_qr(&sim, &["unknown@im.bot:00", &bot.token]).await);
    assert_eq!(statuses(&sim, &q, 1).await, ["binded_redirect"]);
    let session = sim.qr_sessions().pop().unwrap();
    assert_eq!(session.script, "binded_redirect");
    assert_eq!(
        session.local_tokens,
        ["unknown@im.bot:00", bot.token.as_str()]
    );

    // Unknown or revoked tokens do not count.
    sim.expire_token(&bot.bot_id);
    let q = qrcode(&fetch_qr(&sim, &[&bot.token]).await);
    assert_eq!(statuses(&sim, &q, 3).await, ["wait", "scaned", "confirmed"]);
}

#[tokio::test]
async fn relogin_of_the_same_user_revokes_the_old_bot() {
    // A long getupdates hold, so the held poll below can only end through the revocation.
    let sim = IlinkSim::start(IlinkOptions {
        hold: Duration::from_secs(10),
        ..opts()
    })
    .await
    .unwrap();
    sim.qr_script(QrScript::Confirm);
    let owner = "o9cq80XyZaBcDeFgHiJkLmNoPqRs@im.wechat";
    sim.set_qr_owner(Some(owner));
    let first = confirmed(official_login(&sim, &[]).await);
    let old_token = first["bot_token"].as_str().unwrap().to_owned();
    assert_eq!(getconfig(&sim, &old_token).await["ret"], 0);

    // A held poll of the old bot ends with -14 when the user binds again.
    let sim = std::sync::Arc::new(sim);
    let held = tokio::spawn({
        let (sim, token) = (sim.clone(), old_token.clone());
        async move { getupdates(&sim, &token, "").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = confirmed(official_login(&sim, &[]).await);
    assert_eq!(held.await.unwrap()["errcode"], -14);

    assert_eq!(second["ilink_user_id"], owner);
    assert_ne!(second["ilink_bot_id"], first["ilink_bot_id"]);
    assert_ne!(second["bot_token"], first["bot_token"]);
    let expired = json!({ "errcode": -14, "errmsg": "session timeout" });
    assert_eq!(getconfig(&sim, &old_token).await, expired);
    let new_token = second["bot_token"].as_str().unwrap();
    assert_eq!(getconfig(&sim, new_token).await["ret"], 0);

    // Another user's login leaves this one alone.
    sim.set_qr_owner(None);
    let third = confirmed(official_login(&sim, &[]).await);
    assert_ne!(third["ilink_user_id"], owner);
    assert_eq!(getconfig(&sim, new_token).await["ret"], 0);
    assert_eq!(sim.bots().len(), 3);
}

#[tokio::test]
async fn dropping_the_sim_releases_held_qr_polls() {
    let sim = IlinkSim::start(IlinkOptions {
        qr_hold: Duration::from_secs(30),
        ..fast()
    })
    .await
    .unwrap();
    let q = qrcode(&fetch_qr(&sim, &[]).await);
    let base = sim.base_url();
    let held = tokio::spawn(async move { poll_at(&base, &q, None).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(sim);
    let resp = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("held poll released")
        .unwrap();
    assert_eq!(resp["status"], "wait");
}
