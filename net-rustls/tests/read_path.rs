//! The layer's read path as a connection drives it, in memory: a client and a server
//! `RustlsLayer` exchange a stream of full-size records delivered in reads that cut
//! records anywhere, while the server writes between reads (rustls must be shown the
//! start of a record still arriving on every write). Every byte read lands in the
//! layer's own buffer (`Layer::read_buffer`): the connection's wire buffer is never
//! used, so no byte is copied over, and the layer's buffer stays a few records large.

use net::{Buffer, Layer, LayerRead};
use net_rustls::{RustlsAcceptor, RustlsConnector, RustlsLayer};

/// A few full records: what the layer's buffer may hold, however long the stream.
const BOUND: usize = 4 * (16 * 1024 + 256 + 5);

fn cert(name: &str) -> String {
    format!("{}/../certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One end as its connection holds it: the layer and the connection's own buffers.
struct End {
    layer: RustlsLayer,
    wire_in: Buffer,
    plain: Buffer,
    out: Buffer,
}

impl End {
    fn new(layer: RustlsLayer) -> End {
        End {
            layer,
            wire_in: Buffer::new(),
            plain: Buffer::new(),
            out: Buffer::new(),
        }
    }

    /// One read of `bytes`, where the connection puts them.
    fn deliver(&mut self, bytes: &[u8]) -> LayerRead {
        match self.layer.read_buffer() {
            Some(own) => own.append(bytes),
            None => self.wire_in.append(bytes),
        }
        let r = self
            .layer
            .read(&mut self.wire_in, &mut self.plain, &mut self.out, false)
            .expect("layer read");
        assert_eq!(
            self.wire_in.capacity(),
            0,
            "bytes went through the connection's wire buffer"
        );
        r
    }

    fn own_capacity(&mut self) -> usize {
        self.layer.read_buffer().map_or(0, |b| b.capacity())
    }
}

/// Moves what `from` has queued to `to` in reads of `chunk` bytes; after each read
/// `after` runs on `to` (the echo of a server).
fn pump(from: &mut End, to: &mut End, chunk: usize, mut after: impl FnMut(&mut End)) {
    while !from.out.is_empty() {
        let n = chunk.min(from.out.readable_bytes());
        let bytes = from.out.peek()[..n].to_vec();
        from.out.retrieve(n);
        to.deliver(&bytes);
        after(to);
    }
}

fn pair() -> (End, End) {
    let acceptor =
        RustlsAcceptor::from_pem_files(cert("server.crt"), cert("server.key")).expect("acceptor");
    let connector = RustlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .build()
        .expect("connector");
    let server = acceptor.new_rustls_layer(None).expect("server layer");
    let client = connector
        .for_host("localhost")
        .new_rustls_layer(None)
        .expect("client layer");
    let (mut c, mut s) = (End::new(client), End::new(server));
    c.layer.start(&mut c.out).expect("start");
    for _ in 0..10 {
        if c.layer.is_established() && s.layer.is_established() && c.out.is_empty() {
            return (c, s);
        }
        pump(&mut c, &mut s, 1000, |_| {});
        pump(&mut s, &mut c, 1000, |_| {});
    }
    panic!("no handshake after 10 round trips");
}

#[test]
fn reads_land_in_the_layers_buffer_and_records_cut_anywhere_arrive_whole() {
    let (mut client, mut server) = pair();
    let total = 1 << 20;
    let data: Vec<u8> = (0..total).map(|i| (i * 31 % 253) as u8).collect();
    let mut back = Vec::with_capacity(total);
    let mut largest = 0;
    for piece in data.chunks(64 * 1024) {
        client
            .layer
            .write(piece, &mut client.out)
            .expect("client write");
        // 7001-byte reads cut the 16 KiB records anywhere; the server echoes after
        // every read, with the start of a record pending.
        pump(&mut client, &mut server, 7001, |s| {
            let plain = s.plain.retrieve_all_as_vec();
            s.layer.write(&plain, &mut s.out).expect("server write");
            largest = largest.max(s.own_capacity());
        });
        pump(&mut server, &mut client, 5003, |_| {});
        back.extend(client.plain.retrieve_all_as_vec());
    }
    assert!(back == data, "the echo differs");
    assert!(
        largest <= BOUND,
        "the layer's buffer grew to {largest} bytes"
    );

    // After the peer's close_notify nothing more is read into the layer.
    client.layer.close(&mut client.out).expect("close_notify");
    let mut closed = false;
    while !client.out.is_empty() {
        let bytes = client.out.retrieve_all_as_vec();
        closed |= server.deliver(&bytes).peer_closed;
    }
    assert!(closed, "the server saw no close_notify");
    assert!(server.layer.read_buffer().is_none());
}

#[test]
fn a_peer_trickling_a_large_record_costs_what_it_sent() {
    let (mut client, mut server) = pair();
    let record = vec![7u8; 16 * 1024];
    client
        .layer
        .write(&record, &mut client.out)
        .expect("client write");
    let wire = client.out.retrieve_all_as_vec();
    // The first 2,000 bytes of a full-size record, one byte per read.
    for byte in &wire[..2000] {
        server.deliver(std::slice::from_ref(byte));
        let held = server.own_capacity();
        assert!(held <= 4096, "{held} bytes held after a 1-byte read");
    }
    assert!(server.plain.is_empty());
    server.deliver(&wire[2000..]);
    assert!(
        server.plain.retrieve_all_as_vec() == record,
        "the record differs"
    );
}
