//! A stale error on the thread's OpenSSL error queue, left by code that is not Muon's,
//! must not change what happens to a TLS connection (issue: a leftover
//! `ASN1_item_verify_ctx` error closed a healthy connection that only needed more bytes).
mod common;

use common::{acceptor, cert, connector, Pair};
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::x509::X509;

/// Does what an application might do in a callback: checks a certificate's signature
/// against the wrong key with the safe API. It answers `Ok(false)` and leaves an error
/// on this thread's OpenSSL queue.
fn leave_an_error_on_the_queue() {
    let pem = std::fs::read(cert("server.crt")).expect("server.crt");
    let x509 = X509::from_pem(&pem).expect("parse server.crt");
    let wrong = PKey::public_key_from_pem(
        &PKey::private_key_from_pem(&std::fs::read(cert("other.key")).unwrap())
            .unwrap()
            .public_key_to_pem()
            .unwrap(),
    )
    .unwrap();
    assert!(!x509.verify(&wrong).unwrap_or(false));
    // Checked without losing it: take the queue, look, put it back.
    let left = ErrorStack::get();
    assert!(
        !left.errors().is_empty(),
        "the wrong-key check left no error; the test would prove nothing"
    );
    left.put();
}

/// Sends `bytes` to `to` split in two, reading after each half, with the stale error
/// put back on the queue before each read.
fn feed_in_halves_with_stale_errors(from: &mut common::End, to: &mut common::End) {
    let record = from.wire_out.peek().to_vec();
    from.wire_out.retrieve_all();
    let (first, second) = record.split_at(record.len() / 2);
    for half in [first, second] {
        leave_an_error_on_the_queue();
        to.wire_in.append(half);
        to.read(false)
            .expect("a partial record is 'need more', whatever the queue held");
    }
}

#[test]
fn stale_error_does_not_fail_a_partial_record_read() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    let mut pair = Pair::with(&acc, &con, "localhost");
    pair.establish();

    pair.client.write(b"hello across two segments").unwrap();
    feed_in_halves_with_stale_errors(&mut pair.client, &mut pair.server);
    assert_eq!(pair.server.plain.peek(), b"hello across two segments");

    pair.server.write(b"and back").unwrap();
    feed_in_halves_with_stale_errors(&mut pair.server, &mut pair.client);
    assert_eq!(pair.client.plain.peek(), b"and back");
}

/// Moves what `from` wrote to `to` and lets `to` read it, a stale error waiting.
fn step_with_stale_error(from: &mut common::End, to: &mut common::End) {
    if from.wire_out.is_empty() {
        return;
    }
    to.wire_in.append(from.wire_out.peek());
    from.wire_out.retrieve_all();
    leave_an_error_on_the_queue();
    to.read(false)
        .expect("handshake step with a stale error on the queue");
}

#[test]
fn stale_error_does_not_fail_a_handshake_or_a_close() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    leave_an_error_on_the_queue();
    let mut pair = Pair::with(&acc, &con, "localhost");
    // Every step of the handshake runs with a stale error waiting.
    for _ in 0..20 {
        step_with_stale_error(&mut pair.client, &mut pair.server);
        step_with_stale_error(&mut pair.server, &mut pair.client);
    }
    pair.establish();
    leave_an_error_on_the_queue();
    pair.client
        .close()
        .expect("close_notify with a stale error on the queue");
    leave_an_error_on_the_queue();
    assert!(pair.pump(), "server: {}", pair.server.error_text());
    assert!(pair.server.seen.peer_closed);
}

#[test]
fn muon_leaves_the_queue_clean() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    leave_an_error_on_the_queue();
    let mut pair = Pair::with(&acc, &con, "localhost");
    pair.establish();
    pair.client.write(b"x").unwrap();
    assert!(pair.pump());
    assert!(ErrorStack::get().errors().is_empty());
}
