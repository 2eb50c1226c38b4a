//! HTTP/1.1 over real loopback sockets: keep-alive, pipelining in order (also with
//! answers from other threads), bodies both ways, HEAD, 100-continue, streaming with
//! backpressure, and a byte stream split anywhere giving the same responses.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::http::{get, http_server, Client};
use common::{stop_when_idle, wait_until, IO_TIMEOUT};
use net_http::{Limits, Reply, Response, Router};

fn app() -> Router {
    common::http::root_and_echo()
        .get("/later", |r, ctx| {
            // Answer from another thread after a delay taken from the query, so that
            // later requests' answers are ready first.
            let ms: u64 = r.query().and_then(|q| q.parse().ok()).unwrap_or(0);
            let responder = ctx.responder();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                responder.respond(Response::text(format!("later {ms}\n")));
            });
            Reply::Later
        })
        .get("/dropped", |_r, ctx| {
            drop(ctx.responder());
            Reply::Later
        })
        .get("/panic", |_r, _c| panic!("handler bug"))
        .get("/spin", |_r, _c| {
            Response::new(200).stream(None, || Some(Vec::new())).into()
        })
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    common::init_logging();
    let server = http_server(app(), Limits::default(), 2);
    let mut c = Client::new(server.local_addr());
    for _ in 0..50 {
        c.send(&get("/"));
        let r = c.response();
        assert_eq!((r.status, r.text()), (200, "root\n"));
        assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")));
        assert_eq!(r.header("connection"), None);
    }
    c.send(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\nDELETE / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404);
    let r = c.response();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn http_10_closes_unless_asked_to_keep_alive() {
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response().header("connection"), Some("keep-alive"));
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().header("connection"), Some("close"));
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn pipelined_requests_are_answered_in_order_even_when_answered_out_of_order() {
    let server = http_server(app(), Limits::default(), 2);
    let mut c = Client::new(server.local_addr());
    // 40 requests (more than the pipelining limit of 16) in one write; the early
    // ones are answered last by their threads.
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for i in 0..40u64 {
        if i % 3 == 0 {
            let ms = 60u64.saturating_sub(i);
            wire.extend(get(&format!("/later?{ms}")));
            expected.push(format!("later {ms}\n"));
        } else if i % 3 == 1 {
            let body = format!("body {i}");
            wire.extend(
                format!(
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            expected.push(body);
        } else {
            wire.extend(get("/"));
            expected.push("root\n".into());
        }
    }
    c.send(&wire);
    for want in &expected {
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), want);
    }
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_lost_responder_or_a_panicking_handler_answers_500_and_the_connection_goes_on() {
    common::init_logging();
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(&[get("/dropped"), get("/panic"), get("/")].concat());
    assert_eq!(c.response().status, 500);
    assert_eq!(c.response().status, 500);
    assert_eq!(c.response().text(), "root\n");
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_body_source_that_spins_on_empty_chunks_closes_its_connection_only() {
    common::init_logging();
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(&get("/spin"));
    let socket = c.stream.try_clone().unwrap();
    let rest = common::read_until_closed(
        &mut c.reader,
        &socket,
        common::CLOSE_WITHIN,
        "a spinning body source",
    );
    assert_eq!(rest.ending, common::Ending::Eof, "{rest:?}");
    let rest = rest.bytes;
    assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(rest.ends_with(b"\r\n\r\n"), "no chunk may follow the head");
    let mut other = Client::new(server.local_addr());
    other.send(&get("/"));
    assert_eq!(other.response().text(), "root\n");
    drop((c, other));
    stop_when_idle(&server);
}

#[test]
fn chunked_upload_head_and_expect_continue() {
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: 1\r\n\r\n");
    assert_eq!(c.response().text(), "hello world");
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_response();
    assert_eq!((r.status, r.header("content-length")), (200, Some("5")));
    // The body only goes out after the interim 100.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.head_response();
    assert_eq!(interim.status, 100);
    c.send(b"ping");
    assert_eq!(c.response().text(), "ping");
    // HEAD right after it proves no body bytes were left behind.
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head_response().status, 200);
    c.send(&get("/"));
    assert_eq!(c.response().text(), "root\n");
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_large_streamed_response_waits_for_a_slow_reader() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 512; // 32 MiB
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let router = Router::new().get("/big", move |_r, _c| {
        let p = p.clone();
        let mut n = 0usize;
        Response::new(200)
            .stream(None, move || {
                (n < CHUNKS).then(|| {
                    n += 1;
                    p.fetch_add(1, Ordering::SeqCst);
                    vec![(n % 251) as u8; CHUNK]
                })
            })
            .into()
    });
    let server = http_server(router, Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(&get("/big"));
    // The client reads nothing: the server pulls only until the socket buffers and
    // its high-water mark are full, then waits.
    let mut last = usize::MAX;
    assert!(wait_until(IO_TIMEOUT, || {
        let now = pulled.load(Ordering::SeqCst);
        let settled = now == last && now > 0;
        last = now;
        std::thread::sleep(Duration::from_millis(100));
        settled
    }));
    let held = pulled.load(Ordering::SeqCst);
    assert!(
        held < CHUNKS / 2,
        "pulled {held} chunks of {CHUNKS} with nobody reading"
    );
    let r = c.response();
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body.len(), CHUNK * CHUNKS);
    for (i, chunk) in r.body.chunks(CHUNK).enumerate() {
        assert!(
            chunk.iter().all(|&b| b == ((i + 1) % 251) as u8),
            "chunk {i}"
        );
    }
    c.send(&get("/big"));
    c.send(b"HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body.len(), CHUNK * CHUNKS);
    assert_eq!(c.head_response().status, 200);
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn the_interim_100_waits_for_the_answers_before_it() {
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(&get("/later?50"));
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    // The delayed answer first, then the 100 (never interleaved before it).
    assert_eq!(c.response().text(), "later 50\n");
    assert_eq!(c.head_response().status, 100);
    c.send(b"ok");
    assert_eq!(c.response().text(), "ok");
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_request_stream_cut_once_at_every_byte_gives_the_same_responses() {
    let wire = [
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_vec(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz".to_vec(),
        get("/"),
    ]
    .concat();
    let server = http_server(app(), Limits::default(), 2);
    for cut in 0..=wire.len() {
        let mut c = Client::new(server.local_addr());
        c.send(&wire[..cut]);
        c.send(&wire[cut..]);
        assert_eq!(c.response().body, b"abcde", "cut {cut}");
        assert_eq!(c.response().body, b"xyz", "cut {cut}");
        assert_eq!(c.response().body, b"root\n", "cut {cut}");
    }
    stop_when_idle(&server);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, .. Default::default() })]

    /// However the request stream is cut into writes, the responses are the same.
    #[test]
    fn splitting_the_request_stream_anywhere_gives_the_same_responses(
        cuts in proptest::collection::vec(0usize..400, 1..12)
    ) {
        let wire = [
            get("/"),
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world".to_vec(),
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e\r\nde\r\n0\r\n\r\n".to_vec(),
            b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            get("/missing"),
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(),
        ].concat();
        let server = http_server(app(), Limits::default(), 1);
        let mut c = Client::new(server.local_addr());
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % wire.len()).collect();
        points.sort_unstable();
        let mut at = 0;
        for p in points.into_iter().chain([wire.len()]) {
            c.send(&wire[at..p.max(at)]);
            at = p.max(at);
        }
        let got: Vec<(u16, Vec<u8>)> = [false, false, false, true, false, false]
            .iter()
            .map(|&head| {
                let r = if head { c.head_response() } else { c.response() };
                (r.status, r.body)
            })
            .collect();
        proptest::prop_assert_eq!(got, vec![
            (200, b"root\n".to_vec()),
            (200, b"hello world".to_vec()),
            (200, b"abcde".to_vec()),
            (200, Vec::new()),
            (404, b"404 Not Found\n".to_vec()),
            (200, b"root\n".to_vec()),
        ]);
        proptest::prop_assert!(c.closed_by_server());
        drop(c);
        stop_when_idle(&server);
    }
}
