//! The callback rules, checked under peers that reset at every step: per connection,
//! "up" at most once; "down" exactly once and only after an "up"; no message,
//! write-complete or high-water callback after "down"; a connection that failed before
//! it came up produces no callback at all.
mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tls::*;
use common::*;
use muon::ssl::TlsVersion;
use muon::{ConnId, TcpServerBuilder};
use openssl::ssl::SslVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Up,
    Down,
    Message,
    WriteComplete,
    HighWater,
}

type Journal = Arc<Mutex<HashMap<ConnId, Vec<Seen>>>>;

/// An echo server that writes down every callback of every connection.
fn journaling(builder: TcpServerBuilder) -> (muon::ServerHandle, Journal) {
    let journal: Journal = Arc::default();
    let note = |journal: &Journal| {
        let journal = journal.clone();
        move |id: ConnId, what: Seen| journal.lock().unwrap().entry(id).or_default().push(what)
    };
    let (up_down, message, complete, high) = (
        note(&journal),
        note(&journal),
        note(&journal),
        note(&journal),
    );
    let server = builder
        .threads(2)
        .on_connection(move |conn| {
            let what = if conn.is_connected() {
                Seen::Up
            } else {
                Seen::Down
            };
            up_down(conn.id(), what);
        })
        .on_message(move |conn, input| {
            message(conn.id(), Seen::Message);
            conn.send_buffer(input);
        })
        .on_write_complete(move |conn| complete(conn.id(), Seen::WriteComplete))
        .on_high_water(1024, move |conn, _| high(conn.id(), Seen::HighWater))
        .build()
        .expect("server");
    let handle = server.start().expect("start");
    (handle, journal)
}

/// Every connection's callbacks follow the rules; returns how many came up.
fn check(journal: &Journal) -> usize {
    let journal = journal.lock().unwrap();
    let mut up = 0;
    for (id, seen) in journal.iter() {
        let bad = || panic!("connection {id}: callbacks {seen:?} break the rules");
        match seen.as_slice() {
            [] => {}
            [Seen::Up, middle @ .., Seen::Down] => {
                if middle.iter().any(|s| matches!(s, Seen::Up | Seen::Down)) {
                    bad();
                }
                up += 1;
            }
            _ => bad(),
        }
    }
    up
}

/// Closes with RST instead of FIN (SO_LINGER 0).
fn reset(stream: &TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
}

/// Round `i` of a churn: reset right away, after sending, or after an echo.
fn step(i: usize) -> usize {
    i % 3
}

#[test]
fn tls13_resets_right_after_the_handshake_never_give_down_without_up() {
    let acceptor = acceptor_builder()
        .min_protocol(TlsVersion::Tls13)
        .build()
        .unwrap();
    let (server, journal) = journaling(muon::TcpServer::builder("127.0.0.1:0").tls(acceptor));
    let config = client_config(Some(SslVersion::TLS1_3));
    for i in 0..300 {
        let mut tls = tls_connect(server.local_addr(), &config);
        match step(i) {
            0 => {}
            1 => tls.write_all(b"ping").expect("write"),
            _ => {
                tls.write_all(b"ping").expect("write");
                let mut back = [0; 4];
                tls.read_exact(&mut back).expect("echo");
            }
        }
        reset(tls.get_ref());
    }
    stop_when_idle(&server);
    let up = check(&journal);
    // The echoed third certainly came up; the rest may or may not have.
    assert!(up >= 100, "only {up} of 300 connections came up");
}

#[test]
fn plain_resets_at_every_step_keep_the_callback_rules() {
    let (server, journal) = journaling(muon::TcpServer::builder("127.0.0.1:0"));
    for i in 0..300 {
        let mut stream = connect(server.local_addr());
        match step(i) {
            0 => {}
            1 => stream
                .write_all(&payload(64 * 1024, i as u64))
                .expect("write"),
            _ => {
                stream.write_all(b"ping").expect("write");
                let mut back = [0; 4];
                stream.read_exact(&mut back).expect("echo");
            }
        }
        reset(&stream);
    }
    stop_when_idle(&server);
    let up = check(&journal);
    assert!(up >= 100, "only {up} of 300 connections came up");
}
