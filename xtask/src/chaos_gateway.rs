//! The gateway level of `cargo xtask chaos`: the packaged plugin inside the real OpenClaw
//! gateway, the mock model as the agent, and a simulator per network. Direct messages from many
//! peers flow in at a steady pace while a seeded schedule SIGKILLs the gateway (mid-batch,
//! mid-turn, mid-send) and starts it again on the same state directory.
//!
//! Every message carries a marker (`[[ECHO:GW-<peer>-<n>]]`) that the mock model answers as
//! `ECHO: GW-<peer>-<n>`, so the figures come from what the server stored as sent by the bot and
//! what the model was asked, never from the plugin's own account of itself.
//!
//! OpenClaw stops a channel's auto-start after 3 unclean boots within 5 minutes; a run kills at
//! most twice per channel, each channel on a state directory of its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use imsim::ilink::IlinkSim;
use imsim::model::MockModel;
use imsim::nim::{NimOptions, NimSim};
use imsim::openim::{OpenImOptions, OpenImSim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Result;
use crate::e2e::Stack;
use crate::gateway::Gateway;

/// What one channel's run injects and breaks.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub inbound: usize,
    pub peers: usize,
    pub kills: usize,
    pub seed: u64,
}

impl Plan {
    /// The full schedule: 300 messages from 10 peers, two SIGKILLs.
    pub const FULL: Plan = Plan {
        inbound: 300,
        peers: 10,
        kills: 2,
        seed: 1,
    };
    /// What CI runs: 40 messages from 5 peers, one SIGKILL.
    pub const QUICK: Plan = Plan {
        inbound: 40,
        peers: 5,
        kills: 1,
        seed: 1,
    };
}

/// One channel's figures at the gateway level.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub level: &'static str,
    pub channel: &'static str,
    pub seed: u64,
    pub inbound: usize,
    /// Answered exactly once, the agent asked exactly once.
    pub exactly_once: usize,
    /// Never answered.
    pub lost: usize,
    /// Answered more than once at the server.
    pub replies_twice: usize,
    /// Messages whose first answers reached a peer out of the order they were sent in.
    pub out_of_order: usize,
    /// Extra times the agent was asked about a message it had been asked about before (a run cut
    /// by a kill, run again).
    pub agent_reruns: usize,
    /// Model requests about no message of the run (the host's own restart-recovery prompts).
    pub host_prompts: usize,
    /// Other messages the bot sent: OpenClaw's "couldn't produce or deliver a reply" notice,
    /// answers to the host's own prompts.
    pub other_sent: usize,
    pub kills: usize,
    /// Seconds from each restart (gateway ready) to the next answer at the server.
    pub recover_s: Vec<f64>,
    /// Up to ten markers of each non-zero figure, to find them in the gateway logs (kept when
    /// the promise did not hold).
    pub examples: BTreeMap<String, Vec<String>>,
    pub wall_s: f64,
}

impl Figures {
    /// Whether the promise held: nothing lost, answered twice or out of order.
    pub fn held(&self) -> bool {
        self.lost == 0 && self.replies_twice == 0 && self.out_of_order == 0
    }
}

/// The network side of one channel: how a peer writes to the bot, and what the bot sent.
trait Network: Sync {
    fn channel(&self) -> &'static str;
    /// Hands one message to the bot's server; false when the server could not take it now (a
    /// webhook that was not answered 200), so it is offered again, as the network would.
    fn inject(&self, peer: &str, text: &str) -> bool;
    /// The bot's accepted messages, in the order the server stored them: (peer, text).
    fn sent(&self) -> Vec<(String, String)>;
    /// Peers write their next message only once the last one was answered. iLink lets a bot
    /// send 10 messages per message of the peer: a burst of 30 from one person, answered by a
    /// slower agent, leaves 20 answers waiting for the person to write again.
    fn conversational(&self) -> bool {
        false
    }
}

fn peer_id(channel: &str, i: usize) -> String {
    match channel {
        "openclaw-weixin" => format!("chaos{i:02}@im.wechat"),
        _ => format!("chaos-{i:02}"),
    }
}

fn marker(peer: &str, n: usize) -> String {
    format!("GW-{peer}-{n}")
}

/// Runs each of `channels` (`openim`, `weixin`, `yunxin`: Yunxin over its server API and
/// webhook) in a directory of its own under `dir`.
pub fn run(dir: &Path, plan: Plan, channels: &[&str]) -> Result<Vec<Figures>> {
    let mut figures = Vec::new();
    for &channel in channels {
        let dir = dir.join(channel);
        figures.push(match channel {
            "openim" => openim(&dir, plan)?,
            "weixin" => weixin(&dir, plan)?,
            "yunxin" => yunxin(&dir, plan)?,
            other => return Err(format!("chaos: no gateway run for {other:?}").into()),
        });
    }
    Ok(figures)
}

/// The figures as a table, one row per channel.
pub fn table(figures: &[Figures]) -> String {
    let mut out = format!(
        "{:<16} {:>7} {:>8} {:>5} {:>7} {:>6} {:>7} {:>7} {:>6} {:>5} {:>15} {:>6}\n",
        "gateway level",
        "inbound",
        "exactly1",
        "lost",
        "reply2x",
        "order",
        "reruns",
        "prompts",
        "other",
        "kills",
        "recover p50/max",
        "wall"
    );
    for f in figures {
        let mut recover = f.recover_s.clone();
        recover.sort_by(f64::total_cmp);
        let p50 = recover.get(recover.len() / 2).copied().unwrap_or(0.0);
        let max = recover.last().copied().unwrap_or(0.0);
        out.push_str(&format!(
            "{:<16} {:>7} {:>8} {:>5} {:>7} {:>6} {:>7} {:>7} {:>6} {:>5} {:>15} {:>5.0}s\n",
            f.channel,
            f.inbound,
            f.exactly_once,
            f.lost,
            f.replies_twice,
            f.out_of_order,
            f.agent_reruns,
            f.host_prompts,
            f.other_sent,
            f.kills,
            format!("{p50:.1}s/{max:.1}s"),
            f.wall_s
        ));
    }
    out
}

struct OpenIm {
    sim: OpenImSim,
    bot: &'static str,
}

impl Network for OpenIm {
    fn channel(&self) -> &'static str {
        "multi-openim"
    }

    fn inject(&self, peer: &str, text: &str) -> bool {
        self.sim.inject_text(peer, self.bot, text);
        true
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.send_id == self.bot && s.err_code == 0)
            .filter_map(|s| Some((s.recv_id, s.text?)))
            .collect()
    }
}

fn openim(dir: &Path, plan: Plan) -> Result<Figures> {
    let mut stack = Stack::new(dir)?;
    stack.install_packaged(&crate::package::run(None, true)?)?;
    let net = OpenIm {
        sim: stack
            .runtime()
            .block_on(OpenImSim::start(OpenImOptions::default()))?,
        bot: "chaos-bot",
    };
    net.sim.add_user(net.bot);
    let peers: Vec<String> = (0..plan.peers).map(|i| peer_id(net.channel(), i)).collect();
    for peer in &peers {
        net.sim.add_user(peer);
    }
    let mut config = stack.gateway.read_config()?;
    config["session"]["dmScope"] = json!("per-channel-peer");
    config["channels"]["multi-openim"] = json!({
        "dmPolicy": "allowlist",
        "allowFrom": peers,
        "accounts": { "chaos": {
            "token": net.sim.issue_token(net.bot, 7),
            "wsAddr": net.sim.ws_url(),
            "apiAddr": net.sim.api_url(),
        }},
    });
    stack.gateway.write_config(&config)?;
    stack.gateway.start()?;
    wait("the OpenIM bot online", Duration::from_secs(120), || {
        net.sim.online(net.bot)
    })?;
    // A first account's first sync takes what is stored as history: the run starts after it.
    wait("the OpenIM bot caught up", Duration::from_secs(60), || {
        stack.gateway.log().contains("connected and caught up")
    })?;
    let figures = drive(&mut stack.gateway, &stack.model, &net, &peers, plan);
    stack.gateway.stop()?;
    finish(dir, figures)
}

struct Weixin<'a> {
    sim: &'a IlinkSim,
    bot: String,
}

impl Network for Weixin<'_> {
    fn channel(&self) -> &'static str {
        "openclaw-weixin"
    }

    fn conversational(&self) -> bool {
        true
    }

    fn inject(&self, peer: &str, text: &str) -> bool {
        self.sim.inject_text(&self.bot, peer, text);
        true
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.sim
            .sent(&self.bot)
            .into_iter()
            .filter(|s| s.accepted)
            .filter_map(|s| Some((s.to_user_id, s.text?)))
            .collect()
    }
}

fn weixin(dir: &Path, plan: Plan) -> Result<Figures> {
    let peers: Vec<String> = (0..plan.peers)
        .map(|i| peer_id("openclaw-weixin", i))
        .collect();
    let mut stack = Stack::start(dir, &peers)?;
    let mut config = stack.gateway.read_config()?;
    if config["session"]["dmScope"] != json!("per-channel-peer") {
        // One session per peer, so the peers' turns run side by side; applied by a restart
        // before the run starts.
        config["session"]["dmScope"] = json!("per-channel-peer");
        stack.gateway.write_config(&config)?;
        stack.gateway.stop()?;
        stack.launch()?;
    }
    let Stack {
        sim,
        model,
        bot,
        gateway,
        ..
    } = &mut stack;
    let net = Weixin {
        sim,
        bot: bot.bot_id.clone(),
    };
    let figures = drive(gateway, model, &net, &peers, plan);
    stack.gateway.stop()?;
    finish(dir, figures)
}

struct Yunxin {
    sim: NimSim,
    /// The simulators' runtime: pushes are async.
    runtime: tokio::runtime::Handle,
    bot: &'static str,
}

impl Network for Yunxin {
    fn channel(&self) -> &'static str {
        "netease-yunxin"
    }

    fn inject(&self, peer: &str, text: &str) -> bool {
        // NetEase posts the copy to the webhook and retries until it is answered 200.
        self.runtime
            .block_on(self.sim.push_text(peer, self.bot, text))
            .is_ok_and(|pushed| pushed.status == 200)
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.sender == self.bot)
            .filter_map(|s| Some((s.receiver, s.text?)))
            .collect()
    }
}

fn yunxin(dir: &Path, plan: Plan) -> Result<Figures> {
    let mut stack = Stack::new(dir)?;
    stack.install_packaged(&crate::package::run(None, true)?)?;
    let net = Yunxin {
        sim: stack
            .runtime()
            .block_on(NimSim::start(NimOptions::default()))?,
        runtime: stack.runtime().handle().clone(),
        bot: "chaos-bot",
    };
    let peers: Vec<String> = (0..plan.peers).map(|i| peer_id(net.channel(), i)).collect();
    for accid in peers.iter().map(String::as_str).chain([net.bot]) {
        net.sim.add_account(accid, "unused");
    }
    let port = crate::gateway::free_port()?;
    net.sim
        .set_webhook(&format!("http://127.0.0.1:{port}/netease-yunxin/webhook"));
    let mut config = stack.gateway.read_config()?;
    config["session"]["dmScope"] = json!("per-channel-peer");
    config["channels"]["netease-yunxin"] = json!({
        "dmPolicy": "allowlist",
        "allowFrom": peers,
        "accounts": { "chaos": {
            "appKey": net.sim.app_key(),
            "accountId": net.bot,
            "transport": "server-api",
            "serverApi": {
                "appSecret": net.sim.app_secret(),
                "baseUrl": net.sim.base_url(),
                "webhookListen": format!("127.0.0.1:{port}"),
            },
        }},
    });
    stack.gateway.write_config(&config)?;
    stack.gateway.start()?;
    wait(
        "the Yunxin webhook listening",
        Duration::from_secs(120),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    )?;
    let figures = drive(&mut stack.gateway, &stack.model, &net, &peers, plan);
    stack.gateway.stop()?;
    finish(dir, figures)
}

/// Keeps the run's directory when the promise did not hold, for its logs.
fn finish(dir: &Path, figures: Result<Figures>) -> Result<Figures> {
    match &figures {
        Ok(f) if f.held() => {
            let _ = std::fs::remove_dir_all(dir);
        }
        _ => eprintln!("chaos: gateway logs and state kept in {}", dir.display()),
    }
    figures
}

/// Waits until `probe` holds, or fails naming `what`.
fn wait(what: &str, limit: Duration, mut probe: impl FnMut() -> bool) -> Result {
    crate::e2e::wait(what, limit, || probe().then_some(()))
}

/// Injects the plan's messages while the kill schedule runs, waits for the answers, and counts.
fn drive(
    gateway: &mut Gateway,
    model: &MockModel,
    net: &dyn Network,
    peers: &[String],
    plan: Plan,
) -> Result<Figures> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let pace = Duration::from_millis(rng.random_range(60..140));
    // Kill points: injection indices in the middle three fifths, so turns are in flight and
    // messages are still coming.
    let mut kill_at: Vec<usize> = (0..plan.kills)
        .map(|_| {
            rng.random_range(plan.inbound / 5..(4 * plan.inbound / 5).max(plan.inbound / 5 + 1))
        })
        .collect();
    kill_at.sort_unstable();
    let pauses: Vec<Duration> = (0..plan.kills)
        .map(|_| Duration::from_millis(rng.random_range(200..2500)))
        .collect();
    let messages: Vec<(String, String)> = (0..plan.inbound)
        .map(|i| {
            let peer = &peers[i % peers.len()];
            (peer.clone(), marker(peer, i / peers.len()))
        })
        .collect();
    let injected = AtomicUsize::new(0);
    let answers = || {
        net.sent()
            .into_iter()
            .filter(|(_, text)| text.starts_with("ECHO: GW-"))
            .count()
    };
    let mut recover_s = Vec::new();
    std::thread::scope(|scope| -> Result {
        if net.conversational() {
            // One person per thread, each waiting for the answer to their last message (up to
            // two minutes, so a kill does not stop the run) before writing the next.
            for peer in peers {
                let (messages, injected) = (&messages, &injected);
                scope.spawn(move || {
                    let answered = |marker: &str| {
                        net.sent()
                            .iter()
                            .any(|(_, text)| text.strip_prefix("ECHO: ") == Some(marker))
                    };
                    let mut previous: Option<&str> = None;
                    for (_, marker) in messages.iter().filter(|(p, _)| p == peer) {
                        if let Some(previous) = previous {
                            let _ = wait("the previous answer", Duration::from_secs(120), || {
                                answered(previous)
                            });
                        }
                        while !net.inject(peer, &format!("[[ECHO:{marker}]]")) {
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        injected.fetch_add(1, Ordering::SeqCst);
                        previous = Some(marker);
                    }
                });
            }
        } else {
            scope.spawn(|| {
                for (peer, marker) in &messages {
                    // A copy the receiver did not take is offered again, before the next one.
                    while !net.inject(peer, &format!("[[ECHO:{marker}]]")) {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    injected.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(pace);
                }
            });
        }
        for (at, pause) in kill_at.iter().zip(&pauses) {
            wait("the kill point", Duration::from_secs(600), || {
                injected.load(Ordering::SeqCst) >= *at
            })?;
            let before = answers();
            eprintln!(
                "chaos: {}: SIGKILL after {at} injected, {before} answered",
                net.channel()
            );
            gateway.kill()?;
            std::thread::sleep(*pause);
            gateway.start()?;
            let ready = Instant::now();
            let answered = answers();
            wait(
                "an answer after the restart",
                Duration::from_secs(300),
                || answers() > answered,
            )?;
            recover_s.push(ready.elapsed().as_secs_f64());
        }
        Ok(())
    })?;
    // Done once every message is answered, or once nothing moved for two minutes.
    let mut last = (answers(), Instant::now());
    while last.0 < plan.inbound && last.1.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(500));
        let now = answers();
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    // Late duplicates would land now.
    std::thread::sleep(Duration::from_secs(10));
    Ok(count(net, model, &messages, plan, recover_s, started))
}

fn count(
    net: &dyn Network,
    model: &MockModel,
    messages: &[(String, String)],
    plan: Plan,
    recover_s: Vec<f64>,
    started: Instant,
) -> Figures {
    let mut answered: BTreeMap<&str, usize> = BTreeMap::new();
    let mut other_sent = 0;
    // Per peer, the markers in the order their first answers reached the server.
    let mut first_order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (peer, text) in net.sent() {
        let known = text
            .strip_prefix("ECHO: ")
            .and_then(|marker| messages.iter().find(|(_, m)| m == marker));
        let Some((_, m)) = known else {
            eprintln!(
                "chaos: {}: the bot also sent {peer}: {text:?}",
                net.channel()
            );
            other_sent += 1;
            continue;
        };
        let seen = answered.entry(m.as_str()).or_default();
        *seen += 1;
        if *seen == 1 {
            first_order.entry(peer).or_default().push(m.clone());
        }
    }
    let mut asked: BTreeMap<String, usize> = BTreeMap::new();
    let mut host_prompts = 0;
    for request in model.requests() {
        match newest_user_marker(&request) {
            Some(m) if messages.iter().any(|(_, x)| *x == m) => *asked.entry(m).or_default() += 1,
            _ => host_prompts += 1,
        }
    }
    let mut out_of_order = 0;
    for (peer, order) in &first_order {
        let sent: Vec<&String> = messages
            .iter()
            .filter(|(p, m)| p == peer && order.contains(m))
            .map(|(_, m)| m)
            .collect();
        out_of_order += order.iter().zip(sent).filter(|(a, b)| a != b).count();
    }
    let mut examples: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |what: &str, marker: &str| {
        let list = examples.entry(what.to_owned()).or_default();
        if list.len() < 10 {
            list.push(marker.to_owned());
        }
    };
    for (_, m) in messages {
        match answered.get(m.as_str()) {
            None => note("lost", m),
            Some(n) if *n > 1 => note("replies_twice", m),
            _ => {}
        }
        if asked.get(m).is_some_and(|n| *n > 1) {
            note("agent_reruns", m);
        }
    }
    let lost = messages
        .iter()
        .filter(|(_, m)| !answered.contains_key(m.as_str()))
        .count();
    let exactly_once = messages
        .iter()
        .filter(|(_, m)| answered.get(m.as_str()) == Some(&1) && asked.get(m) == Some(&1))
        .count();
    Figures {
        level: "gateway",
        channel: net.channel(),
        seed: plan.seed,
        inbound: messages.len(),
        exactly_once,
        lost,
        replies_twice: answered.values().filter(|n| **n > 1).count(),
        out_of_order,
        agent_reruns: asked.values().map(|n| n.saturating_sub(1)).sum(),
        host_prompts,
        other_sent,
        kills: plan.kills,
        recover_s,
        examples,
        wall_s: started.elapsed().as_secs_f64(),
    }
}

/// The marker the mock model answers a request with: the one in its newest user message that
/// carries one (OpenClaw puts more user messages after the peer's, such as its envelope notes).
fn newest_user_marker(request: &Value) -> Option<String> {
    request["messages"]
        .as_array()?
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .find_map(|m| marker_in(&text_of(&m["content"])))
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The `GW-…` marker in `text`, if any.
fn marker_in(text: &str) -> Option<String> {
    let start = text.find("[[ECHO:GW-")? + "[[ECHO:".len();
    let end = text[start..].find("]]")? + start;
    Some(text[start..end].to_owned())
}
