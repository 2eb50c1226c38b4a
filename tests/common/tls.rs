//! TLS helpers for the integration tests: certificates, servers and a blocking client.
#![allow(dead_code)]
// `feature = "rustls"` is the root package's; net-http's tests share this file and have no
// such feature (there `PROVIDERS` is OpenSSL alone).
#![allow(unexpected_cfgs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use net_ssl::{TlsAcceptor, TlsAcceptorBuilder};
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVersion};

use super::{connect, BuilderExt, IO_TIMEOUT};

/// The development certificate `name` from the repository's `certs/` (found from the
/// package being tested: the root package, or a member such as `net-http`).
pub fn cert(name: &str) -> String {
    let mut dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("certs").join(name);
        if candidate.exists() {
            return candidate.display().to_string();
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => panic!("no certs/{name} above {}", env!("CARGO_MANIFEST_DIR")),
        }
    }
}

pub fn acceptor_builder() -> TlsAcceptorBuilder {
    TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
}

/// A TLS echo server with `threads` workers.
pub fn tls_echo_server(acceptor: impl net::LayerFactory, threads: usize) -> net::ServerHandle {
    net::TcpServer::builder("127.0.0.1:0")
        .name("tls-echo")
        .threads(threads)
        .tls(acceptor)
        .echo()
        .started()
}

/// A blocking OpenSSL client that trusts the development CA.
pub fn client_config(version: Option<SslVersion>) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    if let Some(v) = version {
        b.set_min_proto_version(Some(v)).unwrap();
        b.set_max_proto_version(Some(v)).unwrap();
    }
    b.build()
}

pub fn tls_connect(addr: SocketAddr, config: &SslConnector) -> SslStream<TcpStream> {
    config
        .connect("localhost", connect(addr))
        .expect("TLS handshake")
}

/// Whether the peer's close_notify arrived on `stream` (a read's `Ok(0)` is also what a
/// bare TCP EOF gives).
pub fn close_notify_received(stream: &mut SslStream<TcpStream>) -> bool {
    stream
        .get_shutdown()
        .contains(openssl::ssl::ShutdownState::RECEIVED)
}

/// Echoes `data` in 64 KiB steps (write a step, read it back), so neither side's
/// buffers can fill up while the other waits.
pub fn tls_echo(stream: &mut SslStream<TcpStream>, data: &[u8]) -> Vec<u8> {
    let mut back = Vec::with_capacity(data.len());
    for chunk in data.chunks(64 * 1024) {
        stream.write_all(chunk).expect("tls write");
        let mut got = vec![0; chunk.len()];
        stream.read_exact(&mut got).expect("tls read");
        back.extend_from_slice(&got);
    }
    back
}

pub fn io_timeout() -> std::time::Duration {
    IO_TIMEOUT
}

/// The TLS providers a test runs on: `PROVIDERS` lists the ones built (rustls behind
/// the facade's `rustls` feature), and a test loops over them instead of being copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenSSL (`muon::ssl`).
    OpenSsl,
    /// rustls (`muon::rustls`).
    #[cfg(feature = "rustls")]
    Rustls,
}

/// Every provider this build has.
pub const PROVIDERS: &[Provider] = &[
    Provider::OpenSsl,
    #[cfg(feature = "rustls")]
    Provider::Rustls,
];

/// A protocol version, for either provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// Server settings a test may change; the defaults are each provider's defaults with
/// the development certificate (`certs/server.crt`).
#[derive(Debug, Clone, Default)]
pub struct ServerOpts {
    /// Only this version (min = max).
    pub version: Option<Version>,
    pub alpn: Vec<&'static str>,
    /// Ask for a client certificate from `certs/ca.crt`'s CA (true: required).
    pub client_auth: Option<bool>,
    /// The client-CA file when `client_auth` is set (default `certs/ca.crt`).
    pub client_ca_file: Option<std::path::PathBuf>,
    pub handshake_timeout: Option<std::time::Duration>,
    /// Add `certs/server-rsa.crt` to the default identity (RSA beside EC).
    pub rsa_too: bool,
}

/// A server-side layer factory of either provider.
#[derive(Clone)]
pub enum AnyAcceptor {
    OpenSsl(TlsAcceptor),
    #[cfg(feature = "rustls")]
    Rustls(net_rustls::RustlsAcceptor),
}

impl net::LayerFactory for AnyAcceptor {
    fn new_layer(&self, peer: SocketAddr) -> std::io::Result<Box<dyn net::Layer>> {
        match self {
            AnyAcceptor::OpenSsl(a) => a.new_layer(peer),
            #[cfg(feature = "rustls")]
            AnyAcceptor::Rustls(a) => a.new_layer(peer),
        }
    }
    fn handshake_timeout(&self) -> Option<std::time::Duration> {
        match self {
            AnyAcceptor::OpenSsl(a) => net::LayerFactory::handshake_timeout(a),
            #[cfg(feature = "rustls")]
            AnyAcceptor::Rustls(a) => net::LayerFactory::handshake_timeout(a),
        }
    }
}

impl ServerOpts {
    fn client_ca(&self) -> std::path::PathBuf {
        self.client_ca_file
            .clone()
            .unwrap_or_else(|| cert("ca.crt").into())
    }
}

/// Applies `opts` to a builder of either provider: the two builders have the same
/// methods (by design, see docs/tls.md) but no common trait, and `$krate` names the
/// provider crate whose `TlsVersion` and `ClientAuth` they take.
macro_rules! apply_server_opts {
    ($b:expr, $opts:expr, $krate:ident) => {{
        let opts: &ServerOpts = $opts;
        let mut b = $b.alpn_protocols(&opts.alpn);
        if let Some(v) = opts.version {
            let v = match v {
                Version::Tls12 => $krate::TlsVersion::Tls12,
                Version::Tls13 => $krate::TlsVersion::Tls13,
            };
            b = b.min_protocol(v).max_protocol(v);
        }
        if let Some(required) = opts.client_auth {
            let mode = if required {
                $krate::ClientAuth::Required
            } else {
                $krate::ClientAuth::Optional
            };
            b = b.client_ca_file(opts.client_ca()).client_auth(mode);
        }
        if let Some(t) = opts.handshake_timeout {
            b = b.handshake_timeout(t);
        }
        if opts.rsa_too {
            b = b.certificate(cert("server-rsa.crt"), cert("server-rsa.key"));
        }
        b
    }};
}

/// Applies `opts` to a connector builder of either provider (same methods, no common
/// trait; `$krate` names the provider crate whose `TlsVersion` they take), trusting
/// the development CA.
macro_rules! apply_client_opts {
    ($b:expr, $opts:expr, $krate:ident) => {{
        let opts: &ClientOpts = $opts;
        let mut b = $b.ca_file(cert("ca.crt")).alpn_protocols(&opts.alpn);
        if let Some(v) = opts.version {
            let v = match v {
                Version::Tls12 => $krate::TlsVersion::Tls12,
                Version::Tls13 => $krate::TlsVersion::Tls13,
            };
            b = b.min_protocol(v).max_protocol(v);
        }
        if opts.client_cert {
            b = b.client_cert(cert("client.crt"), cert("client.key"));
        }
        b
    }};
}

/// The OpenSSL acceptor's builder with `opts`.
fn openssl_builder(opts: &ServerOpts) -> TlsAcceptorBuilder {
    apply_server_opts!(acceptor_builder(), opts, net_ssl)
}

/// The rustls acceptor's builder with `opts`.
#[cfg(feature = "rustls")]
fn rustls_builder(opts: &ServerOpts) -> net_rustls::RustlsAcceptorBuilder {
    let b = net_rustls::RustlsAcceptor::builder(cert("server.crt"), cert("server.key"));
    apply_server_opts!(b, opts, net_rustls)
}

impl AnyAcceptor {
    /// Reloads the files the acceptor was built from (all or nothing).
    pub fn reload(&self) -> Result<(), String> {
        match self {
            AnyAcceptor::OpenSsl(a) => a.reload().map(drop).map_err(|e| e.to_string()),
            #[cfg(feature = "rustls")]
            AnyAcceptor::Rustls(a) => a.reload().map(drop).map_err(|e| e.to_string()),
        }
    }

    /// Replaces the acceptor's settings with `opts` (all or nothing).
    pub fn reconfigure(&self, opts: &ServerOpts) -> Result<(), String> {
        match self {
            AnyAcceptor::OpenSsl(a) => a
                .reconfigure(openssl_builder(opts))
                .map(drop)
                .map_err(|e| e.to_string()),
            #[cfg(feature = "rustls")]
            AnyAcceptor::Rustls(a) => a
                .reconfigure(rustls_builder(opts))
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }

    /// The provider this acceptor is from.
    pub fn provider(&self) -> Provider {
        match self {
            AnyAcceptor::OpenSsl(_) => Provider::OpenSsl,
            #[cfg(feature = "rustls")]
            AnyAcceptor::Rustls(_) => Provider::Rustls,
        }
    }
}

/// A client-side layer factory of either provider.
#[derive(Clone)]
pub enum AnyClient {
    OpenSsl(net_ssl::TlsClientFactory),
    #[cfg(feature = "rustls")]
    Rustls(net_rustls::RustlsClientFactory),
}

impl net::LayerFactory for AnyClient {
    fn new_layer(&self, peer: SocketAddr) -> std::io::Result<Box<dyn net::Layer>> {
        match self {
            AnyClient::OpenSsl(c) => c.new_layer(peer),
            #[cfg(feature = "rustls")]
            AnyClient::Rustls(c) => c.new_layer(peer),
        }
    }
    fn handshake_timeout(&self) -> Option<std::time::Duration> {
        match self {
            AnyClient::OpenSsl(c) => net::LayerFactory::handshake_timeout(c),
            #[cfg(feature = "rustls")]
            AnyClient::Rustls(c) => net::LayerFactory::handshake_timeout(c),
        }
    }
}

/// Client settings a test may change (the CA is always `certs/ca.crt`).
#[derive(Debug, Clone, Default)]
pub struct ClientOpts {
    pub version: Option<Version>,
    pub alpn: Vec<&'static str>,
    /// Present `certs/client.crt`.
    pub client_cert: bool,
}

impl Provider {
    /// The acceptor with `opts`.
    pub fn acceptor(self, opts: &ServerOpts) -> AnyAcceptor {
        match self {
            Provider::OpenSsl => {
                AnyAcceptor::OpenSsl(openssl_builder(opts).build().expect("OpenSSL acceptor"))
            }
            #[cfg(feature = "rustls")]
            Provider::Rustls => {
                AnyAcceptor::Rustls(rustls_builder(opts).build().expect("rustls acceptor"))
            }
        }
    }

    /// A client factory for "localhost" with `opts`, trusting the development CA.
    pub fn client(self, opts: &ClientOpts) -> AnyClient {
        match self {
            Provider::OpenSsl => AnyClient::OpenSsl(
                apply_client_opts!(net_ssl::TlsConnector::builder(), opts, net_ssl)
                    .build()
                    .expect("OpenSSL connector")
                    .for_host("localhost"),
            ),
            #[cfg(feature = "rustls")]
            Provider::Rustls => AnyClient::Rustls(
                apply_client_opts!(net_rustls::RustlsConnector::builder(), opts, net_rustls)
                    .build()
                    .expect("rustls connector")
                    .for_host("localhost"),
            ),
        }
    }

    /// A TLS echo server of this provider with the default settings.
    pub fn echo_server(self, threads: usize) -> net::ServerHandle {
        self.echo_server_with(&ServerOpts::default(), threads)
    }

    /// A TLS echo server of this provider with `opts`.
    pub fn echo_server_with(self, opts: &ServerOpts, threads: usize) -> net::ServerHandle {
        net::TcpServer::builder("127.0.0.1:0")
            .name("tls-echo")
            .threads(threads)
            .tls(self.acceptor(opts))
            .echo()
            .started()
    }
}

impl Provider {
    /// The provider's name as the examples' `--tls-provider` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenSsl => "openssl",
            #[cfg(feature = "rustls")]
            Provider::Rustls => "rustls",
        }
    }

    /// The provider `name` (as [`Provider::name`] spells it) names, if built.
    pub fn from_name(name: &str) -> Option<Provider> {
        PROVIDERS.iter().copied().find(|p| p.name() == name)
    }

    /// The examples' flag choosing this provider (`--tls-provider NAME`).
    pub fn flag(self) -> [&'static str; 2] {
        match self {
            Provider::OpenSsl => ["--tls-provider", "openssl"],
            #[cfg(feature = "rustls")]
            Provider::Rustls => ["--tls-provider", "rustls"],
        }
    }
}

/// One test per provider of a function `name(provider: Provider)`: `per_provider!(name);`
/// (attributes such as `#[ignore = ".."]` before the name) makes a module `name` with a
/// test `openssl` and, when built, a test `rustls`, so a failure names its provider
/// (`name::rustls`) and the providers run independently. The function stays an ordinary
/// function (rustfmt formats it; it does not format a macro's body).
#[macro_export]
macro_rules! per_provider {
    ($(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            #[test]
            fn openssl() {
                super::$name($crate::common::tls::Provider::OpenSsl)
            }

            #[cfg(feature = "rustls")]
            $(#[$attr])*
            #[test]
            fn rustls() {
                super::$name($crate::common::tls::Provider::Rustls)
            }
        }
    };
}
