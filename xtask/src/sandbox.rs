//! `cargo xtask sandbox`: the e2e stack, left running for a person to try.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::e2e::Stack;
use crate::{Result, root};

pub fn run() -> Result {
    let dir = root().join("target/sandbox");
    let mut stack = Stack::start(&dir, &[])?;
    let admin = stack.sim.base_url();
    println!(
        "\nimbridge sandbox is up (everything on 127.0.0.1, offline).\n\
         \n  iLink simulator  {admin}\n  mock model       {model}\n  gateway state    {state}\n  WeChat account   {account} (owner {owner} is always allowed)\n\
         \nPlay a WeChat user (the mock model echoes [[ECHO:...]] markers):\n\
         \n  curl -s {admin}_admin/inbound -H 'content-type: application/json' -d '{{\"text\":\"[[ECHO:hello]]\"}}'\
         \n  curl -s {admin}_admin/inbound -H 'content-type: application/json' -d '{{\"from\":\"o9cq80Stranger0000000000000@im.wechat\",\"text\":\"hi\"}}'\
         \n  curl -s {admin}_admin/sent | jq .\
         \n\nThe OpenClaw CLI for this instance: see {state}/../env.sh\
         \nTranscript below; Ctrl-C stops everything.\n",
        model = stack.model.base_url(),
        state = stack.gateway.state.display(),
        account = stack.account,
        owner = stack.bot.owner,
    );
    std::fs::write(dir.join("env.sh"), stack.gateway.env_script())?;
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
    let mut shown = 0;
    while !stop.load(Ordering::Relaxed) {
        let sent = stack.sim.sent(&stack.bot.bot_id);
        for s in &sent[shown..] {
            let verdict = if s.accepted { "sent" } else { "refused" };
            println!(
                "bot -> {}: {:?} [{verdict}]",
                s.to_user_id,
                s.text.clone().unwrap_or_default()
            );
        }
        shown = sent.len();
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("\nstopping the sandbox…");
    stack.gateway.stop()
}
