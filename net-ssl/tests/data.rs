//! Application data: round trips, data written before the handshake, clean close,
//! truncation.
mod common;

use common::{acceptor, connector, payload, Pair};
use net_ssl::TlsVersion;

fn pair(version: TlsVersion) -> Pair {
    let acc = acceptor()
        .min_protocol(version)
        .max_protocol(version)
        .build()
        .unwrap();
    let con = connector().build().unwrap();
    Pair::with(&acc, &con, "localhost")
}

fn round_trips(version: TlsVersion) {
    let mut p = pair(version);
    p.establish();
    for len in [
        1,
        2,
        100,
        16 * 1024 - 1,
        16 * 1024,
        16 * 1024 + 1,
        1 << 20,
        16 << 20,
    ] {
        let data = payload(len);
        // Client to server, in one write.
        p.client.write(&data).unwrap();
        assert!(p.pump());
        assert_eq!(p.server.plain.readable_bytes(), len, "c->s {len}");
        assert!(p.server.plain.peek() == &data[..], "c->s content {len}");
        p.server.plain.retrieve_all();
        // Server to client, in uneven pieces.
        for chunk in data.chunks(7919) {
            p.server.write(chunk).unwrap();
        }
        assert!(p.pump());
        assert_eq!(p.client.plain.readable_bytes(), len, "s->c {len}");
        assert!(p.client.plain.peek() == &data[..], "s->c content {len}");
        p.client.plain.retrieve_all();
    }
    assert!(!p.client.seen.peer_closed && !p.client.seen.truncated);
}

#[test]
fn round_trips_tls13() {
    round_trips(TlsVersion::Tls13);
}

#[test]
fn round_trips_tls12() {
    round_trips(TlsVersion::Tls12);
}

#[test]
fn ciphertext_arriving_byte_by_byte() {
    let mut p = pair(TlsVersion::Tls13);
    p.establish();
    let data = payload(40_000);
    p.client.write(&data).unwrap();
    let wire = p.client.wire_out.retrieve_all_as_vec();
    for b in wire {
        p.server.wire_in.append(&[b]);
        p.server.read(false).unwrap();
    }
    assert!(p.server.wire_in.is_empty());
    assert!(p.server.plain.peek() == &data[..]);
}

fn early_writes(version: TlsVersion) {
    let mut p = pair(version);
    // Before anything moved: both sides queue.
    p.client.write(b"hello from the client").unwrap();
    p.server.write(b"hello from the server").unwrap();
    let big = payload(100_000);
    p.client.write(&big).unwrap();
    p.establish();
    let mut expect = b"hello from the client".to_vec();
    expect.extend_from_slice(&big);
    assert!(p.server.plain.peek() == &expect[..]);
    assert_eq!(p.client.plain.peek(), b"hello from the server");
}

#[test]
fn data_written_before_handshake_arrives_tls13() {
    early_writes(TlsVersion::Tls13);
}

#[test]
fn data_written_before_handshake_arrives_tls12() {
    early_writes(TlsVersion::Tls12);
}

#[test]
fn close_notify_is_peer_closed() {
    let mut p = pair(TlsVersion::Tls13);
    p.establish();
    p.client.write(b"last words").unwrap();
    p.client.close().unwrap();
    assert!(p.pump());
    assert!(p.server.seen.peer_closed);
    assert!(!p.server.seen.truncated);
    assert_eq!(p.server.plain.peek(), b"last words");
    assert!(net_ssl::TlsLayer::of(p.server.layer.as_ref())
        .unwrap()
        .peer_closed());

    // Half-close: the server may still answer, then close in turn.
    p.server.write(b"reply").unwrap();
    p.server.close().unwrap();
    assert!(p.pump());
    assert_eq!(p.client.plain.peek(), b"reply");
    assert!(p.client.seen.peer_closed);

    // Closing twice writes nothing more.
    p.client.close().unwrap();
    assert!(p.client.wire_out.is_empty());
}

#[test]
fn close_before_handshake_sends_nothing() {
    let mut p = pair(TlsVersion::Tls13);
    p.server.close().unwrap();
    assert!(p.server.wire_out.is_empty());
}

#[test]
fn eof_without_close_notify_is_truncated() {
    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let mut p = pair(version);
        p.establish();
        p.client.write(b"partial").unwrap();
        assert!(p.pump());
        let r = p.server.read(true).unwrap();
        assert!(r.truncated, "{version:?}");
        assert!(!r.peer_closed);
        assert_eq!(p.server.plain.peek(), b"partial");
        // Asking again gives the same answer; close writes no close_notify.
        assert!(p.server.read(true).unwrap().truncated);
        p.server.close().unwrap();
        assert!(p.server.wire_out.is_empty());
    }
}

#[test]
fn eof_inside_a_record_is_truncated() {
    let mut p = pair(TlsVersion::Tls13);
    p.establish();
    p.client.write(&payload(1000)).unwrap();
    let wire = p.client.wire_out.retrieve_all_as_vec();
    p.server.wire_in.append(&wire[..wire.len() / 2]);
    let r = p.server.read(true).unwrap();
    assert!(r.truncated);
    assert!(p.server.plain.is_empty());
}

#[test]
fn eof_during_handshake_is_an_error() {
    let mut p = pair(TlsVersion::Tls13);
    let hello = p.client.wire_out.retrieve_all_as_vec();
    p.server.wire_in.append(&hello[..10]);
    let err = p.server.read(true).unwrap_err();
    assert!(err.to_string().contains("handshake failed"), "{err}");
}
