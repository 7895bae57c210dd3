//! `{accountId}` / `{state.<field>}` placeholders and response dot-paths.
//!
//! Everything a template pulls out of the state file is remembered, so that error texts can be
//! scrubbed of it: state fields are where refresh tokens and API keys live.

use std::path::{Path, PathBuf};

use channel_core::ChannelError;
use serde_json::{Map, Value};

/// The state file as one attempt sees it: read once, so every template of the request is
/// filled from the same snapshot.
#[derive(Debug)]
pub(super) struct StateView {
    /// `None` when `tokenRefresh.http.stateFile` is not set.
    path: Option<PathBuf>,
    /// The whole file; `None` when it does not exist (yet).
    root: Option<Value>,
}

impl StateView {
    /// Reads `path`. A corrupt file is a config problem for a person, not something a retry
    /// fixes.
    pub(super) fn load(path: Option<&Path>) -> Result<Self, ChannelError> {
        let root = match path {
            Some(path) => channel_core::state::read_json::<Value>(path).map_err(|e| {
                ChannelError::bad_input(format!(
                    "{}: reading the state file {}: {e}",
                    super::key("http.stateFile"),
                    path.display()
                ))
            })?,
            None => None,
        };
        Ok(Self {
            path: path.map(Path::to_owned),
            root,
        })
    }

    /// `stateFile[account_id][field]`, as text. Missing is an error naming the field and the
    /// file: an empty string silently sent as a refresh token only confuses the auth server.
    fn field(&self, account_id: &str, field: &str, at: &str) -> Result<String, ChannelError> {
        let missing = |why: String| {
            ChannelError::bad_input(format!("{at}: {{state.{field}}} cannot be filled: {why}"))
        };
        let Some(path) = &self.path else {
            return Err(missing(format!(
                "{} is not set",
                super::key("http.stateFile")
            )));
        };
        let file = path.display();
        let Some(root) = &self.root else {
            return Err(missing(format!("the state file {file} does not exist")));
        };
        let Some(entry) = root.get(account_id) else {
            return Err(missing(format!(
                "the state file {file} has no entry for account {account_id:?}"
            )));
        };
        match entry.get(field) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(value.to_string()),
            None | Some(Value::Null) => Err(missing(format!(
                "the state file {file} has no field {field:?} for account {account_id:?}"
            ))),
            Some(_) => Err(missing(format!(
                "field {field:?} of account {account_id:?} in the state file {file} is not a \
                 string or number"
            ))),
        }
    }
}

/// Fills templates for one account and remembers what came out of the state file.
#[derive(Debug)]
pub(super) struct Filler<'a> {
    pub(super) account_id: &'a str,
    pub(super) state: &'a StateView,
    /// Values taken from the state file, for scrubbing error texts.
    pub(super) secrets: Vec<String>,
}

/// Everything but RFC 3986's unreserved characters: safe as data in a path segment, a query
/// and a fragment alike.
const URL_DATA: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl<'a> Filler<'a> {
    pub(super) fn new(account_id: &'a str, state: &'a StateView) -> Self {
        Self {
            account_id,
            state,
            secrets: Vec::new(),
        }
    }

    /// Replaces `{accountId}` and `{state.<field>}` in `template`; `at` names the config key
    /// for errors. Other braces (JSON in a string, say) are kept as written.
    pub(super) fn fill(&mut self, template: &str, at: &str) -> Result<String, ChannelError> {
        self.fill_with(template, at, |_, value| value.to_owned())
    }

    /// [`Filler::fill`] for a URL. A placeholder in the path, the query or the fragment is
    /// percent-encoded as the data it is, so a `&`, `/`, `?` or `#` in a token or an account id
    /// cannot add a query parameter, climb a path or cut the URL short. One that stands before
    /// the path (`{state.auth_server_url}/api/refresh`) is the operator's own server and is
    /// taken as written.
    pub(super) fn fill_url(&mut self, template: &str, at: &str) -> Result<String, ChannelError> {
        self.fill_with(template, at, |before, value| {
            let rest = before.find("://").map_or(before, |i| &before[i + 3..]);
            if rest.contains(['/', '?', '#']) {
                percent_encoding::utf8_percent_encode(value, URL_DATA).to_string()
            } else {
                value.to_owned()
            }
        })
    }

    /// Fills `template`; `encode(text so far, value)` is what a value becomes.
    fn fill_with(
        &mut self,
        template: &str,
        at: &str,
        encode: impl Fn(&str, &str) -> String,
    ) -> Result<String, ChannelError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let Some(close) = after.find('}') else {
                break;
            };
            out.push_str(&rest[..open]);
            let name = &after[1..close];
            if name == "accountId" {
                let encoded = encode(&out, self.account_id);
                out.push_str(&encoded);
            } else if let Some(field) = name.strip_prefix("state.") {
                let value = self.state.field(self.account_id, field, at)?;
                let encoded = encode(&out, &value);
                out.push_str(&encoded);
                // An error that quotes the URL shows the encoded form: scrub both.
                if encoded != value {
                    self.secrets.push(encoded);
                }
                self.secrets.push(value);
            } else {
                out.push_str(&after[..=close]);
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The body with every string leaf filled; keys, numbers and booleans are kept.
    pub(super) fn fill_json(&mut self, value: &Value, at: &str) -> Result<Value, ChannelError> {
        Ok(match value {
            Value::String(text) => Value::String(self.fill(text, at)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.fill_json(item, &format!("{at}.{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, item)| Ok((k.clone(), self.fill_json(item, &format!("{at}.{k}"))?)))
                    .collect::<Result<Map<_, _>, ChannelError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// Follows a dot-path (`data.tokens.0.value`): names index objects, numbers index arrays.
pub(super) fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |node, segment| match node {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The first path that leads to a non-empty string, trimmed.
pub(super) fn first_string(value: &Value, paths: &[String]) -> Option<String> {
    paths.iter().find_map(|path| {
        lookup(value, path)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })
}

/// The first path that leads to anything but null.
pub(super) fn first_value<'v>(value: &'v Value, paths: &[String]) -> Option<&'v Value> {
    paths
        .iter()
        .find_map(|path| lookup(value, path).filter(|v| !v.is_null()))
}

/// Replaces every occurrence of a secret (and anything shaped like a JWT) with `<redacted>`.
/// Short values are skipped: scrubbing "1" out of a message would only garble it.
pub(super) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text
        .split(' ')
        .map(|word| {
            if looks_like_jwt(word) {
                "<redacted>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    for secret in secrets.iter().filter(|s| s.chars().count() >= 6) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

fn looks_like_jwt(word: &str) -> bool {
    word.find("eyJ").is_some_and(|start| {
        word[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='))
            .filter(|c| *c == '.')
            .count()
            >= 2
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view(root: Option<Value>) -> StateView {
        StateView {
            path: Some(PathBuf::from("/s/tokens.json")),
            root,
        }
    }

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let state = view(Some(json!({"a": {"rt": "r-1", "n": 7}})));
        let mut filler = Filler::new("a", &state);
        let text = filler
            .fill("{accountId}:{state.rt}:{state.n}:{other}:{", "k")
            .expect("fill");
        assert_eq!(text, "a:r-1:7:{other}:{");
        assert_eq!(filler.secrets, ["r-1", "7"]);
    }

    #[test]
    fn url_placeholders_are_data_whatever_they_hold() {
        let state = view(Some(
            json!({"a b": {"rt": "r&admin=1/../x?y#z", "base": "https://auth.example"}}),
        ));
        let mut filler = Filler::new("a b", &state);
        let url = filler
            .fill_url("{state.base}/{accountId}/refresh?rt={state.rt}&v=1", "k")
            .expect("fill");
        assert_eq!(
            url, "https://auth.example/a%20b/refresh?rt=r%26admin%3D1%2F..%2Fx%3Fy%23z&v=1",
            "the base as written, the path and query values as data"
        );
        let parsed = reqwest::Url::parse(&url).expect("url");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("rt".into(), "r&admin=1/../x?y#z".into()),
                ("v".into(), "1".into())
            ]
        );
        assert_eq!(parsed.fragment(), None);
        assert_eq!(
            filler.secrets,
            [
                "https://auth.example",
                "r%26admin%3D1%2F..%2Fx%3Fy%23z",
                "r&admin=1/../x?y#z"
            ],
            "scrubbed as written and as sent"
        );
    }

    #[test]
    fn missing_state_names_field_and_file() {
        let cases = [
            (None, "the state file /s/tokens.json does not exist"),
            (Some(json!({})), "has no entry for account \"a\""),
            (
                Some(json!({"a": {}})),
                "has no field \"rt\" for account \"a\"",
            ),
            (Some(json!({"a": {"rt": null}})), "has no field \"rt\""),
            (Some(json!({"a": {"rt": {}}})), "is not a string or number"),
        ];
        for (root, expected) in cases {
            let state = view(root);
            let err = Filler::new("a", &state)
                .fill("x{state.rt}", "tokenRefresh.http.body.refreshToken")
                .expect_err(expected);
            assert!(err.message.contains(expected), "{err}");
            assert!(
                err.message
                    .starts_with("tokenRefresh.http.body.refreshToken: {state.rt}"),
                "{err}"
            );
        }
    }

    #[test]
    fn dot_paths_walk_objects_and_arrays() {
        let value = json!({"data": {"list": [{"t": "x"}, {"t": ""}]}, "n": 1});
        assert_eq!(lookup(&value, "data.list.0.t"), Some(&json!("x")));
        assert_eq!(lookup(&value, "data.list.9.t"), None);
        assert_eq!(lookup(&value, "n.x"), None);
        let paths = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            first_string(&value, &paths(&["data.list.1.t", "n", "data.list.0.t"])),
            Some("x".into())
        );
        assert_eq!(first_value(&value, &paths(&["nope", "n"])), Some(&json!(1)));
    }

    #[test]
    fn scrubbing() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJVc2VySUQiOiJib3QxIn0.c2ln";
        let text = format!("bad {jwt} and secret-123 and 1");
        let clean = scrub(&text, &["secret-123".into(), "1".into()]);
        assert_eq!(clean, "bad <redacted> and <redacted> and 1");
    }
}
