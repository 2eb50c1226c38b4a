//! HTTP/2's write path on the loop: `h2` writes only into the room under the
//! connection's high-water mark, and the codec polls it again after the output drains
//! only when its last write found no room (`net-http/src/h2/mod.rs`, `on_write_complete`).
//! A raw client (a few hand-made frames, no HTTP/2 library) proves the drain alone moves
//! a large response: after its one opening write it only reads, so no byte of its can
//! wake the server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::BuilderExt;
use muon::http::{HttpService, Response, Router};

/// The response body: far above the high-water mark (64 KiB) and the socket buffers
/// of loopback (a few MiB), so most of it goes out only after output drains.
const BODY: usize = 48 << 20;
const CHUNK: usize = 64 << 10;

fn byte_at(i: usize) -> u8 {
    (i.wrapping_mul(31) % 251) as u8
}

fn server() -> muon::ServerHandle {
    let router = Router::new().get("/big", |_r, _c| {
        let mut sent = 0usize;
        Response::new(200)
            .stream(Some(BODY as u64), move || {
                if sent == BODY {
                    return None;
                }
                let n = CHUNK.min(BODY - sent);
                let chunk = (sent..sent + n).map(byte_at).collect();
                sent += n;
                Some(chunk)
            })
            .into()
    });
    HttpService::new(router)
        .install(
            muon::TcpServer::builder("127.0.0.1:0")
                .name("h2-write-path")
                .threads(1),
        )
        .started()
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The opening of a client that never needs to send again: the preface, SETTINGS with
/// the largest stream window, a connection WINDOW_UPDATE to the largest window, and
/// `GET /big` on stream 1 (HPACK: static-table indices and literals, no Huffman).
fn opening() -> Vec<u8> {
    const MAX_WINDOW: u32 = (1 << 31) - 1;
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    let mut settings = vec![0, 4]; // SETTINGS_INITIAL_WINDOW_SIZE
    settings.extend_from_slice(&MAX_WINDOW.to_be_bytes());
    out.extend(frame(0x4, 0, 0, &settings));
    out.extend(frame(0x8, 0, 0, &(MAX_WINDOW - 65_535).to_be_bytes()));
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    block.extend_from_slice(&[0x04, 4]); // :path, literal without indexing
    block.extend_from_slice(b"/big");
    block.extend_from_slice(&[0x01, 9]); // :authority
    block.extend_from_slice(b"localhost");
    out.extend(frame(0x1, 0x4 | 0x1, 1, &block)); // END_HEADERS | END_STREAM
    out
}

/// Reads frames until stream 1 ends; the DATA of stream 1 and whether END_STREAM came.
/// Every read is bounded by `deadline`; running out of time is a failure.
fn read_response(stream: &mut TcpStream, deadline: Instant) -> (Vec<u8>, bool) {
    let mut data = Vec::with_capacity(BODY);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            let payload = &buf[9..9 + len];
            assert!(kind != 0x7, "GOAWAY from the server: {payload:?}");
            assert!(
                !(kind == 0x3 && id == 1),
                "RST_STREAM on stream 1: {payload:?}"
            );
            if kind == 0x0 && id == 1 {
                data.extend_from_slice(payload);
            }
            let ended = (kind == 0x0 || kind == 0x1) && id == 1 && flags & 0x1 != 0;
            buf.drain(..9 + len);
            if ended {
                return (data, true);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "response stalled: {} of {BODY} body bytes in time",
            data.len()
        );
        stream.set_read_timeout(Some(left)).expect("set timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return (data, false),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!(
                    "response stalled: {} of {BODY} body bytes in time",
                    data.len()
                )
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Regression: the codec once polled `h2` after every drain of the output; now only
/// after a drain that follows a write with no room. A response that needs many drains
/// and no client input must still complete, byte for byte.
#[test]
fn a_large_response_moves_on_output_drains_alone() {
    common::init_logging();
    let server = server();
    let mut s = TcpStream::connect(server.local_addr()).expect("connect");
    s.write_all(&opening()).expect("write the opening");
    let (data, ended) = read_response(&mut s, Instant::now() + Duration::from_secs(60));
    assert!(ended, "stream 1 not ended: {} of {BODY} bytes", data.len());
    assert_eq!(data.len(), BODY);
    if let Some(i) = (0..BODY).find(|&i| data[i] != byte_at(i)) {
        panic!("body differs from byte {i}");
    }
    drop(s);
    common::stop_when_idle(&server);
}
