//! Muon's second TLS provider: rustls's *unbuffered* API plugged into `net`'s
//! read/write path through [`net::Layer`], with aws-lc-rs doing the cryptography.
//!
//! The connection does every system call. rustls reads records straight from the
//! ciphertext the connection read and writes records straight into the connection's
//! output buffer; the [`RustlsLayer`] keeps no buffers of its own beyond a record that
//! has not fully arrived and what the application sent before the handshake completed.
//! Every failure is a [`RustlsError`] carrying rustls's reason; it travels through the
//! `Layer` trait as an `io::Error`.
//!
//! - [`RustlsAcceptor`] (server) and [`RustlsClientFactory`] (client, from
//!   [`RustlsConnector::for_host`]) are [`net::LayerFactory`]s.
//! - The policy is net-ssl's: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers, X25519 and
//!   P-256, session resumption on (tickets on the server), 10 s handshake timeout,
//!   certificate and host name verification on for clients.
//!
//! ```no_run
//! use net_rustls::{RustlsAcceptor, RustlsConnector};
//!
//! let acceptor = RustlsAcceptor::from_pem_files("certs/server.crt", "certs/server.key")?;
//! let server = net::TcpServer::builder("127.0.0.1:8443")
//!     .tls(acceptor)
//!     .on_message(|conn, input| {
//!         conn.send_buffer(input);
//!     })
//!     .build()?
//!     .start()?;
//!
//! let connector = RustlsConnector::builder().ca_file("certs/ca.crt").build()?;
//! let client = net::TcpClient::builder("127.0.0.1:8443")
//!     .tls(connector.for_host("localhost"))
//!     .connect()?;
//! client.wait_connected(std::time::Duration::from_secs(10))?.send("hello");
//! # server.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod acceptor;
mod connector;
mod der_name;
mod drive;
mod error;
mod identities;
mod layer;
mod ocsp;
mod pem;
mod policy;
mod session_info;
mod sni;
mod ticket_files;
mod ticket_rotation;
mod tickets;

pub use acceptor::{ClientAuth, RustlsAcceptor, RustlsAcceptorBuilder};
pub use connector::{RustlsClientFactory, RustlsConnector, RustlsConnectorBuilder};
pub use error::RustlsError;
pub use layer::RustlsLayer;
pub use net::ReloadSummary;
pub use policy::{TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT};
/// The rustls version this crate is built on, for its configuration types.
pub use rustls;
pub use ticket_rotation::DEFAULT_TICKET_KEY_ROTATION;
