//! Metadata a file states about itself: Markdown front matter (YAML between `---` lines at the
//! top) and HTML `<meta>` tags.
//!
//! These files were written for other tools (a static-site generator, a CMS), so what they state
//! is taken leniently: a value semsearch cannot store (a nested map, a null, a list holding
//! maps, a string past [`crate::config::MAX_META_VALUE_BYTES`]) or a key it cannot take (a reserved name, one
//! past [`MAX_META_KEYS`]) is left out rather than refusing the document. Metadata a client
//! sends with the document ([`super::RawDocument::metadata`]) is checked strictly and wins over
//! what the file states.

use serde_json::{Map, Value};

use crate::config::{MAX_FRONT_MATTER_BYTES, MAX_META_KEYS, MAX_META_LIST};
use crate::index::metadata::{check_key, check_value};

/// What a file states about itself.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stated {
    /// Storable keys and values (lists of strings for lists), at most [`MAX_META_KEYS`].
    pub metadata: Map<String, Value>,
    /// A `title` the file gives, which names the document rather than being metadata.
    pub title: Option<String>,
}

impl Stated {
    /// Adds `key: value` when storable; a key already set keeps its first value.
    fn add(&mut self, key: &str, value: Value) {
        let key = key.trim();
        if key.eq_ignore_ascii_case("title") {
            if let Value::String(t) = value {
                self.title.get_or_insert(t.trim().to_string());
            }
            return;
        }
        if self.metadata.len() >= MAX_META_KEYS
            || self.metadata.contains_key(key)
            || check_key(key).is_err()
        {
            return;
        }
        // Coerced to what metadata holds, then checked by the rules a client's metadata meets.
        if let Some(v) = coerced(value).filter(|v| check_value(key, v).is_ok()) {
            self.metadata.insert(key.to_string(), v);
        }
    }
}

/// `v` in a shape metadata can hold: scalars as they are, a list of scalars as a list of
/// strings (its first [`MAX_META_LIST`]); a null, a map or a list holding either is None.
fn coerced(v: Value) -> Option<Value> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(v),
        Value::Array(items) => {
            let strings: Option<Vec<Value>> = items
                .into_iter()
                .take(MAX_META_LIST)
                .map(|i| match i {
                    Value::String(s) => Some(Value::String(s)),
                    Value::Number(n) => Some(Value::String(n.to_string())),
                    Value::Bool(b) => Some(Value::String(b.to_string())),
                    _ => None,
                })
                .collect();
            strings.filter(|s| !s.is_empty()).map(Value::Array)
        }
        Value::Null | Value::Object(_) => None,
    }
}

/// Splits Markdown front matter from the body: a first line `---`, YAML, and a closing line
/// `---` or `...`. Text without it is all body. Front matter that is not YAML, not a map, or
/// longer than [`MAX_FRONT_MATTER_BYTES`] is left in the body as text, as Markdown renderers
/// that know no front matter show it.
pub fn front_matter(text: &str) -> (Stated, &str) {
    let none = (Stated::default(), text);
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = t
        .strip_prefix("---\n")
        .or_else(|| t.strip_prefix("---\r\n"))
    else {
        return none;
    };
    let mut offset = 0;
    let mut end = None;
    for line in rest.split_inclusive('\n') {
        if offset > MAX_FRONT_MATTER_BYTES {
            break;
        }
        let bare = line.trim_end();
        if bare == "---" || bare == "..." {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((yaml_end, body_start)) = end.filter(|(e, _)| *e <= MAX_FRONT_MATTER_BYTES) else {
        return none;
    };
    let Ok(Value::Object(map)) = serde_saphyr::from_str::<Value>(&rest[..yaml_end]) else {
        return none;
    };
    let mut stated = Stated::default();
    for (k, v) in map {
        stated.add(&k, v);
    }
    (stated, &rest[body_start..])
}

/// `<meta name|property=… content=…>` names kept, and the key each is stored under: the
/// descriptive ones of common HTML, Open Graph, Dublin Core and the CMS of Chinese government
/// sites (`PubDate`, `ContentSource`, `ColumnName`). Technical ones (viewport, robots, verification
/// tokens) are not about the document and are not kept.
const HTML_META: &[(&str, &str)] = &[
    ("author", "author"),
    ("dc.creator", "author"),
    ("article:author", "author"),
    ("description", "description"),
    ("og:description", "description"),
    ("dc.description", "description"),
    ("keywords", "keywords"),
    ("news_keywords", "keywords"),
    ("article:tag", "keywords"),
    ("date", "date"),
    ("pubdate", "date"),
    ("publishdate", "date"),
    ("dc.date", "date"),
    ("dcterms.date", "date"),
    ("dc.date.issued", "date"),
    ("article:published_time", "date"),
    ("article:modified_time", "modified"),
    ("dcterms.modified", "modified"),
    ("publisher", "publisher"),
    ("dc.publisher", "publisher"),
    ("contentsource", "publisher"),
    ("og:site_name", "site"),
    ("sitename", "site"),
    ("columnname", "column"),
    ("article:section", "column"),
    ("dc.subject", "subject"),
    ("subject", "subject"),
    ("dc.language", "lang"),
    ("language", "lang"),
    ("og:title", "title"),
    ("dc.title", "title"),
    ("articletitle", "title"),
];

/// The metadata of an HTML page's `<meta>` tags ([`HTML_META`]) and its `<html lang>`.
/// Keywords become a list (split at commas, semicolons and their CJK forms).
pub fn html(page: &scraper::Html) -> Stated {
    let mut stated = Stated::default();
    let mut keywords: Vec<Value> = Vec::new();
    let meta = scraper::Selector::parse("meta[content]").expect("a valid selector");
    for e in page.select(&meta) {
        let attrs = e.value();
        let Some(name) = attrs.attr("name").or_else(|| attrs.attr("property")) else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let Some(&(_, key)) = HTML_META.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let content = attrs.attr("content").unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        if key == "keywords" {
            keywords.extend(
                content
                    .split([',', ';', '，', '；', '、'])
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| Value::String(k.to_string())),
            );
        } else {
            stated.add(key, Value::String(content.to_string()));
        }
    }
    if !keywords.is_empty() {
        keywords.dedup();
        stated.add("keywords", Value::Array(keywords));
    }
    let html = scraper::Selector::parse("html[lang]").expect("a valid selector");
    if let Some(lang) = page
        .select(&html)
        .next()
        .and_then(|e| e.value().attr("lang"))
    {
        stated.add("lang", Value::String(lang.trim().to_string()));
    }
    stated
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn front_matter_is_split_from_the_body() {
        let md = "---\ntitle: 交通规划\ndept: transport\nyear: 2025\npublic: true\n\
                  tags: [bus, metro]\ndate: 2025-03-01\nparams:\n  nested: 1\nempty:\n\
                  doc: other\n---\n# 标题\n正文。\n";
        let (stated, body) = front_matter(md);
        assert_eq!(stated.title.as_deref(), Some("交通规划"));
        assert_eq!(
            Value::Object(stated.metadata),
            json!({"dept": "transport", "year": 2025, "public": true,
                   "tags": ["bus", "metro"], "date": "2025-03-01"}),
            "maps, nulls and reserved keys are left out"
        );
        assert_eq!(body, "# 标题\n正文。\n");
    }

    #[test]
    fn text_that_is_not_front_matter_stays_body() {
        for md in [
            "# 标题\n---\na: 1\n---\n",
            "---\nnot: [closed\n---\nbody",
            "---\njust a line\n---\nbody",
            "---\na: 1\nno end",
        ] {
            let (stated, body) = front_matter(md);
            assert_eq!(stated, Stated::default(), "{md:?}");
            assert_eq!(body, md);
        }
        let long = format!("---\na: {}\n---\nbody", "x".repeat(MAX_FRONT_MATTER_BYTES));
        assert_eq!(front_matter(&long).1, long, "past the bound it is text");
    }

    #[test]
    fn aliases_cannot_blow_up() {
        // The "billion laughs": nine levels of ten aliases each.
        let mut yaml = String::from("---\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, c) in "bcdefghi".chars().enumerate() {
            let prev = (b'a' + i as u8) as char;
            yaml += &format!("{c}: &{c} [{}]\n", vec![format!("*{prev}"); 10].join(", "));
        }
        yaml += "---\nbody";
        let start = std::time::Instant::now();
        let (stated, _) = front_matter(&yaml);
        assert!(start.elapsed().as_secs() < 5);
        assert!(stated.metadata.len() <= 1, "{:?}", stated.metadata.keys());
    }

    #[test]
    fn html_meta_tags_are_read() {
        let page = scraper::Html::parse_document(
            r#"<html lang="zh-CN"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width">
            <meta name="Keywords" content="规划，交通; 地铁">
            <meta name="PubDate" content="2025-03-01 10:00">
            <meta name="ContentSource" content="苏州市交通运输局">
            <meta property="og:title" content="交通规划">
            <meta name="author" content="">
            </head><body><p>正文</p></body></html>"#,
        );
        let stated = html(&page);
        assert_eq!(stated.title.as_deref(), Some("交通规划"));
        assert_eq!(
            Value::Object(stated.metadata),
            json!({"keywords": ["规划", "交通", "地铁"], "date": "2025-03-01 10:00",
                   "publisher": "苏州市交通运输局", "lang": "zh-CN"})
        );
    }
}
