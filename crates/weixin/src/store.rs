//! Account state on disk, in the same layout and JSON shapes as Tencent's plugin (spec §11), so
//! accounts logged in with it keep working:
//!
//! ```text
//! <state>/openclaw-weixin/accounts.json                      ["b0f5860fdecb-im-bot", …]
//! <state>/openclaw-weixin/accounts/<id>.json                 {"token","savedAt","baseUrl","userId"}
//! <state>/openclaw-weixin/accounts/<id>.sync.json            {"get_updates_buf": "…"}
//! <state>/openclaw-weixin/accounts/<id>.context-tokens.json  {"<userId>": "<context_token>", …}
//! ```

use std::io;
use std::path::{Path, PathBuf};

use channel_core::state;
use serde::{Deserialize, Serialize};

use crate::peers::Peers;

/// `accounts/<id>.json`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountFile {
    #[serde(default)]
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The WeChat user who scanned the QR code: the bot's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The bot the token belongs to. Ours only (Tencent's plugin ignores it): an account named
    /// by the host need not be named after its bot, and a new bot means a new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
}

impl std::fmt::Debug for AccountFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountFile")
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("saved_at", &self.saved_at)
            .field("base_url", &self.base_url)
            .field("bot_id", &self.bot_id)
            .field("user_id", &self.user_id)
            .finish()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SyncFile {
    #[serde(default)]
    get_updates_buf: String,
}

/// OpenClaw's `normalizeAccountId`: lowercase; runs of characters outside `[a-z0-9_-]` become
/// `-`; leading and trailing `-` trimmed; at most 64 characters.
pub fn normalize_account_id(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let mut out = String::with_capacity(lower.len());
    let mut in_run = false;
    for c in lower.chars() {
        if valid(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out.trim_matches('-')
        .chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The reverse mapping Tencent's plugin uses for files written under raw bot ids.
fn raw_id_candidates(id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (suffix, raw) in [("-im-bot", "@im.bot"), ("-im-wechat", "@im.wechat")] {
        if let Some(head) = id.strip_suffix(suffix) {
            out.push(format!("{head}{raw}"));
        }
    }
    out
}

/// The state directory of the WeChat channel.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

pub use crate::peers::RECENT_KEPT;

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn account_path(&self, id: &str, suffix: &str) -> PathBuf {
        self.accounts_dir().join(format!("{id}{suffix}"))
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.dir.join("accounts")
    }

    /// Ids from `accounts.json`, normalized, in registration order, without repeats.
    pub fn account_ids(&self) -> io::Result<Vec<String>> {
        let raw: Vec<String> =
            state::read_json(&self.dir.join("accounts.json"))?.unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        for id in raw
            .iter()
            .map(|r| normalize_account_id(r))
            .filter(|id| !id.is_empty())
        {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The account's credentials, also found under a raw-id file name written by older plugins.
    pub fn load_account(&self, id: &str) -> io::Result<Option<AccountFile>> {
        if let Some(file) = state::read_json(&self.account_path(id, ".json"))? {
            return Ok(Some(file));
        }
        for raw in raw_id_candidates(id) {
            if let Some(file) = state::read_json(&self.account_path(&raw, ".json"))? {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// Saves credentials and registers the id in `accounts.json`.
    pub fn save_account(&self, id: &str, file: &AccountFile) -> io::Result<()> {
        let mut merged = self.load_account(id)?.unwrap_or_default();
        merged.token = file.token.clone();
        merged.saved_at = file.saved_at.clone().or(merged.saved_at);
        merged.base_url = file.base_url.clone().or(merged.base_url);
        merged.user_id = file.user_id.clone().or(merged.user_id);
        merged.bot_id = file.bot_id.clone().or(merged.bot_id);
        state::write_json(&self.account_path(id, ".json"), &merged, true)?;
        let mut ids: Vec<String> =
            state::read_json(&self.dir.join("accounts.json"))?.unwrap_or_default();
        if !ids
            .iter()
            .any(|existing| normalize_account_id(existing) == id)
        {
            ids.push(id.to_owned());
            state::write_json(&self.dir.join("accounts.json"), &ids, true)?;
        }
        Ok(())
    }

    /// Forgets an account: its credentials, cursor, tokens, windows, outbox, dedup journal and
    /// its entry in `accounts.json`. Returns whether it existed.
    pub fn remove_account(&self, id: &str) -> io::Result<bool> {
        // What a running poll noted and did not write yet must not bring the files back.
        self.peers(id).forget();
        let mut existed = false;
        let mut names = vec![id.to_owned()];
        names.extend(raw_id_candidates(id));
        for name in &names {
            for suffix in [
                ".json",
                ".sync.json",
                ".context-tokens.json",
                ".windows.json",
                ".outbox.json",
                // Written by versions before the shared send log.
                ".delivered.json",
                ".recent.json",
            ] {
                let path = self.account_path(name, suffix);
                existed |= path.exists();
                state::remove_file(&path)?;
            }
        }
        state::remove_file(&self.dir.join("dedup").join(format!("{id}.jsonl")))?;
        state::remove_file(&self.dir.join("sent").join(format!("{id}.jsonl")))?;
        let ids: Vec<String> =
            state::read_json(&self.dir.join("accounts.json"))?.unwrap_or_default();
        let kept: Vec<&String> = ids
            .iter()
            .filter(|raw| normalize_account_id(raw) != id)
            .collect();
        if kept.len() != ids.len() {
            existed = true;
            state::write_json(&self.dir.join("accounts.json"), &kept, true)?;
        }
        Ok(existed)
    }

    /// Forgets what belonged to the account's previous bot session: its cursor, context tokens
    /// and windows. Its credentials, queued messages, dedup journal and send log stay.
    pub fn forget_session(&self, id: &str) -> io::Result<()> {
        self.peers(id).forget();
        let mut names = vec![id.to_owned()];
        names.extend(raw_id_candidates(id));
        for name in &names {
            for suffix in [".sync.json", ".context-tokens.json", ".windows.json"] {
                state::remove_file(&self.account_path(name, suffix))?;
            }
        }
        Ok(())
    }

    /// The long-poll cursor; `""` when there is none yet.
    pub fn load_cursor(&self, id: &str) -> io::Result<String> {
        let mut paths = vec![self.account_path(id, ".sync.json")];
        paths.extend(
            raw_id_candidates(id)
                .iter()
                .map(|raw| self.account_path(raw, ".sync.json")),
        );
        for path in paths {
            if let Some(file) = state::read_json::<SyncFile>(&path)? {
                return Ok(file.get_updates_buf);
            }
        }
        Ok(String::new())
    }

    pub fn save_cursor(&self, id: &str, cursor: &str) -> io::Result<()> {
        let file = SyncFile {
            get_updates_buf: cursor.to_owned(),
        };
        state::write_json(&self.account_path(id, ".sync.json"), &file, false)
    }

    /// The context tokens, windows and quoted texts of account `id`.
    pub fn peers(&self, id: &str) -> Peers {
        Peers::new(&self.accounts_dir(), id)
    }

    /// Remembers the latest context token of `peer` (byte-exact id and token), at once.
    pub fn record_context_token(&self, id: &str, peer: &str, token: &str) -> io::Result<()> {
        self.peers(id).record_token(peer, token)
    }

    /// Finds a peer case-insensitively: returns its byte-exact wire id and latest context token.
    pub fn context_token(&self, id: &str, peer: &str) -> io::Result<Option<(String, String)>> {
        self.peers(id).context_token(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_normalize_like_openclaw() {
        assert_eq!(
            normalize_account_id("b0f5860fdecb@im.bot"),
            "b0f5860fdecb-im-bot"
        );
        assert_eq!(normalize_account_id("Already_ok-1"), "already_ok-1");
        assert_eq!(normalize_account_id("--a..b--"), "a-b");
        assert_eq!(normalize_account_id(&"x".repeat(100)).len(), 64);
        assert_eq!(normalize_account_id("@@@"), "");
    }

    #[test]
    fn reads_the_layout_tencents_plugin_writes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("openclaw-weixin");
        std::fs::create_dir_all(dir.join("accounts")).expect("mkdir");
        std::fs::write(
            dir.join("accounts.json"),
            "[\n  \"b0f5860fdecb-im-bot\",\n  \"c1@im.bot\"\n]",
        )
        .expect("index");
        std::fs::write(
            dir.join("accounts/b0f5860fdecb-im-bot.json"),
            r#"{"token":"b0f5860fdecb@im.bot:0600aa","savedAt":"2026-11-01T00:00:00.000Z","baseUrl":"https://ilinkai.weixin.qq.com","userId":"o9cq80AbC@im.wechat"}"#,
        )
        .expect("account");
        std::fs::write(dir.join("accounts/c1@im.bot.json"), r#"{"token":"legacy"}"#)
            .expect("raw-id account");
        std::fs::write(
            dir.join("accounts/c1@im.bot.sync.json"),
            r#"{"get_updates_buf":"CUR"}"#,
        )
        .expect("raw-id cursor");
        let store = Store::new(&dir);
        assert_eq!(
            store.account_ids().expect("ids"),
            vec!["b0f5860fdecb-im-bot", "c1-im-bot"]
        );
        let account = store
            .load_account("b0f5860fdecb-im-bot")
            .expect("load")
            .expect("present");
        assert_eq!(account.user_id.as_deref(), Some("o9cq80AbC@im.wechat"));
        assert!(
            !format!("{account:?}").contains("0600aa"),
            "Debug must not print the token"
        );
        assert_eq!(
            store
                .load_account("c1-im-bot")
                .expect("load")
                .expect("legacy")
                .token,
            "legacy"
        );
        assert_eq!(store.load_cursor("c1-im-bot").expect("cursor"), "CUR");
        assert_eq!(store.load_cursor("nobody").expect("cursor"), "");
    }

    #[test]
    fn context_tokens_are_byte_exact_on_the_wire_and_found_case_insensitively() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::new(tmp.path());
        store
            .record_context_token("a", "o9cq80AbC@im.wechat", "T1")
            .expect("record");
        store
            .record_context_token("a", "o9cq80AbC@im.wechat", "T2")
            .expect("record");
        let found = store
            .context_token("a", "O9CQ80ABC@IM.WECHAT")
            .expect("lookup");
        assert_eq!(
            found,
            Some(("o9cq80AbC@im.wechat".to_string(), "T2".to_string()))
        );
        let raw = std::fs::read_to_string(tmp.path().join("accounts/a.context-tokens.json"))
            .expect("file");
        assert_eq!(
            raw, r#"{"o9cq80AbC@im.wechat":"T2"}"#,
            "same shape as Tencent's file"
        );
        assert_eq!(store.context_token("a", "stranger").expect("lookup"), None);
    }

    #[test]
    fn remove_forgets_everything_of_one_account_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::new(tmp.path());
        for id in ["a-im-bot", "b-im-bot"] {
            store
                .save_account(
                    id,
                    &AccountFile {
                        token: id.into(),
                        ..AccountFile::default()
                    },
                )
                .expect("save");
            store.save_cursor(id, "c").expect("cursor");
            store.record_context_token(id, "u", "t").expect("token");
        }
        std::fs::create_dir_all(tmp.path().join("dedup")).expect("mkdir");
        std::fs::write(tmp.path().join("dedup/a-im-bot.jsonl"), "").expect("journal");
        assert!(store.remove_account("a-im-bot").expect("remove"));
        assert_eq!(store.account_ids().expect("ids"), vec!["b-im-bot"]);
        assert!(store.load_account("a-im-bot").expect("load").is_none());
        assert_eq!(store.load_cursor("a-im-bot").expect("cursor"), "");
        assert!(!tmp.path().join("dedup/a-im-bot.jsonl").exists());
        assert_eq!(store.load_cursor("b-im-bot").expect("cursor"), "c");
        assert!(
            !store.remove_account("a-im-bot").expect("again"),
            "nothing left to remove"
        );
    }

    #[test]
    fn save_registers_once_and_merges() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::new(tmp.path());
        let first = AccountFile {
            token: "t1".into(),
            user_id: Some("u".into()),
            ..AccountFile::default()
        };
        store.save_account("bot-im-bot", &first).expect("save");
        store
            .save_account(
                "bot-im-bot",
                &AccountFile {
                    token: "t2".into(),
                    ..AccountFile::default()
                },
            )
            .expect("save");
        assert_eq!(store.account_ids().expect("ids"), vec!["bot-im-bot"]);
        let merged = store
            .load_account("bot-im-bot")
            .expect("load")
            .expect("present");
        assert_eq!(
            (merged.token.as_str(), merged.user_id.as_deref()),
            ("t2", Some("u"))
        );
    }
}
