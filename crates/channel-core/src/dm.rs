//! The DM gate: who may talk to the agent in a direct chat.
//!
//! OpenClaw leaves enforcement to the channel on the legacy inbound path, so the decision is made
//! here, once, for every channel. The allow list is the config's `allowFrom`, the channel's
//! implicit entries (e.g. the WeChat user who bound the bot) and the host's pairing store.

use std::collections::HashMap;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ChannelError;

/// `channels.<id>.dmPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicy {
    /// Unknown senders get a pairing code; an operator approves it.
    #[default]
    Pairing,
    /// Unknown senders are dropped silently.
    Allowlist,
    /// Everyone, provided `allowFrom` contains `"*"` (OpenClaw's rule).
    Open,
    /// No DMs at all.
    Disabled,
}

impl DmPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pairing => "pairing",
            Self::Allowlist => "allowlist",
            Self::Open => "open",
            Self::Disabled => "disabled",
        }
    }
}

/// The effective DM settings of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DmConfig {
    pub policy: DmPolicy,
    /// From config.
    pub allow_from: Vec<String>,
    /// Entries the channel grants without config (never shown as config).
    pub implicit_allow: Vec<String>,
}

/// `dmPolicy` and `allowFrom` as a section or an account declares them; flattened into every
/// channel's config at both levels (`#[serde(flatten)]`), and merged by [`DmConfig::layered`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DmKeys {
    /// Who may DM the bot: `pairing` (default), `allowlist`, `open` (needs `"*"` in
    /// `allowFrom`) or `disabled`. An account's value overrides the channel's.
    #[schemars(extend("x-basic" = true))]
    pub dm_policy: Option<DmPolicy>,
    /// Sender ids allowed to DM the bot; `"*"` for everyone. An account's list replaces the
    /// channel's.
    #[schemars(extend("x-basic" = true))]
    pub allow_from: Option<Vec<crate::config::StringOrNumber>>,
}

impl DmConfig {
    /// An account's DM settings: each of its keys over the channel's, then the defaults.
    pub fn layered(channel: &DmKeys, account: Option<&DmKeys>) -> Self {
        let own = account.cloned().unwrap_or_default();
        let strings = |list: Option<Vec<crate::config::StringOrNumber>>| {
            list.map(|l| {
                l.into_iter()
                    .map(crate::config::StringOrNumber::into_string)
                    .collect()
            })
        };
        Self {
            policy: own.dm_policy.or(channel.dm_policy).unwrap_or_default(),
            allow_from: strings(own.allow_from)
                .or_else(|| strings(channel.allow_from.clone()))
                .unwrap_or_default(),
            implicit_allow: Vec::new(),
        }
    }
}

/// A pairing request as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingCode {
    pub code: String,
    /// Only a newly created request gets a reply, so a sender is not spammed with codes.
    pub created: bool,
}

/// The host's pairing store (OpenClaw keeps it in its SQLite state).
#[async_trait::async_trait]
pub trait PairingStore: Send + Sync {
    async fn read_allow_from(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Vec<String>, ChannelError>;
    async fn upsert_request(
        &self,
        channel: &str,
        account: &str,
        id: &str,
        meta: serde_json::Value,
    ) -> Result<PairingCode, ChannelError>;
    /// The text that tells the sender how to get approved.
    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> Result<String, ChannelError>;
}

/// The gate's decision for one inbound DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Unknown sender under `pairing`: ask the store for a code.
    Pair,
    Drop(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Disabled,
    NotAllowed,
}

/// Canonical form of an allow entry: trimmed, known prefixes removed, ASCII-lowercased.
///
/// IM ids are compared ASCII case-insensitively (WeChat ids are mixed case and people retype
/// them), while the wire always keeps the original bytes. Only ASCII folds: Unicode case
/// mapping would let a sender pick an id (the Kelvin sign for `K`, say) that folds onto someone
/// else's entry.
pub fn normalize_entry(channel: &str, entry: &str) -> String {
    strip_prefixes(channel, entry).to_ascii_lowercase()
}

/// The form a sender's id is compared in. The id comes from the wire, chosen by the network or
/// the sender, so nothing is stripped from it: a sender named `user:alice` is not `alice`.
pub fn sender_key(sender: &str) -> String {
    sender.to_ascii_lowercase()
}

/// Removes `<channel>:`, `user:`, `dm:` and `direct:` prefixes (any case, repeated), keeping the
/// spelling of the rest.
pub fn strip_prefixes<'a>(channel: &str, entry: &'a str) -> &'a str {
    let mut rest = entry.trim();
    loop {
        let before = rest;
        for prefix in [channel, "user", "dm", "direct"] {
            if let Some(stripped) = strip_prefix_ci(rest, prefix).and_then(|r| r.strip_prefix(':'))
            {
                rest = stripped.trim_start();
            }
        }
        if rest == before {
            return rest;
        }
    }
}

/// `s` without `prefix`, compared ASCII case-insensitively.
pub fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Decides for one sender. `store` is consulted only when config alone does not allow.
pub async fn decide(
    channel: &str,
    account: &str,
    config: &DmConfig,
    sender: &str,
    store: &dyn PairingStore,
) -> Result<Verdict, ChannelError> {
    if config.policy == DmPolicy::Disabled {
        return Ok(Verdict::Drop(DropReason::Disabled));
    }
    if config.allow_from.iter().any(|e| e.trim() == "*") {
        return Ok(Verdict::Allow);
    }
    let me = sender_key(sender);
    let listed = |entries: &[String]| entries.iter().any(|e| normalize_entry(channel, e) == me);
    if listed(&config.allow_from) || listed(&config.implicit_allow) {
        return Ok(Verdict::Allow);
    }
    // `open` without "*" allows nobody beyond the list: OpenClaw warns exactly that.
    if config.policy != DmPolicy::Open {
        let stored = store.read_allow_from(channel, account).await?;
        if listed(&stored) {
            return Ok(Verdict::Allow);
        }
    }
    Ok(match config.policy {
        DmPolicy::Pairing => Verdict::Pair,
        _ => Verdict::Drop(DropReason::NotAllowed),
    })
}

/// A pairing store in memory, for tests and the sandbox. Mirrors OpenClaw's rules: 8-character
/// codes without 0/O/1/I, at most 3 pending requests per channel account.
#[derive(Debug, Default)]
pub struct MemoryPairingStore {
    inner: Mutex<MemoryStoreInner>,
}

#[derive(Debug, Default)]
struct MemoryStoreInner {
    allowed: HashMap<(String, String), Vec<String>>,
    requests: HashMap<(String, String), Vec<(String, String)>>,
}

impl MemoryPairingStore {
    pub const MAX_PENDING: usize = 3;
    const ALPHABET: &'static [u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    pub fn new() -> Self {
        Self::default()
    }

    /// Approves a pending code, as `openclaw pairing approve` does. Returns the approved id.
    pub fn approve(&self, channel: &str, account: &str, code: &str) -> Option<String> {
        let mut inner = crate::lock(&self.inner);
        let key = (channel.to_owned(), account.to_owned());
        let requests = inner.requests.get_mut(&key)?;
        let index = requests
            .iter()
            .position(|(_, c)| c.eq_ignore_ascii_case(code))?;
        let (id, _) = requests.remove(index);
        inner.allowed.entry(key).or_default().push(id.clone());
        Some(id)
    }

    pub fn allow(&self, channel: &str, account: &str, id: &str) {
        let mut inner = crate::lock(&self.inner);
        inner
            .allowed
            .entry((channel.to_owned(), account.to_owned()))
            .or_default()
            .push(id.into());
    }

    pub fn pending(&self, channel: &str, account: &str) -> Vec<(String, String)> {
        let inner = crate::lock(&self.inner);
        inner
            .requests
            .get(&(channel.to_owned(), account.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    fn new_code() -> String {
        (0..8)
            .map(|_| Self::ALPHABET[rand::random_range(0..Self::ALPHABET.len())] as char)
            .collect()
    }
}

#[async_trait::async_trait]
impl PairingStore for MemoryPairingStore {
    async fn read_allow_from(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Vec<String>, ChannelError> {
        let inner = crate::lock(&self.inner);
        Ok(inner
            .allowed
            .get(&(channel.to_owned(), account.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn upsert_request(
        &self,
        channel: &str,
        account: &str,
        id: &str,
        _meta: serde_json::Value,
    ) -> Result<PairingCode, ChannelError> {
        let mut inner = crate::lock(&self.inner);
        let requests = inner
            .requests
            .entry((channel.to_owned(), account.to_owned()))
            .or_default();
        if let Some((_, code)) = requests.iter().find(|(who, _)| who == id) {
            return Ok(PairingCode {
                code: code.clone(),
                created: false,
            });
        }
        if requests.len() >= Self::MAX_PENDING {
            return Err(ChannelError::new(
                crate::ErrorKind::RateLimited,
                format!(
                    "{channel}/{account} already has {} pending pairing requests",
                    Self::MAX_PENDING
                ),
            ));
        }
        let code = Self::new_code();
        requests.push((id.to_owned(), code.clone()));
        Ok(PairingCode {
            code,
            created: true,
        })
    }

    async fn reply_text(
        &self,
        channel: &str,
        id_line: &str,
        code: &str,
    ) -> Result<String, ChannelError> {
        Ok(format!(
            "{id_line}\nPairing code: {code}\nAsk the owner to run: openclaw pairing approve {channel} {code}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "openclaw-weixin";

    fn config(policy: DmPolicy, allow: &[&str]) -> DmConfig {
        DmConfig {
            policy,
            allow_from: allow.iter().map(|s| s.to_string()).collect(),
            implicit_allow: vec!["Owner@im.wechat".into()],
        }
    }

    async fn verdict(
        policy: DmPolicy,
        allow: &[&str],
        store: &MemoryPairingStore,
        who: &str,
    ) -> Verdict {
        decide(CH, "acct", &config(policy, allow), who, store)
            .await
            .expect("decide")
    }

    #[tokio::test]
    async fn every_policy_decides_as_openclaw_documents() {
        let store = MemoryPairingStore::new();
        store.allow(CH, "acct", "Approved@im.wechat");
        use DmPolicy::*;
        use Verdict::*;
        let cases: &[(DmPolicy, &[&str], &str, Verdict)] = &[
            (Pairing, &[], "stranger@im.wechat", Pair),
            (Pairing, &[], "approved@IM.WECHAT", Allow),
            (Pairing, &["Friend@im.wechat"], "friend@im.wechat", Allow),
            (Pairing, &["*"], "anyone", Allow),
            (
                Allowlist,
                &[],
                "stranger@im.wechat",
                Drop(DropReason::NotAllowed),
            ),
            (Allowlist, &[], "Approved@im.wechat", Allow),
            (
                Allowlist,
                &["user:Friend@im.wechat"],
                "Friend@im.wechat",
                Allow,
            ),
            (Allowlist, &["*"], "anyone", Allow),
            (Open, &["*"], "stranger", Allow),
            (Open, &[], "stranger", Drop(DropReason::NotAllowed)),
            (Open, &["friend"], "friend", Allow),
            (
                Disabled,
                &["*"],
                "owner@im.wechat",
                Drop(DropReason::Disabled),
            ),
            (
                Disabled,
                &[],
                "Approved@im.wechat",
                Drop(DropReason::Disabled),
            ),
        ];
        for (policy, allow, who, expected) in cases {
            assert_eq!(
                &verdict(*policy, allow, &store, who).await,
                expected,
                "{policy:?} {allow:?} {who}"
            );
        }
        // The channel's implicit entries (the binding owner) pass every policy but `disabled`.
        for policy in [Pairing, Allowlist, Open] {
            assert_eq!(
                verdict(policy, &[], &store, "owner@im.wechat").await,
                Allow,
                "{policy:?}"
            );
        }
    }

    #[test]
    fn entries_are_normalized() {
        assert_eq!(
            normalize_entry(CH, " openclaw-weixin:user:Ab@im.wechat "),
            "ab@im.wechat"
        );
        assert_eq!(normalize_entry(CH, "OPENCLAW-WEIXIN:x"), "x");
        assert_eq!(normalize_entry(CH, "user:"), "");
        assert_eq!(normalize_entry(CH, "dm:Bob"), "bob");
        assert_eq!(normalize_entry(CH, "ü"), "ü");
        assert_eq!(normalize_entry(CH, "Ü"), "Ü", "only ASCII folds");
    }

    #[tokio::test]
    async fn a_sender_id_is_neither_stripped_nor_unicode_folded() {
        let store = MemoryPairingStore::new();
        let config = DmConfig {
            policy: DmPolicy::Allowlist,
            allow_from: vec!["openclaw-weixin:Alice".into(), "kim".into()],
            implicit_allow: vec![],
        };
        let decide = |sender: &'static str| {
            let (config, store) = (config.clone(), &store);
            async move {
                decide(CH, "a", &config, sender, store)
                    .await
                    .expect("decide")
            }
        };
        assert_eq!(decide("ALICE").await, Verdict::Allow, "ASCII case folds");
        assert_eq!(decide("alice").await, Verdict::Allow);
        for impostor in [
            "user:alice",
            "openclaw-weixin:alice",
            " alice",
            "\u{212A}im",
        ] {
            assert_eq!(
                decide(impostor).await,
                Verdict::Drop(DropReason::NotAllowed),
                "{impostor:?} passed as a listed sender"
            );
        }
    }

    #[tokio::test]
    async fn pairing_store_codes_follow_openclaw_rules() {
        let store = MemoryPairingStore::new();
        let first = store
            .upsert_request(CH, "a", "u1", serde_json::json!({}))
            .await
            .expect("upsert");
        assert!(first.created);
        assert_eq!(first.code.len(), 8);
        assert!(
            first
                .code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert!(!first.code.contains(['0', 'O', '1', 'I']));
        let again = store
            .upsert_request(CH, "a", "u1", serde_json::json!({}))
            .await
            .expect("upsert");
        assert_eq!(
            again,
            PairingCode {
                code: first.code.clone(),
                created: false
            }
        );
        store
            .upsert_request(CH, "a", "u2", serde_json::json!({}))
            .await
            .expect("u2");
        store
            .upsert_request(CH, "a", "u3", serde_json::json!({}))
            .await
            .expect("u3");
        assert!(
            store
                .upsert_request(CH, "a", "u4", serde_json::json!({}))
                .await
                .is_err()
        );
        assert_eq!(
            store.approve(CH, "a", &first.code.to_lowercase()),
            Some("u1".into())
        );
        assert_eq!(
            store.read_allow_from(CH, "a").await.expect("read"),
            vec!["u1".to_string()]
        );
    }
}
