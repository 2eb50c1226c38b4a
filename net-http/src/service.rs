//! `HttpService`: puts the HTTP codec on a `TcpServerBuilder`.

use std::sync::Arc;

use net::TcpServerBuilder;

use crate::{conn, Limits, Metrics, Router};

/// What every connection of a service shares.
pub(crate) struct App {
    pub router: Router,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}

/// An HTTP/1.1 (and WebSocket) service: a router, limits and counters, installed as
/// the callbacks of a [`TcpServerBuilder`]. TLS is the server's: give the builder a
/// `net_ssl::TlsAcceptor` (with ALPN [`ALPN_HTTP11`](crate::ALPN_HTTP11)).
///
/// ```no_run
/// use net_http::{HttpService, Response, Router};
/// let router = Router::new().get("/", |_req, _ctx| Response::text("hello\n").into());
/// let service = HttpService::new(router);
/// let server = service.install(net::TcpServer::builder("127.0.0.1:8080")).build()?;
/// server.run()
/// # ;Ok::<(), std::io::Error>(())
/// ```
pub struct HttpService {
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
}

impl HttpService {
    /// A service routing with `router`, default [`Limits`], fresh [`Metrics`].
    pub fn new(router: Router) -> Self {
        HttpService {
            router,
            limits: Limits::default(),
            metrics: Metrics::new(),
        }
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Counts into `metrics` (to share them with a `/metrics` handler made before).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The service's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Sets the builder's connection, message, write-complete and half-close
    /// callbacks to the HTTP codec's. They belong to the codec from then on: a
    /// callback setter (`on_connection`, `on_message`, ...) used on the builder
    /// before or after `install` makes its `build()` fail with
    /// [`std::io::ErrorKind::InvalidInput`] instead of silently replacing one side.
    /// Everything else on the builder (threads, TLS, limits, timeouts) stays yours.
    pub fn install(self, builder: TcpServerBuilder) -> TcpServerBuilder {
        builder.install_codec("HttpService::install", |b| self.install_callbacks(b))
    }

    fn install_callbacks(self, builder: TcpServerBuilder) -> TcpServerBuilder {
        let app = Arc::new(App {
            router: self.router,
            limits: self.limits,
            metrics: self.metrics,
        });
        builder
            .on_connection(move |c| {
                if c.is_connected() {
                    conn::on_up(c, &app);
                } else {
                    conn::on_down(c);
                }
            })
            .on_message(conn::on_message)
            .on_write_complete(conn::on_write_complete)
            .on_half_close(conn::on_half_close)
            .on_drain(conn::on_drain)
    }
}
