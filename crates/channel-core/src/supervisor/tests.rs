use std::collections::VecDeque;
use std::sync::Mutex;

use super::*;
use crate::host::AccountPhase;
use crate::lock;

/// How one scripted session ends.
#[derive(Debug, Clone)]
enum Script {
    /// Connects, then loses the connection with this error.
    ConnectThenLose(ChannelError),
    /// Fails before it connects.
    Fail(ChannelError),
    /// Moves the account forward without connecting, then fails.
    ProgressThenFail(ChannelError),
    /// Connects and runs until cancelled.
    Stay,
}

#[derive(Default)]
struct Scripted {
    sessions: VecDeque<Script>,
    /// What the recover hook answers, in order; `None` once empty means "no hook".
    recoveries: VecDeque<Result<(), ChannelError>>,
    has_hook: bool,
    started: Arc<Mutex<Vec<Instant>>>,
    recovered: usize,
    closed: usize,
}

#[async_trait::async_trait]
impl Connector for Scripted {
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        lock(&self.started).push(Instant::now());
        match self.sessions.pop_front().unwrap_or(Script::Stay) {
            Script::ConnectThenLose(error) => {
                life.connected();
                Err(error)
            }
            Script::Fail(error) => Err(error),
            Script::ProgressThenFail(error) => {
                life.progressed();
                Err(error)
            }
            Script::Stay => {
                life.connected();
                life.cancel().cancelled().await;
                Ok(())
            }
        }
    }

    async fn recover(&mut self, _error: &ChannelError) -> Option<Result<(), ChannelError>> {
        if !self.has_hook {
            return None;
        }
        self.recovered += 1;
        Some(
            self.recoveries
                .pop_front()
                .unwrap_or_else(|| Err(ChannelError::needs_login("no token left"))),
        )
    }

    fn kick_advice(&self) -> String {
        "stop the other client".into()
    }

    async fn close(&mut self) {
        self.closed += 1;
    }
}

type Statuses = Arc<Mutex<Vec<StatusPatch>>>;

fn life() -> (Lifecycle, Statuses) {
    let statuses: Statuses = Arc::default();
    let seen = Arc::clone(&statuses);
    let life = Lifecycle::new(
        CancellationToken::new(),
        Arc::new(move |patch| lock(&seen).push(patch)),
    );
    (life, statuses)
}

fn phases(statuses: &Statuses) -> Vec<AccountPhase> {
    lock(statuses).iter().filter_map(|s| s.lifecycle).collect()
}

fn fast() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
}

/// Supervises `connector` until it started six sessions; the pauses between them.
async fn gaps_over_six_sessions(connector: &mut Scripted, life: &Lifecycle) -> Vec<Duration> {
    let started = Arc::clone(&connector.started);
    let stopper = life.clone();
    let watch = Arc::clone(&started);
    tokio::spawn(async move {
        while lock(&watch).len() < 6 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stopper.cancel().cancel();
    });
    supervise(connector, life, fast(), "a").await.unwrap();
    let at = lock(&started).clone();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

fn kicked() -> ChannelError {
    ChannelError::new(ErrorKind::Kicked, "logged in elsewhere")
}

#[tokio::test(start_paused = true)]
async fn lost_connections_are_retried_with_backoff_and_a_good_session_resets_it() {
    let (life, statuses) = life();
    let mut connector = Scripted {
        sessions: VecDeque::from([
            Script::Fail(ChannelError::transient("refused")),
            Script::Fail(ChannelError::transient("refused")),
            Script::Fail(ChannelError::transient("refused")),
            Script::ConnectThenLose(ChannelError::transient("reset")),
            Script::Fail(ChannelError::transient("refused")),
        ]),
        ..Scripted::default()
    };
    let gaps = gaps_over_six_sessions(&mut connector, &life).await;
    // 100, 200, 400 ms ceilings (each jittered down to half), then reset by the good session.
    assert!(gaps[0] >= Duration::from_millis(50) && gaps[0] <= Duration::from_millis(100));
    assert!(gaps[2] >= Duration::from_millis(200) && gaps[2] <= Duration::from_millis(400));
    assert!(
        gaps[3] <= Duration::from_millis(100),
        "after a session that connected, the backoff starts over: {gaps:?}"
    );
    assert_eq!(connector.closed, 1);
    let phases = phases(&statuses);
    assert_eq!(phases.first(), Some(&AccountPhase::Recovering));
    assert!(phases.contains(&AccountPhase::Ready));
    assert_eq!(phases.last(), Some(&AccountPhase::Stopped));
}

#[tokio::test(start_paused = true)]
async fn a_session_that_made_headway_without_connecting_resets_the_backoff() {
    let (life, statuses) = life();
    let refused = || ChannelError::transient("refused");
    let mut connector = Scripted {
        sessions: VecDeque::from([
            Script::Fail(refused()),
            Script::Fail(refused()),
            Script::Fail(refused()),
            Script::ProgressThenFail(refused()),
            Script::Fail(refused()),
        ]),
        ..Scripted::default()
    };
    let gaps = gaps_over_six_sessions(&mut connector, &life).await;
    assert!(gaps[2] >= Duration::from_millis(200), "{gaps:?}");
    assert!(
        gaps[3] <= Duration::from_millis(100),
        "a cut catch-up that read something starts the backoff over: {gaps:?}"
    );
    // Headway is not a connection: only the last session (which stays) said ready.
    let phases = phases(&statuses);
    let ready = phases.iter().filter(|p| **p == AccountPhase::Ready).count();
    assert_eq!(ready, 1, "{phases:?}");
}

#[tokio::test(start_paused = true)]
async fn more_than_three_kicks_in_ten_minutes_block_the_account() {
    let (life, statuses) = life();
    let mut connector = Scripted {
        sessions: (0..10).map(|_| Script::ConnectThenLose(kicked())).collect(),
        ..Scripted::default()
    };
    let err = supervise(&mut connector, &life, fast(), "a")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Kicked);
    assert!(
        err.message.contains("kicked 4 times in 10 minutes"),
        "{err}"
    );
    assert!(err.message.contains("logged in elsewhere"), "{err}");
    assert!(err.message.ends_with("stop the other client"), "{err}");
    let started = lock(&connector.started).clone();
    assert_eq!(started.len(), 4);
    for gap in started.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap >= KICK_PAUSE, "a kick without a hook pauses: {gap:?}");
    }
    let last = lock(&statuses).last().cloned().unwrap();
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
    assert_eq!(last.needs_login, Some(true));
    assert_eq!(connector.closed, 1);
}

#[tokio::test(start_paused = true)]
async fn kicks_spread_over_more_than_ten_minutes_do_not_stop_the_account() {
    let (life, _statuses) = life();
    let mut connector = Scripted {
        sessions: (0..6).map(|_| Script::ConnectThenLose(kicked())).collect(),
        ..Scripted::default()
    };
    let started = Arc::clone(&connector.started);
    let stopper = life.clone();
    tokio::spawn(async move {
        // Past the sixth kick and into the session that stays.
        while lock(&started).len() < 7 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        stopper.cancel().cancel();
    });
    // Gaps of 240..480 s (jittered): four kicks never fit in one ten-minute window.
    let floor = Backoff::new(Duration::from_secs(480), Duration::from_secs(480));
    supervise(&mut connector, &life, floor, "a").await.unwrap();
    assert_eq!(lock(&connector.started).len(), 7);
}

#[tokio::test(start_paused = true)]
async fn the_recover_hook_renews_at_once_and_its_failure_stops_the_account() {
    let (life, statuses) = life();
    let mut connector = Scripted {
        sessions: VecDeque::from([
            Script::ConnectThenLose(ChannelError::new(ErrorKind::AuthExpired, "token expired")),
            Script::ConnectThenLose(kicked()),
        ]),
        recoveries: VecDeque::from([Ok(())]),
        has_hook: true,
        ..Scripted::default()
    };
    let err = supervise(&mut connector, &life, fast(), "a")
        .await
        .unwrap_err();
    assert_eq!(connector.recovered, 2);
    assert_eq!(
        err.kind,
        ErrorKind::NeedsLogin,
        "the hook's own failure: {err}"
    );
    let started = lock(&connector.started).clone();
    assert_eq!(started.len(), 2);
    assert_eq!(
        started[1] - started[0],
        Duration::ZERO,
        "a renewed token connects at once"
    );
    let phases = phases(&statuses);
    assert_eq!(
        phases,
        [
            AccountPhase::Ready,
            AccountPhase::Recovering,
            AccountPhase::Ready,
            AccountPhase::Recovering,
            AccountPhase::Blocked
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn needs_login_and_a_refused_token_without_a_hook_stop_at_once() {
    for error in [
        ChannelError::needs_login("session expired: scan the QR code again"),
        ChannelError::new(ErrorKind::AuthExpired, "token expired"),
        ChannelError::permanent("app key unknown"),
    ] {
        let (life, statuses) = life();
        let mut connector = Scripted {
            sessions: VecDeque::from([Script::Fail(error.clone())]),
            ..Scripted::default()
        };
        let err = supervise(&mut connector, &life, fast(), "a")
            .await
            .unwrap_err();
        assert_eq!(err.kind, error.kind);
        assert_eq!(lock(&connector.started).len(), 1, "{error}: no retry");
        let last = lock(&statuses).last().cloned().unwrap();
        assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
        assert_eq!(last.last_error, Some(Some(error.to_string())));
        assert_eq!(last.needs_login, Some(error.kind.stops_account()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_the_pause_ends_the_account_as_stopped() {
    let (life, statuses) = life();
    let mut connector = Scripted {
        sessions: VecDeque::from([Script::Fail(ChannelError::transient("down"))]),
        ..Scripted::default()
    };
    let stopper = life.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stopper.cancel().cancel();
    });
    let slow = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
    supervise(&mut connector, &life, slow, "a").await.unwrap();
    assert_eq!(lock(&connector.started).len(), 1);
    assert_eq!(phases(&statuses).last(), Some(&AccountPhase::Stopped));
    assert_eq!(connector.closed, 1);
}

#[tokio::test]
async fn connected_is_written_once_per_change() {
    let (life, statuses) = life();
    life.connected();
    life.connected();
    life.degraded(&ChannelError::transient("link down"));
    life.connected();
    assert_eq!(
        phases(&statuses),
        [
            AccountPhase::Ready,
            AccountPhase::Recovering,
            AccountPhase::Ready
        ]
    );
    assert!(life.is_connected());
}
