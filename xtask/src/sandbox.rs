//! `cargo xtask sandbox`: WeChat, OpenIM and Yunxin in one real OpenClaw gateway, offline, left
//! running for a person to try. The commands that play a user are data ([`Play`]): the sandbox
//! prints them, and the e2e runs them exactly as printed ([`run_plays`]), so what a person is
//! told to type is tested.

use std::collections::HashSet;
use std::fmt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::e2e::{Part, Stack, TURN, wait};
use crate::e2e_openim::Server as OpenImServer;
use crate::e2e_yunxin::ServerApi;
use crate::gateway::run_with_input;
use crate::{Result, root};

/// The networks a gateway talks to beside the [`Stack`]'s WeChat account.
pub struct Networks {
    /// WeChat is played (the stack always runs it; `--only` another network leaves it out).
    pub weixin: bool,
    /// OpenIM: two accounts on two servers; empty when left out.
    pub openim: Vec<OpenImServer>,
    /// Yunxin: a `server-api` account on the NIM server-API simulator.
    pub yunxin: Option<ServerApi>,
}

impl Networks {
    /// Starts the simulators of the networks `only` allows (all without it) and configures
    /// their channels in the stack's running gateway in one config write, after `adjust` (the
    /// caller's additions) had the config; returns once every account is connected.
    pub fn start(
        stack: &Stack,
        only: Option<Part>,
        adjust: impl FnOnce(&mut Value) -> Result,
    ) -> Result<Self> {
        let runs = |part| only.is_none_or(|only| only == part);
        let openim = if runs(Part::Openim) {
            crate::e2e_openim::servers(stack)?
        } else {
            Vec::new()
        };
        let yunxin = if runs(Part::Yunxin) {
            Some(ServerApi::start(stack)?)
        } else {
            None
        };
        let before = stack.gateway.read_config()?;
        let mut config = before.clone();
        if !openim.is_empty() {
            crate::e2e_openim::configure(&mut config, &openim);
        }
        if let Some(yunxin) = &yunxin {
            yunxin.configure(&mut config);
        }
        adjust(&mut config)?;
        // An unchanged file would still make the gateway reload its channels.
        if config != before {
            stack.gateway.write_config(&config)?;
        }
        if !openim.is_empty() {
            crate::e2e_openim::wait_connected(stack, &openim)?;
        }
        if let Some(yunxin) = &yunxin {
            yunxin.wait_listening()?;
        }
        Ok(Self {
            weixin: runs(Part::Weixin),
            openim,
            yunxin,
        })
    }
}

/// A shell command that plays a user, as printed.
pub struct Play {
    pub network: Part,
    pub describe: String,
    pub command: String,
    /// Text in the bot's reply (the mock model quotes a message without a marker); `None` for a
    /// command that only shows something.
    pub expect: Option<String>,
}

/// `s` in single quotes for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn curl_post(url: &str, body: &Value) -> String {
    format!(
        "curl -sS {url} -H 'content-type: application/json' -d {}",
        sh_quote(&body.to_string())
    )
}

fn curl_get(url: &str) -> String {
    format!("curl -sS {url}")
}

/// What a person can type, network by network: a message that gets a reply, then where to see
/// what the bots sent.
pub fn plays(stack: &Stack, networks: &Networks) -> Vec<Play> {
    let mut plays = Vec::new();
    let says = |text: &str| Some(text.to_owned());
    if networks.weixin {
        let admin = stack.sim.base_url();
        let text = "Hello from WeChat";
        plays.push(Play {
            network: Part::Weixin,
            describe: format!(
                "{} (the account's owner) writes to the bot",
                stack.bot.owner
            ),
            command: curl_post(
                &format!("{admin}_admin/inbound"),
                &json!({"bot_id": stack.bot.bot_id, "text": text}),
            ),
            expect: says(text),
        });
        plays.push(Play {
            network: Part::Weixin,
            describe: "what the bot sent".into(),
            command: curl_get(&format!("{admin}_admin/sent")),
            expect: None,
        });
    }
    if let [first, second, ..] = networks.openim.as_slice() {
        let text = "Hello from OpenIM";
        plays.push(Play {
            network: Part::Openim,
            describe: format!("{} writes to {} ({})", first.peer, first.bot, first.account),
            command: curl_post(
                &format!("{}/_admin/inject", first.sim.api_url()),
                &json!({"from": first.peer, "to": first.bot, "text": text}),
            ),
            expect: says(text),
        });
        let text = "Hello from the OpenIM group";
        plays.push(Play {
            network: Part::Openim,
            describe: format!(
                "{} mentions {} in group {} ({}; a message without the mention is ignored)",
                second.peer, second.bot, second.group, second.account
            ),
            command: curl_post(
                &format!("{}/_admin/inject", second.sim.api_url()),
                &json!({
                    "from": second.peer,
                    "groupID": second.group,
                    "text": format!("@{} {text}", second.bot),
                    "atUserIDs": [second.bot],
                }),
            ),
            expect: says(text),
        });
        for s in [first, second] {
            plays.push(Play {
                network: Part::Openim,
                describe: format!("what the server of {} stored as sent", s.account),
                command: curl_get(&format!("{}/_admin/sent", s.sim.api_url())),
                expect: None,
            });
        }
    }
    if let Some(yunxin) = &networks.yunxin {
        let text = "Hello from Yunxin";
        plays.push(Play {
            network: Part::Yunxin,
            describe: format!(
                "{} writes to {}: the simulator signs the webhook push (CheckSum, MD5, CurTime) \
                 with the app secret, as NetEase does",
                yunxin.peer, yunxin.bot
            ),
            command: curl_post(
                &format!("{}/_admin/push", yunxin.sim.base_url()),
                &json!({"from": yunxin.peer, "to": yunxin.bot, "text": text}),
            ),
            expect: says(text),
        });
        plays.push(Play {
            network: Part::Yunxin,
            describe: "what the bot sent through the server API".into(),
            command: curl_get(&format!("{}/_admin/sent", yunxin.sim.base_url())),
            expect: None,
        });
    }
    plays
}

/// One message in the transcript.
pub struct Line {
    pub network: Part,
    pub account: String,
    /// The user, or the group (with its member, inbound).
    pub peer: String,
    pub inbound: bool,
    pub text: String,
    /// An outbound message the server refused.
    pub refused: bool,
    /// Names the message among all the transcript's, so each is shown once.
    key: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = if self.inbound {
            (self.peer.as_str(), "bot")
        } else {
            ("bot", self.peer.as_str())
        };
        let refused = if self.refused { " [refused]" } else { "" };
        write!(
            f,
            "[{} {}] {from} -> {to}: {:?}{refused}",
            self.network.name(),
            self.account,
            self.text
        )
    }
}

impl Line {
    /// A user's message to the bot.
    fn inbound(network: Part, account: &str, peer: String, text: String, key: String) -> Self {
        Self {
            network,
            account: account.to_owned(),
            peer,
            inbound: true,
            text,
            refused: false,
            key,
        }
    }

    /// The bot's message to `peer`.
    fn outbound(network: Part, account: &str, peer: String, text: String, key: String) -> Self {
        Self {
            inbound: false,
            ..Self::inbound(network, account, peer, text, key)
        }
    }
}

/// Every message of the played networks the simulators saw, inbound and outbound.
pub fn transcript(stack: &Stack, networks: &Networks) -> Vec<Line> {
    let mut lines = Vec::new();
    if networks.weixin {
        let (bot, account) = (&stack.bot.bot_id, stack.account.as_str());
        for msg in stack.sim.inbound(bot) {
            let texts: Vec<&str> = msg["item_list"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["text_item"]["text"].as_str())
                .collect();
            let text = if texts.is_empty() {
                "[media]".to_owned()
            } else {
                texts.join("\n")
            };
            let peer = msg["from_user_id"].as_str().unwrap_or_default().to_owned();
            let key = format!("weixin {bot} in {}", msg["message_id"]);
            lines.push(Line::inbound(Part::Weixin, account, peer, text, key));
        }
        for (i, sent) in stack.sim.sent(bot).into_iter().enumerate() {
            let text = sent.text.unwrap_or_else(|| "[media]".to_owned());
            let key = format!("weixin {bot} out {i}");
            lines.push(Line {
                refused: !sent.accepted,
                ..Line::outbound(Part::Weixin, account, sent.to_user_id, text, key)
            });
        }
    }
    for s in &networks.openim {
        let messages = s
            .sim
            .conversation_ids()
            .into_iter()
            .flat_map(|conversation| s.sim.messages(&conversation));
        for msg in messages.filter(|msg| msg.send_id != s.bot) {
            let peer = if msg.group_id.is_empty() {
                msg.send_id.clone()
            } else {
                format!("{} in {}", msg.send_id, msg.group_id)
            };
            let text = imsim::openim::text_of(msg.content_type, &msg.content)
                .unwrap_or_else(|| format!("[content type {}]", msg.content_type));
            let key = format!("openim {} in {}", s.account, msg.client_msg_id);
            lines.push(Line::inbound(Part::Openim, s.account, peer, text, key));
        }
        let sent = s.sim.sent().into_iter().enumerate();
        for (i, sent) in sent.filter(|(_, sent)| sent.send_id == s.bot) {
            let peer = if sent.group_id.is_empty() {
                sent.recv_id
            } else {
                sent.group_id
            };
            let text =
                (sent.text).unwrap_or_else(|| format!("[content type {}]", sent.content_type));
            let key = format!("openim {} out {i}", s.account);
            lines.push(Line {
                refused: sent.err_code != 0,
                ..Line::outbound(Part::Openim, s.account, peer, text, key)
            });
        }
    }
    if let Some(y) = &networks.yunxin {
        for (i, pushed) in y.sim.pushes().into_iter().enumerate() {
            let body: Value = serde_json::from_str(&pushed.body).unwrap_or_default();
            let from = body["fromAccount"].as_str().unwrap_or_default();
            let peer = match body["convType"].as_str() {
                Some("TEAM") => format!("{from} in {}", body["to"].as_str().unwrap_or_default()),
                _ => from.to_owned(),
            };
            let text = match body["msgType"].as_str() {
                Some("TEXT") => body["body"].as_str().unwrap_or_default().to_owned(),
                other => format!("[{}]", other.unwrap_or("?")),
            };
            let text = format!("{text} (webhook answered {})", pushed.status);
            lines.push(Line::inbound(
                Part::Yunxin,
                y.account,
                peer,
                text,
                format!("yunxin in {i}"),
            ));
        }
        let sent = y.sim.sent().into_iter().enumerate();
        for (i, sent) in sent.filter(|(_, sent)| sent.sender == y.bot) {
            let text =
                (sent.text).unwrap_or_else(|| format!("[message type {}]", sent.message_type));
            let key = format!("yunxin out {i}");
            lines.push(Line::outbound(
                Part::Yunxin,
                y.account,
                sent.receiver,
                text,
                key,
            ));
        }
    }
    lines
}

/// Runs every play's command with `sh -c` exactly as printed, then waits for the bot's reply to
/// each one that expects one, in the simulators' sent logs.
pub fn run_plays(stack: &Stack, networks: &Networks) -> Result {
    let plays = plays(stack, networks);
    for play in &plays {
        let mut sh = Command::new("sh");
        sh.args(["-c", &play.command])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let (ok, out, err) = run_with_input(sh, Duration::from_secs(30), None)?;
        if !ok {
            return Err(format!("`{}` failed:\n{out}\n{err}", play.command).into());
        }
        eprintln!(
            "$ {}\n{}",
            play.command,
            crate::gateway::tail(out.trim(), 3)
        );
    }
    for play in &plays {
        let Some(expect) = &play.expect else { continue };
        let reply = wait(&format!("a reply to {:?}", play.describe), TURN, || {
            transcript(stack, networks).into_iter().find(|l| {
                !l.inbound
                    && !l.refused
                    && l.network == play.network
                    && l.text.contains(expect.as_str())
            })
        });
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => {
                let seen: Vec<String> = transcript(stack, networks)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                return Err(format!("{err}; transcript:\n{}", seen.join("\n")).into());
            }
        };
        eprintln!("{reply}");
    }
    Ok(())
}

pub fn run(only: Option<Part>) -> Result {
    let dir = root().join("target/sandbox");
    let mut stack = Stack::start(&dir, &[])?;
    let account = stack.account.clone();
    let networks = Networks::start(&stack, only, |config| {
        // The stack always brings WeChat; asked for another network, its account stays off.
        if only.is_some_and(|only| only != Part::Weixin) {
            config["channels"]["openclaw-weixin"]["accounts"][&account]["enabled"] = json!(false);
        }
        Ok(())
    })?;
    let env = dir.join("env.sh");
    std::fs::write(&env, stack.gateway.env_script())?;
    println!("{}", banner(&stack, &networks, &env));
    // Ctrl-C or SIGTERM ends the loop, so the gateway and simulators are stopped on the way
    // out instead of being left behind.
    let stop = Arc::new(AtomicBool::new(false));
    stack.runtime().spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::Relaxed);
        }
    });
    let mut shown = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        for line in transcript(&stack, &networks) {
            if shown.insert(line.key.clone()) {
                println!("{line}");
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("\nstopping the sandbox…");
    stack.gateway.stop()
}

/// What is running, and the plays.
fn banner(stack: &Stack, networks: &Networks, env: &std::path::Path) -> String {
    let mut out = format!(
        "\nimbridge sandbox is up (everything on 127.0.0.1, offline).\n\
         \n  mock model        {}\n  gateway state     {}\n",
        stack.model.base_url(),
        stack.gateway.state.display(),
    );
    // One row a network: name, simulator, who is who.
    let mut rows = Vec::new();
    if networks.weixin {
        let who = format!(
            "account {}, owner {} (always allowed)",
            stack.account, stack.bot.owner
        );
        rows.push(("WeChat (iLink)".to_owned(), stack.sim.base_url(), who));
    }
    for s in &networks.openim {
        let who = format!(
            "bot {}; {} may write, group {} (requireMention)",
            s.bot, s.peer, s.group
        );
        rows.push((format!("OpenIM {}", s.account), s.sim.api_url(), who));
    }
    if let Some(y) = &networks.yunxin {
        let who = format!(
            "bot {} (server API); {} may write; webhook on 127.0.0.1:{}",
            y.bot, y.peer, y.webhook_port
        );
        rows.push((format!("Yunxin {}", y.account), y.sim.base_url(), who));
    }
    for (name, url, who) in rows {
        out += &format!("  {name:<17} {url}  {who}\n");
    }
    out += "\nPlay a user. The mock model quotes what you write; markers: [[ECHO:x]] answers \
            \"ECHO: x\", [[LONG:n]] n characters, [[RECALL]] the [[ECHO:x]] markers the \
            conversation holds.\n";
    for play in plays(stack, networks) {
        out += &format!(
            "\n  # {}: {}\n  {}\n",
            play.network.name(),
            play.describe,
            play.command
        );
    }
    out += &format!(
        "\nThe OpenClaw CLI for this instance: . {}\
         \nTranscript below; Ctrl-C stops everything.\n",
        env.display()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_argument_reaches_the_command_as_it_was() {
        let body = r#"{"text":"it's \"quoted\" $HOME `x` \n"}"#;
        let out = Command::new("sh")
            .args(["-c", &format!("printf %s {}", sh_quote(body))])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), body);
    }
}
