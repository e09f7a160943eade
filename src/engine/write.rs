//! The write path: raw documents -> drafts (cleaned and split, validated, no index needed) ->
//! vectors (embedded in batches that span documents) -> one ordered, durable store write.
//!
//! Callers that can fail late and expensively (the CLI opening a large index, a model mismatch)
//! draft first: every input error is then reported before the index is touched or a single
//! passage is embedded.

use std::collections::HashSet;

use super::{Engine, Options};
use crate::config::{MAX_DOC_PASSAGES, MAX_DOC_SENTENCES};
use crate::embed::{Embedder, SentenceVectors, TextKind};
use crate::error::{Error, Result};
use crate::index::{
    content_hash, Passage, PassageId, PassageVectors, SentenceVector, Snapshot, Write,
};
use crate::ingest::{self, split::Draft, IngestError, RawDocument};

/// Passages embedded per call: the embedder packs them and their sentences into as few forward
/// passes as fit, and progress moves at least this often.
const EMBED_CHUNK: usize = 32;

/// Longest id derived from a title, in characters: readable in a URL.
const SLUG_CHARS: usize = 60;

/// A document cleaned and split, ready to embed.
#[derive(Debug, Clone)]
pub struct DocumentDraft {
    /// The id it was given; None to derive an unused one from the title when it is written.
    pub doc: Option<String>,
    /// Title.
    pub title: String,
    /// Its passages, in order.
    pub passages: Vec<Draft>,
    /// Its metadata, checked.
    pub metadata: crate::index::Metadata,
}

/// What writing one document did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// Document id.
    pub doc: String,
    /// Passages stored.
    pub passages: usize,
    /// True when the document was stored already with these passages, and left alone.
    pub unchanged: bool,
}

/// The stored records of a drafted document under id `id`.
fn records(id: &str, d: &DocumentDraft) -> Vec<Passage> {
    d.passages
        .iter()
        .enumerate()
        .map(|(i, p)| Passage {
            id: PassageId::format(id, i + 1),
            doc: id.to_string(),
            title: d.title.clone(),
            section: p.section.clone(),
            clause: p.clause.clone(),
            text: p.text.clone(),
            start: p.start,
            end: p.end,
            page: p.page,
            metadata: d.metadata.clone(),
        })
        .collect()
}

/// Cleans and splits documents, refusing bad input (an unusable id, a document with no text,
/// one id twice) before anything is embedded or written.
pub fn draft(
    embedder: &dyn Embedder,
    options: &Options,
    raws: &[RawDocument],
) -> Result<Vec<DocumentDraft>> {
    let mut seen = HashSet::new();
    let max = options.max_passage_tokens;
    let fits = |t: &str| {
        embedder
            .count_tokens(t, TextKind::Passage)
            .map(|n| n <= max)
            .unwrap_or(false)
    };
    let mut out = Vec::with_capacity(raws.len());
    for raw in raws {
        if let Some(t) = &raw.title {
            ingest::check_title(t)?;
        }
        if let Some(id) = &raw.doc {
            ingest::check_doc_id(id)?;
            if !seen.insert(id.as_str()) {
                return Err(IngestError::DuplicateId(id.clone()).into());
            }
        }
        let doc = ingest::clean(raw)?;
        // Counted on the whole text first: splitting a pathological text (hundreds of
        // thousands of two-character sentences) takes minutes, counting it milliseconds.
        let sentences = ingest::split::sentences(&doc.text).len();
        if sentences > MAX_DOC_SENTENCES {
            return Err(too_large(
                raw.label(),
                "sentences",
                sentences,
                MAX_DOC_SENTENCES,
            ));
        }
        let passages = ingest::split::split(&doc, &fits);
        if passages.is_empty() {
            return Err(IngestError::NoText(raw.label()).into());
        }
        if passages.len() > MAX_DOC_PASSAGES {
            let n = passages.len();
            return Err(too_large(raw.label(), "passages", n, MAX_DOC_PASSAGES));
        }
        out.push(DocumentDraft {
            doc: raw.doc.clone(),
            title: doc.title,
            passages,
            metadata: doc.metadata,
        });
    }
    Ok(out)
}

/// The error for a document past [`MAX_DOC_PASSAGES`] or [`MAX_DOC_SENTENCES`]: what a write
/// stores grows with both, and a body's size bounds neither tightly.
fn too_large(doc: String, what: &'static str, found: usize, limit: usize) -> Error {
    IngestError::TooLarge {
        doc,
        what,
        found,
        limit,
    }
    .into()
}

/// When a write must be done by: checked between its steps (after drafting, after each batch
/// embedded, once it holds the writer) so that work a client has stopped waiting for stops
/// too, and a write refused at its deadline is never written later.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// No deadline (the command line).
    pub fn none() -> Self {
        Deadline(None)
    }

    /// `secs` seconds from now.
    pub fn after(secs: f64) -> Self {
        Deadline(Some(
            std::time::Instant::now() + std::time::Duration::from_secs_f64(secs),
        ))
    }

    /// An error once the deadline has passed.
    pub fn check(&self, step: &str) -> Result<()> {
        match self.0 {
            Some(at) if std::time::Instant::now() >= at => Err(Error::Deadline(step.to_string())),
            _ => Ok(()),
        }
    }
}

/// What [`Engine::import`] copied.
pub type Imported = crate::index::Copied;

impl Engine {
    /// Drafts, embeds and writes documents; a document whose id exists is replaced. `progress`
    /// gets the number of passages embedded by each step.
    pub fn ingest(&self, raws: &[RawDocument], progress: &dyn Fn(usize)) -> Result<Vec<Ingested>> {
        self.ingest_by(raws, progress, Deadline::none())
    }

    /// Checks that `raws` can be written (each cleaned and split, ids distinct) without
    /// embedding or writing anything: what a queued task is checked by before it is accepted.
    pub fn check(&self, raws: &[RawDocument]) -> Result<()> {
        draft(self.embedder.as_ref(), &self.options, raws).map(|_| ())
    }

    /// [`Engine::ingest`], stopped with [`Error::Deadline`] and nothing written once `deadline`
    /// passes before the store write begins.
    pub fn ingest_by(
        &self,
        raws: &[RawDocument],
        progress: &dyn Fn(usize),
        deadline: Deadline,
    ) -> Result<Vec<Ingested>> {
        let drafts = draft(self.embedder.as_ref(), &self.options, raws)?;
        deadline.check("cleaning and splitting")?;
        self.write_drafts(drafts, progress, deadline)
    }

    /// Embeds and writes drafted documents (see [`Engine::ingest`]). A document whose id is
    /// stored with exactly these passages is left alone (nothing embedded or written), so a
    /// re-run of an interrupted ingest costs only what was not committed.
    pub fn ingest_drafts(
        &self,
        drafts: Vec<DocumentDraft>,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<Ingested>> {
        self.write_drafts(drafts, progress, Deadline::none())
    }

    fn write_drafts(
        &self,
        drafts: Vec<DocumentDraft>,
        progress: &dyn Fn(usize),
        deadline: Deadline,
    ) -> Result<Vec<Ingested>> {
        let snap = self.snapshot()?;
        let mut done: Vec<Option<Ingested>> = Vec::with_capacity(drafts.len());
        let mut todo = Vec::with_capacity(drafts.len());
        for d in drafts {
            let unchanged = match d.doc.as_deref() {
                Some(id) => snap.document_hash(id)? == Some(content_hash(&records(id, &d))),
                None => false,
            };
            if unchanged {
                done.push(Some(Ingested {
                    doc: d.doc.clone().unwrap_or_default(),
                    passages: d.passages.len(),
                    unchanged: true,
                }));
                progress(d.passages.len());
            } else {
                done.push(None);
                todo.push(d);
            }
        }
        if todo.is_empty() {
            return Ok(done.into_iter().flatten().collect());
        }
        let texts: Vec<(&Draft, Option<&str>)> = todo
            .iter()
            .flat_map(|d| d.passages.iter().map(|p| (p, p.section.as_deref())))
            .collect();
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(EMBED_CHUNK) {
            deadline.check("embedding")?;
            vectors.extend(self.embed_chunk(chunk)?);
            progress(chunk.len());
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // The last point where the write can still be refused: past it, it is written.
        deadline.check("waiting for other writes")?;
        // Other servers on a shared store wait too: an id chosen below must still be free when
        // the write lands, or one acknowledged document would silently replace another.
        let _exclusive = self.store.exclusive()?;
        let snap = self.snapshot()?;
        let mut taken: HashSet<String> = HashSet::new();
        let mut vectors = vectors.into_iter();
        let mut docs = Vec::with_capacity(todo.len());
        let mut written = Vec::with_capacity(todo.len());
        for d in todo {
            let id = match &d.doc {
                Some(id) => id.clone(),
                None => unused_id(&d.title, snap.as_ref(), &taken)?,
            };
            taken.insert(id.clone());
            let passages = records(&id, &d);
            written.push(Ingested {
                doc: id,
                passages: passages.len(),
                unchanged: false,
            });
            let n = passages.len();
            docs.push((passages, vectors.by_ref().take(n).collect()));
        }
        self.store.apply(Write::Upsert(docs))?;
        let mut written = written.into_iter();
        Ok(done
            .into_iter()
            .map(|d| d.or_else(|| written.next()))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default())
    }

    /// Deletes a document; returns how many passages went.
    pub fn delete(&self, doc: &str) -> Result<usize> {
        ingest::check_doc_id(doc)?;
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Checked first: a store write for a document it lacks is wasted work.
        if !self.snapshot()?.has_document(doc)? {
            return Err(Error::NotFound(format!("no document {doc:?}")));
        }
        Ok(self.store.apply(Write::Delete(doc.to_string()))?)
    }

    /// Copies every document of `from` (another store's snapshot, built with the same model)
    /// into this engine's store with its stored vectors: nothing is re-embedded (see
    /// [`crate::index::copy()`]). Other writes wait until it is done.
    pub fn import(&self, from: &dyn Snapshot, progress: &dyn Fn(usize, usize)) -> Result<Imported> {
        if from.model() != self.embedder.id() {
            return Err(Error::invalid(format!(
                "the source holds vectors of {} and this store of {}: copy between stores of one model",
                from.model().name,
                self.embedder.id().name
            )));
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(crate::index::copy(from, self.store.as_ref(), progress)?)
    }

    /// Vectors of passages (as the index stores them) and of each of their sentences, from one
    /// embedder call: pooled from the passage's own pass, or embedded on their own (see
    /// [`SentenceVectors`]).
    fn embed_chunk(&self, chunk: &[(&Draft, Option<&str>)]) -> Result<Vec<PassageVectors>> {
        let heading = self.options.embed_heading;
        let mut texts: Vec<String> = Vec::with_capacity(chunk.len());
        // Per passage: its sentences as character ranges of its text, and of the embedded text
        // (which may start with the heading).
        let mut cuts: Vec<Vec<(usize, usize)>> = Vec::with_capacity(chunk.len());
        let mut spans: Vec<Vec<(usize, usize)>> = Vec::with_capacity(chunk.len());
        for (p, section) in chunk {
            let (text, shift) = match (section, heading) {
                (Some(s), true) => (format!("{s}\n{}", p.text), s.chars().count() + 1),
                _ => (p.text.clone(), 0),
            };
            let cut = ingest::split::sentences(&p.text);
            let whole = cut.len() == 1 && cut[0] == (0, p.text.chars().count());
            // The one sentence that is the whole passage takes the passage's vector.
            spans.push(if whole && !heading {
                Vec::new()
            } else {
                cut.iter().map(|&(a, b)| (a + shift, b + shift)).collect()
            });
            texts.push(text);
            cuts.push(cut);
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // Phase events (start/end pairs, target `semsearch::phase`) let the crash soak tell
        // where each kill landed.
        tracing::debug!(target: "semsearch::phase", texts = refs.len(), "embed start");
        let embedded = match self.options.sentence_vectors {
            SentenceVectors::Late => self
                .embedder
                .embed_spans(&refs, &spans, TextKind::Passage)?,
            SentenceVectors::Separate => Embedder::embed_spans(
                &Separate(self.embedder.as_ref()),
                &refs,
                &spans,
                TextKind::Passage,
            )?,
        };
        tracing::debug!(target: "semsearch::phase", "embed end");
        Ok(embedded
            .texts
            .into_iter()
            .zip(embedded.spans)
            .zip(cuts)
            .map(|((passage, sentence_vectors), cut)| {
                let mut out = PassageVectors::from(passage);
                out.sentences = cut
                    .iter()
                    .enumerate()
                    .map(|(i, &(start, end))| SentenceVector {
                        start: start as u32,
                        end: end as u32,
                        vector: sentence_vectors
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| out.passage.clone()),
                    })
                    .collect();
                out
            })
            .collect())
    }
}

/// An embedder whose [`Embedder::embed_spans`] is the trait's default (each piece embedded as a
/// text of its own), whatever the wrapped embedder does.
struct Separate<'a>(&'a dyn Embedder);

impl Embedder for Separate<'_> {
    fn id(&self) -> &crate::embed::ModelId {
        self.0.id()
    }
    fn embed(&self, texts: &[&str], kind: TextKind) -> crate::embed::Result<Vec<Vec<f32>>> {
        self.0.embed(texts, kind)
    }
    fn count_tokens(&self, text: &str, kind: TextKind) -> crate::embed::Result<usize> {
        self.0.count_tokens(text, kind)
    }
    fn prefix(&self, kind: TextKind) -> &str {
        self.0.prefix(kind)
    }
}

/// An id for a document without one: the slug of its title, then `-2`, `-3`... until it names
/// no stored document and none written in the same batch.
fn unused_id(title: &str, snap: &dyn Snapshot, taken: &HashSet<String>) -> Result<String> {
    let base = Some(slug(title))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "doc".into());
    let free = |id: &str| -> Result<bool> { Ok(!taken.contains(id) && !snap.has_document(id)?) };
    if free(&base)? {
        return Ok(base);
    }
    for n in 2.. {
        let id = format!("{base}-{n}");
        if free(&id)? {
            return Ok(id);
        }
    }
    unreachable!("an unbounded range ends only in a return")
}

/// Lower-cased letters and digits of `title`, runs of anything else as one '-'.
pub fn slug(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.chars().take(SLUG_CHARS).collect()
}
