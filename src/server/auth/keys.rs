//! The key file (`--keys FILE`, `SEMSEARCH_KEYS`): which keys exist, what each may do, where, and
//! over which documents. Keys are held as SHA-256 digests only, in the file and in memory, so
//! neither a leaked file nor a memory dump gives a key away, and nothing logs one.
//!
//! ```json
//! {"keys": [{"name": "hr-bot", "sha256": "<64 hex digits>", "actions": ["read"],
//!            "collections": ["*"], "filter": {"type": "eq", "key": "visibility", "value": "public"},
//!            "rate": {"per_second": 10, "burst": 20, "concurrent": 2}}]}
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::limit::{Limits, Rate};
use crate::index::Condition;

/// What a key may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Search and read passages and documents.
    Read,
    /// Add, change and delete documents.
    Write,
    /// Backups, and whatever `read` and `write` may do.
    Admin,
}

/// The collection every route outside `/collections/{name}` addresses.
pub const DEFAULT_COLLECTION: &str = "default";

/// A key file entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    name: Option<String>,
    sha256: String,
    actions: Vec<Action>,
    #[serde(default = "every_collection")]
    collections: Vec<String>,
    #[serde(default)]
    filter: Option<serde_json::Value>,
    #[serde(default)]
    rate: Option<Rate>,
}

fn every_collection() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    keys: Vec<Entry>,
}

/// One key: its digest, scope and limits.
#[derive(Debug)]
pub struct Key {
    /// A name for logs and metrics (never the key).
    pub name: Arc<str>,
    digest: [u8; 32],
    actions: Vec<Action>,
    collections: Vec<String>,
    /// The documents this key reads (None: all of them).
    pub filter: Option<Arc<Condition>>,
    /// Its request rate and concurrency limits.
    pub limits: Limits,
}

impl Key {
    /// True when this key may do `action`.
    pub fn may(&self, action: Action) -> bool {
        self.actions.contains(&Action::Admin) || self.actions.contains(&action)
    }

    /// True when this key may address `collection`.
    pub fn covers(&self, collection: &str) -> bool {
        self.collections.iter().any(|c| c == "*" || c == collection)
    }
}

/// The keys a server knows, looked up by the digest of a presented token.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Arc<Key>>,
}

/// The most keys a key file may hold: a lookup compares with each of them.
pub const MAX_KEYS: usize = 10_000;

impl KeyRing {
    /// No keys: every route open, as a server without keys has always been.
    pub fn open() -> Self {
        KeyRing::default()
    }

    /// The keys of `file` (when given) and `admin_key` (`SEMSEARCH_API_KEY`).
    pub fn load(file: Option<&Path>, admin_key: Option<&str>) -> Result<Self, String> {
        let ring = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("key file {}: {e}", path.display()))?;
                Self::parse(&text).map_err(|e| format!("key file {}: {e}", path.display()))?
            }
            None => KeyRing::open(),
        };
        Ok(ring.with_admin(admin_key))
    }

    /// These keys and `key` (when given) as an admin key on every collection.
    pub fn with_admin(mut self, key: Option<&str>) -> Self {
        if let Some(k) = key {
            self.keys.push(Arc::new(Key {
                name: "SEMSEARCH_API_KEY".into(),
                digest: digest(k),
                actions: vec![Action::Admin],
                collections: every_collection(),
                filter: None,
                limits: Limits::none(),
            }));
        }
        self
    }

    /// Reads a key file's JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.keys.len() > MAX_KEYS {
            return Err(format!(
                "at most {MAX_KEYS} keys ({} given)",
                file.keys.len()
            ));
        }
        let mut keys: Vec<Arc<Key>> = Vec::with_capacity(file.keys.len());
        for (i, e) in file.keys.into_iter().enumerate() {
            let key = entry(e).map_err(|m| format!("keys[{i}]: {m}"))?;
            if keys.iter().any(|k| k.digest == key.digest) {
                return Err(format!("keys[{i}]: the same key is listed twice"));
            }
            keys.push(Arc::new(key));
        }
        Ok(KeyRing { keys })
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// True when some key is a `read` key: then every read needs a key.
    pub fn guards_reads(&self) -> bool {
        self.keys.iter().any(|k| k.actions.contains(&Action::Read))
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key whose digest is the token's. Every key is compared, in constant time each, so
    /// the time taken says nothing about which key (or how much of one) was close.
    pub fn find(&self, token: &str) -> Option<Arc<Key>> {
        let d = digest(token);
        let mut found = None;
        for k in &self.keys {
            if bool::from(k.digest.ct_eq(&d)) {
                found = Some(k.clone());
            }
        }
        found
    }
}

fn entry(e: Entry) -> Result<Key, String> {
    let digest = parse_digest(&e.sha256)?;
    if e.actions.is_empty() {
        return Err("actions must name at least one of read, write, admin".into());
    }
    if e.collections.is_empty() {
        return Err("collections must name at least one collection (\"*\": all)".into());
    }
    for c in &e.collections {
        if c != "*" && !valid_collection(c) {
            return Err(format!("collection {c:?}: names are [a-z0-9_-]{{1,64}}"));
        }
    }
    let filter = match &e.filter {
        None => None,
        Some(v) => {
            // A filter narrows what a key reads; on a key that writes it would leave the
            // documents it may change undefined.
            if e.actions.iter().any(|a| *a != Action::Read) {
                return Err("a filter binds read-only keys (actions: [\"read\"])".into());
            }
            Some(Arc::new(Condition::parse(v)?))
        }
    };
    let name = e.name.unwrap_or_else(|| format!("key {}", &e.sha256[..8]));
    if name.chars().count() > 128 {
        return Err("name longer than 128 characters".into());
    }
    Ok(Key {
        name: name.into(),
        digest,
        actions: e.actions,
        collections: e.collections,
        filter,
        limits: Limits::new(e.rate.as_ref())?,
    })
}

/// True for a collection name: `[a-z0-9_-]{1,64}`.
pub fn valid_collection(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// SHA-256 of a key, as the key file holds it.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The key file's `sha256` of `key`: lower-case hex.
pub fn digest_hex(key: &str) -> String {
    digest(key).iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_digest(hex: &str) -> Result<[u8; 32], String> {
    let bad = || "sha256 must be 64 hex digits: the SHA-256 of the key, not the key".to_string();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &str) -> String {
        format!(r#"{{"keys": [{entries}]}}"#)
    }

    #[test]
    fn keys_are_found_by_their_digest_only() {
        let h = digest_hex("s3cret");
        let ring = KeyRing::parse(&file(&format!(
            r#"{{"name": "bot", "sha256": "{h}", "actions": ["read"]}}"#
        )))
        .unwrap();
        let k = ring.find("s3cret").expect("the key");
        assert_eq!(&*k.name, "bot");
        assert!(k.may(Action::Read) && !k.may(Action::Write) && !k.may(Action::Admin));
        assert!(k.covers("default") && k.covers("hr"));
        assert!(ring.find(&h).is_none(), "the digest is not a key");
        assert!(ring.find("s3cret ").is_none());
        assert!(ring.guards_reads());
    }

    #[test]
    fn admin_may_do_everything_and_write_keys_do_not_guard_reads() {
        let ring = KeyRing::load(None, Some("adm")).unwrap();
        let k = ring.find("adm").unwrap();
        assert!(k.may(Action::Read) && k.may(Action::Write) && k.may(Action::Admin));
        assert!(
            !ring.guards_reads(),
            "SEMSEARCH_API_KEY alone keeps reads open"
        );
        let w = KeyRing::parse(&file(&format!(
            r#"{{"sha256": "{}", "actions": ["write"], "collections": ["hr"]}}"#,
            digest_hex("w")
        )))
        .unwrap();
        assert!(!w.guards_reads());
        let k = w.find("w").unwrap();
        assert!(k.covers("hr") && !k.covers("default"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let h = digest_hex("k");
        let cases = [
            (file(r#"{"sha256": "abc", "actions": ["read"]}"#), "64 hex"),
            (
                file(&format!(r#"{{"sha256": "{h}", "actions": []}}"#)),
                "actions",
            ),
            (
                file(&format!(r#"{{"sha256": "{h}", "actions": ["root"]}}"#)),
                "unknown variant",
            ),
            (
                file(&format!(
                    r#"{{"sha256": "{h}", "actions": ["read"], "colections": []}}"#
                )),
                "unknown field",
            ),
            (
                file(&format!(
                    r#"{{"sha256": "{h}", "actions": ["read"], "collections": ["HR"]}}"#
                )),
                "[a-z0-9_-]",
            ),
            (
                file(&format!(
                    r#"{{"sha256": "{h}", "actions": ["write"], "filter": {{"doc": "a"}}}}"#
                )),
                "read-only",
            ),
            (
                file(&format!(
                    r#"{{"sha256": "{h}", "actions": ["read"], "filter": {{"type": "near"}}}}"#
                )),
                "filter",
            ),
            (
                file(&format!(
                    r#"{{"sha256": "{h}", "actions": ["read"]}}, {{"sha256": "{h}", "actions": ["write"]}}"#
                )),
                "twice",
            ),
        ];
        for (text, want) in cases {
            let err = KeyRing::parse(&text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn collection_names() {
        assert!(valid_collection("hr") && valid_collection("a-b_9"));
        assert!(!valid_collection("") && !valid_collection("Hr") && !valid_collection("a/b"));
        assert!(!valid_collection(&"a".repeat(65)));
    }
}
