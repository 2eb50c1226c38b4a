//! Reaching the [`TlsLayer`] behind a connection's [`net::Layer`].
//!
//! Applications read the session through net's library-neutral
//! `TcpConnection::tls_info`. These helpers are for those who need OpenSSL itself: they
//! recover the [`TlsLayer`] (and through it the `SslRef`) behind a connection or a
//! layer.

use net::Layer;

use crate::layer::TlsLayer;

impl TlsLayer {
    /// The OpenSSL layer behind `layer`, if it is one (a layer made by a factory,
    /// without a connection around it).
    ///
    /// ```
    /// # fn show(layer: &dyn net::Layer) {
    /// if let Some(tls) = net_ssl::TlsLayer::of(layer) {
    ///     println!("{} {:?}", tls.protocol_version(), tls.cipher_name());
    /// }
    /// # }
    /// ```
    pub fn of(layer: &dyn Layer) -> Option<&TlsLayer> {
        layer.as_any().downcast_ref::<TlsLayer>()
    }
}

/// `conn.tls_layer()` on a connection: its OpenSSL session, if it has one. For what
/// every provider reports (version, cipher, ALPN, SNI, peer certificate), use
/// `TcpConnection::tls_info` instead.
///
/// ```
/// use net_ssl::TlsConnectionExt;
/// fn on_up(conn: &mut net::TcpConnection) {
///     if let Some(tls) = conn.tls_layer() {
///         log::info!("{} {} peer={:?}", tls.protocol_version(),
///             tls.cipher_name().unwrap_or("?"), tls.peer_subject());
///     }
/// }
/// ```
pub trait TlsConnectionExt {
    /// The connection's TLS layer (version, cipher, ALPN, SNI, peer certificate), if
    /// the connection is a TLS one.
    fn tls_layer(&self) -> Option<&TlsLayer>;
}

impl TlsConnectionExt for net::TcpConnection {
    fn tls_layer(&self) -> Option<&TlsLayer> {
        self.layer().and_then(TlsLayer::of)
    }
}
