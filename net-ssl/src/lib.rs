//! Muon's TLS layer: OpenSSL over an in-memory transport, plugged into `net`'s
//! read/write path through [`net::Layer`].
//!
//! The connection does every system call. The [`TlsLayer`] only turns ciphertext into
//! plaintext and back, so OpenSSL never blocks, never raises SIGPIPE and never loses a
//! byte to "want read"/"want write": those are states the layer waits in until the
//! connection brings more bytes. Every failure is a [`TlsError`] carrying OpenSSL's
//! reasons; it travels through the `Layer` trait as an `io::Error`.
//!
//! - [`TlsAcceptor`] (server) and [`TlsClientFactory`] (client, from
//!   [`TlsConnector::for_host`]) are [`net::LayerFactory`]s: give one to a server or a
//!   client and every connection gets its own [`TlsLayer`].
//! - Defaults: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers, X25519 and P-256,
//!   renegotiation and compression off, session resumption on, 10 s handshake timeout,
//!   certificate and host name verification on for clients.
//!
//! ```
//! use net::{Buffer, Layer, LayerFactory};
//! use net_ssl::{TlsAcceptor, TlsConnector};
//!
//! let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
//! let acceptor = TlsAcceptor::from_pem_files(
//!     format!("{certs}/server.crt"),
//!     format!("{certs}/server.key"),
//! )?;
//! let connector = TlsConnector::builder().ca_file(format!("{certs}/ca.crt")).build()?;
//! let peer = "127.0.0.1:8443".parse().unwrap();
//! let mut server = acceptor.new_layer(peer)?;
//! let mut client = connector.for_host("localhost").new_layer(peer)?;
//!
//! // Normally the connection moves these bytes through a socket.
//! let (mut c2s, mut s2c, mut plain) = (Buffer::new(), Buffer::new(), Buffer::new());
//! client.start(&mut c2s)?;
//! client.write(b"hello", &mut c2s)?; // kept until the handshake completes
//! while !(client.is_established() && server.is_established() && c2s.is_empty()) {
//!     server.read(&mut c2s, &mut plain, &mut s2c, false)?;
//!     client.read(&mut s2c, &mut Buffer::new(), &mut c2s, false)?;
//! }
//! assert_eq!(plain.peek(), b"hello");
//! let tls = net_ssl::tls_layer(client.as_ref()).ok_or("not a TLS layer")?;
//! assert_eq!(tls.peer_subject().as_deref(), Some("/O=Muon Development/CN=localhost"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod acceptor;
mod chain;
mod config;
mod connector;
mod error;
mod ext;
mod layer;
mod mem_io;
mod ocsp;
mod reload;
mod server_name;
mod session_info;
#[cfg(muon_ossl3)]
mod ticket_callback;
mod ticket_keys;

pub use acceptor::{ClientAuth, TlsAcceptor, TlsAcceptorBuilder};
pub use config::{TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT, GROUPS, TLS12_CIPHERS};
pub use connector::{TlsClientFactory, TlsConnector, TlsConnectorBuilder};
pub use error::TlsError;
pub use ext::{tls_layer, LayerTlsExt, TlsConnectionExt};
pub use layer::TlsLayer;
pub use mem_io::MemIo;
pub use reload::ReloadSummary;
pub use ticket_keys::DEFAULT_TICKET_KEY_ROTATION;
