//! The one-directional inbound flow every channel shares: dedup → DM or group gate → host.
//!
//! A channel decodes and normalizes wire frames, then calls [`Pipeline::accept`] (or
//! [`Pipeline::accept_many`] for what one read brought). Once it returns, the messages are
//! durable (journaled as pending, one fsync for the lot) and the channel may advance its cursor.
//! Turns run off the receive loop, one at a time per peer, so a slow agent turn neither stalls
//! polling (which makes servers redeliver) nor reorders one peer's messages.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dedup::{Admit, GroupCommit, Journal, Window};
use crate::dm::{self, DmConfig, DropReason, Verdict};
use crate::error::{ChannelError, ErrorKind};
use crate::group::{GroupConfig, GroupDrop, GroupVerdict};
use crate::handover::{self, Handover};
use crate::host::{Host, Replier, ReplyPayload, StatusPatch, Turn, TurnOutcome, msg_context};
use crate::live::LiveEntry;
use crate::lock;
use crate::message::{ChatKind, Fetched, Inbound, Media, Outbound, Receipt, Sender, Target};
use crate::now_ms;
use crate::session::RouteQuery;

/// Sends on behalf of one account (the channel's `send`, bound to the account).
#[async_trait::async_trait]
pub trait Outlet: Send + Sync {
    async fn send(&self, target: &Target, message: &Outbound) -> Result<Receipt, ChannelError>;

    async fn typing(&self, _target: &Target, _active: bool) -> Result<(), ChannelError> {
        Ok(())
    }

    async fn fetch_media(&self, media: &Media) -> Result<Fetched, ChannelError> {
        Err(ChannelError::permanent(format!(
            "cannot fetch {} attachments",
            media.kind
        )))
    }

    /// The agent is done with `inbound` (see [`crate::Channel::handled`]).
    async fn handled(&self, _inbound: &Inbound) -> Result<(), ChannelError> {
        Ok(())
    }

    /// How many of a turn's blocks may go to `target` one by one (see
    /// [`crate::Channel::block_budget`]).
    async fn block_budget(&self, _target: &Target) -> Option<usize> {
        None
    }
}

/// How long a reply already on the wire may take to finish once the account stops.
const SEND_STOP_GRACE: Duration = Duration::from_secs(2);
/// How long telling the peer a message was handled (a read receipt) may take.
const HANDLED_TIMEOUT: Duration = Duration::from_secs(10);
/// How often "typing…" is renewed while a turn runs; indicators expire after a few seconds.
const TYPING_EVERY: Duration = Duration::from_secs(5);
/// When a turn the host refused before its agent answered is tried again (OpenClaw refuses
/// turns while its own restart recovery holds the session, for some seconds after a start).
/// After the last one the peer's next messages go ahead, and the turn is tried again every
/// [`LATE_RETRY`] while its deadline (`turnTimeoutSeconds`) lasts; past that it stays pending
/// in the journal, for the account's next start.
const TURN_RETRIES: [Duration; 4] = [
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(30),
];
/// The pause between later tries of a turn the host kept refusing.
const LATE_RETRY: Duration = Duration::from_secs(120);
/// How long a turn waits while its session has a run (OpenClaw's restart recovery resumes a
/// cut-off run for some seconds after a start), asking again every [`SESSION_POLL`]. Handed
/// over into a busy session, the message would join that run or wait in the host's memory,
/// where the next kill loses it; past this wait it is handed over all the same.
const SESSION_WAIT: Duration = Duration::from_secs(300);
const SESSION_POLL: Duration = Duration::from_secs(1);
/// How long a replay the host answered with nothing, after its restart recovery held the
/// session, waits for that recovery's own delivery before the agent is asked again.
const HOST_ANSWER_GRACE: Duration = Duration::from_secs(5);

/// Accepted turns not finished yet, across all peers of an account. Past it, `accept` waits
/// for a turn to finish: the channel then stops reading, and the server keeps the rest (a
/// network redelivers what a client has not taken), instead of this process holding them.
/// Well below the journal's window, which never evicts a pending entry.
///
/// One exception: a start that replays turns does not wait before the account first reports
/// connected. Replays wait for that report, and so do the turns queued behind them; where the
/// report follows a catch-up (OpenIM), a catch-up that waited for them would never end. Until
/// then this process holds what the catch-up reads, which the server bounds.
pub const MAX_PENDING_TURNS: usize = 5_000;

/// How many starts may replay one unfinished turn. A turn still pending after that many is
/// one that kills or hangs the host each time (or a host that never takes it): it is given up,
/// loudly, so it cannot block its peer on every start for ever.
pub const MAX_REPLAY_STARTS: u32 = 5;

/// The turn keys every channel reads, at the channel level and in each `accounts.<id>`
/// (flattened into the channel's config type).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnKeys {
    /// Longest time one agent turn may take before the peer's next message goes ahead, in
    /// seconds. Default 1800. A reply that comes later is still delivered.
    #[schemars(range(min = TurnKeys::MIN_SECONDS, max = TurnKeys::MAX_SECONDS))]
    pub turn_timeout_seconds: Option<u64>,
    /// How replies stream while the agent writes them.
    pub streaming: Option<StreamingKeys>,
}

/// `streaming`, with OpenClaw's key names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamingKeys {
    /// Block streaming: a long answer goes out in blocks as the agent writes it.
    pub block: Option<BlockStreamingKeys>,
}

/// `streaming.block`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockStreamingKeys {
    /// Send a long answer in blocks as the agent writes it. Default true; false sends it
    /// whole once it is complete. On WeChat at most three blocks go out one by one, and only
    /// while the peer's window keeps room for the rest.
    pub enabled: Option<bool>,
    /// How the host merges streamed text into blocks (read by OpenClaw itself); the channel
    /// has defaults of its own.
    pub coalesce: Option<CoalesceKeys>,
}

/// `streaming.block.coalesce`, read by OpenClaw.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoalesceKeys {
    /// Send a block once it has this many characters.
    #[schemars(range(min = 1))]
    pub min_chars: Option<u32>,
    /// Send a block before it grows past this many characters.
    #[schemars(range(min = 1))]
    pub max_chars: Option<u32>,
    /// Send what is buffered after this many milliseconds without new text.
    #[schemars(range(min = 0))]
    pub idle_ms: Option<u32>,
}

/// What the turn keys say for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnSettings {
    /// `turnTimeoutSeconds`.
    pub timeout: Duration,
    /// `streaming.block.enabled`, default true.
    pub block_streaming: bool,
}

impl TurnKeys {
    /// The default deadline of a turn: far past any answer a person waits for, short enough
    /// that a host that never answers does not silence the peer for the day.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
    /// Bounds of `turnTimeoutSeconds`: ten seconds, two days.
    pub const MIN_SECONDS: u64 = 10;
    pub const MAX_SECONDS: u64 = 172_800;

    /// The account's deadline: its own key, else the channel's, else the default.
    pub fn layered(channel: &TurnKeys, account: Option<&TurnKeys>) -> Duration {
        account
            .and_then(|a| a.turn_timeout_seconds)
            .or(channel.turn_timeout_seconds)
            .map_or(Self::DEFAULT_TIMEOUT, Duration::from_secs)
    }

    /// Whether blocks stream: the account's `streaming.block.enabled`, else the channel's,
    /// else yes.
    fn block_streaming(channel: &TurnKeys, account: Option<&TurnKeys>) -> bool {
        let enabled = |keys: &TurnKeys| keys.streaming.as_ref()?.block.as_ref()?.enabled;
        account
            .and_then(enabled)
            .or_else(|| enabled(channel))
            .unwrap_or(true)
    }

    /// Reads the keys of `section` (a `channels.<id>` value) and of its `accounts.<account>`,
    /// naming the path of a bad value.
    pub fn resolve(
        what: &str,
        section: &serde_json::Value,
        account: &str,
    ) -> Result<TurnSettings, ChannelError> {
        if !section.is_object() {
            return Ok(TurnSettings {
                timeout: Self::DEFAULT_TIMEOUT,
                block_streaming: true,
            });
        }
        let checked = |at: &str, value: &serde_json::Value| {
            let keys: TurnKeys = crate::config::parse_config(at, value)?;
            match keys.turn_timeout_seconds {
                Some(seconds) if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) => {
                    Err(ChannelError::bad_input(format!(
                        "{at}.turnTimeoutSeconds: must be between {} and {}, got {seconds}",
                        Self::MIN_SECONDS,
                        Self::MAX_SECONDS
                    )))
                }
                _ => Ok(keys),
            }
        };
        let top = checked(what, section)?;
        let own = match section.get("accounts").and_then(|a| a.get(account)) {
            Some(value) if value.is_object() => {
                Some(checked(&format!("{what}.accounts.{account}"), value)?)
            }
            _ => None,
        };
        Ok(TurnSettings {
            timeout: Self::layered(&top, own.as_ref()),
            block_streaming: Self::block_streaming(&top, own.as_ref()),
        })
    }
}

/// When a reply whose send failed for a passing reason is sent again, under the same client id
/// (the channel's send log, or the network's own dedup of that id, keeps it single).
const SEND_RETRIES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
];

/// What [`Pipeline::accept`] did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Queued for the agent.
    Dispatched,
    /// Seen before; dropped.
    Duplicate,
    /// Unknown sender under `pairing`. `replied` is false when the code was already sent earlier;
    /// true when the reply with the code is on its way.
    Paired { code: String, replied: bool },
    /// Refused by the DM gate.
    Dropped(DropReason),
    /// Refused by the group gate.
    GroupDropped(GroupDrop),
}

/// Settings of one account's pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub channel: String,
    pub account: String,
    /// How the sender's id is introduced in a pairing reply, e.g. "Your WeChat id".
    pub id_label: String,
    pub dm: DmConfig,
    pub group: GroupConfig,
    pub journal: PathBuf,
    pub window: Window,
    /// How long one turn may run in the host (`turnTimeoutSeconds`).
    pub turn_timeout: Duration,
    /// Replies stream in blocks (`streaming.block.enabled`).
    pub block_streaming: bool,
    /// Unfinished turns held at most ([`MAX_PENDING_TURNS`]).
    pub max_pending_turns: usize,
}

/// A message for a peer's worker.
#[derive(Debug)]
struct Work {
    inbound: Inbound,
    /// Set when an earlier run accepted it but never finished: how many starts replayed it,
    /// this one included.
    replay: Option<u32>,
    /// The replies a cut-off run of this turn produced (recorded before they were sent).
    recorded: Vec<ReplyPayload>,
    /// Host attempts made before (each gets a `MessageSid` of its own), and when the first
    /// refusal came, for a turn tried again later.
    tried: Option<(usize, tokio::time::Instant)>,
    /// Its place among the account's [`MAX_PENDING_TURNS`], given back when the turn ends.
    slot: Option<OwnedSemaphorePermit>,
}

/// Messages accepted one at a time whose journal lines share one fsync: [`Batch::accept`]
/// gives each outcome at once; the outcomes are durable, and the accepted turns queued, once
/// [`Batch::commit`] returns. For a channel that must act on each outcome before the next
/// message (WeChat notes each message's context token); others use
/// [`Pipeline::accept_many`].
#[derive(Debug)]
pub struct Batch {
    pipeline: Arc<Pipeline>,
    staged: Staged,
}

impl Batch {
    /// Dedup and gate one message; its line is written, not yet durable.
    pub async fn accept(&mut self, inbound: Inbound) -> Result<Accepted, ChannelError> {
        self.pipeline.stage(inbound, &mut self.staged).await
    }

    /// Makes every outcome durable, then queues the accepted turns in order.
    pub async fn commit(mut self) -> Result<(), ChannelError> {
        let staged = std::mem::take(&mut self.staged);
        self.pipeline.commit(staged).await
    }
}

impl Drop for Batch {
    /// A batch dropped before its commit (its reader cancelled) still queues its turns.
    fn drop(&mut self) {
        drop(Queued {
            pipeline: &self.pipeline,
            work: std::mem::take(&mut self.staged.work),
        });
    }
}

/// Accepted turns, queued when this is dropped, however the code holding them ends: a reader
/// cancelled before its batch's commit, or during its fsync (a `select!` whose other branch
/// won). Their lines are in the journal, which would drop the server's redelivery as a
/// duplicate, so a turn not queued now would wait for the next start of the account.
struct Queued<'a> {
    pipeline: &'a Arc<Pipeline>,
    work: Vec<Work>,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        for work in std::mem::take(&mut self.work) {
            self.pipeline.enqueue(work);
        }
    }
}

/// What a batch wrote and holds until its commit.
#[derive(Debug, Default)]
struct Staged {
    /// The journal's line count after the batch's last line, if it wrote one.
    written: Option<u64>,
    /// Accepted turns, queued once their lines are durable.
    work: Vec<Work>,
}

impl Staged {
    /// The commit waits for every line `journal` holds unsynced now.
    fn wait_for(&mut self, journal: &Journal) {
        if journal.synced() < journal.written() {
            self.written = Some(journal.written());
        }
    }
}

/// The ids one attempt of a turn goes to the host under. OpenClaw drops a `MessageSid` it has
/// seen (or still runs) as a duplicate, and one whose source id (`MessageSidFull`) belongs to a
/// run that ended; a turn cut short by a restart, or refused, must run again, so each attempt
/// gets a `MessageSid` of its own, and a rerun also a source id of its own (per start, so that
/// a rerun cut short is rerun again). Replies keep their stable ids, so nothing that already
/// went out goes out twice.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttemptIds {
    sid: String,
    /// Replaces the server id as the source id; `None` keeps it.
    source: Option<String>,
}

impl AttemptIds {
    fn new(id: &str, replay: Option<u32>, rerun: bool, attempt: usize) -> Self {
        let (base, source) = match (replay, rerun) {
            (Some(start), true) => {
                let base = format!("{id}:rerun{start}");
                (base.clone(), Some(base))
            }
            (Some(_), false) => (format!("{id}:replay"), None),
            (None, _) => (id.to_owned(), None),
        };
        let sid = match attempt {
            0 => base,
            n => format!("{base}:retry{n}"),
        };
        Self { sid, source }
    }
}

/// How long a peer's worker waits for another message before it exits.
const PEER_IDLE: Duration = Duration::from_secs(30);

/// The inbound pipeline of one running account.
pub struct Pipeline {
    config: PipelineConfig,
    journal: GroupCommit,
    host: Arc<dyn Host>,
    outlet: Arc<dyn Outlet>,
    peers: Mutex<HashMap<String, mpsc::UnboundedSender<Work>>>,
    /// Slots of unfinished turns; `accept` waits for one.
    slots: Arc<Semaphore>,
    /// This start replays turns of an earlier run: until connected, `accept` does not wait for
    /// a slot (see [`MAX_PENDING_TURNS`]).
    replaying: bool,
    /// Set once reading went past the limit for that reason (logged once).
    overdrawn: AtomicBool,
    tasks: TaskTracker,
    cancel: CancellationToken,
    /// Set once the account first reported connected: replays wait for it, because their
    /// replies need the connection (and would fail, or wait out a send timeout, before it).
    connected: watch::Sender<bool>,
    /// Replays whose cut-off run the host's restart recovery may answer itself.
    handover: Handover,
    /// How the outbound path finds this pipeline, until [`Pipeline::close`].
    reachable: Mutex<Option<LiveEntry<Weak<Pipeline>>>>,
    /// When `lastInboundAt` and `lastOutboundAt` were last reported (by [`Activity`]).
    reported_activity: [AtomicI64; 2],
}

/// A message that moves `lastInboundAt` or `lastOutboundAt`.
#[derive(Debug, Clone, Copy)]
enum Activity {
    Inbound = 0,
    Outbound = 1,
}

/// `lastInboundAt` and `lastOutboundAt` move at most this often.
const ACTIVITY_EVERY_MS: i64 = 1_000;

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("channel", &self.config.channel)
            .field("account", &self.config.account)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Opens the journal and re-queues turns that a previous run accepted but never finished.
    pub fn open(
        config: PipelineConfig,
        host: Arc<dyn Host>,
        outlet: Arc<dyn Outlet>,
        cancel: CancellationToken,
    ) -> Result<Arc<Self>, ChannelError> {
        let mut journal = Journal::open(&config.journal, config.window)
            .map_err(|e| ChannelError::from(e).context("opening the dedup journal"))?;
        let pending = Self::starting_replays(&config, &mut journal)
            .map_err(|e| ChannelError::from(e).context("writing the dedup journal"))?;
        let slots = Arc::new(Semaphore::new(config.max_pending_turns.max(1)));
        let pipeline = Arc::new(Self {
            config,
            journal: GroupCommit::new(journal),
            host,
            outlet,
            peers: Mutex::new(HashMap::new()),
            slots: Arc::clone(&slots),
            replaying: !pending.is_empty(),
            overdrawn: AtomicBool::new(false),
            tasks: TaskTracker::new(),
            cancel,
            connected: watch::Sender::new(false),
            handover: Handover::default(),
            reachable: Mutex::new(None),
            reported_activity: [AtomicI64::new(i64::MIN), AtomicI64::new(i64::MIN)],
        });
        *lock(&pipeline.reachable) = Some(handover::register(&pipeline.config.journal, &pipeline));
        if !pending.is_empty() {
            tracing::info!(
                channel = %pipeline.config.channel,
                account = %pipeline.config.account,
                count = pending.len(),
                "replaying turns left unfinished by the previous run"
            );
        }
        for (inbound, recorded, start) in pending {
            // A peer's oldest replay is the turn the host may be recovering: from now on, not
            // only once its worker gets to it.
            pipeline
                .handover
                .wait_if_first(&inbound.chat.id, &inbound.server_id);
            // What the cut-off run already streamed to the peer: the host's restart recovery
            // may answer with it again, and the peer must not get it twice.
            if recorded.iter().all(|r| r.kind != "final") {
                let streamed: Vec<&str> = recorded.iter().map(|r| r.text.as_str()).collect();
                pipeline
                    .handover
                    .streamed(&inbound.chat.id, &streamed.join("\n\n"));
            }
            pipeline.enqueue(Work {
                inbound,
                replay: Some(start),
                recorded,
                tried: None,
                // Replays were accepted by an earlier run: they take a slot when one is free,
                // and never wait for one (open is not the place to block).
                slot: Arc::clone(&slots).try_acquire_owned().ok(),
            });
        }
        Ok(pipeline)
    }

    /// The unfinished turns this start replays, each counted as started once more; those
    /// already replayed by [`MAX_REPLAY_STARTS`] starts are given up and marked done.
    fn starting_replays(
        config: &PipelineConfig,
        journal: &mut Journal,
    ) -> std::io::Result<Vec<(Inbound, Vec<ReplyPayload>, u32)>> {
        let mut replays = Vec::new();
        for (inbound, recorded, starts) in journal.pending_with_starts() {
            if starts >= MAX_REPLAY_STARTS {
                tracing::error!(
                    channel = %config.channel,
                    account = %config.account,
                    id = %inbound.server_id,
                    peer = %inbound.chat.id,
                    starts,
                    "giving up on a turn that {starts} starts replayed without finishing (it may crash or hang the host); the peer's later messages go ahead"
                );
                journal.complete(&inbound.server_id)?;
                continue;
            }
            journal.started(&inbound.server_id)?;
            replays.push((inbound, recorded, starts + 1));
        }
        Ok(replays)
    }

    pub fn channel(&self) -> &str {
        &self.config.channel
    }

    pub fn account(&self) -> &str {
        &self.config.account
    }

    /// The host this pipeline hands turns to; a running channel reaches the host's other
    /// services (global functions, config writes) through it.
    pub fn host(&self) -> Arc<dyn Host> {
        Arc::clone(&self.host)
    }

    pub fn report_status(&self, patch: StatusPatch) {
        if patch.connected == Some(true) {
            self.connected.send_replace(true);
        }
        self.host
            .report_status(&self.config.channel, &self.config.account, patch);
    }

    /// Reports the time of the latest inbound or outbound message, to the second: a patch per
    /// message was a round trip into the host (JS) per message, for a time shown in seconds.
    fn report_activity(&self, activity: Activity) {
        let now = now_ms();
        let last = &self.reported_activity[activity as usize];
        if now.saturating_sub(last.load(Ordering::Relaxed)) < ACTIVITY_EVERY_MS {
            return;
        }
        last.store(now, Ordering::Relaxed);
        let mut patch = StatusPatch::default();
        match activity {
            Activity::Inbound => patch.last_inbound_at = Some(now),
            Activity::Outbound => patch.last_outbound_at = Some(now),
        }
        self.report_status(patch);
    }

    /// Dedup, gate, and queue one message. Returns once the outcome is durable.
    pub async fn accept(self: &Arc<Self>, inbound: Inbound) -> Result<Accepted, ChannelError> {
        let mut outcomes = self.accept_many(vec![inbound]).await?;
        Ok(outcomes.pop().unwrap_or(Accepted::Duplicate))
    }

    /// Dedup, gate and queue messages in their order, with one fsync of the journal for all
    /// of them (shared with whatever else this account wrote meanwhile). Returns once every
    /// outcome is durable, the outcomes in the same order.
    ///
    /// On an error nothing of the batch counts as acknowledged, yet what was journaled before
    /// it is still queued: the journal would drop its redelivery as a duplicate.
    pub async fn accept_many(
        self: &Arc<Self>,
        batch: Vec<Inbound>,
    ) -> Result<Vec<Accepted>, ChannelError> {
        let mut open = self.batch();
        let mut outcomes = Vec::with_capacity(batch.len());
        for inbound in batch {
            match open.accept(inbound).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(err) => {
                    // Best effort: the error that stopped the batch is the one to report.
                    let _ = open.commit().await;
                    return Err(err);
                }
            }
        }
        open.commit().await.map(|()| outcomes)
    }

    /// A batch whose messages are accepted one by one (each outcome known at once), and made
    /// durable and queued together by [`Batch::commit`].
    pub fn batch(self: &Arc<Self>) -> Batch {
        Batch {
            pipeline: Arc::clone(self),
            staged: Staged::default(),
        }
    }

    /// Dedup and gate one message of a batch: its journal line written (not yet synced), its
    /// turn held in `staged` until [`Pipeline::commit`].
    async fn stage(
        self: &Arc<Self>,
        mut inbound: Inbound,
        staged: &mut Staged,
    ) -> Result<Accepted, ChannelError> {
        let id = inbound.server_id.clone();
        if id.trim().is_empty() {
            // Every id-less message would share one dedup key: all but the first would be
            // dropped as redeliveries of it.
            return Err(ChannelError::bad_input(format!(
                "a message from {} in {} has no message id, so it cannot be told from a redelivery",
                inbound.sender.id, inbound.chat.id
            )));
        }
        {
            let journal = self.journal.lock();
            if journal.contains(&id) {
                // Its first copy may still wait for its fsync: the duplicate is acknowledged
                // only with it.
                staged.wait_for(&journal);
                tracing::debug!(channel = %self.config.channel, account = %self.config.account, id, "dropping redelivered message");
                return Ok(Accepted::Duplicate);
            }
        }
        self.report_activity(Activity::Inbound);
        let verdict = match inbound.chat.kind {
            ChatKind::Direct => {
                dm::decide(
                    &self.config.channel,
                    &self.config.account,
                    &self.config.dm,
                    &inbound.sender.id,
                    self.host.as_ref(),
                )
                .await?
            }
            ChatKind::Group => match self.config.group.decide(
                &self.config.channel,
                &inbound.chat.id,
                &inbound.sender.id,
                inbound.was_mentioned,
            ) {
                GroupVerdict::Allow { command_authorized } => {
                    inbound.command_authorized = command_authorized;
                    Verdict::Allow
                }
                GroupVerdict::Drop(reason) => {
                    self.admit(staged, |j| j.admit_unsynced(&id))?;
                    tracing::info!(channel = %self.config.channel, account = %self.config.account, group = %inbound.chat.id, ?reason, "group message not for the agent (groupPolicy, groups, groupAllowFrom, requireMention)");
                    return Ok(Accepted::GroupDropped(reason));
                }
            },
        };
        if inbound.chat.kind == ChatKind::Direct {
            // The DM gate lets only listed senders (or everyone, by "*") through.
            inbound.command_authorized = true;
        }
        match verdict {
            Verdict::Allow => {
                let slot = match self.free_slot() {
                    Some(slot) => Some(slot),
                    None => {
                        // Slots come back as turns end, and the staged ones cannot end
                        // before they are queued.
                        self.commit(std::mem::take(staged)).await?;
                        self.slot().await?
                    }
                };
                if self.admit(staged, |j| j.admit_pending_unsynced(&inbound))? == Admit::Duplicate {
                    return Ok(Accepted::Duplicate);
                }
                staged.work.push(Work {
                    inbound,
                    replay: None,
                    recorded: Vec::new(),
                    tried: None,
                    slot,
                });
                Ok(Accepted::Dispatched)
            }
            Verdict::Pair => {
                if self.admit(staged, |j| j.admit_unsynced(&id))? == Admit::Duplicate {
                    return Ok(Accepted::Duplicate);
                }
                // The code goes out at once: what it answers must be durable first.
                self.commit(std::mem::take(staged)).await?;
                self.pair(&inbound).await
            }
            Verdict::Drop(reason) => {
                self.admit(staged, |j| j.admit_unsynced(&id))?;
                tracing::info!(channel = %self.config.channel, account = %self.config.account, ?reason, "DM refused by dmPolicy");
                Ok(Accepted::Dropped(reason))
            }
        }
    }

    /// Makes the staged lines durable, then queues the staged turns in order. The turns are
    /// queued even when the fsync fails, or when this future is dropped during it (the fsync
    /// itself goes on, on the blocking pool): see [`Queued`].
    async fn commit(self: &Arc<Self>, staged: Staged) -> Result<(), ChannelError> {
        let queued = Queued {
            pipeline: self,
            work: staged.work,
        };
        let durable = match staged.written {
            Some(upto) => self.journal.durable(upto).await,
            None => Ok(()),
        };
        drop(queued);
        durable.map_err(|e| ChannelError::from(e).context("writing the dedup journal"))
    }

    /// A slot for one more unfinished turn, if one is free now.
    fn free_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// A slot for one more unfinished turn, waiting while [`MAX_PENDING_TURNS`] are taken;
    /// none, without waiting, while replays wait for the connection.
    async fn slot(&self) -> Result<Option<OwnedSemaphorePermit>, ChannelError> {
        if let Some(slot) = self.free_slot() {
            return Ok(Some(slot));
        }
        if self.replaying && !*self.connected.borrow() {
            // The slots are held by replays (or turns queued behind them) that cannot finish
            // before the connection, which may wait for this very read.
            if !self.overdrawn.swap(true, Ordering::Relaxed) {
                tracing::warn!(channel = %self.config.channel, account = %self.config.account, limit = self.config.max_pending_turns, "past the unfinished-turn limit while replayed turns wait for the connection; reading goes on until connected");
            }
            return Ok(None);
        }
        tracing::warn!(channel = %self.config.channel, account = %self.config.account, limit = self.config.max_pending_turns, "too many unfinished turns; reading waits until some finish");
        tokio::select! {
            () = self.cancel.cancelled() => Err(ChannelError::transient("the account is stopping")),
            slot = Arc::clone(&self.slots).acquire_owned() => {
                slot.map(Some).map_err(|_| ChannelError::transient("the account is stopping"))
            }
        }
    }

    /// Writes one journal line of a batch, to be synced by its commit.
    fn admit(
        &self,
        staged: &mut Staged,
        op: impl FnOnce(&mut Journal) -> std::io::Result<Admit>,
    ) -> Result<Admit, ChannelError> {
        let mut journal = self.journal.lock();
        let admitted = op(&mut journal)
            .map_err(|e| ChannelError::from(e).context("writing the dedup journal"))?;
        staged.wait_for(&journal);
        Ok(admitted)
    }

    async fn pair(self: &Arc<Self>, inbound: &Inbound) -> Result<Accepted, ChannelError> {
        let sender = &inbound.sender.id;
        let meta = serde_json::json!({ "name": inbound.sender.name });
        let code = self
            .host
            .upsert_request(&self.config.channel, &self.config.account, sender, meta)
            .await?;
        if !code.created {
            return Ok(Accepted::Paired {
                code: code.code,
                replied: false,
            });
        }
        let id_line = format!("{}: {sender}", self.config.id_label);
        let text = self
            .host
            .reply_text(&self.config.channel, &id_line, &code.code)
            .await?;
        let target = inbound.chat.target();
        let message = Outbound {
            text,
            in_reply_to_inbound: Some(inbound.server_id.clone()),
            asker: Some(inbound.sender.clone()),
            client_id: Some(format!("pairing:{}", inbound.server_id)),
            ..Outbound::default()
        };
        // Sent beside the receive loop, not in it: a channel that is still catching up cannot
        // send yet, and waiting here would stall the catch-up that must finish first.
        let pipeline = Arc::clone(self);
        self.tasks.spawn(async move {
            let sent = tokio::select! {
                () = pipeline.cancel.cancelled() => return,
                sent = pipeline.outlet.send(&target, &message) => sent,
            };
            if let Err(err) = sent {
                tracing::warn!(channel = %pipeline.config.channel, account = %pipeline.config.account, %err, "could not send the pairing code");
            }
        });
        Ok(Accepted::Paired {
            code: code.code,
            replied: true,
        })
    }

    /// Hands a message to its peer's worker, starting one if needed.
    fn enqueue(self: &Arc<Self>, work: Work) {
        let peer = work.inbound.chat.id.to_lowercase();
        let mut peers = lock(&self.peers);
        let work = match peers.get(&peer) {
            Some(queue) => match queue.send(work) {
                Ok(()) => return,
                Err(mpsc::error::SendError(work)) => work,
            },
            None => work,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(work);
        peers.insert(peer.clone(), tx);
        self.tasks.spawn(Arc::clone(self).peer_worker(peer, rx));
    }

    async fn peer_worker(self: Arc<Self>, peer: String, mut rx: mpsc::UnboundedReceiver<Work>) {
        loop {
            let next = tokio::select! {
                () = self.cancel.cancelled() => return,
                next = tokio::time::timeout(PEER_IDLE, rx.recv()) => next,
            };
            match next {
                Ok(Some(work)) => self.finish_turn(work).await,
                Ok(None) => return,
                Err(_idle) => {
                    // Senders push under the same lock, so nothing can slip in between the
                    // emptiness check and the removal.
                    let mut peers = lock(&self.peers);
                    if rx.is_empty() {
                        peers.remove(&peer);
                        return;
                    }
                }
            }
        }
    }

    async fn finish_turn(self: &Arc<Self>, work: Work) {
        let id = work.inbound.server_id.clone();
        if work.replay.is_some() {
            let mut connected = self.connected.subscribe();
            tokio::select! {
                // Still pending in the journal: the next run replays it.
                () = self.cancel.cancelled() => return,
                _ = connected.wait_for(|up| *up) => {}
            }
            // What the agent already answered goes out first (pieces that went out before are
            // recognised in the send log): the host may consider this turn finished and answer
            // the replay with nothing.
            if !work.recorded.is_empty() {
                let replier = self.replier(&work.inbound);
                for payload in work.recorded.iter().cloned() {
                    let sent = tokio::select! {
                        () = self.cancel.cancelled() => return,
                        // As recorded: each went out (or was about to) as it is, under its
                        // index, so the send log recognises it; no block budget applies.
                        sent = replier.send(payload) => sent,
                    };
                    if let Err(err) = sent {
                        tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, "a recorded reply could not be delivered");
                    }
                }
                // A send cut short by the stop failed for that reason only.
                if *lock(&replier.undelivered) || self.cancel.is_cancelled() {
                    tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, "recorded replies still cannot be sent; the turn stays pending for the next start");
                    return;
                }
                // The agent's final answer was recorded: the run had ended, and running it again
                // would ask the agent a second time (OpenClaw may also answer a turn it holds
                // for finished with its "couldn't produce a reply" notice).
                if work.recorded.iter().any(|r| r.kind == "final") {
                    tracing::info!(channel = %self.config.channel, account = %self.config.account, id, replies = work.recorded.len(), "replayed turn finished from its recorded answer");
                    self.complete(&id);
                    return;
                }
            }
        }
        let mut inbound = work.inbound;
        tokio::select! {
            () = self.cancel.cancelled() => return,
            () = self.materialize_media(&mut inbound) => {}
        }
        let answered_before = !work.recorded.is_empty();
        let (mut attempt, first_refused) = work
            .tried
            .unwrap_or_else(|| (0, tokio::time::Instant::now()));
        // A later try gets no quick retries of its own: it comes back after LATE_RETRY.
        let mut retries = TURN_RETRIES[TURN_RETRIES.len().min(attempt)..].iter();
        let mut rerun = false;
        // Whether the session was seen with a run, and how long this turn waited for it.
        let mut saw_running = false;
        let mut waited = Duration::ZERO;
        let session_wait = SESSION_WAIT.min(self.config.turn_timeout);
        let _waiting = work
            .replay
            .map(|_| self.handover.hold(&inbound.chat.id, &id));
        // One indicator for all attempts, held-back polls and retry pauses included: one per
        // attempt would switch it off and on every second while the session is busy.
        let _typing = self.show_typing(inbound.chat.target()).drop_guard();
        loop {
            // The host's restart recovery delivered this replay's answer itself.
            if self.handover.take_answered(&id) {
                return;
            }
            let replier = self.replier(&inbound);
            let ids = AttemptIds::new(&inbound.server_id, work.replay, rerun, attempt);
            let if_idle = waited < session_wait;
            let outcome = tokio::select! {
                // Left pending in the journal: the next run replays it.
                () = self.cancel.cancelled() => return,
                outcome = self.turn(inbound.clone(), ids, if_idle, Arc::clone(&replier)) => outcome,
            };
            // The host task may notice the stop first and answer "stopping", which must not
            // count as a turn that failed after replying: pending, like any other cut-off turn.
            if outcome.is_err() && self.cancel.is_cancelled() {
                return;
            }
            let replied = answered_before || *lock(&replier.answered) > 0;
            if *lock(&replier.undelivered) {
                // The agent answered, the network would not take the answer: not done, so the
                // next start sends what was recorded (and does not ask the agent again).
                tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, "a reply could not be sent; the turn stays pending and its recorded replies go out when the account next starts");
                return;
            }
            match outcome {
                Ok(outcome) if outcome.held_back => {
                    saw_running = true;
                    if waited.is_zero() {
                        tracing::info!(channel = %self.config.channel, account = %self.config.account, id, "the conversation's session has a run (after a restart, the host's own recovery); this turn waits for it to end");
                    }
                    tokio::select! {
                        () = self.cancel.cancelled() => return,
                        () = tokio::time::sleep(SESSION_POLL) => {}
                    }
                    waited += SESSION_POLL;
                    if waited >= session_wait {
                        tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, seconds = waited.as_secs(), "the conversation's session still has a run; handing this turn over all the same");
                    }
                    continue;
                }
                // A busy session took the message into its active run (or queued it after that
                // run, in the host's memory only): the host owns its answer from here. Keeping
                // it pending instead was measured to leave most of a peer's turns pending, since
                // each next one is taken the same way, and the next start would run them all
                // again.
                Ok(outcome) if outcome.deferred.is_some() => {
                    tracing::debug!(channel = %self.config.channel, account = %self.config.account, id, how = outcome.deferred.as_deref(), replay = ?work.replay, "the host took this turn into the session's active run")
                }
                // OpenClaw holds the cut-off run for ended (it records a turn's source id when
                // its run ends, before the answer is delivered) and so answered the replay with
                // nothing. Yet no answer went out: none was recorded by us, the session has no
                // run left, and the host's restart recovery sent the peer none (see
                // `handover`). The answer died with the process. Asking the agent again, under a
                // source id of its own, is the only way the peer gets one; once per start.
                Ok(outcome)
                    if work.replay.is_some()
                        && !rerun
                        && !replied
                        && outcome.replies == 0
                        && outcome.session_running == Some(false) =>
                {
                    // A recovery that held the session may deliver just after it ends.
                    if saw_running {
                        let until = tokio::time::Instant::now() + HOST_ANSWER_GRACE;
                        loop {
                            if self.handover.take_answered(&id) {
                                return;
                            }
                            if tokio::time::Instant::now() >= until {
                                break;
                            }
                            tokio::select! {
                                () = self.cancel.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                            }
                        }
                    }
                    tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, "the host holds this replayed turn for answered, but no answer of it went out, from us or from its own recovery; asking the agent again");
                    self.handover.release(&inbound.chat.id, &id);
                    rerun = true;
                    continue;
                }
                // Replies already sent by the cut-off run are recognised in the send log; a host
                // that knows the turn finished answers with none, and one whose restart recovery
                // owns the session delivers that run's answer itself.
                Ok(outcome) if work.replay.is_some() => {
                    tracing::info!(channel = %self.config.channel, account = %self.config.account, id, replies = outcome.replies, "replayed turn finished")
                }
                Ok(outcome) => {
                    tracing::debug!(channel = %self.config.channel, account = %self.config.account, id, replies = outcome.replies, "turn finished")
                }
                // Refused before the agent answered: nothing went out, so running it again
                // cannot double anything, and dropping it would lose the message.
                Err(err) if !replied && err.kind.is_retryable() => {
                    let Some(delay) = retries.next() else {
                        if first_refused.elapsed() + LATE_RETRY > self.config.turn_timeout {
                            tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, attempts = attempt + 1, "the host kept refusing this turn past turnTimeoutSeconds; it stays pending and runs again when the account next starts");
                            return;
                        }
                        tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, attempts = attempt + 1, later = ?LATE_RETRY, "the host kept refusing this turn; the peer's next messages go ahead, and it is tried again later");
                        self.retry_later(Work {
                            inbound,
                            replay: work.replay,
                            recorded: Vec::new(),
                            tried: Some((attempt + 1, first_refused)),
                            slot: work.slot,
                        });
                        return;
                    };
                    tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, ?delay, "the host refused this turn before its agent answered; trying again");
                    tokio::select! {
                        () = self.cancel.cancelled() => return,
                        () = tokio::time::sleep(*delay) => {}
                    }
                    attempt += 1;
                    continue;
                }
                // A turn that failed inside the host after replying in part is finished:
                // running it again could double those replies.
                Err(err) => {
                    tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, replied, "turn failed")
                }
            }
            break;
        }
        self.complete(&id);
        self.tell_handled(inbound);
    }

    /// Tells the channel the agent is done with `inbound` (read receipts), beside the peer's
    /// queue: its next message does not wait for the receipt.
    fn tell_handled(&self, inbound: Inbound) {
        let outlet = Arc::clone(&self.outlet);
        let (channel, account) = (self.config.channel.clone(), self.config.account.clone());
        self.tasks.spawn(async move {
            // A stop waits for these tasks: a hung receipt must not hold it.
            let told = tokio::time::timeout(HANDLED_TIMEOUT, outlet.handled(&inbound)).await;
            match told {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::debug!(%channel, %account, %err, "telling the peer the message was handled failed")
                }
                Err(_) => {
                    tracing::debug!(%channel, %account, "telling the peer the message was handled timed out")
                }
            }
        });
    }

    /// The chat of each turn not ended yet, one entry per turn (for the account's backlog).
    pub fn pending_peers(&self) -> Vec<String> {
        self.journal
            .lock()
            .pending()
            .into_iter()
            .map(|(inbound, _)| inbound.chat.id)
            .collect()
    }

    /// What of `text`, which the host sends to `peer` on its own, the peer has not had yet
    /// (see [`handover::unsent_part`]).
    pub(crate) fn unsent_part(&self, peer: &str, text: &str) -> Option<String> {
        self.handover.unsent(peer, text)
    }

    /// The host delivered a message of its own to `peer`: the answer of the peer's replay that
    /// waits on it, which is done (see [`crate::handover`]).
    pub(crate) fn credit_host_answer(&self, peer: &str) -> Option<String> {
        let id = self.handover.credit(peer)?;
        tracing::info!(channel = %self.config.channel, account = %self.config.account, id, peer, "the host delivered the answer of a replayed turn itself (its restart recovery); the turn is done");
        self.complete(&id);
        Some(id)
    }

    /// Hands `work` to its peer's worker again after [`LATE_RETRY`]; it stays pending in the
    /// journal meanwhile, so a stop before then leaves it for the next start.
    fn retry_later(self: &Arc<Self>, work: Work) {
        let pipeline = Arc::clone(self);
        self.tasks.spawn(async move {
            tokio::select! {
                () = pipeline.cancel.cancelled() => {}
                () = tokio::time::sleep(LATE_RETRY) => pipeline.enqueue(work),
            }
        });
    }

    fn complete(&self, id: &str) {
        if let Err(err) = self.journal.lock().complete(id) {
            tracing::warn!(channel = %self.config.channel, account = %self.config.account, id, %err, "could not mark the turn done");
        }
    }

    /// Downloads each attachment and hands it to the host's media store. A file that cannot be
    /// fetched stays listed with its error, so the agent knows it was sent but is missing.
    async fn materialize_media(&self, inbound: &mut Inbound) {
        for media in inbound
            .media
            .iter_mut()
            .filter(|m| m.path.is_none() && !m.locator.is_null())
        {
            let stored = match self.outlet.fetch_media(media).await {
                Ok(fetched) => {
                    let saved = self
                        .host
                        .save_media(
                            &fetched.temp_path,
                            &fetched.mime,
                            fetched.file_name.as_deref(),
                        )
                        .await;
                    // The store keeps its own copy; the temporary file is ours to remove.
                    let _ = std::fs::remove_file(&fetched.temp_path);
                    saved.map(|path| (path, fetched))
                }
                Err(err) => Err(err),
            };
            match stored {
                Ok((path, fetched)) => {
                    media.path = Some(path);
                    media.mime = Some(fetched.mime);
                    media.file_name = fetched.file_name.or(media.file_name.take());
                }
                // The turn goes on without the file; the agent reads why in the note below.
                Err(err) => {
                    tracing::warn!(channel = %self.config.channel, account = %self.config.account, kind = %media.kind, %err, "attachment not fetched");
                    media.error = Some(err.message);
                }
            }
        }
        let missing: Vec<String> = inbound
            .media
            .iter()
            .filter_map(|m| {
                m.error
                    .as_ref()
                    .map(|e| format!("[{} could not be downloaded: {e}]", m.kind))
            })
            .collect();
        if !missing.is_empty() {
            inbound.text = [inbound.text.clone(), missing.join("\n")]
                .join("\n")
                .trim()
                .to_owned();
        }
    }

    /// The replier of `inbound`'s turn: reply `n` is recorded in the journal, then sent under
    /// the client id `<inbound id>:reply:<n>`.
    fn replier(self: &Arc<Self>, inbound: &Inbound) -> Arc<TurnReplier> {
        Arc::new(TurnReplier {
            pipeline: Arc::clone(self),
            target: inbound.chat.target(),
            inbound_id: inbound.server_id.clone(),
            asker: inbound.sender.clone(),
            answered: Mutex::new(0),
            undelivered: Mutex::new(false),
            blocks_left: tokio::sync::Mutex::new(None),
            held: Mutex::new(None),
        })
    }

    /// Runs one attempt of `inbound`'s turn in the host, under `ids`, its replies going
    /// through `replier`.
    async fn turn(
        self: &Arc<Self>,
        inbound: Inbound,
        ids: AttemptIds,
        if_idle: bool,
        replier: Arc<TurnReplier>,
    ) -> Result<TurnOutcome, ChannelError> {
        let route = if self.host.routes_turns() {
            None
        } else {
            let query = RouteQuery {
                channel: self.config.channel.clone(),
                account: self.config.account.clone(),
                peer_kind: inbound.chat.kind,
                peer_id: inbound.chat.peer().to_owned(),
            };
            Some(self.host.resolve_route(&query).await?)
        };
        let mut context = msg_context(&inbound, route.as_ref());
        context["MessageSid"] = ids.sid.into();
        if let Some(source) = ids.source {
            context["MessageSidFull"] = source.into();
        }
        let (id, peer) = (inbound.server_id.clone(), inbound.chat.id.clone());
        let limit = self.config.turn_timeout;
        // The host call runs as a task of its own: past the deadline the peer's next message
        // goes ahead, while the host may still answer this turn (its replier stays registered,
        // so a late reply is still sent). Stopping the pipeline ends it.
        let host = Arc::clone(&self.host);
        let cancel = self.cancel.clone();
        let turn = Turn {
            inbound,
            route,
            context,
            if_idle,
            block_streaming: self.config.block_streaming,
        };
        tracing::debug!(target: crate::LATENCY_TARGET, channel = %self.config.channel, account = %self.config.account, id, at_us = crate::now_us(), "queued");
        let mut run = self.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => Err(ChannelError::transient("the account is stopping")),
                outcome = async {
                    let outcome = host.run_turn(turn, Arc::clone(&replier) as Arc<dyn Replier>).await;
                    // Blocks held past the channel's budget go out now that the answer is
                    // complete (a failure is the replier's to count, as for any reply).
                    if let Err(err) = replier.flush().await {
                        tracing::warn!(%err, "the held end of a streamed answer could not be sent");
                    }
                    outcome
                } => outcome,
            }
        });
        let outcome = tokio::time::timeout(limit, &mut run).await;
        match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(joined)) => Err(ChannelError::transient(format!(
                "the host turn task ended abnormally: {joined}"
            ))),
            Err(_) => {
                tracing::error!(channel = %self.config.channel, account = %self.config.account, id, peer, seconds = limit.as_secs(), "the host did not finish this turn in time (turnTimeoutSeconds); the peer's next message goes ahead, and a reply that comes later is still sent");
                Err(ChannelError::permanent(format!(
                    "the host did not finish the turn within {} s (turnTimeoutSeconds)",
                    limit.as_secs()
                )))
            }
        }
    }

    /// Keeps "typing…" up until the returned token is cancelled, then clears it. Failures only
    /// cost the indicator, never the turn.
    fn show_typing(&self, target: Target) -> CancellationToken {
        let done = self.cancel.child_token();
        let outlet = Arc::clone(&self.outlet);
        let stop = done.clone();
        self.tasks.spawn(async move {
            loop {
                if let Err(err) = outlet.typing(&target, true).await {
                    tracing::debug!(%err, "typing indicator failed");
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(TYPING_EVERY) => {}
                }
            }
            if let Err(err) = outlet.typing(&target, false).await {
                tracing::debug!(%err, "clearing the typing indicator failed");
            }
        });
        done
    }

    /// Stops taking turns and waits for running ones to notice.
    pub async fn close(&self) {
        lock(&self.reachable).take();
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Sends one turn's replies back where the message came from.
struct TurnReplier {
    pipeline: Arc<Pipeline>,
    target: Target,
    inbound_id: String,
    asker: Sender,
    /// Replies the host produced so far (each recorded in the journal before its send).
    answered: Mutex<usize>,
    /// A reply still could not be sent after [`SEND_RETRIES`], for a passing reason: the turn
    /// stays pending, and the next start sends what was recorded.
    undelivered: Mutex<bool>,
    /// The blocks that may still go out one by one, asked of the channel at the first block:
    /// `None` until then, `Some(None)` for no limit.
    blocks_left: tokio::sync::Mutex<Option<Option<usize>>>,
    /// What came after the budget was spent, merged: it goes out as one message with the
    /// final reply, or when the turn ends.
    held: Mutex<Option<ReplyPayload>>,
}

/// What a reply held back by the block budget answers to the host: not sent, not lost.
const HELD_REASON: &str = "the channel's budget of streamed blocks for this turn is spent; the rest of the answer goes out as one message when it is complete";

impl TurnReplier {
    /// Whether one more block may go out on its own.
    async fn block_allowed(&self) -> bool {
        let mut left = self.blocks_left.lock().await;
        let budget = match *left {
            Some(budget) => budget,
            None => {
                let asked = self.pipeline.outlet.block_budget(&self.target).await;
                *left = Some(asked);
                asked
            }
        };
        match budget {
            None => true,
            Some(0) => false,
            Some(n) => {
                *left = Some(Some(n - 1));
                true
            }
        }
    }

    /// `payload` as it goes out now, or `None` when it joins what is held back. Once a block
    /// is held, everything after it is too, until the final reply takes it all along: the
    /// order of the answer is kept.
    async fn release(&self, payload: ReplyPayload) -> Option<ReplyPayload> {
        let holding = lock(&self.held).is_some();
        if payload.kind == "final" {
            return Some(match lock(&self.held).take() {
                Some(held) => merged(held, payload),
                None => payload,
            });
        }
        if !holding && (payload.kind != "block" || self.block_allowed().await) {
            return Some(payload);
        }
        let mut held = lock(&self.held);
        *held = Some(match held.take() {
            Some(before) => merged(before, payload),
            None => payload,
        });
        None
    }

    /// Sends what is held back, as the answer's last message.
    async fn flush(&self) -> Result<(), ChannelError> {
        let held = lock(&self.held).take();
        match held {
            Some(mut payload) => {
                payload.kind = "final".into();
                self.send(payload).await.map(drop)
            }
            None => Ok(()),
        }
    }
}

/// `first` then `next`, as one message: texts a paragraph apart, attachments in order.
fn merged(first: ReplyPayload, next: ReplyPayload) -> ReplyPayload {
    let text = [first.text.trim_end(), next.text.trim_start()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut media = first.media;
    media.extend(next.media);
    ReplyPayload {
        text,
        media,
        kind: next.kind,
    }
}

#[async_trait::async_trait]
impl Replier for TurnReplier {
    async fn reply(&self, payload: ReplyPayload) -> Result<Receipt, ChannelError> {
        if payload.text.trim().is_empty() && payload.media.is_empty() {
            return Err(ChannelError::new(
                ErrorKind::BadInput,
                "empty reply payload",
            ));
        }
        match self.release(payload).await {
            Some(payload) => self.send(payload).await,
            None => Ok(Receipt::Queued {
                queue_id: format!("{}:held", self.inbound_id),
                reason: HELD_REASON.into(),
            }),
        }
    }
}

impl TurnReplier {
    /// Records `payload` in the journal, then sends it, retrying passing failures.
    async fn send(&self, payload: ReplyPayload) -> Result<Receipt, ChannelError> {
        let index = {
            let mut answered = lock(&self.answered);
            *answered += 1;
            *answered
        };
        let pipeline = &self.pipeline;
        let recorded = pipeline
            .journal
            .lock()
            .record_reply(&self.inbound_id, index, &payload);
        if let Err(err) = recorded {
            // Sent anyway: only a crash before it goes out would lose it now.
            tracing::warn!(channel = %pipeline.config.channel, account = %pipeline.config.account, %err, "could not record a reply before sending it");
        }
        let message = Outbound {
            text: payload.text,
            media: payload.media,
            reply_to: None,
            // Stable per reply, so a retried delivery of the same reply is recognisable.
            client_id: Some(format!("{}:reply:{index}", self.inbound_id)),
            in_reply_to_inbound: Some(self.inbound_id.clone()),
            asker: Some(self.asker.clone()),
            // The channel's own allowed roots apply.
            media_roots: Vec::new(),
        };
        let mut retries = SEND_RETRIES.iter();
        let receipt = loop {
            // A send in flight gets to finish when a stop drops this turn (for a moment: a
            // hung one must not hold the stop): cut between the server's accept and the send
            // log, it would go out again at the next start. `close` waits for it.
            let send = {
                let (outlet, target) = (Arc::clone(&pipeline.outlet), self.target.clone());
                let (message, cancel) = (message.clone(), pipeline.cancel.clone());
                pipeline.tasks.spawn(async move {
                    tokio::select! {
                        sent = outlet.send(&target, &message) => sent,
                        () = async {
                            cancel.cancelled().await;
                            tokio::time::sleep(SEND_STOP_GRACE).await;
                        } => Err(ChannelError::transient("the account stopped while a reply was being sent")),
                    }
                })
            };
            let sent = send.await.unwrap_or_else(|joined| {
                Err(ChannelError::transient(format!(
                    "the send task ended abnormally: {joined}"
                )))
            });
            match sent {
                Ok(receipt) => break receipt,
                Err(err) if err.kind.is_retryable() => {
                    let Some(delay) = retries.next() else {
                        *lock(&self.undelivered) = true;
                        return Err(err);
                    };
                    tracing::warn!(channel = %pipeline.config.channel, account = %pipeline.config.account, id = %self.inbound_id, index, %err, ?delay, "a reply could not be sent; trying again");
                    tokio::select! {
                        () = pipeline.cancel.cancelled() => return Err(err),
                        () = tokio::time::sleep(*delay) => {}
                    }
                }
                Err(err) => return Err(err),
            }
        };
        pipeline.report_activity(Activity::Outbound);
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dm::DmPolicy;
    use crate::message::{Chat, Sender};
    use crate::testing::StandaloneHost;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Target, Outbound)>>, Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Outlet for Recorder {
        async fn send(&self, target: &Target, message: &Outbound) -> Result<Receipt, ChannelError> {
            lock(&self.0).push((target.clone(), message.clone()));
            Ok(Receipt::Sent {
                message_id: "m".into(),
                parts: 1,
            })
        }

        async fn handled(&self, inbound: &Inbound) -> Result<(), ChannelError> {
            lock(&self.1).push(inbound.server_id.clone());
            Ok(())
        }
    }

    /// A pipeline on `config`, not connected yet.
    fn open_with(
        config: PipelineConfig,
        host: Arc<StandaloneHost>,
        outlet: Arc<dyn Outlet>,
    ) -> Arc<Pipeline> {
        Pipeline::open(config, host, outlet, CancellationToken::new()).expect("open")
    }

    fn open_pipeline(
        dir: &std::path::Path,
        host: Arc<StandaloneHost>,
        outlet: Arc<Recorder>,
    ) -> Arc<Pipeline> {
        open_with(config(dir), host, outlet)
    }

    /// A pipeline on `config` whose account reported connected.
    fn open_connected(
        config: PipelineConfig,
        host: Arc<StandaloneHost>,
        outlet: Arc<dyn Outlet>,
    ) -> Arc<Pipeline> {
        let pipeline = open_with(config, host, outlet);
        pipeline.report_status(StatusPatch::connected());
        pipeline
    }

    fn inbound(id: &str, peer: &str) -> Inbound {
        Inbound {
            channel: "test".into(),
            account: "a".into(),
            chat: Chat {
                kind: ChatKind::Direct,
                id: peer.into(),
                title: None,
                host_peer: None,
            },
            sender: Sender {
                id: peer.into(),
                name: None,
            },
            text: format!("msg {id}"),
            media: vec![],
            mentions: vec![],
            was_mentioned: false,
            command_authorized: false,
            reply_to: None,
            server_id: id.into(),
            timestamp_ms: 0,
            raw: serde_json::Value::Null,
        }
    }

    fn config(dir: &std::path::Path) -> PipelineConfig {
        PipelineConfig {
            channel: "test".into(),
            account: "a".into(),
            id_label: "Your id".into(),
            dm: DmConfig {
                policy: DmPolicy::Open,
                allow_from: vec!["*".into()],
                implicit_allow: vec![],
            },
            group: GroupConfig::default(),
            journal: dir.join("a.jsonl"),
            window: Window::default(),
            turn_timeout: TurnKeys::DEFAULT_TIMEOUT,
            block_streaming: true,
            max_pending_turns: MAX_PENDING_TURNS,
        }
    }

    #[tokio::test]
    async fn a_host_that_routes_turns_gets_them_without_a_route_request() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let asking = Arc::new(StandaloneHost::default());
        let routing = Arc::new(StandaloneHost::default().routing_turns());
        for host in [&asking, &routing] {
            let outlet = Arc::new(Recorder::default());
            let dir = tmp.path().join(if host.routes_turns() {
                "routing"
            } else {
                "asking"
            });
            let pipeline = open_connected(config(&dir), Arc::clone(host), outlet);
            pipeline.accept(inbound("m1", "p")).await.expect("accept");
            assert!(
                host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                    .await
            );
            pipeline.close().await;
        }
        assert_eq!(asking.routes_asked(), 1);
        assert_eq!(routing.routes_asked(), 0, "a route request before the turn");
        // Either way the turn runs under the peer's session.
        let (asked, routed) = (&asking.turns()[0], &routing.turns()[0]);
        assert_eq!(asked.context["SessionKey"], routed.context["SessionKey"]);
        assert_eq!(asked.route, routed.route);
    }

    /// An outlet that records sends and allows `budget` blocks per turn.
    struct Budgeted(Recorder, Option<usize>);

    #[async_trait::async_trait]
    impl Outlet for Budgeted {
        async fn send(&self, target: &Target, message: &Outbound) -> Result<Receipt, ChannelError> {
            self.0.send(target, message).await
        }

        async fn block_budget(&self, _target: &Target) -> Option<usize> {
            self.1
        }
    }

    fn block(text: &str) -> ReplyPayload {
        ReplyPayload {
            text: text.into(),
            media: Vec::new(),
            kind: "block".into(),
        }
    }

    /// Blocks within the channel's budget go out one by one; the rest is held, in order, and
    /// goes out as one message with the final reply, or when the turn ends without one.
    #[tokio::test]
    async fn blocks_past_the_budget_go_out_as_one_message_with_the_end() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Budgeted(Recorder::default(), Some(2)));
        let pipeline = open_connected(config(tmp.path()), host, outlet.clone());
        let texts = |outlet: &Budgeted| -> Vec<String> {
            lock(&outlet.0.0)
                .iter()
                .map(|(_, m)| m.text.clone())
                .collect()
        };

        let replier = pipeline.replier(&inbound("m1", "p"));
        for text in ["one", "two"] {
            let sent = replier.reply(block(text)).await.expect("sent");
            assert!(matches!(sent, Receipt::Sent { .. }), "{sent:?}");
        }
        let held = replier.reply(block("three")).await.expect("held");
        assert!(matches!(held, Receipt::Queued { .. }), "{held:?}");
        replier.reply(block("four")).await.expect("held");
        let end = ReplyPayload {
            text: "five".into(),
            media: vec!["/m/a.png".into()],
            kind: "final".into(),
        };
        replier.reply(end).await.expect("sent");
        replier.flush().await.expect("nothing left");
        assert_eq!(texts(&outlet), ["one", "two", "three\n\nfour\n\nfive"]);
        assert_eq!(lock(&outlet.0.0)[2].1.media, ["/m/a.png"]);

        // No budget left at all, and no final: the end of the turn sends what was held.
        lock(&outlet.0.0).clear();
        let spent = Arc::new(Budgeted(Recorder::default(), Some(0)));
        let pipeline = open_connected(
            config(&tmp.path().join("b")),
            Arc::new(StandaloneHost::default()),
            spent.clone(),
        );
        let replier = pipeline.replier(&inbound("m2", "p"));
        replier.reply(block("a")).await.expect("held");
        replier.reply(block("b")).await.expect("held");
        assert!(texts(&spent).is_empty());
        replier.flush().await.expect("sent");
        assert_eq!(texts(&spent), ["a\n\nb"]);
        assert_eq!(
            lock(&spent.0.0)[0].1.client_id.as_deref(),
            Some("m2:reply:1"),
            "held replies are numbered as they go out"
        );
    }

    /// A reply names its asker; the channel hears of the handled message once its turn ends.
    #[tokio::test]
    async fn replies_name_the_asker_and_the_channel_hears_the_turn_ended() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_connected(config(tmp.path()), host, outlet.clone());
        let mut message = inbound("m1", "alice");
        message.sender.name = Some("Alice".into());
        pipeline.accept(message).await.expect("accept");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while lock(&outlet.1).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*lock(&outlet.1), ["m1"]);
        let sent = lock(&outlet.0).clone();
        assert_eq!(
            sent[0].1.asker,
            Some(Sender {
                id: "alice".into(),
                name: Some("Alice".into())
            })
        );
        pipeline.close().await;
    }

    #[tokio::test]
    async fn turns_left_pending_by_a_crash_are_replayed_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        {
            let mut journal =
                Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
            journal
                .admit_pending(&inbound("crashed", "p"))
                .expect("admit");
            journal
                .admit_pending(&inbound("finished", "p"))
                .expect("admit");
            journal.complete("finished").expect("complete");
        }
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            host.turns().is_empty(),
            "replays wait until the account is connected"
        );
        pipeline.report_status(StatusPatch::connected());
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        assert_eq!(host.turns()[0].inbound.server_id, "crashed");
        assert_eq!(
            host.turns()[0].context["MessageSid"],
            "crashed:replay",
            "the host must not take the replay for a duplicate"
        );
        assert_eq!(host.turns()[0].context["MessageSidFull"], "crashed");
        assert_eq!(
            pipeline
                .accept(inbound("crashed", "p"))
                .await
                .expect("accept"),
            Accepted::Duplicate
        );
        pipeline.close().await;

        // Finished now: a second restart replays nothing.
        let host = Arc::new(StandaloneHost::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet);
        pipeline.report_status(StatusPatch::connected());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(host.turns().is_empty(), "replayed a finished turn");
        pipeline.close().await;
    }

    /// The agent answered, then the gateway died before the answer went out; OpenClaw, which
    /// considers that turn finished, answers the replay with nothing. The recorded answer is
    /// delivered anyway, under the reply's stable id.
    #[tokio::test]
    async fn a_recorded_reply_of_a_cut_off_turn_is_delivered_by_the_replay() {
        let tmp = tempfile::tempdir().expect("tempdir");
        {
            let mut journal =
                Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
            journal.admit_pending(&inbound("cut", "p")).expect("admit");
            let answer = ReplyPayload {
                text: "the answer".into(),
                ..ReplyPayload::default()
            };
            journal.record_reply("cut", 1, &answer).expect("record");
        }
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        let sent = lock(&outlet.0).clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].1.text, "the answer");
        assert_eq!(sent[0].1.client_id.as_deref(), Some("cut:reply:1"));
        pipeline.close().await;
        let journal = Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
        assert!(journal.pending().is_empty(), "the replayed turn is done");
    }

    /// A turn left pending by a crash counts in the backlog until it ends.
    #[tokio::test]
    async fn pending_turns_show_in_the_backlog_until_they_end() {
        let tmp = tempfile::tempdir().expect("tempdir");
        left_pending(tmp.path(), "p1");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet);
        assert_eq!(pipeline.pending_peers(), ["p"]);
        pipeline.report_status(StatusPatch::connected());
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !pipeline.pending_peers().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(pipeline.pending_peers().is_empty());
        pipeline.close().await;
    }

    /// A journal holding `id` as accepted and never finished, as a killed gateway leaves it.
    fn left_pending(dir: &std::path::Path, id: &str) {
        let mut journal = Journal::open(dir.join("a.jsonl"), Window::default()).expect("open");
        journal.admit_pending(&inbound(id, "p")).expect("admit");
    }

    /// A connected pipeline on `host` that starts by replaying `id`, left pending by a kill.
    fn replaying(
        dir: &std::path::Path,
        id: &str,
        host: &Arc<StandaloneHost>,
    ) -> (Arc<Pipeline>, Arc<Recorder>) {
        left_pending(dir, id);
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_connected(config(dir), Arc::clone(host), outlet.clone());
        (pipeline, outlet)
    }

    /// Replays `id` on `host` and checks that it is left there: handed over once, nothing sent
    /// and nobody asked again, and the turn done.
    async fn replay_is_left_to_the_host(
        dir: &std::path::Path,
        id: &str,
        host: &Arc<StandaloneHost>,
    ) {
        let (pipeline, outlet) = replaying(dir, id, host);
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        pipeline.close().await;
        assert_eq!(host.attempts(), [format!("{id}:replay")]);
        assert!(lock(&outlet.0).is_empty());
        assert!(pending_ids(dir).is_empty(), "the turn is done");
    }

    /// The gateway died after its agent answered and before the answer was delivered: OpenClaw
    /// holds that run for ended, answers the replay with nothing, and no restart recovery of
    /// its own will deliver it. The agent is asked again under a source id of its own, and
    /// the peer gets one answer.
    #[tokio::test]
    async fn a_turn_the_host_holds_answered_but_never_delivered_is_asked_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().holding_ended(["lost"]));
        let (pipeline, outlet) = replaying(tmp.path(), "lost", &host);
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 2)
                .await
        );
        pipeline.close().await;
        assert_eq!(host.attempts(), ["lost:replay", "lost:rerun1"]);
        assert_eq!(host.turns()[1].context["MessageSidFull"], "lost:rerun1");
        let sent = lock(&outlet.0).clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].1.text, "echo: msg lost");
        assert!(pending_ids(tmp.path()).is_empty(), "the turn is done");

        // Cut short again and replayed by a third start: a new source id again, since the
        // host now holds the first rerun's as well.
        left_pending(tmp.path(), "again");
        {
            let mut journal =
                Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
            journal.started("again").expect("started");
        }
        let host = Arc::new(StandaloneHost::default().holding_ended(["again", "again:rerun1"]));
        let pipeline = open_connected(config(tmp.path()), host.clone(), outlet.clone());
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 2)
                .await
        );
        pipeline.close().await;
        assert_eq!(host.attempts(), ["again:replay", "again:rerun2"]);
        assert_eq!(lock(&outlet.0).len(), 2);
    }

    /// The same answer of nothing, from a session that OpenClaw's restart recovery owns: the
    /// host delivers the cut-off run's answer itself, so asking the agent again would answer
    /// the peer twice. The turn is done.
    #[tokio::test]
    async fn a_turn_the_hosts_restart_recovery_owns_is_left_to_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(
            StandaloneHost::default()
                .holding_ended(["owned"])
                .recovering_sessions(),
        );
        replay_is_left_to_the_host(tmp.path(), "owned", &host).await;
    }

    /// After a restart OpenClaw's recovery resumes a session's cut-off run for a while; a
    /// message handed over meanwhile would join that run or wait in the host's memory, where
    /// the next kill loses it. The turn waits until the session is idle, then runs.
    #[tokio::test]
    async fn a_turn_waits_while_its_session_has_a_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().busy_for(2));
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_connected(config(tmp.path()), host.clone(), outlet.clone());
        pipeline.accept(inbound("n", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.turns().len() == 1)
                .await
        );
        pipeline.close().await;
        assert_eq!(
            host.attempts(),
            ["n", "n", "n"],
            "held back twice, then run"
        );
        assert!(host.turns()[0].if_idle);
        assert_eq!(lock(&outlet.0).len(), 1);
        assert!(pending_ids(tmp.path()).is_empty());
    }

    /// While a turn waits for its session it shows one typing indicator, renewed as usual,
    /// not one switched off and on at every poll.
    #[tokio::test]
    async fn a_turn_waiting_for_its_session_keeps_one_typing_indicator() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().busy_for(3));
        let outlet = Arc::new(Typing::default());
        let pipeline = open_connected(config(tmp.path()), host.clone(), outlet.clone());
        pipeline.accept(inbound("n", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.turns().len() == 1)
                .await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        pipeline.close().await;
        assert_eq!(host.attempts().len(), 4, "held back three times");
        assert_eq!(*lock(&outlet.0), [true, false]);
    }

    /// A replay that waited out the host's recovery of its session, then was answered with
    /// nothing, while that recovery delivered nothing to the peer (OpenClaw's recovery can end
    /// without a run): the agent is asked again, after a grace for a late delivery.
    #[tokio::test]
    async fn a_replay_whose_hosts_recovery_delivered_nothing_is_asked_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(
            StandaloneHost::default()
                .holding_ended(["owned"])
                .busy_for(1),
        );
        let (pipeline, outlet) = replaying(tmp.path(), "owned", &host);
        assert!(
            host.wait_for(Duration::from_secs(15), |h| h.turns().len() == 2)
                .await
        );
        pipeline.close().await;
        assert_eq!(
            host.attempts(),
            ["owned:replay", "owned:replay", "owned:rerun1"]
        );
        assert_eq!(lock(&outlet.0).len(), 1);
        assert!(pending_ids(tmp.path()).is_empty(), "the turn is done");
    }

    /// The host's restart recovery delivered the cut-off run's answer itself, through the
    /// channel's outbound send, while the replay waited for the session: the replay is done,
    /// and the agent is not asked a second time.
    #[tokio::test]
    async fn a_replay_the_hosts_recovery_answers_itself_is_done_without_asking_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(
            StandaloneHost::default()
                .holding_ended(["owned"])
                .busy_for(3),
        );
        let (pipeline, outlet) = replaying(tmp.path(), "owned", &host);
        assert!(
            host.wait_for(Duration::from_secs(5), |h| !h.attempts().is_empty())
                .await
        );
        let journal = tmp.path().join("a.jsonl");
        assert_eq!(
            crate::handover::host_sent(&journal, "someone-else", "ECHO: x"),
            None,
            "only the peer's own delivery counts"
        );
        let notice = format!(
            "{} (the gateway has just restarted).",
            crate::handover::RESUME_NOTICE
        );
        assert_eq!(
            crate::handover::host_sent(&journal, "p", &notice),
            None,
            "the recovery's notice is not its answer"
        );
        assert_eq!(
            crate::handover::host_sent(&journal, "p", "ECHO: x").as_deref(),
            Some("owned")
        );
        assert!(pending_ids(tmp.path()).is_empty(), "done at once, durably");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        pipeline.close().await;
        assert!(host.turns().is_empty(), "handed to the host again");
        assert!(lock(&outlet.0).is_empty());
        assert_eq!(
            crate::handover::host_sent(&journal, "p", "ECHO: x"),
            None,
            "closed"
        );
    }

    /// A host that cannot tell whether the session has a run is trusted, as before.
    #[tokio::test]
    async fn a_host_that_cannot_tell_is_trusted_with_a_replay_it_answers_with_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        replay_is_left_to_the_host(tmp.path(), "quiet", &host).await;
    }

    /// A turn the host refused through all quick retries is tried again later in the same run
    /// (OpenClaw's restart recovery can hold a session for minutes), each try under a
    /// `MessageSid` of its own, until it runs; past its deadline it waits for the next start.
    #[tokio::test(start_paused = true)]
    async fn a_turn_the_host_keeps_refusing_is_tried_again_later_in_the_same_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().refusing_turns(TURN_RETRIES.len() + 3));
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        pipeline.accept(inbound("held", "p")).await.expect("accept");
        pipeline.accept(inbound("next", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(3600), |h| h.turns().len() == 2)
                .await,
            "the refused turn never ran: {:?}",
            host.attempts()
        );
        let order: Vec<_> = host
            .turns()
            .iter()
            .map(|t| t.inbound.server_id.clone())
            .collect();
        assert_eq!(
            order,
            ["next", "held"],
            "the peer's next message went ahead"
        );
        let sids: Vec<String> = host
            .attempts()
            .iter()
            .filter_map(|sid| sid.as_str().map(str::to_owned))
            .filter(|sid| sid.starts_with("held"))
            .collect();
        let unique: std::collections::HashSet<_> = sids.iter().collect();
        // Its first try and quick retries, then later tries until one ran (how many of the
        // refusals `next` took depends on timing).
        assert!(sids.len() > 1 + TURN_RETRIES.len(), "{sids:?}");
        assert_eq!(
            unique.len(),
            sids.len(),
            "a try reused a MessageSid: {sids:?}"
        );
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty(), "done once it ran");

        // With a deadline shorter than the quick retries and one later try, it waits for the
        // next start instead.
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().refusing_turns(usize::MAX));
        let config = PipelineConfig {
            turn_timeout: Duration::from_secs(60),
            block_streaming: true,
            ..config(tmp.path())
        };
        let pipeline = open_connected(config, host.clone(), outlet);
        pipeline.accept(inbound("held", "p")).await.expect("accept");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(host.attempts().len(), 1 + TURN_RETRIES.len());
        pipeline.close().await;
        assert_eq!(pending_ids(tmp.path()), ["held"]);
    }

    /// Stopping while the host still holds a turn (it replied, then hung) leaves the turn
    /// pending, whichever of the stop and the host task's "stopping" answer is seen first; the
    /// next start finishes it from its recorded answer. Before, the race marked it done as a
    /// turn that failed after replying, and how a stop ended depended on the scheduler.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_while_the_host_holds_a_turn_leaves_it_pending() {
        for round in 0..40 {
            let tmp = tempfile::tempdir().expect("tempdir");
            let host = Arc::new(StandaloneHost::default().stalling_after_replies());
            let outlet = Arc::new(Recorder::default());
            let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
            pipeline.report_status(StatusPatch::connected());
            pipeline.accept(inbound("held", "p")).await.expect("accept");
            assert!(
                host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                    .await
            );
            pipeline.close().await;
            assert_eq!(
                pending_ids(tmp.path()),
                ["held"],
                "round {round}: a stop marked the held turn done"
            );
        }
    }

    /// Pending turns in the journal at `dir`.
    fn pending_ids(dir: &std::path::Path) -> Vec<String> {
        let journal = Journal::open(dir.join("a.jsonl"), Window::default()).expect("open");
        journal
            .pending()
            .into_iter()
            .map(|(inbound, _)| inbound.server_id)
            .collect()
    }

    /// OpenClaw refuses a turn while its own restart recovery holds the session ("restart
    /// recovery claim changed before agent adoption"). Nothing was answered, so the turn runs
    /// again, under a new MessageSid, instead of being marked done and lost.
    #[tokio::test(start_paused = true)]
    async fn a_turn_the_host_refuses_before_its_agent_answers_runs_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().refusing_turns(2));
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        pipeline.accept(inbound("r1", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(120), |h| h.turns().len() == 1)
                .await
        );
        assert_eq!(host.attempts(), ["r1", "r1:retry1", "r1:retry2"]);
        let sent = lock(&outlet.0).clone();
        assert_eq!(sent.len(), 1, "answered once: {sent:?}");
        assert_eq!(sent[0].1.client_id.as_deref(), Some("r1:reply:1"));
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty(), "done once answered");
    }

    /// A host that keeps refusing does not lose the message either: the peer's next message is
    /// not held up behind it, and a stop before its later try leaves it pending for the
    /// account's next start.
    #[tokio::test(start_paused = true)]
    async fn a_turn_the_host_keeps_refusing_stays_pending_and_the_peer_moves_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().refusing_turns(1 + TURN_RETRIES.len()));
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        pipeline
            .accept(inbound("stuck", "p"))
            .await
            .expect("accept");
        pipeline.accept(inbound("next", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(600), |h| h.turns().len() == 1)
                .await
        );
        assert_eq!(host.turns()[0].inbound.server_id, "next");
        assert_eq!(host.attempts().len(), 1 + TURN_RETRIES.len() + 1);
        pipeline.close().await;
        assert_eq!(pending_ids(tmp.path()), ["stuck"]);

        // The next start replays it, and this time the host takes it.
        let host = Arc::new(StandaloneHost::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        assert!(
            host.wait_for(Duration::from_secs(60), |h| h.turns().len() == 1)
                .await
        );
        assert_eq!(host.turns()[0].context["MessageSid"], "stuck:replay");
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty());
    }

    /// Before: an id-less message was journaled under "", and every later id-less message was
    /// dropped as a redelivery of the first.
    #[tokio::test]
    async fn a_message_without_an_id_is_refused_by_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let pipeline = open_pipeline(tmp.path(), host, Arc::new(Recorder::default()));
        let err = pipeline
            .accept(inbound(" ", "bob"))
            .await
            .expect_err("an empty id cannot be deduplicated");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(err.message.contains("no message id"), "{err}");
        assert!(err.message.contains("bob"), "names the sender: {err}");
        pipeline.close().await;
    }

    /// A host that never answers a turn held its peer's later messages for ever, with "typing…"
    /// renewed all along. At the deadline the turn ends as failed (done: the agent may have run)
    /// and the next message goes ahead.
    #[tokio::test(start_paused = true)]
    async fn a_hung_turn_ends_at_its_deadline_and_the_peer_moves_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()).stalling_after_replies());
        let typing = Arc::new(Typing::default());
        let config = PipelineConfig {
            turn_timeout: Duration::from_secs(60),
            block_streaming: true,
            ..config(tmp.path())
        };
        let pipeline = open_connected(config, host.clone(), typing.clone());
        pipeline
            .accept(inbound("hangs", "p"))
            .await
            .expect("accept");
        pipeline.accept(inbound("next", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(59), |h| h.turns().len() == 1)
                .await
        );
        assert!(
            !host
                .wait_for(Duration::from_secs(30), |h| h.turns().len() == 2)
                .await,
            "the next message waits while the turn is within its deadline"
        );
        assert!(
            host.wait_for(Duration::from_secs(60), |h| h.turns().len() == 2)
                .await,
            "the deadline let the next message go ahead"
        );
        assert_eq!(host.turns()[1].inbound.server_id, "next");
        assert!(
            lock(&typing.0).contains(&false),
            "typing stops with the first turn's deadline"
        );
        tokio::time::sleep(Duration::from_secs(61)).await;
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty(), "both turns ended");
    }

    /// Past the deadline the peer's next message goes ahead, and the late answer of the first
    /// turn is still sent under its id (before, dropping the host call unregistered its replier).
    #[tokio::test(start_paused = true)]
    async fn an_answer_after_the_deadline_is_still_sent() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default().answering_after(Duration::from_secs(90)));
        let outlet = Arc::new(Recorder::default());
        let config = PipelineConfig {
            turn_timeout: Duration::from_secs(60),
            block_streaming: true,
            ..config(tmp.path())
        };
        let pipeline = open_connected(config, host.clone(), outlet.clone());
        pipeline.accept(inbound("slow", "p")).await.expect("accept");
        pipeline.accept(inbound("next", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(61), |h| h.attempts().len() == 2)
                .await,
            "the next message went ahead at the deadline"
        );
        // The first answer comes at 90 s, the second at 60 + 90 s.
        assert!(
            host.wait_for(Duration::from_secs(120), |h| h.turns().len() == 2)
                .await
        );
        let ids: Vec<_> = lock(&outlet.0)
            .iter()
            .filter_map(|(_, m)| m.client_id.clone())
            .collect();
        assert_eq!(ids, ["slow:reply:1", "next:reply:1"]);
        pipeline.close().await;
    }

    /// A send that takes its time, and says when it began and when it ended.
    #[derive(Default)]
    struct SlowSend {
        began: std::sync::atomic::AtomicBool,
        ended: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl Outlet for SlowSend {
        async fn send(&self, _: &Target, _: &Outbound) -> Result<Receipt, ChannelError> {
            use std::sync::atomic::Ordering;
            self.began.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.ended.store(true, Ordering::SeqCst);
            Ok(Receipt::Sent {
                message_id: "m".into(),
                parts: 1,
            })
        }
    }

    /// A stop that came while a reply was on the wire cut the send between the server's
    /// accept and the send log, so the next start sent that reply again (measured: a WeChat
    /// test saw "echo: hello" twice about one run in two). The send now runs to its end, and
    /// `close` waits for it.
    #[tokio::test]
    async fn a_stop_lets_a_reply_on_the_wire_finish() {
        use std::sync::atomic::Ordering;
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(SlowSend::default());
        let pipeline = open_connected(config(tmp.path()), host, outlet.clone());
        pipeline.accept(inbound("n", "p")).await.expect("accept");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !outlet.began.load(Ordering::SeqCst) {
            assert!(tokio::time::Instant::now() < deadline, "no send began");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        pipeline.close().await;
        assert!(outlet.ended.load(Ordering::SeqCst), "the stop cut the send");
    }

    /// Typing indicators, in order.
    #[derive(Default)]
    struct Typing(Mutex<Vec<bool>>);

    #[async_trait::async_trait]
    impl Outlet for Typing {
        async fn send(&self, _: &Target, _: &Outbound) -> Result<Receipt, ChannelError> {
            Ok(Receipt::Sent {
                message_id: "m".into(),
                parts: 1,
            })
        }

        async fn typing(&self, _: &Target, active: bool) -> Result<(), ChannelError> {
            lock(&self.0).push(active);
            Ok(())
        }
    }

    /// Accepted turns were held without limit (a queue per peer, each entry pending in the
    /// journal). Past the limit, `accept` waits until a turn finishes, so the channel stops
    /// reading and the server keeps the rest.
    /// A read of many messages was one fsync each: a burst of 10,000 took seconds whatever
    /// else was fast. A batch is one fsync, and keeps each peer's order.
    #[tokio::test]
    async fn a_batch_is_one_fsync_and_keeps_each_peer_s_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let pipeline = open_connected(
            config(tmp.path()),
            host.clone(),
            Arc::new(Recorder::default()),
        );
        pipeline.accept(inbound("old", "p1")).await.expect("accept");
        let fsyncs = pipeline.journal.fsyncs();
        let mut batch: Vec<Inbound> = (0..40)
            .map(|n| inbound(&format!("m{n}"), if n % 2 == 0 { "p1" } else { "p2" }))
            .collect();
        batch.push(inbound("old", "p1"));
        batch.push(inbound("m3", "p2"));
        let outcomes = pipeline.accept_many(batch).await.expect("accept");
        assert_eq!(
            pipeline.journal.fsyncs() - fsyncs,
            1,
            "one fsync for the batch"
        );
        assert_eq!(outcomes.len(), 42);
        assert!(outcomes[..40].iter().all(|o| *o == Accepted::Dispatched));
        assert_eq!(outcomes[40..], [Accepted::Duplicate, Accepted::Duplicate]);
        let on_disk = Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
        assert!(
            (0..40).all(|n| on_disk.contains(&format!("m{n}"))),
            "every line is written"
        );
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.turn_count() == 41)
                .await
        );
        for peer in ["p1", "p2"] {
            let ids: Vec<usize> = host
                .turns()
                .iter()
                .filter(|t| t.inbound.chat.id == peer && t.inbound.server_id != "old")
                .map(|t| t.inbound.server_id[1..].parse().expect("number"))
                .collect();
            assert!(ids.is_sorted(), "{peer} out of order: {ids:?}");
            assert_eq!(ids.len(), 20);
        }
        pipeline.close().await;
    }

    /// `lastInboundAt` is shown to the second; a patch per message was a host round trip
    /// (through napi into JS) per message.
    #[tokio::test]
    async fn last_inbound_at_is_reported_at_most_once_a_second() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let pipeline = open_connected(
            config(tmp.path()),
            host.clone(),
            Arc::new(Recorder::default()),
        );
        let batch = (0..30).map(|n| inbound(&format!("m{n}"), "p")).collect();
        pipeline.accept_many(batch).await.expect("accept");
        let reported = || {
            host.statuses()
                .iter()
                .filter(|(_, patch)| patch.last_inbound_at.is_some())
                .count()
        };
        assert_eq!(reported(), 1);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        pipeline
            .accept(inbound("later", "p"))
            .await
            .expect("accept");
        assert_eq!(reported(), 2, "a message a second later moves it");
        pipeline.close().await;
    }

    /// A batch dropped before its commit (its reader was cancelled) must not strand its
    /// turns: the journal holds them, so the server's redelivery would be dropped.
    #[tokio::test]
    async fn a_batch_dropped_before_its_commit_still_runs_its_turns() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let pipeline = open_connected(
            config(tmp.path()),
            host.clone(),
            Arc::new(Recorder::default()),
        );
        let mut batch = pipeline.batch();
        assert_eq!(
            batch.accept(inbound("a", "p")).await.expect("accept"),
            Accepted::Dispatched
        );
        assert_eq!(
            batch.accept(inbound("b", "p")).await.expect("accept"),
            Accepted::Dispatched
        );
        drop(batch);
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.turn_count() == 2)
                .await
        );
        pipeline.close().await;
    }

    /// A reader cancelled while its batch's fsync runs (an OpenIM backlog page, whose pull is
    /// one branch of a `select!` that a push can win) still queues the batch's turns: the
    /// journal holds their lines, so the re-pulled copies are dropped as duplicates, and turns
    /// left unqueued waited for the next start (found by the full chaos run: 5 of 10,000 lost).
    #[tokio::test]
    async fn a_batch_cancelled_during_its_fsync_still_runs_its_turns() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Turns that end only after the batches write no end lines meanwhile, whose sync would
        // make a later batch's lines durable before its commit looks; a peer per message lets
        // every turn start.
        let host =
            Arc::new(StandaloneHost::new(|_| Vec::new()).answering_after(Duration::from_secs(1)));
        let pipeline = open_connected(
            config(tmp.path()),
            host.clone(),
            Arc::new(Recorder::default()),
        );
        // Each commit is polled once (its fsync starts on the blocking pool), then dropped; one
        // whose fsync was done by then was not cancelled (about half of them here), so batches
        // go on until three were. Each one cancelled loses two turns without the fix.
        let (mut accepted, mut cancelled) = (0, 0);
        for n in 0..200 {
            let mut batch = pipeline.batch();
            for id in [format!("a{n}"), format!("b{n}")] {
                assert_eq!(
                    batch.accept(inbound(&id, &id)).await.expect("accept"),
                    Accepted::Dispatched
                );
                accepted += 1;
            }
            if tokio::time::timeout(Duration::ZERO, batch.commit())
                .await
                .is_err()
            {
                cancelled += 1;
                if cancelled == 3 {
                    break;
                }
            }
        }
        assert!(
            cancelled > 0,
            "no commit was still at its fsync when dropped"
        );
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.attempts().len() == accepted)
                .await,
            "{} of {accepted} turns handed to the host",
            host.attempts().len()
        );
        assert_eq!(
            pipeline.accept(inbound("a0", "a0")).await.expect("accept"),
            Accepted::Duplicate
        );
        pipeline.close().await;
    }

    /// A batch larger than the free turn slots must queue what it took before it waits: its
    /// turns give the slots back only once they run.
    #[tokio::test]
    async fn a_batch_past_the_turn_limit_queues_its_turns_before_it_waits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
        let config = PipelineConfig {
            max_pending_turns: 2,
            ..config(tmp.path())
        };
        let pipeline = open_connected(config, host.clone(), Arc::new(Recorder::default()));
        let batch = (0..6).map(|n| inbound(&format!("m{n}"), "p")).collect();
        let outcomes = tokio::time::timeout(Duration::from_secs(20), pipeline.accept_many(batch))
            .await
            .expect("the batch waited on turns it had not queued")
            .expect("accept");
        assert_eq!(outcomes, vec![Accepted::Dispatched; 6]);
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.turn_count() == 6)
                .await
        );
        pipeline.close().await;
    }

    #[tokio::test(start_paused = true)]
    async fn accept_waits_while_too_many_turns_are_unfinished() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::new(|_| Vec::new()).stalling_after_replies());
        let config = PipelineConfig {
            turn_timeout: Duration::from_secs(60),
            block_streaming: true,
            max_pending_turns: 2,
            ..config(tmp.path())
        };
        let pipeline = open_connected(config, host.clone(), Arc::new(Recorder::default()));
        pipeline.accept(inbound("a", "p1")).await.expect("accept");
        pipeline.accept(inbound("b", "p2")).await.expect("accept");
        let third = tokio::spawn({
            let pipeline = Arc::clone(&pipeline);
            async move { pipeline.accept(inbound("c", "p3")).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!third.is_finished(), "a third unfinished turn was taken");
        assert_eq!(pending_ids(tmp.path()), ["a", "b"], "nor journaled");
        // The first turns end at their deadline and give their slots back.
        let accepted = tokio::time::timeout(Duration::from_secs(60), third)
            .await
            .expect("accepted once a slot freed")
            .expect("join")
            .expect("accept");
        assert_eq!(accepted, Accepted::Dispatched);
        pipeline.close().await;
    }

    /// A start with more replays than slots deadlocked on OpenIM: replays wait for the account
    /// to report connected, which follows the catch-up, and the catch-up waited in `accept` for
    /// a slot that only a replay could give back. Until connected, reading goes on.
    #[tokio::test(start_paused = true)]
    async fn replays_past_the_limit_do_not_stall_the_read_that_connects() {
        let tmp = tempfile::tempdir().expect("tempdir");
        {
            let mut journal =
                Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
            for peer in ["p1", "p2", "p3"] {
                journal
                    .admit_pending(&inbound(&format!("{peer}-old"), peer))
                    .expect("admit");
            }
        }
        // Each turn holds its slot until its deadline.
        let host = Arc::new(StandaloneHost::default().stalling_after_replies());
        let config = PipelineConfig {
            turn_timeout: Duration::from_secs(60),
            block_streaming: true,
            max_pending_turns: 2,
            ..config(tmp.path())
        };
        let pipeline = open_with(config, host.clone(), Arc::new(Recorder::default()));
        // The catch-up: every peer's new message queues behind its replay.
        for peer in ["p1", "p2", "p3", "p4"] {
            let accepted = tokio::time::timeout(
                Duration::from_secs(60),
                pipeline.accept(inbound(&format!("{peer}-new"), peer)),
            )
            .await
            .expect("the read that leads to connected went on")
            .expect("accept");
            assert_eq!(accepted, Accepted::Dispatched);
        }
        pipeline.report_status(StatusPatch::connected());
        // Connected: the limit holds again; the two replays that took slots hold them.
        let next = tokio::spawn({
            let pipeline = Arc::clone(&pipeline);
            async move { pipeline.accept(inbound("p5-new", "p5")).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!next.is_finished(), "read past the limit once connected");
        let accepted = tokio::time::timeout(Duration::from_secs(60), next)
            .await
            .expect("accepted once a replay ended")
            .expect("join")
            .expect("accept");
        assert_eq!(accepted, Accepted::Dispatched);
        assert!(
            host.wait_for(Duration::from_secs(300), |h| h.turns().len() == 8)
                .await
        );
        let order = |peer: &str| -> Vec<String> {
            host.turns()
                .into_iter()
                .map(|t| t.inbound.server_id)
                .filter(|id| id.starts_with(peer))
                .collect()
        };
        assert_eq!(order("p1"), ["p1-old", "p1-new"], "the replay goes first");
        pipeline.close().await;
    }

    /// A turn that crashes or hangs the host on every start used to be replayed on every start,
    /// for ever, ahead of its peer's later messages. It is given up after MAX_REPLAY_STARTS.
    #[tokio::test]
    async fn a_turn_replayed_in_too_many_starts_is_given_up() {
        let tmp = tempfile::tempdir().expect("tempdir");
        {
            let mut journal =
                Journal::open(tmp.path().join("a.jsonl"), Window::default()).expect("open");
            journal
                .admit_pending(&inbound("poison", "p"))
                .expect("admit");
            journal
                .admit_pending(&inbound("unlucky", "q"))
                .expect("admit");
            for _ in 0..MAX_REPLAY_STARTS {
                journal.started("poison").expect("started");
            }
            for _ in 1..MAX_REPLAY_STARTS {
                journal.started("unlucky").expect("started");
            }
        }
        let host = Arc::new(StandaloneHost::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), Arc::new(Recorder::default()));
        pipeline.report_status(StatusPatch::connected());
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        assert_eq!(
            host.turns()[0].inbound.server_id,
            "unlucky",
            "one start short of the limit: still replayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(host.turns().len(), 1, "the poison turn was replayed again");
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty());
    }

    #[test]
    fn the_turn_deadline_layers_and_names_a_bad_value() {
        let section = serde_json::json!({
            "turnTimeoutSeconds": 600,
            "accounts": { "b": { "turnTimeoutSeconds": 60 }, "c": { "turnTimeoutSeconds": 5 } }
        });
        let resolve = |account| TurnKeys::resolve("channels.x", &section, account);
        assert_eq!(resolve("a").expect("a").timeout, Duration::from_secs(600));
        assert_eq!(resolve("b").expect("b").timeout, Duration::from_secs(60));
        let err = resolve("c").expect_err("5 s is too short for any agent");
        assert!(
            err.message
                .starts_with("channels.x.accounts.c.turnTimeoutSeconds: must be between"),
            "{err}"
        );
        let err = TurnKeys::resolve(
            "channels.x",
            &serde_json::json!({ "turnTimeoutSeconds": "soon" }),
            "a",
        )
        .expect_err("not a number");
        assert!(err.message.contains("channels.x"), "{err}");
        assert_eq!(
            TurnKeys::resolve("channels.x", &serde_json::json!({}), "a").expect("default"),
            TurnSettings {
                timeout: TurnKeys::DEFAULT_TIMEOUT,
                block_streaming: true
            }
        );
    }

    /// Block streaming is on unless the account, or else the channel, turns it off; a bad
    /// value is named by its path.
    #[test]
    fn block_streaming_layers_and_names_a_bad_value() {
        let section = serde_json::json!({
            "streaming": { "block": { "enabled": false, "coalesce": { "minChars": 400 } } },
            "accounts": { "b": { "streaming": { "block": { "enabled": true } } }, "c": {} }
        });
        let resolve = |account| TurnKeys::resolve("channels.x", &section, account);
        assert!(!resolve("a").expect("a").block_streaming);
        assert!(resolve("b").expect("b").block_streaming);
        assert!(!resolve("c").expect("c").block_streaming);
        let on = TurnKeys::resolve("channels.x", &serde_json::json!({"accounts": {}}), "a");
        assert!(on.expect("default").block_streaming);
        let err = TurnKeys::resolve(
            "channels.x",
            &serde_json::json!({ "streaming": { "block": { "enabled": "yes" } } }),
            "a",
        )
        .expect_err("not a boolean");
        assert!(err.message.contains("streaming.block.enabled"), "{err}");
    }

    /// An outlet whose sends all fail.
    struct Refusing;

    #[async_trait::async_trait]
    impl Outlet for Refusing {
        async fn send(&self, _: &Target, _: &Outbound) -> Result<Receipt, ChannelError> {
            Err(ChannelError::transient("the server is down"))
        }
    }

    /// Before: a reply the network refused (a REST 500) was lost, because the turn counted as
    /// answered and was marked done. Now the send is tried again; still refused, the turn stays
    /// pending, and the next start sends the recorded answer without asking the agent again.
    #[tokio::test(start_paused = true)]
    async fn a_reply_the_network_keeps_refusing_goes_out_at_the_next_start_without_a_second_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let pipeline = open_connected(config(tmp.path()), host.clone(), Arc::new(Refusing));
        pipeline.accept(inbound("once", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(60), |h| h.turns().len() == 1)
                .await
        );
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(host.attempts(), ["once"], "the agent is asked once");
        pipeline.close().await;
        assert_eq!(
            pending_ids(tmp.path()),
            ["once"],
            "the answer is still owed"
        );

        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        pipeline.report_status(StatusPatch::connected());
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sent = lock(&outlet.0).clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].1.text, "echo: msg once");
        assert_eq!(sent[0].1.client_id.as_deref(), Some("once:reply:1"));
        assert!(host.attempts().is_empty(), "the agent was asked again");
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty());
    }

    /// Fails the first `n` sends with a passing error.
    struct Flaky(Mutex<usize>, Recorder);

    #[async_trait::async_trait]
    impl Outlet for Flaky {
        async fn send(&self, target: &Target, message: &Outbound) -> Result<Receipt, ChannelError> {
            {
                let mut left = lock(&self.0);
                if *left > 0 {
                    *left -= 1;
                    return Err(ChannelError::transient("HTTP 500"));
                }
            }
            self.1.send(target, message).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_refused_for_a_moment_is_sent_again_under_its_id() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Flaky(Mutex::new(2), Recorder::default()));
        let pipeline = open_connected(config(tmp.path()), host.clone(), outlet.clone());
        pipeline.accept(inbound("r", "p")).await.expect("accept");
        assert!(
            host.wait_for(Duration::from_secs(60), |h| h.turns().len() == 1)
                .await
        );
        let sent = lock(&outlet.1.0).clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.client_id.as_deref(), Some("r:reply:1"));
        pipeline.close().await;
        assert!(pending_ids(tmp.path()).is_empty());
    }

    #[tokio::test]
    async fn one_peers_messages_keep_their_order_and_replies_get_stable_ids() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        let outlet = Arc::new(Recorder::default());
        let pipeline = open_pipeline(tmp.path(), host.clone(), outlet.clone());
        for n in 0..20 {
            let peer = if n % 2 == 0 { "even" } else { "odd" };
            assert_eq!(
                pipeline
                    .accept(inbound(&format!("m{n}"), peer))
                    .await
                    .expect("accept"),
                Accepted::Dispatched
            );
        }
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 20)
                .await
        );
        for peer in ["even", "odd"] {
            let order: Vec<usize> = host
                .turns()
                .iter()
                .filter(|t| t.inbound.chat.id == peer)
                .map(|t| t.inbound.server_id[1..].parse().expect("number"))
                .collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(order, sorted, "{peer} reordered");
        }
        let sent = lock(&outlet.0).clone();
        let (target, first) = sent
            .iter()
            .find(|(t, _)| t.id == "even")
            .expect("a reply to even");
        assert_eq!(target.kind, ChatKind::Direct);
        assert_eq!(first.client_id.as_deref(), Some("m0:reply:1"));
        assert_eq!(first.in_reply_to_inbound.as_deref(), Some("m0"));
        pipeline.close().await;
    }

    fn in_group(id: &str, group: &str, sender: &str, mentioned: bool) -> Inbound {
        let mut msg = inbound(id, sender);
        msg.chat = Chat {
            kind: ChatKind::Group,
            id: group.into(),
            title: None,
            host_peer: Some(format!("{group}@a")),
        };
        msg.was_mentioned = mentioned;
        msg
    }

    #[tokio::test]
    async fn groups_pass_the_group_gate_and_pairing_never_opens_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = Arc::new(StandaloneHost::default());
        // An approved DM sender is not a group sender.
        host.pairing.allow("test", "a", "bob");
        let open_dms = config(tmp.path());
        let closed = open_with(
            open_dms.clone(),
            host.clone(),
            Arc::new(Recorder::default()),
        );
        assert_eq!(
            closed
                .accept(in_group("g-1", "g1", "bob", true))
                .await
                .expect("accept"),
            Accepted::GroupDropped(GroupDrop::GroupNotAllowed),
            "groups are closed by default, whatever the DM settings"
        );
        closed.close().await;

        let keys: crate::group::GroupKeys = serde_json::from_value(serde_json::json!({
            "groupPolicy": "allowlist", "groupAllowFrom": ["alice"],
        }))
        .expect("keys");
        let gated = PipelineConfig {
            group: GroupConfig::layered(&keys, None, crate::GroupPolicy::Open, false),
            journal: tmp.path().join("b.jsonl"),
            ..open_dms
        };
        let pipeline = open_with(gated, host.clone(), Arc::new(Recorder::default()));
        assert_eq!(
            pipeline
                .accept(in_group("g-2", "g1", "bob", true))
                .await
                .expect("accept"),
            Accepted::GroupDropped(GroupDrop::SenderNotAllowed)
        );
        // Dropped for good: a redelivery is a duplicate, not a second decision.
        assert_eq!(
            pipeline
                .accept(in_group("g-2", "g1", "bob", true))
                .await
                .expect("accept"),
            Accepted::Duplicate
        );
        assert_eq!(
            pipeline
                .accept(in_group("g-3", "g1", "alice", false))
                .await
                .expect("accept"),
            Accepted::Dispatched
        );
        assert!(
            host.wait_for(Duration::from_secs(5), |h| h.turns().len() == 1)
                .await
        );
        let turn = &host.turns()[0];
        assert_eq!(turn.inbound.server_id, "g-3");
        assert_eq!(turn.context["CommandAuthorized"], true);
        assert_eq!(
            turn.context["To"], "g1@a",
            "the host knows the group by its host peer"
        );
        assert_eq!(turn.context["ChatType"], "group");
        pipeline.close().await;
    }
}
