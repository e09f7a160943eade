//! The OpenAPI document: every route and the error body.

use utoipa::OpenApi;

use super::routes::{
    backups, batch, chatbot, collections, documents, embeddings, meta, passages, search, tasks,
};

/// Alias so the error body appears in the OpenAPI components.
pub type ErrorBodySchema = crate::api::ErrorBody;

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "semsearch",
        description = "Semantic search and extractive question answering over long articles."
    ),
    paths(
        meta::healthz,
        search::search_post,
        search::search_get,
        search::search_batch,
        search::ask,
        passages::get_passage,
        passages::around,
        passages::related,
        documents::list_documents,
        documents::stats,
        documents::add_document,
        batch::add_batch,
        documents::delete_document,
        documents::patch_document,
        backups::create_backup,
        embeddings::embeddings,
        chatbot::retrieval,
        chatbot::context,
        chatbot::vector_store_search,
        meta::metrics_text,
        collections::list,
        collections::create,
        collections::delete,
        tasks::list,
        tasks::get,
        tasks::cancel
    ),
    components(schemas(ErrorBodySchema))
)]
pub struct ApiDoc;
