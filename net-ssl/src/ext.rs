//! Reaching the [`TlsLayer`] behind a connection's [`net::Layer`].
//!
//! Applications read the session through net's library-neutral
//! `TcpConnection::tls_info`. These helpers are for those who need OpenSSL itself: they
//! recover the [`TlsLayer`] (and through it the `SslRef`) behind a connection or a
//! layer.

use net::Layer;

use crate::layer::TlsLayer;

/// The TLS layer behind `layer`, if it is one.
///
/// ```
/// # fn show(layer: &dyn net::Layer) {
/// if let Some(tls) = net_ssl::tls_layer(layer) {
///     println!("{} {:?}", tls.protocol_version(), tls.cipher_name());
/// }
/// # }
/// ```
pub fn tls_layer(layer: &dyn Layer) -> Option<&TlsLayer> {
    layer.as_any().downcast_ref::<TlsLayer>()
}

/// `conn.tls()` on a connection: its TLS session, if it has one.
///
/// ```
/// use net_ssl::TlsConnectionExt;
/// fn on_up(conn: &mut net::TcpConnection) {
///     if let Some(tls) = conn.tls() {
///         log::info!("{} {} peer={:?}", tls.protocol_version(),
///             tls.cipher_name().unwrap_or("?"), tls.peer_subject());
///     }
/// }
/// ```
pub trait TlsConnectionExt {
    /// The connection's TLS layer (version, cipher, ALPN, SNI, peer certificate), if
    /// the connection is a TLS one.
    fn tls(&self) -> Option<&TlsLayer>;
}

impl TlsConnectionExt for net::TcpConnection {
    fn tls(&self) -> Option<&TlsLayer> {
        self.layer().and_then(tls_layer)
    }
}
