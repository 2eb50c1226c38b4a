//! The per-connection layer between socket bytes and the connection's buffers.
//!
//! A plain connection has no layer: bytes read from the socket land in the input
//! buffer, bytes sent go to the socket. A connection with a layer (TLS, in `net-ssl`)
//! reads ciphertext into a wire buffer and hands it to the layer, which appends
//! plaintext to the input buffer; what the application sends goes through the layer,
//! which appends ciphertext to the output buffer.
//!
//! The connection does every system call. A layer never touches the socket, so it can
//! neither block, nor raise SIGPIPE, nor lose bytes on a partial write: "want read" and
//! "want write" are simply states it waits in until the connection brings more bytes.
//!
//! Thread rule: a layer lives on its connection's loop thread and is only called there.

pub(crate) mod reload;
pub(crate) mod tls_info;

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::buffer::Buffer;
use crate::layer::tls_info::TlsInfo;

/// What one call to [`Layer::read`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LayerRead {
    /// The handshake completed during this call.
    pub handshake_done: bool,
    /// The peer ended its side cleanly (TLS close_notify). Plaintext read before it has
    /// been delivered to the input buffer.
    pub peer_closed: bool,
    /// The stream ended without a clean close (EOF without close_notify): a truncation.
    pub truncated: bool,
}

/// A protocol layer in a connection's read/write path (TLS is the one Muon ships).
///
/// Every method receives the buffers it works on; errors are `io::Error`s whose inner
/// error carries the protocol's own reason (for TLS, OpenSSL's error stack).
pub trait Layer: 'static {
    /// Called once when the connection starts: a client writes its first handshake
    /// message into `wire_out` here.
    fn start(&mut self, wire_out: &mut Buffer) -> io::Result<()>;

    /// Consumes ciphertext from `wire_in`, drives the handshake, and appends every
    /// plaintext byte it can produce to `plain`. Handshake replies, alerts and the
    /// like go to `wire_out`. `eof` says the socket reached end of stream, so no more
    /// bytes will ever arrive in `wire_in`.
    fn read(
        &mut self,
        wire_in: &mut Buffer,
        plain: &mut Buffer,
        wire_out: &mut Buffer,
        eof: bool,
    ) -> io::Result<LayerRead>;

    /// The buffer the connection should read ciphertext into, if the layer keeps the
    /// bytes it has not consumed yet itself; `None` (the default): the connection's own
    /// wire buffer, handed to [`Layer::read`] as `wire_in`.
    ///
    /// A layer whose protocol engine must be shown the unconsumed tail of a record
    /// again between reads (rustls's unbuffered API, on every write) has to keep that
    /// tail; reading straight in behind it spares copying every byte read over to it.
    /// The new bytes are then in this buffer, and `wire_in` is empty at the next
    /// [`Layer::read`] (which still runs for every read, as with `None`).
    fn read_buffer(&mut self) -> Option<&mut Buffer> {
        None
    }

    /// Encodes `plain` into `wire_out`. Before the handshake completes the layer keeps
    /// the bytes and sends them once it can: nothing the application sends is lost.
    fn write(&mut self, plain: &[u8], wire_out: &mut Buffer) -> io::Result<()>;

    /// Writes the clean-close message (TLS close_notify) into `wire_out`, if the
    /// protocol state allows one. Called once, when the connection shuts down its side.
    fn close(&mut self, wire_out: &mut Buffer) -> io::Result<()>;

    /// The negotiated session, once the handshake completed (`None` before, and for
    /// layers that are not TLS).
    fn tls_info(&self) -> Option<TlsInfo> {
        None
    }

    /// The concrete layer, for a provider's own extension traits (`net-ssl` reaches
    /// OpenSSL's session through it). Applications use [`Layer::tls_info`].
    fn as_any(&self) -> &dyn Any;
}

/// Makes a [`Layer`] for each new connection (TLS: one `SslContext`, one `Ssl` per
/// connection). Shared by all worker loops.
pub trait LayerFactory: Send + Sync + 'static {
    /// A new layer for a connection with `peer`. An error closes the connection.
    fn new_layer(&self, peer: SocketAddr) -> io::Result<Box<dyn Layer>>;

    /// How long a connection may take to complete the handshake before it is closed.
    fn handshake_timeout(&self) -> Option<Duration>;

    /// The factory to use for a client connecting to `host` (its address without the
    /// port, IPv6 brackets removed), if this one needs the server's name: a TLS
    /// connector takes SNI and the name it verifies from here, so
    /// `TcpClient::builder("example.com:443").tls(connector)` checks `example.com`.
    /// `None` (the default): this factory is used as it is.
    fn for_server_name(&self, host: &str) -> Option<std::sync::Arc<dyn LayerFactory>> {
        let _ = host;
        None
    }
}

/// The host part of a client address `host:port` (`[v6]:port` without brackets).
pub(crate) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of_strips_the_port_and_ipv6_brackets() {
        assert_eq!(super::host_of("example.com:443"), "example.com");
        assert_eq!(super::host_of("[::1]:8443"), "::1");
        assert_eq!(super::host_of("127.0.0.1:1"), "127.0.0.1");
    }
}
