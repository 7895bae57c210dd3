//! The simulator's memory: accounts, teams, stored sends, the resend table, uploaded files, call
//! records, the fault in force and the webhook. One `std::sync::Mutex`; nobody holds it across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use super::NimOptions;
use super::types::{NimCall, NimFault, NimReceipt, NimSent, NimUpload, Pushed};

/// A V2 answer kept for resends of the same `message_client_id`.
#[derive(Debug, Clone)]
pub(crate) struct Remembered {
    pub at: Instant,
    pub data: Value,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// accid → token
    pub accounts: BTreeMap<String, String>,
    /// tid → members
    pub teams: BTreeMap<String, Vec<String>>,
    pub sent: Vec<NimSent>,
    pub receipts: Vec<NimReceipt>,
    pub calls: Vec<NimCall>,
    /// (sender, message_client_id) → first answer
    pub resends: HashMap<(String, String), Remembered>,
    /// The fault in force and how many calls it still applies to.
    pub fault: Option<(NimFault, u32)>,
    /// Files stored by `upload.action`, in order.
    pub uploads: Vec<NimUpload>,
    pub webhook: Option<String>,
    pub pushes: Vec<Pushed>,
    pub next_server_id: u64,
}

impl State {
    /// Server ids are numeric and increase, like NetEase's; they start at a random 13-digit
    /// value so ids from two runs rarely collide in a test's journal.
    pub(crate) fn server_id(&mut self) -> u64 {
        if self.next_server_id == 0 {
            self.next_server_id = rand::random_range(1_000_000_000_000..9_000_000_000_000);
        }
        self.next_server_id += 1;
        self.next_server_id
    }

    /// Uses up one call of the fault in force, if any.
    pub(crate) fn take_fault(&mut self) -> Option<NimFault> {
        let (fault, left) = self.fault.as_mut()?;
        let out = fault.clone();
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.fault = None;
        }
        Some(out)
    }

    /// The remembered answer to a resend within `window`; older entries are forgotten.
    pub(crate) fn resend(
        &mut self,
        sender: &str,
        client_id: &str,
        window: Duration,
    ) -> Option<Value> {
        self.resends.retain(|_, r| r.at.elapsed() < window);
        self.resends
            .get(&(sender.to_owned(), client_id.to_owned()))
            .map(|r| r.data.clone())
    }

    pub(crate) fn remember(&mut self, sender: &str, client_id: &str, data: Value) {
        self.resends.insert(
            (sender.to_owned(), client_id.to_owned()),
            Remembered {
                at: Instant::now(),
                data,
            },
        );
    }

    pub(crate) fn is_member(&self, tid: &str, accid: &str) -> Option<bool> {
        self.teams.get(tid).map(|m| m.iter().any(|a| a == accid))
    }
}

/// State shared by the listener and the `NimSim` handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub opts: NimOptions,
    pub app_key: String,
    pub app_secret: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    state: Mutex<State>,
    /// Set to `true` when the `NimSim` is dropped.
    pub shutdown: watch::Sender<bool>,
    /// Bumped on every stored send and every push, for the `wait_*` helpers.
    pub changed: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(
        opts: NimOptions,
        app_key: String,
        app_secret: String,
        addr: SocketAddr,
        http: reqwest::Client,
    ) -> Self {
        Self {
            opts,
            app_key,
            app_secret,
            addr,
            http,
            state: Mutex::new(State::default()),
            shutdown: watch::channel(false).0,
            changed: watch::channel(0).0,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// A random id in the 8-4-4-4-12 hex shape NetEase clients use for `msgidClient`.
pub(crate) fn uuid_like() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
