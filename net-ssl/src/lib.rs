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
//! **How to reach it.** Applications depend on the facade package `muon-reactor` and
//! write `muon::ssl::TlsAcceptor`, `muon::ssl::TlsConnector` (the facade's own docs compile these examples with those paths,
//! `src/facade_examples.rs`). The examples on these pages use this crate's import
//! name `net_ssl::` because a crate's doctests cannot import the facade that depends
//! on it: in a project on the facade, read `net_ssl::` as `muon::ssl::` and `net::` as `muon::`.
//!
//! A TLS echo server, and a client that verifies it (the in-memory handshake this does
//! between the two layers is what `tests/handshake.rs` exercises):
//!
//! ```no_run
//! use net_ssl::{TlsAcceptor, TlsConnector};
//!
//! let acceptor = TlsAcceptor::from_pem_files("certs/server.crt", "certs/server.key")?;
//! let server = net::TcpServer::builder("127.0.0.1:8443")
//!     .tls(acceptor)
//!     .on_message(|conn, input| {
//!         conn.send_buffer(input);
//!     })
//!     .build()?
//!     .start()?;
//!
//! let connector = TlsConnector::builder().ca_file("certs/ca.crt").build()?;
//! let client = net::TcpClient::builder("127.0.0.1:8443")
//!     .tls(connector.for_host("localhost")) // verified against the certificate
//!     .on_connection(|conn| {
//!         if let Some(tls) = conn.tls_info() {
//!             println!("{} with {:?}", tls.protocol, tls.peer_subject);
//!         }
//!     })
//!     .connect()?;
//! client.wait_connected(std::time::Duration::from_secs(10))?.send("hello");
//! # server.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod acceptor;
mod chain;
mod config;
mod connector;
mod error;
mod error_queue;
mod ext;
mod layer;
mod mem_io;
mod ocsp;
mod server_name;
mod session_info;
#[cfg(muon_ossl3)]
mod ticket_callback;
mod ticket_keys;

pub use acceptor::{ClientAuth, TlsAcceptor, TlsAcceptorBuilder};
pub use config::{TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT, GROUPS, TLS12_CIPHERS};
pub use connector::{TlsClientFactory, TlsConnector, TlsConnectorBuilder};
pub use error::TlsError;
pub use ext::TlsConnectionExt;
pub use layer::TlsLayer;
pub use net::ReloadSummary;
pub use ticket_keys::DEFAULT_TICKET_KEY_ROTATION;
