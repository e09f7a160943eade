//! Shared helpers: where the real models are, loaded once per test binary.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use semsearch::embed::TextEmbedder;
use tempfile::TempDir;

/// Folder of a fetched model; panics with the fix when it is missing.
pub fn model_dir(name: &str) -> PathBuf {
    let dir = match (name, std::env::var_os("SEMSEARCH_MODEL")) {
        ("multilingual-e5-small", Some(d)) => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name),
    };
    assert!(
        dir.join("config.json").exists(),
        "model {} is missing: run scripts/fetch-model.sh {name}",
        dir.display()
    );
    dir
}

/// The default model, loaded once.
pub fn e5() -> Arc<TextEmbedder> {
    static E5: OnceLock<Arc<TextEmbedder>> = OnceLock::new();
    E5.get_or_init(|| {
        Arc::new(TextEmbedder::load(&model_dir("multilingual-e5-small")).expect("load e5"))
    })
    .clone()
}

/// A file under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The tiny random model (same architecture, 28-word vocabulary), in memory: for tests of
/// shapes, limits and errors that rank nothing.
pub fn tiny() -> Arc<TextEmbedder> {
    static TINY: OnceLock<Arc<TextEmbedder>> = OnceLock::new();
    TINY.get_or_init(|| Arc::new(semsearch::embed::tiny::embedder(2, true)))
        .clone()
}

/// The tiny model as a model folder, for the command line (`--model`).
pub fn tiny_model_dir() -> PathBuf {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        semsearch::embed::tiny::write_model_dir(d.path()).unwrap();
        d
    })
    .path()
    .to_path_buf()
}

/// A fresh database on the test PostgreSQL (`SEMSEARCH_TEST_PG`, a URL the README's test
/// command sets from `scripts/postgres.sh start`), dropped at the end of the test. The tests
/// that use one are `#[ignore]`d, so a plain `cargo nextest run` reports them as skipped;
/// scripts/test.sh runs them (`--run-ignored all`), and there a missing server fails them.
pub struct TestDb {
    /// The database's URL.
    pub url: String,
    admin: String,
    name: String,
}

impl TestDb {
    /// A new empty database; panics, saying how to start one, when no server is configured.
    pub fn create() -> TestDb {
        let admin = std::env::var("SEMSEARCH_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty())
            .expect("the PostgreSQL tests need SEMSEARCH_TEST_PG=$(scripts/postgres.sh start)");
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "semsearch_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("test database");
        // One statement per call: a multi-statement string runs as one transaction block,
        // where CREATE DATABASE is not allowed.
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Runs `session` on an engine over a local index and on one over a new PostgreSQL database,
/// both with the tiny model, and checks they answer alike (what each session returns).
pub fn on_both_stores<F, Fut>(session: F)
where
    F: Fn(Arc<semsearch::engine::Engine>) -> Fut,
    Fut: std::future::Future<Output = serde_json::Value>,
{
    use semsearch::embed::Embedder;
    use semsearch::engine::{Engine, Options};
    let db = TestDb::create();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let local = Arc::new(Engine::open(tiny(), None, Options::default()).unwrap());
    let want = rt.block_on(session(local));
    let store = semsearch::index::postgres::PgStore::open_or_create(&db.url, tiny().id()).unwrap();
    let pg = Arc::new(Engine::new(tiny(), Box::new(store), Options::default()));
    let got = rt.block_on(session(pg));
    assert_eq!(got, want);
}
