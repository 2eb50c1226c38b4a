//! The TLS command line shared by the `echo`, `chat_server`, `http_server` and `ws_chat`
//! examples, and the SIGHUP
//! reload. Included with `#[path]` by each example (examples cannot share a module
//! otherwise without becoming library API).

use std::path::PathBuf;

use clap::Args;
use muon::ssl::{ClientAuth, TlsAcceptor, TlsAcceptorBuilder};

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
    /// Require client certificates signed by the CAs in this PEM file (mTLS).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The acceptor the flags describe, or `None` without `--tls`.
    pub fn acceptor(&self) -> std::io::Result<Option<TlsAcceptor>> {
        self.acceptor_with_alpn(&[])
    }

    /// The same, offering `alpn` (e.g. `["http/1.1"]` for the HTTP examples).
    pub fn acceptor_with_alpn(&self, alpn: &[&str]) -> std::io::Result<Option<TlsAcceptor>> {
        if !self.tls {
            return Ok(None);
        }
        let tls = self
            .builder()?
            .alpn_protocols(alpn)
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Some(tls))
    }

    fn builder(&self) -> std::io::Result<TlsAcceptorBuilder> {
        let mut b = TlsAcceptor::builder(&self.cert, &self.key);
        for spec in &self.sni {
            let (name, chain, key) = parse_sni(spec).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("--sni {spec:?}: expected NAME=CHAIN,KEY"),
                )
            })?;
            b = b.sni_certificate(name, chain, key);
        }
        b = b.refuse_unknown_server_names(self.sni_strict);
        for file in &self.ticket_keys {
            b = b.ticket_key_file(file);
        }
        if let Some(ocsp) = &self.ocsp {
            b = b.ocsp_response_file(ocsp);
        }
        if let Some(ca) = &self.client_ca {
            b = b.client_ca_file(ca).client_auth(ClientAuth::Required);
        }
        Ok(b)
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
pub fn reloader(acceptor: TlsAcceptor) -> Box<dyn Fn() + Send + Sync> {
    Box::new(move || match acceptor.reload() {
        Ok(summary) => log::info!("TLS reload: {summary}"),
        Err(e) => log::error!("TLS reload rejected, previous configuration kept: {e}"),
    })
}
