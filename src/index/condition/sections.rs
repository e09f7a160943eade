//! Conditions on a passage's own field, `section`: a document is judged once per section it
//! has, and passes whole, in part (the passages of the sections that pass) or not at all.

use std::collections::HashMap;

use super::{Condition, DocView};
use crate::index::filter::PassageSet;
use crate::index::{DocFilter, SectionKeys};

impl Condition {
    /// True when the condition reads `section`, so that it passes passages rather than whole
    /// documents (see [`Condition::resolve_sections`]).
    pub fn reads_section(&self) -> bool {
        match self {
            Condition::And(cs) | Condition::Or(cs) => cs.iter().any(Self::reads_section),
            Condition::Not(c) => c.reads_section(),
            Condition::Compare { key, .. } | Condition::Exists(key) | Condition::Empty(key) => {
                key == "section"
            }
        }
    }

    /// The passages this accepts: each document of `docs` judged with each section of it in
    /// `sections` (documents with no passages listed pass nothing).
    pub fn resolve_sections<'a>(
        &self,
        docs: impl Iterator<Item = DocView<'a>>,
        sections: &[SectionKeys],
    ) -> DocFilter {
        let mut by_doc: HashMap<&str, Vec<&SectionKeys>> = HashMap::new();
        for s in sections {
            by_doc.entry(s.doc.as_str()).or_default().push(s);
        }
        let mut set = PassageSet::default();
        for d in docs {
            let Some(parts) = by_doc.get(d.doc) else {
                continue;
            };
            let passing: Vec<bool> = parts
                .iter()
                .map(|s| {
                    self.matches(DocView {
                        section: s.section.as_deref(),
                        ..d
                    })
                })
                .collect();
            if passing.iter().all(|&p| p) {
                set.add_whole(d.doc);
                continue;
            }
            for (s, _) in parts.iter().zip(&passing).filter(|(_, &p)| p) {
                set.add_part(d.doc, s.keys.iter().copied());
            }
        }
        DocFilter::passages_of(set)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::index::Metadata;

    fn keys(doc: &str, section: Option<&str>, keys: &[u64]) -> SectionKeys {
        SectionKeys {
            doc: doc.into(),
            section: section.map(String::from),
            keys: keys.to_vec(),
        }
    }

    #[test]
    fn a_section_condition_passes_passages() {
        let meta = Metadata::default();
        let view = |doc| DocView {
            doc,
            title: "",
            metadata: &meta,
            section: None,
        };
        let sections = [
            keys("a", Some("总则"), &[1, 2]),
            keys("a", Some("附则"), &[3]),
            keys("a", None, &[4]),
            keys("b", Some("总则"), &[5]),
            keys("c", Some("其他"), &[6]),
        ];
        let c =
            Condition::parse(&json!({"type": "eq", "key": "section", "value": "总则"})).unwrap();
        assert!(c.reads_section());
        let f = c.resolve_sections(["a", "b", "c", "d"].into_iter().map(view), &sections);
        let p = f.passages().unwrap();
        assert_eq!(p.whole().iter().collect::<Vec<_>>(), ["b"]);
        assert_eq!(p.keys().collect::<Vec<_>>(), [1, 2]);
        assert!(f.accepts("a") && f.accepts("b") && !f.accepts("c"));
        assert!(f.accepts_passage("a", 2) && !f.accepts_passage("a", 3));
        assert!(f.accepts_passage("b", 5));

        // A passage outside any section is what `empty` finds; `ne` passes it too.
        let empty = Condition::parse(&json!({"type": "empty", "key": "section"})).unwrap();
        let f = empty.resolve_sections(["a", "b"].into_iter().map(view), &sections);
        assert_eq!(f.passages().unwrap().keys().collect::<Vec<_>>(), [4]);
        let ne =
            Condition::parse(&json!({"type": "ne", "key": "section", "value": "总则"})).unwrap();
        let f = ne.resolve_sections(["a", "b", "c"].into_iter().map(view), &sections);
        let p = f.passages().unwrap();
        assert_eq!(p.whole().iter().collect::<Vec<_>>(), ["c"]);
        assert_eq!(p.keys().collect::<Vec<_>>(), [3, 4]);
        assert!(!Condition::doc("a").reads_section());
    }

    #[test]
    fn passage_sets_combine() {
        let mut a = PassageSet::default();
        a.add_whole("x");
        a.add_part("y", [1, 2]);
        a.add_part("z", [7]);
        let mut b = PassageSet::default();
        b.add_part("x", [9]);
        b.add_part("y", [2, 3]);
        b.add_whole("z");
        let both = DocFilter::passages_of(a.clone()).and(DocFilter::passages_of(b));
        let p = both.passages().unwrap();
        assert!(p.whole().is_empty());
        assert_eq!(p.keys().collect::<Vec<_>>(), [9, 2, 7]);
        let only = DocFilter::passages_of(a).and(DocFilter::ids(["y"]));
        assert_eq!(only.named().unwrap().iter().collect::<Vec<_>>(), ["y"]);
        assert!(only.accepts_passage("y", 1) && !only.accepts_passage("x", 0));
    }
}
