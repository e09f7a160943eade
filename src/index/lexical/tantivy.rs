//! BM25 over a tantivy index of pre-tokenized passages, keyed by passage id (not by position),
//! so that merging vector segments never touches it. On disk it lives in `lexical/` of the
//! index folder (memory-mapped, tantivy's own segments, deletes and merges); an in-memory index
//! uses RAM. Each commit carries the store generation it belongs to as its payload, so that
//! opening can tell whether the lexical side is in step with the manifest.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{Index as TantivyIndex, IndexReader, IndexWriter, TantivyDocument, Term};

use super::tokenizer::{pre_tokenized, query_terms, tokenize, JiebaTokenizer};
use crate::index::{DocFilter, Passage, StoreError};
use crate::text::idf;

/// Indexing memory of the writer: tantivy's minimum is 15 MB; a write adds few passages, and a
/// bulk load commits in batches, so more only costs resident memory.
const WRITER_BUDGET: usize = 50_000_000;

#[derive(Clone, Copy)]
struct Fields {
    pid: Field,
    doc: Field,
    text: Field,
}

/// The lexical index of a store.
pub struct LexicalIndex {
    index: TantivyIndex,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

/// A point-in-time view for searching: what one snapshot of the store sees.
#[derive(Clone)]
pub struct LexicalView {
    searcher: tantivy::Searcher,
    fields: Fields,
}

/// Raw lexical matches: passage ids with BM25, and the query terms the index knows with their
/// IDF (for the evidence fusion weighs the list by).
#[derive(Debug, Clone, Default)]
pub struct RawHits {
    /// `(passage id, bm25)`, best first.
    pub hits: Vec<(String, f32)>,
    /// Distinct query terms.
    pub terms: usize,
    /// Known query terms and their IDF.
    pub known: Vec<(String, f32)>,
}

fn schema() -> (Schema, Fields) {
    let mut sb = Schema::builder();
    let pid = sb.add_text_field("pid", STRING | STORED);
    let doc = sb.add_text_field("doc", STRING);
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("jieba")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let text = sb.add_text_field("text", opts);
    (sb.build(), Fields { pid, doc, text })
}

impl LexicalIndex {
    /// Opens (or creates) the index in `dir`.
    pub fn open_or_create(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let (schema, _) = schema();
        let mmap = MmapDirectory::open(dir).map_err(|e| StoreError::corrupt(dir, e.to_string()))?;
        let index = TantivyIndex::open_or_create(mmap, schema)?;
        Self::over(index)
    }

    /// An empty index in RAM.
    pub fn in_ram() -> Result<Self, StoreError> {
        Self::over(TantivyIndex::create_in_ram(schema().0))
    }

    fn over(index: TantivyIndex) -> Result<Self, StoreError> {
        index.tokenizers().register("jieba", JiebaTokenizer);
        let s = index.schema();
        let field = |name: &str| {
            s.get_field(name)
                .map_err(|_| StoreError::Invariant(format!("lexical index lacks field {name}")))
        };
        let fields = Fields {
            pid: field("pid")?,
            doc: field("doc")?,
            text: field("text")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()?;
        Ok(LexicalIndex {
            index,
            reader,
            writer: Mutex::new(None),
            fields,
        })
    }

    /// The payload of the last commit (the store generation it belongs to).
    pub fn payload(&self) -> Result<Option<String>, StoreError> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Number of passages indexed.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every passage of `remove` documents, adds `add` passages (tokenized here), and
    /// commits with `payload`; the next [`LexicalIndex::view`] sees the result.
    pub fn apply(
        &self,
        remove: &[&str],
        add: &[&Passage],
        payload: &str,
    ) -> Result<(), StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.with_writer(&mut guard, |writer, f| {
            for d in remove {
                writer.delete_term(Term::from_field_text(f.doc, d));
            }
            for p in add {
                let mut td = TantivyDocument::default();
                td.add_text(f.pid, &p.id);
                td.add_text(f.doc, &p.doc);
                td.add_pre_tokenized_text(f.text, pre_tokenized(&tokenize(&p.text)));
                writer.add_document(td)?;
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(payload);
            commit.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// Replaces everything with `add` and commits with `payload`.
    pub fn rebuild(&self, add: &[&Passage], payload: &str) -> Result<(), StoreError> {
        {
            let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            self.with_writer(&mut guard, |writer, _| {
                writer.delete_all_documents()?;
                Ok(())
            })?;
        }
        self.apply(&[], add, payload)
    }

    /// Runs `work` on the writer, created on first use. When `work` fails the writer is dropped
    /// with its uncommitted operations, so the index stays at its last commit and the next call
    /// starts a fresh writer: tantivy does not restart an indexing worker that failed (a full
    /// disk, say), and a writer kept after that accepts documents that never reach a commit.
    fn with_writer(
        &self,
        guard: &mut Option<IndexWriter>,
        work: impl FnOnce(&mut IndexWriter, Fields) -> tantivy::Result<()>,
    ) -> Result<(), StoreError> {
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(1, WRITER_BUDGET)?);
        }
        let writer = guard.as_mut().expect("created above");
        let result = work(writer, self.fields).map_err(|e| worker_error(writer, e));
        if result.is_err() {
            if let Some(broken) = guard.take() {
                // Joins its threads; a worker that died returns at once.
                drop(broken);
            }
        }
        Ok(result?)
    }

    /// A write that adds `add` and then fails inside the writer, as a full disk makes it fail.
    #[cfg(test)]
    pub(super) fn fail_write(&self, add: &Passage) -> Result<(), StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.with_writer(&mut guard, |writer, f| {
            let mut td = TantivyDocument::default();
            td.add_text(f.pid, &add.id);
            td.add_text(f.doc, &add.doc);
            td.add_pre_tokenized_text(f.text, pre_tokenized(&tokenize(&add.text)));
            writer.add_document(td)?;
            Err(tantivy::TantivyError::SystemError(
                "injected failure".into(),
            ))
        })
    }

    /// A view of the last commit.
    pub fn view(&self) -> LexicalView {
        LexicalView {
            searcher: self.reader.searcher(),
            fields: self.fields,
        }
    }
}

/// The cause of `e` when it only says that an indexing worker died: `add_document` reports a
/// worker that failed (on a full disk, say) without its error, and joining the workers, which
/// `prepare_commit` does, returns it. Nothing is committed: the caller drops the writer.
fn worker_error(writer: &mut IndexWriter, e: tantivy::TantivyError) -> tantivy::TantivyError {
    if !matches!(e, tantivy::TantivyError::ErrorInThread(_)) {
        return e;
    }
    match writer.prepare_commit() {
        Err(cause) => cause,
        Ok(_uncommitted) => e,
    }
}

impl LexicalView {
    /// Up to `k` hits for `query` among the documents `docs` names (every one for None).
    pub fn search(&self, query: &str, k: usize, docs: &DocFilter) -> Result<RawHits, StoreError> {
        self.search_in(query, k, docs.named().map(|ids| (ids, &[][..])))
    }

    /// Up to `k` hits for `query` among the passages of documents `docs` and the passages with
    /// ids `ids` (a filter on passages: see [`DocFilter::Passages`]).
    pub fn search_passages(
        &self,
        query: &str,
        k: usize,
        docs: &BTreeSet<String>,
        ids: &[String],
    ) -> Result<RawHits, StoreError> {
        self.search_in(query, k, Some((docs, ids)))
    }

    fn search_in(
        &self,
        query: &str,
        k: usize,
        only: Option<(&BTreeSet<String>, &[String])>,
    ) -> Result<RawHits, StoreError> {
        let q_terms = query_terms(query);
        let f = self.fields;
        let n = self.searcher.num_docs() as f32;
        if q_terms.is_empty() || k == 0 || n == 0.0 {
            return Ok(RawHits {
                terms: q_terms.len(),
                ..RawHits::default()
            });
        }
        let should: Vec<(Occur, Box<dyn Query>)> = q_terms
            .iter()
            .map(|t| {
                let tq = TermQuery::new(
                    Term::from_field_text(f.text, t),
                    IndexRecordOption::WithFreqs,
                );
                (Occur::Should, Box::new(tq) as Box<dyn Query>)
            })
            .collect();
        let mut q: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        if let Some((docs, pids)) = only {
            let term = |field, value: &str| {
                let t = TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                );
                (Occur::Should, Box::new(t) as Box<dyn Query>)
            };
            let any_of: Vec<(Occur, Box<dyn Query>)> = docs
                .iter()
                .map(|d| term(f.doc, d))
                .chain(pids.iter().map(|p| term(f.pid, p)))
                .collect();
            // The filter scores nothing: a document's or passage's id term would otherwise add
            // its own IDF to the BM25 of the words, more for a small document than a large one.
            let only = ConstScoreQuery::new(Box::new(BooleanQuery::new(any_of)), 0.0);
            q = Box::new(BooleanQuery::new(vec![
                (Occur::Must, q),
                (Occur::Must, Box::new(only)),
            ]));
        }
        let top = self.searcher.search(&q, &TopDocs::with_limit(k))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let stored: TantivyDocument = self.searcher.doc(addr)?;
            let pid = stored
                .get_first(f.pid)
                .and_then(|v| v.as_str())
                .ok_or_else(|| StoreError::Invariant("lexical entry without its id".into()))?;
            hits.push((pid.to_string(), score));
        }
        let mut known = Vec::new();
        for t in &q_terms {
            let df = self.searcher.doc_freq(&Term::from_field_text(f.text, t))? as f32;
            if df > 0.0 {
                known.push((t.clone(), idf(n, df)));
            }
        }
        Ok(RawHits {
            hits,
            terms: q_terms.len(),
            known,
        })
    }
}
