//! Dify's `metadata_condition` in the filter language: every operator Dify's knowledge
//! retrieval sends, over metadata keys and the built-in `doc` (Dify users also write
//! `document`).

use serde_json::Value;

use super::chatbot::{DifyCondition, DifyMetadataCondition};
use crate::index::condition::Condition;

/// The condition Dify means: its conditions joined by `logical_operator` (`and` by default).
/// A condition naming several keys holds when it holds for any of them.
pub fn condition(cond: &DifyMetadataCondition) -> Result<Condition, String> {
    let parts = cond
        .conditions
        .iter()
        .map(one)
        .collect::<Result<Vec<_>, _>>()?;
    let or = match cond.logical_operator.as_deref() {
        None => false,
        Some(o) if o.eq_ignore_ascii_case("and") => false,
        Some(o) if o.eq_ignore_ascii_case("or") => true,
        Some(o) => return Err(format!("unknown logical_operator {o:?} (and, or)")),
    };
    let json = serde_json::json!({"type": if or { "or" } else { "and" }, "filters": parts});
    Condition::parse(&json)
}

/// One Dify condition as a filter-language JSON condition.
fn one(c: &DifyCondition) -> Result<Value, String> {
    if c.name.is_empty() {
        return Err("a metadata condition names no key".into());
    }
    let each = c
        .name
        .iter()
        .map(|n| {
            let key = if n == "document" { "doc" } else { n.as_str() };
            compare(key, &c.comparison_operator, c.value.as_ref())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if each.len() == 1 {
        each.into_iter().next().unwrap_or_default()
    } else {
        serde_json::json!({"type": "or", "filters": each})
    })
}

fn compare(key: &str, op: &str, value: Option<&Value>) -> Result<Value, String> {
    use serde_json::json;
    let need = || {
        value
            .filter(|v| !v.is_null())
            .cloned()
            .ok_or_else(|| format!("metadata condition {key:?} {op} needs a value"))
    };
    // Dify sends numbers of number fields as strings at times ("2025"); compared as numbers.
    let number = || -> Result<Value, String> {
        let v = need()?;
        Ok(match &v {
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(v.clone(), Value::Number),
            _ => v,
        })
    };
    // Dify's time fields are Unix seconds; metadata dates are strings.
    let time = || -> Result<Value, String> {
        let v = need()?;
        match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(secs) => jiff::Timestamp::from_second(secs)
                .map(|t| Value::String(t.to_string()))
                .map_err(|_| format!("metadata condition {key:?} {op}: time out of range")),
            None => Ok(v),
        }
    };
    let cmp = |ty: &str, v: Value| json!({"type": ty, "key": key, "value": v});
    let not = |c: Value| json!({"type": "not", "filter": c});
    Ok(match op {
        "is" => cmp("eq", need()?),
        "is not" => cmp("ne", need()?),
        "contains" => cmp("contains", need()?),
        "not contains" => not(cmp("contains", need()?)),
        "start with" => cmp("starts_with", need()?),
        "end with" => cmp("ends_with", need()?),
        "empty" => json!({"type": "empty", "key": key}),
        "not empty" => not(json!({"type": "empty", "key": key})),
        "=" => cmp("eq", number()?),
        "≠" | "!=" => cmp("ne", number()?),
        ">" => cmp("gt", number()?),
        "<" => cmp("lt", number()?),
        "≥" | ">=" => cmp("gte", number()?),
        "≤" | "<=" => cmp("lte", number()?),
        "before" => cmp("lt", time()?),
        "after" => cmp("gt", time()?),
        "in" => cmp("in", need()?),
        "not in" => cmp("nin", need()?),
        other => {
            return Err(format!(
                "unknown comparison_operator {other:?} (contains, not contains, start with, \
                 end with, is, is not, empty, not empty, =, ≠, >, <, ≥, ≤, before, after, in, \
                 not in)"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{condition::DocView, Metadata};
    use serde_json::json;

    fn dify(v: Value) -> Result<Condition, String> {
        condition(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn every_operator_maps() {
        let m = Metadata::from_json(json!({"dept": "transport bureau", "year": 2025,
            "date": "2025-03-01", "tags": ["bus"], "blank": ""}))
        .unwrap();
        let view = DocView {
            doc: "plan",
            title: "Plan",
            metadata: &m,
            section: None,
        };
        let holds = |op: &str, name: &str, value: Value| {
            dify(json!({"conditions": [{"name": [name], "comparison_operator": op, "value": value}]}))
                .unwrap()
                .matches(view)
        };
        assert!(holds("is", "dept", json!("transport bureau")));
        assert!(holds("is not", "dept", json!("health")));
        assert!(holds("contains", "dept", json!("port")));
        assert!(holds("not contains", "dept", json!("health")));
        assert!(holds("start with", "dept", json!("trans")));
        assert!(holds("end with", "dept", json!("bureau")));
        assert!(holds("empty", "blank", Value::Null));
        assert!(holds("not empty", "dept", Value::Null));
        assert!(holds("=", "year", json!("2025")));
        assert!(holds("≠", "year", json!(2024)));
        assert!(holds(">", "year", json!(2024)));
        assert!(holds("<", "year", json!("2026")));
        assert!(holds("≥", "year", json!(2025)));
        assert!(holds("≤", "year", json!(2025)));
        assert!(holds("before", "date", json!(1_800_000_000)));
        assert!(holds("after", "date", json!("2024-12-31")));
        assert!(holds("in", "dept", json!(["x", "transport bureau"])));
        assert!(holds("not in", "dept", json!(["x"])));
        assert!(holds("is", "document", json!("plan")));
        assert!(!holds("is", "doc", json!("other")));
    }

    #[test]
    fn joins_and_errors() {
        let c = |op: &str, v: &str| json!({"name": ["doc"], "comparison_operator": op, "value": v});
        let any =
            dify(json!({"logical_operator": "or", "conditions": [c("is", "a"), c("is", "b")]}))
                .unwrap();
        let m = Metadata::default();
        assert!(any.matches(DocView {
            doc: "b",
            title: "",
            metadata: &m,
            section: None,
        }));
        let both = dify(json!({"conditions": [c("is", "a"), c("is", "b")]})).unwrap();
        assert!(!both.matches(DocView {
            doc: "b",
            title: "",
            metadata: &m,
            section: None,
        }));
        assert!(dify(json!({"conditions": [c("like", "a")]}))
            .unwrap_err()
            .contains("unknown comparison_operator \"like\""));
        assert!(dify(json!({"logical_operator": "xor", "conditions": []})).is_err());
        assert!(
            dify(json!({"conditions": [{"name": ["a"], "comparison_operator": "is"}]}))
                .unwrap_err()
                .contains("needs a value")
        );
    }
}
