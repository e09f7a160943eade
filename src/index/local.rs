//! The single-machine index: passages, their vectors and a lexical index, in memory, as one
//! immutable value. A write makes a new value (see [`Index::with_documents`]), so a server keeps
//! answering from the old one until the new one is saved and swapped in ([`super::LocalStore`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::lexical::{LexicalHits, LexicalStore, TantivyStore, Terms};
use super::store::{Filter, Key, Snapshot, StoredSentence};
use super::vector::{VectorSet, VectorStore};
use super::{DocumentInfo, Passage, PassageVectors, SentenceVector, StoreError};
use crate::embed::ModelId;

/// Sentence vectors of all passages, searchable, each knowing its passage.
struct SentenceStore {
    vectors: VectorSet,
    /// Passage key of each sentence.
    owner: Vec<Key>,
    /// Character span of each sentence in its passage.
    spans: Vec<(u32, u32)>,
    /// Each passage's sentences: a range of sentence positions.
    ranges: Vec<std::ops::Range<usize>>,
}

/// Passages with their vectors, searchable.
pub struct Index {
    pub(super) model: ModelId,
    pub(super) generation: u64,
    passages: Vec<Passage>,
    by_id: HashMap<String, Key>,
    vectors: VectorSet,
    sentences: SentenceStore,
    lexical: TantivyStore,
}

impl Index {
    /// An empty index for `model`.
    pub fn new(model: ModelId) -> Self {
        Index::from_parts(model, Vec::new(), Vec::new()).expect("an empty index is valid")
    }

    /// Builds an index from passages and their vectors (same order).
    pub fn from_parts(
        model: ModelId,
        passages: Vec<Passage>,
        vectors: Vec<PassageVectors>,
    ) -> Result<Self, StoreError> {
        let terms = vec![None; passages.len()];
        Self::from_parts_with(model, passages, vectors, terms)
    }

    /// [`Index::from_parts`] with the lexical terms already known for some passages.
    fn from_parts_with(
        model: ModelId,
        passages: Vec<Passage>,
        vectors: Vec<PassageVectors>,
        terms: Vec<Option<Terms>>,
    ) -> Result<Self, StoreError> {
        if passages.len() != vectors.len() {
            return Err(StoreError::Invariant(
                "passages and vectors differ in number".into(),
            ));
        }
        let all = vectors
            .iter()
            .flat_map(|v| std::iter::once(&v.passage).chain(v.sentences.iter().map(|s| &s.vector)));
        if let Some(v) = all.into_iter().find(|v| v.len() != model.dim) {
            return Err(StoreError::Invariant(format!(
                "vector of dimension {} in a {}-dimensional index",
                v.len(),
                model.dim
            )));
        }
        let mut by_id = HashMap::with_capacity(passages.len());
        for (key, p) in passages.iter().enumerate() {
            if by_id.insert(p.id.clone(), key as Key).is_some() {
                return Err(StoreError::Invariant(format!(
                    "passage id {:?} twice",
                    p.id
                )));
            }
        }
        let mut passage_vectors = Vec::with_capacity(vectors.len());
        let mut sentence_vectors = Vec::new();
        let (mut owner, mut spans, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
        for (key, v) in vectors.into_iter().enumerate() {
            let first = owner.len();
            for s in v.sentences {
                if s.start >= s.end {
                    return Err(StoreError::Invariant("empty sentence span".into()));
                }
                owner.push(key as Key);
                spans.push((s.start, s.end));
                sentence_vectors.push(s.vector);
            }
            ranges.push(first..owner.len());
            passage_vectors.push(v.passage);
        }
        let lexical = TantivyStore::build_with(
            passages
                .iter()
                .zip(terms)
                .map(|(p, t)| (p.doc.as_str(), p.text.as_str(), t)),
        )?;
        Ok(Index {
            model,
            generation: 0,
            passages,
            by_id,
            vectors: VectorSet::build(passage_vectors),
            sentences: SentenceStore {
                vectors: VectorSet::build(sentence_vectors),
                owner,
                spans,
                ranges,
            },
            lexical,
        })
    }

    /// All passages, in key order.
    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// Passage vectors, in key order.
    pub(super) fn passage_vectors(&self) -> &[Vec<f32>] {
        self.vectors.vectors()
    }

    /// Sentence vectors of all passages, in passage then text order.
    pub(super) fn sentence_vectors(&self) -> &[Vec<f32>] {
        self.sentences.vectors.vectors()
    }

    /// Sentences per passage and their spans, in the same order as [`Index::sentence_vectors`].
    pub(super) fn sentence_layout(&self) -> (Vec<usize>, Vec<(u32, u32)>) {
        (
            self.sentences.ranges.iter().map(|r| r.len()).collect(),
            self.sentences.spans.clone(),
        )
    }

    /// A new index where each given document's passages replace any it had (vectors in the same
    /// order as passages).
    pub fn with_documents(
        &self,
        docs: Vec<(Vec<Passage>, Vec<PassageVectors>)>,
    ) -> Result<Index, StoreError> {
        let replaced: HashSet<&str> = docs
            .iter()
            .flat_map(|(ps, _)| ps.iter().map(|p| p.doc.as_str()))
            .collect();
        let (mut ps, mut vs, mut ts) = self.kept(|p| !replaced.contains(p.doc.as_str()));
        for (p, v) in docs {
            if p.len() != v.len() {
                return Err(StoreError::Invariant(
                    "passages and vectors differ in number".into(),
                ));
            }
            ts.extend(p.iter().map(|_| None));
            ps.extend(p);
            vs.extend(v);
        }
        let mut next = Index::from_parts_with(self.model.clone(), ps, vs, ts)?;
        next.generation = self.generation;
        Ok(next)
    }

    /// A new index without `doc`, and how many passages went.
    pub fn without_document(&self, doc: &str) -> Result<(Index, usize), StoreError> {
        let (ps, vs, ts) = self.kept(|p| p.doc != doc);
        let removed = self.passages.len() - ps.len();
        let mut next = Index::from_parts_with(self.model.clone(), ps, vs, ts)?;
        next.generation = self.generation;
        Ok((next, removed))
    }

    /// The passages that `keep`, with their vectors and lexical terms.
    #[allow(clippy::type_complexity)]
    fn kept(
        &self,
        keep: impl Fn(&Passage) -> bool,
    ) -> (Vec<Passage>, Vec<PassageVectors>, Vec<Option<Terms>>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (i, (p, v)) in self.passages.iter().zip(self.vectors.vectors()).enumerate() {
            if keep(p) {
                out.0.push(p.clone());
                out.1.push(PassageVectors {
                    passage: v.clone(),
                    sentences: self
                        .sentences(i as Key)
                        .into_iter()
                        .map(|s| SentenceVector {
                            start: s.start,
                            end: s.end,
                            vector: s.vector.to_vec(),
                        })
                        .collect(),
                });
                out.2.push(self.lexical.terms(i));
            }
        }
        out
    }

    fn accept<'a>(&'a self, filter: Filter<'a>) -> impl Fn(Key) -> bool + 'a {
        move |key| {
            self.passages
                .get(key as usize)
                .is_some_and(|p| filter.accepts(key, p))
        }
    }
}

impl Snapshot for Index {
    fn model(&self) -> &ModelId {
        &self.model
    }

    fn len(&self) -> usize {
        self.passages.len()
    }

    fn documents(&self) -> Vec<DocumentInfo> {
        let mut docs: BTreeMap<&str, DocumentInfo> = BTreeMap::new();
        for p in &self.passages {
            docs.entry(&p.doc)
                .or_insert_with(|| DocumentInfo {
                    doc: p.doc.clone(),
                    title: p.title.clone(),
                    passages: 0,
                })
                .passages += 1;
        }
        docs.into_values().collect()
    }

    fn has_document(&self, doc: &str) -> bool {
        self.passages.iter().any(|p| p.doc == doc)
    }

    fn passage(&self, key: Key) -> Option<&Passage> {
        self.passages.get(key as usize)
    }

    fn find(&self, id: &str) -> Option<Key> {
        self.by_id.get(id).copied()
    }

    fn passage_vector(&self, key: Key) -> Option<&[f32]> {
        self.vectors.vector(key)
    }

    fn sentences(&self, key: Key) -> Vec<StoredSentence<'_>> {
        let range = self
            .sentences
            .ranges
            .get(key as usize)
            .cloned()
            .unwrap_or(0..0);
        range
            .filter_map(|i| {
                let (start, end) = self.sentences.spans[i];
                self.sentences
                    .vectors
                    .vector(i as Key)
                    .map(|vector| StoredSentence { start, end, vector })
            })
            .collect()
    }

    fn has_sentences(&self) -> bool {
        !self.sentences.owner.is_empty()
    }

    fn nearest(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)> {
        self.vectors.search(vector, k, &self.accept(filter))
    }

    fn nearest_sentences(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)> {
        let owner = &self.sentences.owner;
        let accept = self.accept(filter);
        self.sentences
            .vectors
            .search(vector, k, &|s| accept(owner[s as usize]))
            .into_iter()
            .map(|(s, score)| (owner[s as usize], score))
            .collect()
    }

    fn lexical(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits, StoreError> {
        self.lexical.search(query, k, doc)
    }
}
