//! QR login (spec §3.1, §3.2, §5, §14): `get_bot_qrcode` issues a session, `get_qrcode_status`
//! long-polls it. The state machine lives in `machine.rs`; this file is HTTP and the Rust API.

mod machine;
mod types;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};

pub(crate) use machine::QrBook;
use machine::{Outcome, Via};
pub use types::{QrPoll, QrScript, QrSession, QrStatus};

use super::api::check_headers;
use super::state::{Auth, Shared};
use super::types::Bot;
use super::{IlinkSim, expect};
use crate::http::{BadRequest, Obj, parse_object};

/// The only `bot_type` the official client uses ("3" = personal WeChat bot for OpenClaw).
const BOT_TYPE: &str = "3";

/// QR endpoints of the API host.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/ilink/bot/get_bot_qrcode",
            get(get_bot_qrcode_legacy).post(get_bot_qrcode),
        )
        .route("/ilink/bot/get_qrcode_status", get(status_primary))
        .route("/q/x", get(qr_page))
}

/// The redirect host serves status polls only: a client that fetches new QR codes there, or
/// calls the bot API there, gets 404.
pub(crate) fn redirect_routes() -> Router<Arc<Shared>> {
    Router::new().route("/ilink/bot/get_qrcode_status", get(status_redirect))
}

type Params = Query<HashMap<String, String>>;

fn check_bot_type(params: &HashMap<String, String>) -> Result<(), BadRequest> {
    match params.get("bot_type").map(String::as_str) {
        Some(BOT_TYPE) => Ok(()),
        Some(other) => Err(BadRequest::new(format!(
            "query parameter `bot_type` must be {BOT_TYPE}, got `{other}`"
        ))),
        None => Err(BadRequest::new("query parameter `bot_type` is required")),
    }
}

/// `POST get_bot_qrcode?bot_type=3` with `{"local_token_list": [...]}` (body optional).
async fn get_bot_qrcode(
    State(shared): State<Arc<Shared>>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, BadRequest> {
    check_bot_type(&params)?;
    if shared.opts.strict_headers {
        check_headers(&headers)?;
    }
    let mut tokens = Vec::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let map = parse_object(&body)?;
        let root = Obj::root(&map);
        for (index, token) in root
            .array("local_token_list")?
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let token = token.as_str().ok_or_else(|| {
                BadRequest::new(format!(
                    "field `local_token_list[{index}]` must be a string"
                ))
            })?;
            tokens.push(token.to_owned());
        }
    }
    Ok(Json(issue(&shared, "POST", tokens)))
}

/// The legacy `GET get_bot_qrcode?bot_type=3` (≤ 2.1.x, the Go port): no body, no token list.
async fn get_bot_qrcode_legacy(
    State(shared): State<Arc<Shared>>,
    Query(params): Params,
) -> Result<Json<Value>, BadRequest> {
    check_bot_type(&params)?;
    Ok(Json(issue(&shared, "GET", Vec::new())))
}

/// What the phone would open: here, a hint for the person at the keyboard.
async fn qr_page(Query(params): Params) -> String {
    let qrcode = params.get("qrcode").map_or("", String::as_str);
    format!(
        "imsim QR code {qrcode}\nScan it: curl -XPOST /_admin/qr/scan -d '{{\"qrcode\":\"{qrcode}\"}}'\nConfirm it: curl -XPOST /_admin/qr/confirm -d '{{\"qrcode\":\"{qrcode}\"}}'\n"
    )
}

fn issue(shared: &Shared, method: &str, tokens: Vec<String>) -> Value {
    // "Already bound" is about the person who will scan: one of the listed bots must be theirs
    // and still valid. Another user's bot on the same OpenClaw does not count.
    let scanner = shared.qr.owner();
    let already_bound = tokens.iter().any(|t| match shared.authenticate(Some(t)) {
        Auth::Bot(bot_id) => scanner.is_some() && shared.bot_owner(&bot_id) == scanner,
        Auth::Expired => false,
    });
    let qrcode = shared.qr.issue(method, tokens, already_bound);
    tracing::debug!(qrcode, already_bound, "qr code issued");
    json!({
        "ret": 0,
        "qrcode": qrcode,
        "qrcode_img_content": format!("http://{}/q/x?qrcode={qrcode}&bot_type={BOT_TYPE}", shared.addrs.api),
    })
}

async fn status_primary(
    State(shared): State<Arc<Shared>>,
    Query(params): Params,
) -> Result<Json<Value>, BadRequest> {
    status(shared, Via::Primary, params).await
}

async fn status_redirect(
    State(shared): State<Arc<Shared>>,
    Query(params): Params,
) -> Result<Json<Value>, BadRequest> {
    status(shared, Via::Redirect, params).await
}

/// `GET get_qrcode_status?qrcode=…[&verify_code=…]`: answers at once if the session has
/// something new to say, else holds up to `qr_hold` and repeats the current status.
async fn status(
    shared: Arc<Shared>,
    via: Via,
    params: HashMap<String, String>,
) -> Result<Json<Value>, BadRequest> {
    let qrcode = params
        .get("qrcode")
        .filter(|q| !q.is_empty())
        .ok_or_else(|| BadRequest::new("query parameter `qrcode` is required"))?;
    let code = params
        .get("verify_code")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let host = match via {
        Via::Primary => shared.addrs.api,
        Via::Redirect => shared.addrs.qr_redirect,
    }
    .to_string();
    let bind = |bot: &Bot| {
        let revoked = shared.bind_bot(bot.clone());
        tracing::info!(
            bot = bot.bot_id,
            owner = bot.owner,
            ?revoked,
            "qr login bound a bot"
        );
    };
    let deadline = Instant::now() + shared.opts.qr_hold;
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let outcome = match shared.qr.poll(qrcode, via, &host, code, &bind) {
            Some(Outcome::Hold(mut wake)) => {
                let acted = tokio::select! {
                    changed = wake.changed() => changed.is_ok(),
                    () = sleep_until(deadline) => false,
                    _ = shutdown.wait_for(|stop| *stop) => false,
                };
                if acted {
                    continue;
                }
                shared.qr.settle(qrcode, via, &host, code)
            }
            other => other,
        };
        return Ok(Json(match outcome {
            Some(Outcome::Answer { status, bot }) => answer(&shared, status, bot),
            // A qrcode this server never issued: the client should fetch a new one.
            _ => json!({ "ret": 0, "status": QrStatus::Expired.as_str() }),
        }));
    }
}

fn answer(shared: &Shared, status: QrStatus, bot: Option<Bot>) -> Value {
    let mut out = json!({ "ret": 0, "status": status.as_str() });
    match (status, bot) {
        (QrStatus::Confirmed, Some(bot)) => {
            out["bot_token"] = json!(bot.token);
            out["ilink_bot_id"] = json!(bot.bot_id);
            out["baseurl"] = json!(format!("http://{}", shared.addrs.api));
            out["ilink_user_id"] = json!(bot.owner);
        }
        (QrStatus::ScanedButRedirect, _) => {
            // A bare host; the official client prepends `https://` (ours is plain HTTP).
            out["redirect_host"] = json!(shared.addrs.qr_redirect.to_string());
        }
        _ => {}
    }
    out
}

/// QR login control and inspection.
impl IlinkSim {
    /// What the simulated user does with the QR codes issued from now on (default
    /// [`QrScript::Manual`]). Restarts the script's count of issued codes.
    pub fn qr_script(&self, script: QrScript) {
        self.shared.qr.set_script(script);
    }

    /// The WeChat user who scans from now on (`ilink_user_id` and owner of the bound bot).
    /// `None` (the default): a new random user for every confirmation. Logging in twice with the
    /// same owner revokes the first bot.
    pub fn set_qr_owner(&self, owner: Option<&str>) {
        self.shared.qr.set_owner(owner.map(str::to_owned));
    }

    /// `127.0.0.1:PORT` of the second host that `scaned_but_redirect` sends clients to.
    pub fn qr_redirect_host(&self) -> String {
        self.shared.addrs.qr_redirect.to_string()
    }

    /// Every QR code issued, oldest first.
    pub fn qr_sessions(&self) -> Vec<QrSession> {
        self.shared.qr.sessions()
    }

    /// Waits until at least `count` QR codes have been issued and returns all sessions (or what
    /// exists when `timeout` runs out).
    pub async fn wait_qr_sessions(&self, count: usize, timeout: Duration) -> Vec<QrSession> {
        let deadline = Instant::now() + timeout;
        let mut issued = self.shared.qr.subscribe_issued();
        loop {
            if *issued.borrow_and_update() >= count {
                return self.qr_sessions();
            }
            match tokio::time::timeout_at(deadline, issued.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.qr_sessions(),
            }
        }
    }

    /// The user scans `qrcode`: a held poll wakes and answers `scaned`.
    ///
    /// # Panics
    /// If `qrcode` was never issued or is already used up (confirmed, expired, …).
    pub fn qr_scan(&self, qrcode: &str) {
        expect(self.shared.qr.scan(qrcode));
    }

    /// The user confirms: binds a new bot (as [`IlinkSim::add_bot`], revoking the owner's other
    /// bots) and the next poll answers `confirmed` with it.
    ///
    /// # Panics
    /// As [`IlinkSim::qr_scan`].
    pub fn qr_confirm(&self, qrcode: &str) -> Bot {
        let shared = &self.shared;
        expect(shared.qr.confirm(qrcode, &|bot: &Bot| {
            shared.bind_bot(bot.clone());
        }))
    }

    /// The QR code times out: the next poll answers `expired`.
    ///
    /// # Panics
    /// As [`IlinkSim::qr_scan`].
    pub fn qr_expire(&self, qrcode: &str) {
        expect(self.shared.qr.expire(qrcode));
    }
}
