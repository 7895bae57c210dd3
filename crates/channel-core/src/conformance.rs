//! The behaviour every channel must show against its simulator: connect, receive, dedup, send,
//! reconnect, the DM policies, and the supervisor's status, login-loss and kick-loop rules. A channel crate implements [`Harness`] for its simulator and
//! expands [`channel_conformance_tests!`](crate::channel_conformance_tests) in a test file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::channel::Channel;
use crate::dm::DmPolicy;
use crate::error::ChannelError;
use crate::host::AccountPhase;
use crate::message::Outbound;
use crate::registry::AnyChannel;
use crate::sendlog::SendLog;
use crate::supervisor::{KICK_PAUSE, MAX_KICKS};
use crate::testing::StandaloneHost;

/// How long a conformance step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(15);

/// A channel wired to its simulator.
#[async_trait::async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    type Channel: Channel;

    /// Starts the simulator, with the channel's state under `state`.
    async fn start(state: &Path) -> Self;
    fn channel(&self) -> Arc<Self::Channel>;
    fn account_id(&self) -> String;
    /// `channels.<id>` for the account with these DM settings.
    fn section(&self, policy: DmPolicy, allow_from: &[String]) -> Value;
    /// A peer the server knows that no config allows.
    fn stranger(&self) -> String;
    /// Injects a text message from `peer`; returns the server message id.
    async fn inject(&self, peer: &str, text: &str) -> String;
    /// Delivers an already delivered message again, as at-least-once servers do.
    async fn redeliver(&self, server_id: &str);
    /// Texts the server accepted for `peer`, in order.
    async fn sent_to(&self, peer: &str) -> Vec<String>;
    /// Makes the next receive fail at the transport level.
    async fn break_once(&self);
    /// The server stops accepting the account's credentials and ends its session, as when a
    /// token is revoked or a login expires.
    async fn revoke_login(&self);
    /// Another login takes the account over (the server kicks this one). `false` for networks
    /// without kicks.
    async fn kick(&self) -> bool {
        false
    }
}

/// A running account under test.
pub struct Running {
    pub host: Arc<StandaloneHost>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), ChannelError>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl Running {
    pub async fn start<H: Harness>(h: &H, host: Arc<StandaloneHost>, section: Value) -> Self {
        let cancel = CancellationToken::new();
        let channel = h.channel();
        let account = h.account_id();
        let task = tokio::spawn({
            let host = Arc::clone(&host);
            let cancel = cancel.clone();
            async move { channel.run(&section, &account, host, cancel).await }
        });
        let running = Self { host, cancel, task };
        let account = h.account_id();
        assert!(
            running
                .host
                .wait_for(STEP, |host| host.is_connected(&account))
                .await,
            "account never reported connected; statuses: {:?}",
            running.host.statuses()
        );
        running
    }

    /// Waits for the account to stop by itself; its result.
    pub async fn ended(self) -> Result<(), ChannelError> {
        match tokio::time::timeout(STEP, self.task).await {
            Ok(Ok(result)) => result,
            other => panic!(
                "account did not stop by itself: {other:?}; statuses: {:?}",
                self.host.statuses()
            ),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The lifecycle phases the account went through, in order.
    pub fn phases(&self) -> Vec<AccountPhase> {
        self.host
            .statuses()
            .into_iter()
            .filter_map(|(_, patch)| patch.lifecycle)
            .collect()
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        match tokio::time::timeout(STEP, self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("account did not stop cleanly: {other:?}"),
        }
    }
}

async fn wait_sent<H: Harness>(h: &H, peer: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let sent = h.sent_to(peer).await;
        if sent.len() >= count || tokio::time::Instant::now() >= deadline {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Gives stray work a moment to show up, before asserting that it did not.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

fn allow(peer: &str) -> Vec<String> {
    vec![peer.to_owned()]
}

pub async fn connects<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let running = Running::start(&h, Arc::default(), h.section(DmPolicy::Pairing, &[])).await;
    running.stop().await;
}

pub async fn receives_and_replies<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let peer = h.stranger();
    let running = Running::start(
        &h,
        Arc::default(),
        h.section(DmPolicy::Allowlist, &allow(&peer)),
    )
    .await;
    let id = h.inject(&peer, "hello conformance").await;
    assert!(
        running
            .host
            .wait_for(STEP, |host| host.turns().len() == 1)
            .await,
        "no turn"
    );
    let turn = &running.host.turns()[0];
    assert_eq!(turn.inbound.text, "hello conformance");
    assert_eq!(turn.inbound.server_id, id);
    assert_eq!(turn.inbound.sender.id, peer, "sender id is byte-exact");
    assert_eq!(
        turn.context["MessageSid"],
        Value::String(id),
        "MessageSid is the server id"
    );
    assert_eq!(
        wait_sent(&h, &peer, 1).await,
        vec!["echo: hello conformance".to_string()]
    );
    running.stop().await;
}

pub async fn drops_redeliveries_even_across_restart<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let peer = h.stranger();
    let section = h.section(DmPolicy::Allowlist, &allow(&peer));
    let running = Running::start(&h, Arc::default(), section.clone()).await;
    let id = h.inject(&peer, "once").await;
    assert!(
        running
            .host
            .wait_for(STEP, |host| host.turns().len() == 1)
            .await,
        "no turn"
    );
    h.redeliver(&id).await;
    settle().await;
    assert_eq!(
        running.host.turns().len(),
        1,
        "redelivery reached the agent"
    );
    running.stop().await;

    let restarted = Running::start(&h, Arc::default(), section).await;
    h.redeliver(&id).await;
    h.inject(&peer, "after restart").await;
    assert!(
        restarted
            .host
            .wait_for(STEP, |host| !host.turns().is_empty())
            .await,
        "no turn after restart"
    );
    settle().await;
    let texts: Vec<_> = restarted
        .host
        .turns()
        .iter()
        .map(|t| t.inbound.text.clone())
        .collect();
    assert_eq!(
        texts,
        vec!["after restart".to_string()],
        "only the new message is a turn"
    );
    assert_eq!(wait_sent(&h, &peer, 2).await.len(), 2);
    restarted.stop().await;
}

pub async fn sends_to_a_target<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let peer = h.stranger();
    let section = h.section(DmPolicy::Allowlist, &allow(&peer));
    let running = Running::start(&h, Arc::default(), section.clone()).await;
    // Many IM servers only accept sends to peers that wrote first.
    h.inject(&peer, "hi bot").await;
    assert_eq!(wait_sent(&h, &peer, 1).await.len(), 1);
    let receipt = h
        .channel()
        .send(
            &section,
            &h.account_id(),
            &peer,
            &Outbound::text("proactive hello"),
        )
        .await
        .expect("send");
    assert!(!receipt.message_id().is_empty());
    assert_eq!(
        wait_sent(&h, &peer, 2).await.last().map(String::as_str),
        Some("proactive hello")
    );
    let bad = h
        .channel()
        .send(&section, &h.account_id(), "   ", &Outbound::text("x"))
        .await;
    assert!(bad.is_err(), "an empty target is refused");
    running.stop().await;
}

pub async fn reconnects_after_a_broken_receive<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let peer = h.stranger();
    let running = Running::start(
        &h,
        Arc::default(),
        h.section(DmPolicy::Allowlist, &allow(&peer)),
    )
    .await;
    h.break_once().await;
    h.inject(&peer, "still there?").await;
    assert!(
        running
            .host
            .wait_for(STEP, |host| host.turns().len() == 1)
            .await,
        "no turn after a broken receive"
    );
    let account = h.account_id();
    assert!(
        running
            .host
            .wait_for(STEP, |host| host.is_connected(&account))
            .await,
        "account did not report connected again"
    );
    running.stop().await;
}

pub async fn applies_every_dm_policy<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let stranger = h.stranger();

    // pairing: a code, no turn; approved, the next message is a turn.
    let host = Arc::new(StandaloneHost::default());
    let running = Running::start(&h, Arc::clone(&host), h.section(DmPolicy::Pairing, &[])).await;
    h.inject(&stranger, "let me in").await;
    let sent = wait_sent(&h, &stranger, 1).await;
    assert_eq!(sent.len(), 1, "pairing reply");
    let (_, code) = host
        .pairing
        .pending(&h.descriptor_id(), &h.account_id())
        .pop()
        .expect("a pending request");
    assert!(
        sent[0].contains(&code),
        "reply {:?} carries code {code}",
        sent[0]
    );
    assert!(host.turns().is_empty());
    h.inject(&stranger, "again").await;
    settle().await;
    assert_eq!(
        h.sent_to(&stranger).await.len(),
        1,
        "one code per request, not one per message"
    );
    host.pairing
        .approve(&h.descriptor_id(), &h.account_id(), &code)
        .expect("approve");
    h.inject(&stranger, "approved now").await;
    assert!(
        host.wait_for(STEP, |host| host.turns().len() == 1).await,
        "approved sender gets a turn"
    );
    running.stop().await;

    for (policy, allow_from) in [
        (DmPolicy::Allowlist, vec![]),
        (DmPolicy::Disabled, vec!["*".to_string()]),
    ] {
        let host = Arc::new(StandaloneHost::default());
        let running = Running::start(&h, Arc::clone(&host), h.section(policy, &allow_from)).await;
        let before = h.sent_to(&stranger).await.len();
        h.inject(&stranger, "knock knock").await;
        settle().await;
        assert!(host.turns().is_empty(), "{policy:?} let a stranger through");
        assert_eq!(
            h.sent_to(&stranger).await.len(),
            before,
            "{policy:?} answered a stranger"
        );
        running.stop().await;
    }

    let host = Arc::new(StandaloneHost::default());
    let running = Running::start(
        &h,
        Arc::clone(&host),
        h.section(DmPolicy::Open, &["*".into()]),
    )
    .await;
    h.inject(&stranger, "open door").await;
    assert!(
        host.wait_for(STEP, |host| host.turns().len() == 1).await,
        "open lets everyone in"
    );
    running.stop().await;
}

/// A turn whose reply went out, cut off before it ended (the gateway killed), is finished by the
/// next run from its recorded answer: the reply is recognised in the send log and not sent again,
/// and the agent is not asked a second time.
pub async fn a_replayed_turn_never_sends_its_reply_twice<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let peer = h.stranger();
    let section = h.section(DmPolicy::Allowlist, &allow(&peer));
    let host = Arc::new(StandaloneHost::default().stalling_after_replies());
    let running = Running::start(&h, Arc::clone(&host), section.clone()).await;
    h.inject(&peer, "cut me off").await;
    assert!(
        host.wait_for(STEP, |host| host.turns().len() == 1).await,
        "no turn"
    );
    assert_eq!(wait_sent(&h, &peer, 1).await, ["echo: cut me off"]);
    running.stop().await;
    // The next run is a new process: nothing carried over in memory.
    SendLog::forget_open_logs();
    let host = Arc::new(StandaloneHost::default());
    let running = Running::start(&h, Arc::clone(&host), section).await;
    assert!(
        host.wait_for(STEP, |host| host
            .statuses()
            .iter()
            .any(|(_, patch)| patch.last_outbound_at.is_some()))
            .await,
        "the cut-off turn's recorded reply was not delivered (refused as a duplicate?): {:?}",
        host.statuses()
    );
    settle().await;
    assert!(
        host.turns().is_empty(),
        "the agent was asked again about a turn whose final answer was recorded"
    );
    assert_eq!(
        h.sent_to(&peer).await,
        ["echo: cut me off"],
        "the replayed turn sent its reply again"
    );
    running.stop().await;
}

/// `starting`, then `ready`; `recovering` while a broken connection is replaced, `ready` again;
/// `stopped` at the end. The supervisor writes these for every channel.
pub async fn status_follows_the_connection<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let running = Running::start(&h, Arc::default(), h.section(DmPolicy::Pairing, &[])).await;
    assert_eq!(
        running.phases()[..2],
        [AccountPhase::Starting, AccountPhase::Ready]
    );
    h.break_once().await;
    // The break shows on the next receive, which a long poll may hold a while.
    h.inject(&h.stranger(), "wake up").await;
    assert!(
        running
            .host
            .wait_for(STEP, |_| {
                let phases = running.phases();
                phases
                    .iter()
                    .position(|p| *p == AccountPhase::Recovering)
                    .is_some_and(|at| phases[at..].contains(&AccountPhase::Ready))
            })
            .await,
        "no recovering, then ready, after a broken connection: {:?}",
        running.phases()
    );
    let host = Arc::clone(&running.host);
    running.stop().await;
    let last = host.statuses().pop().expect("a status").1;
    assert_eq!(last.lifecycle, Some(AccountPhase::Stopped));
    assert_eq!(last.connected, Some(false));
}

/// A login the server no longer accepts stops the account as blocked, with `needsLogin`, instead
/// of retrying for ever.
pub async fn a_revoked_login_blocks_the_account<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let running = Running::start(&h, Arc::default(), h.section(DmPolicy::Pairing, &[])).await;
    h.revoke_login().await;
    h.inject(&h.stranger(), "anyone there?").await;
    let host = Arc::clone(&running.host);
    let err = running.ended().await.expect_err("a revoked login stops");
    assert!(
        err.kind.stops_account(),
        "{err} should need a person ({:?})",
        err.kind
    );
    let last = host.statuses().pop().expect("a status").1;
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked), "{last:?}");
    assert_eq!(last.needs_login, Some(true));
    assert_eq!(last.last_error, Some(Some(err.to_string())));
}

/// Being kicked again and again (two clients fighting over one account) stops the account after
/// at most [`MAX_KICKS`]` + 1` kicks, as blocked; it never loops.
pub async fn a_kick_loop_blocks_the_account<H: Harness>(state: &Path) {
    let h = H::start(state).await;
    let running = Running::start(&h, Arc::default(), h.section(DmPolicy::Pairing, &[])).await;
    let account = h.account_id();
    let blocked = |running: &Running| running.phases().last() == Some(&AccountPhase::Blocked);
    let mut kicks = 0;
    while !blocked(&running) {
        assert!(
            kicks <= MAX_KICKS,
            "still running after {kicks} kicks: {:?}",
            running.host.statuses()
        );
        if !h.kick().await {
            // No kicks in this network.
            running.stop().await;
            return;
        }
        kicks += 1;
        // Either the account is back (after its pause) or it stopped.
        let settled = running
            .host
            .wait_for(STEP + KICK_PAUSE, |host| {
                let phases = running.phases();
                // One `ready` at the start, one more after each kick it came back from.
                blocked(&running)
                    || (host.is_connected(&account)
                        && phases.iter().filter(|p| **p == AccountPhase::Ready).count() > kicks)
            })
            .await;
        assert!(
            settled,
            "neither back nor stopped after kick {kicks}: {:?}",
            running.phases()
        );
    }
    let host = Arc::clone(&running.host);
    let err = running.ended().await.expect_err("a kick loop stops");
    assert!(err.kind.stops_account(), "{err}");
    let last = host.statuses().pop().expect("a status").1;
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
    assert_eq!(last.needs_login, Some(true));
}

/// The channel id, for pairing-store lookups.
pub trait DescriptorId {
    fn descriptor_id(&self) -> String;
}

impl<H: Harness> DescriptorId for H {
    fn descriptor_id(&self) -> String {
        self.channel().descriptor().id
    }
}

/// Expands to one `#[tokio::test]` per conformance check for harness `$harness`.
#[macro_export]
macro_rules! channel_conformance_tests {
    ($harness:ty) => {
        $crate::channel_conformance_tests!(@each $harness;
            connects,
            receives_and_replies,
            drops_redeliveries_even_across_restart,
            sends_to_a_target,
            reconnects_after_a_broken_receive,
            applies_every_dm_policy,
            status_follows_the_connection,
            a_revoked_login_blocks_the_account,
            a_kick_loop_blocks_the_account,
            a_replayed_turn_never_sends_its_reply_twice,
        );
    };
    (@each $harness:ty; $($check:ident),* $(,)?) => {
        mod conformance {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let state = ::tempfile::tempdir().expect("tempdir");
                    $crate::conformance::$check::<$harness>(state.path()).await;
                }
            )*
        }
    };
}
