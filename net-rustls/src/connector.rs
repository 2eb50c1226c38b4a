//! [`RustlsConnector`]: the client-side rustls configuration, and
//! [`RustlsClientFactory`], which binds it to one server name and makes client layers.
//!
//! Certificates and the host name are verified (against the CA file given, or the
//! system's CA bundle). Sessions are remembered per server name by rustls's in-memory
//! store, shared by every clone of the connector, and offered on the next connection.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use net::{Layer, LayerFactory};
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::error::RustlsError;
use crate::layer::{RustlsLayer, Side};
use crate::pem::{alpn_list, load_roots, Identity};
use crate::policy::{provider, versions, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT};

/// Where the system's CA bundle lives (Debian/Ubuntu, then Fedora/RHEL), used when
/// no CA file is given.
const SYSTEM_CA_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Client-side TLS on rustls: trust anchors, client certificate and settings, plus a
/// session cache. Cheap to clone (an `Arc` inside); clones share the session cache.
///
/// ```no_run
/// let connector = net_rustls::RustlsConnector::builder().ca_file("certs/ca.crt").build()?;
/// let factory = connector.for_host("localhost"); // a net::LayerFactory
/// # Ok::<(), net_rustls::RustlsError>(())
/// ```
#[derive(Clone)]
pub struct RustlsConnector {
    config: Arc<ClientConfig>,
    handshake_timeout: Duration,
}

impl RustlsConnector {
    /// A builder, to set options.
    pub fn builder() -> RustlsConnectorBuilder {
        RustlsConnectorBuilder {
            ca_file: None,
            alpn: Vec::new(),
            client_cert: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        }
    }

    /// A [`LayerFactory`] for connections to `server_name` (a DNS name or an IP
    /// address): a DNS name is sent as SNI, and the server certificate must be valid
    /// for the name.
    pub fn for_host(&self, server_name: &str) -> RustlsClientFactory {
        RustlsClientFactory {
            connector: self.clone(),
            host: server_name.to_string(),
        }
    }

    /// A client layer for `server_name` (see [`RustlsConnector::for_host`]).
    pub fn new_rustls_layer(
        &self,
        server_name: &str,
        peer: Option<SocketAddr>,
    ) -> Result<RustlsLayer, RustlsError> {
        // "[::1]" is how IPv6 literals appear in URLs; verification wants the bare address.
        let trimmed = server_name.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(trimmed.to_string())
            .map_err(|e| RustlsError::msg(format!("server name {server_name:?}: {e}")))?;
        let conn = UnbufferedClientConnection::new(self.config.clone(), name)
            .map_err(|e| RustlsError::rustls("creating a client TLS session", e))?;
        Ok(RustlsLayer::new(
            Side::Client(Box::new(conn)),
            peer,
            Some(trimmed.to_string()),
        ))
    }

    /// The rustls configuration every connection is made from.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The handshake timeout given to the connections.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

impl fmt::Debug for RustlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsConnector")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Options for a [`RustlsConnector`]; [`RustlsConnectorBuilder::build`] reports every
/// problem, naming the file it came from.
#[derive(Debug, Clone)]
pub struct RustlsConnectorBuilder {
    ca_file: Option<PathBuf>,
    alpn: Vec<String>,
    client_cert: Option<Identity>,
    handshake_timeout: Duration,
    min: TlsVersion,
    max: TlsVersion,
}

impl RustlsConnectorBuilder {
    /// Trusts exactly the CA certificates in this PEM bundle instead of the system's
    /// (for private CAs such as the development one in `certs/`).
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> RustlsConnectorBuilder {
        self.ca_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Protocols offered through ALPN, in order of preference (e.g. `&["h2", "http/1.1"]`).
    pub fn alpn_protocols(mut self, protocols: &[&str]) -> RustlsConnectorBuilder {
        self.alpn = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The certificate chain and key (PEM files) presented when the server asks (mTLS).
    pub fn client_cert(
        mut self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> RustlsConnectorBuilder {
        self.client_cert = Some(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ));
        self
    }

    /// Like [`RustlsConnectorBuilder::client_cert`], with PEM bytes.
    pub fn client_cert_pem(mut self, cert_pem: &[u8], key_pem: &[u8]) -> RustlsConnectorBuilder {
        self.client_cert = Some(Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()));
        self
    }

    /// How long a handshake may take before the connection is closed (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> RustlsConnectorBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// The oldest protocol version offered (default TLS 1.2).
    pub fn min_protocol(mut self, version: TlsVersion) -> RustlsConnectorBuilder {
        self.min = version;
        self
    }

    /// The newest protocol version offered (default TLS 1.3).
    pub fn max_protocol(mut self, version: TlsVersion) -> RustlsConnectorBuilder {
        self.max = version;
        self
    }

    /// Reads the files and builds the connector.
    pub fn build(self) -> Result<RustlsConnector, RustlsError> {
        let provider = provider();
        let versions = versions(self.min, self.max)?;
        let roots = match &self.ca_file {
            Some(path) => load_roots(path)?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| RustlsError::rustls("choosing the protocol versions", e))?
            .with_root_certificates(roots);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let (chain, key) = identity.load()?;
                let (chain_origin, key_origin) = identity.origins();
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    RustlsError::rustls(
                        format!(
                            "using the client certificate in {chain_origin} with the private key in {key_origin}"
                        ),
                        e,
                    )
                })?
            }
        };
        config.alpn_protocols = alpn_list(&self.alpn)?;
        Ok(RustlsConnector {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// The system's CA bundle, from the first of [`SYSTEM_CA_BUNDLES`] that exists.
fn system_roots() -> Result<rustls::RootCertStore, RustlsError> {
    match SYSTEM_CA_BUNDLES.iter().find(|p| Path::new(p).exists()) {
        Some(path) => load_roots(Path::new(path)),
        None => Err(RustlsError::msg(format!(
            "no CA file given and no system CA bundle found (looked for {})",
            SYSTEM_CA_BUNDLES.join(", ")
        ))),
    }
}

/// A [`RustlsConnector`] bound to one server name: a [`LayerFactory`] for client
/// connections to that server.
#[derive(Clone, Debug)]
pub struct RustlsClientFactory {
    connector: RustlsConnector,
    host: String,
}

impl RustlsClientFactory {
    /// The name sent as SNI and checked against the certificate.
    pub fn server_name(&self) -> &str {
        &self.host
    }

    /// A client layer for a connection to `peer`.
    pub fn new_rustls_layer(&self, peer: Option<SocketAddr>) -> Result<RustlsLayer, RustlsError> {
        self.connector.new_rustls_layer(&self.host, peer)
    }
}

impl LayerFactory for RustlsClientFactory {
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Ok(Box::new(self.new_rustls_layer(Some(peer))?))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.connector.handshake_timeout)
    }
}
