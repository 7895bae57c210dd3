//! The iLink simulator over real loopback HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use imsim::ilink::{ExpiryVariant, Fault, IlinkOptions, IlinkSim};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn msgs(resp: &Value) -> &Vec<Value> {
    resp["msgs"]
        .as_array()
        .unwrap_or_else(|| panic!("no msgs in {resp}"))
}

fn cursor(resp: &Value) -> String {
    resp["get_updates_buf"].as_str().expect("cursor").to_owned()
}

#[tokio::test]
async fn headers_and_tokens_are_checked() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let url = format!("{}ilink/bot/getconfig", sim.base_url());
    let body = json!({ "ilink_user_id": bot.owner, "base_info": base_info() }).to_string();
    let client = http();

    let without_type = client
        .post(&url)
        .header("X-WECHAT-UIN", "MzczNTkyODU1OQ==")
        .header("Authorization", format!("Bearer {}", bot.token))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(without_type.status(), StatusCode::BAD_REQUEST);
    assert!(
        without_type
            .text()
            .await
            .unwrap()
            .contains("AuthorizationType")
    );

    for uin in [
        None,
        Some("3735928559"),
        Some("LTE="),
        Some("NDI5NDk2NzI5Ng=="),
    ] {
        let mut req = client
            .post(&url)
            .header("AuthorizationType", "ilink_bot_token")
            .header("Authorization", format!("Bearer {}", bot.token));
        if let Some(uin) = uin {
            req = req.header("X-WECHAT-UIN", uin);
        }
        let resp = req.body(body.clone()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "uin {uin:?}");
        assert!(resp.text().await.unwrap().contains("X-WECHAT-UIN"));
    }

    // Unknown, missing and revoked tokens all look like an expired session, with HTTP 200.
    let expired = json!({ "errcode": -14, "errmsg": "session timeout" });
    let unknown = call_json(&sim, "ffffffffffff@im.bot:00", "getconfig", json!({})).await;
    assert_eq!(unknown, expired);
    let no_auth = client
        .post(&url)
        .header("AuthorizationType", "ilink_bot_token")
        .header("X-WECHAT-UIN", "MzczNTkyODU1OQ==")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), StatusCode::OK);
    assert_eq!(no_auth.json::<Value>().await.unwrap(), expired);

    let ok = call_json(
        &sim,
        &bot.token,
        "getconfig",
        json!({ "ilink_user_id": bot.owner }),
    )
    .await;
    assert_eq!(ok["ret"], 0);

    // Everything was recorded, names lower-cased, including the rejected calls.
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 8);
    let last = reqs.last().unwrap();
    assert_eq!(last.path, "/ilink/bot/getconfig");
    assert_eq!(last.headers["ilink-app-id"], "bot");
    assert_eq!(last.headers["ilink-app-clientversion"], "132105");
    assert_eq!(last.body.as_ref().unwrap()["ilink_user_id"], bot.owner);
}

#[tokio::test]
async fn lenient_mode_only_records_headers() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        strict_headers: false,
        ..fast()
    })
    .await;
    let resp = http()
        .post(format!("{}ilink/bot/msg/notifystart", sim.base_url()))
        .header("Authorization", format!("Bearer {}", bot.token))
        .header("SKRouteTag", "1001")
        .body(json!({ "base_info": base_info() }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "ret": 0, "errmsg": "" })
    );
    assert!(sim.online(&bot.bot_id));
    assert_eq!(sim.requests()[0].headers["skroutetag"], "1001");
    assert_eq!(
        sim.requests()[0].body.as_ref().unwrap()["base_info"],
        base_info()
    );
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_field() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let cases = [
        ("getupdates", "not json", "not valid JSON"),
        (
            "getupdates",
            r#"{"get_updates_buf": 5}"#,
            "`get_updates_buf`",
        ),
        ("getupdates", r#"{"base_info": "x"}"#, "`base_info`"),
        ("sendmessage", r#"{"base_info": {}}"#, "`msg` is required"),
        (
            "sendmessage",
            r#"{"msg": {"to_user_id": 1}}"#,
            "`msg.to_user_id`",
        ),
        (
            "sendmessage",
            r#"{"msg": {"item_list": [{"text_item": {"text": 3}}]}}"#,
            "`msg.item_list[0].text_item.text`",
        ),
        (
            "sendtyping",
            r#"{"ilink_user_id": "u", "typing_ticket": "t"}"#,
            "`status`",
        ),
    ];
    for (endpoint, body, needle) in cases {
        let resp = official(
            http().post(format!("{}ilink/bot/{endpoint}", sim.base_url())),
            &bot.token,
        )
        .body(body)
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{endpoint} {body}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(needle), "{endpoint} {body}: {text}");
    }
    let (status, _) = call(&sim, &bot.token, "no_such_endpoint", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn getupdates_delivers_in_order_and_advances_the_cursor() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let first = sim.inject_text(&bot.bot_id, &bot.owner, "你好");
    let second = sim.inject_text(&bot.bot_id, &bot.owner, "second");
    assert!(first.message_id > 1 << 53);
    assert!(second.seq > first.seq && second.message_id > first.message_id);
    assert_ne!(first.context_token, second.context_token);

    let resp = getupdates(&sim, &bot.token, "").await;
    assert_eq!(resp["ret"], 0);
    assert_eq!(resp["longpolling_timeout_ms"], 35000);
    let got = msgs(&resp);
    assert_eq!(got.len(), 2);
    let m = &got[0];
    // Appendix B shape, ids as JSON numbers above 2^53, plus fields clients do not know.
    assert_eq!(m["seq"], first.seq);
    assert!(m["message_id"].is_u64());
    assert_eq!(m["message_id"].as_u64(), Some(first.message_id));
    assert_eq!(m["from_user_id"], bot.owner);
    assert_eq!(m["to_user_id"], bot.bot_id);
    assert_eq!(m["message_type"], 1);
    assert_eq!(m["message_state"], 2);
    assert_eq!(m["context_token"], first.context_token);
    assert!(m["create_time_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(m["session_id"].is_string());
    assert!(m["ext_info"].is_object());
    let item = &m["item_list"][0];
    assert_eq!(item["type"], 1);
    assert!(item["msg_id"].as_u64().unwrap() > 1 << 53);
    assert_eq!(item["text_item"]["text"], "你好");
    assert_eq!(item["button_item_list"], json!([]));
    assert_eq!(got[1]["item_list"][0]["text_item"]["text"], "second");

    // Echoing the cursor gets only what is new; a garbled cursor starts over.
    let next = cursor(&resp);
    let third = sim.inject_text(&bot.bot_id, &bot.owner, "third");
    let resp = getupdates(&sim, &bot.token, &next).await;
    assert_eq!(msgs(&resp).len(), 1);
    assert_eq!(
        msgs(&resp)[0]["message_id"].as_u64(),
        Some(third.message_id)
    );
    assert_eq!(
        msgs(&getupdates(&sim, &bot.token, "garbage!").await).len(),
        3
    );

    // A second bot never sees the first bot's messages, even with the first bot's cursor.
    let other = IlinkSim::new_bot();
    sim.add_bot(other.clone());
    let resp = getupdates(&sim, &other.token, &next).await;
    assert!(msgs(&resp).is_empty());
}

#[tokio::test]
async fn empty_poll_is_held_then_answered_with_the_same_cursor() {
    let (sim, bot) = sim_with_bot(fast()).await;
    sim.inject_text(&bot.bot_id, &bot.owner, "one");
    let next = cursor(&getupdates(&sim, &bot.token, "").await);

    let started = Instant::now();
    let resp = getupdates(&sim, &bot.token, &next).await;
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(280) && held < Duration::from_secs(3),
        "held {held:?}"
    );
    assert_eq!(resp["ret"], 0);
    assert_eq!(resp["msgs"], json!([]));
    assert_eq!(cursor(&resp), next);
}

#[tokio::test]
async fn held_poll_wakes_on_inject() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        hold: Duration::from_secs(10),
        ..fast()
    })
    .await;
    let started = Instant::now();
    let (resp, injected) = tokio::join!(getupdates(&sim, &bot.token, ""), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.inject_text(&bot.bot_id, &bot.owner, "wake up")
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        msgs(&resp)[0]["message_id"].as_u64(),
        Some(injected.message_id)
    );
}

#[tokio::test]
async fn hold_stays_inside_the_advertised_client_timeout() {
    let opts = IlinkOptions {
        hold: Duration::from_secs(30),
        longpolling_timeout_ms: 700,
        ..fast()
    };
    let (sim, bot) = sim_with_bot(opts).await;
    let started = Instant::now();
    let resp = getupdates(&sim, &bot.token, "").await;
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(resp["longpolling_timeout_ms"], 700);
}

#[tokio::test]
async fn at_least_once_redelivery_option() {
    let opts = IlinkOptions {
        redeliver_after: Some(Duration::from_millis(100)),
        ..fast()
    };
    let (sim, bot) = sim_with_bot(opts).await;
    let injected = sim.inject_text(&bot.bot_id, &bot.owner, "twice");

    let first = getupdates(&sim, &bot.token, "").await;
    assert_eq!(msgs(&first).len(), 1);
    let again = getupdates(&sim, &bot.token, &cursor(&first)).await;
    let copy = &msgs(&again)[0];
    assert_eq!(copy["message_id"].as_u64(), Some(injected.message_id));
    assert_eq!(copy["context_token"], injected.context_token);
    assert!(copy["seq"].as_u64().unwrap() > injected.seq);
    assert_eq!(copy["item_list"], msgs(&first)[0]["item_list"]);

    // Once only: the redelivered copy is not redelivered again.
    let quiet = getupdates(&sim, &bot.token, &cursor(&again)).await;
    assert_eq!(quiet["msgs"], json!([]));
}

#[tokio::test]
async fn manual_redelivery_reuses_id_and_token() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let a = sim.inject_text(&bot.bot_id, &bot.owner, "a");
    let b = sim.inject_text(&bot.bot_id, &bot.owner, "b");
    let next = cursor(&getupdates(&sim, &bot.token, "").await);
    assert!(sim.redeliver(&bot.bot_id, a.message_id));
    assert!(!sim.redeliver(&bot.bot_id, 12345));
    // What users sent, once each: the copy is not a message of its own.
    let inbound: Vec<_> = sim
        .inbound(&bot.bot_id)
        .iter()
        .map(|m| m["message_id"].as_u64())
        .collect();
    assert_eq!(inbound, [Some(a.message_id), Some(b.message_id)]);
    let resp = getupdates(&sim, &bot.token, &next).await;
    let copy = &msgs(&resp)[0];
    assert_eq!(copy["message_id"].as_u64(), Some(a.message_id));
    assert_eq!(copy["context_token"], a.context_token);
    assert_eq!(copy["seq"].as_u64(), Some(b.seq + 1));

    // Redelivery is not a new user message: the latest token stays b's.
    let stale = send_text(&sim, &bot, &bot.owner, Some(&a.context_token), "x").await;
    assert_eq!(stale, json!({ "ret": -2, "errmsg": "" }));
    let ok = send_text(&sim, &bot, &bot.owner, Some(&b.context_token), "x").await;
    assert_eq!(ok["ret"], 0);
}

#[tokio::test]
async fn session_expired_faults_in_all_shapes() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let shapes = [
        (
            ExpiryVariant::ErrcodeOnly,
            json!({ "errcode": -14, "errmsg": "session timeout" }),
        ),
        (
            ExpiryVariant::RetOnly,
            json!({ "ret": -14, "errmsg": "session timeout" }),
        ),
        (
            ExpiryVariant::Both,
            json!({ "ret": -14, "errcode": -14, "errmsg": "session timeout" }),
        ),
    ];
    for (variant, _) in &shapes {
        sim.fault(&bot.bot_id, Fault::SessionExpired(*variant));
    }
    for (_, expected) in shapes {
        assert_eq!(getupdates(&sim, &bot.token, "").await, expected);
    }
    // One-shot: the token still works.
    assert_eq!(getupdates(&sim, &bot.token, "").await["ret"], 0);
}

#[tokio::test]
async fn expired_token_fails_everything_until_relogin() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        hold: Duration::from_secs(10),
        ..fast()
    })
    .await;
    let injected = sim.inject_text(&bot.bot_id, &bot.owner, "hi");
    let next = cursor(&getupdates(&sim, &bot.token, "").await);

    // A poll held at the moment of revocation is answered at once.
    let started = Instant::now();
    let (resp, ()) = tokio::join!(getupdates(&sim, &bot.token, &next), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.expire_token(&bot.bot_id);
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    let expired = json!({ "errcode": -14, "errmsg": "session timeout" });
    assert_eq!(resp, expired);
    let send = send_text(&sim, &bot, &bot.owner, Some(&injected.context_token), "x").await;
    assert_eq!(send, expired);
    assert_eq!(
        call_json(&sim, &bot.token, "msg/notifystart", json!({})).await,
        expired
    );

    // Re-login with a new token: old token stays dead, state is kept.
    let relogged = imsim::ilink::Bot {
        token: format!("{}:beef", bot.bot_id),
        ..bot.clone()
    };
    sim.add_bot(relogged.clone());
    assert_eq!(getupdates(&sim, &bot.token, &next).await, expired);
    let ok = send_text(
        &sim,
        &relogged,
        &bot.owner,
        Some(&injected.context_token),
        "x",
    )
    .await;
    assert_eq!(ok["ret"], 0);
}

#[tokio::test]
async fn transport_faults_are_one_shot_and_in_order() {
    let (sim, bot) = sim_with_bot(fast()).await;
    sim.inject_text(&bot.bot_id, &bot.owner, "after the storm");
    for fault in [
        Fault::MalformedBody,
        Fault::NonJson200,
        Fault::EmptyBody200,
        Fault::HttpStatus(502),
    ] {
        sim.fault(&bot.bot_id, fault);
    }
    let body = json!({ "get_updates_buf": "", "base_info": base_info() });

    let (status, text) = call(&sim, &bot.token, "getupdates", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let malformed: Value = serde_json::from_str(&text).unwrap();
    assert!(malformed["msgs"].is_string());

    let url = format!("{}ilink/bot/getupdates", sim.base_url());
    let resp = official(http().post(&url), &bot.token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().starts_with("<html>"));

    assert_eq!(
        call(&sim, &bot.token, "getupdates", body.clone()).await,
        (StatusCode::OK, String::new())
    );

    let (status, text) = call(&sim, &bot.token, "getupdates", body.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(text.contains("502"));

    // All consumed: the next poll is normal.
    assert_eq!(msgs(&getupdates(&sim, &bot.token, "").await).len(), 1);
}

#[tokio::test]
async fn transport_faults_hit_the_next_polls_even_while_the_token_is_revoked() {
    let (sim, bot) = sim_with_bot(fast()).await;
    sim.expire_token(&bot.bot_id);
    sim.fault(&bot.bot_id, Fault::HttpStatus(502));
    let body = json!({ "get_updates_buf": "", "base_info": base_info() });
    let (status, _) = call(&sim, &bot.token, "getupdates", body.clone()).await;
    assert_eq!(
        status,
        StatusCode::BAD_GATEWAY,
        "a gateway's 502 does not wait for the token to be checked"
    );
    let expired = json!({ "errcode": -14, "errmsg": "session timeout" });
    assert_eq!(getupdates(&sim, &bot.token, "").await, expired);

    // Nothing is left over for the first polls after the re-login.
    sim.add_bot(bot.clone());
    sim.inject_text(&bot.bot_id, &bot.owner, "back");
    assert_eq!(msgs(&getupdates(&sim, &bot.token, "").await).len(), 1);
}

#[tokio::test]
async fn delay_fault_delays_then_answers_normally() {
    let (sim, bot) = sim_with_bot(fast()).await;
    sim.inject_text(&bot.bot_id, &bot.owner, "late");
    sim.fault(&bot.bot_id, Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    let resp = getupdates(&sim, &bot.token, "").await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(msgs(&resp).len(), 1);
}

#[tokio::test]
async fn sendmessage_enforces_target_and_context_token() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let stranger = "o9cq80ZZZZZZZZZZZZZZZZZZZZZZ@im.wechat";
    let first = sim.inject_text(&bot.bot_id, &bot.owner, "one");

    let invalid = json!({ "ret": -3, "errmsg": "invalid arguments" });
    let stale = json!({ "ret": -2, "errmsg": "" });
    let token = Some(first.context_token.as_str());
    // Classic client bugs: lower-cased id, `user:` prefix, a user who never wrote.
    assert_eq!(
        send_text(&sim, &bot, &bot.owner.to_lowercase(), token, "x").await,
        invalid
    );
    assert_eq!(
        send_text(&sim, &bot, &format!("user:{}", bot.owner), token, "x").await,
        invalid
    );
    assert_eq!(send_text(&sim, &bot, stranger, token, "x").await, invalid);
    // Missing, mangled, and superseded tokens.
    assert_eq!(send_text(&sim, &bot, &bot.owner, None, "x").await, stale);
    assert_eq!(
        send_text(
            &sim,
            &bot,
            &bot.owner,
            Some(&first.context_token.to_lowercase()),
            "x"
        )
        .await,
        stale
    );
    let second = sim.inject_text(&bot.bot_id, &bot.owner, "two");
    assert_eq!(send_text(&sim, &bot, &bot.owner, token, "x").await, stale);

    let ok = send_text(&sim, &bot, &bot.owner, Some(&second.context_token), "hello").await;
    assert_eq!(ok["ret"], 0);
    assert_eq!(ok["errmsg"], "");
    assert!(ok["message_id"].as_u64().unwrap() > 1 << 53);

    let sent = sim.sent(&bot.bot_id);
    assert_eq!(sent.len(), 7);
    assert_eq!(sent.iter().filter(|s| s.accepted).count(), 1);
    let last = sent.last().unwrap();
    assert_eq!(last.to_user_id, bot.owner);
    assert_eq!(last.text.as_deref(), Some("hello"));
    assert_eq!(
        last.context_token.as_deref(),
        Some(second.context_token.as_str())
    );
    assert!(last.client_id.starts_with("openclaw-weixin:"));
    assert_eq!(last.items[0]["type"], 1);
    assert_eq!(last.body["base_info"], base_info());
    assert_eq!(last.headers["authorizationtype"], "ilink_bot_token");
    assert_eq!(last.result, ok);
    assert_eq!(last.message_id, ok["message_id"].as_u64());
    assert_eq!(sent[0].result, invalid);
    assert!(!sent[0].accepted);
}

#[tokio::test]
async fn send_window_allows_ten_messages_per_inbound() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let inbound = sim.inject_text(&bot.bot_id, &bot.owner, "go");
    for i in 0..10 {
        let r = send_text(
            &sim,
            &bot,
            &bot.owner,
            Some(&inbound.context_token),
            &format!("m{i}"),
        )
        .await;
        assert_eq!(r["ret"], 0, "send {i}: {r}");
    }
    let eleventh = send_text(&sim, &bot, &bot.owner, Some(&inbound.context_token), "m10").await;
    assert_eq!(eleventh, json!({ "ret": -2, "errmsg": "" }));

    // A new user message opens a new window.
    let again = sim.inject_text(&bot.bot_id, &bot.owner, "more");
    let r = send_text(&sim, &bot, &bot.owner, Some(&again.context_token), "m11").await;
    assert_eq!(r["ret"], 0);

    let accepted = sim.wait_sent(&bot.bot_id, 11, Duration::from_secs(1)).await;
    assert_eq!(accepted.len(), 11);
    assert_eq!(accepted[10].text.as_deref(), Some("m11"));
}

#[tokio::test]
async fn send_window_expires() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        window: Duration::from_millis(150),
        ..fast()
    })
    .await;
    let inbound = sim.inject_text(&bot.bot_id, &bot.owner, "go");
    assert_eq!(
        send_text(
            &sim,
            &bot,
            &bot.owner,
            Some(&inbound.context_token),
            "in time"
        )
        .await["ret"],
        0
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let late = send_text(
        &sim,
        &bot,
        &bot.owner,
        Some(&inbound.context_token),
        "too late",
    )
    .await;
    assert_eq!(late, json!({ "ret": -2, "errmsg": "" }));
}

#[tokio::test]
async fn long_texts_fail_with_prepare_failed() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        max_text_chars: 100,
        ..fast()
    })
    .await;
    let inbound = sim.inject_text(&bot.bot_id, &bot.owner, "go");
    let token = Some(inbound.context_token.as_str());
    // Characters, not bytes.
    assert_eq!(
        send_text(&sim, &bot, &bot.owner, token, &"字".repeat(100)).await["ret"],
        0
    );
    let long = send_text(&sim, &bot, &bot.owner, token, &"字".repeat(101)).await;
    assert_eq!(long, json!({ "ret": -2, "errmsg": "prepare failed" }));
    // A rejected send does not use up the window.
    assert_eq!(sim.wait_sent(&bot.bot_id, 1, Duration::ZERO).await.len(), 1);
}

#[tokio::test]
async fn wait_sent_waits_and_times_out() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let inbound = sim.inject_text(&bot.bot_id, &bot.owner, "go");
    let started = Instant::now();
    let (waited, ()) = tokio::join!(
        sim.wait_sent(&bot.bot_id, 1, Duration::from_secs(10)),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            send_text(
                &sim,
                &bot,
                &bot.owner,
                Some(&inbound.context_token),
                "reply",
            )
            .await;
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(waited[0].text.as_deref(), Some("reply"));

    let started = Instant::now();
    let short = sim
        .wait_sent(&bot.bot_id, 5, Duration::from_millis(100))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(short.len(), 1);
}

#[tokio::test]
async fn typing_tickets_and_online_state() {
    let (sim, bot) = sim_with_bot(fast()).await;
    assert!(!sim.online(&bot.bot_id));
    assert_eq!(
        call_json(
            &sim,
            &bot.token,
            "msg/notifystart",
            json!({ "base_info": base_info() })
        )
        .await,
        json!({ "ret": 0, "errmsg": "" })
    );
    assert!(sim.online(&bot.bot_id));

    let missing = call_json(
        &sim,
        &bot.token,
        "getconfig",
        json!({ "base_info": base_info() }),
    )
    .await;
    assert_eq!(
        missing,
        json!({ "ret": -2, "errmsg": "ilink_user_id required" })
    );
    let config = call_json(
        &sim,
        &bot.token,
        "getconfig",
        json!({ "ilink_user_id": bot.owner, "context_token": "t" }),
    )
    .await;
    assert_eq!(config["ret"], 0);
    let ticket = config["typing_ticket"].as_str().unwrap();

    let typing = |ticket: &str, status: u8| json!({ "ilink_user_id": bot.owner, "typing_ticket": ticket, "status": status, "base_info": base_info() });
    assert_eq!(
        call_json(&sim, &bot.token, "sendtyping", typing(ticket, 1)).await,
        json!({ "ret": 0 })
    );
    assert_eq!(
        call_json(&sim, &bot.token, "sendtyping", typing(ticket, 2)).await,
        json!({ "ret": 0 })
    );
    assert_eq!(
        call_json(&sim, &bot.token, "sendtyping", typing("forged", 1)).await["ret"],
        -2
    );
    assert_eq!(
        sim.typing(&bot.bot_id),
        vec![(bot.owner.clone(), 1), (bot.owner.clone(), 2)]
    );

    call_json(
        &sim,
        &bot.token,
        "msg/notifystop",
        json!({ "base_info": base_info() }),
    )
    .await;
    assert!(!sim.online(&bot.bot_id));
}

#[tokio::test]
async fn inject_message_fills_missing_fields() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let injected = sim.inject_message(
        &bot.bot_id,
        json!({ "item_list": [{ "type": 2, "image_item": { "aeskey": "84ff44e81724166d95903573ab980b86" } }] }),
    );
    let explicit = sim.inject_message(
        &bot.bot_id,
        json!({ "seq": 999, "message_id": "18446744073709551615", "from_user_id": "o9cq80Other@im.wechat", "context_token": "given", "item_list": [] }),
    );
    assert_eq!(explicit.message_id, u64::MAX);
    assert_eq!(explicit.context_token, "given");
    assert_eq!(explicit.seq, injected.seq + 1);

    let resp = getupdates(&sim, &bot.token, "").await;
    let m = &msgs(&resp)[0];
    assert_eq!(m["from_user_id"], bot.owner);
    assert_eq!(m["to_user_id"], bot.bot_id);
    assert_eq!(m["message_id"].as_u64(), Some(injected.message_id));
    assert_eq!(m["context_token"], injected.context_token);
    assert_eq!(m["seq"], injected.seq);
    assert!(m["create_time_ms"].is_u64());
    assert_eq!(msgs(&resp)[1]["seq"], explicit.seq);

    // The injected sender became a known peer with the given token.
    let r = send_text(&sim, &bot, "o9cq80Other@im.wechat", Some("given"), "hi").await;
    assert_eq!(r["ret"], 0);
}

#[tokio::test]
async fn dropping_the_sim_releases_held_polls() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        hold: Duration::from_secs(20),
        ..fast()
    })
    .await;
    let url = format!("{}ilink/bot/getupdates", sim.base_url());
    let poll = tokio::spawn(
        official(http().post(url), &bot.token)
            .body(json!({ "get_updates_buf": "" }).to_string())
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    drop(sim);
    let resp = poll.await.unwrap().unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["msgs"], json!([]));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_burst_comes_in_batches_of_the_configured_size_in_order() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        batch: Some(100),
        ..fast()
    })
    .await;
    let injected = http()
        .post(format!("{}_admin/inbound_many", sim.base_url()))
        .body(
            json!({ "bot_id": bot.bot_id, "from": ["a@im.wechat", "b@im.wechat"], "count": 250 })
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(injected, json!({ "injected": 250, "last_seq": 250 }));
    let mut cursor_now = String::new();
    let mut sizes = Vec::new();
    let mut seqs = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..3 {
        let resp = getupdates(&sim, &bot.token, &cursor_now).await;
        sizes.push(msgs(&resp).len());
        for m in msgs(&resp) {
            seqs.push(m["seq"].as_u64().unwrap());
            senders.push(m["from_user_id"].as_str().unwrap().to_owned());
        }
        cursor_now = cursor(&resp);
    }
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(seqs, (1..=250).collect::<Vec<u64>>());
    assert_eq!(senders[..3], ["a@im.wechat", "b@im.wechat", "a@im.wechat"]);
}
