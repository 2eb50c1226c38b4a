//! [`RustlsAcceptor`]: the server-side rustls configuration, shared by every worker loop.
//!
//! One `ServerConfig` serves every new connection until a reload swaps in a new one;
//! each connection takes its own `Arc` of it once. The ticket keys are shared by every
//! configuration ever built here, so a client resumes on any worker and across reloads
//! (unless the client-auth policy changed: see `tickets.rs`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use net::{Layer, LayerFactory};
use rustls::server::{ProducesTickets, UnbufferedServerConnection};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::ServerConfig;

use crate::error::RustlsError;
use crate::layer::{RustlsLayer, Side};
use crate::pem::Identity;
use crate::policy::{TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::ticket_files::{load_keys, FileTickets};
use crate::ticket_rotation::{RotatingTickets, DEFAULT_TICKET_KEY_ROTATION};
use net::{FileDigests, ReloadSummary};

mod build;

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
    /// What new connections are made from; swapped whole by a reload.
    active: RwLock<Active>,
    /// What the active configuration was built from; a reload builds it again.
    /// The lock also keeps two reloads from interleaving.
    source: Mutex<Source>,
}

struct Active {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

struct Source {
    builder: RustlsAcceptorBuilder,
    digests: FileDigests,
    /// Shared by every configuration built here, so tickets survive reloads.
    tickets: Arc<dyn ProducesTickets>,
    /// The same object when the keys come from files (a reload reads them again).
    file_tickets: Option<Arc<FileTickets>>,
    /// The same object when the keys are random and rotate (a reconfigure may change
    /// the period).
    rotating: Option<Arc<RotatingTickets>>,
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

    /// Reads every file of the configuration again (certificates, keys, client CA,
    /// OCSP responses) and, if all of it is valid, makes new handshakes use it. Safe
    /// to call from any thread, e.g. a SIGHUP handler thread.
    ///
    /// On error nothing changes: the previous configuration keeps serving and the error
    /// names the file and the problem. Established connections are never touched.
    pub fn reload(&self) -> Result<ReloadSummary, RustlsError> {
        let mut source = self
            .inner
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let builder = source.builder.clone();
        self.install(&mut source, builder)
    }

    /// Replaces the whole configuration with `builder`'s (other files, other names,
    /// other options), with the same guarantees as [`RustlsAcceptor::reload`]. The
    /// session ticket keys stay unless `builder` names ticket key files; tickets issued
    /// under another client-auth policy are not resumed.
    pub fn reconfigure(
        &self,
        builder: RustlsAcceptorBuilder,
    ) -> Result<ReloadSummary, RustlsError> {
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
        builder: RustlsAcceptorBuilder,
    ) -> Result<ReloadSummary, RustlsError> {
        // Everything is read and checked before anything changes.
        let keys = match builder.ticket_key_files.is_empty() {
            true => None,
            false => Some(load_keys(&builder.ticket_key_files)?),
        };
        let (tickets, fresh) = match (keys, &source.file_tickets) {
            (None, _) => (source.tickets.clone(), None),
            // Same object: its keys are replaced below, once the rest is valid too.
            (Some(keys), Some(files)) => (files.clone() as Arc<dyn ProducesTickets>, Some(keys)),
            (Some(keys), None) => {
                let files = Arc::new(FileTickets::new(keys));
                source.file_tickets = Some(files.clone());
                source.tickets = files.clone();
                (files as Arc<dyn ProducesTickets>, None)
            }
        };
        let config = builder.build_config(&tickets)?;
        let digests = FileDigests::of(&builder.files(), sha256);
        if let (Some(keys), Some(files)) = (fresh, &source.file_tickets) {
            files.replace(keys);
        }
        if let Some(rotating) = &source.rotating {
            // Checked by build_config already, so this cannot fail half-way.
            rotating.set_period(builder.ticket_key_rotation)?;
        }
        *self
            .inner
            .active
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Active {
            config,
            handshake_timeout: builder.handshake_timeout,
        };
        let summary = source.digests.compare(&digests);
        source.builder = builder;
        source.digests = digests;
        Ok(summary)
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
    identity: Vec<Identity>,
    ocsp: Option<PathBuf>,
    sni: Vec<(String, Identity)>,
    sni_ocsp: Vec<(String, PathBuf)>,
    refuse_unknown_names: bool,
    tickets: Option<TicketSource>,
    ticket_key_files: Vec<PathBuf>,
    ticket_key_rotation: Duration,
    clock: Arc<dyn TimeProvider>,
    alpn: Vec<String>,
    client_auth: ClientAuth,
    client_ca: Option<PathBuf>,
    handshake_timeout: Duration,
    min: TlsVersion,
    max: TlsVersion,
}

/// A user's ticket key source (see [`RustlsAcceptorBuilder::session_ticketer`]).
#[derive(Clone)]
struct TicketSource(Arc<dyn ProducesTickets>);

impl fmt::Debug for TicketSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProducesTickets")
    }
}

impl RustlsAcceptorBuilder {
    fn new(identity: Identity) -> RustlsAcceptorBuilder {
        RustlsAcceptorBuilder {
            identity: vec![identity],
            ocsp: None,
            sni: Vec::new(),
            sni_ocsp: Vec::new(),
            refuse_unknown_names: false,
            tickets: None,
            ticket_key_files: Vec::new(),
            ticket_key_rotation: DEFAULT_TICKET_KEY_ROTATION,
            clock: Arc::new(DefaultTimeProvider),
            alpn: Vec::new(),
            client_auth: ClientAuth::None,
            client_ca: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        }
    }

    /// A builder for a PEM certificate chain and key held in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> RustlsAcceptorBuilder {
        RustlsAcceptorBuilder::new(Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()))
    }

    /// Adds another certificate and key to the default identity, typically RSA next to
    /// an EC one: each client gets the first (in the order added) it can verify.
    pub fn certificate(
        mut self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> RustlsAcceptorBuilder {
        self.identity.push(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ));
        self
    }

    /// Serves another certificate when the client asks for `server_name` through SNI:
    /// an exact name, or a wildcard such as `*.example.com` (one label, like certificate
    /// wildcards); exact names win, matching ignores case. Other names, and clients
    /// that send none, get the default identity (see
    /// [`RustlsAcceptorBuilder::refuse_unknown_server_names`]). Called again with the
    /// same name and another key type, the name gets both certificates (EC and RSA).
    pub fn sni_certificate(
        mut self,
        server_name: &str,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> RustlsAcceptorBuilder {
        self.sni.push((
            server_name.to_ascii_lowercase(),
            Identity::Files(
                cert_chain.as_ref().to_path_buf(),
                key.as_ref().to_path_buf(),
            ),
        ));
        self
    }

    /// Like [`RustlsAcceptorBuilder::sni_certificate`], with PEM bytes.
    pub fn sni_certificate_pem(
        mut self,
        server_name: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> RustlsAcceptorBuilder {
        self.sni.push((
            server_name.to_ascii_lowercase(),
            Identity::Pem(cert_pem.to_vec(), key_pem.to_vec()),
        ));
        self
    }

    /// Refuses handshakes whose SNI name matches neither an SNI identity nor a DNS
    /// name of the default certificate. Off by default: unknown names get the default
    /// identity. Clients sending no name always get the default identity. (rustls
    /// answers a refused name with the `access_denied` alert, OpenSSL with
    /// `unrecognized_name`.)
    pub fn refuse_unknown_server_names(mut self, refuse: bool) -> RustlsAcceptorBuilder {
        self.refuse_unknown_names = refuse;
        self
    }

    /// Staples the DER OCSP response in `path` for the default identity when a client
    /// asks for certificate status, on the handshakes served the certificate it covers.
    /// Checked at build time and read again by a reload: it must be successful, cover
    /// one of the identity's certificates (CertId), say `good` and be current, or the
    /// build (the reload) fails naming the file. Its signature is left to the clients.
    pub fn ocsp_response_file(mut self, path: impl AsRef<Path>) -> RustlsAcceptorBuilder {
        self.ocsp = Some(path.as_ref().to_path_buf());
        self
    }

    /// Like [`RustlsAcceptorBuilder::ocsp_response_file`], for the SNI identity
    /// `server_name` (as given to [`RustlsAcceptorBuilder::sni_certificate`]).
    pub fn sni_ocsp_response_file(
        mut self,
        server_name: &str,
        path: impl AsRef<Path>,
    ) -> RustlsAcceptorBuilder {
        self.sni_ocsp.push((
            server_name.to_ascii_lowercase(),
            path.as_ref().to_path_buf(),
        ));
        self
    }

    /// Adds a session ticket key file in nginx's `ssl_session_ticket_key` format (80
    /// bytes, or 48; make one with `openssl rand 80 > FILE`). The first file added
    /// encrypts new tickets, the others only decrypt. Processes given the same files
    /// resume each other's sessions (rustls's, not OpenSSL's: each provider seals its
    /// own format). Read again by a reload; a reconfigure naming files replaces the keys.
    pub fn ticket_key_file(mut self, path: impl AsRef<Path>) -> RustlsAcceptorBuilder {
        self.ticket_key_files.push(path.as_ref().to_path_buf());
        self
    }

    /// How often random ticket keys are replaced (default 12 h, at least 1 s); the
    /// previous key still opens tickets for one more period, and a key older than two
    /// periods is gone. Ignored when ticket key files or a
    /// [`RustlsAcceptorBuilder::session_ticketer`] are given. A reconfigure may change it.
    pub fn ticket_key_rotation(mut self, period: Duration) -> RustlsAcceptorBuilder {
        self.ticket_key_rotation = period;
        self
    }

    /// The clock of the configuration (rustls's [`TimeProvider`]; the system clock by
    /// default): what rustls checks client certificates and ticket ages against, and
    /// what the random ticket keys' rotation and the OCSP responses' validity are
    /// measured by. For tests that must see time pass without waiting for it. The
    /// random ticket keys keep the clock the acceptor was built with; a reconfigure
    /// changes the configuration's.
    pub fn time_provider(mut self, clock: Arc<dyn TimeProvider>) -> RustlsAcceptorBuilder {
        self.clock = clock;
        self
    }

    /// Where session tickets are sealed and opened, instead of random keys rotated
    /// every [`RustlsAcceptorBuilder::ticket_key_rotation`]. Used when the acceptor is
    /// built; a reconfigure keeps the acceptor's ticket keys.
    pub fn session_ticketer(mut self, tickets: Arc<dyn ProducesTickets>) -> RustlsAcceptorBuilder {
        self.tickets = Some(TicketSource(tickets));
        self
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
        let mut file_tickets = None;
        let mut rotating = None;
        let tickets: Arc<dyn ProducesTickets> = match &self.tickets {
            Some(TicketSource(t)) => t.clone(),
            None if !self.ticket_key_files.is_empty() => {
                let files = Arc::new(FileTickets::new(load_keys(&self.ticket_key_files)?));
                file_tickets = Some(files.clone());
                files
            }
            None => {
                let random = Arc::new(RotatingTickets::new(
                    self.ticket_key_rotation,
                    self.clock.clone(),
                )?);
                rotating = Some(random.clone());
                random
            }
        };
        let config = self.build_config(&tickets)?;
        let digests = FileDigests::of(&self.files(), sha256);
        Ok(RustlsAcceptor {
            inner: Arc::new(AcceptorInner {
                active: RwLock::new(Active {
                    config,
                    handshake_timeout: self.handshake_timeout,
                }),
                source: Mutex::new(Source {
                    builder: self,
                    digests,
                    tickets,
                    file_tickets,
                    rotating,
                }),
            }),
        })
    }
}

/// The digest a reload compares files by.
fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}
