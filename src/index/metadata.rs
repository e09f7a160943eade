//! A document's metadata: named values (string, number, boolean, date, list of strings) stored
//! with the document, carried by each of its passages and matched by filters
//! ([`super::condition`]).
//!
//! Values are kept as JSON so they go back to clients exactly as they came (a year stays `2025`,
//! never `2025.0`); what may be stored is checked once, at the edge, by [`Metadata::parse`].
//! A date is a string in RFC 3339 or `YYYY-MM-DD`, recognised where filters compare.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{MAX_META_KEYS, MAX_META_KEY_BYTES, MAX_META_LIST, MAX_META_VALUE_BYTES};

/// Names that filters use for the document itself, so no metadata key may take them.
pub const RESERVED: [&str; 4] = ["doc", "title", "section", "id"];

/// A document's metadata, keys in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, Value>);

impl Metadata {
    /// Checks what a client sent: at most [`MAX_META_KEYS`] keys of 1 to [`MAX_META_KEY_BYTES`]
    /// bytes (no control characters, none of [`RESERVED`]), each value a string of at most
    /// [`MAX_META_VALUE_BYTES`], a number, a boolean, or a list of at most [`MAX_META_LIST`]
    /// such strings. The message names the key at fault.
    pub fn parse(map: serde_json::Map<String, Value>) -> Result<Self, String> {
        if map.len() > MAX_META_KEYS {
            return Err(format!(
                "metadata may have at most {MAX_META_KEYS} keys ({} given)",
                map.len()
            ));
        }
        for (k, v) in &map {
            check_key(k)?;
            check_value(k, v)?;
        }
        Ok(Metadata(map.into_iter().collect()))
    }

    /// [`Self::parse`] of a JSON value, which must be an object.
    pub fn from_json(v: Value) -> Result<Self, String> {
        match v {
            Value::Object(map) => Self::parse(map),
            Value::Null => Ok(Metadata::default()),
            other => Err(format!(
                "metadata must be an object of keys and values, not {}",
                kind(&other)
            )),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keys and values, keys in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// This metadata with a JSON merge patch applied (RFC 7396, one level): a key set to null is
    /// removed, any other replaces its value. The result is checked as [`Self::parse`] checks.
    pub fn patched(&self, patch: serde_json::Map<String, Value>) -> Result<Self, String> {
        let mut map: serde_json::Map<String, Value> = self.0.clone().into_iter().collect();
        for (k, v) in patch {
            if v.is_null() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
        }
        Self::parse(map)
    }

    /// As a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone().into_iter().collect())
    }
}

impl FromIterator<(String, Value)> for Metadata {
    /// Unchecked: for values this program made (see [`Metadata::parse`] for a client's).
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        Metadata(iter.into_iter().collect())
    }
}

/// A `key=value` of the command line: a value that reads as JSON (a number, `true`, a list
/// `["a","b"]`, a quoted string) is that value; any other is the text itself.
pub fn parse_assignment(s: &str) -> Result<(String, Value), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("metadata {s:?} is not key=value"))?;
    let value = match serde_json::from_str::<Value>(v) {
        Ok(j @ (Value::Number(_) | Value::Bool(_) | Value::String(_) | Value::Array(_))) => j,
        _ => Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}

/// Checks a key as every metadata key is checked (its size, no control character, not a
/// reserved name); the message says what is wrong.
pub(crate) fn check_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.len() > MAX_META_KEY_BYTES {
        return Err(format!(
            "a metadata key must have 1 to {MAX_META_KEY_BYTES} bytes ({:?} has {})",
            truncate(k),
            k.len()
        ));
    }
    if k.chars().any(char::is_control) {
        return Err(format!(
            "metadata key {:?} holds a control character",
            truncate(k)
        ));
    }
    if RESERVED.contains(&k) {
        return Err(format!(
            "metadata key {k:?} is reserved (filters use it for the document's own {k})"
        ));
    }
    Ok(())
}

/// Checks a value of key `k` as every metadata value is checked (its kind and size).
pub(crate) fn check_value(k: &str, v: &Value) -> Result<(), String> {
    let long = |s: &str| s.len() > MAX_META_VALUE_BYTES;
    match v {
        Value::Bool(_) | Value::Number(_) => Ok(()),
        Value::String(s) if long(s) => Err(format!(
            "metadata {k:?}: a value may have at most {MAX_META_VALUE_BYTES} bytes ({} given)",
            s.len()
        )),
        Value::String(_) => Ok(()),
        Value::Array(items) => {
            if items.len() > MAX_META_LIST {
                return Err(format!(
                    "metadata {k:?}: a list may have at most {MAX_META_LIST} items ({} given)",
                    items.len()
                ));
            }
            for item in items {
                match item {
                    Value::String(s) if long(s) => {
                        return Err(format!(
                            "metadata {k:?}: a list item may have at most \
                             {MAX_META_VALUE_BYTES} bytes ({} given)",
                            s.len()
                        ))
                    }
                    Value::String(_) => {}
                    other => {
                        return Err(format!(
                            "metadata {k:?}: a list holds strings only, not {}",
                            kind(other)
                        ))
                    }
                }
            }
            Ok(())
        }
        other => Err(format!(
            "metadata {k:?}: a value is a string, number, boolean or list of strings, not {}",
            kind(other)
        )),
    }
}

/// How messages name a JSON value's type.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Metadata, String> {
        Metadata::from_json(v)
    }

    #[test]
    fn values_of_every_kind_round_trip_unchanged() {
        let v = json!({"year": 2025, "rate": 0.5, "public": true, "dept": "交通局",
                       "tags": ["plan", "transport"], "date": "2025-03-01"});
        let m = parse(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&m).unwrap(), v);
        assert!(serde_json::to_string(&m)
            .unwrap()
            .ends_with("\"year\":2025}"));
        assert!(parse(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn what_cannot_be_stored_is_refused_by_name() {
        let err = |v: Value| parse(v).unwrap_err();
        assert!(err(json!(["a"])).contains("must be an object"));
        assert!(err(json!({"a": null})).contains("\"a\": a value is a string"));
        assert!(err(json!({"a": {"b": 1}})).contains("not an object"));
        assert!(err(json!({"a": [1]})).contains("strings only, not a number"));
        assert!(err(json!({"title": "x"})).contains("reserved"));
        assert!(err(json!({"": 1})).contains("1 to 64 bytes"));
        assert!(err(json!({"a\nb": 1})).contains("control character"));
        let long = "x".repeat(MAX_META_VALUE_BYTES + 1);
        assert!(err(json!({ "a": long })).contains("at most 1024 bytes (1025 given)"));
        assert!(err(json!({ "a": [long] })).contains("list item"));
        let many: serde_json::Map<String, Value> = (0..=MAX_META_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        assert!(Metadata::parse(many)
            .unwrap_err()
            .contains("at most 64 keys (65 given)"));
        let list: Vec<String> = (0..=MAX_META_LIST).map(|i| i.to_string()).collect();
        assert!(err(json!({ "a": list })).contains("at most 64 items"));
    }

    #[test]
    fn a_patch_sets_and_removes_keys() {
        let m = parse(json!({"a": 1, "b": "x"})).unwrap();
        let p = m
            .patched(json!({"b": null, "c": true}).as_object().unwrap().clone())
            .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"a": 1, "c": true})
        );
        assert!(m
            .patched(json!({"doc": 1}).as_object().unwrap().clone())
            .is_err());
    }

    #[test]
    fn command_line_assignments() {
        assert_eq!(
            parse_assignment("year=2025").unwrap(),
            ("year".into(), json!(2025))
        );
        assert_eq!(parse_assignment("p=true").unwrap().1, json!(true));
        assert_eq!(parse_assignment("d=交通局").unwrap().1, json!("交通局"));
        assert_eq!(
            parse_assignment("t=[\"a\",\"b\"]").unwrap().1,
            json!(["a", "b"])
        );
        assert_eq!(parse_assignment("u=a=b").unwrap().1, json!("a=b"));
        assert!(parse_assignment("novalue").is_err());
    }
}
