//! The QR login state machine: issued sessions, the script each follows, and the rule of one
//! status per poll. Pure bookkeeping under one lock; waiting happens in the HTTP layer through
//! each session's `wake` channel.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::types::{QrPoll, QrScript, QrSession, QrStatus};
use crate::http::now_ms;
use crate::ilink::state::SimError;
use crate::ilink::types::Bot;
use crate::ilink::wire;

/// Which listener a poll arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The API host, where every login starts.
    Primary,
    /// The second host that `scaned_but_redirect` names.
    Redirect,
}

/// What a poll gets right now.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answer this status; `bot` is set for `confirmed`.
    Answer { status: QrStatus, bot: Option<Bot> },
    /// Nothing new: hold until the receiver changes (a test action) or the hold runs out.
    Hold(watch::Receiver<u64>),
}

/// All QR sessions of one simulator.
#[derive(Debug)]
pub(crate) struct QrBook {
    inner: Mutex<Book>,
    /// Number of sessions issued, for `wait_qr_sessions`.
    issued_tx: watch::Sender<usize>,
}

impl Default for QrBook {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            issued_tx: watch::channel(0).0,
        }
    }
}

#[derive(Debug, Default)]
struct Book {
    script: QrScript,
    /// QR codes issued under `script` since it was set.
    issued_under_script: usize,
    /// Who scans from now on; `None` = a new random user for every confirmation.
    owner: Option<String>,
    sessions: Vec<Session>,
}

/// One scripted step, taken when a poll finds nothing else to say.
#[derive(Debug)]
enum Step {
    Say(QrStatus),
    /// Ask for the pairing code shown on the phone.
    AskCode {
        code: String,
        max_wrong: u32,
    },
    /// Send the client to the redirect host.
    Redirect,
}

#[derive(Debug)]
struct Session {
    /// The public view, kept up to date in place.
    info: QrSession,
    /// `info.status` has been answered to a poll already (so polls now wait for something new).
    said: bool,
    steps: VecDeque<Step>,
    /// While `need_verifycode` is pending: expected code, allowed wrong tries, wrong tries so far.
    code: Option<(String, u32, u32)>,
    /// `scaned_but_redirect` was said: the first host only repeats it from now on.
    redirected: bool,
    wake: watch::Sender<u64>,
}

fn steps_for(script: &QrScript, index: usize) -> Vec<Step> {
    use QrStatus::*;
    let confirm = || vec![Step::Say(Wait), Step::Say(Scaned), Step::Say(Confirmed)];
    match script {
        QrScript::Manual => Vec::new(),
        QrScript::Confirm => confirm(),
        QrScript::ExpireThenConfirm if index == 0 => vec![Step::Say(Wait), Step::Say(Expired)],
        QrScript::ExpireThenConfirm => confirm(),
        QrScript::AlwaysExpire => vec![Step::Say(Wait), Step::Say(Expired)],
        QrScript::VerifyCode { code, max_wrong } => vec![
            Step::Say(Wait),
            Step::AskCode {
                code: code.clone(),
                max_wrong: *max_wrong,
            },
            Step::Say(Confirmed),
        ],
        QrScript::Redirect => vec![Step::Say(Wait), Step::Redirect, Step::Say(Confirmed)],
        QrScript::AlreadyBound => vec![Step::Say(Wait), Step::Say(BindedRedirect)],
    }
}

impl QrBook {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_script(&self, script: QrScript) {
        let mut book = self.lock();
        book.script = script;
        book.issued_under_script = 0;
    }

    pub(crate) fn set_owner(&self, owner: Option<String>) {
        self.lock().owner = owner;
    }

    pub(crate) fn script_name(&self) -> &'static str {
        self.lock().script.name()
    }

    pub(crate) fn owner(&self) -> Option<String> {
        self.lock().owner.clone()
    }

    /// Issues a QR code. `already_bound`: the client listed a live bot token, so the first poll
    /// answers `binded_redirect` whatever the script says.
    pub(crate) fn issue(
        &self,
        method: &str,
        local_tokens: Vec<String>,
        already_bound: bool,
    ) -> String {
        let qrcode = wire::random_hex(16);
        let mut book = self.lock();
        let (script, steps) = if already_bound {
            ("binded_redirect", vec![Step::Say(QrStatus::BindedRedirect)])
        } else {
            let index = book.issued_under_script;
            book.issued_under_script += 1;
            (book.script.name(), steps_for(&book.script, index))
        };
        book.sessions.push(Session {
            info: QrSession {
                qrcode: qrcode.clone(),
                method: method.to_owned(),
                script: script.to_owned(),
                local_tokens,
                created_at_ms: now_ms(),
                status: QrStatus::Wait,
                polls: Vec::new(),
                bot: None,
            },
            // A fresh code is `wait`; only a scripted step or the test may say something new.
            said: true,
            steps: steps.into(),
            code: None,
            redirected: false,
            wake: watch::channel(0).0,
        });
        let issued = book.sessions.len();
        drop(book);
        self.issued_tx.send_replace(issued);
        qrcode
    }

    /// One look at the session for a poll. `None` if the qrcode was never issued. `bind` registers
    /// the bot of a confirmation; it runs under this book's lock, before any poll can see it.
    pub(crate) fn poll(
        &self,
        qrcode: &str,
        via: Via,
        host: &str,
        verify_code: Option<&str>,
        bind: &dyn Fn(&Bot),
    ) -> Option<Outcome> {
        let mut book = self.lock();
        let owner = book.owner.clone();
        let s = book.sessions.iter_mut().find(|s| s.info.qrcode == qrcode)?;
        let status = if via == Via::Primary && s.redirected {
            QrStatus::ScanedButRedirect
        } else if !s.said {
            s.said = true;
            s.info.status
        } else if s.info.status == QrStatus::NeedVerifycode && s.code.is_some() {
            let Some(given) = verify_code else {
                return Some(Outcome::Hold(s.wake.subscribe()));
            };
            s.check_code(given)
        } else if s.info.status.is_final() {
            s.info.status
        } else if let Some(step) = s.steps.pop_front() {
            s.enter(step, owner, bind)
        } else {
            return Some(Outcome::Hold(s.wake.subscribe()));
        };
        s.record(host, verify_code, status);
        Some(Outcome::Answer {
            status,
            bot: s.info.bot.clone().filter(|_| status == QrStatus::Confirmed),
        })
    }

    /// The answer for a poll whose hold ran out: the current status again.
    pub(crate) fn settle(
        &self,
        qrcode: &str,
        via: Via,
        host: &str,
        verify_code: Option<&str>,
    ) -> Option<Outcome> {
        let mut book = self.lock();
        let s = book.sessions.iter_mut().find(|s| s.info.qrcode == qrcode)?;
        let status = if via == Via::Primary && s.redirected {
            QrStatus::ScanedButRedirect
        } else {
            s.said = true;
            s.info.status
        };
        s.record(host, verify_code, status);
        Some(Outcome::Answer {
            status,
            bot: s.info.bot.clone().filter(|_| status == QrStatus::Confirmed),
        })
    }

    /// The user scans (test action): the next poll answers `scaned`.
    pub(crate) fn scan(&self, qrcode: &str) -> Result<QrSession, SimError> {
        self.act(qrcode, |s| {
            s.code = None;
            s.set(QrStatus::Scaned);
        })
    }

    /// The user confirms on the phone (test action): binds a new bot; the next poll answers
    /// `confirmed` with it.
    pub(crate) fn confirm(&self, qrcode: &str, bind: &dyn Fn(&Bot)) -> Result<Bot, SimError> {
        let owner = self.owner();
        let info = self.act(qrcode, |s| {
            s.steps.clear();
            s.code = None;
            s.bind_new_bot(owner, bind);
            s.set(QrStatus::Confirmed);
        })?;
        info.bot
            .ok_or_else(|| SimError::Conflict(format!("qrcode `{qrcode}` bound no bot")))
    }

    /// The QR code times out (test action): the next poll answers `expired`.
    pub(crate) fn expire(&self, qrcode: &str) -> Result<QrSession, SimError> {
        self.act(qrcode, |s| {
            s.steps.clear();
            s.code = None;
            s.set(QrStatus::Expired);
        })
    }

    fn act(&self, qrcode: &str, f: impl FnOnce(&mut Session)) -> Result<QrSession, SimError> {
        let mut book = self.lock();
        let s = book
            .sessions
            .iter_mut()
            .find(|s| s.info.qrcode == qrcode)
            .ok_or_else(|| SimError::UnknownQrcode(qrcode.to_owned()))?;
        if s.info.status.is_final() {
            return Err(SimError::Conflict(format!(
                "qrcode `{qrcode}` is already `{}`",
                s.info.status.as_str()
            )));
        }
        f(s);
        s.wake.send_modify(|n| *n += 1);
        Ok(s.info.clone())
    }

    /// `requested`, or the most recently issued qrcode.
    pub(crate) fn resolve(&self, requested: Option<&str>) -> Result<String, SimError> {
        match requested {
            Some(q) => Ok(q.to_owned()),
            None => self
                .lock()
                .sessions
                .last()
                .map(|s| s.info.qrcode.clone())
                .ok_or(SimError::NoQrcodes),
        }
    }

    pub(crate) fn sessions(&self) -> Vec<QrSession> {
        self.lock()
            .sessions
            .iter()
            .map(|s| s.info.clone())
            .collect()
    }

    pub(crate) fn subscribe_issued(&self) -> watch::Receiver<usize> {
        self.issued_tx.subscribe()
    }
}

impl Session {
    fn set(&mut self, status: QrStatus) {
        self.info.status = status;
        self.said = false;
    }

    /// Takes a scripted step and returns the status it says (now, to the current poll).
    fn enter(&mut self, step: Step, owner: Option<String>, bind: &dyn Fn(&Bot)) -> QrStatus {
        let status = match step {
            Step::Say(QrStatus::Confirmed) => {
                self.bind_new_bot(owner, bind);
                QrStatus::Confirmed
            }
            Step::Say(status) => status,
            Step::AskCode { code, max_wrong } => {
                self.code = Some((code, max_wrong.max(1), 0));
                QrStatus::NeedVerifycode
            }
            Step::Redirect => {
                self.redirected = true;
                QrStatus::ScanedButRedirect
            }
        };
        self.info.status = status;
        self.said = true;
        status
    }

    /// A poll brought a pairing code while one is pending.
    fn check_code(&mut self, given: &str) -> QrStatus {
        let status = match &mut self.code {
            Some((expected, _, _)) if expected == given => {
                self.code = None;
                QrStatus::Scaned
            }
            Some((_, max_wrong, wrong)) => {
                *wrong += 1;
                if *wrong >= *max_wrong {
                    self.code = None;
                    QrStatus::VerifyCodeBlocked
                } else {
                    QrStatus::NeedVerifycode
                }
            }
            None => self.info.status,
        };
        self.info.status = status;
        self.said = true;
        status
    }

    fn bind_new_bot(&mut self, owner: Option<String>, bind: &dyn Fn(&Bot)) {
        let bot_id = wire::random_bot_id();
        let bot = Bot {
            token: wire::random_bot_token(&bot_id),
            owner: owner.unwrap_or_else(wire::random_user_id),
            bot_id,
        };
        bind(&bot);
        self.info.bot = Some(bot);
    }

    fn record(&mut self, host: &str, verify_code: Option<&str>, status: QrStatus) {
        self.info.polls.push(QrPoll {
            host: host.to_owned(),
            verify_code: verify_code.map(str::to_owned),
            status,
            at_ms: now_ms(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use QrStatus::*;

    fn no_bind(_: &Bot) {}

    /// Polls once at `via` and returns the status, or `None` if the poll would be held.
    fn poll(book: &QrBook, q: &str, via: Via, code: Option<&str>) -> Option<QrStatus> {
        match book
            .poll(q, via, "h", code, &no_bind)
            .expect("known qrcode")
        {
            Outcome::Answer { status, .. } => Some(status),
            Outcome::Hold(_) => None,
        }
    }

    fn statuses(book: &QrBook, q: &str, n: usize) -> Vec<Option<QrStatus>> {
        (0..n).map(|_| poll(book, q, Via::Primary, None)).collect()
    }

    #[test]
    fn manual_holds_until_the_test_acts() {
        let book = QrBook::default();
        let q = book.issue("POST", vec![], false);
        assert_eq!(poll(&book, &q, Via::Primary, None), None);
        book.scan(&q).unwrap();
        assert_eq!(statuses(&book, &q, 2), [Some(Scaned), None]);
        let bot = book.confirm(&q, &no_bind).unwrap();
        assert_eq!(statuses(&book, &q, 2), [Some(Confirmed), Some(Confirmed)]);
        assert_eq!(book.sessions()[0].bot.as_ref(), Some(&bot));
        assert!(matches!(book.scan(&q), Err(SimError::Conflict(_))));
        assert!(matches!(book.scan("nope"), Err(SimError::UnknownQrcode(_))));
    }

    #[test]
    fn scripts_say_one_status_per_poll() {
        let book = QrBook::default();
        book.set_script(QrScript::Confirm);
        let q = book.issue("POST", vec![], false);
        let got = statuses(&book, &q, 4);
        assert_eq!(
            got,
            [Some(Wait), Some(Scaned), Some(Confirmed), Some(Confirmed)]
        );

        book.set_script(QrScript::ExpireThenConfirm);
        let first = book.issue("POST", vec![], false);
        let second = book.issue("POST", vec![], false);
        assert_eq!(
            statuses(&book, &first, 3),
            [Some(Wait), Some(Expired), Some(Expired)]
        );
        assert_eq!(statuses(&book, &second, 3)[2], Some(Confirmed));

        let bound = book.issue("POST", vec!["t".into()], true);
        assert_eq!(statuses(&book, &bound, 1), [Some(BindedRedirect)]);
    }

    #[test]
    fn verify_code_accepts_the_right_code_and_blocks_after_max_wrong() {
        let book = QrBook::default();
        book.set_script(QrScript::VerifyCode {
            code: "42".into(),
            max_wrong: 2,
        });
        let q = book.issue("POST", vec![], false);
        assert_eq!(statuses(&book, &q, 2), [Some(Wait), Some(NeedVerifycode)]);
        assert_eq!(poll(&book, &q, Via::Primary, None), None);
        assert_eq!(
            poll(&book, &q, Via::Primary, Some("1")),
            Some(NeedVerifycode)
        );
        assert_eq!(poll(&book, &q, Via::Primary, Some("42")), Some(Scaned));
        assert_eq!(poll(&book, &q, Via::Primary, None), Some(Confirmed));

        let q = book.issue("POST", vec![], false);
        statuses(&book, &q, 2);
        assert_eq!(
            poll(&book, &q, Via::Primary, Some("1")),
            Some(NeedVerifycode)
        );
        assert_eq!(
            poll(&book, &q, Via::Primary, Some("2")),
            Some(VerifyCodeBlocked)
        );
        assert_eq!(
            poll(&book, &q, Via::Primary, Some("42")),
            Some(VerifyCodeBlocked)
        );
    }

    #[test]
    fn redirect_confirms_only_at_the_second_host() {
        let book = QrBook::default();
        book.set_script(QrScript::Redirect);
        let q = book.issue("POST", vec![], false);
        assert_eq!(
            statuses(&book, &q, 3),
            [Some(Wait), Some(ScanedButRedirect), Some(ScanedButRedirect)]
        );
        assert_eq!(poll(&book, &q, Via::Redirect, None), Some(Confirmed));
        assert_eq!(poll(&book, &q, Via::Primary, None), Some(ScanedButRedirect));
        assert_eq!(book.sessions()[0].status, Confirmed);
    }
}
