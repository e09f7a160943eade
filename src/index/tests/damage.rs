//! Damaged index files: every file kind of a real segment (graphs included) and the manifest,
//! truncated, extended or with a byte flipped, opens to a clear error or to the very results
//! of the undamaged index; never a panic, an abort or a hang.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::super::segment::EXACT_BELOW;
use super::super::*;
use super::{dense_ids, doc, model, open, unit};

/// What the undamaged index answers.
#[derive(Debug, PartialEq)]
struct Answers {
    docs: Vec<String>,
    dense: Vec<Vec<String>>,
    sentences: Vec<usize>,
    lexical: Vec<String>,
}

fn answers(store: &LocalStore) -> Answers {
    let s = store.snapshot().unwrap();
    let queries: Vec<Vec<f32>> = [3, 900, 4000].iter().map(|&i| unit(100 + i, 8)).collect();
    let lexical = s.lexical("passage", 5, &DocFilter::All).unwrap();
    Answers {
        docs: s.documents().unwrap().into_iter().map(|d| d.doc).collect(),
        dense: queries
            .iter()
            .map(|q| dense_ids(s.as_ref(), q, 10))
            .collect(),
        sentences: queries
            .iter()
            .map(|q| s.nearest_sentences(q, 10, Filter::default()).unwrap().len())
            .collect(),
        lexical: lexical
            .hits
            .iter()
            .map(|(k, _)| s.passage(*k).unwrap().id)
            .collect(),
    }
}

/// An index of two segments, one large enough for both graphs, and its answers.
fn pristine() -> &'static (tempfile::TempDir, Answers, Vec<PathBuf>) {
    static BUILT: OnceLock<(tempfile::TempDir, Answers, Vec<PathBuf>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 8);
        store.apply(Write::Upsert(vec![doc("a", 5, 8, 0)])).unwrap();
        store
            .apply(Write::Upsert(vec![doc("b", EXACT_BELOW + 50, 8, 100)]))
            .unwrap();
        store.apply(Write::Delete("a".into())).unwrap();
        store
            .apply(Write::Upsert(vec![doc("c", 3, 8, 9000)]))
            .unwrap();
        let want = answers(&store);
        drop(store);
        // Every file but tantivy's, whose integrity is tantivy's own.
        let mut files = vec![PathBuf::from("manifest.json")];
        for seg in std::fs::read_dir(dir.path()).unwrap() {
            let seg = seg.unwrap().path();
            if seg
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("seg-")
            {
                for f in std::fs::read_dir(&seg).unwrap() {
                    files.push(f.unwrap().path().strip_prefix(dir.path()).unwrap().into());
                }
            }
        }
        files.sort();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into())
            .collect();
        for kind in [
            "vectors.graph",
            "sentences.graph",
            "vectors.i8",
            "segment.json",
        ] {
            assert!(names.iter().any(|n| n == kind), "no {kind} in {names:?}");
        }
        (dir, want, files)
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[derive(Debug, Clone)]
enum Damage {
    /// Cut to this fraction of the length.
    Truncate(f64),
    /// This many bytes appended.
    Extend(Vec<u8>),
    /// The byte at this fraction of the length xored with a non-zero mask.
    Flip(f64, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Damage::Extend),
        (0.0..1.0f64, 1..=255u8).prop_map(|(at, m)| Damage::Flip(at, m)),
    ]
}

fn apply(path: &Path, d: &Damage) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
    match d {
        Damage::Truncate(f) => bytes.truncate(at(*f, bytes.len())),
        Damage::Extend(more) => bytes.extend_from_slice(more),
        Damage::Flip(f, mask) if !bytes.is_empty() => {
            let i = at(*f, bytes.len());
            bytes[i] ^= mask;
        }
        Damage::Flip(_, mask) => bytes.push(*mask),
    }
    std::fs::write(path, bytes).unwrap();
}

/// Opens a copy of the pristine index with `file` damaged by `d`.
fn check(file: &Path, d: &Damage) -> Result<(), TestCaseError> {
    let (dir, want, _) = pristine();
    let work = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), work.path());
    apply(&work.path().join(file), d);
    match LocalStore::open(work.path(), &model(8)) {
        Ok(store) => prop_assert_eq!(&answers(&store), want, "{:?} {:?} opened", file, d),
        Err(StoreError::Corrupt { at, message }) => {
            let path = PathBuf::from(at);
            // The error names the damaged file, or the folder or table that holds it.
            let named = work.path().join(file);
            prop_assert!(
                named.starts_with(&path) || path == work.path().join("manifest.json"),
                "{file:?} {d:?}: {path:?}: {message}"
            );
        }
        Err(e) => prop_assert!(
            matches!(e, StoreError::Io { .. } | StoreError::ModelMismatch { .. }),
            "{file:?} {d:?}: {e}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_file_is_a_clear_error_or_changes_nothing(which in any::<prop::sample::Index>(), d in damage()) {
        check(which.get::<PathBuf>(&pristine().2), &d)?;
    }

    #[test]
    fn a_damaged_manifest_is_a_clear_error_or_changes_nothing(d in damage()) {
        check(Path::new("manifest.json"), &d)?;
    }
}
