//! What a [`TlsLayer`] can tell about its session: protocol version, cipher, ALPN,
//! SNI, the peer certificate and resumption.

use std::fmt::Write as _;

use net::TlsInfo;
use openssl::ssl::NameType;
use openssl::x509::X509NameRef;

use crate::layer::TlsLayer;

impl TlsLayer {
    /// The negotiated protocol version, e.g. `"TLSv1.3"`.
    pub fn protocol_version(&self) -> &'static str {
        self.ssl().version_str()
    }

    /// The negotiated cipher suite name, e.g. `"TLS_AES_256_GCM_SHA384"`.
    pub fn cipher_name(&self) -> Option<&'static str> {
        self.ssl().current_cipher().map(|c| c.name())
    }

    /// The protocol selected by ALPN, e.g. `b"h2"`.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.ssl().selected_alpn_protocol()
    }

    /// The server name (SNI) the client asked for (on the client: the one it sent).
    pub fn server_name(&self) -> Option<&str> {
        self.ssl().servername(NameType::HOST_NAME)
    }

    /// The peer certificate's subject on one line, e.g. `/O=Muon Development/CN=localhost`.
    pub fn peer_subject(&self) -> Option<String> {
        self.ssl()
            .peer_certificate()
            .map(|c| oneline(c.subject_name()))
    }

    /// The peer certificate's issuer on one line, e.g. `/O=Muon Development/CN=Muon Development CA`.
    pub fn peer_issuer(&self) -> Option<String> {
        self.ssl()
            .peer_certificate()
            .map(|c| oneline(c.issuer_name()))
    }

    /// Whether the handshake resumed an earlier session (no full handshake).
    pub fn session_reused(&self) -> bool {
        self.ssl().session_reused()
    }

    /// All of the above as net's library-neutral [`TlsInfo`], with the peer
    /// certificate in DER.
    pub fn session_info(&self) -> TlsInfo {
        let mut info = TlsInfo::new(self.protocol_version(), self.cipher_name().unwrap_or(""));
        info.alpn = self.alpn_protocol().map(<[u8]>::to_vec);
        info.server_name = self.server_name().map(str::to_string);
        info.resumed = self.session_reused();
        if let Some(cert) = self.ssl().peer_certificate() {
            info.peer_subject = Some(oneline(cert.subject_name()));
            info.peer_certificate = cert.to_der().ok();
        }
        info
    }
}

/// A name as `/K=V/K=V`, like OpenSSL's `X509_NAME_oneline`.
fn oneline(name: &X509NameRef) -> String {
    let mut s = String::new();
    for entry in name.entries() {
        let key = entry.object().nid().short_name().unwrap_or("?");
        let _ = match entry.data().to_string() {
            Ok(v) => write!(s, "/{key}={v}"),
            Err(_) => write!(s, "/{key}=<binary>"),
        };
    }
    s
}
