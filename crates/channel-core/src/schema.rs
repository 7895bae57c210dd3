//! JSON Schemas of config types, in the plainest dialect every validator reads.

use schemars::JsonSchema;
use serde_json::Value;

/// The mark of a key most setups need (`#[schemars(extend("x-basic" = true))]`): the Control
/// UI shows it, where the others wait under "advanced". Never in the schema itself.
pub const BASIC: &str = "x-basic";

/// Draft-07, subschemas inlined (no `$ref`), and no non-standard `format`s such as `int64`
/// (strict validators reject unknown formats), nor our own marks.
pub fn for_type<T: JsonSchema>() -> Value {
    let mut value = raw::<T>();
    strip(&mut value);
    value
}

fn raw<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    value
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f))
            {
                map.remove("format");
            }
            map.remove(BASIC);
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// OpenClaw's `uiHints` for a config type: one per key, by dotted path (`*` for any key of a
/// map, such as `accounts.*.token`): a label made from the key, the first sentence of its
/// doc comment as help, `sensitive` for a [`crate::config::Secret`] (`writeOnly` in the
/// schema), and `advanced` unless the key is marked [`BASIC`].
pub fn ui_hints_for<T: JsonSchema>() -> Value {
    let mut hints = serde_json::Map::new();
    walk(&raw::<T>(), "", &mut hints);
    Value::Object(hints)
}

fn walk(schema: &Value, prefix: &str, hints: &mut serde_json::Map<String, Value>) {
    let path_of = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    for variant in variants(schema) {
        if let Some(properties) = variant.get("properties").and_then(Value::as_object) {
            for (key, sub) in properties {
                let path = path_of(key);
                hints.insert(path.clone(), hint(key, sub));
                walk(sub, &path, hints);
            }
        }
        if let Some(values) = variant
            .get("additionalProperties")
            .filter(|v| v.is_object())
        {
            walk(values, &path_of("*"), hints);
        }
    }
}

/// `schema` and the alternatives it is made of (`Option<T>` inlines as `anyOf`).
pub(crate) fn variants(schema: &Value) -> Vec<&Value> {
    let mut out = vec![schema];
    for key in ["anyOf", "oneOf", "allOf"] {
        for member in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(variants(member));
        }
    }
    out
}

fn hint(key: &str, schema: &Value) -> Value {
    let marked = |name: &str| {
        variants(schema)
            .iter()
            .any(|v| v.get(name) == Some(&Value::Bool(true)))
    };
    let mut hint = serde_json::json!({
        "label": label(key),
        "advanced": !marked(BASIC),
    });
    if let Some(help) = schema
        .get("description")
        .and_then(Value::as_str)
        .map(first_sentence)
    {
        hint["help"] = help.into();
    }
    if marked("writeOnly") {
        hint["sensitive"] = true.into();
    }
    hint
}

/// `appKey` → `App key`, `wsAddr` → `WS addr`, `mediaMaxMb` → `Media max MB`.
fn label(key: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for ch in key.chars() {
        match words.last_mut() {
            Some(word) if !ch.is_uppercase() => word.push(ch),
            _ => words.push(ch.to_lowercase().collect()),
        }
    }
    let shown: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| match word.as_str() {
            "urls" => "URLs".to_owned(),
            "ids" => "IDs".to_owned(),
            "ai" | "api" | "dm" | "id" | "lbs" | "mb" | "qr" | "sdk" | "url" | "ws" => {
                word.to_uppercase()
            }
            _ if i == 0 => {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => word.clone(),
        })
        .collect();
    shown.join(" ")
}

/// The doc comment's first sentence, on one line.
pub(crate) fn first_sentence(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line,
    }
}

const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "regex",
];

#[cfg(test)]
mod tests {
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Sample {
        count: i64,
        nested: Option<Inner>,
    }
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        size: u32,
    }

    /// A type with a secret, a map of accounts and a basic key.
    #[derive(schemars::JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Config {
        /// The app key. Shown in the console.
        #[schemars(extend("x-basic" = true))]
        app_key: Option<String>,
        /// The login token.
        token: Option<crate::config::Secret>,
        /// More accounts.
        accounts: std::collections::BTreeMap<String, Account>,
    }

    #[derive(schemars::JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Account {
        /// Its token.
        token: Option<crate::config::Secret>,
        /// Where its API is.
        api_url: Option<String>,
    }

    #[test]
    fn hints_label_help_and_mark_secrets_at_every_depth() {
        let hints = super::ui_hints_for::<Config>();
        assert_eq!(
            hints["appKey"],
            serde_json::json!({"label": "App key", "help": "The app key.", "advanced": false})
        );
        assert_eq!(hints["token"]["sensitive"], true);
        assert_eq!(hints["accounts.*.token"]["sensitive"], true);
        assert_eq!(hints["accounts.*.apiUrl"]["label"], "API URL");
        assert!(hints["accounts.*.apiUrl"].get("sensitive").is_none());
        assert_eq!(hints["accounts"]["advanced"], true);
        let schema = super::for_type::<Config>().to_string();
        assert!(!schema.contains("x-basic"), "{schema}");
        assert!(schema.contains("writeOnly"), "{schema}");
        assert_eq!(super::label("mediaMaxMb"), "Media max MB");
        assert_eq!(super::label("lbsUrls"), "LBS URLs");
        assert_eq!(super::label("groupAllowFrom"), "Group allow from");
    }

    #[test]
    fn schema_is_self_contained_and_plain() {
        let text = super::for_type::<Sample>().to_string();
        assert!(
            !text.contains("$ref") && !text.contains("$defs") && !text.contains("definitions"),
            "{text}"
        );
        assert!(
            !text.contains("int64") && !text.contains("uint32"),
            "{text}"
        );
        assert!(!text.contains("$schema"), "{text}");
    }
}
