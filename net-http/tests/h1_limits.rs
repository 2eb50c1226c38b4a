//! Every limit and request-smuggling rule over real sockets: the refusal status, then
//! the connection closes, nothing pipelined behind it is answered, and the server
//! goes on serving others.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::http::{get, http_server, Client};
use common::stop_when_idle;
use net_http::{Limits, Router};

fn app() -> Router {
    common::http::root_and_echo()
}

fn limits() -> Limits {
    Limits {
        max_body_bytes: 1000,
        header_read_timeout: Duration::from_millis(400),
        keep_alive_timeout: Duration::from_millis(400),
        ..Limits::default()
    }
}

/// Sends `bad` (then a valid request behind it): expects `status`, then EOF.
fn refused(server: &net::ServerHandle, bad: &[u8], status: u16) {
    let mut c = Client::new(server.local_addr());
    c.send(&[bad, &get("/")].concat());
    let r = c.response();
    assert_eq!(r.status, status, "for {:?}", String::from_utf8_lossy(bad));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        c.closed_by_server(),
        "still open after {:?}",
        String::from_utf8_lossy(bad)
    );
    // Everyone else is still served.
    let mut other = Client::new(server.local_addr());
    other.send(&get("/"));
    assert_eq!(other.response().text(), "root\n");
}

#[test]
fn request_smuggling_shapes_are_refused_with_400_and_close() {
    common::init_logging();
    let server = http_server(app(), limits(), 2);
    let post = "POST /echo HTTP/1.1\r\nHost: t\r\n";
    for bad in [
        format!(
            "{post}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
        format!(
            "{post}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
        format!("{post}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        format!("{post}Content-Length: 5, 6\r\n\r\nhello!"),
        format!("{post}Content-Length: -5\r\n\r\n"),
        format!("{post}Content-Length: 0x5\r\n\r\nhello"),
        format!("{post}Transfer-Encoding: chunked, identity\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"),
        format!("{post}Transfer-Encoding: chunked\r\n\r\n0\r\n folded: trailer\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n".to_string(),
        "GET / HTTP/1.1\r\nHost: t\r\nX-Bare: a\rb\r\n\r\n".to_string(),
        "GET / HTTP/1.1\rHost: t\r\n\r\n".to_string(),
        "GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_string(),
        "GET / HTTP/1.1\r\n\r\n".to_string(),
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_string(),
        "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_string(),
        "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03 garbage\r\n\r\n".to_string(),
    ] {
        refused(&server, bad.as_bytes(), 400);
    }
    refused(
        &server,
        format!("{post}Transfer-Encoding: gzip, chunked\r\n\r\n").as_bytes(),
        501,
    );
    refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: t\r\nExpect: tea\r\n\r\n",
        417,
    );
    // The HTTP/2 preface (a client that assumed h2 without ALPN): not a version we speak.
    refused(&server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
    stop_when_idle(&server);
}

#[test]
fn size_limits_answer_431_and_413() {
    let server = http_server(app(), limits(), 1);
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    refused(&server, long_header.as_bytes(), 431);
    // A head that never ends is refused once it passes the limit, not buffered on.
    let endless = format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}", "a".repeat(40 * 1024));
    refused(&server, endless.as_bytes(), 431);
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    refused(
        &server,
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
    );
    refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n",
        413,
    );
    // With Expect the client gets 413 instead of 100 and never sends the body.
    refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        413,
    );
    let chunks = "100\r\n".to_string() + &"x".repeat(256) + "\r\n";
    let big_chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        chunks.repeat(4)
    );
    refused(&server, big_chunked.as_bytes(), 413);
    // At the limit it is fine.
    let mut c = Client::new(server.local_addr());
    c.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{}",
            "y".repeat(1000)
        )
        .as_bytes(),
    );
    assert_eq!(c.response().body.len(), 1000);
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_slow_head_gets_408_and_close_even_when_it_trickles() {
    common::init_logging();
    let server = http_server(app(), limits(), 1);
    let mut c = Client::new(server.local_addr());
    // Slowloris: one byte every 50 ms, 200 bytes (10 s) of head that never ends. The
    // timeout counts from the head's first byte, so the 408 comes while the client
    // is still trickling.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = c.stream.try_clone().unwrap();
    let stop_w = stop.clone();
    let trickle = std::thread::spawn(move || {
        let head = [
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ".as_slice(),
            &[b'a'; 200],
        ]
        .concat();
        for (sent, b) in head.iter().enumerate().take(200) {
            if stop_w.load(Ordering::SeqCst) || writer.write_all(&[*b]).is_err() {
                return sent;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        200
    });
    let r = c.response();
    stop.store(true, Ordering::SeqCst);
    assert_eq!(r.status, 408);
    let sent = trickle.join().unwrap();
    assert!(sent < 200, "the head was trickled in full before the 408");
    assert!(c.closed_by_server());
    drop(c);
    // A body that stalls is a timeout too.
    let mut c = Client::new(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(c.response().status, 408);
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn idle_connections_are_closed_after_the_keep_alive_timeout() {
    let server = http_server(app(), limits(), 1);
    // One that never sends anything, and one that went idle after a request.
    let mut silent = Client::new(server.local_addr());
    let mut used = Client::new(server.local_addr());
    used.send(&get("/"));
    assert_eq!(used.response().status, 200);
    assert!(silent.closed_by_server());
    assert!(used.closed_by_server());
    drop((silent, used));
    stop_when_idle(&server);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, .. Default::default() })]

    /// Arbitrary bytes after a valid request: the valid one is answered, and the
    /// server survives whatever follows (answers, refuses or waits, never panics).
    #[test]
    fn garbage_never_hurts_the_server(garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let server = http_server(app(), limits(), 1);
        let mut c = Client::new(server.local_addr());
        c.send(&[get("/"), garbage].concat());
        proptest::prop_assert_eq!(c.response().body, b"root\n");
        drop(c);
        let mut other = Client::new(server.local_addr());
        other.send(&get("/"));
        proptest::prop_assert_eq!(other.response().body, b"root\n");
        drop(other);
        stop_when_idle(&server);
    }
}
