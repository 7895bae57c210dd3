//! Request-body and header helpers shared by every simulator.
//!
//! Simulators must never panic on what a client sends, and a client author debugging against them
//! wants to know *which* field was wrong, so body access goes through [`Obj`], whose errors name the
//! full path of the offending field.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A client error answered with HTTP 400 and `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest(pub String);

impl BadRequest {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": self.0 }))).into_response()
    }
}

/// Parses a request body that must be a JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BadRequest::new(
            "request body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(BadRequest::new(format!(
            "request body must be a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(BadRequest::new(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// A borrowed JSON object plus the dotted path that leads to it, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn root(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            path: String::new(),
        }
    }

    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value; JSON `null` counts as absent, which is how lenient real servers treat it.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> BadRequest {
        BadRequest::new(format!(
            "field `{}` must be {expected}, got {}",
            self.field_path(key),
            kind(got)
        ))
    }

    pub(crate) fn missing(&self, key: &str) -> BadRequest {
        BadRequest::new(format!("field `{}` is required", self.field_path(key)))
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(key, "a non-negative integer", v)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(key, "a boolean", other)),
        }
    }

    /// A uint64 id, accepted as a JSON number or a decimal string (the lossless form JS clients use).
    pub(crate) fn id(&self, key: &str) -> Result<Option<u64>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
                self.wrong_type(
                    key,
                    "a uint64 (number or decimal string)",
                    &Value::String(s.clone()),
                )
            }),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(key, "a uint64 (number or decimal string)", v)),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Obj<'a>>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: self.field_path(key),
            })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a [Value]>, BadRequest> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }

    /// The `index`-th element of array field `key`, as an object.
    pub(crate) fn element(
        &self,
        key: &str,
        index: usize,
        value: &'a Value,
    ) -> Result<Obj<'a>, BadRequest> {
        let path = format!("{}[{index}]", self.field_path(key));
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(BadRequest::new(format!(
                "field `{path}` must be an object, got {}",
                kind(other)
            ))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Headers as a sorted map with lower-cased names; repeated headers are joined with ", ".
pub(crate) fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970, which never matters here).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_nested_field() {
        let map = parse_object(br#"{"msg":{"to_user_id":5,"item_list":[1]}}"#).unwrap();
        let root = Obj::root(&map);
        let msg = root.object("msg").unwrap().unwrap();
        assert_eq!(
            msg.str("to_user_id").unwrap_err().0,
            "field `msg.to_user_id` must be a string, got a number"
        );
        let items = msg.array("item_list").unwrap().unwrap();
        let err = msg.element("item_list", 0, &items[0]).unwrap_err();
        assert_eq!(
            err.0,
            "field `msg.item_list[0]` must be an object, got a number"
        );
    }

    #[test]
    fn non_object_bodies_are_rejected() {
        assert!(parse_object(b"").is_err());
        assert!(parse_object(b"[1]").unwrap_err().0.contains("an array"));
        assert!(parse_object(b"{").unwrap_err().0.contains("not valid JSON"));
    }

    #[test]
    fn ids_accept_numbers_and_strings() {
        let map = parse_object(br#"{"a":18446744073709551615,"b":"7","c":-1,"d":null}"#).unwrap();
        let root = Obj::root(&map);
        assert_eq!(root.id("a").unwrap(), Some(u64::MAX));
        assert_eq!(root.id("b").unwrap(), Some(7));
        assert!(root.id("c").is_err());
        assert_eq!(root.id("d").unwrap(), None);
    }
}
