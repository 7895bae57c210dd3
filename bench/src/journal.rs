//! `imbench journal`: the cost of one message in the dedup journal (accepted as pending, then
//! finished), on a journal that already holds many finished ones. A journal whose cost per
//! message grows with its size slows every channel as it fills.
//!
//! `--batch 1` makes each message durable on its own (one fsync each, group commit off);
//! `--batch N` accepts N at a time the way a channel's read does, with one group commit
//! ([`GroupCommit`]) for the N.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use channel_core::dedup::{GroupCommit, Journal, Window};
use channel_core::message::{Chat, ChatKind, Inbound, Sender};
use serde_json::{Value, json};

use crate::cpu;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Finished entries already in the journal.
    #[arg(long, default_value_t = 20_000)]
    entries: usize,
    /// Messages measured.
    #[arg(long, default_value_t = 2_000)]
    messages: usize,
    /// Where the scratch journal goes (a directory on the disk being measured).
    #[arg(long)]
    dir: PathBuf,
    /// Messages made durable together: 1 is one fsync per message.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
}

pub fn run(args: &Args) -> Result<Value, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&args.dir)?;
    let scratch = tempfile::tempdir_in(&args.dir)?;
    let path = scratch.path().join("bench.jsonl");
    let window = Window {
        // Room for the measured messages too: the window must not evict the prefill, or the
        // journal measured is smaller than the one named.
        max_entries: args.entries + args.messages,
        ..Window::default()
    };
    prefill(&path, args.entries)?;
    let mut journal = Journal::open(&path, window)?;
    if journal.len() != args.entries {
        return Err(format!(
            "the prefilled journal holds {} entries, not {}: its line format changed",
            journal.len(),
            args.entries
        )
        .into());
    }
    let cpu_before = cpu::thread_time()?;
    let started = Instant::now();
    if args.batch == 1 {
        for n in 0..args.messages {
            let inbound = message(n);
            journal.admit_pending(&inbound)?;
            journal.complete(&inbound.server_id)?;
        }
    } else {
        in_batches(journal, args)?;
    }
    let wall = started.elapsed();
    let cpu = cpu::thread_time()? - cpu_before;
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / args.messages.max(1) as f64;
    Ok(json!({
        "bench": "journal",
        "entries": args.entries,
        "messages": args.messages,
        "batch": args.batch,
        "wallSeconds": wall.as_secs_f64(),
        "perSecond": args.messages as f64 / wall.as_secs_f64().max(1e-9),
        "wallMicrosPerMessage": per(wall),
        "cpuMicrosPerMessage": per(cpu),
    }))
}

/// Accepts the messages `--batch` at a time, one group commit each, then finishes them. The
/// fsync runs on the runtime's blocking thread, so the CPU figure of this mode leaves it out.
fn in_batches(journal: Journal, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let journal = GroupCommit::new(journal);
    let messages: Vec<Inbound> = (0..args.messages).map(message).collect();
    runtime.block_on(async {
        for chunk in messages.chunks(args.batch as usize) {
            let upto = {
                let mut journal = journal.lock();
                for inbound in chunk {
                    journal.admit_pending_unsynced(inbound)?;
                }
                journal.written()
            };
            journal.durable(upto).await?;
            let mut journal = journal.lock();
            for inbound in chunk {
                journal.complete(&inbound.server_id)?;
            }
        }
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}

/// Writes `entries` finished entries the way the journal stores them, far faster than
/// admitting them one fsync at a time; [`run`] checks that the journal reads them all.
fn prefill(path: &std::path::Path, entries: usize) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for n in 0..entries {
        writeln!(out, "{}", json!({ "id": format!("old-{n}"), "at": now }))?;
    }
    out.flush()
}

fn message(n: usize) -> Inbound {
    let peer = format!("peer-{}", n % 20);
    Inbound {
        channel: "bench".into(),
        account: "bench".into(),
        chat: Chat {
            kind: ChatKind::Direct,
            id: peer.clone(),
            title: None,
            host_peer: None,
        },
        sender: Sender {
            id: peer,
            name: None,
        },
        text: format!("message {n} of the journal benchmark"),
        media: vec![],
        mentions: vec![],
        was_mentioned: false,
        command_authorized: false,
        reply_to: None,
        server_id: format!("new-{n}"),
        timestamp_ms: 0,
        raw: Value::Null,
    }
}
