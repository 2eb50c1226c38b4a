//! A client that pipelines thousands of requests for large answers and reads nothing
//! must not make the server queue them all: HTTP/1.1 parsing pauses while the answers
//! already queued are above the high-water mark (`h1/reading.rs`, `Hold::OutputFull`),
//! and resumes as the client reads. Nothing is lost or reordered.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{http_server, read_response};
use net_http::{Limits, Response, Router};

const REQUESTS: usize = 1_000;
const ANSWER: usize = 256 * 1024;

/// The answer to `/big?i`: `ANSWER` bytes that name `i`, so order and content show.
fn answer(i: usize) -> Vec<u8> {
    format!("{i:08}").repeat(ANSWER / 8).into_bytes()
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("rss");
    pages * 4096
}

#[test]
fn a_pipelining_client_that_never_reads_cannot_queue_every_answer() {
    common::init_logging();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let router = Router::new().get("/big", move |req, _ctx| {
        counted.fetch_add(1, Ordering::SeqCst);
        let i: usize = req
            .query()
            .and_then(|q| q.parse().ok())
            .unwrap_or(usize::MAX);
        Response::new(200).body(answer(i)).into()
    });
    let limits = Limits::default();
    let max_pipelined = limits.max_pipelined;
    let server = http_server(router, limits, 1);

    let mut requests = Vec::new();
    for i in 0..REQUESTS {
        requests.extend_from_slice(format!("GET /big?{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    let rss_before = rss_bytes();
    let mut client = common::connect(server.local_addr());
    client.write_all(&requests).expect("send the pipeline");

    // The client reads nothing for a second. Without the pause the server answers as
    // fast as it can copy (hundreds of 256 KiB answers in that time).
    assert!(common::wait_until(common::IO_TIMEOUT, || runs
        .load(Ordering::SeqCst)
        > 0));
    let watch_until = Instant::now() + Duration::from_secs(1);
    let mut most = 0;
    while Instant::now() < watch_until {
        most = most.max(runs.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(20));
    }
    let grown = rss_bytes().saturating_sub(rss_before);
    // What the kernel's socket buffers take (a few MB on loopback) lets a few answers
    // through; the pause bounds the rest.
    eprintln!(
        "handler runs while the client read nothing: {most}; RSS growth {} KiB",
        grown / 1024
    );
    assert!(
        most <= max_pipelined + 32,
        "the handler ran {most} times for a client that reads nothing"
    );
    assert!(
        grown < 24 * 1024 * 1024,
        "server memory grew by {} KiB for one client that reads nothing",
        grown / 1024
    );

    // Now the client reads everything: every answer, in order, byte-exact.
    let mut reader = BufReader::new(client);
    for i in 0..REQUESTS {
        let r = read_response(&mut reader, false).expect("an answer");
        assert_eq!(r.status, 200, "answer {i}");
        assert!(
            r.body == answer(i),
            "answer {i} is not the one for request {i}"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), REQUESTS);
    drop(reader);
    common::stop_when_idle(&server);
}
