//! Where the router-level contract tests send their requests: the root routes, or a
//! collection's under `/collections/c/` (`crate::http::call` moves each request there).

use std::sync::Arc;

use semsearch::engine::{Engine, Options};
use semsearch::server::AppState;

/// Where a contract test's routes are mounted: at the root (the `default` collection) or
/// under `/collections/c/`, a collection of the same server. The service contract holds on
/// both, so those tests run on both.
#[derive(Debug, Clone, Copy)]
pub enum Mount {
    /// The root routes.
    Root,
    /// Collection `c`, the server's default collection an empty index beside it.
    Collection,
}

impl Mount {
    /// A server holding `engine` at this mount; `key` as [`state`]'s.
    pub fn state(self, engine: Arc<Engine>, key: Option<&str>) -> At {
        self.state_with(engine, key, |s| s)
    }

    /// [`Mount::state`], the server's state changed by `f` first (its public URL, its bounds).
    pub fn state_with(
        self,
        engine: Arc<Engine>,
        key: Option<&str>,
        f: impl FnOnce(AppState) -> AppState,
    ) -> At {
        match self {
            Mount::Root => At {
                state: f(crate::http::state(engine, key)),
                prefix: "",
            },
            Mount::Collection => {
                let empty = Arc::new(
                    Engine::open(crate::common::tiny(), None, Options::default()).unwrap(),
                );
                let collections =
                    semsearch::server::collections::Collections::fixed(vec![("c".into(), engine)]);
                At {
                    state: f(crate::http::state(empty, key)).with_collections(collections),
                    prefix: "/collections/c",
                }
            }
        }
    }
}

/// A server under test and the mount its requests are sent to.
#[derive(Clone)]
pub struct At {
    /// The server.
    pub state: AppState,
    prefix: &'static str,
}

impl At {
    /// `path` (a route of a collection) at this mount.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

impl From<AppState> for At {
    fn from(state: AppState) -> At {
        At { state, prefix: "" }
    }
}

/// The routes of the service itself, at the root whatever the mount.
pub const SERVICE_ROUTES: [&str; 3] = ["/healthz", "/metrics", "/openapi.json"];
