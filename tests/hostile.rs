//! Hostile peers against a TLS server (in a child process, descriptor limit 512) while
//! well-behaved clients keep echoing: none of them may see an error, and each hostile
//! peer gets the outcome the server promises.
//!
//! The test runs once per TLS provider (`name::openssl`, `name::rustls`): the server
//! under attack is the provider's; the clients stay OpenSSL's blocking ones.
//!
//! Run in release (CI does): `cargo test --release --test hostile -- --ignored`.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::child::{serve_commands, ChildServer};
use common::tls::*;
use common::*;

const ENTRY: &str = "hostile_child_server";
const FD_LIMIT: u64 = 512;
const HIGH_WATER: usize = 4 << 20;
const BIG: usize = 100 << 20;

/// Bytes a "BIG" request still has to receive.
struct Remaining(usize);

/// Sends the rest of a "BIG" reply while the output stays under half the high-water
/// mark; called again on every write-complete.
fn produce(conn: &mut muon::TcpConnection) {
    static CHUNK: [u8; 1 << 20] = [b'z'; 1 << 20];
    while conn.output_len() < HIGH_WATER / 2 {
        let Some(Remaining(left)) = conn.extensions_mut().get_mut::<Remaining>() else {
            return;
        };
        if *left == 0 {
            return;
        }
        let n = (*left).min(CHUNK.len());
        *left -= n;
        conn.send(&CHUNK[..n]);
    }
}

#[test]
#[ignore = "the child-process server of the hostile-peer tests"]
fn hostile_child_server() {
    let Ok(kind) = std::env::var("MUON_CHILD") else {
        return;
    };
    let provider = kind
        .strip_prefix("hostile-")
        .and_then(Provider::from_name)
        .unwrap_or_else(|| panic!("unknown child kind {kind}"));
    muon::logging::init("warn");
    // The panics asked for are logged by the server; skip the default backtraces.
    std::panic::set_hook(Box::new(|_| {}));
    let acceptor = provider.acceptor(&ServerOpts {
        handshake_timeout: Some(Duration::from_secs(1)),
        ..ServerOpts::default()
    });
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .name("hostile")
        .threads(2)
        .tls(acceptor)
        .idle_timeout(Duration::from_secs(10))
        .high_water_mark(HIGH_WATER)
        .on_message(|conn, input| {
            if input.peek().starts_with(b"PANIC") {
                panic!("a peer asked for a panic");
            }
            if input.peek().starts_with(b"BIG") {
                input.retrieve_all();
                conn.extensions_mut().insert(Remaining(BIG));
                produce(conn);
                return;
            }
            conn.send_buffer(input);
        })
        .on_write_complete(produce)
        .started();
    serve_commands(server);
}

/// Well-behaved TLS clients echoing in a loop until told to stop.
struct Normal {
    stop: Arc<AtomicBool>,
    trips: Arc<AtomicUsize>,
    errors: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Normal {
    fn start(addr: std::net::SocketAddr, n: usize) -> Normal {
        let stop = Arc::new(AtomicBool::new(false));
        let trips = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        let config = Arc::new(client_config(None));
        let threads = (0..n)
            .map(|i| {
                let (stop, trips, errors, config) =
                    (stop.clone(), trips.clone(), errors.clone(), config.clone());
                let mut s = tls_connect(addr, &config);
                std::thread::spawn(move || {
                    let mut k = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let msg = payload(1024 + i * 100, k);
                        k += 1;
                        let mut back = vec![0; msg.len()];
                        let ok = s.write_all(&msg).is_ok()
                            && s.read_exact(&mut back).is_ok()
                            && back == msg;
                        if ok {
                            trips.fetch_add(1, Ordering::Relaxed);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                })
            })
            .collect();
        Normal {
            stop,
            trips,
            errors,
            threads,
        }
    }

    /// Asserts the normal clients made progress since `before` without an error.
    fn check(&self, phase: &str, before: usize) -> usize {
        let now = self.trips.load(Ordering::Relaxed);
        assert!(
            wait_until(Duration::from_secs(10), || self
                .trips
                .load(Ordering::Relaxed)
                > before),
            "normal clients stalled during {phase}"
        );
        assert_eq!(
            self.errors.load(Ordering::Relaxed),
            0,
            "normal client error during {phase}"
        );
        now.max(before + 1)
    }
}

per_provider!(
    #[ignore = "stress: run in release"]
    hostile_peers_while_normal_clients_are_served
);
fn hostile_peers_while_normal_clients_are_served(provider: Provider) {
    let kind = format!("hostile-{}", provider.name());
    let mut server = ChildServer::spawn(ENTRY, &kind, Some(FD_LIMIT));
    let addr = server.addr;
    let normal = Normal::start(addr, 8);
    let config = client_config(None);
    let mut mark = normal.check("start", 0);
    let rss_start = server.rss_kib();

    // Resets in the middle of handshakes and of transfers.
    for _ in 0..50 {
        let raw = connect(addr);
        (&raw)
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .unwrap();
        common::reset(&raw);
        let mut s = tls_connect(addr, &config);
        s.write_all(&payload(256 * 1024, 1)).unwrap();
        common::reset(s.get_ref());
    }
    mark = normal.check("resets", mark);

    // Half-close with output pending: everything still arrives, then close_notify.
    let mut s = tls_connect(addr, &config);
    let data = payload(2 << 20, 2);
    s.write_all(&data).unwrap();
    s.shutdown().unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert!(
        back == data,
        "half-close lost output: {} of {}",
        back.len(),
        data.len()
    );
    mark = normal.check("half-close", mark);

    // Garbage and plaintext HTTP on the TLS port.
    for i in 0..20 {
        let mut raw = connect(addr);
        let junk = if i % 2 == 0 {
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()
        } else {
            payload(1000, i)
        };
        raw.write_all(&junk).unwrap();
        let rest = expect_closed(&mut raw, "a garbage peer");
        assert!(rest.len() < 64, "{} bytes came back", rest.len());
    }
    mark = normal.check("garbage", mark);

    // Slowloris: a byte every 100 ms, forever; the handshake timeout (1 s) ends it.
    let start = Instant::now();
    let slow: Vec<_> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                let mut raw = connect(addr);
                let hello = [
                    0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03, 0x03,
                ];
                for b in hello.iter().cycle() {
                    if raw.write_all(&[*b]).is_err() {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    if start.elapsed() > Duration::from_secs(15) {
                        return false;
                    }
                }
                false
            })
        })
        .collect();
    for t in slow {
        assert!(t.join().unwrap(), "slowloris was never closed");
    }
    let slowloris_closed_after = start.elapsed();
    mark = normal.check("slowloris", mark);

    // A client that asks for 100 MiB and never reads: memory stays bounded.
    let mut hog = tls_connect(addr, &config);
    hog.write_all(b"BIG").unwrap();
    let mut rss_peak = 0;
    for _ in 0..20 {
        rss_peak = rss_peak.max(server.rss_kib());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        rss_peak < rss_start + 32 * 1024,
        "RSS grew from {rss_start} to {rss_peak} KiB with 100 MiB to send"
    );
    drop(hog);
    mark = normal.check("never-reading client", mark);

    // Panicking callbacks close only their own connection.
    for _ in 0..10 {
        let mut s = tls_connect(addr, &config);
        s.write_all(b"PANIC").unwrap();
        let rest = expect_tls_closed(&mut s, "a connection whose callback panicked");
        assert!(rest.is_empty(), "{rest:?}");
    }
    mark = normal.check("panics", mark);

    // Out of descriptors: more connections than the limit allows.
    let flood: Vec<_> = (0..FD_LIMIT as usize + 100)
        .map(|_| connect(addr))
        .collect();
    // The server holds what its descriptors allow (until their handshake timeout) and
    // refuses the rest at once; its live count says how many it holds.
    let mut held = 0;
    for _ in 0..10 {
        held = held.max(server.live().saturating_sub(8));
    }
    let refused = flood.len() - held;
    assert!(refused > 0, "the descriptor limit was never reached");
    drop(flood);
    assert!(server.is_alive());
    let fresh_deadline = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        let tcp = connect(addr);
        if let Ok(mut s) = config.connect("localhost", tcp) {
            if s.write_all(b"back").is_ok() {
                let mut b = [0; 4];
                if s.read_exact(&mut b).is_ok() && &b == b"back" {
                    break true;
                }
            }
        }
        if Instant::now() > fresh_deadline {
            break false;
        }
    };
    assert!(recovered, "no recovery after EMFILE");
    normal.check("EMFILE", mark);

    normal.stop.store(true, Ordering::Relaxed);
    for t in normal.threads {
        t.join().unwrap();
    }
    let trips = normal.trips.load(Ordering::Relaxed);
    assert_eq!(normal.errors.load(Ordering::Relaxed), 0);
    println!(
        "hostile ({provider:?}): 8 normal clients made {trips} echo round trips with 0 errors through 100 resets, \
         half-close with 2 MiB pending, 20 garbage/HTTP peers, 5 slowloris (closed after {:.1} s), \
         a non-reader of 100 MiB (server RSS {rss_start} -> peak {rss_peak} KiB), 10 panics, \
         and a flood of {} connections at RLIMIT_NOFILE={FD_LIMIT} ({held} held, {refused} refused)",
        slowloris_closed_after.as_secs_f64(),
        FD_LIMIT + 100
    );
    assert!(server.wait_idle(Duration::from_secs(20)));
    assert!(server.finish());
}
