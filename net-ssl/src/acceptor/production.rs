//! The builder options for running in production: more certificates per identity,
//! strict SNI, OCSP responses and session ticket keys (see docs/tls.md, "Running in
//! production").

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::TlsAcceptorBuilder;
use crate::config::Identity;

impl TlsAcceptorBuilder {
    /// Adds another certificate and key to the default identity, typically RSA next to
    /// an EC one: OpenSSL serves whichever the client supports (EC preferred).
    pub fn certificate(
        mut self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> TlsAcceptorBuilder {
        self.identity.push(Identity::Files(
            cert_chain.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ));
        self
    }

    /// Refuses handshakes whose SNI name matches neither an SNI identity nor a DNS
    /// name of the default certificate, with the `unrecognized_name` alert. Off by
    /// default: unknown names get the default identity. Clients sending no name always
    /// get the default identity.
    pub fn refuse_unknown_server_names(mut self, refuse: bool) -> TlsAcceptorBuilder {
        self.refuse_unknown_names = refuse;
        self
    }

    /// Staples the DER OCSP response in `path` for the default identity when a client
    /// asks for certificate status. Checked at build time and read again by a reload.
    pub fn ocsp_response_file(mut self, path: impl AsRef<Path>) -> TlsAcceptorBuilder {
        self.ocsp = Some(path.as_ref().to_path_buf());
        self
    }

    /// Like [`TlsAcceptorBuilder::ocsp_response_file`], for the SNI identity
    /// `server_name` (as given to [`TlsAcceptorBuilder::sni_certificate`]).
    pub fn sni_ocsp_response_file(
        mut self,
        server_name: &str,
        path: impl AsRef<Path>,
    ) -> TlsAcceptorBuilder {
        self.sni_ocsp.push((
            server_name.to_ascii_lowercase(),
            path.as_ref().to_path_buf(),
        ));
        self
    }

    /// Adds a session ticket key file in nginx's `ssl_session_ticket_key` format
    /// (80 bytes, or 48; make one with `openssl rand 80 > FILE`). The first file added
    /// encrypts new tickets, the others only decrypt. Processes given the same files
    /// resume each other's sessions. Without files, keys are random per process and
    /// rotate (see [`TlsAcceptorBuilder::ticket_key_rotation`]). Needs OpenSSL 3.
    pub fn ticket_key_file(mut self, path: impl AsRef<Path>) -> TlsAcceptorBuilder {
        self.ticket_key_files.push(path.as_ref().to_path_buf());
        self
    }

    /// How often random ticket keys are replaced (default 12 h); the previous key still
    /// decrypts for one more period. Ignored when ticket key files are given.
    pub fn ticket_key_rotation(mut self, period: Duration) -> TlsAcceptorBuilder {
        self.ticket_key_rotation = period;
        self
    }

    /// Every file this configuration reads (what a reload reads again).
    pub(super) fn files(&self) -> Vec<PathBuf> {
        let identities = self.identity.iter().chain(self.sni.iter().map(|(_, i)| i));
        let mut files: Vec<PathBuf> = identities
            .flat_map(|identity| match identity {
                Identity::Files(cert, key) => vec![cert.clone(), key.clone()],
                Identity::Pem(..) => Vec::new(),
            })
            .collect();
        files.extend(self.ocsp.iter().cloned());
        files.extend(self.sni_ocsp.iter().map(|(_, p)| p.clone()));
        files.extend(self.client_ca.iter().cloned());
        files.extend(self.ticket_key_files.iter().cloned());
        files.dedup();
        files
    }
}
