//! A standalone host: the built-in session resolver, an in-memory pairing store, an agent that
//! echoes, global functions registered by the test and a config document (in memory, or a JSON
//! file). Tests and the conformance suite run channels against it without Node, and observe
//! every global call and config write. [`ScriptedPrompter`] answers a command's questions.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::action::{ConfigEdit, Prompter, Question};
use crate::dm::{MemoryPairingStore, PairingCode, PairingStore};
use crate::error::ChannelError;
use crate::host::{Host, Replier, ReplyPayload, StatusPatch, Turn, TurnOutcome};
use crate::lock;
use crate::session::{Route, RouteQuery, ScopeResolver, SessionKeyResolver};

/// Makes the agent's reply to a turn.
pub type Agent = dyn Fn(&Turn) -> Vec<String> + Send + Sync;

/// A global function of the host (`globalThis[name]` in OpenClaw).
pub type GlobalFn = dyn Fn(&[Value]) -> Result<Value, ChannelError> + Send + Sync;

/// A host that lives in the test process.
pub struct StandaloneHost {
    pub pairing: MemoryPairingStore,
    pub resolver: ScopeResolver,
    agent: Box<Agent>,
    turns: Mutex<Vec<Turn>>,
    statuses: Mutex<Vec<(String, StatusPatch)>>,
    globals: HashMap<String, Arc<GlobalFn>>,
    global_calls: Mutex<Vec<(String, Vec<Value>)>>,
    config: Mutex<Value>,
    config_file: Option<PathBuf>,
    config_writes: Mutex<Vec<ConfigEdit>>,
    media_roots: Vec<String>,
    /// This host's media store, removed with the host.
    media_store: PathBuf,
    /// Turns never return after their replies (the process "dies" mid-turn).
    stall_after_replies: bool,
    /// Turns the host refuses before its agent runs, as OpenClaw does while its own restart
    /// recovery holds the session.
    refusals: Mutex<usize>,
    /// Every turn the host was asked to run, refused ones included.
    attempts: Mutex<Vec<Value>>,
    /// How long the agent thinks before it answers.
    answer_delay: Option<std::time::Duration>,
    /// Source ids (`MessageSidFull`) whose run the host holds for ended, as OpenClaw records
    /// them: a turn under one is answered with nothing, its agent not asked.
    ended: Mutex<HashSet<String>>,
    /// What the host tells of each turn's session: `Some(true)` while its own restart recovery
    /// owns it; `None` is a host that cannot tell.
    session_running: Option<bool>,
    /// How many more turns find their session with a run; one that asks for an idle session
    /// is held back (and counted), one that does not runs.
    busy: Mutex<usize>,
    /// Resolves each turn's route as it starts the turn, as OpenClaw's host does.
    routes_turns: bool,
    /// How often the pipeline asked for a route before a turn.
    routes_asked: AtomicUsize,
    changed: Notify,
}

impl Drop for StandaloneHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.media_store);
    }
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
            globals: HashMap::new(),
            global_calls: Mutex::new(Vec::new()),
            config: Mutex::new(Value::Object(Default::default())),
            config_file: None,
            config_writes: Mutex::new(Vec::new()),
            media_roots: Vec::new(),
            media_store: std::env::temp_dir().join(format!(
                "imbridge-standalone-media-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            )),
            stall_after_replies: false,
            refusals: Mutex::new(0),
            attempts: Mutex::new(Vec::new()),
            answer_delay: None,
            ended: Mutex::new(HashSet::new()),
            session_running: None,
            busy: Mutex::new(0),
            routes_turns: false,
            routes_asked: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    /// Holds the runs of these source ids for ended (OpenClaw records a source id when the
    /// run ends, before its answer is delivered), and tells that each turn's session has no
    /// run left: what a gateway killed between its agent's answer and the delivery leaves.
    pub fn holding_ended<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        lock(&self.ended).extend(ids.into_iter().map(Into::into));
        self.session_running = Some(false);
        self
    }

    /// Tells that every turn's session has a run its restart recovery owns (and answers).
    pub fn recovering_sessions(mut self) -> Self {
        self.session_running = Some(true);
        self
    }

    /// The next `count` turns find their session with a run (the host's restart recovery,
    /// resuming a cut-off run): those asking for an idle session are held back.
    pub fn busy_for(self, count: usize) -> Self {
        *lock(&self.busy) = count;
        self
    }

    /// Turns send their replies, then never return: what a gateway killed between a reply and
    /// the end of its turn leaves behind (the turn still pending in the journal).
    pub fn stalling_after_replies(mut self) -> Self {
        self.stall_after_replies = true;
        self
    }

    /// Resolves each turn's route itself as the turn starts, as OpenClaw's host does: turns
    /// come without one.
    pub fn routing_turns(mut self) -> Self {
        self.routes_turns = true;
        self
    }

    /// How many routes the pipeline asked for before its turns.
    pub fn routes_asked(&self) -> usize {
        self.routes_asked.load(Ordering::Relaxed)
    }

    /// The agent takes `delay` before it answers each turn.
    pub fn answering_after(mut self, delay: std::time::Duration) -> Self {
        self.answer_delay = Some(delay);
        self
    }

    /// Refuses the next `count` turns before the agent runs, with a transient error.
    pub fn refusing_turns(self, count: usize) -> Self {
        *lock(&self.refusals) = count;
        self
    }

    /// The `MessageSid` of every turn the host was asked to run, refused ones included.
    pub fn attempts(&self) -> Vec<Value> {
        lock(&self.attempts).clone()
    }

    /// Installs a global function `name` (what an operator puts on `globalThis`). A `null`
    /// result reads as "returned nothing".
    pub fn with_global(
        mut self,
        name: impl Into<String>,
        f: impl Fn(&[Value]) -> Result<Value, ChannelError> + Send + Sync + 'static,
    ) -> Self {
        self.globals.insert(name.into(), Arc::new(f));
        self
    }

    /// Keeps the config in a JSON file (created on the first write), like OpenClaw's
    /// `openclaw.json`, instead of in memory.
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Grants local attachments under `roots` to actions ([`Host::media_roots`]).
    pub fn with_media_roots<S: Into<String>>(mut self, roots: impl IntoIterator<Item = S>) -> Self {
        self.media_roots = roots.into_iter().map(Into::into).collect();
        self
    }

    /// Every `call_global` so far: the name and the arguments, installed or not.
    pub fn global_calls(&self) -> Vec<(String, Vec<Value>)> {
        lock(&self.global_calls).clone()
    }

    /// Every `set_config` so far, in order.
    pub fn config_writes(&self) -> Vec<ConfigEdit> {
        lock(&self.config_writes).clone()
    }

    /// The config document as written so far (the file's, with a config file).
    pub fn config(&self) -> Result<Value, ChannelError> {
        match &self.config_file {
            Some(path) => Ok(crate::state::read_json(path)
                .map_err(|e| ChannelError::from(e).context(path.display()))?
                .unwrap_or_else(|| Value::Object(Default::default()))),
            None => Ok(lock(&self.config).clone()),
        }
    }

    pub fn turns(&self) -> Vec<Turn> {
        lock(&self.turns).clone()
    }

    /// How many turns ran, without copying them (a benchmark polls this).
    pub fn turn_count(&self) -> usize {
        lock(&self.turns).len()
    }

    pub fn statuses(&self) -> Vec<(String, StatusPatch)> {
        lock(&self.statuses).clone()
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
        self.routes_asked.fetch_add(1, Ordering::Relaxed);
        self.resolver.resolve_route(query).await
    }
}

#[async_trait::async_trait]
impl Host for StandaloneHost {
    fn routes_turns(&self) -> bool {
        self.routes_turns
    }

    async fn run_turn(
        &self,
        mut turn: Turn,
        replier: Arc<dyn Replier>,
    ) -> Result<TurnOutcome, ChannelError> {
        if turn.route.is_none() {
            let route = self.resolver.route(&RouteQuery {
                channel: turn.inbound.channel.clone(),
                account: turn.inbound.account.clone(),
                peer_kind: turn.inbound.chat.kind,
                peer_id: turn.inbound.chat.peer().to_owned(),
            });
            turn.context["SessionKey"] = route.session_key.clone().into();
            turn.route = Some(route);
        }
        lock(&self.attempts).push(turn.context["MessageSid"].clone());
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                drop(refusals);
                self.changed.notify_waiters();
                return Err(ChannelError::transient(
                    "host turn failed: restart recovery claim changed before agent adoption",
                ));
            }
        }
        let mut session_running = self.session_running;
        {
            let mut busy = lock(&self.busy);
            if *busy > 0 {
                *busy -= 1;
                session_running = Some(true);
                if turn.if_idle {
                    drop(busy);
                    self.changed.notify_waiters();
                    return Ok(TurnOutcome {
                        session_running,
                        held_back: true,
                        ..TurnOutcome::default()
                    });
                }
            }
        }
        let source = turn.context["MessageSidFull"].as_str().unwrap_or_default();
        if lock(&self.ended).contains(source) {
            lock(&self.turns).push(turn);
            self.changed.notify_waiters();
            return Ok(TurnOutcome {
                session_running,
                ..TurnOutcome::default()
            });
        }
        if let Some(delay) = self.answer_delay {
            tokio::time::sleep(delay).await;
        }
        let replies = (self.agent)(&turn);
        let mut outcome = Ok(TurnOutcome {
            session_running,
            ..TurnOutcome::default()
        });
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
        lock(&self.turns).push(turn);
        self.changed.notify_waiters();
        if self.stall_after_replies {
            std::future::pending::<()>().await;
        }
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
        let dir = &self.media_store;
        std::fs::create_dir_all(dir)?;
        let dest = dir.join(format!("{:08x}-{name}", rand::random::<u32>()));
        std::fs::copy(file, &dest)?;
        Ok(dest.to_string_lossy().into_owned())
    }

    fn report_status(&self, _channel: &str, account: &str, patch: StatusPatch) {
        lock(&self.statuses).push((account.to_owned(), patch));
        self.changed.notify_waiters();
    }

    async fn call_global(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<Option<Value>, ChannelError> {
        lock(&self.global_calls).push((name.to_owned(), args.clone()));
        self.changed.notify_waiters();
        match self.globals.get(name) {
            Some(f) => Ok(Some(f(&args)?).filter(|v| !v.is_null())),
            None => Ok(None),
        }
    }

    async fn set_config(&self, path: &[String], value: Value) -> Result<(), ChannelError> {
        let edit = ConfigEdit::set(path.iter().cloned(), value);
        {
            // One lock for the read-modify-write, file or not.
            let mut memory = lock(&self.config);
            match &self.config_file {
                Some(file) => {
                    let mut doc = self.config()?;
                    edit.apply(&mut doc)?;
                    crate::state::write_json(file, &doc, true).map_err(|e| {
                        ChannelError::from(e).context(format!("writing {}", file.display()))
                    })?;
                }
                None => edit.apply(&mut memory)?,
            }
        }
        lock(&self.config_writes).push(edit);
        self.changed.notify_waiters();
        Ok(())
    }

    async fn media_roots(&self) -> Result<Vec<String>, ChannelError> {
        Ok(self.media_roots.clone())
    }
}

/// Answers a command's questions from a script, and records what was asked and said.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: Mutex<VecDeque<String>>,
    asked: Mutex<Vec<Question>>,
    said: Mutex<Vec<String>>,
}

impl ScriptedPrompter {
    /// Types `answers` in order, one per question.
    pub fn new<S: Into<String>>(answers: impl IntoIterator<Item = S>) -> Self {
        Self {
            answers: Mutex::new(answers.into_iter().map(Into::into).collect()),
            ..Self::default()
        }
    }

    pub fn asked(&self) -> Vec<Question> {
        lock(&self.asked).clone()
    }

    pub fn said(&self) -> Vec<String> {
        lock(&self.said).clone()
    }
}

#[async_trait::async_trait]
impl Prompter for ScriptedPrompter {
    async fn say(&self, text: &str) {
        lock(&self.said).push(text.to_owned());
    }

    async fn prompt(&self, question: &Question) -> Result<String, ChannelError> {
        lock(&self.asked).push(question.clone());
        lock(&self.answers).pop_front().ok_or_else(|| {
            ChannelError::bad_input(format!(
                "no answer to {:?}: input closed",
                question.question
            ))
        })
    }
}

/// Fails unless `err` says something: what fuzz targets and tests ask of every error that bad
/// input produces, so a user reads a cause and not an empty line.
pub fn assert_named(err: &ChannelError) {
    assert!(
        !err.message.trim().is_empty(),
        "an error without a message: {err:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn globals_and_config_writes_are_observable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("openclaw.json");
        std::fs::write(
            &file,
            r#"{"gateway":{"port":1},"channels":{"c":{"dmPolicy":"open"}}}"#,
        )
        .expect("seed");
        let host = StandaloneHost::default()
            .with_global("__refresh", |args| {
                Ok(json!({"token": format!("t-{}", args[0].as_str().unwrap_or_default())}))
            })
            .with_global("__nothing", |_| Ok(Value::Null))
            .with_config_file(&file);
        assert_eq!(
            host.call_global("__refresh", vec![json!("a1")])
                .await
                .expect("call"),
            Some(json!({"token": "t-a1"}))
        );
        assert_eq!(
            host.call_global("__missing", vec![]).await.expect("call"),
            None
        );
        assert_eq!(
            host.call_global("__nothing", vec![]).await.expect("call"),
            None
        );
        assert_eq!(host.global_calls().len(), 3);

        let path: Vec<String> = ["channels", "c", "accounts", "a1", "token"]
            .map(String::from)
            .into();
        host.set_config(&path, json!("t-a1")).await.expect("write");
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        assert_eq!(written["channels"]["c"]["accounts"]["a1"]["token"], "t-a1");
        assert_eq!(
            written["channels"]["c"]["dmPolicy"], "open",
            "the rest is untouched"
        );
        assert_eq!(written["gateway"]["port"], 1);
        assert_eq!(
            host.config_writes()[0].dotted(),
            "channels.c.accounts.a1.token"
        );

        let memory = StandaloneHost::default();
        memory.set_config(&path, json!("x")).await.expect("write");
        assert_eq!(
            memory.config().expect("config")["channels"]["c"]["accounts"]["a1"]["token"],
            "x"
        );
    }

    #[tokio::test]
    async fn a_script_answers_in_order_then_runs_dry() {
        let ui = ScriptedPrompter::new(["", "tok"]);
        let url = Question::new("URL").with_default("http://d");
        assert_eq!(ui.ask(&url).await.expect("default"), "http://d");
        assert_eq!(
            ui.ask(&Question::new("Token").secret())
                .await
                .expect("typed"),
            "tok"
        );
        let err = ui.ask(&url).await.expect_err("no more answers");
        assert!(err.message.contains("URL"), "{err}");
        ui.say("done").await;
        assert_eq!(ui.said(), ["done"]);
        assert_eq!(ui.asked().len(), 3);
    }
}
