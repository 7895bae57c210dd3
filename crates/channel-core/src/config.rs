//! Pieces of channel config that every channel parses the same way.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::ChannelError;

/// Checks the keys every channel shares ([`crate::dm::DmKeys`], [`crate::media::MediaKeys`],
/// [`crate::group::GroupKeys`], [`crate::pipeline::TurnKeys`]) in `section` and in each of its `accounts.<id>`. Channels
/// flatten these into their config types, and serde loses the path of an error inside a
/// flattened struct; checked on their own first, their errors name the full path
/// (`channels.multi-openim.accounts.b.groupPolicy: unknown variant …`).
pub fn check_shared_keys(what: &str, section: &serde_json::Value) -> Result<(), ChannelError> {
    fn check(at: &str, value: &serde_json::Value) -> Result<(), ChannelError> {
        parse_config::<crate::dm::DmKeys>(at, value)?;
        parse_config::<crate::media::MediaKeys>(at, value)?;
        parse_config::<crate::group::GroupKeys>(at, value)?;
        parse_config::<crate::pipeline::TurnKeys>(at, value)?;
        Ok(())
    }
    if !section.is_object() {
        return Ok(());
    }
    check(what, section)?;
    if let Some(accounts) = section.get("accounts").and_then(|a| a.as_object()) {
        for (id, account) in accounts.iter().filter(|(_, a)| a.is_object()) {
            check(&format!("{what}.accounts.{id}"), account)?;
        }
    }
    Ok(())
}

/// The account ids a section names without parsing it: the keys of `accounts`, or `default`.
/// For a section whose parse failed, so each of its accounts can report the error.
pub fn listed_account_ids(section: &serde_json::Value) -> Vec<String> {
    let listed: Vec<String> = section
        .get("accounts")
        .and_then(serde_json::Value::as_object)
        .map(|accounts| accounts.keys().cloned().collect())
        .unwrap_or_default();
    if listed.is_empty() {
        vec!["default".to_owned()]
    } else {
        listed
    }
}

/// Whether `id` can name a state file: not empty, `.` or `..`, and without a path separator
/// or a control character.
pub fn account_id_is_safe(id: &str) -> bool {
    !(id.is_empty()
        || id == "."
        || id == ".."
        || id
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control()))
}

/// Refuses an account id that cannot safely name a state file (`dedup/<id>.jsonl`,
/// `accounts/<id>.seqs.json`, …): empty, `.` or `..`, or with a path separator or a control
/// character in it. `channel` is the channel id, for the message.
pub fn check_account_id(channel: &str, id: &str) -> Result<(), ChannelError> {
    if !account_id_is_safe(id) {
        return Err(ChannelError::bad_input(format!(
            "channels.{channel}.accounts.{id:?}: not a usable account id: ids name state files, \
             so they may not be empty, `.` or `..`, or contain `/`, `\\` or control characters"
        )));
    }
    Ok(())
}

/// A config value users write either as a string or as a number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrNumber {
    String(String),
    Number(i64),
}

impl StringOrNumber {
    pub fn into_string(self) -> String {
        match self {
            Self::String(s) => s,
            Self::Number(n) => n.to_string(),
        }
    }
}

/// Parses a config section with errors that name the offending field path.
pub fn parse_config<T: serde::de::DeserializeOwned>(
    what: &str,
    value: &serde_json::Value,
) -> Result<T, ChannelError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let at = if path == "." {
            what.to_owned()
        } else {
            format!("{what}.{path}")
        };
        ChannelError::bad_input(format!("{at}: {}", err.into_inner()))
    })
}

/// A credential from config (a token, an app secret): `Debug` prints `<redacted>`, so it never
/// reaches a log through `{:?}`.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
// `writeOnly`: JSON Schema's own mark of a value one sets and never reads back; the uiHints
// built from the schema mark such a key sensitive.
#[schemars(extend("writeOnly" = true))]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod shared_key_tests {
    use super::*;

    #[test]
    fn shared_keys_errors_name_the_full_path() {
        let err = |v: serde_json::Value| {
            check_shared_keys("channels.x", &v)
                .expect_err("bad")
                .message
        };
        assert!(
            err(serde_json::json!({"groupPolicy": "sometimes"}))
                .starts_with("channels.x.groupPolicy: unknown variant `sometimes`")
        );
        assert!(
            err(serde_json::json!({"mediaMaxMb": "x"}))
                .starts_with("channels.x.mediaMaxMb: invalid type")
        );
        assert!(
            err(serde_json::json!({"accounts": {"b": {"groups": {"g1": {"requireMention": "yes"}}}}}))
                .starts_with("channels.x.accounts.b.groups.g1.requireMention:")
        );
        assert!(
            err(serde_json::json!({"accounts": {"b": {"mediaAllowHosts": "h"}}}))
                .starts_with("channels.x.accounts.b.mediaAllowHosts:")
        );
        check_shared_keys(
            "channels.x",
            &serde_json::json!({"accounts": {"b": {"groupPolicy": "open"}}}),
        )
        .expect("good");
        check_shared_keys("channels.x", &serde_json::Value::Null).expect("absent");
    }

    #[test]
    fn account_ids_must_name_files_safely() {
        for good in ["default", "team-b", "b0f5860fdecb-im-bot", "主账号", "a.b"] {
            check_account_id("x", good).expect(good);
        }
        for bad in ["", ".", "..", "../etc", "a/b", "a\\b", "a\nb", "a\0b"] {
            let err = check_account_id("multi-openim", bad).expect_err(bad);
            assert!(
                err.message.starts_with("channels.multi-openim.accounts."),
                "{err}"
            );
        }
    }
}
