//! Defaults and limits, each named once with the reason for its value.
//!
//! Precedence is defaults < environment < flags: the command line (`cli`) declares each flag with
//! its `SEMSEARCH_*` variable and one of these constants as its default, so the three layers
//! meet in one place and the engine only ever sees resolved values.

/// Model folder when neither `--model` nor `SEMSEARCH_MODEL` is given.
pub const DEFAULT_MODEL_DIR: &str = "models/multilingual-e5-small";
/// Index folder when `--index` is not given.
pub const DEFAULT_INDEX_DIR: &str = "index/default";
/// Address `serve` listens on: loopback, so a first run exposes nothing.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Passages returned when a request names no `k`: a screenful, and what a chatbot prompt holds.
pub const DEFAULT_K: usize = 5;
/// Largest `k`: fusion looks [`FUSION_DEPTH`]-deep per list, so more results would be mostly
/// one list's tail, and the answer grows past what a page or a prompt uses.
pub const MAX_K: usize = 100;

/// Largest `offset + k` of a search: a page past it is work without bound for results no one
/// reads (fusion ranks the first [`FUSION_DEPTH`] from both lists).
pub const MAX_WINDOW: usize = 500;
/// Most collections one search spans (Dify's and OpenAI's `all`): each is searched in turn,
/// so this bounds the work of one request; a server with more answers `all` with a 400 that
/// asks for a collection by name.
pub const MAX_ALL_COLLECTIONS: usize = 64;
/// Most write tasks waiting (queued or processing) per collection: each holds its documents
/// on disk until it runs, so the queue is bounded in files as the bodies are in bytes; past it
/// a write is refused (503 `queue_full`) until some have run.
pub const MAX_QUEUED_TASKS: usize = 1000;
/// Ended tasks whose records are kept per collection (newest first), for `GET /tasks`.
pub const MAX_ENDED_TASKS: usize = 1000;
/// Most documents in one `POST /documents/batch` (one task).
pub const MAX_BATCH_DOCUMENTS: usize = 10_000;
/// Most questions in one `POST /search/batch`: embedded in shared forward passes, answered from
/// one snapshot.
pub const MAX_BATCH_QUERIES: usize = 32;
/// Largest `group_size`: passages of one document in a grouped result list.
pub const MAX_GROUP_SIZE: usize = 20;
/// Deepest a grouped search reads the ranking to find enough documents.
pub const MAX_GROUP_DEPTH: usize = 1000;

/// Relevance the best passage must reach for a question to count as answered: chosen on the
/// dev sets (`semsearch eval --unanswerable`), where it abstains on most questions the corpus
/// does not answer while keeping the answerable ones (see `search::relevance`).
pub const DEFAULT_MIN_RELEVANCE: f32 = 0.5;
/// Longest question, in characters: far beyond any question, short enough that a pasted
/// document is refused, not embedded.
pub const MAX_QUERY_CHARS: usize = 2000;
/// Tokens of a question the encoder reads (`engine::query`): the 3,382 questions of the CMRC
/// and XQuAD zh/en dev sets have a median of 16 and at most 40; a follow-up keeps what fits of
/// its recent turns (`eval --followups` is unchanged from reading 512). Measured with
/// `bench_search` on the corpus (AMD EPYC Zen 3, AVX2 int8): the longest question costs 3.9-4.0x
/// a normal hybrid search at 64 tokens (the cut included), 7.3-7.7x at 128, 35-39x at 512 (the
/// model's window).
pub const QUERY_TOKENS: usize = 64;

/// Default token budget of a chatbot context (`/context`, MCP `context`): room for three or
/// four passages with neighbours, a modest share of a chatbot's prompt.
pub const DEFAULT_CONTEXT_TOKENS: usize = 1500;
/// Token budgets a context accepts: enough for one passage, at most what a prompt can spare.
pub const CONTEXT_TOKENS: std::ops::RangeInclusive<usize> = 64..=16_000;
/// Passages a context adds on each side of a hit, by default.
pub const DEFAULT_NEIGHBOURS: usize = 1;
/// Most passages a context adds on each side of a hit.
pub const MAX_NEIGHBOURS: usize = 3;
/// Results of an OpenAI vector-store search by default, and at most (OpenAI's own bounds).
pub const DEFAULT_VECTOR_RESULTS: usize = 10;
/// See [`DEFAULT_VECTOR_RESULTS`].
pub const MAX_VECTOR_RESULTS: usize = 50;

/// Most documents one filter may name (an OpenAI `in` list, a Dify `or`, `filter.docs`): the
/// search scans the passages of each named document, so the list bounds its work.
pub const MAX_FILTER_DOCS: usize = 100;

/// Most metadata fields one facet request counts (`GET /documents?facets=`).
pub const MAX_FACET_FIELDS: usize = 16;
/// Most values listed per facet field, the most common first (the count of all is given).
pub const MAX_FACET_VALUES: usize = 50;

/// Longest Markdown front matter read as metadata, in bytes: a catalogue record, not a chapter;
/// a longer block stays text.
pub const MAX_FRONT_MATTER_BYTES: usize = 16 * 1024;
/// Most keys in a document's metadata: more than any catalogue record uses, few enough that
/// every passage can carry them.
pub const MAX_META_KEYS: usize = 64;
/// Longest metadata key, in bytes.
pub const MAX_META_KEY_BYTES: usize = 64;
/// Longest metadata string (and list item), in bytes: a description or a URL, not a document.
pub const MAX_META_VALUE_BYTES: usize = 1024;
/// Most items in a metadata list (tags, authors).
pub const MAX_META_LIST: usize = 64;
/// Most conditions in one filter expression, and its deepest nesting of `and`/`or`/`not`: a
/// filter is checked against every document, so its size bounds that work.
pub const MAX_FILTER_CONDITIONS: usize = 256;
/// See [`MAX_FILTER_CONDITIONS`].
pub const MAX_FILTER_DEPTH: usize = 8;

/// Candidates each retriever contributes before hybrid fusion: RRF only reorders what the lists
/// hold, and past rank 50 a list's contribution (1/(60+50)) no longer moves a top-10 result.
pub const FUSION_DEPTH: usize = 50;
/// Passages whose sentences compete for the answer of `/ask`: the answer is almost always in
/// the top three (CMRC trial), and every extra passage adds candidates that only add noise.
pub const ANSWER_PASSAGES: usize = 3;
/// Passages sampled to tell which languages an index holds (`GET /stats`): shares to about
/// 3 points, read in a few milliseconds.
pub const LANGUAGE_SAMPLE: usize = 256;

/// Default most tokens per passage: half the model's 512-token window, so a passage is one
/// clause or a few paragraphs, specific enough to be a useful hit.
pub const DEFAULT_MAX_PASSAGE_TOKENS: usize = 256;
/// Accepted range of `--max-passage-tokens`: below 16 a passage is a fragment of a sentence,
/// above 512 it no longer fits the model's window.
pub const PASSAGE_TOKENS_RANGE: std::ops::RangeInclusive<usize> = 16..=512;

/// Ranking depth of `eval`: recall@10 and MRR@10 need ten.
pub const EVAL_K: usize = 10;

/// Largest HTTP request body: a long article in HTML fits several times over.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Largest file uploaded to `POST /documents` by default (`SEMSEARCH_MAX_UPLOAD_MB`): Word files
/// carry images, and their text is bounded by the passage limits after reading.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Requests doing engine work at once (running or waiting for a core); more get 503 at once
/// instead of queueing without bound behind two cores.
pub const MAX_IN_FLIGHT: usize = 64;
/// Most inputs in one `/v1/embeddings` call: a few forward passes' worth.
pub const MAX_EMBED_INPUTS: usize = 256;
/// Longest `/v1/embeddings` input, in characters (about 200 windows of the model).
pub const MAX_EMBED_CHARS: usize = 100_000;
/// A request still running after this long is answered 408, so a client is never left hanging.
/// A write that times out still completes and is saved (it was ordered already), just not
/// acknowledged; a long document embeds for minutes on two cores, and bulk work belongs to
/// `semsearch ingest`.
pub const REQUEST_TIMEOUT_SECS: u64 = 120;

/// Longest document id, in bytes: an id is copied into every passage record and names the
/// document in URLs and tantivy terms (which stop at 65,530 bytes).
pub const MAX_DOC_ID_BYTES: usize = 256;
/// Longest title, in bytes: one given longer is refused, one taken from the text is cut.
pub const MAX_TITLE_BYTES: usize = 1024;

/// Most passages in one document: about three times what a 4 MiB body of ordinary prose makes,
/// and a bound on the vectors one request can make the index store.
pub const MAX_DOC_PASSAGES: usize = 10_000;

/// Most sentences in one document (each gets a vector of 1.5 KB): a 4 MiB body of two-character
/// sentences would otherwise store a gigabyte of vectors.
pub const MAX_DOC_SENTENCES: usize = 100_000;

/// Seconds a write over HTTP may spend before its store write begins: short of the request
/// deadline by the time a store write takes, so that a write stopped at its deadline is
/// refused and never written after the client got its timeout.
pub const WRITE_DEADLINE_SECS: f64 = REQUEST_TIMEOUT_SECS as f64 - 15.0;
