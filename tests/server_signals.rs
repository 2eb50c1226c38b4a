//! `muon::signals`: SIGHUP runs the reload callback, SIGTERM stops every registered
//! server together (their connections drained, one of them on a shared pool) and
//! `wait` reports it in time. Real signals, sent to this process (a test binary of its
//! own: the handlers are process-wide).

mod common;

use std::time::Duration;

use common::*;
use muon::signals::Signals;

fn raise(signal: libc::c_int) {
    // SAFETY: kill(2) on our own pid with a signal whose handler signal-hook installed.
    let rc = unsafe { libc::kill(libc::getpid(), signal) };
    assert_eq!(rc, 0, "kill failed");
}

/// A client that reads to the EOF and closes, as a real one would.
fn reader_until_eof(addr: std::net::SocketAddr) -> std::thread::JoinHandle<Vec<u8>> {
    let mut s = connect(addr);
    assert_eq!(echo_round_trip(&s, b"hi"), b"hi");
    std::thread::spawn(move || read_to_eof(&mut s).expect("EOF"))
}

#[test]
fn sighup_reloads_and_sigterm_stops_every_server_within_the_deadline() {
    init_logging();
    let pool = muon::LoopPool::start("sig", 2).expect("pool");
    let a = muon::TcpServer::builder("127.0.0.1:0")
        .event_loops(&pool)
        .echo()
        .started();
    let b = echo_server(1);
    let (reloads_tx, reloads) = crossbeam_channel::unbounded();
    let watch = Signals::new()
        .stop(a.clone())
        .stop(b.clone())
        .deadline(Duration::from_secs(10))
        .on_reload(move || {
            let _ = reloads_tx.send(());
        })
        .install()
        .expect("install");
    let (ca, cb) = (
        reader_until_eof(a.local_addr()),
        reader_until_eof(b.local_addr()),
    );
    raise(libc::SIGHUP);
    reloads
        .recv_timeout(IO_TIMEOUT)
        .expect("SIGHUP ran the reload");
    raise(libc::SIGHUP);
    reloads.recv_timeout(IO_TIMEOUT).expect("and again");
    let waiter = std::thread::spawn(move || watch.wait());
    raise(libc::SIGTERM);
    let stopped = waiter.join().expect("wait");
    assert_eq!(stopped.why, "SIGTERM");
    assert!(stopped.in_time, "both servers stopped within the deadline");
    // Both servers' clients got their EOF; both ports are closed.
    assert!(ca.join().unwrap().is_empty());
    assert!(cb.join().unwrap().is_empty());
    assert!(std::net::TcpStream::connect(a.local_addr()).is_err());
    assert!(std::net::TcpStream::connect(b.local_addr()).is_err());
    assert_eq!((a.connection_count(), b.connection_count()), (0, 0));
    drop(pool);
}
