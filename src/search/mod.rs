//! The engine: one embedder and one index, shared by every caller (CLI, HTTP, eval).
//!
//! Writes (add, delete) embed outside any lock, then build a new [`Index`] value, save it, and
//! swap it in; readers hold an `Arc` of whichever index was current when they started, so a
//! search sees the old state or the new one, never a half-built one, and a write is on disk
//! before it is acknowledged. One writer at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::embed::{Embedder, TextKind};
use crate::error::{Error, Result};
use crate::index::{DocumentInfo, Index, Passage, PassageVectors, SentenceVector};
use crate::ingest::{self, RawDocument};

pub mod answer;
pub mod eval;
pub mod fusion;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Dense and lexical rankings fused (the default).
    Hybrid,
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Lexical,
}

impl Mode {
    /// Parses `hybrid`, `dense` or `lexical`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "hybrid" => Ok(Mode::Hybrid),
            "dense" => Ok(Mode::Dense),
            "lexical" => Ok(Mode::Lexical),
            other => Err(Error::invalid(format!(
                "unknown mode {other:?} (expected hybrid, dense or lexical)"
            ))),
        }
    }
}

/// Candidates each retriever contributes before fusion.
pub const FUSION_DEPTH: usize = 50;

/// A passage with its score.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// The passage.
    #[serde(flatten)]
    pub passage: Passage,
    /// Relevance, higher is better: dense, the mean of the cosines of the passage and of its best
    /// sentence to the question; lexical, BM25; hybrid, the fused RRF score; related, cosine.
    pub score: f32,
}

/// Knobs of passage making.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most tokens in a passage (prefix and special tokens included).
    pub max_passage_tokens: usize,
    /// Embed "section heading + passage" instead of the passage alone.
    pub embed_heading: bool,
    /// How hybrid mode fuses its two rankings.
    pub fusion: fusion::FusionParams,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_passage_tokens: 256,
            embed_heading: false,
            fusion: fusion::FusionParams::default(),
        }
    }
}

/// Sentence spans and vectors of passages, by passage id.
#[derive(Default)]
pub struct SentenceCache(std::collections::HashMap<String, Vec<CachedSentence>>);

/// A sentence's span in its passage (characters), text and vector.
type CachedSentence = (usize, usize, String, Vec<f32>);

/// Passages whose sentences compete for the answer.
pub const ANSWER_PASSAGES: usize = 3;

/// Longest accepted question, in characters.
pub const MAX_QUERY_CHARS: usize = 2000;
/// Largest `k`.
pub const MAX_K: usize = 100;

/// The search engine.
pub struct Engine {
    embedder: Arc<dyn Embedder>,
    index: RwLock<Arc<Index>>,
    dir: Option<PathBuf>,
    writer: Mutex<()>,
    options: Options,
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    /// Document id.
    pub doc: String,
    /// Passages stored.
    pub passages: usize,
}

impl Engine {
    /// An engine over the index in `dir` (created on first write), or in memory when `dir` is None.
    pub fn open(embedder: Arc<dyn Embedder>, dir: Option<&Path>, options: Options) -> Result<Self> {
        let index = match dir {
            Some(d) => Index::open_or_new(d, embedder.id())?,
            None => Index::new(embedder.id().clone()),
        };
        Ok(Engine {
            embedder,
            index: RwLock::new(Arc::new(index)),
            dir: dir.map(Path::to_path_buf),
            writer: Mutex::new(()),
            options,
        })
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The current index (a consistent snapshot).
    pub fn snapshot(&self) -> Arc<Index> {
        self.index.read().expect("index lock").clone()
    }

    /// Cleans, splits and embeds a document (no lock held). `progress` gets passages embedded.
    pub fn prepare(
        &self,
        raw: &RawDocument,
        progress: &dyn Fn(usize),
    ) -> Result<(Vec<Passage>, Vec<PassageVectors>)> {
        let passages = self.passages_of(raw)?;
        let vectors = self.embed_passages(&passages, progress)?;
        Ok((passages, vectors))
    }

    /// Cleans and splits a document into passages (no embedding).
    pub fn passages_of(&self, raw: &RawDocument) -> Result<Vec<Passage>> {
        if raw.doc.trim().is_empty() {
            return Err(Error::invalid("document id must not be empty"));
        }
        if raw.doc.contains('#') || raw.doc.contains('/') {
            return Err(Error::invalid("document id must not contain '#' or '/'"));
        }
        let doc = ingest::clean(raw);
        let max = self.options.max_passage_tokens;
        let embedder = &self.embedder;
        let fits = |t: &str| {
            embedder
                .count_tokens(t, TextKind::Passage)
                .map(|n| n <= max)
                .unwrap_or(false)
        };
        let drafts = ingest::split::split(&doc, &fits);
        if drafts.is_empty() {
            return Err(Error::invalid(format!(
                "document {:?} has no text left after cleaning",
                raw.doc
            )));
        }
        Ok(drafts
            .into_iter()
            .enumerate()
            .map(|(i, d)| Passage {
                id: format!("{}#{}", doc.doc, i + 1),
                doc: doc.doc.clone(),
                title: doc.title.clone(),
                section: d.section,
                clause: d.clause,
                text: d.text,
                start: d.start,
                end: d.end,
            })
            .collect())
    }

    /// Embeds passages (as the index stores them) and each of their sentences, reporting
    /// progress in passages per batch.
    pub fn embed_passages(
        &self,
        passages: &[Passage],
        progress: &dyn Fn(usize),
    ) -> Result<Vec<PassageVectors>> {
        let mut out = Vec::with_capacity(passages.len());
        for chunk in passages.chunks(16) {
            // One call for the passages and their sentences: the embedder packs them into as
            // few forward passes as fit, which matters for a small document added over HTTP.
            let mut texts: Vec<String> = chunk
                .iter()
                .map(|p| match (&p.section, self.options.embed_heading) {
                    (Some(s), true) => format!("{s}\n{}", p.text),
                    _ => p.text.clone(),
                })
                .collect();
            // (passage in chunk, start, end, position in `texts`; None: the passage's own).
            let mut spans: Vec<(usize, u32, u32, Option<usize>)> = Vec::new();
            for (i, p) in chunk.iter().enumerate() {
                let cut = ingest::split::sentences(&p.text);
                let chars: Vec<char> = p.text.chars().collect();
                let whole = cut.len() == 1 && cut[0] == (0, chars.len());
                for (a, b) in cut {
                    let at = if whole && !self.options.embed_heading {
                        // The one sentence is the passage: its vector is the passage's.
                        None
                    } else {
                        texts.push(chars[a..b].iter().collect());
                        Some(texts.len() - 1)
                    };
                    spans.push((i, a as u32, b as u32, at));
                }
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = self.embedder.embed(&refs, TextKind::Passage)?;
            let first = out.len();
            out.extend(
                vectors[..chunk.len()]
                    .iter()
                    .cloned()
                    .map(PassageVectors::from),
            );
            for (i, start, end, at) in spans {
                let vector = match at {
                    Some(t) => vectors[t].clone(),
                    None => out[first + i].passage.clone(),
                };
                out[first + i]
                    .sentences
                    .push(SentenceVector { start, end, vector });
            }
            progress(chunk.len());
        }
        Ok(out)
    }

    /// Adds (or replaces) documents, persisting before returning.
    pub fn add(&self, prepared: Vec<(Vec<Passage>, Vec<PassageVectors>)>) -> Result<Vec<Ingested>> {
        let summary = prepared
            .iter()
            .filter_map(|(ps, _)| {
                ps.first().map(|p| Ingested {
                    doc: p.doc.clone(),
                    passages: ps.len(),
                })
            })
            .collect();
        let _w = self.writer.lock().expect("writer lock");
        let next = self.snapshot().with_documents(prepared)?;
        self.commit(next)?;
        Ok(summary)
    }

    /// Deletes a document; returns how many passages went.
    pub fn delete(&self, doc: &str) -> Result<usize> {
        let _w = self.writer.lock().expect("writer lock");
        let current = self.snapshot();
        // Checked first: building the index without a document it lacks is wasted work.
        if !current.has_document(doc) {
            return Err(Error::NotFound(format!("no document {doc:?}")));
        }
        let (next, removed) = current.without_document(doc)?;
        if removed == 0 {
            return Err(Error::NotFound(format!("no document {doc:?}")));
        }
        self.commit(next)?;
        Ok(removed)
    }

    fn commit(&self, mut next: Index) -> Result<()> {
        if let Some(dir) = &self.dir {
            next.save(dir)?;
        }
        *self.index.write().expect("index lock") = Arc::new(next);
        Ok(())
    }

    /// Documents in the index.
    pub fn documents(&self) -> Vec<DocumentInfo> {
        self.snapshot().documents()
    }

    /// Top `k` passages for `query`, optionally within one document.
    pub fn search(&self, query: &str, k: usize, mode: Mode, doc: Option<&str>) -> Result<Vec<Hit>> {
        let query = query.trim();
        validate(query, k)?;
        let q = match mode {
            Mode::Lexical => Vec::new(),
            Mode::Dense | Mode::Hybrid => self.embedder.embed(&[query], TextKind::Query)?.remove(0),
        };
        self.search_embedded(query, &q, k, mode, doc)
    }

    /// Top `k` passages for a query whose vector is already known (`q` unused in lexical mode).
    /// Filters apply before the top-k cut.
    pub fn search_embedded(
        &self,
        query: &str,
        q: &[f32],
        k: usize,
        mode: Mode,
        doc: Option<&str>,
    ) -> Result<Vec<Hit>> {
        validate(query.trim(), k)?;
        let index = self.snapshot();
        let keep = |p: &Passage| doc.is_none_or(|d| p.doc == d);
        let found = match mode {
            Mode::Dense => index.search(q, k, &keep),
            Mode::Lexical => index.lexical_search(query, k, doc)?.hits,
            Mode::Hybrid => {
                let depth = k.max(FUSION_DEPTH);
                let dense_hits = index.search(q, depth, &keep);
                let dense: Vec<u32> = dense_hits.iter().map(|h| h.0).collect();
                let dense_scores: Vec<f32> = dense_hits.iter().map(|h| h.1).collect();
                let lexical = index.lexical_search(query, depth, doc)?;
                let lex_keys: Vec<u32> = lexical.hits.iter().map(|h| h.0).collect();
                let p = self.options.fusion;
                let top_texts: Vec<&str> = dense
                    .iter()
                    .take(3)
                    .filter_map(|k| index.by_key(*k).map(|p| p.text.as_str()))
                    .collect();
                let agreement = fusion::script_agreement(query, &top_texts);
                let w = p.lexical_weight_for(lexical.language_match, lexical.coverage, agreement);
                let wd = p.dense_weight_for(&dense_scores);
                tracing::debug!(
                    dense_weight = wd,
                    language_match = lexical.language_match,
                    coverage = lexical.coverage,
                    agreement,
                    lexical_weight = w,
                    "hybrid fusion"
                );
                let mut fused = fusion::rrf(&[(&dense, wd), (&lex_keys, w)], p.k);
                fused.truncate(k);
                fused
            }
        };
        Ok(hits(&index, found))
    }

    /// Top passages and the sentence among the first few that best answers the question.
    pub fn ask(
        &self,
        question: &str,
        k: usize,
        mode: Mode,
    ) -> Result<(Option<answer::Answer>, Vec<Hit>)> {
        let question = question.trim();
        if !(1..=MAX_K).contains(&k) {
            return Err(Error::invalid(format!("k must be between 1 and {MAX_K}")));
        }
        if question.is_empty() || question.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(format!(
                "question must hold 1 to {MAX_QUERY_CHARS} characters"
            )));
        }
        let q = self.embedder.embed(&[question], TextKind::Query)?.remove(0);
        let hits = self.search_embedded(question, &q, k, mode, None)?;
        Ok((self.answer_from(question, &q, &hits)?, hits))
    }

    /// The answer sentence among the top [`ANSWER_PASSAGES`] of `hits`.
    pub fn answer_from(
        &self,
        question: &str,
        q: &[f32],
        hits: &[Hit],
    ) -> Result<Option<answer::Answer>> {
        self.answer_cached(question, q, hits, &mut SentenceCache::default())
    }

    /// [`Engine::answer_from`] reusing sentence vectors across calls (evaluations ask many
    /// questions of the same passages).
    pub fn answer_cached(
        &self,
        question: &str,
        q: &[f32],
        hits: &[Hit],
        cache: &mut SentenceCache,
    ) -> Result<Option<answer::Answer>> {
        let top: Vec<&Hit> = hits.iter().take(ANSWER_PASSAGES).collect();
        // Sentence vectors stored with the passage (its text unchanged) need no embedding.
        let index = self.snapshot();
        for h in &top {
            if cache.0.contains_key(&h.passage.id) {
                continue;
            }
            let Some((key, p)) = index.passage(&h.passage.id) else {
                continue;
            };
            if p.text != h.passage.text {
                continue;
            }
            let chars: Vec<char> = p.text.chars().collect();
            let stored: Vec<CachedSentence> = index
                .sentences(key)
                .filter(|(_, b, _)| *b as usize <= chars.len())
                .map(|(a, b, v)| {
                    let (a, b) = (a as usize, b as usize);
                    (a, b, chars[a..b].iter().collect(), v.to_vec())
                })
                .collect();
            if !stored.is_empty() {
                cache.0.insert(h.passage.id.clone(), stored);
            }
        }
        let missing: Vec<&Hit> = top
            .iter()
            .copied()
            .filter(|h| !cache.0.contains_key(&h.passage.id))
            .collect();
        let mut spans: Vec<(String, usize, usize, String)> = Vec::new();
        for h in &missing {
            let chars: Vec<char> = h.passage.text.chars().collect();
            for (a, b) in ingest::split::sentences(&h.passage.text) {
                spans.push((h.passage.id.clone(), a, b, chars[a..b].iter().collect()));
            }
            cache.0.insert(h.passage.id.clone(), Vec::new());
        }
        if !spans.is_empty() {
            let texts: Vec<&str> = spans.iter().map(|s| s.3.as_str()).collect();
            let vecs = self.embedder.embed(&texts, TextKind::Passage)?;
            for ((id, a, b, text), v) in spans.into_iter().zip(vecs) {
                cache
                    .0
                    .get_mut(&id)
                    .expect("inserted above")
                    .push((a, b, text, v));
            }
        }
        let mut cands = Vec::new();
        for (rank, h) in top.iter().enumerate() {
            for (a, b, text, v) in &cache.0[&h.passage.id] {
                cands.push(answer::Candidate {
                    passage_id: h.passage.id.clone(),
                    passage_rank: rank,
                    text: text.clone(),
                    start: *a,
                    end: *b,
                    cosine: crate::embed::dot(q, v),
                });
            }
        }
        Ok(answer::pick(question, &cands))
    }

    /// Passage by id.
    pub fn passage(&self, id: &str) -> Result<Passage> {
        self.snapshot()
            .passage(id)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::NotFound(format!("no passage {id:?}")))
    }

    /// Passages nearest to a stored passage's own vector (no re-embedding), excluding itself and,
    /// unless `include_neighbours`, the passages right before and after it in its document.
    pub fn related(&self, id: &str, k: usize, include_neighbours: bool) -> Result<Vec<Hit>> {
        if !(1..=MAX_K).contains(&k) {
            return Err(Error::invalid(format!("k must be between 1 and {MAX_K}")));
        }
        let index = self.snapshot();
        let (key, me) = index
            .passage(id)
            .ok_or_else(|| Error::NotFound(format!("no passage {id:?}")))?;
        let v = index
            .vector(key)
            .expect("vector of a stored passage")
            .to_vec();
        let my_pos = position(&me.id);
        let keep = |p: &Passage| {
            if p.id == me.id {
                return false;
            }
            if include_neighbours || p.doc != me.doc {
                return true;
            }
            match (position(&p.id), my_pos) {
                (Some(a), Some(b)) => a.abs_diff(b) > 1,
                _ => true,
            }
        };
        Ok(hits(&index, index.nearest(&v, k, &keep)))
    }
}

/// Checks a query and `k` before any work is done.
fn validate(query: &str, k: usize) -> Result<()> {
    if query.is_empty() {
        return Err(Error::invalid("query must not be empty"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(format!(
            "query longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    if !(1..=MAX_K).contains(&k) {
        return Err(Error::invalid(format!("k must be between 1 and {MAX_K}")));
    }
    Ok(())
}

fn position(id: &str) -> Option<usize> {
    id.rsplit_once('#').and_then(|(_, n)| n.parse().ok())
}

fn hits(index: &Index, found: Vec<(u32, f32)>) -> Vec<Hit> {
    found
        .into_iter()
        .filter_map(|(key, score)| {
            index.by_key(key).map(|p| Hit {
                passage: p.clone(),
                score,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
