//! A deterministic OpenAI-compatible chat-completions server, standing in for a real model so that
//! end-to-end runs through OpenClaw give predictable replies (rules on [`MockModel`]).

mod reply;

pub use reply::long_text;

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::{BadRequest, Obj, now_ms, parse_object};

const MODEL_ID: &str = "mock-model";
/// Streamed replies are cut into pieces of this many characters.
const STREAM_PIECE_CHARS: usize = 48;

/// A running mock model. Dropping it stops the server.
///
/// Reply rule (deterministic, tools are never called), read from the newest user message with
/// visible text only: `[[ECHO:x]]` gets `ECHO: x`; `[[SAY:x]]` gets exactly `x` (a literal `\n`
/// becomes a newline); `[[LONG:n]]` gets exactly `n` characters of numbered paragraphs;
/// `[[RECALL]]` gets `RECALL: ` + the `[[ECHO:x]]` values of the earlier user messages;
/// anything else gets `You said: "<its first line>"`, minus its `[timestamp] `.
pub struct MockModel {
    shared: Arc<ModelShared>,
    addr: SocketAddr,
}

#[derive(Debug)]
struct ModelShared {
    requests: Mutex<Vec<Value>>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl fmt::Debug for MockModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockModel")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

impl MockModel {
    /// Binds 127.0.0.1:`port` (0 = any free port) and serves in a background task.
    pub async fn start(port: u16) -> io::Result<MockModel> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ModelShared {
            requests: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
            .with_state(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "mock model stopped");
            }
        });
        tracing::info!(%addr, "mock model listening");
        Ok(MockModel { shared, addr })
    }

    /// `http://127.0.0.1:PORT/v1`, the `baseUrl` an OpenAI-compatible provider is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Bodies of all well-formed `chat/completions` requests, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// OpenAI's error envelope, so SDK clients surface the message.
fn openai_error(e: BadRequest) -> Response {
    let body =
        json!({ "error": { "message": e.0, "type": "invalid_request_error", "code": null } });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{ "id": MODEL_ID, "object": "model", "created": 0, "owned_by": "imsim" }],
    }))
}

/// Rough token count; clients only display it.
fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX)
}

async fn chat_completions(State(shared): State<Arc<ModelShared>>, body: Bytes) -> Response {
    let delay = parse_object(&body).ok().and_then(|map| {
        map.get("messages")
            .and_then(Value::as_array)
            .and_then(|m| reply::delay_for(m))
    });
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match complete(&shared, &body) {
        Ok(response) => response,
        Err(e) => openai_error(e),
    }
}

fn complete(shared: &ModelShared, body: &[u8]) -> Result<Response, BadRequest> {
    let map = parse_object(body)?;
    let root = Obj::root(&map);
    let messages = root
        .array("messages")?
        .ok_or_else(|| root.missing("messages"))?;
    let model = root.str("model")?.unwrap_or(MODEL_ID).to_owned();
    let stream = match root.get("stream") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| BadRequest::new("field `stream` must be a boolean"))?,
    };
    let include_usage = root
        .object("stream_options")?
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let text = reply::reply_for(messages);
    let drip = reply::drip_for(messages);
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Value::Object(map.clone()));

    let prompt_chars: usize = messages.iter().map(|m| m.to_string().len()).sum();
    let (prompt_tokens, completion_tokens) = (tokens(prompt_chars), tokens(text.chars().count()));
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let id = format!(
        "chatcmpl-mock-{}",
        shared.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let created = now_ms() / 1000;

    if !stream {
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": text, "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage,
        }))
        .into_response());
    }

    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    // Each event with the pause before it: with `[[DRIP:ms]]`, before each paragraph after
    // the first.
    let mut events = vec![(
        chunk(json!({ "role": "assistant", "content": "" }), Value::Null),
        None,
    )];
    for (n, paragraph) in text.split_inclusive("\n\n").enumerate() {
        let chars: Vec<char> = paragraph.chars().collect();
        for (i, piece) in chars.chunks(STREAM_PIECE_CHARS).enumerate() {
            let pause = drip.filter(|_| n > 0 && i == 0);
            events.push((
                chunk(
                    json!({ "content": piece.iter().collect::<String>() }),
                    Value::Null,
                ),
                pause,
            ));
        }
    }
    events.push((chunk(json!({}), json!("stop")), None));
    if include_usage {
        events.push((
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }),
            None,
        ));
    }
    let frames = events
        .into_iter()
        .map(|(e, pause)| (format!("data: {e}\n\n"), pause))
        .chain(std::iter::once(("data: [DONE]\n\n".to_owned(), None)));
    let frames = futures::stream::iter(frames).then(|(frame, pause)| async move {
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
        Ok::<_, Infallible>(Bytes::from(frame))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}
