//! The WeChat benchmarks.
//!
//! * `weixin-channel`: the long poll without the gateway. `imbench weixin-channel` runs our
//!   account (channel → journal → gate → per-peer queue → standalone host, state on real disk)
//!   against `imsim` answering `getupdates` in batches of 100, beside a raw reader that only
//!   counts messages and moves the cursor on (the physical limit: there is no Tencent client
//!   outside the gateway to compare with).
//! * `weixin-gateway`: the real OpenClaw gateway with the mock model, our plugin against
//!   Tencent's `@tencent-weixin/openclaw-weixin` 2.4.9 on the same kind of iLink simulator: DMs
//!   from 20 peers, each peer writing again once it got its answer. Turns per second, the
//!   gateway's CPU per 100 turns and its memory, and for ours the time from a `getupdates`
//!   answer to the turn queued for the host (Rust) and to its hand-over to the host (stamped by
//!   the plugin's JS once the gateway's event loop took the turn), one turn at a time, from the
//!   plugin's own `imbridge::latency` events.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{RUNS, Row, Target, imbench, pick};
use crate::e2e::{Stack, TURN};
use crate::fidelity::openim::Sim;
use crate::{Result, fidelity, root};

/// Peers the messages come from, in both benchmarks.
const PEERS: usize = 20;
/// Turns of the second round of ours, the one timed from the plugin's own events.
const LATENCY_TURNS: usize = 100;
/// Messages per `getupdates` answer in `weixin-channel`.
const BATCH: usize = 100;

pub(super) fn channel(
    exe: &Path,
    imsim: &Path,
    out: &Path,
    scratch: &Path,
    quick: bool,
) -> Result<(Vec<Row>, Value)> {
    let (messages, runs) = if quick { (500, 1) } else { (10_000, RUNS) };
    eprintln!(
        "bench: weixin-channel, {messages} messages from {PEERS} peers in getupdates batches of {BATCH}, {runs} runs"
    );
    let dir = out.join("weixin-channel");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let mut sim = Sim::launch(
        imsim,
        &["--bots", "0", "--getupdates-batch", &BATCH.to_string()],
        "warn",
        &dir,
    )?;
    let ready = dir.join("ready.json");
    fs::write(&ready, &sim.ready)?;
    let side = |side: &str, run: usize| {
        imbench(
            exe,
            &[
                "weixin-channel".into(),
                format!("--side={side}"),
                format!("--ready={}", ready.display()),
                format!("--messages={messages}"),
                format!("--peers={PEERS}"),
                format!(
                    "--state={}",
                    scratch.join(format!("weixin-{run}")).display()
                ),
            ],
        )
    };
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for run in 0..runs {
        ours.push(side("ours", run)?);
        raw.push(side("raw", run)?);
    }
    sim.stop();
    let _ = fs::remove_dir_all(&dir);
    let against = "raw getupdates reader".to_owned();
    let rows = vec![
        Row {
            bench: "weixin-channel",
            figure: format!("messages/s, batches of {BATCH}, to the host"),
            ours: pick(&ours, "perSecond")?,
            reference: pick(&raw, "perSecond")?,
            against: against.clone(),
            target: Target::AtLeast(0.25),
        },
        Row {
            bench: "weixin-channel",
            figure: "messages lost".into(),
            ours: pick(&ours, "lost")?,
            reference: pick(&raw, "lost")?,
            against: against.clone(),
            target: Target::OursAtMost(0.0),
        },
        Row {
            bench: "weixin-channel",
            figure: format!("CPU seconds for {messages}"),
            ours: pick(&ours, "cpuSeconds")?,
            reference: pick(&raw, "cpuSeconds")?,
            against,
            target: Target::None,
        },
    ];
    Ok((rows, json!({ "ours": ours, "raw": raw })))
}

/// Which plugin the gateway runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plugin {
    Ours,
    Tencent,
}

pub(super) fn gateway(out: &Path, quick: bool) -> Result<(Vec<Row>, Value)> {
    let turns = if quick { 20 } else { 500 };
    // --quick keeps our side working; Tencent's plugin in the gateway is what fidelity runs.
    let pack = root().join("target/e2e-cache/tencent-weixin");
    let tencent = !quick;
    eprintln!(
        "bench: weixin-gateway, {turns} DMs from {PEERS} peers through OpenClaw, ours{}",
        if tencent {
            " and Tencent's"
        } else {
            " only (--quick)"
        }
    );
    let dir = out.join("weixin-gateway");
    // A 2 GB gateway moves by a tenth from one run to the next (Tencent's CPU per 100 turns was
    // 24.7 to 33.2 s in seven runs of one day): the sides take turns, and each figure is the
    // median of its runs.
    let runs = if quick { 1 } else { RUNS };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for n in 0..runs {
        let side_dir = |name: &str| dir.join(format!("{name}-{n}"));
        ours.push(gateway_side(
            &side_dir("ours"),
            Plugin::Ours,
            turns,
            &pack,
            !quick,
        )?);
        if tencent {
            theirs.push(gateway_side(
                &side_dir("tencent"),
                Plugin::Tencent,
                turns,
                &pack,
                !quick,
            )?);
        }
        let _ = fs::remove_dir_all(&dir);
    }
    let against = format!("{} {}", fidelity::PACKAGE, fidelity::VERSION);
    let reference = |key: &str| -> Result<f64> {
        if theirs.is_empty() {
            Ok(f64::NAN)
        } else {
            pick(&theirs, key)
        }
    };
    let figure = |key: &str| pick(&ours, key);
    let mut rows = Vec::new();
    for (figure_of, key, target) in [
        (
            "turns/s, injected to reply at the simulator",
            "turnsPerSecond",
            Target::None,
        ),
        (
            "gateway CPU seconds per 100 turns",
            "cpuSecondsPer100",
            Target::AtMost(1.0),
        ),
        (
            "gateway RSS MB after the warm-up turn, before the load",
            "warmRssMb",
            Target::None,
        ),
        (
            "gateway RSS MB at the end (VmRSS)",
            "rssMb",
            Target::AtMost(1.0),
        ),
        ("gateway peak RSS MB (VmHWM)", "hwmMb", Target::AtMost(1.0)),
        (
            "turn seconds p50, injected to reply",
            "turnP50Seconds",
            Target::None,
        ),
    ] {
        rows.push(Row {
            bench: "weixin-gateway",
            figure: figure_of.into(),
            ours: figure(key)?,
            reference: reference(key)?,
            against: against.clone(),
            target,
        });
    }
    // The plugin's own latency, ours only; the target is on the whole way in.
    for (figure_of, key, target) in [
        (
            "p50, one turn at a time: getupdates answer to turn queued (Rust)",
            "queuedP50Ms",
            Target::None,
        ),
        (
            "p99, one turn at a time: getupdates answer to turn queued (Rust)",
            "queuedP99Ms",
            Target::None,
        ),
        (
            "p50, one turn at a time: getupdates answer to host hand-over",
            "pluginP50Ms",
            Target::None,
        ),
        (
            "p99, one turn at a time: getupdates answer to host hand-over",
            "pluginP99Ms",
            Target::OursAtMost(5.0),
        ),
    ] {
        rows.push(Row {
            bench: "weixin-gateway",
            figure: format!("plugin ms {figure_of}"),
            ours: figure(key)?,
            reference: f64::NAN,
            against: "(ours only)".into(),
            target,
        });
    }
    Ok((rows, json!({ "ours": ours, "tencent": theirs })))
}

/// The peers of one side: real-looking WeChat ids, distinct per side.
fn peers(plugin: Plugin) -> Vec<String> {
    let tag = match plugin {
        Plugin::Ours => "Ours",
        Plugin::Tencent => "Tenc",
    };
    (0..PEERS)
        .map(|n| format!("o9cq80Bench{tag}{n:04}@im.wechat"))
        .collect()
}

/// One gateway with one plugin: set up, warmed up, measured, stopped. Ours is built in
/// release mode or not (--quick takes the debug build CI has made).
fn gateway_side(
    dir: &Path,
    plugin: Plugin,
    turns: usize,
    pack: &Path,
    release: bool,
) -> Result<Value> {
    let peers = peers(plugin);
    let tmp_before = fidelity::files_in(Path::new(fidelity::TENCENT_TMP));
    let mut stack = match plugin {
        Plugin::Ours => {
            // Like for like: WeChat alone, as Tencent's plugin is. The all-in-one package also
            // registers OpenIM's agent tools, which every turn's tool catalogue then carries.
            let package = crate::package::run(Some(vec!["weixin".into()]), release)?;
            let mut stack = Stack::prepare(dir, &peers, package)?;
            // Only the timing events on top of the usual level: two lines per turn.
            stack.gateway.env.push((
                "IMBRIDGE_LOG".into(),
                format!("info,{}=debug", channel_core_latency_target()),
            ));
            stack
        }
        Plugin::Tencent => {
            let stack = Stack::new(dir)?;
            fidelity::install_tencent(&stack, pack)?;
            // Its schema allows only these keys; it allows DMs from the account's owner and
            // from the users paired through the framework's allow-from store.
            stack.configure_channel(json!({ "replyProgressMessages": true }))?;
            stack.log_in()?;
            stack
        }
    };
    // A session per peer, so that peers are answered side by side; with OpenClaw's default
    // (one main session for every DM) the turns of all peers would queue behind each other.
    let mut config = stack.gateway.read_config()?;
    config["session"]["dmScope"] = json!("per-channel-peer");
    stack.gateway.write_config(&config)?;
    let result = (|| {
        stack.launch()?;
        if plugin == Plugin::Tencent {
            allow_in_legacy_store(&stack, &peers)?;
        }
        measure(&mut stack, plugin, &peers, turns)
    })();
    stack.gateway.stop()?;
    fidelity::collect_tencent_tmp(&tmp_before, dir)?;
    result
}

fn channel_core_latency_target() -> &'static str {
    // Same string as `channel_core::LATENCY_TARGET`; xtask does not link the plugin's crates.
    "imbridge::latency"
}

/// Tencent's plugin allows DMs from the account's owner and from the users in the framework's
/// legacy allow-from file, which it reads on every message. Written once the gateway runs: at
/// its start, OpenClaw 2026.9.6 refuses to migrate a file whose channel and account it cannot
/// tell apart (`openclaw-weixin-<account>-allowFrom.json`) and does not come up.
fn allow_in_legacy_store(stack: &Stack, peers: &[String]) -> Result {
    let credentials = stack.gateway.state.join("credentials");
    fs::create_dir_all(&credentials)?;
    fs::write(
        credentials.join(format!("openclaw-weixin-{}-allowFrom.json", stack.account)),
        serde_json::to_string(&json!({ "version": 1, "allowFrom": peers }))?,
    )?;
    Ok(())
}

fn measure(stack: &mut Stack, plugin: Plugin, peers: &[String], turns: usize) -> Result<Value> {
    let pid = stack.gateway.pid().ok_or("the gateway has no process")?;
    // The first turn warms the agent runtime up; it is not measured.
    let bot = stack.bot.bot_id.clone();
    stack.sim.inject_text(&bot, &peers[0], "[[ECHO:WARM-UP]]");
    stack.wait_sent("the warm-up turn", TURN, |s| {
        s.text.as_deref() == Some("ECHO: WARM-UP")
    })?;
    // Memory once the gateway has run one turn, before the load: what the plugin brings with
    // it, apart from what the load adds.
    let (warm_kb, _) = memory_kb(pid)?;
    let cpu_before = tree_cpu_seconds(pid)?;
    let load = closed_loop(stack, peers, turns, Pace::saturating(peers))?;
    let cpu = tree_cpu_seconds(pid)? - cpu_before;
    let (rss_kb, hwm_kb) = memory_kb(pid)?;
    let mut figures = json!({
        "plugin": match plugin { Plugin::Ours => "ours", Plugin::Tencent => "tencent" },
        "turns": turns,
        "seconds": load.seconds,
        "turnsPerSecond": turns as f64 / load.seconds.max(1e-9),
        "turnP50Seconds": percentile(&load.turn_seconds, 0.50),
        "turnP99Seconds": percentile(&load.turn_seconds, 0.99),
        "cpuSeconds": cpu,
        "cpuSecondsPer100": cpu * 100.0 / turns as f64,
        "rssMb": rss_kb as f64 / 1024.0,
        "hwmMb": hwm_kb as f64 / 1024.0,
        "warmRssMb": warm_kb as f64 / 1024.0,
    });
    if plugin == Plugin::Ours {
        // The timing events are debug lines, which the gateway writes only at its debug level,
        // and that level costs the gateway CPU of its own: so the figures above are taken at
        // its usual level, and the timing in a second round once the level is raised (the
        // gateway reloads it from the config file). That round offers one turn at a time: in a
        // saturated gateway every step through its event loop waits behind other turns' work,
        // and a peer that writes the moment it is answered waits for its previous turn, whose
        // end the host is still writing down (turns of a peer run in order).
        let mut config = stack.gateway.read_config()?;
        config["logging"]["level"] = json!("debug");
        stack.gateway.write_config(&config)?;
        std::thread::sleep(Duration::from_secs(3));
        let log_from = log_sizes(&stack.gateway.dir);
        // Half the first round's turns (10 in --quick), one at a time, at most LATENCY_TURNS.
        let timed = (turns / 2).clamp(1, LATENCY_TURNS);
        closed_loop(stack, peers, timed, Pace::one_at_a_time())?;
        // Give the plugin's log drain (every 250 ms) time to hand the last lines over.
        std::thread::sleep(Duration::from_secs(1));
        let latencies = plugin_latencies_ms(&stack.gateway.dir, &log_from)?;
        let fewest = latencies.dispatched.len().min(latencies.queued.len());
        if fewest < timed {
            return Err(format!(
                "the gateway's log holds timing for {fewest} of {timed} turns (are `imbridge::latency` \
                 debug events written at logging.level debug?)"
            )
            .into());
        }
        let (to_host, in_rust) = (&latencies.dispatched, &latencies.queued);
        figures["pluginSamples"] = json!(to_host.len());
        figures["pluginP50Ms"] = json!(percentile(to_host, 0.50));
        figures["pluginP99Ms"] = json!(percentile(to_host, 0.99));
        figures["pluginMaxMs"] = json!(to_host.iter().copied().fold(0.0, f64::max));
        figures["queuedP50Ms"] = json!(percentile(in_rust, 0.50));
        figures["queuedP99Ms"] = json!(percentile(in_rust, 0.99));
    }
    eprintln!("bench: weixin-gateway {figures}");
    Ok(figures)
}

/// What a closed loop of turns took.
struct Load {
    /// First injection to last reply.
    seconds: f64,
    /// Each turn, injection to its reply at the simulator.
    turn_seconds: Vec<f64>,
}

/// How a closed loop offers its turns.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// Turns waiting for their answer at most.
    in_flight: usize,
    /// The quiet after an answer before the next turn goes in.
    pause: Duration,
}

impl Pace {
    /// Every peer writes, waits for its answer and writes again: the gateway always has a turn
    /// of each peer to work on, and never a queue behind one.
    fn saturating(peers: &[String]) -> Self {
        Self {
            in_flight: peers.len(),
            pause: Duration::ZERO,
        }
    }

    /// One turn at a time, the peers in turn, a quiet gap after each answer: the gateway has
    /// finished the previous turn's own work, so a message waits for nothing but the plugin.
    fn one_at_a_time() -> Self {
        Self {
            in_flight: 1,
            pause: Duration::from_millis(300),
        }
    }
}

/// Peers write, each again once it got its answer, as `pace` allows, until `turns` were
/// answered.
fn closed_loop(stack: &Stack, peers: &[String], turns: usize, pace: Pace) -> Result<Load> {
    let bot = stack.bot.bot_id.clone();
    let started = Instant::now();
    let limit = TURN + Duration::from_secs(turns as u64) + pace.pause * turns as u32;
    let mut next_peer = 0;
    let mut answered_at = Instant::now()
        .checked_sub(pace.pause)
        .unwrap_or_else(Instant::now);
    // Per peer: the marker of its turn in flight and when it went in (ms since the epoch,
    // the simulator's clock for what it accepted).
    let mut waiting: HashMap<String, (String, u64)> = HashMap::new();
    let mut injected = 0;
    let mut turn_seconds = Vec::with_capacity(turns);
    let mut seen = stack.sim.sent(&bot).len();
    let mut last_reply_ms = 0;
    let first_ms = now_ms();
    while turn_seconds.len() < turns {
        for _ in 0..peers.len() {
            if injected >= turns
                || waiting.len() >= pace.in_flight
                || answered_at.elapsed() < pace.pause
            {
                break;
            }
            let peer = &peers[next_peer % peers.len()];
            next_peer += 1;
            if !waiting.contains_key(peer) {
                let marker = format!("T{injected}");
                let at = now_ms();
                stack
                    .sim
                    .inject_text(&bot, peer, &format!("[[ECHO:{marker}]]"));
                waiting.insert(peer.clone(), (format!("ECHO: {marker}"), at));
                injected += 1;
            }
        }
        let sent = stack.sim.sent(&bot);
        for reply in sent.iter().skip(seen).filter(|s| s.accepted) {
            if let Some((expected, at)) = waiting.get(&reply.to_user_id)
                && reply.text.as_deref() == Some(expected.as_str())
            {
                turn_seconds.push(reply.at_ms.saturating_sub(*at) as f64 / 1000.0);
                last_reply_ms = last_reply_ms.max(reply.at_ms);
                waiting.remove(&reply.to_user_id);
                answered_at = Instant::now();
            }
        }
        seen = sent.len();
        if started.elapsed() > limit {
            return Err(format!(
                "{} of {turns} turns answered after {limit:?}",
                turn_seconds.len()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Load {
        seconds: last_reply_ms.saturating_sub(first_ms) as f64 / 1000.0,
        turn_seconds,
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `q` quantile (nearest rank) of `values`.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// CPU seconds (user and system) of `pid` and every process below it, with what its ended
/// children left behind (`cutime`, `cstime`).
fn tree_cpu_seconds(pid: u32) -> Result<f64> {
    let mut stats = HashMap::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read.
        if let Some(fields) = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|text| stat_fields(&text))
        {
            stats.insert(id, fields);
        }
    }
    let mut ticks = 0;
    let mut todo = vec![pid];
    while let Some(at) = todo.pop() {
        let Some(fields) = stats.get(&at) else {
            continue;
        };
        ticks += fields.utime + fields.stime + fields.cutime + fields.cstime;
        todo.extend(
            stats
                .iter()
                .filter(|(_, f)| f.ppid == at)
                .map(|(child, _)| *child),
        );
    }
    if !stats.contains_key(&pid) {
        return Err(format!("the gateway (pid {pid}) is gone").into());
    }
    // /proc counts in USER_HZ, which is 100 on Linux whatever the kernel's own tick.
    Ok(ticks as f64 / 100.0)
}

struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

fn stat_fields(text: &str) -> Option<Stat> {
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |n: usize| fields.get(n)?.parse::<u64>().ok();
    Some(Stat {
        ppid: u32::try_from(at(1)?).ok()?,
        utime: at(11)?,
        stime: at(12)?,
        cutime: at(13)?,
        cstime: at(14)?,
    })
}

/// VmRSS and VmHWM of `pid`, in kB.
fn memory_kb(pid: u32) -> Result<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status").into())
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The size of every file in the gateway's directory now, so only what a run adds is read.
fn log_sizes(dir: &Path) -> HashMap<std::path::PathBuf, u64> {
    log_files(dir)
        .into_iter()
        .filter_map(|path| Some((path.clone(), fs::metadata(&path).ok()?.len())))
        .collect()
}

/// The gateway's log files: its console log and its file log.
fn log_files(dir: &Path) -> Vec<std::path::PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".log") || n.contains("openclaw"))
        })
        .collect()
}

/// The plugin's time per message in ms, from the `getupdates` answer, paired by message id
/// from the `imbridge::latency` events the run added to the gateway's logs.
#[derive(Debug, PartialEq)]
struct Latencies {
    /// To the turn queued for the host: the Rust side (journal, gate, per-peer queue).
    queued: Vec<f64>,
    /// To the turn's hand-over to the host, stamped by the plugin's JS: the Rust side, the wait
    /// for the gateway's event loop to take the turn, the route and the session's run check.
    dispatched: Vec<f64>,
}

fn plugin_latencies_ms(dir: &Path, before: &HashMap<std::path::PathBuf, u64>) -> Result<Latencies> {
    let (mut received, mut queued, mut dispatched) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    for path in log_files(dir) {
        let bytes = fs::read(&path)?;
        let from = before.get(&path).copied().unwrap_or(0) as usize;
        let text = String::from_utf8_lossy(bytes.get(from..).unwrap_or_default());
        for line in text.lines() {
            let Some((_, event)) = line.split_once("imbridge::latency: ") else {
                continue;
            };
            let kind = event.split_whitespace().next().unwrap_or_default();
            // The file log is JSON, so a value may come quoted, escaped, and followed by the
            // rest of the record: a value is the run of id characters after `name=`.
            let field = |name: &str| {
                event
                    .split_whitespace()
                    .find_map(|token| token.strip_prefix(name))
                    .map(|v| {
                        v.trim_start_matches(['"', '\\'])
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '@' | '.')
                            })
                            .collect::<String>()
                    })
                    .filter(|v| !v.is_empty())
            };
            let (Some(id), Some(at)) = (
                field("id="),
                field("at_us=").and_then(|v| v.parse::<u64>().ok()),
            ) else {
                continue;
            };
            let into = match kind {
                "received" => &mut received,
                "queued" => &mut queued,
                "dispatched" => &mut dispatched,
                _ => continue,
            };
            // A line may be in both logs, and a retried turn is dispatched again: the first.
            let slot = into.entry(id).or_insert(at);
            *slot = (*slot).min(at);
        }
    }
    let since_received = |to: &HashMap<String, u64>| -> Vec<f64> {
        to.iter()
            .filter_map(|(id, to)| {
                let from = received.get(id)?;
                Some(to.saturating_sub(*from) as f64 / 1000.0)
            })
            .collect()
    };
    Ok(Latencies {
        queued: since_received(&queued),
        dispatched: since_received(&dispatched),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_events_are_read_from_the_json_file_log() {
        let dir = std::env::temp_dir().join(format!("xtask-latency-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let log = concat!(
            r#"{"1":"[imbridge] imbridge::latency: received account=a-im-bot id=77 at_us=1000","_meta":{}}"#,
            "\n",
            r#"{"1":"[imbridge] imbridge::latency: queued channel=\"openclaw-weixin\" account=\"a-im-bot\" id=\"77\" at_us=1700","_meta":{}}"#,
            "\n",
            r#"{"1":"[imbridge] imbridge::latency: dispatched channel=\"openclaw-weixin\" account=\"a-im-bot\" id=\"77\" at_us=3500","_meta":{}}"#,
            "\n",
        );
        fs::write(dir.join("openclaw.log"), log).expect("write");
        let latencies = plugin_latencies_ms(&dir, &HashMap::new()).expect("read");
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            latencies,
            Latencies {
                queued: vec![0.7],
                dispatched: vec![2.5]
            }
        );
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn stat_reads_past_a_command_name_with_spaces() {
        let line = "42 (node (x) y) S 7 42 42 0 -1 4194560 100 0 0 0 250 30 5 6 20 0 11 0";
        let stat = stat_fields(line).expect("parsed");
        assert_eq!(
            (stat.ppid, stat.utime, stat.stime, stat.cutime, stat.cstime),
            (7, 250, 30, 5, 6)
        );
    }
}
