//! The engine: one embedder, one store and one writer, shared by every edge (HTTP, CLI, eval).
//!
//! Reads take a [`Snapshot`] of the store when they start and answer from it alone, so a search
//! sees the old state or the new one, never a half-written one. Writes are ordered here, by one
//! mutex: cleaning, splitting and embedding run before it is taken (they are the slow part and
//! touch no shared state); ids are assigned, and the store changed, while it is held, so two
//! writes can never pick the same new id or interleave. A write returns only once the store has
//! made it durable.

pub mod across;
mod context;
mod conversation;
pub mod facets;
mod lookup;
mod patch;
mod query;
mod request;
mod stats;
mod write;

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::{ANSWER_PASSAGES, DEFAULT_MAX_PASSAGE_TOKENS};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::index::{Access, Key, LocalStore, Location, Passage, Snapshot, Store};
use crate::search::{self, answer, fusion::FusionParams, relevance::Judge, SentenceCache};

pub use context::{Citation, Context};
pub use conversation::{questions, Message, Role, Strategy};
pub use request::{validate_k, Mode, SearchRequest};
pub use stats::Stats;
pub use write::{draft, Deadline, DocumentDraft, Imported, Ingested};

/// How passages are made and how hybrid search fuses its two rankings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Most tokens in a passage (prefix and special tokens included).
    pub max_passage_tokens: usize,
    /// Embed "section heading + passage" instead of the passage alone.
    pub embed_heading: bool,
    /// How hybrid mode fuses its two rankings.
    pub fusion: FusionParams,
    /// How ingest makes sentence vectors.
    pub sentence_vectors: crate::embed::SentenceVectors,
    /// How relevance maps contrast to 0..1 (the model's calibration).
    pub relevance: crate::search::relevance::Curve,
}

impl Options {
    /// These options with `model_dir`'s calibration (`search::calibration`): its relevance
    /// curve and dense spread.
    pub fn calibrated(mut self, model_dir: &Path) -> Result<Self> {
        let c = crate::search::calibration::Calibration::load(model_dir)?;
        self.relevance = c.relevance;
        self.fusion.dense_spread = c.dense_spread;
        Ok(self)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_passage_tokens: DEFAULT_MAX_PASSAGE_TOKENS,
            embed_heading: false,
            fusion: FusionParams::default(),
            sentence_vectors: Default::default(),
            relevance: Default::default(),
        }
    }
}

/// A passage with its score, best first in every result list.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The passage's key in the snapshot it was read from (meaningless in any other).
    pub key: Key,
    /// The passage.
    pub passage: Passage,
    /// Ranking value, higher is better (see `api::Hit` for what it means per mode).
    pub score: f32,
    /// How well the passage answers the question, 0..1, comparable across questions and modes
    /// (see [`search::relevance`]).
    pub relevance: f32,
}

/// A page of results ([`Engine::search_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The page's passages, best first.
    pub hits: Vec<Hit>,
    /// The first result after the page, when there is one (with its relevance, so a caller
    /// cutting at a threshold knows whether the next page would hold anything).
    pub next: Option<Hit>,
}

/// Results of [`Engine::ask`]: the answer sentence, if any, and the passages.
#[derive(Debug, Clone)]
pub struct Asked {
    /// True when a passage reaches the request's relevance threshold: the documents answer the
    /// question.
    pub found: bool,
    /// The sentence among the top passages that best answers the question (none when not
    /// found).
    pub answer: Option<answer::Answer>,
    /// Passages, best first.
    pub hits: Vec<Hit>,
}

/// The search engine.
pub struct Engine {
    embedder: Arc<dyn Embedder>,
    store: Box<dyn Store>,
    writer: Mutex<()>,
    options: Options,
}

impl Engine {
    /// An engine over `store`, which must hold vectors of `embedder`'s model.
    pub fn new(embedder: Arc<dyn Embedder>, store: Box<dyn Store>, options: Options) -> Self {
        Engine {
            embedder,
            store,
            writer: Mutex::new(()),
            options,
        }
    }

    /// An engine over the local index in `dir` (created by the first write when missing), or
    /// over an in-memory index when `dir` is None.
    pub fn open(embedder: Arc<dyn Embedder>, dir: Option<&Path>, options: Options) -> Result<Self> {
        match dir {
            Some(d) => Self::open_at(
                embedder,
                &Location::Folder(d.into()),
                Access::Create,
                options,
            ),
            None => {
                let store = LocalStore::in_memory(embedder.id().clone())?;
                Ok(Engine::new(embedder, Box::new(store), options))
            }
        }
    }

    /// An engine over the local index in `dir`, which must exist (reads never create one).
    pub fn open_existing(
        embedder: Arc<dyn Embedder>,
        dir: &Path,
        options: Options,
    ) -> Result<Self> {
        Self::open_at(
            embedder,
            &Location::Folder(dir.into()),
            Access::Existing,
            options,
        )
    }

    /// An engine over the store at `at` (a folder or a database: [`crate::index::open()`]).
    pub fn open_at(
        embedder: Arc<dyn Embedder>,
        at: &Location,
        access: Access,
        options: Options,
    ) -> Result<Self> {
        let store = crate::index::open(at, embedder.id(), access)?;
        Ok(Engine::new(embedder, store, options))
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The options the engine runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The store's current state, consistent for as long as it is held.
    pub fn snapshot(&self) -> Result<Arc<dyn Snapshot>> {
        Ok(self.store.snapshot()?)
    }

    /// A consistent copy of the index into `out` (a folder that must not exist), taken while
    /// writes go on: see [`crate::index::local::backup`].
    pub fn backup(&self, out: &Path) -> Result<crate::index::local::BackupInfo> {
        let dir = self.store.folder().ok_or_else(|| {
            Error::invalid(
                "only a local index folder can be backed up here; back up PostgreSQL with pg_dump",
            )
        })?;
        Ok(crate::index::local::backup(dir, out)?)
    }

    /// Top passages for a request.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>> {
        req.validate()?;
        // Embedded in lexical mode too: relevance is judged on vectors in every mode.
        let q = self.embed_query(req.query())?;
        self.search_embedded(req, &q)
    }

    /// [`Engine::search`] with the question's vector already known: evaluations embed their
    /// questions in batches.
    pub fn search_embedded(&self, req: &SearchRequest, q: &[f32]) -> Result<Vec<Hit>> {
        self.search_in(self.snapshot()?.as_ref(), req, q)
    }

    /// [`Engine::search_embedded`] over `snap`: a request that reads more than once (an answer,
    /// a context, a conversation) reads one state throughout.
    pub fn search_in(
        &self,
        snap: &dyn Snapshot,
        req: &SearchRequest,
        q: &[f32],
    ) -> Result<Vec<Hit>> {
        Ok(self.search_page_in(snap, req, q)?.hits)
    }

    /// The page of results a request asks for (its `offset`, `k` and grouping), and whether
    /// there are more.
    pub fn search_page(&self, req: &SearchRequest) -> Result<SearchPage> {
        req.validate()?;
        let q = self.embed_query(req.query())?;
        self.search_page_in(self.snapshot()?.as_ref(), req, &q)
    }

    /// Pages for several requests (at most [`crate::config::MAX_BATCH_QUERIES`]), every one
    /// answered from one snapshot: the questions split into one share per core, each share
    /// embedded in one packed forward pass and searched on its core. A request that is not
    /// valid fails the batch with its position in the message.
    pub fn search_batch(&self, reqs: &[SearchRequest]) -> Result<Vec<SearchPage>> {
        let max = crate::config::MAX_BATCH_QUERIES;
        if reqs.is_empty() || reqs.len() > max {
            return Err(Error::invalid(format!(
                "a batch holds 1 to {max} queries ({} given)",
                reqs.len()
            )));
        }
        for (i, r) in reqs.iter().enumerate() {
            r.validate()
                .map_err(|e| Error::invalid(format!("queries[{i}]: {e}")))?;
        }
        let snap = self.snapshot()?;
        // One share of the questions per core, each embedded in its own packed pass and then
        // searched there: a pass whose matmuls are split over every core waits at a barrier
        // per operation (about a hundred per pass), while a share that runs alone on its core
        // waits for nothing. The kernels' own forks stay cheap pushes onto the busy worker's
        // queue, and a core that finishes first steals from the other's.
        use rayon::prelude::*;
        let share = reqs.len().div_ceil(rayon::current_num_threads().max(1));
        let pages: Vec<Vec<SearchPage>> = reqs
            .par_chunks(share)
            .map(|part| {
                let texts: Vec<&str> = part.iter().map(SearchRequest::query).collect();
                let vectors = self.embed_queries(&texts)?;
                part.iter()
                    .zip(&vectors)
                    .map(|(r, q)| self.search_page_in(snap.as_ref(), r, q))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// [`Engine::search_page`] over `snap` with the question's vector known.
    pub fn search_page_in(
        &self,
        snap: &dyn Snapshot,
        req: &SearchRequest,
        q: &[f32],
    ) -> Result<SearchPage> {
        req.validate()?;
        self.window_in(snap, req, q, req.window())
    }

    /// The window `w` of the ranking of `req` over `snap`, `req` already validated (`w` may
    /// reach past `k`: a search over several collections reads each one's head).
    fn window_in(
        &self,
        snap: &dyn Snapshot,
        req: &SearchRequest,
        q: &[f32],
        w: search::page::Window,
    ) -> Result<SearchPage> {
        let docs = snap.resolve(req.condition())?;
        let judge = Judge::new(snap, req.query(), q, self.options.relevance)?;
        let (found, next) = search::page::page(
            snap,
            &search::Query {
                text: req.query(),
                vector: q,
                k: req.limit(),
                mode: req.retrieval_mode(),
                docs: &docs,
                background: &judge.background(),
            },
            &self.options.fusion,
            w,
        )?;
        let mut hits = hits(snap, found.into_iter().chain(next).collect(), &judge, q)?;
        let next = (hits.len() > w.k).then(|| hits.pop()).flatten();
        Ok(SearchPage { hits, next })
    }

    /// Top passages and the sentence among the first [`ANSWER_PASSAGES`] that best answers the
    /// question.
    pub fn ask(&self, req: &SearchRequest) -> Result<Asked> {
        req.validate()?;
        let q = self.embed_query(req.query())?;
        self.ask_embedded(req, &q, &mut SentenceCache::default())
    }

    /// [`Engine::ask`] with the question's vector known, reusing the sentence vectors in
    /// `cache` (evaluations ask many questions of one state of the store).
    pub fn ask_embedded(
        &self,
        req: &SearchRequest,
        q: &[f32],
        cache: &mut SentenceCache,
    ) -> Result<Asked> {
        let snap = self.snapshot()?;
        let hits = self.search_in(snap.as_ref(), req, q)?;
        let min = req.relevance_threshold();
        let found = is_found(&hits, min);
        // The answer comes from passages that reach the threshold: a higher-ranked passage
        // below it (fusion also weighs words) must not supply the sentence.
        let relevant: Vec<Hit> = hits
            .iter()
            .filter(|h| h.relevance >= min)
            .cloned()
            .collect();
        let answer = if found {
            self.answer(snap.as_ref(), req.query(), q, &relevant, cache)?
        } else {
            None
        };
        Ok(Asked {
            found,
            answer,
            hits,
        })
    }

    /// The answer sentence among the top [`ANSWER_PASSAGES`] of `hits` (read from `snap`),
    /// reusing the sentence vectors in `cache`.
    pub fn answer(
        &self,
        snap: &dyn Snapshot,
        question: &str,
        q: &[f32],
        hits: &[Hit],
        cache: &mut SentenceCache,
    ) -> Result<Option<answer::Answer>> {
        let top: Vec<(Key, &Passage)> = hits
            .iter()
            .take(ANSWER_PASSAGES)
            .map(|h| (h.key, &h.passage))
            .collect();
        let candidates = answer::candidates(snap, self.embedder.as_ref(), q, &top, cache)?;
        Ok(answer::pick(question, &candidates))
    }
}

fn not_found_passage(id: &str) -> Error {
    Error::NotFound(format!("no passage {id:?}"))
}

/// Hits of `found`: their passages and relevance in one batched read each.
fn hits(snap: &dyn Snapshot, found: Vec<(Key, f32)>, judge: &Judge, q: &[f32]) -> Result<Vec<Hit>> {
    let keys: Vec<Key> = found.iter().map(|f| f.0).collect();
    let passages = snap.passages(&keys)?;
    let relevance = judge.relevance(snap, q, &keys, &passages)?;
    Ok(found
        .into_iter()
        .zip(passages)
        .zip(relevance)
        .map(|(((key, score), passage), relevance)| Hit {
            key,
            passage,
            score,
            relevance,
        })
        .collect())
}

/// True when some hit reaches `min_relevance` (the ranking may put a less relevant passage
/// first: fusion weighs the lexical list too).
pub fn is_found(hits: &[Hit], min_relevance: f32) -> bool {
    hits.iter().any(|h| h.relevance >= min_relevance)
}

#[cfg(test)]
mod page_tests;
#[cfg(test)]
mod tests;
