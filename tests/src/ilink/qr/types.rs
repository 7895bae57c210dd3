//! Public value types of QR login: the scripts a test picks and what it can inspect afterwards.

use serde::{Deserialize, Serialize};

use crate::ilink::Bot;

/// What the simulated WeChat user does with the QR codes issued from now on (spec §5). A script
/// stays in force until replaced; scripts that treat the first QR code differently count from the
/// [`IlinkSim::qr_script`](crate::ilink::IlinkSim::qr_script) call that set them.
///
/// Scripted steps are answered one per poll, without holding: `wait` is said once and then the
/// user "scans".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QrScript {
    /// Nobody scans until the test calls `qr_scan` / `qr_confirm` / `qr_expire`; until then every
    /// poll is held and answered `wait`.
    #[default]
    Manual,
    /// `wait` → `scaned` → `confirmed`.
    Confirm,
    /// The first QR code goes `wait` → `expired`; later ones follow [`QrScript::Confirm`].
    ExpireThenConfirm,
    /// Every QR code goes `wait` → `expired` (the official client gives up after the third).
    AlwaysExpire,
    /// `wait` → `need_verifycode`; then a poll carrying `verify_code=<code>` gets `scaned` and the
    /// next `confirmed`. A wrong code gets `need_verifycode` again; the `max_wrong`-th wrong code
    /// (at least the first) gets `verify_code_blocked`. A poll without a code is held.
    VerifyCode { code: String, max_wrong: u32 },
    /// `wait` → `scaned_but_redirect` with `redirect_host` = the simulator's second host. Polls
    /// there get `confirmed`; polls still at the first host keep getting `scaned_but_redirect`.
    Redirect,
    /// `wait` → `binded_redirect` (this OpenClaw is already bound to the user).
    AlreadyBound,
}

impl QrScript {
    /// The name the admin API uses for this script.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Confirm => "confirm",
            Self::ExpireThenConfirm => "expire_then_confirm",
            Self::AlwaysExpire => "always_expire",
            Self::VerifyCode { .. } => "verify_code",
            Self::Redirect => "redirect",
            Self::AlreadyBound => "already_bound",
        }
    }
}

/// `status` of a `get_qrcode_status` answer, spelled as on the wire (typos included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrStatus {
    Wait,
    Scaned,
    Confirmed,
    Expired,
    ScanedButRedirect,
    NeedVerifycode,
    VerifyCodeBlocked,
    BindedRedirect,
}

impl QrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Scaned => "scaned",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::ScanedButRedirect => "scaned_but_redirect",
            Self::NeedVerifycode => "need_verifycode",
            Self::VerifyCodeBlocked => "verify_code_blocked",
            Self::BindedRedirect => "binded_redirect",
        }
    }

    /// Statuses after which the QR code is used up: they are repeated to every later poll.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Confirmed | Self::Expired | Self::VerifyCodeBlocked | Self::BindedRedirect
        )
    }
}

/// One answered `get_qrcode_status` poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrPoll {
    /// `127.0.0.1:PORT` of the listener the poll arrived at (API or redirect host).
    pub host: String,
    pub verify_code: Option<String>,
    pub status: QrStatus,
    pub at_ms: u64,
}

/// One issued QR code and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrSession {
    pub qrcode: String,
    /// `POST` (official client ≥ 2.1.4) or `GET` (legacy) `get_bot_qrcode`.
    pub method: String,
    /// [`QrScript::name`] of the script it followed (`binded_redirect` for known local tokens).
    pub script: String,
    /// `local_token_list` of the request.
    pub local_tokens: Vec<String>,
    pub created_at_ms: u64,
    /// The latest status (the final one once the session is used up).
    pub status: QrStatus,
    pub polls: Vec<QrPoll>,
    /// The bot bound at `confirmed`.
    pub bot: Option<Bot>,
}
