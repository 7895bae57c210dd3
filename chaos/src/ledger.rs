//! The child's append-only record of what the agent did, read back by the parent.
//!
//! Each line is written and fsynced before the step it records is considered done, so a
//! SIGKILL can cut a run between its `turn` and its `answered` line but never leaves a line that
//! did not happen. A torn last line (a kill mid-write) is skipped when read.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Value, json};

/// Appends lines with fsync.
#[derive(Debug)]
pub struct Ledger {
    file: Mutex<File>,
    pid: u32,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Ledger {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
            pid: std::process::id(),
        })
    }

    /// Adds `pid` and `at` to `entry` and makes it durable.
    pub fn append(&self, mut entry: Value) -> std::io::Result<()> {
        entry["pid"] = json!(self.pid);
        entry["at"] = json!(now_ms());
        let mut line = entry.to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}

/// One ledger line, as the parent reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    /// `MessageSidFull` of a turn that started.
    #[serde(default)]
    pub turn: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// `MessageSidFull` of a turn whose reply went out.
    #[serde(default)]
    pub answered: Option<String>,
    /// `MessageSidFull` of a turn whose reply failed.
    #[serde(default)]
    pub reply_failed: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Client id of a proactive message the channel accepted.
    #[serde(default)]
    pub sent: Option<String>,
    /// `sent` or `queued`.
    #[serde(default)]
    pub receipt: Option<String>,
    /// The account reported connected for the first time in this process.
    #[serde(default)]
    pub ready: bool,
    pub pid: u32,
    pub at: u64,
}

/// Every whole line of the ledger at `path` (none when it does not exist yet).
pub fn read(path: &Path) -> std::io::Result<Vec<Line>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        if let Ok(parsed) = serde_json::from_str::<Line>(&line) {
            lines.push(parsed);
        }
    }
    Ok(lines)
}
