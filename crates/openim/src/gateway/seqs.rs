//! The persisted seq marks of one account, and the arithmetic on the seqs the server sends.
//!
//! Every seq comes from the server as an `i64` and is checked before any sum is taken: a
//! negative value or one at or above [`SEQ_LIMIT`] is a protocol error that names the frame and
//! the conversation. Checked seqs keep every page computation far from overflow; the sums are
//! checked all the same.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use channel_core::{ChannelError, state};
use serde::{Deserialize, Serialize};

/// Seqs at or above this are refused. Seqs count the messages of one conversation from 1;
/// 2^53 of them (a million a second for 285 years) do not exist, and no JavaScript client could
/// even name them. A larger value is a corrupt frame, and pulling towards it would never end.
pub const SEQ_LIMIT: i64 = 1 << 53;

/// A server-supplied seq checked to lie in `0..SEQ_LIMIT`; `frame` names where it came from.
pub fn check(frame: &str, conversation_id: &str, seq: i64) -> Result<i64, ChannelError> {
    if (0..SEQ_LIMIT).contains(&seq) {
        Ok(seq)
    } else {
        Err(ChannelError::transient(format!(
            "{frame}: conversation {conversation_id}: seq {seq} is outside 0..2^53; the server \
             sent a corrupt value"
        )))
    }
}

/// The next page after `mark`, at most `size` seqs and none past `upto`; `None` once `mark`
/// reached `upto` (or a sum would overflow, which checked seqs never do).
pub fn next_page(mark: i64, upto: i64, size: i64) -> Option<(i64, i64)> {
    let begin = mark.checked_add(1)?;
    if begin > upto || size < 1 {
        return None;
    }
    let end = begin
        .checked_add(size - 1)
        .map_or(upto, |end| end.min(upto));
    Some((begin, end))
}

/// The mark a conversation we have never seen starts after: the last `size` seqs up to
/// `newest` are read, older history is not.
pub fn recent_start(newest: i64, size: i64) -> i64 {
    newest.saturating_sub(size).max(0)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeqFile {
    /// The newest seq handled, per conversation id.
    #[serde(default)]
    conversations: BTreeMap<String, i64>,
    /// When (ms since the epoch, our clock) the account last had read everything the server
    /// held for it: messages of a conversation new to it that are younger than this (less a
    /// margin) were missed, not history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    synced_at: Option<i64>,
}

/// How long a moved mark may wait in memory before it is written: a push moves a mark, and an
/// atomic write per push (two fsyncs) capped live inbound near 1,500 messages a second. A mark
/// lost with the process only makes the next catch-up pull those messages again, and the
/// journal drops them.
pub const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The persisted marks of one account.
#[derive(Debug)]
pub struct Seqs {
    path: PathBuf,
    file: SeqFile,
    /// No file yet: the account never synced, so history is not replayed.
    fresh: bool,
    /// When the marks were last written, and whether they moved since.
    saved_at: Option<std::time::Instant>,
    dirty: bool,
}

impl Seqs {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ChannelError> {
        let path = path.into();
        let loaded: Option<SeqFile> = state::read_json(&path).map_err(|e| {
            ChannelError::from(e).context(format!("reading the seq marks {}", path.display()))
        })?;
        if let Some(file) = &loaded {
            for (conversation_id, &mark) in &file.conversations {
                check(&path.display().to_string(), conversation_id, mark).map_err(|e| {
                    ChannelError::bad_input(format!(
                        "{e}; fix or remove that entry (the conversation is then read from \
                         its recent history)"
                    ))
                })?;
            }
        }
        Ok(Self {
            fresh: loaded.is_none(),
            file: loaded.unwrap_or_default(),
            path,
            saved_at: None,
            dirty: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, conversation_id: &str) -> Option<i64> {
        self.file.conversations.get(conversation_id).copied()
    }

    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// When the account last had read everything the server held for it (saved with the
    /// marks); `None` from a file of an older version.
    pub fn synced_at(&self) -> Option<i64> {
        self.file.synced_at
    }

    pub(super) fn mark_synced(&mut self, at: i64) {
        self.file.synced_at = Some(self.file.synced_at.map_or(at, |t| t.max(at)));
    }

    pub(super) fn set(&mut self, conversation_id: &str, seq: i64) {
        let mark = self
            .file
            .conversations
            .entry(conversation_id.to_owned())
            .or_insert(0);
        *mark = (*mark).max(seq);
    }

    /// Moves a mark back: only for a server whose seqs went back ([`set`](Self::set) never
    /// lowers a mark).
    pub(super) fn rewind(&mut self, conversation_id: &str, seq: i64) {
        self.file
            .conversations
            .insert(conversation_id.to_owned(), seq);
    }

    /// Writes the marks now.
    pub(super) fn save(&mut self) -> Result<(), ChannelError> {
        state::write_json(&self.path, &self.file, false).map_err(|e| save_error(&self.path, e))?;
        self.fresh = false;
        self.dirty = false;
        self.saved_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// Writes the marks if [`SAVE_EVERY`] passed since the last write, else keeps them for
    /// the next write ([`Seqs::flush`] at the latest).
    pub(super) fn save_soon(&mut self) -> Result<(), ChannelError> {
        self.dirty = true;
        match self.saved_at {
            Some(at) if at.elapsed() < SAVE_EVERY => Ok(()),
            _ => self.save(),
        }
    }

    /// Writes marks that moved since the last write.
    pub fn flush(&mut self) -> Result<(), ChannelError> {
        if self.dirty { self.save() } else { Ok(()) }
    }
}

fn save_error(path: &Path, e: io::Error) -> ChannelError {
    ChannelError::from(e).context(format!("saving the seq marks {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_seqs_are_refused_naming_frame_and_conversation() {
        for seq in [-1, i64::MIN, SEQ_LIMIT, i64::MAX] {
            let err = check("1001 reply (GetMaxSeqResp)", "si_a_b", seq).unwrap_err();
            assert!(err.message.contains("1001 reply"), "{err}");
            assert!(err.message.contains("si_a_b"), "{err}");
            assert!(err.message.contains(&seq.to_string()), "{err}");
        }
        assert_eq!(check("f", "c", 0).unwrap(), 0);
        assert_eq!(check("f", "c", SEQ_LIMIT - 1).unwrap(), SEQ_LIMIT - 1);
    }

    /// A push moves a mark; writing the file (two fsyncs) per push capped live inbound. Marks
    /// are written at most once per SAVE_EVERY, and whatever moved since by a flush.
    #[test]
    fn moved_marks_are_written_at_most_once_a_second_and_on_flush() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("seqs.json");
        let on_disk = || {
            let seqs = Seqs::open(&path).unwrap();
            seqs.get("si_a_b")
        };
        let mut seqs = Seqs::open(&path).unwrap();
        seqs.set("si_a_b", 1);
        seqs.save_soon().unwrap();
        assert_eq!(on_disk(), Some(1), "the first write is not held back");
        seqs.set("si_a_b", 2);
        seqs.save_soon().unwrap();
        assert_eq!(on_disk(), Some(1), "written again within a second");
        seqs.flush().unwrap();
        assert_eq!(on_disk(), Some(2));
    }

    #[test]
    fn pages_never_overflow() {
        assert_eq!(next_page(0, 250, 100), Some((1, 100)));
        assert_eq!(next_page(200, 250, 100), Some((201, 250)));
        assert_eq!(next_page(250, 250, 100), None);
        assert_eq!(next_page(i64::MAX, i64::MAX, 100), None);
        assert_eq!(
            next_page(i64::MAX - 10, i64::MAX, 100),
            Some((i64::MAX - 9, i64::MAX))
        );
        assert_eq!(next_page(5, 10, 0), None);
        assert_eq!(recent_start(250, 100), 150);
        assert_eq!(recent_start(30, 100), 0);
        assert_eq!(recent_start(i64::MIN, 100), 0);
    }
}
