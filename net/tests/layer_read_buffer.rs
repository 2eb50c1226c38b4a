//! A layer that keeps its own ciphertext buffer (`Layer::read_buffer`) gets every byte
//! the connection reads straight in that buffer, over a real loopback socket: nothing
//! goes through the connection's wire buffer (which would cost a copy per byte).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use net::{Buffer, Layer, LayerFactory, LayerRead, TcpServer};

const KEY: u8 = 0x5a;

/// Bytes counted by every layer of one server.
#[derive(Default)]
struct Counts {
    /// Read into the layer's own buffer.
    own: AtomicUsize,
    /// Handed over in the connection's wire buffer instead.
    wire_in: AtomicUsize,
}

/// A toy "cipher" (XOR with a constant) with its own read buffer.
struct Xor {
    own: Buffer,
    up: bool,
    counts: Arc<Counts>,
}

impl Layer for Xor {
    fn start(&mut self, _: &mut Buffer) -> std::io::Result<()> {
        Ok(())
    }

    fn read_buffer(&mut self) -> Option<&mut Buffer> {
        Some(&mut self.own)
    }

    fn read(
        &mut self,
        wire_in: &mut Buffer,
        plain: &mut Buffer,
        _: &mut Buffer,
        _: bool,
    ) -> std::io::Result<LayerRead> {
        self.counts
            .wire_in
            .fetch_add(wire_in.readable_bytes(), Ordering::Relaxed);
        self.counts
            .own
            .fetch_add(self.own.readable_bytes(), Ordering::Relaxed);
        for source in [&mut self.own, wire_in] {
            let bytes: Vec<u8> = source.peek().iter().map(|b| b ^ KEY).collect();
            plain.append(&bytes);
            source.retrieve_all();
        }
        let first = !self.up;
        self.up = true;
        Ok(LayerRead {
            handshake_done: first,
            ..LayerRead::default()
        })
    }

    fn write(&mut self, plain: &[u8], wire_out: &mut Buffer) -> std::io::Result<()> {
        let bytes: Vec<u8> = plain.iter().map(|b| b ^ KEY).collect();
        wire_out.append(&bytes);
        Ok(())
    }

    fn close(&mut self, _: &mut Buffer) -> std::io::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct XorFactory(Arc<Counts>);

impl LayerFactory for XorFactory {
    fn new_layer(&self, _: SocketAddr) -> std::io::Result<Box<dyn Layer>> {
        Ok(Box::new(Xor {
            own: Buffer::new(),
            up: false,
            counts: self.0.clone(),
        }))
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        None
    }
}

#[test]
fn the_connection_reads_into_the_layers_own_buffer() {
    let counts = Arc::new(Counts::default());
    let server = TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(XorFactory(counts.clone()))
        .on_message(|conn, input| {
            conn.send_buffer(input);
        })
        .build()
        .expect("server")
        .start()
        .expect("start");
    let mut s = TcpStream::connect(server.local_addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // 1 MiB in 64 KiB steps, each echoed back before the next: reads of every size.
    let total = 1 << 20;
    let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
    for chunk in data.chunks(64 * 1024) {
        let wire: Vec<u8> = chunk.iter().map(|b| b ^ KEY).collect();
        s.write_all(&wire).expect("write");
        let mut back = vec![0; chunk.len()];
        s.read_exact(&mut back).expect("read the echo");
        let back: Vec<u8> = back.iter().map(|b| b ^ KEY).collect();
        assert!(back == chunk, "the echo differs");
    }
    drop(s);
    assert!(server.stop(), "server did not stop");
    assert_eq!(counts.wire_in.load(Ordering::Relaxed), 0);
    assert_eq!(counts.own.load(Ordering::Relaxed), total);
}
