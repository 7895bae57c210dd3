//! The gateway client against the OpenIM simulator over loopback: login, catch-up, pushes,
//! reconnects, kicks, sends whose reply is lost, and bad frames from the server.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::supervisor::{Connector, supervise};
use channel_core::{
    AccountPhase, Backoff, ChannelError, ErrorKind, Lifecycle, SendLog, StatusPatch,
};
use imsim::openim::{Fault, OpenImOptions, OpenImSim};
use openim::gateway::{Connection, Link, Login, Recover, Runner, Seqs, Sequencer, Sink, Timing};
use openim::wire::proto::{GetMaxSeqReq, GetMaxSeqResp, MsgData};
use openim::wire::{Content, content_type, conversation, session_type};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

const BOT: &str = "bot1";
const WAIT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Recorder {
    /// (conversation id, seq, text) in delivery order.
    got: Mutex<Vec<(String, i64, String)>>,
    own: Mutex<Vec<String>>,
    link: Mutex<Option<Arc<Link>>>,
    changed: Notify,
    /// While true, `deliver` waits (a catch-up stuck in the middle).
    held: tokio::sync::watch::Sender<bool>,
    /// Deliveries that started waiting on `held`.
    holding: std::sync::atomic::AtomicUsize,
}

impl Recorder {
    fn got(&self) -> Vec<(String, i64, String)> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, i64, String)> {
        let waited = tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.changed.notified();
                if self.got.lock().unwrap().len() >= count {
                    return;
                }
                notified.await;
            }
        })
        .await;
        let got = self.got();
        assert!(
            waited.is_ok(),
            "waited for {count} messages, got {}",
            got.len()
        );
        got
    }
}

#[async_trait::async_trait]
impl Sink for Recorder {
    async fn deliver(&self, batch: Vec<(String, MsgData)>) -> Result<(), ChannelError> {
        if *self.held.borrow() {
            self.holding
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut held = self.held.subscribe();
            let _ = held.wait_for(|h| !h).await;
        }
        for (conversation_id, msg) in batch {
            let text = Content::decode(msg.content_type, &msg.content)?
                .plain_text()
                .unwrap_or_default()
                .to_owned();
            self.got
                .lock()
                .unwrap()
                .push((conversation_id, msg.seq, text));
        }
        self.changed.notify_waiters();
        Ok(())
    }

    fn own(&self, msg: &MsgData) {
        self.own.lock().unwrap().push(msg.client_msg_id.clone());
        if let Some(link) = self.link.lock().unwrap().as_ref() {
            link.confirm(&msg.client_msg_id, &msg.server_msg_id);
        }
    }
}

/// Never renews: a refused token stops the account.
struct NoRecovery;

#[async_trait::async_trait]
impl Recover for NoRecovery {
    async fn recover(&self, error: &ChannelError) -> Result<String, ChannelError> {
        Err(error.clone())
    }
}

/// Hands out one prepared token, once.
struct Renew(Mutex<Option<String>>);

#[async_trait::async_trait]
impl Recover for Renew {
    async fn recover(&self, error: &ChannelError) -> Result<String, ChannelError> {
        self.0.lock().unwrap().take().ok_or_else(|| error.clone())
    }
}

fn login(sim: &OpenImSim, token: String) -> Login {
    Login {
        ws_addr: sim.ws_url().parse().unwrap(),
        user_id: BOT.into(),
        token,
        platform_id: 7,
    }
}

fn fast() -> Timing {
    Timing {
        handshake: Duration::from_secs(5),
        ping_every: Duration::from_secs(5),
        dead_after: Duration::from_secs(20),
        request: Duration::from_secs(5),
        drain: Duration::from_secs(5),
    }
}

struct Running {
    link: Arc<Link>,
    sink: Arc<Recorder>,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<Result<(), ChannelError>>,
    statuses: Arc<Mutex<Vec<StatusPatch>>>,
}

impl Running {
    fn recoveries(&self) -> usize {
        self.statuses
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.lifecycle == Some(AccountPhase::Recovering))
            .count()
    }

    /// A recovery ran and the account is connected again after it.
    fn renewed(&self) -> bool {
        let statuses = self.statuses.lock().unwrap();
        let recovering = statuses
            .iter()
            .position(|s| s.lifecycle == Some(AccountPhase::Recovering));
        recovering.is_some_and(|at| {
            statuses[at..]
                .iter()
                .any(|s| s.lifecycle == Some(AccountPhase::Ready))
        })
    }

    async fn stop(self) -> Result<(), ChannelError> {
        self.cancel.cancel();
        self.done.await.unwrap()
    }
}

fn start(
    sim: &OpenImSim,
    token: String,
    seqs: &std::path::Path,
    sink: Arc<Recorder>,
    recover: Arc<dyn Recover>,
) -> Running {
    start_with(sim, token, seqs, sink, recover, |s| s)
}

fn runner(
    sim: &OpenImSim,
    token: String,
    seqs: &std::path::Path,
    sink: &Arc<Recorder>,
    recover: Arc<dyn Recover>,
    tune: impl FnOnce(Sequencer) -> Sequencer,
) -> Runner {
    let link = Arc::new(Link::new(SendLog::at(seqs.with_extension("sent.jsonl"))));
    *sink.link.lock().unwrap() = Some(Arc::clone(&link));
    Runner {
        login: login(sim, token),
        timing: fast(),
        health_every: Duration::from_secs(3600),
        link,
        sync: tune(Sequencer::new(Seqs::open(seqs).unwrap(), BOT)),
        sink: sink.clone(),
        recover,
    }
}

fn start_with(
    sim: &OpenImSim,
    token: String,
    seqs: &std::path::Path,
    sink: Arc<Recorder>,
    recover: Arc<dyn Recover>,
    tune: impl FnOnce(Sequencer) -> Sequencer,
) -> Running {
    go(runner(sim, token, seqs, &sink, recover, tune), sink)
}

/// Supervises `runner` in a task of its own.
fn go(runner: Runner, sink: Arc<Recorder>) -> Running {
    let link = Arc::clone(&runner.link);
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&statuses);
    let cancel = CancellationToken::new();
    let life = Lifecycle::new(
        cancel.clone(),
        Arc::new(move |patch| recorded.lock().unwrap().push(patch)),
    );
    let backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(200));
    let done = tokio::spawn(async move {
        let mut runner = runner;
        supervise(&mut runner, &life, backoff, "primary").await
    });
    Running {
        link,
        sink,
        cancel,
        done,
        statuses,
    }
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A text from the bot to alice, as a client sends it (status 1 "sending").
fn text_to_alice(client_msg_id: &str, text: &str) -> MsgData {
    MsgData {
        send_id: BOT.into(),
        recv_id: "alice".into(),
        client_msg_id: client_msg_id.into(),
        session_type: session_type::SINGLE,
        msg_from: 100,
        content_type: content_type::TEXT,
        content: Content::text(text).encode().unwrap(),
        status: 1,
        ..MsgData::default()
    }
}

async fn sim() -> OpenImSim {
    let sim = OpenImSim::start(OpenImOptions::default()).await.unwrap();
    sim.add_user(BOT);
    sim
}

#[tokio::test]
async fn logs_in_and_answers_requests() {
    let sim = sim().await;
    let token = sim.issue_token(BOT, 7);
    let (tx, _rx) = mpsc::unbounded_channel();
    let conn = Connection::open(&login(&sim, token), fast(), tx)
        .await
        .unwrap();
    sim.inject_text("alice", BOT, "hi");
    let seqs: GetMaxSeqResp = conn
        .request(&GetMaxSeqReq {
            user_id: BOT.into(),
        })
        .await
        .unwrap();
    assert_eq!(seqs.max_seqs.get("si_alice_bot1"), Some(&1));
    assert!(sim.online(BOT));
}

#[tokio::test]
async fn a_refused_token_is_classified_and_names_no_secret() {
    let sim = sim().await;
    let token = sim.issue_token(BOT, 7);
    sim.expire_token(&token);
    let (tx, _rx) = mpsc::unbounded_channel();
    let err = Connection::open(&login(&sim, token.clone()), fast(), tx.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AuthExpired, "{err}");
    assert!(err.message.contains("1501"), "{err}");
    assert!(!err.message.contains(&token));

    let other = sim.issue_token(BOT, 7);
    sim.revoke(&other);
    let err = Connection::open(&login(&sim, other), fast(), tx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AuthExpired, "{err}");
    assert!(err.message.contains("1507"), "{err}");
}

#[tokio::test]
async fn the_first_sync_starts_from_now_and_pushes_arrive_in_order() {
    let sim = sim().await;
    sim.inject_text("alice", BOT, "old history");
    let dir = tempfile::tempdir().unwrap();
    let seqs = dir.path().join("seqs.json");
    let run = start(
        &sim,
        sim.issue_token(BOT, 7),
        &seqs,
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;
    for n in 1..=5 {
        sim.inject_text("alice", BOT, &format!("new {n}"));
    }
    let got = run.sink.wait_for(5).await;
    let texts: Vec<_> = got.iter().map(|g| g.2.as_str()).collect();
    assert_eq!(texts, ["new 1", "new 2", "new 3", "new 4", "new 5"]);
    assert_eq!(got[0].1, 2, "seq 1 was history before the first sync");
    // Marks are written at most once a second, yet within a second of the last push, while
    // the account runs on.
    let on_disk = || {
        let marks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&seqs).unwrap()).unwrap();
        marks["conversations"]["si_alice_bot1"].as_i64()
    };
    until("the last mark on disk", || on_disk() == Some(6)).await;
    run.stop().await.unwrap();
    assert_eq!(on_disk(), Some(6));
}

/// The acceptance scenario: 500 messages over 20 conversations while the client is away, then
/// again while its connection keeps dropping. Each arrives exactly once, in order.
#[tokio::test]
async fn five_hundred_messages_over_twenty_conversations_arrive_once_in_order() {
    let sim = sim().await;
    let peers: Vec<String> = (1..=20).map(|n| format!("peer{n:02}")).collect();
    for p in &peers {
        sim.add_user(p);
    }
    let dir = tempfile::tempdir().unwrap();
    let seqs = dir.path().join("seqs.json");
    let token = sim.issue_token(BOT, 7);

    // A first run makes the account known, so later conversations are read from their start.
    let run = start(
        &sim,
        token.clone(),
        &seqs,
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;
    run.stop().await.unwrap();

    // Away (like a gateway restart): 25 messages from each peer.
    for n in 1..=25 {
        for p in &peers {
            sim.inject_text(p, BOT, &format!("{p} {n}"));
        }
    }
    let run = start(
        &sim,
        token.clone(),
        &seqs,
        Arc::default(),
        Arc::new(NoRecovery),
    );
    let got = run.sink.wait_for(500).await;
    check_exactly_once(&got, &peers, 25);

    // Connected, but the connection is cut again and again while messages are stored.
    let before = got.len();
    for n in 26..=50 {
        for p in &peers {
            sim.inject_text(p, BOT, &format!("{p} {n}"));
        }
        if n % 5 == 0 {
            sim.drop_connections(BOT);
        }
    }
    let got = run.sink.wait_for(before + 500).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = run.sink.got();
    assert_eq!(got.len(), got_after.len(), "late duplicates arrived");
    check_exactly_once(&got_after, &peers, 50);
    run.stop().await.unwrap();
}

fn check_exactly_once(got: &[(String, i64, String)], peers: &[String], per_peer: usize) {
    let mut by_conversation: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (conversation, _, text) in got {
        by_conversation
            .entry(conversation.as_str())
            .or_default()
            .push(text.as_str());
    }
    assert_eq!(by_conversation.len(), peers.len());
    for p in peers {
        let id = conversation::single(p, BOT);
        let expected: Vec<String> = (1..=per_peer).map(|n| format!("{p} {n}")).collect();
        assert_eq!(by_conversation[id.as_str()], expected, "conversation {id}");
    }
    let unique: HashSet<_> = got.iter().map(|g| (&g.0, g.1)).collect();
    assert_eq!(unique.len(), got.len(), "a seq was delivered twice");
}

#[tokio::test]
async fn own_messages_are_not_delivered_and_a_lost_reply_is_not_resent() {
    let sim = sim().await;
    sim.add_user("alice");
    let dir = tempfile::tempdir().unwrap();
    let run = start(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;

    let msg = text_to_alice;
    let stored = run.link.send(&msg("c-first", "hello"), WAIT).await.unwrap();
    assert!(!stored.server_msg_id.is_empty());
    until("echo seen", || {
        run.sink.own.lock().unwrap().contains(&"c-first".to_owned())
    })
    .await;

    // The server stores the next send but the connection drops instead of the reply.
    sim.fault(BOT, Fault::Drop);
    let stored = run
        .link
        .send(&msg("c-second", "are you there"), WAIT)
        .await
        .unwrap();
    assert_eq!(
        stored.resent, 0,
        "the stored copy was found after the reconnect"
    );
    let copies = sim
        .messages(&conversation::single("alice", BOT))
        .into_iter()
        .filter(|m| m.client_msg_id == "c-second")
        .count();
    assert_eq!(copies, 1);

    // A retry of a send that went out is answered from memory, not sent again.
    let again = run
        .link
        .send(&msg("c-second", "are you there"), WAIT)
        .await
        .unwrap();
    assert_eq!(again.server_msg_id, stored.server_msg_id);
    assert_eq!(sim.messages(&conversation::single("alice", BOT)).len(), 2);

    // The server stores the next one and says so, but the rest of its reply is garbage: as
    // unknown as a lost reply, so it is read back rather than sent again.
    sim.fault(BOT, Fault::BadProtobuf);
    let third = run
        .link
        .send(&msg("c-third", "still there?"), WAIT)
        .await
        .unwrap();
    assert_eq!(third.resent, 0);
    let copies = sim
        .messages(&conversation::single("alice", BOT))
        .into_iter()
        .filter(|m| m.client_msg_id == "c-third")
        .count();
    assert_eq!(copies, 1, "an unreadable reply made it send twice");
    assert!(run.sink.got().is_empty(), "own messages were delivered");
    run.stop().await.unwrap();
}

/// A server that falls behind handles a send after its reply timed out and the client hung
/// up. The client used to reconnect at once, catch up before the late copy was stored, and
/// send it again: two copies. The next connection now starts once the server closed the old
/// one, which it does after the requests that reached it before the close.
#[tokio::test]
async fn a_send_the_server_handles_after_the_reply_timed_out_is_not_sent_twice() {
    let sim = sim().await;
    sim.add_user("alice");
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Recorder::default());
    let mut runner = runner(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        &sink,
        Arc::new(NoRecovery),
        |s| s,
    );
    runner.timing.request = Duration::from_secs(1);
    let run = go(runner, sink);
    until("connected", || run.link.is_up()).await;

    // Past the reply timeout and the grace for a late echo.
    sim.stall_next_request(BOT, Duration::from_secs(3));
    let stored = run
        .link
        .send(&text_to_alice("c-late", "slow server"), WAIT)
        .await
        .unwrap();
    assert_eq!(stored.resent, 0, "sent again although the server had it");
    let copies = sim
        .messages(&conversation::single("alice", BOT))
        .into_iter()
        .filter(|m| m.client_msg_id == "c-late")
        .count();
    assert_eq!(copies, 1);
    run.stop().await.unwrap();
}

/// A server stuck on a request never answers our close: the next connection waits for it
/// only as long as the drain lasts, not for ever.
#[tokio::test]
async fn a_server_that_never_answers_our_close_holds_the_reconnect_only_for_the_drain() {
    let sim = sim().await;
    sim.add_user("alice");
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Recorder::default());
    let mut runner = runner(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        &sink,
        Arc::new(NoRecovery),
        |s| s,
    );
    runner.timing.request = Duration::from_secs(1);
    runner.timing.drain = Duration::from_secs(1);
    let run = go(runner, sink);
    until("connected", || run.link.is_up()).await;

    sim.stall_next_request(BOT, Duration::from_secs(3600));
    let link = Arc::clone(&run.link);
    tokio::spawn(async move { link.send(&text_to_alice("c-stuck", "stuck"), WAIT).await });
    // The reply times out after 1 s, the close is not answered, the drain ends after 1 s more.
    until("the link given up", || !run.link.is_up()).await;
    let started = tokio::time::Instant::now();
    until("connected again", || run.link.is_up()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the reconnect waited {:?}",
        started.elapsed()
    );
    run.stop().await.unwrap();
}

#[tokio::test]
async fn a_send_while_disconnected_goes_out_after_the_reconnect() {
    let sim = sim().await;
    sim.add_user("alice");
    let dir = tempfile::tempdir().unwrap();
    let run = start(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;
    // Delay the reply, then cut the line under the pending request.
    sim.fault(BOT, Fault::delay(Duration::from_millis(300)));
    let link = Arc::clone(&run.link);
    let send = tokio::spawn(async move { link.send(&text_to_alice("c-cut", "cut"), WAIT).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.drop_connections(BOT);
    let stored = send.await.unwrap().unwrap();
    assert!(!stored.server_msg_id.is_empty());
    let copies = sim
        .messages(&conversation::single("alice", BOT))
        .into_iter()
        .filter(|m| m.client_msg_id == "c-cut")
        .count();
    assert_eq!(copies, 1, "exactly one stored copy");
    run.stop().await.unwrap();
}

#[tokio::test]
async fn bad_frames_are_skipped_and_the_lost_push_is_pulled_as_a_gap() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let run = start(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;
    for fault in [
        Fault::MalformedFrame,
        Fault::UnknownReqIdentifier,
        Fault::Oversized { bytes: 2 << 20 },
    ] {
        sim.fault(BOT, fault);
    }
    sim.inject_text("alice", BOT, "after the noise");
    let got = run.sink.wait_for(1).await;
    assert_eq!(got[0].2, "after the noise");

    // A push whose data is not base64 or not protobuf is lost as a push, then found by the gap
    // pull of the next one (or the next catch-up).
    sim.fault(BOT, Fault::BadBase64);
    sim.inject_text("alice", BOT, "bad base64");
    sim.fault(BOT, Fault::BadProtobuf);
    sim.inject_text("alice", BOT, "bad protobuf");
    sim.inject_text("alice", BOT, "clean");
    let got = run.sink.wait_for(4).await;
    let texts: Vec<_> = got.iter().map(|g| g.2.as_str()).collect();
    assert_eq!(
        texts,
        ["after the noise", "bad base64", "bad protobuf", "clean"]
    );
    run.stop().await.unwrap();
}

#[tokio::test]
async fn a_kick_is_recovered_with_a_new_token_and_stops_the_account_without_one() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let first = sim.issue_token(BOT, 7);
    let renew = Arc::new(Renew(Mutex::new(None)));
    let run = start(
        &sim,
        first,
        &dir.path().join("seqs.json"),
        Arc::default(),
        renew.clone(),
    );
    until("connected", || run.link.is_up()).await;
    // Another client logs in with a new token on the same platform: the server kicks us. Our
    // recovery comes back with that newer token (as a refresh endpoint would).
    let newer = sim.issue_token(BOT, 7);
    *renew.0.lock().unwrap() = Some(newer.clone());
    let (tx, _other_events) = mpsc::unbounded_channel();
    let _other = Connection::open(&login(&sim, newer), fast(), tx)
        .await
        .unwrap();
    until("kicked and reconnected", || run.renewed()).await;
    until("up again", || run.link.is_up()).await;
    sim.inject_text("alice", BOT, "still here");
    run.sink.wait_for(1).await;

    // No new token this time: the account stops as blocked, it does not loop.
    sim.kick(BOT);
    let statuses = Arc::clone(&run.statuses);
    let result = match tokio::time::timeout(WAIT, run.done).await {
        Ok(joined) => joined.unwrap(),
        Err(_) => panic!("the account did not stop: {:#?}", statuses.lock().unwrap()),
    };
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Kicked, "{err}");
    let last = run.statuses.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
}

/// Always "refreshes" by issuing a token of its own, as a misconfigured second deployment would.
struct Issue(Arc<OpenImSim>);

#[async_trait::async_trait]
impl Recover for Issue {
    async fn recover(&self, _error: &ChannelError) -> Result<String, ChannelError> {
        Ok(self.0.issue_token(BOT, 7))
    }
}

#[tokio::test]
async fn two_clients_kicking_each_other_stop_instead_of_looping() {
    let sim = Arc::new(sim().await);
    let dir = tempfile::tempdir().unwrap();
    let run = start(
        &sim,
        sim.issue_token(BOT, 7),
        &dir.path().join("seqs.json"),
        Arc::default(),
        Arc::new(Issue(Arc::clone(&sim))),
    );
    let mut others = Vec::new();
    for round in 0..10 {
        until("connected", || run.link.is_up() || run.done.is_finished()).await;
        if run.done.is_finished() {
            assert!(round > 3, "stopped after only {round} kicks");
            break;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let other = Connection::open(&login(&sim, sim.issue_token(BOT, 7)), fast(), tx)
            .await
            .unwrap();
        others.push((other, rx));
        until("kicked", || {
            run.recoveries() > round || run.done.is_finished()
        })
        .await;
    }
    let err = tokio::time::timeout(WAIT, run.done)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Kicked, "{err}");
    assert!(
        err.message.contains("another client keeps logging in"),
        "{err}"
    );
}

/// Runs the account once, so it has synced before and later conversations count as new.
/// A state directory whose seqs are marks of one finished sync, after each of `known` wrote
/// "known"; the directory, the seqs file and the token it used.
async fn synced(
    sim: &OpenImSim,
    known: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let seqs = dir.path().join("seqs.json");
    let token = sim.issue_token(BOT, 7);
    for user in known {
        sim.inject_text(user, BOT, "known");
    }
    sync_once(sim, &token, &seqs).await;
    (dir, seqs, token)
}

async fn sync_once(sim: &OpenImSim, token: &str, seqs: &std::path::Path) {
    let run = start(
        sim,
        token.to_owned(),
        seqs,
        Arc::default(),
        Arc::new(NoRecovery),
    );
    until("connected", || run.link.is_up()).await;
    run.stop().await.unwrap();
}

/// Rewrites when the account at `seqs` was last in sync, as an earlier run would have left it.
fn set_synced_at(seqs: &std::path::Path, at_ms: i64) {
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(seqs).unwrap()).unwrap();
    file["syncedAt"] = serde_json::json!(at_ms);
    std::fs::write(seqs, serde_json::to_vec(&file).unwrap()).unwrap();
}

fn texts_of(got: &[(String, i64, String)], conversation_id: &str) -> Vec<String> {
    got.iter()
        .filter(|g| g.0 == conversation_id)
        .map(|g| g.2.clone())
        .collect()
}

/// A server that names i64::MAX as a conversation's newest seq must not make the catch-up pull
/// towards it (a debug build panicked at the sum, a release build pulled for ever); the
/// conversation is refused and the others go on.
#[tokio::test]
async fn an_absurd_newest_seq_is_refused_and_the_other_conversations_go_on() {
    let sim = sim().await;
    sim.add_user("alice");
    sim.add_user("bob");
    sim.inject_text("alice", BOT, "before");
    let (_dir, seqs, token) = synced(&sim, &[]).await;

    let alice = conversation::single("alice", BOT);
    sim.set_max_seq(&alice, i64::MAX);
    sim.inject_text("bob", BOT, "still delivered");
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(1).await;
    assert_eq!(got[0].2, "still delivered");
    until("caught up", || run.link.is_up()).await;
    sim.inject_text("bob", BOT, "live");
    let got = run.sink.wait_for(2).await;
    assert_eq!(got[1].2, "live");
    assert!(got.iter().all(|g| g.0 != alice), "{got:?}");
    run.stop().await.unwrap();
    let marks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seqs).unwrap()).unwrap();
    assert_eq!(marks["conversations"][alice.as_str()], 1, "the mark stayed");
}

/// One catch-up reads at most 20 pages of a conversation: a flooded one goes on from the
/// backlog, after the other conversations were read, and nothing of it is skipped.
#[tokio::test]
async fn a_flooded_conversation_does_not_hold_up_the_others_and_loses_nothing() {
    let sim = sim().await;
    sim.add_user("alice");
    sim.add_user("bob");
    let (_dir, seqs, token) = synced(&sim, &["alice", "bob"]).await;

    let flood = 2_150;
    for n in 1..=flood {
        sim.inject_text("alice", BOT, &format!("a{n}"));
    }
    sim.inject_text("bob", BOT, "b1");
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(flood + 1).await;
    let bob_at = got.iter().position(|g| g.2 == "b1").unwrap();
    assert_eq!(
        bob_at, 2_000,
        "bob's message comes after alice's first 20 pages, not after all of them"
    );
    let alice: Vec<String> = (1..=flood).map(|n| format!("a{n}")).collect();
    assert_eq!(texts_of(&got, &conversation::single("alice", BOT)), alice);
    until("caught up", || run.link.is_up()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(run.sink.got().len(), flood + 1, "duplicates arrived");
    run.stop().await.unwrap();
}

/// A catch-up that a fault cuts after it handed pages over made headway, so the supervisor
/// starts its backoff over; one cut before any page did not.
#[tokio::test]
async fn a_catch_up_cut_after_some_pages_made_headway() {
    let sim = sim().await;
    sim.add_user("alice");
    let (_dir, seqs, token) = synced(&sim, &["alice"]).await;
    // The fault below must meet the next connection, not the end of this one.
    assert!(sim.wait_online(BOT, false, WAIT).await);
    for n in 1..=250 {
        sim.inject_text("alice", BOT, &format!("a{n}"));
    }
    let life = || Lifecycle::new(CancellationToken::new(), Arc::new(|_| {}));

    // Cut before any page: the server closes instead of its first frame.
    let sink = Arc::new(Recorder::default());
    let mut cut_early = runner(
        &sim,
        token.clone(),
        &seqs,
        &sink,
        Arc::new(NoRecovery),
        |s| s,
    );
    sim.fault(BOT, Fault::Drop);
    let early = life();
    let ended = tokio::time::timeout(WAIT, cut_early.session(&early)).await;
    assert!(
        matches!(ended, Ok(Err(_))),
        "{ended:?} {:?}",
        sink.got().len()
    );
    assert!(!early.made_headway());
    assert!(sink.got().is_empty());

    // Cut after the first page was handed over.
    sink.held.send_replace(true);
    let mut cut_late = runner(&sim, token, &seqs, &sink, Arc::new(NoRecovery), |s| s);
    let late = life();
    let watched = late.clone();
    let session = tokio::spawn(async move { cut_late.session(&watched).await });
    until("first page handed over", || {
        sink.holding.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    assert!(sim.drop_connections(BOT) > 0);
    sink.held.send_replace(false);
    let ended = tokio::time::timeout(WAIT, session).await.unwrap().unwrap();
    assert!(ended.is_err(), "the connection was dropped");
    assert!(late.made_headway());
    assert!(!late.is_connected());
    // The held page, and the next one if its answer (asked for while the first was held)
    // came before the drop.
    let got = sink.got().len();
    assert!(got == 100 || got == 200, "whole pages only, not all: {got}");
}

/// A server whose seqs went back (its store was reset) is read from its recent history again:
/// waiting for its seqs to pass the old mark would drop every message until then.
#[tokio::test]
async fn a_server_whose_seqs_went_back_is_read_again() {
    let sim = sim().await;
    sim.add_user("alice");
    let (_dir, seqs, token) = synced(&sim, &["alice"]).await;
    // The marks of an account that had read 5,000 messages of alice's on the old server.
    let alice = conversation::single("alice", BOT);
    let mut marks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seqs).unwrap()).unwrap();
    marks["conversations"][alice.as_str()] = 5_000.into();
    std::fs::write(&seqs, marks.to_string()).unwrap();

    sim.inject_text("alice", BOT, "after the reset");
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(2).await;
    // "known" again too: the pipeline's journal, not the seqs, drops what was handled.
    assert_eq!(texts_of(&got, &alice), ["known", "after the reset"]);
    until("caught up", || run.link.is_up()).await;
    sim.inject_text("alice", BOT, "live");
    let got = run.sink.wait_for(3).await;
    assert_eq!(got[2].2, "live");
    run.stop().await.unwrap();
    let marks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seqs).unwrap()).unwrap();
    assert_eq!(marks["conversations"][alice.as_str()], 3);
}

/// A conversation that began while the account was away is read whole: those messages were
/// sent to the bot after it last read everything. They used to be cut to the last page, as
/// history would be, and a connection that died under the first pushes of 20 new peers lost
/// 8,000 of 10,000 messages that way.
#[tokio::test]
async fn a_conversation_that_began_while_the_account_was_away_is_read_whole() {
    let sim = sim().await;
    sim.add_user("carol");
    let (_dir, seqs, token) = synced(&sim, &[]).await;

    for n in 1..=250 {
        sim.inject_text("carol", BOT, &format!("c{n}"));
    }
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    until("caught up", || run.link.is_up()).await;
    sim.inject_text("carol", BOT, "live");
    let got = run.sink.wait_for(251).await;
    let mut expected: Vec<String> = (1..=250).map(|n| format!("c{n}")).collect();
    expected.push("live".into());
    assert_eq!(
        texts_of(&got, &conversation::single("carol", BOT)),
        expected
    );
    run.stop().await.unwrap();
}

/// A conversation new to the account whose messages are older than the account's last sync
/// (a group it was just added to) is read from its last page: its history is not replayed.
#[tokio::test]
async fn a_new_conversation_s_older_history_is_not_replayed() {
    let sim = sim().await;
    sim.add_user("carol");
    let (_dir, seqs, token) = synced(&sim, &[]).await;
    for n in 1..=250 {
        sim.inject_text("carol", BOT, &format!("c{n}"));
    }
    // The account was in sync after carol wrote, yet never saw the conversation: it was not
    // the bot's then. (A margin of zero keeps the test off the clock.)
    set_synced_at(&seqs, channel_core::now_ms() + 1_000);

    let run = start_with(
        &sim,
        token,
        &seqs,
        Arc::default(),
        Arc::new(NoRecovery),
        |s| s.with_sync_margin(Duration::ZERO),
    );
    until("caught up", || run.link.is_up()).await;
    sim.inject_text("carol", BOT, "live");
    let got = run.sink.wait_for(101).await;
    let mut expected: Vec<String> = (151..=250).map(|n| format!("c{n}")).collect();
    expected.push("live".into());
    assert_eq!(
        texts_of(&got, &conversation::single("carol", BOT)),
        expected
    );
    run.stop().await.unwrap();
}

/// Where the missed messages of a new conversation begin is found by a binary search, also
/// when history and missed messages are both longer than a page.
#[tokio::test]
async fn a_new_conversation_is_read_from_its_first_missed_message() {
    let sim = sim().await;
    sim.add_user("carol");
    let (_dir, seqs, token) = synced(&sim, &[]).await;
    for n in 1..=300 {
        sim.inject_text("carol", BOT, &format!("old{n}"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    set_synced_at(&seqs, channel_core::now_ms());
    tokio::time::sleep(Duration::from_millis(20)).await;
    for n in 1..=230 {
        sim.inject_text("carol", BOT, &format!("new{n}"));
    }
    let run = start_with(
        &sim,
        token,
        &seqs,
        Arc::default(),
        Arc::new(NoRecovery),
        |s| s.with_sync_margin(Duration::ZERO),
    );
    let got = run.sink.wait_for(230).await;
    let expected: Vec<String> = (1..=230).map(|n| format!("new{n}")).collect();
    assert_eq!(
        texts_of(&got, &conversation::single("carol", BOT)),
        expected
    );
    run.stop().await.unwrap();
}

/// The probe that finds where a new conversation begins hit a message over the frame cap.
/// Probing again on every connection would fail the same way for ever: the conversation is
/// read from its last page instead, the giant skipped as usual.
#[tokio::test]
async fn a_new_conversation_whose_probe_does_not_fit_is_read_from_its_last_page() {
    let sim = sim().await;
    sim.add_user("carol");
    let (_dir, seqs, token) = synced(&sim, &[]).await;
    for n in 1..=150 {
        sim.inject_text("carol", BOT, &format!("c{n}"));
    }
    // Seq 151, the first one the probe asks for.
    sim.inject_text("carol", BOT, &"y".repeat(1_200_000));
    for n in 152..=250 {
        sim.inject_text("carol", BOT, &format!("c{n}"));
    }
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(99).await;
    let expected: Vec<String> = (152..=250).map(|n| format!("c{n}")).collect();
    assert_eq!(
        texts_of(&got, &conversation::single("carol", BOT)),
        expected
    );
    run.stop().await.unwrap();
}

/// A send goes out while the catch-up is still busy (here: stuck handing over a message),
/// instead of waiting for it to end.
#[tokio::test]
async fn a_send_does_not_wait_for_the_catch_up() {
    let sim = sim().await;
    sim.add_user("alice");
    let (_dir, seqs, token) = synced(&sim, &[]).await;

    sim.inject_text("alice", BOT, "while away");
    let sink = Arc::new(Recorder::default());
    sink.held.send_replace(true);
    let run = start(&sim, token, &seqs, sink.clone(), Arc::new(NoRecovery));
    until("catch-up busy", || {
        sink.holding.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    let stored = run
        .link
        .send(
            &text_to_alice("c-during", "sent during catch-up"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert!(!stored.server_msg_id.is_empty());
    assert!(!run.link.is_up(), "the catch-up was still running");
    sink.held.send_replace(false);
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].2, "while away");
    until("echo seen", || {
        sink.own.lock().unwrap().contains(&"c-during".to_owned())
    })
    .await;
    let copies = sim
        .messages(&conversation::single("alice", BOT))
        .into_iter()
        .filter(|m| m.client_msg_id == "c-during")
        .count();
    assert_eq!(copies, 1);
    run.stop().await.unwrap();
}

/// A frame over the cap that is not the message pulled (here an extra one, as a push of a
/// large message elsewhere would be) came while a single message was pulled alone. That
/// message used to be skipped for good, as if it were too large itself.
#[tokio::test]
async fn one_oversized_frame_does_not_make_a_message_pulled_alone_skipped() {
    let sim = sim().await;
    sim.add_user("alice");
    let (_dir, seqs, token) = synced(&sim, &["alice"]).await;
    sim.inject_text("alice", BOT, "small and unlucky");
    // Two binary frames come before the answer to the pull of that one seq (the third).
    sim.fault(BOT, Fault::delay(Duration::ZERO));
    sim.fault(BOT, Fault::delay(Duration::ZERO));
    sim.fault(BOT, Fault::delay(Duration::ZERO));
    sim.fault(BOT, Fault::Oversized { bytes: 2 << 20 });
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(1).await;
    assert_eq!(got[0].2, "small and unlucky");
    run.stop().await.unwrap();
}

/// 100 messages whose page is larger than the 1 MiB frame cap: the page is retried smaller
/// instead of failing the same way after every reconnect. A single message larger than the cap
/// is skipped (it can never be read), and the conversation goes on after it.
#[tokio::test]
async fn a_page_over_the_frame_cap_is_retried_smaller_and_a_giant_message_is_skipped() {
    let sim = sim().await;
    sim.add_user("alice");
    let (_dir, seqs, token) = synced(&sim, &["alice"]).await;

    // 20 KB each: a page of 100 is about 2.7 MB on the wire.
    let filler = "x".repeat(20_000);
    for n in 1..=100 {
        sim.inject_text("alice", BOT, &format!("big {n} {filler}"));
    }
    let giant = sim.inject_text("alice", BOT, &"y".repeat(1_200_000));
    sim.inject_text("alice", BOT, "after the giant");
    let run = start(&sim, token, &seqs, Arc::default(), Arc::new(NoRecovery));
    let got = run.sink.wait_for(101).await;
    let texts: Vec<String> = got
        .iter()
        .map(|g| g.2.trim_end_matches(filler.as_str()).trim_end().to_owned())
        .collect();
    let mut expected: Vec<String> = (1..=100).map(|n| format!("big {n}")).collect();
    expected.push("after the giant".into());
    assert_eq!(texts, expected);
    assert!(got.iter().all(|g| g.1 != giant.seq));
    until("caught up", || run.link.is_up()).await;
    run.stop().await.unwrap();
}
