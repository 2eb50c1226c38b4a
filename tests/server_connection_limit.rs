//! `max_connections` with every worker loop accepting (per-loop `SO_REUSEPORT`) and a
//! burst of clients connecting at once: the loops admit connections in parallel, and
//! the limit must hold across them (the check and the count are one step). Each
//! client is either served (echo) or closed at once, and the counters add up.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use common::{connect, init_logging, wait_until, BuilderExt, IO_TIMEOUT};

const LOOPS: usize = 4;
const MAX: usize = 6;
const CLIENT_THREADS: usize = 8;
const EACH: usize = 16;

#[test]
fn the_limit_holds_with_all_loops_accepting_at_once() {
    init_logging();
    let up = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let server = {
        let (up, most) = (up.clone(), most.clone());
        muon::TcpServer::builder("127.0.0.1:0")
            .threads(LOOPS)
            .accept_per_loop(true)
            .max_connections(MAX)
            .on_connection(move |conn| {
                if conn.is_connected() {
                    let now = up.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                } else {
                    up.fetch_sub(1, SeqCst);
                }
            })
            .echo()
            .build()
            .expect("build")
            .start()
            .expect("start")
    };
    let addr = server.local_addr();
    let rounds = 5;
    let (mut served, mut refused) = (0, 0);
    for _ in 0..rounds {
        let start = Arc::new(Barrier::new(CLIENT_THREADS));
        let threads: Vec<_> = (0..CLIENT_THREADS)
            .map(|_| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let conns: Vec<_> = (0..EACH).map(|_| connect(addr)).collect();
                    let mut outcome = (0, 0);
                    for mut c in &conns {
                        let _ = c.write_all(b"x");
                        let mut b = [0u8; 1];
                        match c.read(&mut b) {
                            Ok(1) => outcome.0 += 1,
                            Ok(0) => outcome.1 += 1,
                            Err(e) if e.kind() == ErrorKind::ConnectionReset => outcome.1 += 1,
                            other => panic!("neither served nor refused: {other:?}"),
                        }
                    }
                    // Held until every client of the burst had its answer.
                    (outcome, conns)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for ((s, r), _) in &results {
            served += s;
            refused += r;
        }
        drop(results);
        assert!(wait_until(IO_TIMEOUT, || server.connection_count() == 0));
    }
    let total = rounds * CLIENT_THREADS * EACH;
    let s = server.stats();
    println!(
        "limit {MAX} over {LOOPS} accepting loops: {total} connects, {served} served, \
         {refused} refused, at most {} up at once",
        most.load(SeqCst)
    );
    assert!(
        most.load(SeqCst) <= MAX,
        "{} connections up at once",
        most.load(SeqCst)
    );
    assert_eq!(served + refused, total);
    assert!(served >= MAX, "the limit's worth is served in each burst");
    assert_eq!(s.accepted as usize, total, "{s:?}");
    assert_eq!(s.closes.limit as usize, refused, "{s:?}");
    assert_eq!(s.accepted, s.closes.total() + s.active, "{s:?}");
    assert!(server.stop());
}
