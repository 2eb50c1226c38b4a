//! `HttpService`: puts the HTTP codec on a `TcpServerBuilder`, and picks the protocol
//! of each connection: HTTP/2 when TLS negotiated `h2` by ALPN or a cleartext
//! connection opens with the HTTP/2 preface (prior knowledge), HTTP/1.1 otherwise.

use std::sync::Arc;

use net::{Buffer, TcpConnection, TcpServerBuilder};

use crate::alpn::ALPN_H2;
use crate::app::App;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::ws::hub::WsHub;
use crate::ws::WsBroadcaster;
use crate::{h1, h2, ws};

/// An HTTP/1.1, HTTP/2 and WebSocket service: a router, limits and counters, installed
/// as the callbacks of a [`TcpServerBuilder`]. TLS is the server's: give the builder a
/// `net_ssl::TlsAcceptor` with ALPN [`ALPN_H2_HTTP11`](crate::ALPN_H2_HTTP11) (or
/// [`ALPN_HTTP11`](crate::ALPN_HTTP11) alone for HTTP/1.1 only).
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
    http2: bool,
    hub: Arc<WsHub>,
}

/// A cleartext connection whose first bytes may still turn out to be the HTTP/2
/// preface: served as HTTP/1.1 unless they do.
struct Sniffing;

impl HttpService {
    /// A service routing with `router`, default [`Limits`], fresh [`Metrics`].
    pub fn new(router: Router) -> Self {
        HttpService {
            router,
            limits: Limits::default(),
            metrics: Metrics::new(),
            http2: true,
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

    /// Serves HTTP/2 (on by default): over TLS when the acceptor negotiated `h2` by
    /// ALPN (offer [`ALPN_H2_HTTP11`](crate::ALPN_H2_HTTP11)), in cleartext when a
    /// connection opens with the HTTP/2 preface (prior knowledge). Off, the preface
    /// gets 505 as any unknown version, and ALPN `h2` is served as HTTP/1.1 (so do not
    /// offer it).
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Counts into `metrics` instead of fresh counters, to share them with a
    /// `/metrics` handler made before, or with another service. (A setter named like
    /// the rest of this builder's, `limits`, would clash with the getter
    /// [`HttpService::metrics`].)
    pub fn share_metrics(mut self, metrics: Arc<Metrics>) -> Self {
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
        // A connection starts as HTTP/1.1 (or HTTP/2: ALPN, or the preface on
        // cleartext); after an upgrade the WebSocket codec owns it, so each event goes
        // to whichever protocol holds the connection now.
        let http2 = self.http2;
        let app2 = app.clone();
        builder
            .on_connection(move |c| {
                if !c.is_connected() {
                    if !h2::on_down(c) && !ws::on_down(c) {
                        h1::on_down(c);
                    }
                    return;
                }
                if http2 && c.layer().is_some() {
                    let alpn = c.tls_info().and_then(|i| i.alpn);
                    if alpn.as_deref() == Some(ALPN_H2.as_bytes()) {
                        h2::on_up(c, &app);
                        return;
                    }
                }
                h1::on_up(c, &app);
                if http2 && c.layer().is_none() {
                    c.extensions_mut().insert(Sniffing);
                }
            })
            .on_message(move |c, input| {
                if h2::on_message(c, input) || ws::on_message(c, input) {
                    return;
                }
                if c.extensions().get::<Sniffing>().is_some() {
                    sniff(c, input, &app2);
                } else {
                    h1::on_message(c, input);
                }
            })
            .on_write_complete(|c| {
                if !h2::on_write_complete(c) {
                    h1::on_write_complete(c);
                }
            })
            .on_half_close(|c| {
                if !h2::on_half_close(c) && !ws::on_half_close(c) {
                    h1::on_half_close(c);
                }
            })
            // A graceful stop begins: each protocol says goodbye in its own words
            // (HTTP/2 GOAWAY, WebSocket close 1001, HTTP/1.1 `Connection: close` on the
            // last answer, an idle keep-alive connection shut at once) so that peers
            // leave during the grace.
            .on_drain(|c| {
                if !h2::on_drain(c) && !ws::on_drain(c) {
                    h1::drain::on_drain(c);
                }
            })
            // After the grace: HTTP/2 keeps finishing its streams in flight (GOAWAY
            // again is a no-op); the others shut down as any connection does.
            .drain_shutdown(|c| {
                if !h2::on_drain(c) {
                    c.shutdown();
                }
            })
    }
}

/// Decides a cleartext connection's protocol from its first bytes: the whole HTTP/2
/// preface switches it to HTTP/2; anything that stops matching it stays HTTP/1.1; a
/// prefix of it waits for more (in the input buffer; 24 bytes at most).
fn sniff(c: &mut TcpConnection, input: &mut Buffer, app: &Arc<App>) {
    let seen = input.peek();
    let n = seen.len().min(h2::PREFACE.len());
    if seen[..n] != h2::PREFACE[..n] {
        c.extensions_mut().remove::<Sniffing>();
        h1::on_message(c, input);
    } else if n == h2::PREFACE.len() {
        c.extensions_mut().remove::<Sniffing>();
        // The HTTP/1.1 state made at connection up goes (its timer finds nothing).
        h1::on_down(c);
        h2::on_up(c, app);
        h2::on_message(c, input);
    }
}
