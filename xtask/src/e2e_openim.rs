//! The OpenIM part of `cargo xtask e2e`: two accounts on two simulated OpenIM servers in the
//! real gateway, each answering a direct message and an @-mention in its group, and ignoring
//! a group message without a mention (`requireMention`).

use std::time::Duration;

use imsim::openim::{OpenImOptions, OpenImSim, Sent};
use serde_json::{Value, json};

use crate::Result;
use crate::e2e::{Stack, TURN, poll};

/// Polls until `probe` yields, or fails naming `what`.
fn wait<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Result<T> {
    poll(limit, Duration::from_millis(300), || Ok(probe()))?
        .ok_or_else(|| format!("timed out waiting for {what}").into())
}

const CHANNEL: &str = "multi-openim";

/// One account's server and cast.
pub struct Server {
    pub sim: OpenImSim,
    pub account: &'static str,
    pub bot: &'static str,
    pub peer: &'static str,
    pub group: &'static str,
}

fn step(name: &str) {
    eprintln!("\n== e2e openim: {name}");
}

fn check(ok: bool, what: impl Into<String>) -> Result {
    if ok { Ok(()) } else { Err(what.into().into()) }
}

/// Starts two servers, configures `channels.multi-openim` with one account on each, and waits
/// until both bots are online.
pub fn start(stack: &Stack) -> Result<Vec<Server>> {
    let mut servers = Vec::new();
    for (account, bot, peer, group) in [
        ("primary", "bot-a", "alice", "team-a"),
        ("team-b", "bot-b", "carol", "team-b"),
    ] {
        let sim = stack
            .runtime()
            .block_on(OpenImSim::start(OpenImOptions::default()))?;
        for user in [bot, peer] {
            sim.add_user(user);
        }
        sim.add_group(group, &[peer, bot]);
        servers.push(Server {
            sim,
            account,
            bot,
            peer,
            group,
        });
    }
    let accounts: serde_json::Map<String, Value> = servers
        .iter()
        .map(|s| {
            (
                s.account.to_owned(),
                json!({
                    // platformID and userID come from the token's claims.
                    "token": s.sim.issue_token(s.bot, 7),
                    "wsAddr": s.sim.ws_url(),
                    "apiAddr": s.sim.api_url(),
                    "requireMention": true,
                }),
            )
        })
        .collect();
    let allow: Vec<&str> = servers.iter().map(|s| s.peer).collect();
    let mut config = stack.gateway.read_config()?;
    config["channels"][CHANNEL] = json!({
        "dmPolicy": "pairing",
        "allowFrom": allow,
        "accounts": accounts,
    });
    stack.gateway.write_config(&config)?;
    step("both accounts connect to their own server");
    for s in &servers {
        wait(
            &format!("{} online at its server", s.bot),
            Duration::from_secs(90),
            || s.sim.online(s.bot).then_some(()),
        )?;
    }
    Ok(servers)
}

fn sent_with(server: &Server, text: &str) -> Option<Sent> {
    server
        .sim
        .sent()
        .into_iter()
        .find(|s| s.send_id == server.bot && s.err_code == 0 && s.text.as_deref() == Some(text))
}

pub fn scenario(stack: &Stack) -> Result {
    let servers = start(stack)?;
    for s in &servers {
        step(&format!("{}: a direct message is answered", s.account));
        let marker = format!("OIM-{}-DM", s.account.to_uppercase());
        s.sim
            .inject_text(s.peer, s.bot, &format!("[[ECHO:{marker}]]"));
        let reply = wait(&format!("{} reply to {}", s.bot, s.peer), TURN, || {
            sent_with(s, &format!("ECHO: {marker}"))
        })?;
        check(
            reply.recv_id == s.peer && reply.session_type == 1,
            format!(
                "the DM reply went to {:?} (session {})",
                reply.recv_id, reply.session_type
            ),
        )?;
    }
    for s in &servers {
        step(&format!(
            "{}: a group message without a mention is ignored, an @-mention is answered",
            s.account
        ));
        let quiet = format!("OIM-{}-QUIET", s.account.to_uppercase());
        s.sim
            .inject_group_text(s.peer, s.group, &format!("[[ECHO:{quiet}]]"), &[]);
        let marker = format!("OIM-{}-GROUP", s.account.to_uppercase());
        s.sim.inject_group_text(
            s.peer,
            s.group,
            &format!("@{} [[ECHO:{marker}]]", s.bot),
            &[s.bot],
        );
        let reply = wait(
            &format!("{} reply in group {}", s.bot, s.group),
            TURN,
            || sent_with(s, &format!("ECHO: {marker}")),
        )?;
        check(
            reply.group_id == s.group && reply.session_type == 3,
            format!(
                "the group reply went to group {:?} (session {})",
                reply.group_id, reply.session_type
            ),
        )?;
        // The unmentioned message came first: had it reached the agent, its answer would be out.
        std::thread::sleep(Duration::from_secs(3));
        check(
            sent_with(s, &format!("ECHO: {quiet}")).is_none(),
            format!("{}: an unmentioned group message was answered", s.account),
        )?;
    }
    step("channels status --probe shows both accounts connected");
    let status = stack.gateway.cli(&["channels", "status", "--probe"])?;
    for s in &servers {
        let line = status
            .lines()
            .find(|l| l.contains(CHANNEL) && l.contains(s.account))
            .or_else(|| status.lines().find(|l| l.contains(s.account)))
            .unwrap_or_default();
        eprintln!("{line}");
        check(
            line.contains("connected") && !line.contains("disconnected"),
            format!("{}: status line {line:?}", s.account),
        )?;
    }
    Ok(())
}
