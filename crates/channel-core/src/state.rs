//! State files: one directory per channel under the OpenClaw state dir.
//!
//! Every write is atomic (a temp file in the same directory, fsync, rename) so a crash leaves
//! either the old or the new content, never a torn file. Files are created 0600 and directories
//! 0700 because they hold bot tokens.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The root of OpenClaw's state, resolved the way the gateway and Tencent's plugin do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$OPENCLAW_STATE_DIR`, then `$CLAWDBOT_STATE_DIR`, then `$OPENCLAW_HOME/.openclaw`,
    /// then `~/.openclaw`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("OPENCLAW_STATE_DIR").or_else(|| var("CLAWDBOT_STATE_DIR")) {
            return Self::new(dir);
        }
        let home = var("OPENCLAW_HOME")
            .or_else(|| var("HOME"))
            .unwrap_or_else(|| ".".into());
        Self::new(PathBuf::from(home).join(".openclaw"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The private directory of one channel, e.g. `<state>/openclaw-weixin`.
    pub fn channel(&self, channel_id: &str) -> PathBuf {
        self.root.join(channel_id)
    }
}

/// Creates `dir` and its parents, owner-only.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Replaces `path` with `bytes` atomically; the file ends up mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a file path: {}", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.{}.{:08x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = write_new_private(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // The rename is durable only once the directory entry is.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `value` as JSON (2-space pretty when `pretty`), atomically, 0600.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T, pretty: bool) -> io::Result<()> {
    let bytes = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Reads a JSON state file. A missing file is `Ok(None)`; a corrupt one is an error that names
/// the file and the position, never a panic.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {err}", path.display()),
        )
    })
}

/// Removes a state file; a missing file is fine.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn writes_are_private_and_replace_whole_content() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("nested/dir/account.json");
        write_json(&path, &serde_json::json!({"token": "a".repeat(1000)}), true).expect("write");
        write_json(&path, &serde_json::json!({"token": "b"}), false).expect("rewrite");
        let back: serde_json::Value = read_json(&path).expect("read").expect("present");
        assert_eq!(back, serde_json::json!({"token": "b"}));
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("parent")), 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("read_dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temp files left behind: {leftovers:?}"
        );
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("cursor.json");
        write_atomic(&path, b"old").expect("write");
        // A directory squatting on the target name makes the rename fail.
        let blocked = tmp.path().join("blocked");
        fs::create_dir(&blocked).expect("mkdir");
        fs::write(blocked.join("x"), b"x").expect("fill");
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).expect("read"), b"old");
        let leftovers = fs::read_dir(tmp.path())
            .expect("read_dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn concurrent_writers_never_tear_a_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("state.json");
        let writers: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        write_atomic(&path, &vec![b'a' + i; 4096]).expect("write");
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            if let Ok(bytes) = fs::read(&path) {
                assert_eq!(bytes.len(), 4096);
                assert!(bytes.iter().all(|b| *b == bytes[0]), "torn read");
            }
        }
        for w in writers {
            w.join().expect("writer");
        }
    }

    #[test]
    fn corrupt_and_missing_files_are_reported_not_panicked() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing: Option<serde_json::Value> =
            read_json(&tmp.path().join("nope.json")).expect("missing is ok");
        assert!(missing.is_none());
        let bad = tmp.path().join("bad.json");
        fs::write(&bad, b"{\"token\": ").expect("write");
        let err = read_json::<serde_json::Value>(&bad).expect_err("corrupt");
        assert!(err.to_string().contains("bad.json"), "{err}");
    }

    #[test]
    fn state_dir_follows_openclaw_env_rules() {
        let dir = StateDir::new("/srv/oc");
        assert_eq!(
            dir.channel("openclaw-weixin"),
            PathBuf::from("/srv/oc/openclaw-weixin")
        );
    }
}
