//! A standalone host: the built-in session resolver, an in-memory pairing store and an agent
//! that echoes. Tests and the conformance suite run channels against it without Node.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::dm::{MemoryPairingStore, PairingCode, PairingStore};
use crate::error::ChannelError;
use crate::host::{Host, Replier, ReplyPayload, StatusPatch, Turn, TurnOutcome};
use crate::session::{Route, RouteQuery, ScopeResolver, SessionKeyResolver};

/// Makes the agent's reply to a turn.
pub type Agent = dyn Fn(&Turn) -> Vec<String> + Send + Sync;

/// A host that lives in the test process.
pub struct StandaloneHost {
    pub pairing: MemoryPairingStore,
    pub resolver: ScopeResolver,
    agent: Box<Agent>,
    turns: Mutex<Vec<Turn>>,
    statuses: Mutex<Vec<(String, StatusPatch)>>,
    changed: Notify,
}

impl std::fmt::Debug for StandaloneHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandaloneHost")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl Default for StandaloneHost {
    fn default() -> Self {
        Self::new(|turn| vec![format!("echo: {}", turn.inbound.text)])
    }
}

impl StandaloneHost {
    pub fn new(agent: impl Fn(&Turn) -> Vec<String> + Send + Sync + 'static) -> Self {
        Self {
            pairing: MemoryPairingStore::new(),
            resolver: ScopeResolver::default(),
            agent: Box::new(agent),
            turns: Mutex::new(Vec::new()),
            statuses: Mutex::new(Vec::new()),
            changed: Notify::new(),
        }
    }

    pub fn turns(&self) -> Vec<Turn> {
        self.turns.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn statuses(&self) -> Vec<(String, StatusPatch)> {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the latest status report of `account` said it is connected.
    pub fn is_connected(&self, account: &str) -> bool {
        self.statuses()
            .iter()
            .rev()
            .filter(|(a, _)| a == account)
            .find_map(|(_, p)| p.connected)
            .unwrap_or(false)
    }

    /// Waits until `done` holds, re-checking on every turn or status change.
    pub async fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(self);
            }
        }
    }
}

#[async_trait::async_trait]
impl PairingStore for StandaloneHost {
    async fn read_allow_from(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Vec<String>, ChannelError> {
        self.pairing.read_allow_from(channel, account).await
    }

    async fn upsert_request(
        &self,
        channel: &str,
        account: &str,
        id: &str,
        meta: serde_json::Value,
    ) -> Result<PairingCode, ChannelError> {
        self.pairing
            .upsert_request(channel, account, id, meta)
            .await
    }

    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> Result<String, ChannelError> {
        self.pairing.reply_text(channel, id_line, code).await
    }
}

#[async_trait::async_trait]
impl SessionKeyResolver for StandaloneHost {
    async fn resolve_route(&self, query: &RouteQuery) -> Result<Route, ChannelError> {
        self.resolver.resolve_route(query).await
    }
}

#[async_trait::async_trait]
impl Host for StandaloneHost {
    async fn run_turn(
        &self,
        turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> Result<TurnOutcome, ChannelError> {
        let replies = (self.agent)(&turn);
        let mut outcome = Ok(TurnOutcome::default());
        for text in replies {
            match replier
                .reply(ReplyPayload {
                    text,
                    media: vec![],
                    kind: "final".into(),
                })
                .await
            {
                Ok(_) => {
                    if let Ok(o) = outcome.as_mut() {
                        o.replies += 1;
                    }
                }
                Err(err) => {
                    outcome = Err(err);
                    break;
                }
            }
        }
        // Recorded after the replies went out, so a test that saw the turn can expect them.
        self.turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(turn);
        self.changed.notify_waiters();
        outcome
    }

    async fn save_media(
        &self,
        file: &std::path::Path,
        _mime: &str,
        file_name: Option<&str>,
    ) -> Result<String, ChannelError> {
        let name = file_name
            .map(str::to_owned)
            .unwrap_or_else(|| format!("media-{:08x}", rand::random::<u32>()));
        let dir = std::env::temp_dir().join("imbridge-standalone-media");
        std::fs::create_dir_all(&dir)?;
        let dest = dir.join(format!("{:08x}-{name}", rand::random::<u32>()));
        std::fs::copy(file, &dest)?;
        Ok(dest.to_string_lossy().into_owned())
    }

    fn report_status(&self, _channel: &str, account: &str, patch: StatusPatch) {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((account.to_owned(), patch));
        self.changed.notify_waiters();
    }
}
