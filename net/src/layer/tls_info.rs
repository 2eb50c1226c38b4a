//! `TlsInfo`: what an application may want to know about a connection's TLS session,
//! without naming the TLS library that provides it.

/// The negotiated TLS session of a connection, filled in by its layer (see
/// `TcpConnection::tls_info`). OpenSSL's own types stay in `net-ssl` for those who
/// need more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version, e.g. "TLSv1.3".
    pub protocol: String,
    /// The cipher suite, e.g. "TLS_AES_256_GCM_SHA384".
    pub cipher: String,
    /// The protocol chosen by ALPN, if any (e.g. `b"http/1.1"`).
    pub alpn: Option<Vec<u8>>,
    /// The server name the client asked for (SNI), if any.
    pub server_name: Option<String>,
    /// Whether the session was resumed (no full handshake).
    pub resumed: bool,
    /// The peer's certificate in DER, if it sent one.
    pub peer_certificate: Option<Vec<u8>>,
    /// The subject of the peer's certificate, one line ("/O=.../CN=..."), if any.
    pub peer_subject: Option<String>,
}

impl TlsInfo {
    /// A `TlsInfo` with the protocol and cipher; set the other fields as known.
    pub fn new(protocol: impl Into<String>, cipher: impl Into<String>) -> TlsInfo {
        TlsInfo {
            protocol: protocol.into(),
            cipher: cipher.into(),
            ..TlsInfo::default()
        }
    }
}
