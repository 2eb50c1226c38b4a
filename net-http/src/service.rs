//! `HttpService`: puts the HTTP codec on a `TcpServerBuilder`.

use std::sync::Arc;

use net::TcpServerBuilder;

use crate::app::App;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::ws::hub::WsHub;
use crate::ws::WsBroadcaster;
use crate::{h1, ws};

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
    hub: Arc<WsHub>,
}

impl HttpService {
    /// A service routing with `router`, default [`Limits`], fresh [`Metrics`].
    pub fn new(router: Router) -> Self {
        HttpService {
            router,
            limits: Limits::default(),
            metrics: Metrics::new(),
            hub: Arc::default(),
        }
    }

    /// A handle that sends to this service's WebSockets from any thread, outside
    /// any handler: all of them, or those a filter picks. Take it before `install`.
    pub fn broadcaster(&self) -> WsBroadcaster {
        WsBroadcaster {
            hub: self.hub.clone(),
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

    /// Sets the builder's connection, message, write-complete, half-close and drain
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
            hub: self.hub,
        });
        // A connection starts as HTTP/1.1; after an upgrade the WebSocket codec owns
        // it, so each event goes to whichever protocol holds the connection now.
        builder
            .on_connection(move |c| {
                if c.is_connected() {
                    h1::on_up(c, &app);
                } else if !ws::on_down(c) {
                    h1::on_down(c);
                }
            })
            .on_message(|c, input| {
                if !ws::on_message(c, input) {
                    h1::on_message(c, input);
                }
            })
            .on_write_complete(h1::on_write_complete)
            .on_half_close(|c| {
                if !ws::on_half_close(c) {
                    h1::on_half_close(c);
                }
            })
            .on_drain(|c| {
                if !ws::on_drain(c) {
                    h1::drain::on_drain(c);
                }
            })
    }
}
