//! `read_idle_timeout` for push services: a subscriber that only receives is closed
//! once it has sent nothing for the timeout, however much is pushed to it, while one
//! that sends heartbeats stays.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn read_idle_timeout_closes_a_silent_subscriber_that_is_still_pushed_to() {
    init_logging();
    let idle = Duration::from_millis(300);
    let (handles_tx, handles) = crossbeam_channel::unbounded();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .read_idle_timeout(idle)
        .on_connection(move |c| {
            if c.is_connected() {
                let _ = handles_tx.send(c.handle());
            }
        })
        .on_message(|_c, input| input.retrieve_all())
        .started();
    let mut silent = connect(server.local_addr());
    let mut beating = connect(server.local_addr());
    let subscribers = [
        handles.recv_timeout(IO_TIMEOUT).expect("up"),
        handles.recv_timeout(IO_TIMEOUT).expect("up"),
    ];
    // The publisher pushes to both every idle/6 until told to stop (10 s at most).
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(10);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                for h in &subscribers {
                    h.send(b"push".to_vec());
                }
                std::thread::sleep(idle / 6);
            }
        })
    };
    // The beating subscriber sends a heartbeat every idle/3 and reads what it gets.
    let heartbeats = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        for _ in 0..12 {
            beating.write_all(b"hb").expect("heartbeat");
            std::thread::sleep(idle / 3);
            // Pushes keep coming; this drains them (read timeout: the IO_TIMEOUT).
            assert!(beating.read(&mut buf).expect("pushes") > 0);
        }
        beating
    });
    // The silent one receives pushes, and then the EOF, within one idle period or so:
    // long before the publisher would stop on its own (10 s).
    let start = Instant::now();
    let mut got = Vec::new();
    silent.read_to_end(&mut got).expect("EOF, not an error");
    let closed_after = start.elapsed();
    assert!(got.starts_with(b"push"), "it was pushed to before");
    assert!(
        closed_after < Duration::from_secs(5),
        "closed after {closed_after:?}: pushes kept it alive"
    );
    // The one that sent heartbeats through four idle periods is still served.
    let mut beating = heartbeats.join().expect("heartbeats");
    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    beating.write_all(b"hb").unwrap();
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("idle for")).is_some());
    assert_eq!(
        server.connection_count(),
        1,
        "only the silent one was closed"
    );
    drop(beating);
    stop_when_idle(&server);
}
