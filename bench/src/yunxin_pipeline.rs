//! `imbench yunxin-pipeline`: a `netease-yunxin` account without the bridge. The channel runs on
//! yunxin's scripted transport (`FakeNim`, in Rust) under the standalone host, so each message
//! costs what the channel, the journal (on real disk), the gate, the per-peer queue and the host
//! cost, and nothing of the JS module or napi. `cargo xtask bench` takes it from the addon's
//! figures to leave what the bridge itself adds (`yunxin-bridge`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, Outbound, StateDir};
use serde_json::{Value, json};
use yunxin::YunxinChannel;
use yunxin::testing::FakeNim;

use crate::cpu;

type Error = Box<dyn std::error::Error>;

/// Far beyond any figure: a run this long has lost messages.
const LIMIT: Duration = Duration::from_secs(300);
const BOT: &str = "bot1";
const SENDERS: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Inbound messages measured.
    #[arg(long, default_value_t = 10_000)]
    inbound: usize,
    /// Sends measured.
    #[arg(long, default_value_t = 1_000)]
    outbound: usize,
    /// The account's state directory (on the disk being measured).
    #[arg(long)]
    state: PathBuf,
}

pub async fn run(args: &Args) -> Result<Value, Error> {
    std::fs::create_dir_all(&args.state)?;
    let nim = FakeNim::new();
    nim.add_account(BOT, "bench-token");
    let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(YunxinChannel::with_transports(
        &StateDir::new(&args.state),
        Arc::new(nim.clone()),
    )));
    let section = json!({
        "appKey": "bench-app", "accountId": BOT, "token": "bench-token",
        "dmPolicy": "open", "allowFrom": ["*"],
    });
    // The agent answers nothing: inbound alone is measured.
    let host = Arc::new(StandaloneHost::new(|_| Vec::new()));
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (channel, section, host, cancel) = (
            Arc::clone(&channel),
            section.clone(),
            Arc::clone(&host),
            cancel.clone(),
        );
        async move { channel.run(&section, "default", host, cancel).await }
    });
    if !host.wait_for(LIMIT, |h| h.is_connected("default")).await {
        return Err("the account did not connect".into());
    }
    // The same warm-up as the Node sides, so that all three measure the same messages.
    let warm_in = args.inbound.div_ceil(10).min(200);
    let warm_out = args.outbound.div_ceil(10).min(20);
    deliver(&nim, &host, 0, warm_in).await;
    for n in 0..warm_out {
        send(&channel, &section, n).await?;
    }

    let (cpu_before, started) = (cpu::process_time()?, Instant::now());
    let received = deliver(&nim, &host, warm_in, args.inbound).await - warm_in;
    let (in_wall, in_cpu) = (started.elapsed(), cpu::process_time()? - cpu_before);

    let (cpu_before, started) = (cpu::process_time()?, Instant::now());
    let mut sent = 0;
    for n in warm_out..warm_out + args.outbound {
        send(&channel, &section, n).await?;
        sent += 1;
    }
    let (out_wall, out_cpu) = (started.elapsed(), cpu::process_time()? - cpu_before);

    cancel.cancel();
    task.await??;
    let per = |d: Duration, count: usize| d.as_secs_f64() * 1e6 / count.max(1) as f64;
    Ok(json!({
        "bench": "yunxin-pipeline",
        "inbound": args.inbound,
        "received": received,
        "lost": args.inbound.saturating_sub(received),
        "inboundCpuMicrosPerMessage": per(in_cpu, args.inbound),
        "inboundWallMicrosPerMessage": per(in_wall, args.inbound),
        "outbound": args.outbound,
        "sent": sent,
        "outboundCpuMicrosPerSend": per(out_cpu, args.outbound),
        "outboundWallMicrosPerSend": per(out_wall, args.outbound),
    }))
}

/// Injects `count` texts numbered from `first`, spread over the senders, and waits until the
/// host ran a turn for each (or at the limit); the host's turn count then.
async fn deliver(nim: &FakeNim, host: &StandaloneHost, first: usize, count: usize) -> usize {
    for n in first..first + count {
        let from = format!("s{:02}", n % SENDERS + 1);
        nim.inject_text(&from, BOT, &format!("message {n} from {from}"));
    }
    let started = Instant::now();
    while host.turn_count() < first + count && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    host.turn_count()
}

/// One text out, as `outbound.sendText` asks for it (with the host's delivery id).
async fn send(channel: &Arc<dyn AnyChannel>, section: &Value, n: usize) -> Result<(), Error> {
    let message = Outbound {
        text: format!("reply {n}"),
        client_id: Some(format!("bench-{n}")),
        ..Outbound::default()
    };
    let to = format!("s{:02}", n % SENDERS + 1);
    channel.send(section, "default", &to, &message).await?;
    Ok(())
}
