//! Helpers shared by the integration tests: a plain-HTTP client and the official client's headers.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use imsim::ilink::{Bot, IlinkOptions, IlinkSim};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub fn http() -> reqwest::Client {
    // reqwest is compiled without a default TLS provider and refuses to build a client without one,
    // even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// Options for fast tests: short holds, everything else as the real server.
pub fn fast() -> IlinkOptions {
    IlinkOptions {
        hold: Duration::from_millis(300),
        ..IlinkOptions::default()
    }
}

pub async fn sim_with_bot(opts: IlinkOptions) -> (IlinkSim, Bot) {
    let sim = IlinkSim::start(opts).await.expect("start sim");
    let bot = IlinkSim::new_bot();
    sim.add_bot(bot.clone());
    (sim, bot)
}

pub fn base_info() -> Value {
    json!({ "channel_version": "2.4.9", "bot_agent": "OpenClaw" })
}

/// Exactly the header set of spec Appendix A.
pub fn official(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.header("Content-Type", "application/json")
        .header("AuthorizationType", "ilink_bot_token")
        .header("X-WECHAT-UIN", "MzczNTkyODU1OQ==")
        .header("iLink-App-Id", "bot")
        .header("iLink-App-ClientVersion", "132105")
        .header("Authorization", format!("Bearer {token}"))
}

/// A bot API call as the official client makes it; returns status and raw body.
pub async fn call(
    sim: &IlinkSim,
    token: &str,
    endpoint: &str,
    body: Value,
) -> (StatusCode, String) {
    let url = format!("{}ilink/bot/{endpoint}", sim.base_url());
    let resp = official(http().post(url), token)
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

/// A bot API call that must answer HTTP 200 with JSON.
pub async fn call_json(sim: &IlinkSim, token: &str, endpoint: &str, body: Value) -> Value {
    let (status, text) = call(sim, token, endpoint, body).await;
    assert_eq!(status, StatusCode::OK, "{endpoint}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{endpoint}: not JSON ({e}): {text}"))
}

pub async fn getupdates(sim: &IlinkSim, token: &str, cursor: &str) -> Value {
    call_json(
        sim,
        token,
        "getupdates",
        json!({ "get_updates_buf": cursor, "base_info": base_info() }),
    )
    .await
}

/// A one-item text `sendmessage` shaped like the official client's.
pub fn text_msg(to: &str, context_token: Option<&str>, text: &str) -> Value {
    let mut msg = json!({
        "from_user_id": "",
        "to_user_id": to,
        "client_id": format!("openclaw-weixin:1763800000000-{:08x}", text.len()),
        "message_type": 2,
        "message_state": 2,
        "item_list": [{ "type": 1, "text_item": { "text": text } }],
    });
    if let Some(token) = context_token {
        msg["context_token"] = json!(token);
    }
    json!({ "msg": msg, "base_info": base_info() })
}

pub async fn send_text(
    sim: &IlinkSim,
    bot: &Bot,
    to: &str,
    context_token: Option<&str>,
    text: &str,
) -> Value {
    call_json(
        sim,
        &bot.token,
        "sendmessage",
        text_msg(to, context_token, text),
    )
    .await
}
