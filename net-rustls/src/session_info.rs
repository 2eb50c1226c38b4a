//! What a [`RustlsLayer`] can tell about its session, as net's provider-neutral
//! [`TlsInfo`], filled the way net-ssl fills it (OpenSSL's names for versions and
//! suites, the peer subject on one line).

use net::TlsInfo;

use crate::der_name::subject_oneline;
use crate::layer::RustlsLayer;
use crate::policy::{cipher_name, protocol_name};

impl RustlsLayer {
    /// The negotiated protocol version, e.g. `"TLSv1.3"`.
    pub fn protocol_version(&self) -> Option<String> {
        self.common_state().protocol_version().map(protocol_name)
    }

    /// The negotiated suite under OpenSSL's name, e.g. `"TLS_AES_256_GCM_SHA384"`.
    pub fn cipher_name(&self) -> Option<String> {
        self.common_state()
            .negotiated_cipher_suite()
            .map(|s| cipher_name(s.suite()))
    }

    /// The protocol selected by ALPN, e.g. `b"h2"`.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.common_state().alpn_protocol()
    }

    /// Whether the handshake resumed an earlier session (no full handshake).
    pub fn session_reused(&self) -> bool {
        self.common_state().handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    /// All of the above as net's [`TlsInfo`], with the peer certificate in DER.
    pub fn session_info(&self) -> TlsInfo {
        let mut info = TlsInfo::new(
            self.protocol_version().unwrap_or_default(),
            self.cipher_name().unwrap_or_default(),
        );
        info.alpn = self.alpn_protocol().map(<[u8]>::to_vec);
        info.server_name = self.server_name().map(str::to_string);
        info.resumed = self.session_reused();
        if let Some(cert) = self
            .common_state()
            .peer_certificates()
            .and_then(|c| c.first())
        {
            info.peer_subject = subject_oneline(cert);
            info.peer_certificate = Some(cert.to_vec());
        }
        info
    }
}
