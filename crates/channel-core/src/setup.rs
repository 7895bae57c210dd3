//! `openclaw channels add --channel <id> --<flag> …`: the flags a channel takes and the
//! account they make, both read from the channel's [`Descriptor`] alone.
//!
//! The flags are the account-level keys a setup needs (those the Control UI shows outside
//! "advanced": credentials, addresses, `dmPolicy`, `allowFrom`), so a key added to a channel's
//! config type with the basic mark becomes a flag, a catalog field and a Control UI field at
//! once. OpenClaw's CLI reads the fields from package.json (`openclaw.channel.setup.fields`, or
//! the user catalog) before any plugin loads, then hands the typed values to the plugin.
//!
//! ```
//! # use channel_core::{Descriptor, Meta, setup};
//! # use serde_json::json;
//! let schema = json!({"properties": {"accounts": {"additionalProperties": {"properties": {
//!     "wsAddr": {"type": ["string", "null"], "description": "Message gateway URL."},
//! }}}}});
//! let hints = json!({"accounts.*.wsAddr": {"advanced": false}});
//! let descriptor = Descriptor {
//!     ui_hints: hints,
//!     ..Descriptor::new("im", Meta::new("im", "IM", "IM"), vec![], schema)
//! };
//! let fields = setup::fields(&descriptor);
//! assert_eq!(fields[0].cli.flags, "--ws-addr <value>");
//! let section = setup::apply(&descriptor, &json!({}), "team-b", &json!({"wsAddr": "ws://x"})).unwrap();
//! assert_eq!(section["accounts"]["team-b"], json!({"enabled": true, "wsAddr": "ws://x"}));
//! ```

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::action::ConfigEdit;
use crate::channel::Descriptor;
use crate::error::ChannelError;
use crate::schema::variants;

/// One flag of `openclaw channels add`, as OpenClaw's `setup.fields` declares it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupField {
    /// Commander's name for the flag (`--ws-addr` → `wsAddr`): OpenClaw drops a field whose
    /// key is anything else.
    pub key: String,
    pub kind: FieldKind,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// For `--use-env`: the variables it takes the credentials from, all of which must be set.
    #[serde(rename = "envVars", skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<String>,
    pub cli: Cli,
    /// The account key the value goes to (`userID` for the flag `--user-id`).
    #[serde(skip)]
    pub config_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    String,
    StringList,
    Boolean,
    Integer,
    Choice,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cli {
    pub flags: String,
    pub description: String,
}

/// Keys no flag is made for: `enabled` is what adding means, and the CLI's own flags
/// (`--channel`, `--account`, `--agent`, `--name`) must not be declared twice.
const NOT_FLAGS: &[&str] = &["enabled", "name", "channel", "account", "agent"];

/// The channel as OpenClaw's catalog describes it: `openclaw.channel` in package.json, or one
/// entry of the user catalog. Labels, aliases, and the flags of `channels add`.
pub fn catalog_channel(descriptor: &Descriptor) -> Value {
    let meta = &descriptor.meta;
    let mut channel = json!({
        "id": descriptor.id,
        "label": meta.label,
        "selectionLabel": meta.selection_label,
        "blurb": meta.blurb,
        "docsPath": meta.docs_path,
        "order": meta.order,
        "setup": {"fields": fields(descriptor)},
    });
    if !meta.aliases.is_empty() {
        channel["aliases"] = json!(meta.aliases);
    }
    channel
}

/// The flags of `channels add` for this channel, by key. None for a channel whose accounts
/// come from an interactive login: the login makes the account.
pub fn fields(descriptor: &Descriptor) -> Vec<SetupField> {
    if descriptor.interactive_login {
        return Vec::new();
    }
    let Some(keys) = account_properties(&descriptor.config_schema) else {
        return Vec::new();
    };
    let mut fields: Vec<SetupField> = keys
        .iter()
        .filter(|(key, _)| !NOT_FLAGS.contains(&key.as_str()))
        .filter(|(key, _)| {
            descriptor.ui_hints[format!("accounts.*.{key}")]["advanced"] == Value::Bool(false)
        })
        .filter_map(|(key, schema)| field(key, schema))
        .collect();
    if !descriptor.default_account_env.is_empty() {
        fields.push(SetupField {
            key: USE_ENV.into(),
            kind: FieldKind::Boolean,
            sensitive: false,
            choices: Vec::new(),
            env_vars: descriptor.default_account_env.clone(),
            cli: Cli {
                flags: "--use-env".into(),
                description: format!(
                    "The default account takes its credentials from {} (the gateway's environment).",
                    descriptor.default_account_env.join(", ")
                ),
            },
            config_key: String::new(),
        });
    }
    fields
}

/// The flag of a channel whose `default` account can read its credentials from the
/// environment ([`Descriptor::default_account_env`]).
const USE_ENV: &str = "useEnv";

/// `section` (`channels.<id>`) with `input` (the typed values of `channels add`, by field key)
/// written to `accounts.<account>`, enabled. Keys the input leaves out stay as they are, so
/// adding to an existing account changes only what was given. Refuses a key the channel has
/// no flag for, naming it, and a value of the wrong kind.
pub fn apply(
    descriptor: &Descriptor,
    section: &Value,
    account: &str,
    input: &Value,
) -> Result<Value, ChannelError> {
    let id = &descriptor.id;
    if descriptor.interactive_login {
        return Err(ChannelError::bad_input(format!(
            "{id} accounts are made by scanning a QR code: run `openclaw channels login --channel {id}`"
        )));
    }
    let Some(given) = input.as_object() else {
        return Err(ChannelError::bad_input(format!(
            "{id}: setup input must be an object"
        )));
    };
    let fields = fields(descriptor);
    let has_name =
        account_properties(&descriptor.config_schema).is_some_and(|keys| keys.contains_key("name"));
    let mut patch = Map::new();
    patch.insert("enabled".into(), Value::Bool(true));
    for (key, value) in given {
        if value.is_null() {
            continue;
        }
        if key == "name" {
            if !has_name {
                return Err(ChannelError::bad_input(format!(
                    "--name: {id} accounts have no display name; leave it out"
                )));
            }
            patch.insert("name".into(), text(key, value)?.into());
            continue;
        }
        if key == USE_ENV && !descriptor.default_account_env.is_empty() {
            if typed(&fields[fields.len() - 1], value)? == Value::Bool(true) {
                use_env(descriptor, account)?;
            }
            continue;
        }
        let Some(field) = fields.iter().find(|f| &f.key == key) else {
            let known: Vec<&str> = fields.iter().map(|f| f.cli.flags.as_str()).collect();
            return Err(ChannelError::bad_input(format!(
                "{id}: no setup option {key:?} (this channel takes {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        patch.insert(field.config_key.clone(), typed(field, value)?);
    }
    let mut next = if section.is_object() {
        section.clone()
    } else {
        json!({})
    };
    ConfigEdit::merge(["accounts", account], Value::Object(patch)).apply(&mut next)?;
    Ok(next)
}

/// `--use-env`: only the `default` account reads the variables, and they must be set here,
/// as OpenClaw's own `--use-env` check wants them.
fn use_env(descriptor: &Descriptor, account: &str) -> Result<(), ChannelError> {
    let vars = descriptor.default_account_env.join(", ");
    if account != "default" {
        return Err(ChannelError::bad_input(format!(
            "--use-env: only the account `default` reads {vars}; leave out --account, or give \
             the credentials as flags"
        )));
    }
    let unset: Vec<&str> = descriptor
        .default_account_env
        .iter()
        .map(String::as_str)
        .filter(|name| std::env::var(name).map_or(true, |v| v.trim().is_empty()))
        .collect();
    if !unset.is_empty() {
        return Err(ChannelError::bad_input(format!(
            "--use-env: set {} first",
            unset.join(", ")
        )));
    }
    Ok(())
}

/// The properties of one account (`accounts.<id>`) in a channel's section schema.
fn account_properties(schema: &Value) -> Option<&Map<String, Value>> {
    variants(&schema["properties"]["accounts"])
        .into_iter()
        .find_map(|v| v.get("additionalProperties"))
        .and_then(|account| {
            variants(account)
                .into_iter()
                .find_map(|v| v.get("properties"))
        })
        .and_then(Value::as_object)
}

fn field(key: &str, schema: &Value) -> Option<SetupField> {
    let all = variants(schema);
    let types: Vec<&str> = all
        .iter()
        .flat_map(|v| match &v["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        })
        .filter(|t| *t != "null")
        .collect();
    let choices: Vec<String> = all
        .iter()
        .filter_map(|v| v.get("const").and_then(Value::as_str))
        .map(str::to_owned)
        .chain(
            all.iter()
                .filter_map(|v| v.get("enum").and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        )
        .collect();
    let sensitive = all.iter().any(|v| v["writeOnly"] == Value::Bool(true));
    let (kind, value) = if !choices.is_empty() {
        (FieldKind::Choice, "<choice>")
    } else if types.contains(&"array") {
        (FieldKind::StringList, "<list>")
    } else if types.contains(&"string") {
        (
            FieldKind::String,
            if sensitive { "<secret>" } else { "<value>" },
        )
    } else if types.contains(&"integer") {
        (FieldKind::Integer, "<n>")
    } else if types.contains(&"boolean") {
        (FieldKind::Boolean, "")
    } else {
        return None;
    };
    let flag = kebab(key);
    let mut description = schema
        .get("description")
        .and_then(Value::as_str)
        .map(crate::schema::first_sentence)
        .unwrap_or_default();
    if kind == FieldKind::Choice && !choices.iter().all(|c| description.contains(c.as_str())) {
        description = format!("{} One of: {}.", description, choices.join(", "))
            .trim()
            .to_owned();
    }
    if kind == FieldKind::StringList {
        description = format!("{description} Comma-separated.").trim().to_owned();
    }
    Some(SetupField {
        key: camel(&flag),
        kind,
        sensitive: sensitive && matches!(kind, FieldKind::String | FieldKind::StringList),
        choices: if kind == FieldKind::Choice {
            choices
        } else {
            Vec::new()
        },
        env_vars: Vec::new(),
        cli: Cli {
            flags: format!("--{flag} {value}").trim_end().to_owned(),
            description,
        },
        config_key: key.to_owned(),
    })
}

fn text<'a>(key: &str, value: &'a Value) -> Result<&'a str, ChannelError> {
    value
        .as_str()
        .ok_or_else(|| ChannelError::bad_input(format!("--{}: expected text", kebab(key))))
}

/// The value as the config holds it. OpenClaw's setup contract types values before they
/// arrive; the released adapter passes the CLI's raw strings, so both forms are taken.
fn typed(field: &SetupField, value: &Value) -> Result<Value, ChannelError> {
    let flag = field.cli.flags.split(' ').next().unwrap_or_default();
    // A secret's value never goes into a message.
    let shown = if field.sensitive {
        "a value that is not".to_owned()
    } else {
        value.to_string()
    };
    let wrong = |expected: &str| {
        ChannelError::bad_input(format!("{flag}: expected {expected}, got {shown}"))
    };
    match field.kind {
        FieldKind::String => match value {
            Value::String(s) if !s.trim().is_empty() => Ok(Value::String(s.trim().to_owned())),
            Value::String(_) => Err(wrong("a value")),
            _ => Err(wrong("text")),
        },
        FieldKind::Choice => match value.as_str() {
            Some(s) if field.choices.iter().any(|c| c == s) => Ok(value.clone()),
            _ => Err(wrong(&format!("one of {}", field.choices.join(", ")))),
        },
        FieldKind::StringList => {
            let items: Vec<String> = match value {
                Value::String(s) => s.split([',', '\n']).map(str::to_owned).collect(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| wrong("text items"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(wrong("a comma-separated list")),
            };
            Ok(json!(
                items
                    .iter()
                    .map(|i| i.trim())
                    .filter(|i| !i.is_empty())
                    .collect::<Vec<_>>()
            ))
        }
        FieldKind::Integer => match value {
            Value::Number(n) if n.is_u64() => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| wrong("a whole number")),
            _ => Err(wrong("a whole number")),
        },
        FieldKind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(wrong("true or false")),
        },
    }
}

/// `wsAddr` → `ws-addr`, `userID` → `user-id`, `appKey` → `app-key`.
fn kebab(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let starts_word = c.is_uppercase()
            && i > 0
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).is_some_and(|next| next.is_lowercase()));
        if starts_word {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Commander's attribute name of a flag: `ws-addr` → `wsAddr`.
fn camel(flag: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in flag.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Meta;

    fn descriptor() -> Descriptor {
        let schema = json!({"properties": {"accounts": {"type": "object", "additionalProperties": {
            "properties": {
                "enabled": {"type": ["boolean", "null"]},
                "token": {"type": ["string", "null"], "writeOnly": true, "description": "The token. Long text."},
                "wsAddr": {"type": ["string", "null"], "description": "Gateway URL."},
                "userID": {"anyOf": [{"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "null"}]},
                "dmPolicy": {"anyOf": [{"oneOf": [
                    {"const": "pairing", "type": "string"}, {"const": "open", "type": "string"}]},
                    {"type": "null"}]},
                "allowFrom": {"type": ["array", "null"], "items": {"type": "string"}},
                "aiBot": {"type": ["integer", "null"]},
                "sdkModule": {"type": ["string", "null"]},
            }
        }}}});
        let basic = [
            "enabled",
            "token",
            "wsAddr",
            "userID",
            "dmPolicy",
            "allowFrom",
            "aiBot",
        ];
        let hints: Map<String, Value> = basic
            .iter()
            .map(|k| (format!("accounts.*.{k}"), json!({"advanced": false})))
            .chain([("accounts.*.sdkModule".into(), json!({"advanced": true}))])
            .collect();
        Descriptor {
            ui_hints: Value::Object(hints),
            ..Descriptor::new("im", Meta::new("im", "IM", "IM"), vec![], schema)
        }
    }

    #[test]
    fn basic_account_keys_become_flags_named_as_commander_names_them() {
        let fields = fields(&descriptor());
        let shown: Vec<(&str, &str, FieldKind, bool)> = fields
            .iter()
            .map(|f| (f.key.as_str(), f.cli.flags.as_str(), f.kind, f.sensitive))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("aiBot", "--ai-bot <n>", FieldKind::Integer, false),
                (
                    "allowFrom",
                    "--allow-from <list>",
                    FieldKind::StringList,
                    false
                ),
                ("dmPolicy", "--dm-policy <choice>", FieldKind::Choice, false),
                ("token", "--token <secret>", FieldKind::String, true),
                ("userId", "--user-id <value>", FieldKind::String, false),
                ("wsAddr", "--ws-addr <value>", FieldKind::String, false),
            ]
        );
        assert_eq!(fields[3].cli.description, "The token.");
        assert_eq!(fields[1].cli.description, "Comma-separated.");
        assert_eq!(fields[2].choices, vec!["pairing", "open"]);
        assert_eq!(fields[2].cli.description, "One of: pairing, open.");
        let json = serde_json::to_value(&fields[4]).unwrap();
        assert!(json.get("config_key").is_none() && json.get("sensitive").is_none());
    }

    #[test]
    fn input_lands_in_the_account_typed_and_the_rest_stays() {
        let section = json!({"dmPolicy": "open", "accounts": {
            "team-b": {"token": "old", "requireMention": true},
            "other": {"token": "o"}}});
        let input = json!({
            "token": "new", "userId": "u1", "allowFrom": "a, b,,c",
            "aiBot": "2", "dmPolicy": "pairing"});
        let next = apply(&descriptor(), &section, "team-b", &input).unwrap();
        assert_eq!(
            next["accounts"]["team-b"],
            json!({"enabled": true, "token": "new", "requireMention": true, "userID": "u1",
                   "allowFrom": ["a", "b", "c"], "aiBot": 2, "dmPolicy": "pairing"})
        );
        assert_eq!(next["accounts"]["other"], section["accounts"]["other"]);
        assert_eq!(next["dmPolicy"], "open");
        // An empty section (the channel's first account) works too.
        let first = apply(
            &descriptor(),
            &Value::Null,
            "default",
            &json!({"wsAddr": "ws://x"}),
        );
        assert_eq!(
            first.unwrap(),
            json!({"accounts": {"default": {"enabled": true, "wsAddr": "ws://x"}}})
        );
    }

    #[test]
    fn bad_input_names_the_flag() {
        let d = descriptor();
        let err = |input: Value| apply(&d, &json!({}), "a", &input).unwrap_err().message;
        assert!(err(json!({"sdkModule": "x"})).contains("no setup option \"sdkModule\""));
        assert!(err(json!({"sdkModule": "x"})).contains("--ws-addr <value>"));
        assert!(
            err(json!({"dmPolicy": "everyone"}))
                .contains("--dm-policy: expected one of pairing, open")
        );
        assert!(err(json!({"aiBot": "-1"})).contains("--ai-bot: expected a whole number"));
        assert!(err(json!({"wsAddr": "  "})).contains("--ws-addr: expected a value"));
        assert!(err(json!({"name": "Bot"})).contains("--name: im accounts have no display name"));
        assert!(err(json!([1])).contains("setup input must be an object"));
        // A secret's value never appears in the message.
        let secret = err(json!({"token": ["s3cret-value"]}));
        assert!(
            secret.contains("--token: expected text") && !secret.contains("s3cret"),
            "{secret}"
        );
    }

    #[test]
    fn a_login_channel_takes_no_flags_and_points_to_the_login() {
        let login = Descriptor {
            interactive_login: true,
            ..descriptor()
        };
        assert!(fields(&login).is_empty());
        let err = apply(&login, &json!({}), "a", &json!({}))
            .unwrap_err()
            .message;
        assert!(
            err.contains("openclaw channels login --channel im"),
            "{err}"
        );
    }

    #[test]
    fn the_catalog_entry_carries_labels_aliases_and_flags() {
        let mut d = descriptor();
        d.meta = Meta::new("im", "IM", "IM (Rust)")
            .blurb("Chat.")
            .aliases(&["i"]);
        let entry = catalog_channel(&d);
        assert_eq!(entry["id"], "im");
        assert_eq!(entry["selectionLabel"], "IM (Rust)");
        assert_eq!(entry["aliases"], json!(["i"]));
        assert_eq!(entry["docsPath"], "/channels/im");
        assert_eq!(entry["setup"]["fields"].as_array().map(Vec::len), Some(6));
        assert_eq!(entry["setup"]["fields"][3]["sensitive"], true);
    }

    #[test]
    fn use_env_takes_the_default_accounts_credentials_from_the_environment() {
        let d = Descriptor {
            default_account_env: vec!["IMBRIDGE_SETUP_TEST_UNSET_VAR".into(), "PATH".into()],
            ..descriptor()
        };
        let flag = fields(&d).pop().unwrap();
        assert_eq!(
            (flag.key.as_str(), flag.cli.flags.as_str()),
            ("useEnv", "--use-env")
        );
        assert_eq!(flag.env_vars, vec!["IMBRIDGE_SETUP_TEST_UNSET_VAR", "PATH"]);
        let err = |account: &str| {
            apply(&d, &json!({}), account, &json!({"useEnv": true}))
                .unwrap_err()
                .message
        };
        assert!(err("team-b").contains("only the account `default`"));
        assert_eq!(
            err("default"),
            "--use-env: set IMBRIDGE_SETUP_TEST_UNSET_VAR first"
        );
        // Off, it is no flag at all; it never reaches the config.
        let off = apply(&d, &json!({}), "a", &json!({"useEnv": false})).unwrap();
        assert_eq!(off["accounts"]["a"], json!({"enabled": true}));
    }

    #[test]
    fn kebab_and_camel_round_trip_the_config_keys() {
        for (key, flag, attribute) in [
            ("wsAddr", "ws-addr", "wsAddr"),
            ("userID", "user-id", "userId"),
            ("appKey", "app-key", "appKey"),
            ("token", "token", "token"),
            ("lbsUrls", "lbs-urls", "lbsUrls"),
        ] {
            assert_eq!(kebab(key), flag);
            assert_eq!(camel(flag), attribute);
        }
    }
}
