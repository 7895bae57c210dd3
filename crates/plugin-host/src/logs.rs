//! Rust logs into OpenClaw's logger. Output written to stderr never reaches the gateway's log
//! file, so once the JS entry starts pulling (`drainLogs`), events are buffered for it instead;
//! until then (CLI processes, tests) they go to stderr.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Lines kept for JS between two pulls; older ones are dropped (and counted).
const CAPACITY: usize = 4096;

static FORWARDING: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static BUFFER: Mutex<VecDeque<Line>> = Mutex::new(VecDeque::new());

#[derive(Debug, Serialize)]
pub struct Line {
    pub level: &'static str,
    pub message: String,
}

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IMBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true)
        .with_filter(filter_fn(|_| !FORWARDING.load(Ordering::Relaxed)));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(Forward)
        .try_init();
}

/// Takes the buffered lines, switching output from stderr to the JS logger for good.
pub fn drain() -> Vec<Line> {
    FORWARDING.store(true, Ordering::Relaxed);
    let mut buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    let mut lines: Vec<Line> = buffer.drain(..).collect();
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        lines.push(Line {
            level: "warn",
            message: format!("imbridge: {dropped} log lines dropped (logger too slow)"),
        });
    }
    lines
}

struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !FORWARDING.load(Ordering::Relaxed) {
            return;
        }
        let meta = event.metadata();
        let mut text = Text::default();
        event.record(&mut text);
        let level = match *meta.level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        let line = Line {
            level,
            message: format!("{}: {}{}", meta.target(), text.message, text.fields),
        };
        let mut buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
        if buffer.len() >= CAPACITY {
            buffer.pop_front();
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        buffer.push_back(line);
    }
}

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
