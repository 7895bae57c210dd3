//! `imchaos run`: the simulator in this process, the account in a child, a seeded schedule of
//! faults and SIGKILLs while messages flow, then the figures.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::figures::{self, Applied, Injection};
use crate::ledger::{self, now_ms};
use crate::net::{self, Fault, Network};
use crate::{ChildPaths, ChildPlan, Net, Result};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    channel: Net,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 300)]
    inbound: usize,
    #[arg(long, default_value_t = 10)]
    peers: usize,
    #[arg(long, default_value_t = 30)]
    outbound: usize,
    #[arg(long, default_value_t = 2)]
    kills: usize,
    /// Inbound messages per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Shortest pause between two messages of one peer, in ms; default per network (WeChat:
    /// 1000, a person typing fast; the others: 0).
    #[arg(long)]
    peer_gap_ms: Option<u64>,
    /// Longest wait for every reply and proactive message after the last inbound one, in
    /// seconds; default 60 + inbound / 100.
    #[arg(long)]
    settle_secs: Option<u64>,
    /// Where the JSON report goes.
    #[arg(long)]
    out: PathBuf,
    /// Keep the scratch directory (config, state, ledger, child logs) and print its path.
    #[arg(long)]
    keep: bool,
}

/// What happens before inbound message `index` is injected.
#[derive(Debug, Clone)]
enum Event {
    Fault(Fault),
    Kill { down_for: Duration },
}

/// The seeded plan: every message and every event, fixed before anything runs.
struct Schedule {
    messages: Vec<(usize, usize, String)>,
    events: Vec<Vec<Event>>,
    /// When each message is injected, from the start of the flow.
    times: Vec<Duration>,
}

fn marker(peer: usize, n: usize) -> String {
    format!("[c{peer:02}-{n:06}]")
}

fn schedule(args: &RunArgs, net: &dyn Network, rng: &mut StdRng) -> Schedule {
    let mut counts = vec![0usize; args.peers];
    let messages: Vec<(usize, usize, String)> = (0..args.inbound)
        .map(|_| {
            let peer = rng.random_range(0..args.peers);
            let n = counts[peer];
            counts[peer] += 1;
            (peer, n, marker(peer, n))
        })
        .collect();
    let mut events = vec![Vec::new(); args.inbound];
    let span = |lo: usize, hi: usize| (args.inbound * lo / 20)..(args.inbound * hi / 20).max(1);
    for _ in 0..args.kills {
        let at = rng.random_range(span(2, 18));
        events[at].push(Event::Kill {
            down_for: Duration::from_millis(rng.random_range(100..1000)),
        });
    }
    let faults = (args.inbound / 25).clamp(8, 200);
    for _ in 0..faults {
        let at = rng.random_range(span(1, 19));
        let ahead = &messages[(at + 5).min(args.inbound - 1)].2;
        let behind =
            &messages[at.saturating_sub(1 + rng.random_range(0..50usize.min(at.max(1))))].2;
        events[at].push(Event::Fault(net.draw(rng, ahead, behind)));
    }
    // The global rate, but no peer faster than a person: WeChat's server takes only a peer's
    // newest context token, at most 10 sends per message, so a peer writing 10 messages a
    // second leaves most replies without a usable token, which is not what people do.
    let every = Duration::from_secs(1) / args.rate;
    let gap = Duration::from_millis(args.peer_gap_ms.unwrap_or(net.peer_gap_ms()));
    let mut last: Vec<Option<Duration>> = vec![None; args.peers];
    let mut times = Vec::with_capacity(args.inbound);
    let mut at = Duration::ZERO;
    for (index, (peer, _, _)) in messages.iter().enumerate() {
        if index > 0 {
            at += every;
        }
        if let Some(previous) = last[*peer] {
            at = at.max(previous + gap);
        }
        last[*peer] = Some(at);
        times.push(at);
    }
    Schedule {
        messages,
        events,
        times,
    }
}

/// The child's life as the supervisor task saw it.
#[derive(Debug, Default)]
struct Lives {
    pids: Vec<u32>,
    killed: HashSet<u32>,
    /// Exits nobody asked for: (pid, exit code).
    crashes: Vec<(u32, Option<i32>)>,
    /// Starts after a re-login (unix ms).
    relogins: Vec<u64>,
    /// The child ignored SIGTERM and was killed.
    term_timeouts: usize,
    /// SIGKILLs: (pid, unix ms, how long the account stayed down).
    kills: Vec<(u32, u64, Duration)>,
}

/// A kill lands only on a child that has lived this long, so that each one cuts a running
/// account rather than a process still loading its state.
const MIN_LIFE: Duration = Duration::from_millis(300);

enum Cmd {
    Kill { down_for: Duration },
    Stop { done: oneshot::Sender<Option<i32>> },
}

struct Spawner {
    exe: PathBuf,
    net: Net,
    paths: ChildPaths,
    logs: PathBuf,
    started: usize,
}

impl Spawner {
    fn spawn(&mut self) -> std::io::Result<Child> {
        let log = std::fs::File::create(self.logs.join(format!("child-{}.log", self.started)))?;
        self.started += 1;
        Command::new(&self.exe)
            .arg("account")
            .args(["--channel", self.net.name()])
            .arg("--config")
            .arg(&self.paths.config)
            .arg("--state")
            .arg(&self.paths.state)
            .arg("--ledger")
            .arg(&self.paths.ledger)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
    }
}

/// Owns the child: kills and restarts it on command, restarts it after a re-login, and notices
/// exits nobody asked for.
async fn supervise(
    mut spawner: Spawner,
    net: Arc<dyn Network>,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    lives: Arc<Mutex<Lives>>,
) {
    let mut child: Option<Child> = None;
    let mut born = Instant::now();
    let mut restart_at = Some(Instant::now());
    let mut kills: std::collections::VecDeque<Duration> = Default::default();
    loop {
        if child.is_none() && restart_at.is_some_and(|at| at <= Instant::now()) {
            match spawner.spawn() {
                Ok(c) => {
                    lock(&lives).pids.push(c.id());
                    child = Some(c);
                    born = Instant::now();
                    restart_at = None;
                }
                Err(err) => {
                    tracing::error!(%err, "cannot start the child; trying again");
                    restart_at = Some(Instant::now() + Duration::from_secs(1));
                }
            }
        }
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            let pid = c.id();
            child = None;
            if net.after_exit(status.code()) {
                lock(&lives).relogins.push(now_ms());
                restart_at = Some(Instant::now());
            } else {
                eprintln!(
                    "imchaos: the child {pid} exited by itself ({status}); starting it again"
                );
                lock(&lives).crashes.push((pid, status.code()));
                restart_at = Some(Instant::now() + Duration::from_millis(500));
            }
        }
        if child.is_some()
            && born.elapsed() >= MIN_LIFE
            && let Some(down_for) = kills.pop_front()
            && let Some(mut c) = child.take()
        {
            let pid = c.id();
            // Child::kill is SIGKILL, to this pid only.
            let _ = c.kill();
            let _ = c.wait();
            let mut lives = lock(&lives);
            lives.killed.insert(pid);
            lives.kills.push((pid, now_ms(), down_for));
            restart_at = Some(Instant::now() + down_for);
        }
        let cmd = tokio::select! {
            cmd = commands.recv() => cmd,
            () = tokio::time::sleep(Duration::from_millis(20)) => continue,
        };
        match cmd {
            Some(Cmd::Kill { down_for }) => kills.push_back(down_for),
            Some(Cmd::Stop { done }) => {
                let code = match child.take() {
                    Some(c) => stop(c, &lives).await,
                    None => None,
                };
                let _ = done.send(code);
                return;
            }
            None => {
                if let Some(c) = child.take() {
                    stop(c, &lives).await;
                }
                return;
            }
        }
    }
}

/// SIGTERM by pid, then SIGKILL if the child is still there after 15 s.
async fn stop(mut child: Child, lives: &Mutex<Lives>) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "imchaos: the child {} ignored SIGTERM for 15 s; SIGKILL",
        child.id()
    );
    lock(lives).term_timeouts += 1;
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    if args.peers == 0 || args.inbound == 0 || args.rate == 0 {
        return Err("--peers, --inbound and --rate must be above 0".into());
    }
    let began = Instant::now();
    let scratch = tempfile::Builder::new().prefix("imchaos-").tempdir()?;
    let dir = scratch.path().to_owned();
    let net: Arc<dyn Network> = Arc::from(net::start(args.channel, &dir, args.peers).await?);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let plan = schedule(&args, net.as_ref(), &mut rng);

    let paths = ChildPaths {
        config: dir.join("config.json"),
        state: dir.join("state"),
        ledger: dir.join("ledger.jsonl"),
    };
    std::fs::create_dir_all(&paths.state)?;
    let inbound_ms = plan
        .times
        .last()
        .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let child_plan = ChildPlan {
        account: net.account(),
        targets: net.targets(),
        outbound: args.outbound,
        // Spread over the first 60 % of the inbound flow, so a WeChat message queued for a
        // peer's window still meets a later message of that peer.
        outbound_every_ms: (inbound_ms * 6 / 10) / (args.outbound.max(1) as u64),
    };
    let mut channels = serde_json::Map::new();
    channels.insert(net.channel_id().into(), net.section());
    std::fs::write(
        &paths.config,
        serde_json::to_vec_pretty(&json!({"channels": channels, "chaos": child_plan}))?,
    )?;

    let lives = Arc::new(Mutex::new(Lives::default()));
    let (commands, rx) = mpsc::unbounded_channel();
    let supervisor = tokio::spawn(supervise(
        Spawner {
            exe: std::env::current_exe()?,
            net: args.channel,
            paths: paths.clone(),
            logs: dir.clone(),
            started: 0,
        },
        Arc::clone(&net),
        rx,
        Arc::clone(&lives),
    ));

    let outcome = drive(&args, &net, &plan, &commands, &paths).await;
    let (done, code) = oneshot::channel();
    let _ = commands.send(Cmd::Stop { done });
    let last_exit = code.await.ok().flatten();
    let _ = supervisor.await;
    let (injected, mut applied, settled) = outcome?;

    let ledger = ledger::read(&paths.ledger)?;
    let lives = std::mem::take(&mut *lock(&lives));
    for (pid, at, down_for) in &lives.kills {
        applied.push(Applied {
            before_message: None,
            kind: "sigkill".into(),
            at: *at,
            detail: format!("pid {pid} killed; started again after {down_for:?}"),
            recovered_ms: None,
            missed: false,
        });
    }
    for at in &lives.relogins {
        applied.push(Applied {
            before_message: None,
            kind: "relogin".into(),
            at: *at,
            detail: "the bot logged in again; the account was started again".into(),
            recovered_ms: None,
            missed: false,
        });
    }
    applied.sort_by_key(|a| a.at);
    figures::recoveries(&mut applied, &ledger);
    let stored = net.stored();
    let (mut figures, examples) = figures::compute(
        &injected,
        &net.targets(),
        args.outbound,
        &ledger,
        &stored,
        &lives.killed,
        &applied,
    );
    figures.idempotent_sends = net.idempotent_sends();
    let mut failures = figures.failures();
    if !settled {
        failures.push("not settled".into());
    }
    if !lives.crashes.is_empty() {
        failures.push(format!("child exits nobody asked for: {:?}", lives.crashes));
    }
    if lives.term_timeouts > 0 {
        failures.push("the child ignored SIGTERM".into());
    }
    let wall = began.elapsed().as_secs_f64();
    let by_kind = figures::recovery_by_kind(&applied);
    let report = json!({
        "channel": args.channel.name(),
        "seed": args.seed,
        "sizes": {
            "inbound": args.inbound, "peers": args.peers, "outbound": args.outbound,
            "kills": args.kills, "rate": args.rate,
            "peerGapMs": args.peer_gap_ms.unwrap_or(net.peer_gap_ms()),
        },
        "wallSeconds": (wall * 10.0).round() / 10.0,
        "settled": settled,
        "figures": figures,
        "recoveryByFault": by_kind.iter().map(|(kind, (count, p50, max))| {
            (kind.clone(), json!({"count": count, "p50Ms": p50, "maxMs": max}))
        }).collect::<serde_json::Map<String, Value>>(),
        "childStarts": lives.pids.len(),
        "childLastExit": last_exit,
        "serverStoredByBot": stored.len(),
        "faults": applied,
        "covered": net.covered(),
        "notCovered": net.not_covered(),
        "examples": examples,
        "failures": failures,
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    print!("{}", table(&report));
    if args.keep {
        let kept = scratch.keep();
        println!("scratch kept at {}", kept.display());
    } else if !failures.is_empty() {
        keep_logs(&dir, &args.out)?;
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("imchaos: {}: {}", args.channel.name(), failures.join(", "));
        ExitCode::FAILURE
    })
}

/// The child logs and the ledger of a failed run, beside the report (the scratch dir goes).
fn keep_logs(dir: &Path, out: &Path) -> Result {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = out.with_file_name(format!("{stem}-logs"));
    if to.exists() {
        std::fs::remove_dir_all(&to)?;
    }
    std::fs::create_dir_all(&to)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".log") || name == "ledger.jsonl" {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    eprintln!("imchaos: child logs and ledger kept in {}", to.display());
    Ok(())
}

type Driven = (Vec<Injection>, Vec<Applied>, bool);

async fn drive(
    args: &RunArgs,
    net: &Arc<dyn Network>,
    plan: &Schedule,
    commands: &mpsc::UnboundedSender<Cmd>,
    paths: &ChildPaths,
) -> Result<Driven> {
    // Users write to a bot that is online: a new account does not replay older history.
    let ready = Instant::now() + Duration::from_secs(60);
    while !ledger::read(&paths.ledger)?.iter().any(|l| l.ready) {
        if Instant::now() > ready {
            return Err("the account did not connect within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = tokio::time::Instant::now();
    let mut injected = Vec::with_capacity(args.inbound);
    let mut applied = Vec::new();
    let mut pending = Vec::new();
    for (index, (peer, n, marker)) in plan.messages.iter().enumerate() {
        tokio::time::sleep_until(start + plan.times[index]).await;
        for event in &plan.events[index] {
            let at = now_ms();
            match event {
                Event::Kill { down_for } => commands
                    .send(Cmd::Kill {
                        down_for: *down_for,
                    })
                    .map_err(|_| "the child supervisor is gone")?,
                Event::Fault(fault) if !net.can_hit(fault) => applied.push(Applied {
                    before_message: Some(index),
                    kind: fault.kind(),
                    at,
                    detail: "nothing to break: the account was between connections".into(),
                    recovered_ms: None,
                    missed: true,
                }),
                Event::Fault(fault) => {
                    let net = Arc::clone(net);
                    let fault = fault.clone();
                    // Some faults last (a hung send, a refresh backend down): messages go on.
                    pending.push(tokio::spawn(async move {
                        let detail = match net.apply(&fault).await {
                            Ok(detail) => detail,
                            Err(err) => format!("not applied: {err}"),
                        };
                        Applied {
                            before_message: Some(index),
                            kind: fault.kind(),
                            at,
                            detail,
                            recovered_ms: None,
                            missed: false,
                        }
                    }));
                }
            }
        }
        let while_expired = net.token_expired();
        net.inject(*peer, marker).await?;
        injected.push(Injection {
            marker: marker.clone(),
            peer: *peer,
            n: *n,
            while_expired,
        });
    }
    for task in pending {
        applied.push(task.await?);
    }
    let settle = Duration::from_secs(args.settle_secs.unwrap_or(60 + args.inbound as u64 / 100));
    let settled = settle_down(net, &injected, args.outbound, settle, paths).await;
    // Late duplicates would show up here.
    tokio::time::sleep(Duration::from_secs(2)).await;
    applied.sort_by_key(|a| a.at);
    Ok((injected, applied, settled))
}

/// Waits until the server stored a reply to every message and every proactive message.
async fn settle_down(
    net: &Arc<dyn Network>,
    injected: &[Injection],
    outbound: usize,
    limit: Duration,
    paths: &ChildPaths,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let stored = net.stored();
        let texts: HashSet<&str> = stored.iter().map(|s| s.text.as_str()).collect();
        let missing_replies = injected
            .iter()
            .filter(|i| !texts.contains(format!("echo: {}", i.marker).as_str()))
            .count();
        let missing_out = (0..outbound)
            .filter(|n| !texts.contains(format!("out-{n}").as_str()))
            .count();
        if missing_replies == 0 && missing_out == 0 {
            return true;
        }
        if Instant::now() > deadline {
            let turns = ledger::read(&paths.ledger)
                .map(|l| l.iter().filter(|l| l.turn.is_some()).count())
                .unwrap_or(0);
            eprintln!(
                "imchaos: NOT SETTLED after {limit:?}: {missing_replies} message(s) without a reply at the server, {missing_out} proactive message(s) missing ({turns} turns in the ledger)"
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The figures of one run as a table.
pub fn table(report: &Value) -> String {
    let f = &report["figures"];
    let num = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let rows = [
        ("inbound injected", "inbound_injected"),
        (
            "delivered to the agent exactly once",
            "delivered_exactly_once",
        ),
        ("lost", "lost"),
        ("duplicated", "duplicated"),
        ("reruns after a kill (at-least-once)", "reruns_after_kill"),
        ("reruns without a kill", "reruns_without_kill"),
        ("out of order", "out_of_order"),
        ("replies sent twice", "replies_sent_twice"),
        (
            "replies sent again: a kill between the server's accept and the send log",
            "replies_twice_after_kill",
        ),
        ("replies lost", "replies_lost"),
        ("replies to the wrong peer", "replies_misrouted"),
        ("reply attempts that failed", "reply_failures"),
        ("ran, never answered", "ran_never_answered"),
        ("outbound planned", "outbound_planned"),
        ("outbound sent once", "outbound_sent"),
        ("outbound sent twice", "outbound_twice"),
        (
            "outbound sent again: a kill between the server's accept and the send log",
            "outbound_twice_after_kill",
        ),
        ("outbound lost", "outbound_lost"),
        ("outbound reported queued", "outbound_reported_queued"),
        ("inbound while the token was expired", "while_token_expired"),
        ("  of them lost", "while_token_expired_lost"),
        ("recovery after a fault, p50 ms", "recovery_ms_p50"),
        ("recovery after a fault, max ms", "recovery_ms_max"),
        ("faults not recovered", "faults_unrecovered"),
        ("faults with no connection to hit", "faults_missed"),
    ];
    let mut out = format!(
        "\n== {} (seed {}, {} inbound / {} peers, {} outbound, {} kills; {} s{}) ==\n",
        report["channel"].as_str().unwrap_or_default(),
        report["seed"],
        report["sizes"]["inbound"],
        report["sizes"]["peers"],
        report["sizes"]["outbound"],
        report["sizes"]["kills"],
        report["wallSeconds"],
        if report["settled"] == true {
            ""
        } else {
            ", NOT SETTLED"
        },
    );
    for (label, key) in rows {
        out.push_str(&format!("  {label:<40} {:>8}\n", num(&f[key])));
    }
    if let Some(kinds) = report["recoveryByFault"].as_object() {
        out.push_str("  recovery by fault (count, p50 ms, max ms):\n");
        for (kind, r) in kinds {
            out.push_str(&format!(
                "    {kind:<28} {:>4} {:>8} {:>8}\n",
                num(&r["count"]),
                num(&r["p50Ms"]),
                num(&r["maxMs"])
            ));
        }
    }
    if let Some(failures) = report["failures"].as_array()
        && !failures.is_empty()
    {
        out.push_str(&format!("  FAILED: {}\n", Value::Array(failures.clone())));
    }
    out
}
