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
