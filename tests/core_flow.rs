//! Backpressure, write-complete, timers, tasks from many threads, graceful stop,
//! panicking callbacks.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[test]
fn client_that_never_reads_hits_high_water_and_memory_stays_bounded() {
    init_logging();
    let mark = 1 << 20;
    let (hw_tx, hw_rx) = crossbeam_channel::unbounded();
    let (wc_tx, wc_rx) = crossbeam_channel::unbounded();
    let peak = Arc::new(AtomicUsize::new(0));
    let peak_in = peak.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_message(move |conn, input| {
            conn.send_buffer(input);
            peak_in.fetch_max(conn.output_len(), Ordering::Relaxed);
        })
        .high_water_mark(mark)
        .on_high_water(move |_conn, queued| {
            hw_tx.send(queued).unwrap();
        })
        .on_write_complete(move |conn| {
            if conn.output_len() == 0 {
                let _ = wc_tx.send(());
            }
        })
        .started();
    let client = connect(server.local_addr());
    client
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Write without reading until the server stops reading us (our writes time out).
    let mut w = client.try_clone().unwrap();
    let chunk = payload(64 * 1024, 1);
    let mut sent = 0usize;
    let limit = 256 << 20;
    while sent < limit {
        match w.write(&chunk[sent % chunk.len()..]) {
            Ok(n) => sent += n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        sent < limit,
        "server kept reading {sent} bytes from a client that never reads"
    );
    let queued = hw_rx.recv_timeout(IO_TIMEOUT).expect("high-water callback");
    assert!(queued > mark);
    let peak_out = peak.load(Ordering::Relaxed);
    // Bounded: the mark plus what one read event may add.
    assert!(peak_out <= mark + 512 * 1024, "output grew to {peak_out}");
    // Now read everything back: the output drains, write-complete fires, and reading
    // resumes until every byte sent has come back.
    let mut r = client.try_clone().unwrap();
    let mut back = vec![0u8; sent];
    r.read_exact(&mut back).expect("echo after resuming");
    for (i, c) in back.chunks(chunk.len()).enumerate() {
        // The stream is the chunk repeated; the last piece may be partial.
        assert!(c == &chunk[..c.len()], "chunk {i} differs");
    }
    wc_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("write-complete callback");
    drop((client, w, r));
    assert!(server.stop());
}

#[test]
fn timers_fire_in_order_cancel_and_repeat() {
    init_logging();
    let lp = muon::EventLoop::new("timers").unwrap();
    let handle = lp.handle();
    let thread = std::thread::spawn(move || lp.run());
    let order = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    for (ms, tag) in [(60u64, 3), (20, 1), (40, 2)] {
        let order = order.clone();
        handle.run_after(Duration::from_millis(ms), move |_| {
            order.lock().unwrap().push(tag)
        });
    }
    let cancelled = {
        let order = order.clone();
        handle.run_after(Duration::from_millis(30), move |_| {
            order.lock().unwrap().push(99)
        })
    };
    handle.cancel(cancelled);
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let every = handle.run_every(Duration::from_millis(10), move |ctx| {
        if t.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
            // A repeating timer cancelled from inside its own callback stops.
            ctx.cancel(muon::TimerId::clone(&EVERY.lock().unwrap().unwrap()));
        }
    });
    *EVERY.lock().unwrap() = Some(every);
    handle.run_after(Duration::from_millis(200), move |_| {
        done_tx.send(()).unwrap()
    });
    done_rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(*order.lock().unwrap(), vec![1, 2, 3]);
    assert_eq!(ticks.load(Ordering::SeqCst), 5);
    handle.quit();
    thread.join().unwrap().unwrap();
}

static EVERY: Mutex<Option<muon::TimerId>> = Mutex::new(None);

#[test]
fn tasks_from_many_threads_run_exactly_once() {
    init_logging();
    let lp = muon::EventLoop::new("tasks").unwrap();
    let handle = lp.handle();
    let thread = std::thread::spawn(move || lp.run());
    let counts = Arc::new(Mutex::new(vec![0u32; 8 * 10_000]));
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let h = handle.clone();
            let counts = counts.clone();
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    let counts = counts.clone();
                    assert!(h.queue_in_loop(move |_| counts.lock().unwrap()[p * 10_000 + i] += 1));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    handle.queue_in_loop(move |_| tx.send(()).unwrap());
    rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(counts.lock().unwrap().iter().all(|&c| c == 1));
    handle.quit();
    thread.join().unwrap().unwrap();
    // The loop is gone: queueing reports it.
    assert!(!handle.queue_in_loop(|_| {}));
}

#[test]
fn graceful_stop_with_open_connections_finishes_within_deadline() {
    init_logging();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(2)
        .stop_timeout(Duration::from_millis(500))
        .echo()
        .started();
    // Some clients stay open and silent; one gets a reply it must still receive.
    let idle: Vec<_> = (0..20).map(|_| connect(server.local_addr())).collect();
    let mut talker = connect(server.local_addr());
    talker.write_all(b"last words").unwrap();
    let mut buf = [0; 10];
    talker.read_exact(&mut buf).unwrap();
    assert!(wait_until(Duration::from_secs(5), || server
        .connection_count()
        == 21));
    let start = std::time::Instant::now();
    assert!(server.stop(), "stop did not finish");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        start.elapsed()
    );
    assert_eq!(server.connection_count(), 0);
    // Graceful: every client sees an orderly EOF.
    assert!(read_to_eof(&mut talker).unwrap().is_empty());
    drop(idle);
}

#[test]
fn panicking_callback_closes_only_its_connection() {
    init_logging();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_message(|conn, input| {
            if input.peek().starts_with(b"boom") {
                panic!("callback asked to panic");
            }
            conn.send_buffer(input);
        })
        .started();
    let good = connect(server.local_addr());
    assert_eq!(echo_round_trip(&good, b"before"), b"before");
    let mut bad = connect(server.local_addr());
    bad.write_all(b"boom").unwrap();
    let rest = expect_closed(&mut bad, "the panicking callback's connection");
    assert!(rest.is_empty(), "closed without a reply, got {rest:?}");
    // Same loop, still serving.
    assert_eq!(echo_round_trip(&good, b"after"), b"after");
    let fresh = connect(server.local_addr());
    assert_eq!(echo_round_trip(&fresh, b"new"), b"new");
    drop((good, fresh));
    assert!(server.stop());
}

#[test]
fn stop_requested_from_a_callback_does_not_deadlock() {
    init_logging();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let handle_slot: Arc<Mutex<Option<muon::ServerHandle>>> = Arc::default();
    let slot = handle_slot.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .stop_timeout(Duration::from_millis(500))
        .on_message(move |_conn, input| {
            input.retrieve_all();
            if let Some(h) = slot.lock().unwrap().as_ref() {
                // On the server's own loop: only asks, returns at once.
                tx.send(h.stop()).unwrap();
            }
        })
        .started();
    *handle_slot.lock().unwrap() = Some(server.clone());
    let mut client = connect(server.local_addr());
    client.write_all(b"stop please").unwrap();
    assert!(!rx.recv_timeout(IO_TIMEOUT).unwrap());
    // The server still stops, on its own, within its deadline: the client sees EOF.
    assert!(read_to_eof(&mut client).is_ok());
    assert!(server.stop());
    handle_slot.lock().unwrap().take();
}

#[test]
fn zero_workers_main_loop_serves_and_stops_gracefully() {
    init_logging();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(0)
        .stop_timeout(Duration::from_secs(2))
        .echo()
        .started();
    assert_eq!(server.loops().len(), 1, "the main loop serves");
    let clients: Vec<_> = (0..20).map(|_| connect(server.local_addr())).collect();
    for (i, c) in clients.iter().enumerate() {
        let data = payload(10_000 + i, i as u64);
        assert!(echo_round_trip(c, &data) == data);
    }
    let mut talker = connect(server.local_addr());
    assert_eq!(echo_round_trip(&talker, b"bye"), b"bye");
    drop(clients);
    // Graceful on the main loop too: the talker sees an orderly EOF, then it closes
    // and the stop completes well before its timeout.
    let stopper = {
        let s = server.clone();
        std::thread::spawn(move || s.stop())
    };
    assert!(read_to_eof(&mut talker).unwrap().is_empty());
    drop(talker);
    assert!(stopper.join().unwrap());
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn idle_timeout_closes_silent_connections_only() {
    init_logging();
    let idle = Duration::from_millis(300);
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .idle_timeout(idle)
        .echo()
        .started();
    let mut silent = connect(server.local_addr());
    let talker = connect(server.local_addr());
    let start = std::time::Instant::now();
    // The talker keeps the connection busy for three idle periods...
    while start.elapsed() < 3 * idle {
        assert_eq!(echo_round_trip(&talker, b"tick"), b"tick");
        std::thread::sleep(idle / 6);
    }
    // ...while the silent one was closed after one.
    assert!(read_to_eof(&mut silent).unwrap().is_empty());
    assert_eq!(echo_round_trip(&talker, b"still open"), b"still open");
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("idle for")).is_some());
    drop((silent, talker));
    stop_when_idle(&server);
}
