//! Stress tests: handshake churn, thousands of concurrent connections, bulk TLS
//! integrity. The server runs in a child process so its own memory can be read.
//!
//! Run in release (CI does): `cargo test --release --test stress -- --ignored`.
//! `MUON_STRESS_SCALE=N` multiplies the sizes. See docs/reliability.md. The TLS tests
//! run once per provider (`name::openssl`, `name::rustls`): the server is the
//! provider's, the blocking clients OpenSSL's, the bulk test's client the provider's.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::child::{scale, serve_commands, ChildServer};
use common::tls::*;
use common::*;
use openssl::ssl::{SslStream, SslVersion};

const ENTRY: &str = "stress_child_server";

/// How much the server's heap may grow per handshake over a churn that starts warm:
/// measured 4 B (22 KB over 5,000 handshakes, `handshake_churn_leaks_nothing`); a
/// 1 KiB-per-connection leak (one buffer, one `Ssl`) is 16 times this bound.
const GROWTH_BYTES_PER_HANDSHAKE: u64 = 64;

/// What may stay on the server's heap per connection after thousands held at once
/// have closed: the tables that grew to hold them keep their capacity (the loop's slab
/// of slots, OpenSSL's and the allocator's per-thread caches). Measured 66 B (plain)
/// and 162 B (TLS) per connection; a 1 KiB-per-connection leak is twice this bound.
const KEPT_BYTES_PER_CONNECTION: u64 = 512;

/// The child process's server (see `common::child`); does nothing unless spawned so.
#[test]
#[ignore = "the child-process server of the stress tests"]
fn stress_child_server() {
    let Ok(kind) = std::env::var("MUON_CHILD") else {
        return;
    };
    muon::logging::init("warn");
    let server = match kind.strip_prefix("tls-").map(Provider::from_name) {
        None if kind == "plain" => echo_server(2),
        Some(Some(provider)) => provider.echo_server(2),
        _ => panic!("unknown child kind {kind}"),
    };
    serve_commands(server);
}

/// The child kind of a TLS echo server of `provider`.
fn tls_kind(provider: Provider) -> String {
    format!("tls-{}", provider.name())
}

/// One client's churn: connect, handshake, one echo, close; even rounds end with a
/// clean close_notify (waiting for the server's), odd rounds with a TCP reset.
fn churn(
    addr: std::net::SocketAddr,
    clients: usize,
    handshakes: usize,
) -> (usize, usize, Duration) {
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let config = Arc::new(client_config(Some(SslVersion::TLS1_3)));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (failures, done, config) = (failures.clone(), done.clone(), config.clone());
            std::thread::spawn(move || {
                for i in (c..handshakes).step_by(clients) {
                    let ok = (|| -> Result<(), Box<dyn std::error::Error>> {
                        let tcp = TcpStream::connect(addr)?;
                        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
                        let mut s = config.connect("localhost", tcp)?;
                        let msg = (i as u64).to_be_bytes();
                        s.write_all(&msg)?;
                        let mut back = [0; 8];
                        s.read_exact(&mut back)?;
                        if back != msg {
                            return Err("echo differs".into());
                        }
                        if i % 2 == 0 {
                            s.shutdown()?;
                            let mut rest = Vec::new();
                            s.read_to_end(&mut rest)?;
                        } else {
                            common::reset(s.get_ref());
                        }
                        Ok(())
                    })();
                    match ok {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("handshake {i}: {e}");
                            failures.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (
        done.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
        start.elapsed(),
    )
}

per_provider!(
    #[ignore = "stress: run in release"]
    handshake_churn_leaks_nothing
);
fn handshake_churn_leaks_nothing(provider: Provider) {
    let clients = 32;
    let total = 5_000 * scale();
    let mut server = ChildServer::spawn(ENTRY, &tls_kind(provider), None);
    // Warm-up: the allocator and OpenSSL reach their working size.
    let (_, warm_failures, _) = churn(server.addr, clients, 2_000);
    assert_eq!(warm_failures, 0);
    assert!(server.wait_idle(Duration::from_secs(20)));
    let rss_warm = server.rss_kib();
    let heap_warm = server.heap_bytes();
    let (done, failures, took) = churn(server.addr, clients, total);
    assert!(
        server.wait_idle(Duration::from_secs(20)),
        "{} connections left",
        server.live()
    );
    let rss_after = server.rss_kib();
    let heap_after = server.heap_bytes();
    let grown = heap_after.saturating_sub(heap_warm);
    println!(
        "stress churn ({provider:?}): {done} TLS 1.3 handshakes from {clients} clients in {:.1} s ({:.0}/s), \
         half close_notify / half reset, {failures} failed; server heap after warm-up {heap_warm} B, \
         after run {heap_after} B ({} B per handshake); RSS {rss_warm} -> {rss_after} KiB",
        took.as_secs_f64(),
        done as f64 / took.as_secs_f64(),
        grown / total as u64
    );
    assert_eq!(failures, 0);
    assert_eq!(done, total);
    // No leak: with every connection gone, the malloc heap (Rust and OpenSSL alike)
    // may not grow by more than GROWTH_BYTES_PER_HANDSHAKE on average, whatever the
    // scale.
    assert!(
        grown <= total as u64 * GROWTH_BYTES_PER_HANDSHAKE,
        "heap grew by {grown} B over {total} handshakes ({heap_warm} -> {heap_after} B)"
    );
    assert!(server.finish());
}

fn hold_many(kind: &str, count: usize) {
    let mut server = ChildServer::spawn(ENTRY, kind, None);
    let rss_before = server.rss_kib();
    let heap_before = server.heap_bytes();
    let tls = kind != "plain";
    let config = Arc::new(client_config(None));
    let workers = 4;
    let start = Instant::now();
    // Each worker opens its share, echoes once on each, and holds them.
    let (tx, rx) = crossbeam_channel::unbounded();
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (config, tx, release_rx) = (config.clone(), tx.clone(), release_rx.clone());
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut plain: Vec<TcpStream> = Vec::new();
                let mut secure: Vec<SslStream<TcpStream>> = Vec::new();
                for i in (w..count).step_by(workers) {
                    let tcp = connect(addr);
                    let msg = (i as u32).to_be_bytes();
                    let mut back = [0; 4];
                    if tls {
                        let mut s = config.connect("localhost", tcp).expect("handshake");
                        s.write_all(&msg).unwrap();
                        s.read_exact(&mut back).unwrap();
                        secure.push(s);
                    } else {
                        let mut s = tcp;
                        s.write_all(&msg).unwrap();
                        s.read_exact(&mut back).unwrap();
                        plain.push(s);
                    }
                    assert_eq!(back, msg);
                }
                tx.send(()).unwrap();
                // Once everyone is connected: a second echo on every connection.
                release_rx.recv().unwrap();
                let mut served = 0;
                for s in plain.iter_mut() {
                    s.write_all(b"again").unwrap();
                    let mut b = [0; 5];
                    s.read_exact(&mut b).unwrap();
                    served += 1;
                }
                for s in secure.iter_mut() {
                    s.write_all(b"again").unwrap();
                    let mut b = [0; 5];
                    s.read_exact(&mut b).unwrap();
                    served += 1;
                }
                served
            })
        })
        .collect();
    for _ in 0..workers {
        rx.recv_timeout(Duration::from_secs(120))
            .expect("connections opened");
    }
    let opened = start.elapsed();
    assert_eq!(server.live(), count, "every connection is live at once");
    let rss_held = server.rss_kib();
    let heap_held = server.heap_bytes();
    for _ in 0..workers {
        release_tx.send(()).unwrap();
    }
    let served: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(served, count);
    assert!(server.wait_idle(Duration::from_secs(30)));
    let heap_closed = server.heap_bytes();
    let held = heap_held.saturating_sub(heap_before);
    let kept = heap_closed.saturating_sub(heap_before);
    // An idle loop gives freed memory back to the system after a second.
    let mut rss_closed = server.rss_kib();
    wait_until(Duration::from_secs(5), || {
        rss_closed = server.rss_kib();
        rss_closed <= rss_before + (rss_held.saturating_sub(rss_before)) / 2
    });
    let per_conn = (rss_held.saturating_sub(rss_before)) * 1024 / count as u64;
    println!(
        "stress many ({kind}): {count} concurrent connections opened and echoed in {:.1} s, \
         all served twice; server heap {heap_before} B -> {heap_held} B held ({} B per \
         connection) -> {heap_closed} B after close ({} B per connection kept); RSS \
         {rss_before} KiB -> {rss_held} KiB held ({per_conn} B per connection) -> {rss_closed} KiB \
         after close",
        opened.as_secs_f64(),
        held / count as u64,
        kept / count as u64,
    );
    // Closing gives back what the connections held: what stays is at most
    // KEPT_BYTES_PER_CONNECTION (a 1 KiB-per-connection leak fails), and the RSS falls
    // back by at least half of what holding them added.
    assert!(
        kept <= count as u64 * KEPT_BYTES_PER_CONNECTION,
        "heap kept {kept} B of the {held} B that {count} connections held, after they closed"
    );
    assert!(
        rss_closed <= rss_before + (rss_held.saturating_sub(rss_before)) / 2,
        "RSS {rss_before} KiB -> {rss_held} KiB held -> {rss_closed} KiB after close"
    );
    assert!(server.finish());
}

/// 5,000 × scale, within what this process's descriptor limit allows for both ends
/// (the child inherits the raised limit; loopback has ~28,000 ephemeral ports).
fn concurrent_connections() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let fit = (lim.rlim_cur as usize).saturating_sub(500).min(25_000);
    let want = 5_000 * scale();
    if want > fit {
        println!("stress many: {want} connections asked, {fit} fit the descriptor limit");
    }
    want.min(fit)
}

#[test]
#[ignore = "stress: run in release"]
fn five_thousand_plain_connections() {
    hold_many("plain", concurrent_connections());
}

per_provider!(
    #[ignore = "stress: run in release"]
    five_thousand_tls_connections
);
fn five_thousand_tls_connections(provider: Provider) {
    hold_many(&tls_kind(provider), concurrent_connections());
}

/// FNV-1a, incremental: order-sensitive and enough to catch lost or reordered bytes.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

const FNV_START: u64 = 0xcbf29ce484222325;

per_provider!(
    #[ignore = "stress: run in release"]
    bulk_tls_streams_keep_every_byte
);
fn bulk_tls_streams_keep_every_byte(provider: Provider) {
    init_logging();
    let conns = 4;
    let per_conn: usize = 64 << 20;
    let server = ChildServer::spawn(ENTRY, &tls_kind(provider), None);
    let connector = provider.client(&ClientOpts::default());
    let start = Instant::now();
    let mut clients = Vec::new();
    let mut results = Vec::new();
    for c in 0..conns {
        // The sender streams random-sized chunks, topping up whenever the output
        // drains; the receiver hashes what comes back as it comes.
        let stream = Arc::new(payload(1 << 20, c as u64 + 1));
        let sent = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let hash = Arc::new(AtomicU64::new(FNV_START));
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let (s1, st1) = (sent.clone(), stream.clone());
        let pump = move |conn: &mut muon::TcpConnection| {
            let mut seed = s1.load(Ordering::Relaxed) as u64 ^ 0x9e3779b97f4a7c15;
            while conn.output_len() < 1 << 20 {
                let off = s1.load(Ordering::Relaxed);
                if off >= per_conn {
                    return;
                }
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let len = (1 + (seed >> 33) as usize % (256 * 1024)).min(per_conn - off);
                let mut chunk = Vec::with_capacity(len);
                let mut o = off;
                while chunk.len() < len {
                    let at = o % st1.len();
                    let n = (len - chunk.len()).min(st1.len() - at);
                    chunk.extend_from_slice(&st1[at..at + n]);
                    o += n;
                }
                conn.send(&chunk);
                s1.fetch_add(len, Ordering::Relaxed);
            }
        };
        let pump = Arc::new(pump);
        let (p1, p2) = (pump.clone(), pump.clone());
        let (r, h) = (received.clone(), hash.clone());
        let client = muon::TcpClient::builder(&server.addr.to_string())
            .retry(muon::RetryPolicy::no_retry())
            .tls(connector.clone())
            .on_connection(move |conn| {
                if conn.is_connected() {
                    p1(conn)
                }
            })
            .on_write_complete(move |conn| p2(conn))
            .on_message(move |_conn, input| {
                h.store(
                    fnv(h.load(Ordering::Relaxed), input.peek()),
                    Ordering::Relaxed,
                );
                let total =
                    r.fetch_add(input.readable_bytes(), Ordering::Relaxed) + input.readable_bytes();
                input.retrieve_all();
                if total >= per_conn {
                    let _ = done_tx.try_send(());
                }
            })
            .connect()
            .unwrap();
        clients.push(client);
        results.push((done_rx, received, hash, stream));
    }
    for (i, (done_rx, received, hash, stream)) in results.iter().enumerate() {
        done_rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| {
                panic!(
                    "connection {i}: {} of {per_conn} bytes back",
                    received.load(Ordering::Relaxed)
                )
            });
        assert_eq!(
            received.load(Ordering::Relaxed),
            per_conn,
            "connection {i}: extra bytes"
        );
        let mut want = FNV_START;
        let mut off = 0;
        while off < per_conn {
            let n = (per_conn - off).min(stream.len());
            want = fnv(want, &stream[..n]);
            off += n;
        }
        assert_eq!(
            hash.load(Ordering::Relaxed),
            want,
            "connection {i}: checksum differs"
        );
    }
    let took = start.elapsed();
    let total_mib = (conns * per_conn * 2) as f64 / (1 << 20) as f64;
    println!(
        "stress bulk ({provider:?}): {conns} TLS connections x {} MiB each way, random chunks up to 256 KiB, \
         checksums match; {:.1} s, {:.0} MiB/s both directions",
        per_conn >> 20,
        took.as_secs_f64(),
        total_mib / took.as_secs_f64()
    );
    drop(clients);
    assert!(server.finish());
}
