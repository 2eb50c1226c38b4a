//! `Router`: exact method + path routes to handlers and WebSocket endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use crate::handler::{Ctx, Reply};
use crate::path_hash::BuildPathHasher;
use crate::request::Request;
use crate::ws::WsHandler;

/// A request handler. Runs on the connection's loop: it must not block. It answers
/// at once with [`Reply::Now`], or takes a [`crate::Responder`] from the context and
/// returns [`Reply::Later`] to answer from anywhere.
pub type Handler = Arc<dyn Fn(Request, &mut Ctx<'_>) -> Reply + Send + Sync>;

#[derive(Default)]
struct PathRoutes {
    methods: Vec<(String, Handler)>,
    websocket: Option<Arc<dyn WsHandler>>,
}

/// Routes by exact path, then by method. `HEAD` falls back to the `GET` handler (the
/// server drops the body). An unknown path is 404; a known path without the method is
/// 405 with `Allow`.
///
/// ```
/// use net_http::{Response, Router};
/// let router = Router::new()
///     .get("/", |_req, _ctx| Response::text("hello\n").into())
///     .post("/echo", |mut req, _ctx| Response::new(200).body(req.take_body()).into());
/// ```
#[derive(Default)]
pub struct Router {
    paths: HashMap<String, PathRoutes, BuildPathHasher>,
    fallback: Option<Handler>,
}

/// What a request resolved to.
pub(crate) enum Route<'a> {
    Handler(&'a Handler),
    WebSocket(&'a Arc<dyn WsHandler>),
    NotFound,
    MethodNotAllowed(String),
}

impl Router {
    /// An empty router (everything is 404).
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes `method` on `path` to `handler`.
    pub fn route<F>(mut self, method: &str, path: &str, handler: F) -> Self
    where
        F: Fn(Request, &mut Ctx<'_>) -> Reply + Send + Sync + 'static,
    {
        let routes = self.paths.entry(path.to_string()).or_default();
        routes.methods.retain(|(m, _)| m != method);
        routes.methods.push((method.to_string(), Arc::new(handler)));
        self
    }

    /// Routes `GET` (and so `HEAD`) on `path`.
    pub fn get<F>(self, path: &str, handler: F) -> Self
    where
        F: Fn(Request, &mut Ctx<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route("GET", path, handler)
    }

    /// Routes `POST` on `path`.
    pub fn post<F>(self, path: &str, handler: F) -> Self
    where
        F: Fn(Request, &mut Ctx<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route("POST", path, handler)
    }

    /// Upgrades `GET` on `path` to a WebSocket served by `handler`.
    pub fn websocket(mut self, path: &str, handler: impl WsHandler) -> Self {
        self.paths.entry(path.to_string()).or_default().websocket = Some(Arc::new(handler));
        self
    }

    /// Answers every request no route matches (instead of 404).
    pub fn fallback<F>(mut self, handler: F) -> Self
    where
        F: Fn(Request, &mut Ctx<'_>) -> Reply + Send + Sync + 'static,
    {
        self.fallback = Some(Arc::new(handler));
        self
    }

    pub(crate) fn find(&self, method: &str, path: &str, upgrade: bool) -> Route<'_> {
        let Some(routes) = self.paths.get(path) else {
            return self
                .fallback
                .as_ref()
                .map_or(Route::NotFound, Route::Handler);
        };
        if upgrade || (routes.methods.is_empty() && method == "GET") {
            if let Some(ws) = &routes.websocket {
                if method == "GET" {
                    return Route::WebSocket(ws);
                }
            }
        }
        let found = routes
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .or_else(|| {
                (method == "HEAD")
                    .then(|| routes.methods.iter().find(|(m, _)| m == "GET"))
                    .flatten()
            });
        match found {
            Some((_, h)) => Route::Handler(h),
            None => {
                let mut allow: Vec<&str> = routes.methods.iter().map(|(m, _)| m.as_str()).collect();
                if routes.websocket.is_some() {
                    allow.push("GET");
                }
                if routes.methods.iter().any(|(m, _)| m == "GET") {
                    allow.push("HEAD");
                }
                allow.sort_unstable();
                allow.dedup();
                Route::MethodNotAllowed(allow.join(", "))
            }
        }
    }
}
