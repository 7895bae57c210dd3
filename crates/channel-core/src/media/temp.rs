//! Attachments between the network and the host: private files in a private directory, removed
//! when their owner is done with them.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::state::ensure_private_dir;

/// A file of ours in the account's temporary directory, removed when dropped unless
/// [`TempFile::keep`] hands the path on (the pipeline removes an inbound file once the host's
/// media store has its copy).
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Writes `bytes` to a new 0600 file in `dir` (created 0700 if missing). `ext` is appended
    /// as given (e.g. `.png`), only if it is a short alphanumeric extension.
    pub fn write(dir: &Path, prefix: &str, ext: &str, bytes: &[u8]) -> io::Result<Self> {
        ensure_private_dir(dir)?;
        let ext = ext.trim_start_matches('.');
        let ext = if (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            format!(".{ext}")
        } else {
            String::new()
        };
        let prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(32)
            .collect();
        let path = dir.join(format!(
            "{prefix}-{}-{:016x}{ext}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options
            .open(&path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_data()));
        match written {
            Ok(()) => Ok(Self { path: Some(path) }),
            Err(err) => {
                let _ = std::fs::remove_file(&path);
                Err(err)
            }
        }
    }

    /// [`TempFile::write`] on a blocking thread.
    pub async fn write_async(
        dir: PathBuf,
        prefix: String,
        ext: String,
        bytes: Vec<u8>,
    ) -> io::Result<Self> {
        tokio::task::spawn_blocking(move || Self::write(&dir, &prefix, &ext, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Gives the path up: removing the file is now the caller's job.
    pub fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes files left in `dir` by an earlier process (one that crashed between download and
/// hand-over). Called when an account starts; errors are ignored, it is housekeeping.
pub fn sweep(dir: &Path, older_than: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= older_than);
        if old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("multi-openim/tmp");
        let file = TempFile::write(&dir, "inbound-image", ".png", b"data").expect("write");
        let path = file.path().to_owned();
        assert_eq!(std::fs::read(&path).expect("read"), b"data");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert!(path.to_string_lossy().ends_with(".png"));
        drop(file);
        assert!(!path.exists(), "dropped files are removed");

        let kept = TempFile::write(&dir, "x/../y", "../../etc", b"1").expect("write");
        let kept = kept.keep();
        assert!(kept.exists());
        assert_eq!(
            kept.parent(),
            Some(dir.as_path()),
            "names cannot leave the directory"
        );
        assert!(!kept.to_string_lossy().contains(".."));
        sweep(&dir, std::time::Duration::ZERO);
        assert!(!kept.exists(), "swept");
    }
}
