//! Entry points for `cargo fuzz` (fuzz/fuzz_targets/http_*.rs): the parsers on
//! arbitrary bytes, without sockets. Not part of the API.

use std::net::SocketAddr;

use net::Buffer;

use crate::chunked::ChunkedDecoder;
use crate::head::{parse_head, Framing};
use crate::limits::Limits;
use crate::ws::reader::{Event, WsReader};
use crate::ws::Message;

/// Feeds `data[1..]` in two pieces (cut where `data[0]` says) to the head parser,
/// then what follows a complete chunked head to the chunked decoder. Panics on a
/// broken invariant: consumption past the input, a body over the limit.
pub fn http_request(data: &[u8]) {
    let limits = Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let peer = SocketAddr::from(([127, 0, 0, 1], 1));
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let cut = selector as usize % (data.len() + 1);
    let mut scanned = 0;
    if let Ok(Some((_, n))) = parse_head(&data[..cut], &mut scanned, &limits, peer) {
        assert!(n <= cut);
        return;
    }
    let Ok(Some((head, n))) = parse_head(data, &mut scanned, &limits, peer) else {
        return;
    };
    assert!(n <= data.len());
    assert!(head.request.target().len() < n);
    if head.framing == Framing::Chunked {
        let rest = &data[n..];
        let mut body = Vec::new();
        let mut decoder = ChunkedDecoder::new();
        let half = rest.len() / 2;
        let Ok(a) = decoder.decode(&rest[..half], &mut body, 4096, 1024) else {
            return;
        };
        assert!(a <= half);
        let tail = &rest[a..];
        if let Ok(b) = decoder.decode(tail, &mut body, 4096, 1024) {
            assert!(b <= tail.len());
        }
        assert!(body.len() <= 4096);
    }
}

/// Feeds `data[1..]` in two pieces (cut where `data[0]` says) to the WebSocket reader
/// (1 KiB maximum message).
pub fn ws_frames(data: &[u8]) {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let cut = selector as usize % (data.len() + 1);
    let mut reader = WsReader::new(1024);
    let mut buf = Buffer::new();
    for piece in [&data[..cut], &data[cut..]] {
        buf.append(piece);
        loop {
            match reader.next(&mut buf) {
                Ok(Some(Event::Message(m))) => {
                    let len = match &m {
                        Message::Text(t) => t.len(),
                        Message::Binary(b) => b.len(),
                    };
                    assert!(len <= 1024);
                }
                Ok(Some(Event::Ping(p))) => assert!(p.len() <= 125),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(fail) => {
                    assert!(matches!(fail.code, 1002 | 1007 | 1009));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::chunked::ChunkedDecoder;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, .. ProptestConfig::default() })]

        /// The fuzz entry points on random bytes in CI (cargo fuzz goes further).
        #[test]
        fn random_bytes_never_break_the_parsers(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            super::http_request(&data);
            super::ws_frames(&data);
        }

        /// Random bytes after a valid chunked head reach the chunked decoder.
        #[test]
        fn random_chunked_bodies(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut data = vec![40u8];
            data.extend_from_slice(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            data.extend_from_slice(&body);
            super::http_request(&data);
            // Mostly valid chunks with random sizes and data.
            let mut data = vec![7u8];
            data.extend_from_slice(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(17) {
                data.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                data.extend_from_slice(piece);
                data.extend_from_slice(b"\r\n");
            }
            data.extend_from_slice(b"0\r\n\r\n");
            super::http_request(&data);
        }

        /// A valid chunked body (random chunk sizes, extensions on some size lines, a
        /// trailer or none), cut anywhere into two reads, decodes to exactly the bytes
        /// that were encoded, consumes all of it and ends.
        #[test]
        fn valid_chunked_bodies_decode_to_their_input(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(1usize..70, 1..20),
            extensions in any::<bool>(),
            trailer in any::<bool>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut wire = Vec::new();
            let mut rest = &body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                let ext = if extensions && i % 2 == 1 { ";name=value" } else { "" };
                wire.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                wire.extend_from_slice(&rest[..n]);
                wire.extend_from_slice(b"\r\n");
                rest = &rest[n..];
                i += 1;
            }
            wire.extend_from_slice(if trailer { &b"0\r\nX-Sum: 1\r\n\r\n"[..] } else { b"0\r\n\r\n" });
            let cut = cut.index(wire.len() + 1);
            let mut decoded = Vec::new();
            let mut decoder = ChunkedDecoder::new();
            let a = decoder.decode(&wire[..cut], &mut decoded, 4096, 1024).unwrap();
            prop_assert!(a <= cut);
            let b = decoder.decode(&wire[a..], &mut decoded, 4096, 1024).unwrap();
            prop_assert_eq!(a + b, wire.len(), "not all of the body was consumed");
            prop_assert!(decoder.is_done());
            prop_assert_eq!(decoded, body);
        }
    }
}
