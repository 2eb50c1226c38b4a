//! The TLS command line shared by the `echo`, `chat_server`, `http_server` and `ws_chat`
//! examples, and the SIGHUP
//! reload. Included with `#[path]` by each example (examples cannot share a module
//! otherwise without becoming library API).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use muon::ssl::{ClientAuth, TlsAcceptor, TlsAcceptorBuilder};

/// Which TLS library serves `--tls`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsProvider {
    /// OpenSSL (muon::ssl), the default.
    #[default]
    Openssl,
    /// rustls with aws-lc-rs (muon::rustls; the facade's `rustls` feature).
    Rustls,
}

/// TLS options (all files are read again on SIGHUP).
#[derive(Args, Debug, Clone)]
pub struct TlsArgs {
    /// Serve TLS (with the development certificate unless --cert/--key are given).
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain for --tls: the leaf, then its intermediates (sent to clients).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt"))]
    pub cert: PathBuf,
    /// PEM private key for --tls.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.key"))]
    pub key: PathBuf,
    /// Another identity chosen by SNI: NAME=CHAIN,KEY; NAME may be `*.example.com`.
    /// Repeatable; the same NAME twice (EC and RSA) serves both.
    #[arg(long, value_name = "NAME=CHAIN,KEY", requires = "tls")]
    pub sni: Vec<String>,
    /// Refuse SNI names that match no identity (alert unrecognized_name) instead of
    /// serving the default certificate.
    #[arg(long, requires = "tls")]
    pub sni_strict: bool,
    /// Session ticket key file (nginx format, 80 or 48 bytes: `openssl rand 80`).
    /// Repeatable; the first encrypts, the others only decrypt.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ticket_keys: Vec<PathBuf>,
    /// DER OCSP response to staple for the default certificate.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ocsp: Option<PathBuf>,
    /// DER OCSP response to staple for the SNI identity NAME (as given to --sni).
    /// Repeatable, one per name.
    #[arg(long, value_name = "NAME=FILE", requires = "tls")]
    pub sni_ocsp: Vec<String>,
    /// How often random session ticket keys are replaced, in seconds (default 12 h);
    /// the previous key still resumes for one more period. Ignored with --ticket-keys.
    #[arg(long, value_name = "SECS", requires = "tls")]
    pub ticket_key_rotation: Option<u64>,
    /// Require client certificates signed by the CAs in this PEM file (mTLS).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub client_ca: Option<PathBuf>,
    /// The TLS library: every other TLS flag works with both (see docs/tls.md,
    /// "Choosing a provider").
    #[arg(long, value_enum, default_value_t = TlsProvider::Openssl, requires = "tls")]
    pub tls_provider: TlsProvider,
}

/// The server-side TLS of either provider: a `LayerFactory` for the server builder,
/// and the reload behind SIGHUP.
#[derive(Clone)]
pub enum ServerTls {
    /// OpenSSL.
    OpenSsl(TlsAcceptor),
    /// rustls.
    #[cfg(feature = "rustls")]
    Rustls(muon::rustls::RustlsAcceptor),
}

impl muon::LayerFactory for ServerTls {
    fn new_layer(&self, peer: std::net::SocketAddr) -> std::io::Result<Box<dyn muon::Layer>> {
        match self {
            ServerTls::OpenSsl(a) => a.new_layer(peer),
            #[cfg(feature = "rustls")]
            ServerTls::Rustls(a) => a.new_layer(peer),
        }
    }

    fn handshake_timeout(&self) -> Option<std::time::Duration> {
        match self {
            ServerTls::OpenSsl(a) => muon::LayerFactory::handshake_timeout(a),
            #[cfg(feature = "rustls")]
            ServerTls::Rustls(a) => muon::LayerFactory::handshake_timeout(a),
        }
    }
}

impl ServerTls {
    /// Reads every TLS file again (all or nothing); the summary or the reason.
    pub fn reload(&self) -> Result<String, String> {
        match self {
            ServerTls::OpenSsl(a) => a.reload().map(|s| s.to_string()).map_err(|e| e.to_string()),
            #[cfg(feature = "rustls")]
            ServerTls::Rustls(a) => a.reload().map(|s| s.to_string()).map_err(|e| e.to_string()),
        }
    }
}

impl TlsArgs {
    /// The acceptor the flags describe, or `None` without `--tls`.
    pub fn acceptor(&self) -> std::io::Result<Option<ServerTls>> {
        self.acceptor_with_alpn(&[])
    }

    /// The same, offering `alpn` (e.g. `["http/1.1"]` for the HTTP examples).
    pub fn acceptor_with_alpn(&self, alpn: &[&str]) -> std::io::Result<Option<ServerTls>> {
        if !self.tls {
            return Ok(None);
        }
        let tls = match self.tls_provider {
            TlsProvider::Openssl => ServerTls::OpenSsl(
                self.builder()?
                    .alpn_protocols(alpn)
                    .build()
                    .map_err(std::io::Error::other)?,
            ),
            TlsProvider::Rustls => self.rustls_acceptor(alpn)?,
        };
        Ok(Some(tls))
    }

    #[cfg(feature = "rustls")]
    fn rustls_acceptor(&self, alpn: &[&str]) -> std::io::Result<ServerTls> {
        use muon::rustls::{ClientAuth, RustlsAcceptor};
        let mut b = RustlsAcceptor::builder(&self.cert, &self.key).alpn_protocols(alpn);
        for file in &self.ticket_keys {
            b = b.ticket_key_file(file);
        }
        for spec in &self.sni {
            let (name, chain, key) = parse_sni(spec).ok_or_else(|| bad_sni(spec))?;
            b = b.sni_certificate(name, chain, key);
        }
        b = b.refuse_unknown_server_names(self.sni_strict);
        if let Some(ocsp) = &self.ocsp {
            b = b.ocsp_response_file(ocsp);
        }
        for spec in &self.sni_ocsp {
            let (name, file) = parse_sni_ocsp(spec)?;
            b = b.sni_ocsp_response_file(name, file);
        }
        if let Some(secs) = self.ticket_key_rotation {
            b = b.ticket_key_rotation(std::time::Duration::from_secs(secs));
        }
        if let Some(ca) = &self.client_ca {
            b = b.client_ca_file(ca).client_auth(ClientAuth::Required);
        }
        Ok(ServerTls::Rustls(b.build().map_err(std::io::Error::other)?))
    }

    #[cfg(not(feature = "rustls"))]
    fn rustls_acceptor(&self, _alpn: &[&str]) -> std::io::Result<ServerTls> {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--tls-provider rustls: built without the `rustls` feature",
        ))
    }

    fn builder(&self) -> std::io::Result<TlsAcceptorBuilder> {
        let mut b = TlsAcceptor::builder(&self.cert, &self.key);
        for spec in &self.sni {
            let (name, chain, key) = parse_sni(spec).ok_or_else(|| bad_sni(spec))?;
            b = b.sni_certificate(name, chain, key);
        }
        b = b.refuse_unknown_server_names(self.sni_strict);
        for file in &self.ticket_keys {
            b = b.ticket_key_file(file);
        }
        if let Some(ocsp) = &self.ocsp {
            b = b.ocsp_response_file(ocsp);
        }
        for spec in &self.sni_ocsp {
            let (name, file) = parse_sni_ocsp(spec)?;
            b = b.sni_ocsp_response_file(name, file);
        }
        if let Some(secs) = self.ticket_key_rotation {
            b = b.ticket_key_rotation(std::time::Duration::from_secs(secs));
        }
        if let Some(ca) = &self.client_ca {
            b = b.client_ca_file(ca).client_auth(ClientAuth::Required);
        }
        Ok(b)
    }
}

fn bad_sni(spec: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("--sni {spec:?}: expected NAME=CHAIN,KEY"),
    )
}

/// `NAME=FILE` of `--sni-ocsp`.
fn parse_sni_ocsp(spec: &str) -> std::io::Result<(&str, &str)> {
    match spec.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name, file)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--sni-ocsp {spec:?}: expected NAME=FILE"),
        )),
    }
}

fn parse_sni(spec: &str) -> Option<(&str, &str, &str)> {
    let (name, files) = spec.split_once('=')?;
    let (chain, key) = files.split_once(',')?;
    (!name.is_empty() && !chain.is_empty() && !key.is_empty()).then_some((name, chain, key))
}

/// What SIGHUP does (with `muon::signals::Signals::on_reload`): reloads every TLS file
/// of `acceptor`; logs what changed at info, a rejected reload (the old files keep
/// serving) at error.
pub fn reloader(acceptor: ServerTls) -> Box<dyn Fn() + Send + Sync> {
    Box::new(move || match acceptor.reload() {
        Ok(summary) => log::info!("TLS reload: {summary}"),
        Err(e) => log::error!("TLS reload rejected, previous configuration kept: {e}"),
    })
}
