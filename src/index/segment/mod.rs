//! A segment: an immutable batch of documents with their passages, vectors, sentence vectors
//! and, when large enough to need them, HNSW graphs, in one folder `seg-<id>/`. A write adds a
//! segment; nothing in a segment ever changes afterwards, so it is memory-mapped, shared by every
//! snapshot that lists it, and deleted only when no manifest names it.
//!
//! Files (all little-endian, see [`files`]):
//! - `segment.json`: counts, and the documents with their passage ranges;
//! - `passages.jsonl` + `passages.off` (u64 byte offsets, one more than passages);
//! - `vectors.f32`: one vector per passage;
//! - `sentences.first` (u32, first sentence of each passage, one more than passages),
//!   `sentences.spans` (u32 start, end in characters), `sentences.f32`;
//! - `vectors.graph`, `sentences.graph`: graphs (see [`graph`]) of sets of at least
//!   [`EXACT_BELOW`] vectors, walked on int8 copies (`*.i8`, one scale per vector in `*.scale`)
//!   and rescored with the f32 vectors; smaller sets are scanned.

mod check;
pub mod files;
pub mod graph;
pub mod hnsw;
mod vectors;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::files::{sum_file, sync_dir, write_array, write_bytes, FileSum, Mapped};
use self::vectors::Vectors;
use super::{Passage, PassageVectors, StoreError};

/// Below this many vectors a set is scanned: perfect recall, well under a millisecond for 4096
/// vectors of 384 floats, and no graph to build for the small segments most writes make.
pub const EXACT_BELOW: usize = 4096;

/// A document in a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry {
    /// Document id.
    pub doc: String,
    /// Title.
    pub title: String,
    /// Its passages: local keys `start..end`.
    pub start: u32,
    /// End of the range (exclusive).
    pub end: u32,
    /// [`crate::index::content_hash`] of its passages.
    #[serde(default)]
    pub hash: String,
    /// Its metadata (absent when it has none, so older tables read and checksum unchanged).
    #[serde(default, skip_serializing_if = "crate::index::Metadata::is_empty")]
    pub metadata: crate::index::Metadata,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    id: u64,
    dim: usize,
    passages: usize,
    sentences: usize,
    docs: Vec<DocEntry>,
    /// Every other file of the segment, with its length and checksum (absent in segments
    /// written before checksums, which are checked for structure only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileSum>,
    /// [`files::json_crc`] of this table without this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<u32>,
}

/// The files of a vector set that has a graph.
fn graph_files(name: &str) -> [&'static str; 3] {
    match name {
        "vectors" => ["vectors.graph", "vectors.i8", "vectors.scale"],
        _ => ["sentences.graph", "sentences.i8", "sentences.scale"],
    }
}

/// An open segment.
pub struct Segment {
    /// Its id (its folder is `seg-<id>`).
    pub id: u64,
    dir: PathBuf,
    records: Mapped<u8>,
    offsets: Mapped<u64>,
    passages: Vectors,
    first_sentence: Mapped<u32>,
    spans: Mapped<u32>,
    sentences: Vectors,
    /// Owning passage of each sentence.
    owner: Vec<u32>,
    docs: Vec<DocEntry>,
    by_doc: HashMap<String, usize>,
    /// Read from the passages the first time a search filters by section.
    sections: std::sync::OnceLock<Vec<SectionRun>>,
}

/// Consecutive passages `start..end` under one section heading (None: outside any).
pub type SectionRun = (u32, u32, Option<String>);

/// The folder of segment `id` under an index folder.
pub fn dir_of(index: &Path, id: u64) -> PathBuf {
    index.join(format!("seg-{id}"))
}

/// Graphs a new segment's vector sets start from: for each set, the graph of its first vectors
/// (a merge keeps its largest segment's graphs and inserts only the rest).
#[derive(Default)]
pub struct Seeds {
    /// Graph of the first passage vectors.
    pub vectors: Option<hnsw::Links>,
    /// Graph of the first sentence vectors.
    pub sentences: Option<hnsw::Links>,
}

/// Writes documents (passages and their vectors, in order) as segment `id` under `index`, with
/// graphs where needed, fsynced; returns its folder.
pub fn write(
    index: &Path,
    id: u64,
    dim: usize,
    docs: &[(Vec<Passage>, Vec<PassageVectors>)],
) -> Result<PathBuf, StoreError> {
    write_seeded(index, id, dim, docs, Seeds::default())
}

/// [`write()`], with graphs grown from `seeds`.
pub fn write_seeded(
    index: &Path,
    id: u64,
    dim: usize,
    docs: &[(Vec<Passage>, Vec<PassageVectors>)],
    mut seeds: Seeds,
) -> Result<PathBuf, StoreError> {
    let dir = dir_of(index, id);
    if dir.exists() {
        // Left by a write that crashed before its manifest named it.
        std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let mut records = Vec::new();
    let mut offsets = vec![0u64];
    let mut vectors = Vec::new();
    let mut first = vec![0u32];
    let mut spans = Vec::new();
    let mut sentence_vectors = Vec::new();
    let mut entries = Vec::new();
    let mut n = 0u32;
    for (passages, vs) in docs {
        if passages.len() != vs.len() || passages.is_empty() {
            return Err(StoreError::Invariant(
                "a document's passages and vectors differ in number".into(),
            ));
        }
        entries.push(DocEntry {
            doc: passages[0].doc.clone(),
            title: passages[0].title.clone(),
            start: n,
            end: n + passages.len() as u32,
            hash: crate::index::content_hash(passages),
            metadata: passages[0].metadata.clone(),
        });
        for (p, v) in passages.iter().zip(vs) {
            serde_json::to_writer(&mut records, p)?;
            records.push(b'\n');
            offsets.push(records.len() as u64);
            if v.passage.len() != dim {
                return Err(StoreError::Invariant(format!(
                    "vector of dimension {} in a {dim}-dimensional index",
                    v.passage.len()
                )));
            }
            vectors.extend_from_slice(&v.passage);
            for s in &v.sentences {
                if s.start >= s.end || s.vector.len() != dim {
                    return Err(StoreError::Invariant("bad sentence vector".into()));
                }
                spans.extend([s.start, s.end]);
                sentence_vectors.extend_from_slice(&s.vector);
            }
            first.push((spans.len() / 2) as u32);
            n += 1;
        }
    }
    write_bytes(&dir.join("passages.jsonl"), &records)?;
    write_array(&dir.join("passages.off"), &offsets)?;
    write_array(&dir.join("vectors.f32"), &vectors)?;
    write_array(&dir.join("sentences.first"), &first)?;
    write_array(&dir.join("sentences.spans"), &spans)?;
    write_array(&dir.join("sentences.f32"), &sentence_vectors)?;
    let sentences = spans.len() / 2;
    let sets = [
        ("vectors", &vectors, seeds.vectors.take(), id << 1),
        (
            "sentences",
            &sentence_vectors,
            seeds.sentences.take(),
            id << 1 | 1,
        ),
    ];
    for (name, set, seed, salt) in sets {
        if set.len() / dim >= EXACT_BELOW {
            let links = hnsw::build(set, dim, seed, salt);
            graph::write(&dir.join(format!("{name}.graph")), &links)?;
            let mut q = Vec::with_capacity(set.len());
            let scales: Vec<f32> = set
                .chunks_exact(dim)
                .map(|v| crate::kernels::quantize_i8(v, &mut q))
                .collect();
            write_array(&dir.join(format!("{name}.i8")), &q)?;
            write_array(&dir.join(format!("{name}.scale")), &scales)?;
        }
    }
    let mut names = vec![
        "passages.jsonl",
        "passages.off",
        "vectors.f32",
        "sentences.first",
        "sentences.spans",
        "sentences.f32",
    ];
    for (name, count) in [("vectors", n as usize), ("sentences", sentences)] {
        if count >= EXACT_BELOW {
            names.extend(graph_files(name));
        }
    }
    // Summed from what is on disk, which is what a later open will read.
    let files = names
        .iter()
        .map(|name| sum_file(&dir, name))
        .collect::<Result<Vec<_>, _>>()?;
    let mut meta = Meta {
        id,
        dim,
        passages: n as usize,
        sentences,
        docs: entries,
        files,
        checksum: None,
    };
    meta.checksum = Some(files::json_crc(&meta)?);
    write_bytes(&dir.join("segment.json"), &serde_json::to_vec(&meta)?)?;
    sync_dir(&dir)?;
    Ok(dir)
}

impl Segment {
    /// Opens the segment in `dir` (maps its files; reads only its document table and the
    /// graphs' upper layers).
    pub fn open(dir: &Path, dim: usize) -> Result<Self, StoreError> {
        let path = dir.join("segment.json");
        let text = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut meta: Meta = serde_json::from_slice(&text)
            .map_err(|e| StoreError::corrupt(&path, format!("segment.json: {e}")))?;
        if let Some(sum) = meta.checksum.take() {
            if files::json_crc(&meta)? != sum {
                return Err(StoreError::corrupt(&path, "checksum mismatch (damaged)"));
            }
        } else if !meta.files.is_empty() {
            return Err(StoreError::corrupt(&path, "checksum missing"));
        }
        if meta.dim != dim {
            return Err(StoreError::corrupt(&path, "segment of another dimension"));
        }
        files::verify(dir, &meta.files)?;
        let offsets = Mapped::<u64>::open(&dir.join("passages.off"))?;
        let records = Mapped::<u8>::open(&dir.join("passages.jsonl"))?;
        let first_sentence = Mapped::<u32>::open(&dir.join("sentences.first"))?;
        let spans = Mapped::<u32>::open(&dir.join("sentences.spans"))?;
        let n = meta.passages;
        if offsets.len() != n + 1
            || offsets.as_slice().last().copied() != Some(records.len() as u64)
            || first_sentence.len() != n + 1
            || spans.len() != 2 * meta.sentences
        {
            return Err(StoreError::corrupt(dir, "segment tables do not match"));
        }
        check::tables(
            dir,
            n,
            meta.sentences,
            &meta.docs,
            offsets.as_slice(),
            first_sentence.as_slice(),
            spans.as_slice(),
        )?;
        let passages = Vectors::open(dir, "vectors", dim, n)?;
        let sentences = Vectors::open(dir, "sentences", dim, meta.sentences)?;
        let mut owner = vec![0u32; meta.sentences];
        for (p, w) in first_sentence.as_slice().windows(2).enumerate() {
            for o in owner.iter_mut().take(w[1] as usize).skip(w[0] as usize) {
                *o = p as u32;
            }
        }
        let by_doc = meta
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.doc.clone(), i))
            .collect();
        Ok(Segment {
            id: meta.id,
            dir: dir.to_path_buf(),
            records,
            offsets,
            passages,
            first_sentence,
            spans,
            sentences,
            owner,
            docs: meta.docs,
            by_doc,
            sections: std::sync::OnceLock::new(),
        })
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of passages (live or not).
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when it holds no passage.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its documents.
    pub fn docs(&self) -> &[DocEntry] {
        &self.docs
    }

    /// A document by id.
    pub fn doc(&self, id: &str) -> Option<&DocEntry> {
        self.by_doc.get(id).map(|&i| &self.docs[i])
    }

    /// The document holding passage `local`.
    pub fn doc_of(&self, local: u32) -> Option<&DocEntry> {
        let i = self.docs.partition_point(|d| d.end <= local);
        self.docs.get(i).filter(|d| d.start <= local)
    }

    /// Passage `local`.
    pub fn passage(&self, local: u32) -> Result<Passage, StoreError> {
        let o = self.offsets.as_slice();
        let (a, b) = (o[local as usize] as usize, o[local as usize + 1] as usize);
        serde_json::from_slice(&self.records.as_slice()[a..b])
            .map_err(|e| StoreError::corrupt(&self.dir, format!("passages.jsonl: {e}")))
    }

    /// Runs of consecutive passages under one section heading, in order (a run may span the
    /// end of one document and the start of the next). Read from the passages once, the first
    /// time a search filters by section, and kept: a table of runs, not of passages.
    pub fn sections(&self) -> Result<&[SectionRun], StoreError> {
        if let Some(runs) = self.sections.get() {
            return Ok(runs);
        }
        #[derive(Deserialize)]
        struct Heading {
            section: Option<String>,
        }
        let o = self.offsets.as_slice();
        let mut runs: Vec<SectionRun> = Vec::new();
        for local in 0..self.len() as u32 {
            let (a, b) = (o[local as usize] as usize, o[local as usize + 1] as usize);
            let h: Heading = serde_json::from_slice(&self.records.as_slice()[a..b])
                .map_err(|e| StoreError::corrupt(&self.dir, format!("passages.jsonl: {e}")))?;
            match runs.last_mut() {
                Some(run) if run.2 == h.section => run.1 = local + 1,
                _ => runs.push((local, local + 1, h.section)),
            }
        }
        Ok(self.sections.get_or_init(|| runs))
    }

    /// This segment's graphs restricted to the documents `keep` accepts, renumbered as those
    /// documents' passages and sentences come, in this segment's order, at the start of a new
    /// segment: what a merge grows instead of inserting them all again. None for a set without
    /// a graph, or with more than a quarter of it left out (a graph with so many nodes taken out
    /// keeps too few of its paths; it is built again).
    pub fn seeds(&self, keep: &dyn Fn(&DocEntry) -> bool) -> Seeds {
        let first = self.first_sentence.as_slice();
        let mut passages = vec![None; self.len()];
        let mut sentences = vec![None; self.sentences.len()];
        let (mut p, mut s) = (0u32, 0u32);
        for d in self.docs.iter().filter(|d| keep(d)) {
            for local in d.start..d.end {
                passages[local as usize] = Some(p);
                p += 1;
                for sentence in first[local as usize]..first[local as usize + 1] {
                    sentences[sentence as usize] = Some(s);
                    s += 1;
                }
            }
        }
        let seed = |set: &Vectors, map: &[Option<u32>], kept: u32| {
            let enough = kept as usize * 4 >= map.len() * 3 && kept > 0;
            set.graph().filter(|_| enough).map(|g| g.links(map))
        };
        Seeds {
            vectors: seed(&self.passages, &passages, p),
            sentences: seed(&self.sentences, &sentences, s),
        }
    }

    /// Whole-text vector of passage `local`.
    pub fn passage_vector(&self, local: u32) -> &[f32] {
        self.passages.get(local)
    }

    /// Sentences of passage `local`: `(start, end, vector)`.
    pub fn sentences(&self, local: u32) -> impl Iterator<Item = (u32, u32, &[f32])> {
        let f = self.first_sentence.as_slice();
        let spans = self.spans.as_slice();
        (f[local as usize]..f[local as usize + 1]).map(move |s| {
            (
                spans[2 * s as usize],
                spans[2 * s as usize + 1],
                self.sentences.get(s),
            )
        })
    }

    /// True when any passage has sentence vectors.
    pub fn has_sentences(&self) -> bool {
        self.sentences.len() > 0
    }

    /// Nearest passages among those `keep` accepts: `(local, cosine)`, best first. With a
    /// `range` (one document's passages) the range is scanned: a graph walk with so selective a
    /// filter would visit most of the graph.
    pub fn nearest(
        &self,
        q: &[f32],
        k: usize,
        range: Option<std::ops::Range<u32>>,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        match range {
            Some(r) => self.passages.scan(q, k, r, keep),
            None => self.passages.search(q, k, keep),
        }
    }

    /// Nearest sentences whose passage `keep` accepts (within `range`, scanned, when given):
    /// `(local passage, cosine)`, best first.
    pub fn nearest_sentences(
        &self,
        q: &[f32],
        k: usize,
        range: Option<std::ops::Range<u32>>,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let owner = &self.owner;
        let keep_sentence = |s: u32| keep(owner[s as usize]);
        let found = match range {
            Some(r) => {
                let f = self.first_sentence.as_slice();
                let sentences = f[r.start as usize]..f[r.end as usize];
                self.sentences.scan(q, k, sentences, &keep_sentence)
            }
            None => self.sentences.search(q, k, &keep_sentence),
        };
        found
            .into_iter()
            .map(|(s, score)| (owner[s as usize], score))
            .collect()
    }
}
