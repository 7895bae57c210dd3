//! JSON Schemas of config types, in the plainest dialect every validator reads.

use schemars::JsonSchema;
use serde_json::Value;

/// Draft-07, subschemas inlined (no `$ref`), and no non-standard `format`s such as `int64`
/// (strict validators reject unknown formats).
pub fn for_type<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    strip_formats(&mut value);
    value
}

fn strip_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f))
            {
                map.remove("format");
            }
            map.values_mut().for_each(strip_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_formats),
        _ => {}
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
