//! An in-memory pair of TLS layers: bytes move between them without sockets.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;

use net::{Buffer, Layer, LayerFactory, LayerRead};
use net_ssl::{TlsAcceptor, TlsAcceptorBuilder, TlsConnector, TlsConnectorBuilder, TlsLayer};

/// Path of a file in the repository's `certs/` directory.
pub fn cert(name: &str) -> String {
    format!("{}/../certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4433))
}

/// The default acceptor builder: server.crt / server.key.
pub fn acceptor() -> TlsAcceptorBuilder {
    TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
}

/// A connector builder trusting the development CA.
pub fn connector() -> TlsConnectorBuilder {
    TlsConnector::builder().ca_file(cert("ca.crt"))
}

/// One side of a connection: its layer and the buffers the connection would own.
pub struct End {
    pub layer: Box<dyn Layer>,
    pub wire_in: Buffer,
    pub wire_out: Buffer,
    pub plain: Buffer,
    /// Every flag any read reported (OR-ed).
    pub seen: LayerRead,
    pub error: Option<io::Error>,
}

impl End {
    fn new(layer: Box<dyn Layer>) -> End {
        End {
            layer,
            wire_in: Buffer::new(),
            wire_out: Buffer::new(),
            plain: Buffer::new(),
            seen: LayerRead::default(),
            error: None,
        }
    }

    /// Feeds whatever is in `wire_in` to the layer.
    pub fn read(&mut self, eof: bool) -> io::Result<LayerRead> {
        let r = self
            .layer
            .read(&mut self.wire_in, &mut self.plain, &mut self.wire_out, eof)?;
        self.seen.handshake_done |= r.handshake_done;
        self.seen.peer_closed |= r.peer_closed;
        self.seen.truncated |= r.truncated;
        Ok(r)
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.layer.write(bytes, &mut self.wire_out)
    }

    pub fn close(&mut self) -> io::Result<()> {
        self.layer.close(&mut self.wire_out)
    }

    pub fn tls(&self) -> &TlsLayer {
        net_ssl::TlsLayer::of(self.layer.as_ref()).expect("a TLS layer")
    }

    /// The error as a string (empty if none).
    pub fn error_text(&self) -> String {
        self.error
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }
}

/// A client and a server layer wired back to back.
pub struct Pair {
    pub client: End,
    pub server: End,
}

impl Pair {
    pub fn new(server: &dyn LayerFactory, client: &dyn LayerFactory) -> Pair {
        let mut pair = Pair {
            client: End::new(client.new_layer(peer()).expect("client layer")),
            server: End::new(server.new_layer(peer()).expect("server layer")),
        };
        let c = &mut pair.client;
        if let Err(e) = c.layer.start(&mut c.wire_out) {
            c.error = Some(e);
        }
        pair
    }

    /// A pair with `acceptor` and a connector for `host`.
    pub fn with(acceptor: &TlsAcceptor, connector: &TlsConnector, host: &str) -> Pair {
        Pair::new(acceptor, &connector.for_host(host))
    }

    /// Moves bytes both ways until nothing moves or a side fails (the error is kept in
    /// that side's `error`). Returns whether both sides are still healthy.
    pub fn pump(&mut self) -> bool {
        for _ in 0..100_000 {
            if self.client.error.is_some() || self.server.error.is_some() {
                return false;
            }
            let mut moved = false;
            moved |= transfer(&mut self.client, &mut self.server);
            moved |= transfer(&mut self.server, &mut self.client);
            if !moved {
                return true;
            }
        }
        panic!("pump did not settle");
    }

    /// Pumps and asserts both sides completed the handshake.
    pub fn establish(&mut self) {
        let ok = self.pump();
        assert!(
            ok,
            "handshake failed: client: {} / server: {}",
            self.client.error_text(),
            self.server.error_text()
        );
        assert!(
            self.client.layer.tls_info().is_some(),
            "client not established"
        );
        assert!(
            self.server.layer.tls_info().is_some(),
            "server not established"
        );
        assert!(self.client.seen.handshake_done && self.server.seen.handshake_done);
    }
}

/// Moves `from.wire_out` into `to.wire_in` and lets `to` read it. Returns whether
/// any byte moved.
fn transfer(from: &mut End, to: &mut End) -> bool {
    if from.wire_out.is_empty() || to.error.is_some() {
        return false;
    }
    to.wire_in.append(from.wire_out.peek());
    from.wire_out.retrieve_all();
    if let Err(e) = to.read(false) {
        to.error = Some(e);
    }
    true
}

/// Deterministic test payload.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}
