//! Facets: how many documents and passages hold each value of a metadata field, among the
//! documents a filter passes. A person narrows a search by them on the page; a bot reads them to
//! learn which values a filter can name before it sends one.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::config::{MAX_FACET_FIELDS, MAX_FACET_VALUES};
use crate::index::{Condition, DocumentInfo};

/// Which fields to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetFields {
    /// These metadata keys, in this order (at most [`MAX_FACET_FIELDS`]).
    Named(Vec<String>),
    /// Every metadata key the passing documents carry, the most widely held first (at most
    /// [`MAX_FACET_FIELDS`] of them).
    All,
}

impl FacetFields {
    /// Reads `a,b,c` or `*`; empty names are refused, repeats are one.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Ok(FacetFields::All);
        }
        let mut names: Vec<String> = Vec::new();
        for name in s.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(format!("facets {s:?}: a field name is empty"));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        if names.len() > MAX_FACET_FIELDS {
            return Err(format!(
                "at most {MAX_FACET_FIELDS} facet fields ({} given)",
                names.len()
            ));
        }
        Ok(FacetFields::Named(names))
    }
}

/// One value of a field and how much of the library holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetValue {
    /// The value (one item of a list field).
    pub value: Value,
    /// Documents holding it.
    pub documents: usize,
    /// Their passages.
    pub passages: usize,
}

/// The counts of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// The metadata key.
    pub field: String,
    /// Its most common values, most documents first (ties in value order), at most
    /// [`MAX_FACET_VALUES`].
    pub values: Vec<FacetValue>,
    /// How many distinct values there are (more than `values` holds when it was cut).
    pub distinct: usize,
    /// Passing documents without the field.
    pub missing: usize,
}

/// The facets of `fields` over the documents of `docs` that `filter` passes.
pub fn count(docs: &[DocumentInfo], filter: &Condition, fields: &FacetFields) -> Vec<Facet> {
    let passing: Vec<&DocumentInfo> = docs
        .iter()
        .filter(|d| filter.matches((*d).into()))
        .collect();
    let names = match fields {
        FacetFields::Named(n) => n.clone(),
        FacetFields::All => widest_keys(&passing),
    };
    names.into_iter().map(|f| facet(&passing, f)).collect()
}

/// Metadata keys by how many passing documents hold them, then by name.
fn widest_keys(passing: &[&DocumentInfo]) -> Vec<String> {
    let mut held: BTreeMap<&str, usize> = BTreeMap::new();
    for d in passing {
        for (k, _) in d.metadata.iter() {
            *held.entry(k).or_default() += 1;
        }
    }
    let mut keys: Vec<(&str, usize)> = held.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    keys.into_iter()
        .take(MAX_FACET_FIELDS)
        .map(|(k, _)| k.to_string())
        .collect()
}

fn facet(passing: &[&DocumentInfo], field: String) -> Facet {
    // Keyed by the value's JSON text: values of different kinds never merge ("1" and 1 differ).
    let mut counts: HashMap<String, FacetValue> = HashMap::new();
    let mut missing = 0;
    for d in passing {
        let items: Vec<&Value> = match d.metadata.get(&field) {
            None => {
                missing += 1;
                continue;
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
        };
        let mut seen: Vec<String> = Vec::with_capacity(items.len());
        for v in items {
            let key = v.to_string();
            if seen.contains(&key) {
                continue;
            }
            let e = counts.entry(key.clone()).or_insert_with(|| FacetValue {
                value: v.clone(),
                documents: 0,
                passages: 0,
            });
            e.documents += 1;
            e.passages += d.passages;
            seen.push(key);
        }
    }
    let distinct = counts.len();
    let mut values: Vec<(String, FacetValue)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.documents.cmp(&a.1.documents).then(a.0.cmp(&b.0)));
    Facet {
        field,
        values: values
            .into_iter()
            .take(MAX_FACET_VALUES)
            .map(|(_, v)| v)
            .collect(),
        distinct,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Metadata;
    use serde_json::json;

    fn doc(id: &str, passages: usize, meta: Value) -> DocumentInfo {
        DocumentInfo::new(id, id, passages, Metadata::from_json(meta).unwrap())
    }

    fn library() -> Vec<DocumentInfo> {
        vec![
            doc(
                "a",
                10,
                json!({"dept": "transport", "year": 2025, "tags": ["bus", "rail"]}),
            ),
            doc(
                "b",
                3,
                json!({"dept": "transport", "year": 2024, "tags": ["bus", "bus"]}),
            ),
            doc("c", 5, json!({"dept": "health", "year": 2025})),
            doc("d", 1, json!({})),
        ]
    }

    #[test]
    fn counts_documents_and_passages_per_value() {
        let f = count(
            &library(),
            &Condition::all(),
            &FacetFields::parse("dept, tags,dept").unwrap(),
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].field, "dept");
        assert_eq!(
            f[0].values,
            vec![
                FacetValue {
                    value: json!("transport"),
                    documents: 2,
                    passages: 13
                },
                FacetValue {
                    value: json!("health"),
                    documents: 1,
                    passages: 5
                },
            ]
        );
        assert_eq!((f[0].distinct, f[0].missing), (2, 1));
        // A list counts each item once per document.
        assert_eq!(
            f[1].values[0],
            FacetValue {
                value: json!("bus"),
                documents: 2,
                passages: 13
            }
        );
        assert_eq!(f[1].values[1].value, json!("rail"));
        assert_eq!(f[1].missing, 2);
    }

    #[test]
    fn counts_only_what_the_filter_passes() {
        let only_2025 =
            Condition::parse(&json!({"type": "eq", "key": "year", "value": 2025})).unwrap();
        let f = count(
            &library(),
            &only_2025,
            &FacetFields::Named(vec!["dept".into()]),
        );
        let docs: Vec<usize> = f[0].values.iter().map(|v| v.documents).collect();
        assert_eq!(docs, vec![1, 1]);
        assert_eq!(f[0].values[0].value, json!("health"));
    }

    #[test]
    fn every_field_most_widely_held_first() {
        let f = count(
            &library(),
            &Condition::all(),
            &FacetFields::parse("*").unwrap(),
        );
        let fields: Vec<&str> = f.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["dept", "year", "tags"]);
        assert_eq!(f[1].values[0].value, json!(2025));
    }

    #[test]
    fn fields_are_bounded_and_named() {
        assert!(FacetFields::parse("a,,b").unwrap_err().contains("empty"));
        let many = (0..=MAX_FACET_FIELDS)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>();
        assert!(FacetFields::parse(&many.join(","))
            .unwrap_err()
            .contains("at most"));
        let unknown = count(
            &library(),
            &Condition::all(),
            &FacetFields::parse("nope").unwrap(),
        );
        assert_eq!((unknown[0].distinct, unknown[0].missing), (0, 4));
    }

    #[test]
    fn values_are_bounded() {
        let docs: Vec<DocumentInfo> = (0..MAX_FACET_VALUES + 7)
            .map(|i| doc(&format!("d{i}"), 1, json!({"n": i})))
            .collect();
        let f = count(&docs, &Condition::all(), &FacetFields::parse("n").unwrap());
        assert_eq!(f[0].values.len(), MAX_FACET_VALUES);
        assert_eq!(f[0].distinct, MAX_FACET_VALUES + 7);
    }
}
