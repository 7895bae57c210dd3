//! `cargo xtask docs`: the config reference of each channel, generated from its schema.
//!
//! ```text
//! cargo xtask docs           # rewrite the generated block of every docs/channels/<id>.md
//! cargo xtask docs --check   # change nothing; fail, naming the file, when a block is stale
//! ```
//!
//! Each `docs/channels/<id>.md` is written by hand except for one block between
//! [`BEGIN`] and [`END`], which holds the reference of `channels.<id>`: every key with its
//! type, default, whether it is required, and its description. It comes from the JSON Schema
//! the channel's descriptor carries (`Descriptor::config_schema`, schemars from the config
//! types), the same schema the manifest gets, so the reference cannot drift from the parser.
//! A description is edited in the `///` comment of the config field, then this is run again.

use std::path::{Path, PathBuf};

use channel_core::{Channel, Descriptor, StateDir};
use serde_json::Value;

use crate::{Result, root};

/// Opens the generated block (the whole line).
const BEGIN: &str = "<!-- BEGIN GENERATED: config reference (cargo xtask docs) -->";
/// Closes it.
const END: &str = "<!-- END GENERATED -->";

/// Nested objects deeper than this are not expanded: a schema that refers to itself would
/// otherwise never end.
const MAX_DEPTH: usize = 8;

pub fn run(check_only: bool) -> Result {
    if check_only {
        check()?;
        println!("docs: every generated block is fresh");
        return Ok(());
    }
    let rewritten = rewrite()?;
    for path in &rewritten {
        println!("docs: rewrote {}", relative(path));
    }
    if rewritten.is_empty() {
        println!("docs: every generated block was fresh");
    }
    Ok(())
}

/// Fails naming every stale file; changes nothing. CI runs this in-process.
pub fn check() -> Result {
    let mut stale = Vec::new();
    for (path, doc) in documents()? {
        if doc.current != doc.wanted {
            stale.push(relative(&path));
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "stale generated docs: {} (run `cargo xtask docs`)",
            stale.join(", ")
        )
        .into())
    }
}

/// Rewrites the files whose block differs; returns those.
fn rewrite() -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, doc) in documents()? {
        if doc.current != doc.wanted {
            std::fs::write(&path, &doc.wanted)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

struct Document {
    current: String,
    wanted: String,
}

/// Every channel's page as it is and as it should be.
fn documents() -> Result<Vec<(PathBuf, Document)>> {
    let mut docs = Vec::new();
    for descriptor in descriptors() {
        let path = root()
            .join("docs/channels")
            .join(format!("{}.md", descriptor.id));
        let current = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "reading {}: {e} (every channel has a page there, with the generated block's markers)",
                path.display()
            )
        })?;
        let block = reference(&descriptor.id, &descriptor.config_schema);
        let wanted = splice(&current, &block).map_err(|e| format!("{}: {e}", relative(&path)))?;
        docs.push((path, Document { current, wanted }));
    }
    Ok(docs)
}

/// The descriptors of the three channels. A descriptor is data: building a channel value and
/// asking for it reads no state and opens no connection, so the state dir is never touched.
fn descriptors() -> Vec<Descriptor> {
    let state = StateDir::new("unused-by-descriptors");
    vec![
        weixin::WeixinChannel::new(&state).descriptor(),
        openim::OpenimChannel::new(&state).descriptor(),
        yunxin::YunxinChannel::new(&state).descriptor(),
    ]
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `doc` with the text between its [`BEGIN`] and [`END`] lines replaced by `block`.
fn splice(doc: &str, block: &str) -> std::result::Result<String, String> {
    let start = doc
        .find(BEGIN)
        .ok_or_else(|| format!("no `{BEGIN}` line"))?;
    let body = start + BEGIN.len();
    let end = doc[body..]
        .find(END)
        .map(|at| body + at)
        .ok_or_else(|| format!("no `{END}` line after `{BEGIN}`"))?;
    Ok(format!("{}\n{block}{}", &doc[..body], &doc[end..]))
}

/// The Markdown reference of a channel section: one table for `channels.<id>`, then one per
/// nested object or map of objects, in the order the schema lists them.
fn reference(channel: &str, schema: &Value) -> String {
    let mut out = String::from(
        "<!-- Generated from the channel's config schema: edit the `///` comments of its config \
         types and run `cargo xtask docs`. -->\n",
    );
    let mut tables = Vec::new();
    collect_tables(
        schema,
        schema,
        &format!("channels.{channel}"),
        0,
        &mut tables,
    );
    for (path, object) in tables {
        out.push('\n');
        out.push_str(&table(schema, &path, object));
    }
    out
}

/// The objects that get a table of their own, depth first: `path` itself and every nested
/// object or map of objects under it.
fn collect_tables<'a>(
    root: &'a Value,
    schema: &'a Value,
    path: &str,
    depth: usize,
    tables: &mut Vec<(String, &'a Value)>,
) {
    let schema = resolve(root, schema);
    if depth > MAX_DEPTH {
        return;
    }
    tables.push((path.to_owned(), schema));
    for (key, property) in properties(schema) {
        let property = non_null(root, property);
        let child = format!("{path}.{key}");
        if has_properties(property) {
            collect_tables(root, property, &child, depth + 1, tables);
        } else if let Some(values) = map_values(root, property)
            && has_properties(values)
        {
            collect_tables(root, values, &format!("{child}.<id>"), depth + 1, tables);
        }
    }
}

fn table(root: &Value, path: &str, object: &Value) -> String {
    let mut out = format!("### `{path}`\n\n");
    if let Some(description) = description(object) {
        out.push_str(&one_line(&description));
        out.push_str("\n\n");
    }
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| key | type | default | required | description |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (key, property) in properties(object) {
        let described = resolve(root, property);
        let text = description(described)
            .or_else(|| description(non_null(root, property)))
            .unwrap_or_default();
        let mut text = one_line(&text);
        // Read before the values' own descriptions are added: one of them may say "default"
        // of itself.
        let stated_default = default_from_text(&text);
        let values = enum_descriptions(root, property);
        if !values.is_empty() {
            // One value per line: their descriptions have `;` of their own.
            text.push_str("<br>");
            text.push_str(&values.join("<br>"));
        }
        let default = described
            .get("default")
            .map(|value| format!("`{}`", literal(value)))
            .or(stated_default)
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{key}` | {} | {} | {} | {} |\n",
            cell(&type_of(root, property)),
            cell(&default),
            if required.contains(&key.as_str()) {
                "yes"
            } else {
                "no"
            },
            cell(&text),
        ));
    }
    out
}

/// Follows `$ref`s into `definitions` or `$defs` (schemars writes either, by draft).
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..MAX_DEPTH {
        let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = target.strip_prefix('#') else {
            break;
        };
        match root.pointer(pointer) {
            Some(found) => schema = found,
            None => break,
        }
    }
    schema
}

/// The schema without its `null` alternative (`Option<T>` is `anyOf: [T, null]` or
/// `type: [T, "null"]`), resolved.
fn non_null<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(root, schema);
    if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
        let rest: Vec<&Value> = variants.iter().filter(|v| !is_null(v)).collect();
        if let [only] = rest[..]
            && rest.len() < variants.len()
        {
            return non_null(root, only);
        }
    }
    schema
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn properties(schema: &Value) -> Vec<(String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|map| map.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

fn has_properties(schema: &Value) -> bool {
    !properties(schema).is_empty()
}

/// The value schema of a map (`additionalProperties` holding a schema).
fn map_values<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let values = schema.get("additionalProperties")?;
    values.is_object().then(|| non_null(root, values))
}

fn description(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A plain description of a type: `integer (≥ 10, ≤ 172800) or null`, `array of string`,
/// `` `http`, `hook` or `off` ``, `map of object`.
fn type_of(root: &Value, schema: &Value) -> String {
    alternatives(type_parts(root, schema, 0))
}

/// The alternatives of a type, `null` last.
fn type_parts(root: &Value, schema: &Value, depth: usize) -> Vec<String> {
    let schema = resolve(root, schema);
    if depth > MAX_DEPTH {
        return vec!["object".into()];
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().map(|v| format!("`{}`", literal(v))).collect();
    }
    if let Some(value) = schema.get("const") {
        return vec![format!("`{}`", literal(value))];
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let mut parts: Vec<String> = Vec::new();
            // A variant that is itself a choice reads as its parts.
            for part in variants.iter().flat_map(|v| type_parts(root, v, depth + 1)) {
                if !parts.contains(&part) {
                    parts.push(part);
                }
            }
            if let Some(at) = parts.iter().position(|p| p == "null") {
                let null = parts.remove(at);
                parts.push(null);
            }
            return parts;
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return vec!["any JSON value".into()];
    }
    let bounds = bounds(schema);
    let mut parts: Vec<String> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "array" => match schema.get("items") {
                Some(items) => format!("array of {}", grouped(root, items, depth)),
                None => "array".into(),
            },
            "object" => match map_values(root, schema) {
                Some(values) if has_properties(values) => "map of object".into(),
                Some(values) => format!("map of {}", grouped(root, values, depth)),
                None => "object".into(),
            },
            "integer" | "number" if !bounds.is_empty() => format!("{t} ({bounds})"),
            other => other.to_owned(),
        })
        .collect();
    if types.contains(&"null") {
        parts.push("null".into());
    }
    parts
}

/// An element type, in parentheses when it is a choice: `array of (string or integer)`.
fn grouped(root: &Value, schema: &Value, depth: usize) -> String {
    let parts = type_parts(root, schema, depth + 1);
    if parts.len() > 1 {
        format!("({})", alternatives(parts))
    } else {
        alternatives(parts)
    }
}

/// `a`, `a or b`, `a, b or c`.
fn alternatives(items: Vec<String>) -> String {
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A JSON value as written in config: strings without their quotes.
fn literal(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `≥ 10, ≤ 172800`, `> 0`.
fn bounds(schema: &Value) -> String {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64).map(plain_number);
    let mut parts = Vec::new();
    if let Some(min) = number("minimum") {
        parts.push(format!("≥ {min}"));
    }
    if let Some(min) = number("exclusiveMinimum") {
        parts.push(format!("> {min}"));
    }
    if let Some(max) = number("maximum") {
        parts.push(format!("≤ {max}"));
    }
    if let Some(max) = number("exclusiveMaximum") {
        parts.push(format!("< {max}"));
    }
    parts.join(", ")
}

/// `1048576.0` as `1048576`: the schema writes some bounds as floats.
fn plain_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The values of an enum written as `oneOf` constants with descriptions:
/// `` `http`: Request a new token… ``.
fn enum_descriptions(root: &Value, schema: &Value) -> Vec<String> {
    let schema = non_null(root, schema);
    let Some(variants) = schema.get("oneOf").and_then(Value::as_array) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter_map(|variant| {
            let variant = resolve(root, variant);
            let value = variant
                .get("const")
                .or_else(|| variant.get("enum")?.as_array()?.first())?;
            let text = description(variant)?;
            let text = one_line(&text);
            Some(format!("`{}`: {text}", literal(value)))
        })
        .collect()
}

/// The default a description states. The config fields are `Option`s whose defaults are
/// applied in code, so the schema carries no `default`; the doc comments say it in one of
/// three ways: "Default 2000." (up to the end of the sentence or a `;`), "(default true)",
/// or "`pairing` (default)". A sentence ends at a `.` before a capital letter or at the end,
/// so "i.e." and a `.` inside a code span do not end it.
fn default_from_text(text: &str) -> Option<String> {
    let outside = outside_code(text);
    for (at, _) in text.match_indices("Default") {
        let sentence_start = at == 0 || text[..at].ends_with(". ");
        if !sentence_start || !outside[at] {
            continue;
        }
        let rest = text[at + "Default".len()..].trim_start_matches(':');
        let rest = rest.trim_start();
        let offset = text.len() - rest.len();
        let end = rest
            .char_indices()
            .find(|(i, c)| {
                outside[offset + i] && (*c == ';' || (*c == '.' && ends_sentence(&rest[i + 1..])))
            })
            .map_or(rest.len(), |(i, _)| i);
        let value = rest[..end].trim().trim_end_matches('.').trim();
        if !value.is_empty() {
            return Some(value.to_owned());
        }
    }
    if let Some(at) = text.find("(default ") {
        let rest = &text[at + "(default ".len()..];
        if let Some(end) = rest.find(')') {
            return Some(rest[..end].split([';', ':']).next()?.trim().to_owned());
        }
    }
    if let Some(at) = text.find(" (default)") {
        let before = &text[..at];
        if before.ends_with('`')
            && let Some(open) = before[..before.len() - 1].rfind('`')
        {
            return Some(before[open..].to_owned());
        }
    }
    None
}

/// Whether what follows a `.` starts a new sentence (or nothing follows).
fn ends_sentence(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        None => true,
        Some(' ') => chars.next().is_none_or(char::is_uppercase),
        Some(_) => false,
    }
}

/// For each byte of `text`: whether it lies outside a `code span` (so a `.` inside a file
/// name ends no sentence).
fn outside_code(text: &str) -> Vec<bool> {
    let mut inside = false;
    let mut flags = Vec::with_capacity(text.len() + 1);
    for byte in text.bytes() {
        if byte == b'`' {
            inside = !inside;
        }
        flags.push(!inside);
    }
    flags.push(true);
    flags
}

/// Doc comments wrap lines; a table cell cannot.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table cell: `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shapes schemars writes, in both dialects: `$ref` into `definitions` and `$defs`,
    /// `Option<T>` as `anyOf` with null and as a type list, enums as `enum` and as described
    /// `oneOf` constants, defaults in the schema and in the text, a required key, a map of
    /// objects and a nested object.
    fn sample() -> Value {
        json!({
            "description": "Settings of the sample channel.",
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"description": "The login token.", "type": "string"},
                "limit": {
                    "description": "Longest text, in characters.\nDefault 2000.",
                    "type": ["integer", "null"], "minimum": 1, "maximum": 4000.0
                },
                "mode": {"anyOf": [{"$ref": "#/definitions/Mode"}, {"type": "null"}],
                         "description": "How to refresh."},
                "policy": {"$ref": "#/$defs/Policy"},
                "when": {"type": "string", "enum": ["now", "later"], "default": "now"},
                "enabled": {"description": "Enable or disable (default true).",
                            "type": ["boolean", "null"]},
                "id": {"anyOf": [{"type": "string"}, {"type": "integer"}],
                       "description": "A | separated thing."},
                "extra": {"description": "Anything (kept for compatibility)."},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                "headers": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                "server": {"anyOf": [{"$ref": "#/definitions/Server"}, {"type": "null"}]},
                "accounts": {
                    "description": "Accounts by name.",
                    "type": "object",
                    "additionalProperties": {"$ref": "#/definitions/Account"}
                }
            },
            "definitions": {
                "Mode": {"oneOf": [
                    {"const": "http", "type": "string", "description": "Ask an endpoint."},
                    {"const": "off", "type": "string", "description": "Do not try."}
                ]},
                "Server": {
                    "description": "Where the server is.",
                    "type": "object",
                    "properties": {"url": {"description": "Base URL. Default `https://a.example/v1.2`.",
                                           "type": ["string", "null"]}}
                },
                "Account": {
                    "type": "object",
                    "properties": {"token": {"type": ["string", "null"]}}
                }
            },
            "$defs": {
                "Policy": {"description": "Who may write: `pairing` (default) or `open`.",
                           "type": "string", "enum": ["pairing", "open"]}
            }
        })
    }

    #[test]
    fn renders_the_sample() {
        insta::assert_snapshot!(reference("sample", &sample()));
    }

    #[test]
    fn defaults_come_from_the_three_phrasings() {
        let cases = [
            ("Longest text. Default 2000.", Some("2000")),
            ("Minutes. Default 30.", Some("30")),
            (
                "Seconds. Default 1800. A reply that comes later is still delivered.",
                Some("1800"),
            ),
            ("Default true; accounts may override it.", Some("true")),
            (
                "Longest wait. Default 300000 (5 minutes).",
                Some("300000 (5 minutes)"),
            ),
            (
                "Where. Default `~/.openclaw/x/manual-login.json`, i.e. `manual-login.<id>.json`.",
                Some("`~/.openclaw/x/manual-login.json`, i.e. `manual-login.<id>.json`"),
            ),
            (
                "The user id. Default: the token's `UserID` claim.",
                Some("the token's `UserID` claim"),
            ),
            ("Enable or disable (default true).", Some("true")),
            ("`http`, `hook` (default) or `off`.", Some("`hook`")),
            ("No default is said here.", None),
            ("A `Default 5.` inside code is no default.", None),
        ];
        for (text, expected) in cases {
            assert_eq!(default_from_text(text).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn splice_replaces_only_the_block() {
        let doc = format!("# Title\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n");
        let new = splice(&doc, "new\n").expect("markers");
        assert_eq!(
            new,
            format!("# Title\n\nprose\n\n{BEGIN}\nnew\n{END}\n\nmore prose\n")
        );
        assert_eq!(splice(&new, "new\n").expect("markers"), new, "idempotent");
        assert!(splice("no markers", "x").is_err());
        assert!(splice(&format!("{BEGIN}\nno end"), "x").is_err());
    }

    #[test]
    fn every_channel_renders_a_table_per_nested_object() {
        for descriptor in descriptors() {
            let text = reference(&descriptor.id, &descriptor.config_schema);
            assert!(
                text.contains(&format!("### `channels.{}`", descriptor.id)),
                "{text}"
            );
            assert!(
                text.contains(&format!("### `channels.{}.accounts.<id>`", descriptor.id)),
                "{text}"
            );
            assert!(!text.contains("$ref"), "{text}");
        }
    }
}
