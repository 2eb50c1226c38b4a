//! [`TlsAcceptor`]: the server-side TLS configuration, shared by every worker loop.
//!
//! One set of `SslContext`s (the default identity's, and one per SNI name) serves all
//! connections until a reload swaps in a new set; the ticket keys are shared by every
//! context ever built, so a client resumes on any worker and across reloads.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use net::{Layer, LayerFactory};
use openssl::ssl::{AlpnError, Ssl, SslContext};

use crate::config::{alpn_wire, Identity, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::error::TlsError;
use crate::error_queue::with_clean_error_queue;
use crate::layer::TlsLayer;
use crate::ticket_keys::{TicketKey, TicketKeyStore, DEFAULT_TICKET_KEY_ROTATION};
use net::{FileDigests, ReloadSummary};

mod build;
mod production;
mod session_context;

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
/// Implements [`LayerFactory`], so it plugs straight into a server. The configuration
/// can be replaced at run time from any thread ([`TlsAcceptor::reload`],
/// [`TlsAcceptor::reconfigure`]): new handshakes use the new certificates at once,
/// established connections keep the session they have.
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
    /// What new connections are made from; swapped whole by a reload.
    active: RwLock<Active>,
    /// What the active configuration was built from; a reload builds it again.
    /// The lock also keeps two reloads from interleaving.
    source: Mutex<Source>,
    /// Shared by every context ever built here, so tickets survive reloads.
    ticket_keys: Arc<TicketKeyStore>,
}

struct Active {
    ctx: SslContext,
    handshake_timeout: Duration,
}

struct Source {
    builder: TlsAcceptorBuilder,
    digests: FileDigests,
}

impl TlsAcceptor {
    /// An acceptor with the default settings for a PEM certificate chain file (leaf
    /// first, then the intermediates, which are sent to clients) and a PEM private key file.
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

    /// The OpenSSL context new connections are made from now (a reload replaces it).
    pub fn context(&self) -> SslContext {
        self.read_active().ctx.clone()
    }

    /// A server-side layer for one connection.
    pub fn new_tls_layer(&self, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        let ctx = self.context();
        let ssl = with_clean_error_queue(|| Ssl::new(&ctx))
            .map_err(|e| TlsError::stack("creating a server TLS session", e))?;
        TlsLayer::server(ssl, peer)
    }

    /// Reads every file of the configuration again (certificates, keys, client CA,
    /// OCSP responses, ticket keys) and, if all of it is valid, makes new handshakes use
    /// it. Safe to call from any thread, e.g. a SIGHUP handler thread.
    ///
    /// On error nothing changes: the previous configuration keeps serving and the error
    /// names the file and the problem. Established connections are never touched.
    pub fn reload(&self) -> Result<ReloadSummary, TlsError> {
        let mut source = self
            .inner
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let builder = source.builder.clone();
        self.install(&mut source, builder)
    }

    /// Replaces the whole configuration with `builder`'s (other files, other names,
    /// other options), with the same guarantees as [`TlsAcceptor::reload`]. The session
    /// ticket keys stay unless `builder` names ticket key files.
    pub fn reconfigure(&self, builder: TlsAcceptorBuilder) -> Result<ReloadSummary, TlsError> {
        let mut source = self
            .inner
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.install(&mut source, builder)
    }

    fn install(
        &self,
        source: &mut Source,
        builder: TlsAcceptorBuilder,
    ) -> Result<ReloadSummary, TlsError> {
        // A stale error left by other code must not be reported as this one's reason.
        with_clean_error_queue(|| self.install_checked(source, builder))
    }

    fn install_checked(
        &self,
        source: &mut Source,
        builder: TlsAcceptorBuilder,
    ) -> Result<ReloadSummary, TlsError> {
        let keys = TicketKey::load_files(&builder.ticket_key_files)?;
        let ctx = builder.build_context(&self.inner.ticket_keys)?;
        let digests = FileDigests::of(&builder.files(), sha256);
        // Everything is valid: switch. The ticket keys first, so a ticket issued under
        // the new certificate is already under the new key.
        self.inner
            .ticket_keys
            .replace(keys, builder.ticket_key_rotation)?;
        *self
            .inner
            .active
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Active {
            ctx,
            handshake_timeout: builder.handshake_timeout,
        };
        let summary = source.digests.compare(&digests);
        *source = Source { builder, digests };
        Ok(summary)
    }

    fn read_active(&self) -> std::sync::RwLockReadGuard<'_, Active> {
        self.inner
            .active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl LayerFactory for TlsAcceptor {
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>> {
        Ok(Box::new(self.new_tls_layer(Some(peer))?))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.read_active().handshake_timeout)
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.read_active().handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Options for a [`TlsAcceptor`]; [`TlsAcceptorBuilder::build`] does the OpenSSL work
/// and reports every problem (unreadable file, key not matching, bad option) there.
#[derive(Debug, Clone)]
pub struct TlsAcceptorBuilder {
    identity: Vec<Identity>,
    ocsp: Option<PathBuf>,
    sni: Vec<(String, Identity)>,
    sni_ocsp: Vec<(String, PathBuf)>,
    refuse_unknown_names: bool,
    ticket_key_files: Vec<PathBuf>,
    ticket_key_rotation: Duration,
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
            identity: vec![identity],
            ocsp: None,
            sni: Vec::new(),
            sni_ocsp: Vec::new(),
            refuse_unknown_names: false,
            ticket_key_files: Vec::new(),
            ticket_key_rotation: DEFAULT_TICKET_KEY_ROTATION,
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

    /// Serves another certificate when the client asks for `server_name` through SNI:
    /// an exact name, or a wildcard such as `*.example.com` (one label, like certificate
    /// wildcards); exact names win, matching ignores case. Other names, and clients
    /// that send none, get the default identity (see
    /// [`TlsAcceptorBuilder::refuse_unknown_server_names`]). Called again with the same
    /// name and another key type, the name gets both certificates (EC and RSA).
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
        with_clean_error_queue(|| self.build_acceptor())
    }

    fn build_acceptor(self) -> Result<TlsAcceptor, TlsError> {
        let keys = TicketKey::load_files(&self.ticket_key_files)?;
        let ticket_keys = Arc::new(TicketKeyStore::new(keys, self.ticket_key_rotation)?);
        let ctx = self.build_context(&ticket_keys)?;
        let digests = FileDigests::of(&self.files(), sha256);
        Ok(TlsAcceptor {
            inner: Arc::new(AcceptorInner {
                active: RwLock::new(Active {
                    ctx,
                    handshake_timeout: self.handshake_timeout,
                }),
                source: Mutex::new(Source {
                    builder: self,
                    digests,
                }),
                ticket_keys,
            }),
        })
    }
}

/// Checks the ALPN names and installs server-preference selection on `ctx`.
fn set_alpn(
    ctx: &mut openssl::ssl::SslContextBuilder,
    protocols: &[String],
) -> Result<(), TlsError> {
    // Validate the names; the callback keeps them as plain byte strings.
    alpn_wire(protocols)?;
    let ours: Vec<Vec<u8>> = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
    ctx.set_alpn_select_callback(move |_ssl, client| {
        select_alpn(&ours, client).ok_or(AlpnError::NOACK)
    });
    Ok(())
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

/// The digest a reload compares files by.
fn sha256(bytes: &[u8]) -> Vec<u8> {
    openssl::hash::hash(openssl::hash::MessageDigest::sha256(), bytes)
        .map(|d| d.to_vec())
        .unwrap_or_default()
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
