//! [`TlsConnector`]: the client-side TLS configuration, and [`TlsClientFactory`], which
//! binds it to one server name and makes client layers.
//!
//! Certificates are verified by default (against the system trust store, or the CA
//! file given), and so is the host name. The connector remembers the last session per
//! server name and offers it on the next connection (session resumption); TLS 1.3
//! tickets arrive after the handshake and are caught by a new-session callback.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use net::{Layer, LayerFactory};
use openssl::ex_data::Index;
use openssl::ssl::{
    Ssl, SslConnector, SslContextRef, SslMethod, SslSession, SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::store::X509StoreBuilder;

use crate::config::{
    alpn_wire, apply_defaults, load_ca_file, Identity, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT,
};
use crate::error::TlsError;
use crate::error_queue::with_clean_error_queue;
use crate::layer::TlsLayer;

type SessionCache = Arc<Mutex<HashMap<String, SslSession>>>;

/// The ex-data slot that tells the new-session callback which server a session is for.
fn session_key_index() -> Result<Index<Ssl, String>, TlsError> {
    static INDEX: OnceLock<Result<Index<Ssl, String>, String>> = OnceLock::new();
    INDEX
        .get_or_init(|| Ssl::new_ex_index().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| TlsError::msg(format!("allocating an SSL ex-data index: {e}")))
}

fn lock(cache: &Mutex<HashMap<String, SslSession>>) -> MutexGuard<'_, HashMap<String, SslSession>> {
    // The map stays consistent even if a holder panicked: inserts are single calls.
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Client-side TLS: trust anchors, client certificate and settings, plus a session
/// cache. Cheap to clone (an `Arc` inside); clones share the session cache.
///
/// ```no_run
/// let connector = net_ssl::TlsConnector::builder().ca_file("certs/ca.crt").build()?;
/// let factory = connector.for_host("localhost"); // a net::LayerFactory
/// # Ok::<(), net_ssl::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsConnector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    connector: SslConnector,
    sessions: SessionCache,
    key_index: Index<Ssl, String>,
    verify: bool,
    handshake_timeout: Duration,
}

impl TlsConnector {
    /// A connector with the defaults: system trust store, TLS 1.2 and 1.3, verification on.
    pub fn new() -> Result<TlsConnector, TlsError> {
        TlsConnector::builder().build()
    }

    /// A builder, to set options.
    pub fn builder() -> TlsConnectorBuilder {
        TlsConnectorBuilder {
            ca_file: None,
            alpn: Vec::new(),
            client_cert: None,
            accept_invalid_certs: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        }
    }

    /// A [`LayerFactory`] for connections to `server_name` (a DNS name or an IP
    /// address): the name is sent as SNI (DNS names only) and the server certificate
    /// must be valid for it.
    pub fn for_host(&self, server_name: &str) -> TlsClientFactory {
        TlsClientFactory {
            connector: self.clone(),
            host: server_name.to_string(),
            name_override: None,
        }
    }

    /// A client layer for `server_name` (see [`TlsConnector::for_host`]).
    pub fn new_tls_layer(
        &self,
        server_name: &str,
        peer: Option<SocketAddr>,
    ) -> Result<TlsLayer, TlsError> {
        with_clean_error_queue(|| self.make_client_layer(server_name, peer))
    }

    fn make_client_layer(
        &self,
        server_name: &str,
        peer: Option<SocketAddr>,
    ) -> Result<TlsLayer, TlsError> {
        let inner = &self.inner;
        // "[::1]" is how IPv6 literals appear in URLs; verification wants the bare address.
        let trimmed = server_name.trim_start_matches('[').trim_end_matches(']');
        let name = if trimmed.parse::<IpAddr>().is_ok() {
            trimmed
        } else {
            server_name
        };
        let mut cfg = inner
            .connector
            .configure()
            .map_err(|e| TlsError::stack("creating a client TLS session", e))?;
        if !inner.verify {
            cfg.set_verify_hostname(false);
        }
        cfg.set_ex_data(inner.key_index, name.to_string());
        let cached = lock(&inner.sessions).get(name).cloned();
        if let Some(session) = cached {
            // SAFETY: every session in this cache was handed to the new-session callback
            // of this connector's own SslContext, the one `cfg` was made from.
            unsafe { cfg.set_session(&session) }
                .map_err(|e| TlsError::stack("offering a cached session", e))?;
        }
        let ssl = cfg
            .into_ssl(name)
            .map_err(|e| TlsError::stack(format!("setting server name {name:?}"), e))?;
        TlsLayer::client(ssl, peer)
    }

    /// The OpenSSL context every connection is made from.
    pub fn context(&self) -> &SslContextRef {
        self.inner.connector.context()
    }

    /// Forgets every cached session (the next connections do full handshakes).
    pub fn clear_sessions(&self) {
        lock(&self.inner.sessions).clear();
    }

    /// The handshake timeout given to the connections.
    pub fn handshake_timeout(&self) -> Duration {
        self.inner.handshake_timeout
    }
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("verify", &self.inner.verify)
            .field("handshake_timeout", &self.inner.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Options for a [`TlsConnector`]; [`TlsConnectorBuilder::build`] reports every problem.
#[derive(Debug, Clone)]
pub struct TlsConnectorBuilder {
    ca_file: Option<PathBuf>,
    alpn: Vec<String>,
    client_cert: Option<Identity>,
    accept_invalid_certs: bool,
    handshake_timeout: Duration,
    min: TlsVersion,
    max: TlsVersion,
}

impl TlsConnectorBuilder {
    /// Trusts exactly the CA certificates in this PEM bundle instead of the system
    /// trust store (for private CAs such as the development one in `certs/`).
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> TlsConnectorBuilder {
        self.ca_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Protocols offered through ALPN, in order of preference (e.g. `&["h2", "http/1.1"]`).
    pub fn alpn_protocols(mut self, protocols: &[&str]) -> TlsConnectorBuilder {
        self.alpn = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The certificate chain and key (PEM files) presented when the server asks (mTLS).
    pub fn client_cert(
        mut self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> TlsConnectorBuilder {
        self.client_cert = Some(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ));
        self
    }

    /// Like [`TlsConnectorBuilder::client_cert`], with PEM bytes.
    pub fn client_cert_pem(mut self, cert_pem: &[u8], key_pem: &[u8]) -> TlsConnectorBuilder {
        self.client_cert = Some(Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()));
        self
    }

    /// Turns off certificate and host name verification. Anyone in the path can then
    /// read and change the traffic: for tests against throwaway servers only. Logs a
    /// warning when the connector is built.
    pub fn danger_accept_invalid_certs(mut self) -> TlsConnectorBuilder {
        self.accept_invalid_certs = true;
        self
    }

    /// How long a handshake may take (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsConnectorBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// The oldest protocol version offered (default TLS 1.2).
    pub fn min_protocol(mut self, version: TlsVersion) -> TlsConnectorBuilder {
        self.min = version;
        self
    }

    /// The newest protocol version offered (default TLS 1.3).
    pub fn max_protocol(mut self, version: TlsVersion) -> TlsConnectorBuilder {
        self.max = version;
        self
    }

    /// Builds the connector.
    pub fn build(self) -> Result<TlsConnector, TlsError> {
        // A stale error left by other code must not be reported as this one's reason.
        with_clean_error_queue(|| self.build_context())
    }

    fn build_context(self) -> Result<TlsConnector, TlsError> {
        // Sets the system trust store, verify-peer and a baseline of options and modes.
        let mut ctx = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| TlsError::stack("creating the client TLS context", e))?;
        apply_defaults(&mut ctx, self.min, self.max)?;
        if let Some(path) = &self.ca_file {
            let mut store = X509StoreBuilder::new()
                .map_err(|e| TlsError::stack("creating a certificate store", e))?;
            for ca in load_ca_file(path)? {
                store.add_cert(ca).map_err(|e| {
                    TlsError::stack(
                        format!("adding a CA certificate from {}", path.display()),
                        e,
                    )
                })?;
            }
            ctx.set_cert_store(store.build());
        }
        if self.accept_invalid_certs {
            log::warn!(
                "TLS certificate and host name verification is OFF (danger_accept_invalid_certs): \
                 connections can be intercepted"
            );
            ctx.set_verify(SslVerifyMode::NONE);
        }
        if let Some(identity) = &self.client_cert {
            identity.apply(&mut ctx)?;
        }
        if !self.alpn.is_empty() {
            ctx.set_alpn_protos(&alpn_wire(&self.alpn)?)
                .map_err(|e| TlsError::stack("setting the ALPN protocols", e))?;
        }
        let key_index = session_key_index()?;
        let sessions = SessionCache::default();
        let cache = Arc::clone(&sessions);
        ctx.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL);
        ctx.set_new_session_callback(move |ssl, session| {
            if let Some(name) = ssl.ex_data(key_index) {
                lock(&cache).insert(name.clone(), session);
            }
        });
        Ok(TlsConnector {
            inner: Arc::new(ConnectorInner {
                connector: ctx.build(),
                sessions,
                key_index,
                verify: !self.accept_invalid_certs,
                handshake_timeout: self.handshake_timeout,
            }),
        })
    }
}

/// A [`TlsConnector`] bound to one server name: a [`LayerFactory`] for client
/// connections to that server.
#[derive(Clone, Debug)]
pub struct TlsClientFactory {
    connector: TlsConnector,
    host: String,
    name_override: Option<String>,
}

impl TlsClientFactory {
    /// Uses `name` instead of the host for SNI and certificate verification, e.g. when
    /// connecting by IP address to a server whose certificate names a DNS name.
    pub fn server_name_override(mut self, name: &str) -> TlsClientFactory {
        self.name_override = Some(name.to_string());
        self
    }

    /// The name sent as SNI and checked against the certificate.
    pub fn server_name(&self) -> &str {
        self.name_override.as_deref().unwrap_or(&self.host)
    }

    /// The host given to [`TlsConnector::for_host`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A client layer for a connection to `peer`.
    pub fn new_tls_layer(&self, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        self.connector.new_tls_layer(self.server_name(), peer)
    }
}

/// A connector given straight to a client (`TcpClient::builder("host:port")
/// .tls(connector)`) verifies the host of the client's address: the client asks
/// [`LayerFactory::for_server_name`] for it. Use [`TlsConnector::for_host`] for another
/// name (or [`TlsClientFactory::server_name_override`]).
impl LayerFactory for TlsConnector {
    fn new_layer(&self, _peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a TlsConnector needs the server's name: give it to a TcpClient (which takes \
             the name from its address) or use TlsConnector::for_host",
        ))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.inner.handshake_timeout)
    }

    fn for_server_name(&self, host: &str) -> Option<std::sync::Arc<dyn LayerFactory>> {
        Some(std::sync::Arc::new(self.for_host(host)))
    }
}

impl LayerFactory for TlsClientFactory {
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Ok(Box::new(self.new_tls_layer(Some(peer))?))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.connector.inner.handshake_timeout)
    }
}
