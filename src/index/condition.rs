//! The filter language: conditions over a document's id, title and metadata, combined with
//! `and`, `or` and `not`. Every edge maps its own filter shape onto this one (the JSON of
//! `/search` is OpenAI's comparison and compound filters, Dify's `metadata_condition` is
//! translated), and a search resolves it against the snapshot's documents into the
//! [`DocFilter`] the stores evaluate inside the search (see [`Condition::resolve`]).
//!
//! A condition on a field a document lacks is false, so `ne`, `nin`, `empty` and `not` are what
//! match such documents. Numbers compare as numbers; strings that are dates (RFC 3339 or
//! `YYYY-MM-DD`) compare as instants (a date is its midnight, UTC); a list field matches `eq`,
//! `in` and `contains` when one of its items does.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use super::metadata::{kind, Metadata};
use super::{DocFilter, DocumentInfo};
use crate::config::{MAX_FILTER_CONDITIONS, MAX_FILTER_DEPTH, MAX_FILTER_DOCS};
pub use date::instant;

/// A comparison of a field with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (for a list field: holds the value).
    Eq,
    /// Not equal (true when the field is missing).
    Ne,
    /// Greater than (numbers and dates).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list (true when the field is missing).
    Nin,
    /// A list field holds the value, or a string field holds it as a substring.
    Contains,
    /// A string field starts with the value.
    StartsWith,
    /// A string field ends with the value.
    EndsWith,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            "contains" => Op::Contains,
            "starts_with" => Op::StartsWith,
            "ends_with" => Op::EndsWith,
            _ => return None,
        })
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field op value`.
    Compare {
        /// `doc`, `title` or a metadata key.
        key: String,
        /// The comparison.
        op: Op,
        /// A string, number or boolean; a list of them for `in` and `nin`.
        value: Value,
    },
    /// The field is present.
    Exists(String),
    /// The field is missing, `""` or `[]`.
    Empty(String),
    /// Every condition holds (true when there are none).
    And(Vec<Condition>),
    /// At least one holds (false when there are none).
    Or(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

/// What a condition reads of a document.
#[derive(Debug, Clone, Copy)]
pub struct DocView<'a> {
    /// Id.
    pub doc: &'a str,
    /// Title.
    pub title: &'a str,
    /// Metadata.
    pub metadata: &'a Metadata,
    /// The section heading of the passages judged; None for passages outside any section, and
    /// when a document is judged as a whole.
    pub section: Option<&'a str>,
}

impl<'a> From<&'a DocumentInfo> for DocView<'a> {
    fn from(d: &'a DocumentInfo) -> Self {
        DocView {
            doc: &d.doc,
            title: &d.title,
            metadata: &d.metadata,
            section: None,
        }
    }
}

impl Condition {
    /// Every document.
    pub fn all() -> Self {
        Condition::And(Vec::new())
    }

    /// Passages of document `doc` (the `doc` field equal to it).
    pub fn doc(doc: impl Into<String>) -> Self {
        Condition::Compare {
            key: "doc".into(),
            op: Op::Eq,
            value: Value::String(doc.into()),
        }
    }

    /// Both conditions.
    pub fn and(self, other: Condition) -> Self {
        match (self, other) {
            (Condition::And(a), c) if a.is_empty() => c,
            (c, Condition::And(b)) if b.is_empty() => c,
            (a, b) => Condition::And(vec![a, b]),
        }
    }

    /// Reads a filter expression:
    /// `{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin"|"contains"|"starts_with"|"ends_with",
    /// "key": K, "value": V}`, `{"type": "exists"|"empty", "key": K}`,
    /// `{"type": "and"|"or", "filters": [...]}` and `{"type": "not", "filter": F}`; the older
    /// `{"doc": D}` and `{"docs": [...]}` mean `doc eq D` and `doc in [...]`. Bounded: at most
    /// [`MAX_FILTER_CONDITIONS`] conditions (list items count), [`MAX_FILTER_DEPTH`] levels,
    /// and [`MAX_FILTER_DOCS`] documents named by `doc` conditions.
    pub fn parse(v: &Value) -> Result<Self, String> {
        let mut budget = MAX_FILTER_CONDITIONS;
        let c = parse(v, 0, &mut budget).map_err(|e| format!("filter: {e}"))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks a condition built in code as [`Self::parse`] checks one read: at most
    /// [`MAX_FILTER_DOCS`] documents named.
    pub fn validate(&self) -> Result<(), String> {
        let named = self.named_docs();
        if named > MAX_FILTER_DOCS {
            return Err(format!(
                "a filter may name at most {MAX_FILTER_DOCS} documents ({named} given)"
            ));
        }
        Ok(())
    }

    /// True when document `d` passes.
    pub fn matches(&self, d: DocView<'_>) -> bool {
        match self {
            Condition::And(cs) => cs.iter().all(|c| c.matches(d)),
            Condition::Or(cs) => cs.iter().any(|c| c.matches(d)),
            Condition::Not(c) => !c.matches(d),
            Condition::Exists(key) => field(d, key).is_some(),
            Condition::Empty(key) => match field(d, key).as_deref() {
                None => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(_) => false,
            },
            Condition::Compare { key, op, value } => {
                let f = field(d, key);
                let f = f.as_deref();
                match op {
                    Op::Ne => !f.is_some_and(|f| equal(f, value)),
                    Op::Nin => !f.is_some_and(|f| one_of(f, value)),
                    _ => f.is_some_and(|f| compare(f, *op, value)),
                }
            }
        }
    }

    /// The documents this accepts, as the stores filter: the ids named when the condition is
    /// only `doc` equalities and lists (no document list read), else every document of
    /// `documents()` that passes.
    pub fn resolve<F>(&self, documents: F) -> Result<DocFilter, super::StoreError>
    where
        F: FnOnce() -> Result<Vec<DocumentInfo>, super::StoreError>,
    {
        if let Some(f) = self.as_doc_filter() {
            return Ok(f);
        }
        let docs = documents()?;
        Ok(self.resolve_views(|| docs.iter().map(DocView::from)))
    }

    /// [`Condition::resolve`] over borrowed views of the documents.
    pub fn resolve_views<'a, I>(&self, views: impl FnOnce() -> I) -> DocFilter
    where
        I: Iterator<Item = DocView<'a>>,
    {
        if let Some(f) = self.as_doc_filter() {
            return f;
        }
        // Sorted first: a set built from sorted ids is built in one pass.
        let mut ids: Vec<String> = views()
            .filter(|d| self.matches(*d))
            .map(|d| d.doc.to_string())
            .collect();
        ids.sort_unstable();
        DocFilter::set(ids.into_iter().collect())
    }

    /// The same filter as a set of ids, when it is one (`doc eq`, `doc in`, their `and`s, and
    /// the empty `and`).
    fn as_doc_filter(&self) -> Option<DocFilter> {
        match self {
            Condition::And(cs) => cs
                .iter()
                .try_fold(DocFilter::All, |acc, c| Some(acc.and(c.as_doc_filter()?))),
            Condition::Compare { key, op, value } if key == "doc" => match (op, value) {
                (Op::Eq, Value::String(s)) => Some(DocFilter::ids([s.clone()])),
                (Op::In, Value::Array(items)) => {
                    let ids: Option<BTreeSet<String>> =
                        items.iter().map(|i| i.as_str().map(String::from)).collect();
                    ids.map(DocFilter::set)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Documents named by `doc` conditions (what [`MAX_FILTER_DOCS`] bounds).
    fn named_docs(&self) -> usize {
        match self {
            Condition::And(cs) | Condition::Or(cs) => cs.iter().map(Self::named_docs).sum(),
            Condition::Not(c) => c.named_docs(),
            Condition::Compare { key, value, .. } if key == "doc" => match value {
                Value::Array(a) => a.len(),
                _ => 1,
            },
            _ => 0,
        }
    }
}

impl From<DocFilter> for Condition {
    fn from(f: DocFilter) -> Self {
        match f.named() {
            None => Condition::all(),
            Some(ids) => Condition::Compare {
                key: "doc".into(),
                op: Op::In,
                value: Value::Array(ids.iter().cloned().map(Value::String).collect()),
            },
        }
    }
}

fn parse(v: &Value, depth: usize, budget: &mut usize) -> Result<Condition, String> {
    if depth > MAX_FILTER_DEPTH {
        return Err(format!("nested deeper than {MAX_FILTER_DEPTH} levels"));
    }
    let spend = |budget: &mut usize, n: usize| {
        *budget = budget.checked_sub(n).ok_or_else(|| {
            format!("more than {MAX_FILTER_CONDITIONS} conditions (list items count)")
        })?;
        Ok::<(), String>(())
    };
    spend(budget, 1)?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("a condition is an object, not {}", kind(v)))?;
    let Some(ty) = obj.get("type") else {
        return legacy(obj, budget, spend);
    };
    let ty = ty.as_str().ok_or("\"type\" must be a string")?;
    let allowed = |keys: &[&str]| match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field `{k}` in a {ty:?} condition")),
        None => Ok(()),
    };
    let key = || -> Result<String, String> {
        match obj.get("key") {
            Some(Value::String(k)) if !k.is_empty() => Ok(k.clone()),
            Some(Value::String(_)) | None => Err(format!("a {ty:?} condition needs a \"key\"")),
            Some(other) => Err(format!("\"key\" must be a string, not {}", kind(other))),
        }
    };
    match ty {
        "and" | "or" => {
            allowed(&["type", "filters"])?;
            let items = obj
                .get("filters")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("an {ty:?} condition needs a \"filters\" list"))?;
            let cs = items
                .iter()
                .map(|c| parse(c, depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if ty == "and" {
                Condition::And(cs)
            } else {
                Condition::Or(cs)
            })
        }
        "not" => {
            allowed(&["type", "filter"])?;
            let inner = obj
                .get("filter")
                .ok_or("a \"not\" condition needs a \"filter\"")?;
            Ok(Condition::Not(Box::new(parse(inner, depth + 1, budget)?)))
        }
        "exists" | "empty" => {
            allowed(&["type", "key"])?;
            let key = key()?;
            Ok(if ty == "exists" {
                Condition::Exists(key)
            } else {
                Condition::Empty(key)
            })
        }
        _ => {
            let op = Op::parse(ty).ok_or_else(|| {
                format!(
                    "unknown condition type {ty:?} (eq, ne, gt, gte, lt, lte, in, nin, contains, \
                     starts_with, ends_with, exists, empty, and, or, not)"
                )
            })?;
            allowed(&["type", "key", "value"])?;
            let key = key()?;
            let value = obj
                .get("value")
                .ok_or_else(|| format!("a {ty:?} condition needs a \"value\""))?
                .clone();
            check_operand(ty, op, &value)?;
            if let Value::Array(a) = &value {
                spend(budget, a.len())?;
            }
            Ok(Condition::Compare { key, op, value })
        }
    }
}

/// `{"doc": D, "docs": [...]}`: the filter of the first contract.
fn legacy(
    obj: &serde_json::Map<String, Value>,
    budget: &mut usize,
    spend: impl Fn(&mut usize, usize) -> Result<(), String>,
) -> Result<Condition, String> {
    let mut c = Condition::all();
    for (k, v) in obj {
        let (op, ok) = match k.as_str() {
            "doc" => (Op::Eq, v.is_string()),
            "docs" => (
                Op::In,
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            ),
            _ => {
                return Err(format!(
                    "unknown field `{k}` (a condition has a \"type\"; the short form names \
                     \"doc\" or \"docs\")"
                ))
            }
        };
        if !ok {
            return Err(format!(
                "{k:?} must be {}",
                if op == Op::Eq {
                    "a document id"
                } else {
                    "a list of document ids"
                }
            ));
        }
        if let Value::Array(a) = v {
            spend(budget, a.len())?;
        }
        c = c.and(Condition::Compare {
            key: "doc".into(),
            op,
            value: v.clone(),
        });
    }
    Ok(c)
}

fn check_operand(ty: &str, op: Op, v: &Value) -> Result<(), String> {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    let ok = match op {
        Op::Eq | Op::Ne => scalar(v),
        Op::In | Op::Nin => v.as_array().is_some_and(|a| a.iter().all(scalar)),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            v.is_number() || v.as_str().is_some_and(|s| instant(s).is_some())
        }
        Op::Contains | Op::StartsWith | Op::EndsWith => v.is_string(),
    };
    if ok {
        return Ok(());
    }
    let wants = match op {
        Op::Eq | Op::Ne => "a string, number or boolean",
        Op::In | Op::Nin => "a list of strings, numbers or booleans",
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => "a number or a date (RFC 3339 or YYYY-MM-DD)",
        _ => "a string",
    };
    Err(format!(
        "the value of a {ty:?} condition must be {wants}, not {}",
        describe(v)
    ))
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => kind(other).to_string(),
    }
}

/// A document's field: its id, its title, or a metadata value.
fn field<'a>(d: DocView<'a>, key: &str) -> Option<std::borrow::Cow<'a, Value>> {
    use std::borrow::Cow;
    match key {
        "doc" => Some(Cow::Owned(Value::String(d.doc.to_string()))),
        "title" => Some(Cow::Owned(Value::String(d.title.to_string()))),
        "section" => d.section.map(|s| Cow::Owned(Value::String(s.to_string()))),
        _ => d.metadata.get(key).map(Cow::Borrowed),
    }
}

fn equal(f: &Value, v: &Value) -> bool {
    match f {
        Value::Array(items) => items.iter().any(|i| scalar_equal(i, v)),
        _ => scalar_equal(f, v),
    }
}

fn scalar_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            x == y || matches!((instant(x), instant(y)), (Some(p), Some(q)) if p == q)
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

fn one_of(f: &Value, list: &Value) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|v| equal(f, v)))
}

fn compare(f: &Value, op: Op, v: &Value) -> bool {
    let order = |want: fn(Ordering) -> bool| order(f, v).is_some_and(want);
    match op {
        Op::Eq => equal(f, v),
        Op::In => one_of(f, v),
        Op::Gt => order(|o| o == Ordering::Greater),
        Op::Gte => order(|o| o != Ordering::Less),
        Op::Lt => order(|o| o == Ordering::Less),
        Op::Lte => order(|o| o != Ordering::Greater),
        Op::Contains => match (f, v.as_str()) {
            (Value::Array(items), Some(s)) => items.iter().any(|i| i.as_str() == Some(s)),
            (Value::String(t), Some(s)) => t.contains(s),
            _ => false,
        },
        Op::StartsWith => {
            matches!((f, v.as_str()), (Value::String(t), Some(s)) if t.starts_with(s))
        }
        Op::EndsWith => matches!((f, v.as_str()), (Value::String(t), Some(s)) if t.ends_with(s)),
        Op::Ne | Op::Nin => unreachable!("negations are handled by the caller"),
    }
}

/// How a field compares with a value: numbers as numbers, dates as instants; None when they do
/// not compare (another type, a string that is not a date).
fn order(f: &Value, v: &Value) -> Option<Ordering> {
    match (f, v) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(instant(a)?.cmp(&instant(b)?)),
        _ => None,
    }
}

mod date;
mod sections;
#[cfg(test)]
mod tests;
