//! [`TlsAcceptor`]: the server-side TLS configuration, shared by every worker loop.
//!
//! One `SslContext` serves all connections, so the session cache and the ticket keys
//! are shared and a client can resume on any worker.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use net::{Layer, LayerFactory};
use openssl::ssl::{
    AlpnError, NameType, SniError, Ssl, SslContext, SslContextBuilder, SslContextRef, SslMethod,
    SslOptions, SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::X509;

use crate::config::{
    alpn_wire, apply_defaults, load_ca_file, Identity, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT,
};
use crate::error::TlsError;
use crate::error_queue::with_clean_error_queue;
use crate::layer::TlsLayer;

/// The session id context: needed for resumption as soon as client certificates are
/// requested (without it OpenSSL refuses to resume and the handshake fails).
const SESSION_ID_CONTEXT: &[u8] = b"muon";

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

/// Server-side TLS: certificates and settings, cheap to clone (an `Arc` inside).
///
/// Implements [`LayerFactory`], so it plugs straight into a server.
///
/// ```no_run
/// let tls = net_ssl::TlsAcceptor::from_pem_files("certs/server.crt", "certs/server.key")?;
/// # Ok::<(), net_ssl::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: Arc<AcceptorInner>,
}

struct AcceptorInner {
    ctx: SslContext,
    handshake_timeout: Duration,
}

impl TlsAcceptor {
    /// An acceptor with the default settings for a PEM certificate chain file (leaf
    /// first) and a PEM private key file.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsAcceptor, TlsError> {
        TlsAcceptor::builder(cert_chain, key).build()
    }

    /// An acceptor with the default settings for a PEM certificate chain and key in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, TlsError> {
        TlsAcceptorBuilder::from_pem(cert_pem, key_pem).build()
    }

    /// A builder for the certificate chain and key files, to set more options.
    pub fn builder(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> TlsAcceptorBuilder {
        TlsAcceptorBuilder::new(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ))
    }

    /// The OpenSSL context every connection is made from.
    pub fn context(&self) -> &SslContextRef {
        &self.inner.ctx
    }

    /// A server-side layer for one connection.
    pub fn new_tls_layer(&self, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        let ssl = with_clean_error_queue(|| Ssl::new(&self.inner.ctx))
            .map_err(|e| TlsError::stack("creating a server TLS session", e))?;
        TlsLayer::server(ssl, peer)
    }
}

impl LayerFactory for TlsAcceptor {
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Ok(Box::new(self.new_tls_layer(Some(peer))?))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.inner.handshake_timeout)
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.inner.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Options for a [`TlsAcceptor`]; [`TlsAcceptorBuilder::build`] does the OpenSSL work
/// and reports every problem (unreadable file, key not matching, bad option) there.
#[derive(Debug, Clone)]
pub struct TlsAcceptorBuilder {
    identity: Identity,
    sni: Vec<(String, Identity)>,
    alpn: Vec<String>,
    client_ca: Option<PathBuf>,
    client_auth: ClientAuth,
    min: TlsVersion,
    max: TlsVersion,
    handshake_timeout: Duration,
}

impl TlsAcceptorBuilder {
    fn new(identity: Identity) -> TlsAcceptorBuilder {
        TlsAcceptorBuilder {
            identity,
            sni: Vec::new(),
            alpn: Vec::new(),
            client_ca: None,
            client_auth: ClientAuth::None,
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// A builder for a PEM certificate chain and key held in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> TlsAcceptorBuilder {
        TlsAcceptorBuilder::new(Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()))
    }

    /// Protocols offered through ALPN, in the server's order of preference
    /// (e.g. `&["h2", "http/1.1"]`). A client that offers none of them gets no ALPN
    /// answer and the handshake goes on.
    pub fn alpn_protocols(mut self, protocols: &[&str]) -> TlsAcceptorBuilder {
        self.alpn = protocols.iter().map(|p| p.to_string()).collect();
        self
    }

    /// Serves another certificate when the client asks for `server_name` through SNI
    /// (exact match, case-insensitive). Other names get the default certificate.
    pub fn sni_certificate(
        mut self,
        server_name: &str,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> TlsAcceptorBuilder {
        self.sni.push((
            server_name.to_ascii_lowercase(),
            Identity::Files(
                cert_chain.as_ref().to_path_buf(),
                key.as_ref().to_path_buf(),
            ),
        ));
        self
    }

    /// Like [`TlsAcceptorBuilder::sni_certificate`], with PEM bytes.
    pub fn sni_certificate_pem(
        mut self,
        server_name: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> TlsAcceptorBuilder {
        self.sni.push((
            server_name.to_ascii_lowercase(),
            Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()),
        ));
        self
    }

    /// The CA certificates (PEM bundle) client certificates must chain to. Their names
    /// are also sent to clients as the acceptable CAs. Needed by
    /// [`ClientAuth::Optional`] and [`ClientAuth::Required`].
    pub fn client_ca_file(mut self, path: impl AsRef<Path>) -> TlsAcceptorBuilder {
        self.client_ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether to ask for client certificates (default [`ClientAuth::None`]).
    pub fn client_auth(mut self, auth: ClientAuth) -> TlsAcceptorBuilder {
        self.client_auth = auth;
        self
    }

    /// The oldest protocol version accepted (default TLS 1.2).
    pub fn min_protocol(mut self, version: TlsVersion) -> TlsAcceptorBuilder {
        self.min = version;
        self
    }

    /// The newest protocol version accepted (default TLS 1.3).
    pub fn max_protocol(mut self, version: TlsVersion) -> TlsAcceptorBuilder {
        self.max = version;
        self
    }

    /// How long a client may take to complete the handshake (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsAcceptorBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// Builds the acceptor: loads the certificates and keys and checks every option.
    pub fn build(self) -> Result<TlsAcceptor, TlsError> {
        // A stale error left by other code must not be reported as this one's reason.
        with_clean_error_queue(|| self.build_context())
    }

    fn build_context(self) -> Result<TlsAcceptor, TlsError> {
        let client_ca = match (&self.client_ca, self.client_auth) {
            (None, ClientAuth::None) => None,
            (None, _) => {
                return Err(TlsError::msg(
                    "client certificates are requested but no client CA file is set",
                ))
            }
            (Some(path), auth) => {
                if auth == ClientAuth::None {
                    log::warn!(
                        "client CA file {} is set but client_auth is None: no client certificate is requested",
                        path.display()
                    );
                }
                Some(load_ca_file(path)?)
            }
        };
        let mut sni = HashMap::new();
        for (name, identity) in &self.sni {
            let ctx = self.context(identity, client_ca.as_deref())?.build();
            sni.insert(name.clone(), ctx);
        }
        let mut ctx = self.context(&self.identity, client_ca.as_deref())?;
        if !sni.is_empty() {
            ctx.set_servername_callback(move |ssl, _alert| {
                let Some(name) = ssl.servername(NameType::HOST_NAME) else {
                    return Ok(());
                };
                match sni.get(&name.to_ascii_lowercase()) {
                    Some(other) => ssl
                        .set_ssl_context(other)
                        .map_err(|_| SniError::ALERT_FATAL),
                    None => Ok(()),
                }
            });
        }
        Ok(TlsAcceptor {
            inner: Arc::new(AcceptorInner {
                ctx: ctx.build(),
                handshake_timeout: self.handshake_timeout,
            }),
        })
    }

    /// One context with every setting and the given certificate.
    fn context(
        &self,
        identity: &Identity,
        client_ca: Option<&[X509]>,
    ) -> Result<SslContextBuilder, TlsError> {
        let mut ctx = SslContext::builder(SslMethod::tls_server())
            .map_err(|e| TlsError::stack("creating the server TLS context", e))?;
        apply_defaults(&mut ctx, self.min, self.max)?;
        ctx.set_options(SslOptions::CIPHER_SERVER_PREFERENCE);
        ctx.set_session_cache_mode(SslSessionCacheMode::SERVER);
        ctx.set_session_id_context(SESSION_ID_CONTEXT)
            .map_err(|e| TlsError::stack("setting the session id context", e))?;
        identity.apply(&mut ctx)?;
        if let Some(cas) = client_ca {
            for ca in cas {
                ctx.cert_store_mut()
                    .add_cert(ca.clone())
                    .map_err(|e| TlsError::stack("adding a client CA certificate", e))?;
                ctx.add_client_ca(ca)
                    .map_err(|e| TlsError::stack("adding a client CA name", e))?;
            }
        }
        ctx.set_verify(match self.client_auth {
            ClientAuth::None => SslVerifyMode::NONE,
            ClientAuth::Optional => SslVerifyMode::PEER,
            ClientAuth::Required => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        });
        if !self.alpn.is_empty() {
            // Validate the names; the callback keeps them as plain byte strings.
            alpn_wire(&self.alpn)?;
            let ours: Vec<Vec<u8>> = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
            ctx.set_alpn_select_callback(move |_ssl, client| {
                select_alpn(&ours, client).ok_or(AlpnError::NOACK)
            });
        }
        Ok(ctx)
    }
}

/// The first of `ours` (server preference) that the client's wire-format list offers.
fn select_alpn<'a>(ours: &[Vec<u8>], client: &'a [u8]) -> Option<&'a [u8]> {
    ours.iter().find_map(|want| {
        let mut rest = client;
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if tail.len() < len {
                return None;
            }
            let (proto, next) = tail.split_at(len);
            if proto == want.as_slice() {
                return Some(proto);
            }
            rest = next;
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::select_alpn;

    #[test]
    fn alpn_follows_server_preference() {
        let ours = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let client = b"\x08http/1.1\x02h2";
        assert_eq!(select_alpn(&ours, client), Some(&b"h2"[..]));
        assert_eq!(select_alpn(&ours, b"\x03foo"), None);
        assert_eq!(select_alpn(&ours, b"\x09h2"), None);
    }
}
