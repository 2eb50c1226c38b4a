//! [`RustlsAcceptor`]: the server-side rustls configuration, shared by every worker loop.
//!
//! One `ServerConfig` serves every new connection; it sits behind a lock only so that
//! a later reload can swap it, and each connection takes its own `Arc` of it once.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use net::{Layer, LayerFactory};
use rustls::server::{
    ClientHello, ResolvesServerCert, UnbufferedServerConnection, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::error::RustlsError;
use crate::layer::{RustlsLayer, Side};
use crate::pem::{alpn_list, load_roots, Identity};
use crate::policy::{provider, versions, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::sni;

/// Whether the server asks clients for a certificate (mTLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is requested (the default).
    #[default]
    None,
    /// A certificate is requested and verified if sent; clients without one are accepted.
    Optional,
    /// A valid client certificate is required; the handshake fails without one.
    Required,
}

/// Server-side TLS on rustls: certificates and settings, cheap to clone (an `Arc`
/// inside). Implements [`LayerFactory`], so it plugs straight into a server.
///
/// ```no_run
/// let tls = net_rustls::RustlsAcceptor::from_pem_files("certs/server.crt", "certs/server.key")?;
/// # Ok::<(), net_rustls::RustlsError>(())
/// ```
#[derive(Clone)]
pub struct RustlsAcceptor {
    inner: Arc<AcceptorInner>,
}

struct AcceptorInner {
    /// What new connections are made from.
    active: RwLock<Active>,
}

struct Active {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl RustlsAcceptor {
    /// An acceptor with the default settings for a PEM certificate chain file (leaf
    /// first, then the intermediates, which are sent to clients) and a PEM private key file.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<RustlsAcceptor, RustlsError> {
        RustlsAcceptor::builder(cert_chain, key).build()
    }

    /// An acceptor with the default settings for a PEM certificate chain and key in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<RustlsAcceptor, RustlsError> {
        RustlsAcceptorBuilder::new(Identity::Pem(cert_pem.to_vec(), key_pem.to_vec())).build()
    }

    /// A builder for the certificate chain and key files, to set more options.
    pub fn builder(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> RustlsAcceptorBuilder {
        RustlsAcceptorBuilder::new(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ))
    }

    /// The rustls configuration new connections are made from now.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.read_active().config.clone()
    }

    /// A server-side layer for one connection.
    pub fn new_rustls_layer(&self, peer: Option<SocketAddr>) -> Result<RustlsLayer, RustlsError> {
        let conn = UnbufferedServerConnection::new(self.config())
            .map_err(|e| RustlsError::rustls("creating a server TLS session", e))?;
        Ok(RustlsLayer::new(Side::Server(Box::new(conn)), peer, None))
    }

    /// The handshake timeout given to the connections.
    pub fn handshake_timeout(&self) -> Duration {
        self.read_active().handshake_timeout
    }

    fn read_active(&self) -> std::sync::RwLockReadGuard<'_, Active> {
        // Only whole values are ever stored, so a panicked writer left a valid one.
        self.inner
            .active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl LayerFactory for RustlsAcceptor {
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Ok(Box::new(self.new_rustls_layer(Some(peer))?))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(RustlsAcceptor::handshake_timeout(self))
    }
}

impl fmt::Debug for RustlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout())
            .finish_non_exhaustive()
    }
}

/// Options for a [`RustlsAcceptor`]; [`RustlsAcceptorBuilder::build`] reports every
/// problem, naming the file it came from.
#[derive(Debug, Clone)]
pub struct RustlsAcceptorBuilder {
    identity: Identity,
    alpn: Vec<String>,
    client_auth: ClientAuth,
    client_ca: Option<PathBuf>,
    handshake_timeout: Duration,
    min: TlsVersion,
    max: TlsVersion,
}

impl RustlsAcceptorBuilder {
    fn new(identity: Identity) -> RustlsAcceptorBuilder {
        RustlsAcceptorBuilder {
            identity,
            alpn: Vec::new(),
            client_auth: ClientAuth::None,
            client_ca: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        }
    }

    /// Protocols the server accepts through ALPN, in order of preference. Unlike
    /// net-ssl, a client that offers ALPN but none of these is refused with the
    /// `no_application_protocol` alert (rustls follows RFC 7301 here); a client that
    /// offers no ALPN at all is served.
    pub fn alpn_protocols(mut self, protocols: &[&str]) -> RustlsAcceptorBuilder {
        self.alpn = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The CA certificates (PEM bundle) client certificates must chain to. Their names
    /// are also sent to clients as the acceptable CAs. Needed by
    /// [`ClientAuth::Optional`] and [`ClientAuth::Required`].
    pub fn client_ca_file(mut self, path: impl AsRef<Path>) -> RustlsAcceptorBuilder {
        self.client_ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether to ask for client certificates (default [`ClientAuth::None`]).
    pub fn client_auth(mut self, auth: ClientAuth) -> RustlsAcceptorBuilder {
        self.client_auth = auth;
        self
    }

    /// How long a handshake may take before the connection is closed (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> RustlsAcceptorBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// The oldest protocol version accepted (default TLS 1.2).
    pub fn min_protocol(mut self, v: TlsVersion) -> RustlsAcceptorBuilder {
        self.min = v;
        self
    }

    /// The newest protocol version accepted (default TLS 1.3).
    pub fn max_protocol(mut self, v: TlsVersion) -> RustlsAcceptorBuilder {
        self.max = v;
        self
    }

    /// Reads the files and builds the acceptor.
    pub fn build(self) -> Result<RustlsAcceptor, RustlsError> {
        let active = self.build_active()?;
        Ok(RustlsAcceptor {
            inner: Arc::new(AcceptorInner {
                active: RwLock::new(active),
            }),
        })
    }

    fn build_active(&self) -> Result<Active, RustlsError> {
        let provider = provider();
        let versions = versions(self.min, self.max)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| RustlsError::rustls("choosing the protocol versions", e))?;
        let builder = match (self.client_auth, &self.client_ca) {
            (ClientAuth::None, _) => builder.with_no_client_auth(),
            (_, None) => {
                return Err(RustlsError::msg(
                    "client authentication needs a client CA file (client_ca_file)",
                ))
            }
            (mode, Some(ca)) => {
                let roots = load_roots(ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = if mode == ClientAuth::Optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier.build().map_err(|e| {
                    RustlsError::verifier(format!("using the client CA file {}", ca.display()), e)
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let key = certified_key(&self.identity, &provider)?;
        let mut config = builder.with_cert_resolver(Arc::new(Resolver { default: key }));
        config.alpn_protocols = alpn_list(&self.alpn)?;
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|e| RustlsError::rustls("making the session ticket keys", e))?;
        Ok(Active {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// The chain and key of `identity`, checked to belong together.
fn certified_key(
    identity: &Identity,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Arc<CertifiedKey>, RustlsError> {
    let (chain, key) = identity.load()?;
    let (chain_origin, key_origin) = identity.origins();
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| {
            RustlsError::rustls(
                format!(
                    "using the certificate in {chain_origin} with the private key in {key_origin}"
                ),
                e,
            )
        })
}

/// Picks the certificate for a ClientHello, and records the name the client asked
/// for, for [`RustlsLayer::server_name`] (see `sni.rs`).
#[derive(Debug)]
struct Resolver {
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        sni::record(hello.server_name());
        Some(self.default.clone())
    }
}
