//! The mock model over real loopback HTTP, in both response modes.

mod common;

use common::http;
use imsim::model::MockModel;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A request shaped like OpenClaw's: system prompt, tools, timestamped user text with a runtime
/// trailer, then an internal-context message.
fn openclaw_request(user_text: &str, stream: bool) -> Value {
    json!({
        "model": "echo-1",
        "stream": stream,
        "stream_options": { "include_usage": true },
        "max_completion_tokens": 4096,
        "tools": [{ "type": "function", "function": { "name": "message", "parameters": { "type": "object" } } }],
        "messages": [
            { "role": "system", "content": "You are a personal assistant. [[ECHO:not from the system]]" },
            { "role": "user", "content": [{ "type": "text", "text": format!("[Mon 2026-11-03 10:00 GMT+8] {user_text}\n\nRuntime: agent=main") }] },
            { "role": "user", "content": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nsecret\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>" },
        ],
    })
}

/// Data payloads of an SSE body, `[DONE]` included.
fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("bad frame {frame:?}"))
                .to_owned()
        })
        .collect()
}

async fn complete(model: &MockModel, body: Value) -> reqwest::Response {
    http()
        .post(format!("{}/chat/completions", model.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn non_streaming_echo() {
    let model = MockModel::start(0).await.unwrap();
    assert!(model.base_url().starts_with("http://127.0.0.1:") && model.base_url().ends_with("/v1"));
    let resp: Value = complete(&model, openclaw_request("please [[ECHO:pong 42]]", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["object"], "chat.completion");
    assert_eq!(resp["model"], "echo-1");
    assert_eq!(resp["choices"][0]["message"]["role"], "assistant");
    assert_eq!(resp["choices"][0]["message"]["content"], "ECHO: pong 42");
    assert_eq!(resp["choices"][0]["finish_reason"], "stop");
    assert!(resp["choices"][0]["message"].get("tool_calls").is_none());
    assert!(resp["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let fallback: Value = complete(&model, openclaw_request("what time is it", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        fallback["choices"][0]["message"]["content"],
        "You said: \"what time is it\""
    );
    assert_eq!(model.requests().len(), 2);
    assert_eq!(model.requests()[0]["max_completion_tokens"], 4096);
}

#[tokio::test]
async fn streaming_echo_with_usage() {
    let model = MockModel::start(0).await.unwrap();
    let resp = complete(&model, openclaw_request("[[ECHO:streamed]]", true)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "ECHO: streamed");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn streaming_without_usage_and_long_replies() {
    let model = MockModel::start(0).await.unwrap();
    let mut req = openclaw_request("[[LONG:5000]]", true);
    req.as_object_mut().unwrap().remove("stream_options");
    let events = sse_events(&complete(&model, req).await.text().await.unwrap());
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text.chars().count(), 5000);
    assert!(text.starts_with("P0001 "));
}

#[tokio::test]
async fn models_and_errors() {
    let model = MockModel::start(0).await.unwrap();
    let models: Value = http()
        .get(format!("{}/models", model.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert!(!models["data"].as_array().unwrap().is_empty());

    let bad = complete(&model, json!({ "model": "x" })).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let err: Value = bad.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`messages`")
    );
    assert!(model.requests().is_empty());
}
