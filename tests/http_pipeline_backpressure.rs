//! A client that pipelines thousands of requests for large responses and reads
//! nothing cannot make the server queue them: the server stops dispatching while the
//! connection's output is above its high-water mark (and stops reading), so the
//! handler runs at most about `max_pipelined` times and the server's memory stays
//! near idle. Once the client reads, every response arrives, in order, byte-exact.
//!
//! One test in this binary, so the process's RSS is this test's.

mod common;

use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::child::rss_kib;
use common::http::{http_server, read_response};
use common::{connect, init_logging};
use muon::http::{Limits, Response, Router};

const REQUESTS: usize = 2000;
const BODY: usize = 256 * 1024;
const MAX_PIPELINED: usize = 8;

/// The body of the `n`th answer: a fixed pattern with `n` in its first 8 bytes, so a
/// lost, repeated or reordered response shows.
fn body(base: &[u8], n: u64) -> Vec<u8> {
    let mut b = base.to_vec();
    b[..8].copy_from_slice(&n.to_be_bytes());
    b
}

/// The largest send buffer the kernel grows a TCP socket to (tcp_wmem's third field).
fn kernel_send_buffer_max() -> usize {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").unwrap();
    wmem.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn a_pipelining_client_that_never_reads_gets_its_answers_without_the_server_queueing_them() {
    init_logging();
    let base: Arc<Vec<u8>> = Arc::new(common::payload(BODY, 7));
    let calls = Arc::new(AtomicUsize::new(0));
    let router = {
        let (base, calls) = (base.clone(), calls.clone());
        Router::new().get("/big", move |_r, _c| {
            let n = calls.fetch_add(1, Ordering::SeqCst) as u64;
            Response::new(200).body(body(&base, n)).into()
        })
    };
    let limits = Limits {
        max_pipelined: MAX_PIPELINED,
        ..Limits::default()
    };
    let server = http_server(router, limits, 1);
    let addr = server.local_addr();

    // Warm up: one answer read in full, so the allocator and the buffers are as for a
    // served connection; then the idle RSS.
    let mut warm = BufReader::new(connect(addr));
    warm.get_mut()
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_response(&mut warm, false).unwrap();
    assert_eq!(r.body, body(&base, 0));
    let served_before = calls.load(Ordering::SeqCst);
    let idle = rss_kib();

    // Thousands of pipelined requests in one write (a receive buffer kept small, as a
    // slow client's would be), and nothing read.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    sock.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = sock.into();
    stream.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(common::IO_TIMEOUT)).unwrap();
    let requests = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".repeat(REQUESTS);
    let writer = {
        let mut w = stream.try_clone().unwrap();
        std::thread::spawn(move || w.write_all(&requests))
    };

    // Over two seconds the handler must not run more than the pipeline allows plus
    // what the kernel's socket buffers take off the server (its send buffer grows up
    // to tcp_wmem's maximum; the client's receive buffer is set small above). Before
    // the fix it ran hundreds of times in that time, queueing an answer each.
    let kernel = kernel_send_buffer_max() + 2 * 64 * 1024;
    let bound = MAX_PIPELINED + kernel.div_ceil(BODY) + 1;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut peak = idle;
    while Instant::now() < deadline {
        let ran = calls.load(Ordering::SeqCst) - served_before;
        peak = peak.max(rss_kib());
        assert!(
            ran <= bound,
            "the handler ran {ran} times for a client that reads nothing (bound {bound}); \
             RSS {idle} -> {peak} KiB"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ran = calls.load(Ordering::SeqCst) - served_before;
    println!(
        "pipelining non-reader: handler ran {ran} times (bound {bound}) for {REQUESTS} \
         requests of {} KiB; RSS idle {idle} KiB, peak {peak} KiB",
        BODY / 1024
    );
    assert!(
        peak < idle + 8 * 1024,
        "server RSS grew from {idle} to {peak} KiB for one client that reads nothing"
    );

    // Now the client reads: every answer, in order, byte-exact.
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    for i in 0..REQUESTS {
        let r = read_response(&mut reader, false)
            .unwrap_or_else(|e| panic!("response {i} of {REQUESTS}: {e}"));
        assert_eq!(r.status, 200, "response {i}");
        assert!(
            r.body == body(&base, (served_before + i) as u64),
            "response {i}: body differs (lost, repeated or reordered)"
        );
    }
    writer.join().unwrap().expect("all requests written");
    assert_eq!(calls.load(Ordering::SeqCst), served_before + REQUESTS);
    drop(warm);
    let mut rest = [0u8; 1];
    reader
        .get_mut()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert_eq!(
        reader.read(&mut rest).unwrap(),
        0,
        "nothing after the last answer"
    );
    assert!(server.stop());
}
