//! The files recovery touches: the shared state file, the per-account marker, and
//! `clearOnSuccess`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use channel_core::ChannelError;
use serde::Serialize;
use serde_json::{Map, Value};

/// One lock per state-file path, process-wide: accounts share the file, and a read-modify-write
/// that overlaps another would drop the other account's update.
fn state_lock(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = LazyLock::new(Mutex::default);
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    locks.entry(path.to_owned()).or_default().clone()
}

/// Merges `fields` into `stateFile[account_id]`, creating the file or the entry if needed and
/// keeping every other account's entry and every other field as they were.
pub(super) fn write_back(
    path: &Path,
    account_id: &str,
    fields: Map<String, Value>,
) -> Result<(), ChannelError> {
    let lock = state_lock(path);
    let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let file = path.display();
    let at = super::key("http.stateWriteBack");
    let mut root = channel_core::state::read_json::<Value>(path)
        .map_err(|e| ChannelError::bad_input(format!("{at}: reading {file}: {e}")))?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let Value::Object(accounts) = &mut root else {
        return Err(ChannelError::bad_input(format!(
            "{at}: {file} is not a JSON object keyed by account id; not overwriting it"
        )));
    };
    let entry = accounts
        .entry(account_id.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(entry) = entry else {
        return Err(ChannelError::bad_input(format!(
            "{at}: the entry of account {account_id:?} in {file} is not a JSON object; not \
             overwriting it"
        )));
    };
    entry.extend(fields);
    channel_core::state::write_json(path, &root, true)
        .map_err(|e| ChannelError::transient(format!("{at}: writing {file}: {e}")))
}

/// What a person finds when recovery gave up. Holds no token and nothing from the refresh
/// request (its headers and body may carry credentials).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Marker<'a> {
    pub channel: &'static str,
    pub account_id: &'a str,
    pub reason: &'a str,
    pub mode: &'static str,
    pub time: String,
    pub attempts: u32,
    pub last_error: &'a str,
    pub hint: String,
}

pub(super) fn write_marker(path: &Path, marker: &Marker<'_>) -> Result<(), ChannelError> {
    channel_core::state::write_json(path, marker, true).map_err(|e| {
        ChannelError::transient(format!(
            "{}: writing the manual-login marker {}: {e}",
            super::key("manualLoginMarkerPath"),
            path.display()
        ))
    })
}

/// Removes a file; one that is already gone is fine.
pub(super) fn remove(path: &Path, what: &str) -> Result<(), ChannelError> {
    channel_core::state::remove_file(path)
        .map_err(|e| ChannelError::transient(format!("{what}: removing {}: {e}", path.display())))
}

/// `~/x` → `<home>/x`, as the seed's documented default `~/.openclaw/...` expects.
pub(super) fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

pub(super) use channel_core::iso_now;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn write_back_merges_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/tokens.json");
        let fields = |v: Value| v.as_object().cloned().expect("object");
        write_back(&path, "a", fields(json!({"rt": "1"}))).expect("create");
        write_back(&path, "b", fields(json!({"rt": "2"}))).expect("other account");
        write_back(&path, "a", fields(json!({"at": "3"}))).expect("merge");
        let root: Value = channel_core::state::read_json(&path)
            .expect("read")
            .expect("present");
        assert_eq!(root, json!({"a": {"rt": "1", "at": "3"}, "b": {"rt": "2"}}));
        std::fs::write(&path, b"[1]").expect("write");
        let err = write_back(&path, "a", Map::new()).expect_err("array root");
        assert!(
            err.message
                .contains("not a JSON object keyed by account id"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"[1]");
    }

    #[test]
    fn parallel_write_backs_lose_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens.json");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for n in 0..25 {
                        let mut fields = Map::new();
                        fields.insert(format!("f{n}"), json!(n));
                        write_back(&path, &format!("acct{t}"), fields).expect("write back");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let root: Value = channel_core::state::read_json(&path)
            .expect("read")
            .expect("present");
        for t in 0..8 {
            let entry = root[format!("acct{t}")].as_object().expect("entry");
            assert_eq!(entry.len(), 25, "acct{t} lost updates: {entry:?}");
        }
    }

    #[test]
    fn home_expansion() {
        let home = Path::new("/home/op");
        assert_eq!(expand_home("~/x/y", Some(home)), Path::new("/home/op/x/y"));
        assert_eq!(expand_home("~/x", None), Path::new("~/x"));
        assert_eq!(expand_home("/abs", Some(home)), Path::new("/abs"));
    }
}
