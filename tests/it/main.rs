//! Integration tests with the real model, as one test binary. The model must have been fetched
//! (`scripts/fetch-model.sh`, which the README's test command runs first).

mod api_edges;
mod backup;
mod cli;
mod cli_flags;
mod cli_processes;
mod collections;
mod common;
mod edge;
mod embed_real;
mod facets;
mod formats;
mod hostile;
mod hostile_pdf;
mod http;
mod http_contract;
mod keys;
mod metadata;
mod mount;
mod pg_store;
mod process;
mod remote_embed;
mod sections;
mod tasks;
mod tokenizer;
mod uploads;
