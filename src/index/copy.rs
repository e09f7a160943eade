//! Copying documents with their vectors from one store to another (a local index into
//! PostgreSQL to scale out, or back), through the store traits alone: nothing is re-embedded.

use super::{
    content_hash, DocumentWrite, PassageVectors, SentenceVector, Snapshot, Store, StoreError, Write,
};

/// Passages per write: large enough that a database's per-transaction cost vanishes, small
/// enough that progress moves and a crash loses little (every batch is durable before the next).
pub const COPY_BATCH: usize = 2000;

/// What [`copy`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Documents written.
    pub documents: usize,
    /// Their passages.
    pub passages: usize,
    /// Documents `to` held already with the same passages, left alone (so an interrupted copy
    /// resumes where it stopped).
    pub unchanged: usize,
}

/// Copies every document of `from` into `to` (both of one model: the caller checks), in batches
/// of about [`COPY_BATCH`] passages; `progress` gets (documents done, documents in all).
pub fn copy(
    from: &dyn Snapshot,
    to: &dyn Store,
    progress: &dyn Fn(usize, usize),
) -> Result<Copied, StoreError> {
    let docs = from.documents()?;
    let total: usize = docs.iter().map(|d| d.passages).sum();
    let bulk = total > COPY_BATCH;
    // Before this copy holds a snapshot of `to`: a store may need exclusive locks to start.
    if bulk {
        to.bulk(true)?;
    }
    let out = to
        .snapshot()
        .and_then(|here| copy_documents(from, to, here.as_ref(), &docs, progress));
    // Ended whatever happened: indexes put off come back before the error is reported.
    let ended = if bulk { to.bulk(false) } else { Ok(()) };
    let out = out?;
    ended?;
    Ok(out)
}

fn copy_documents(
    from: &dyn Snapshot,
    to: &dyn Store,
    here: &dyn Snapshot,
    docs: &[super::DocumentInfo],
    progress: &dyn Fn(usize, usize),
) -> Result<Copied, StoreError> {
    let mut out = Copied::default();
    let mut batch: Vec<DocumentWrite> = Vec::new();
    let mut pending = 0usize;
    for (i, info) in docs.iter().enumerate() {
        let (passages, vectors) = read_document(from, &info.doc, info.passages)?;
        if here.document_hash(&info.doc)? == Some(content_hash(&passages)) {
            out.unchanged += 1;
        } else {
            out.documents += 1;
            out.passages += passages.len();
            pending += passages.len();
            batch.push((passages, vectors));
        }
        if pending >= COPY_BATCH || i + 1 == docs.len() {
            if !batch.is_empty() {
                to.apply(Write::Upsert(std::mem::take(&mut batch)))?;
            }
            pending = 0;
            progress(i + 1, docs.len());
        }
    }
    Ok(out)
}

/// Document `doc`'s `n` passages with their vectors and sentences, as a store writes them:
/// `n` lookups and three batched reads.
pub fn read_document(
    from: &dyn Snapshot,
    doc: &str,
    n: usize,
) -> Result<DocumentWrite, StoreError> {
    let mut keys = Vec::with_capacity(n);
    for i in 1..=n {
        let id = super::PassageId::format(doc, i);
        let key = from
            .find(&id)?
            .ok_or_else(|| StoreError::Invariant(format!("{id} listed but not stored")))?;
        keys.push(key);
    }
    let passages = from.passages(&keys)?;
    let vectors: Vec<PassageVectors> = from
        .vectors(&keys)?
        .into_iter()
        .zip(from.sentences(&keys)?)
        .map(|(v, ss)| PassageVectors {
            passage: v.to_vec(),
            sentences: ss
                .iter()
                .map(|s| SentenceVector {
                    start: s.start,
                    end: s.end,
                    vector: s.vector.to_vec(),
                })
                .collect(),
        })
        .collect();
    Ok((passages, vectors))
}
