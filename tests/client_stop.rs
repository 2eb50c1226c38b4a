//! `TcpClient::stop()` in every state of the client's machine, with real sockets, on
//! a loop the test owns (so what is left on it can be counted), and that no callback
//! of the client runs once `stop()` returned (issue 25).

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::tls::cert;
use common::*;
use muon::ssl::TlsConnector;
use muon::{EventLoop, LoopHandle, RetryPolicy, TcpClient, TcpClientBuilder};
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};

/// A loop owned by the test.
struct UserLoop {
    handle: LoopHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl UserLoop {
    fn new() -> UserLoop {
        let lp = EventLoop::new("user-loop").unwrap();
        let handle = lp.handle();
        let thread = Some(std::thread::spawn(move || lp.run()));
        UserLoop { handle, thread }
    }

    /// (connections, timers) on the loop, read on the loop.
    fn left(&self) -> (usize, usize) {
        let (tx, rx) = mpsc::channel();
        self.handle.queue_in_loop(move |ctx| {
            let _ = tx.send((ctx.connection_count(), ctx.timer_count()));
        });
        rx.recv_timeout(IO_TIMEOUT).expect("the loop answers")
    }
}

impl Drop for UserLoop {
    fn drop(&mut self) {
        self.handle.quit();
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

/// Every callback the client's application got, in order.
type Journal = Arc<Mutex<Vec<String>>>;

fn journaled(addr: &str, lp: &UserLoop) -> (TcpClientBuilder, Journal) {
    let journal: Journal = Arc::default();
    let (j1, j2) = (journal.clone(), journal.clone());
    let b = TcpClient::builder(addr)
        .event_loop(lp.handle.clone())
        .on_connection(move |c| {
            let what = if c.is_connected() { "up" } else { "down" };
            j1.lock().unwrap().push(what.into());
        })
        .on_message(move |_c, input| {
            input.retrieve_all();
            j2.lock().unwrap().push("message".into());
        });
    (b, journal)
}

/// Stops `client`, checks that it was prompt and left nothing on the loop, and
/// returns the journal as it was when `stop` returned.
fn stop_and_check(mut client: TcpClient, lp: &UserLoop, journal: &Journal) -> Vec<String> {
    let t = Instant::now();
    client.stop();
    let at_stop = journal.lock().unwrap().clone();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(
        client.connection_count(),
        0,
        "the client still counts a connection"
    );
    assert_eq!(lp.left(), (0, 0), "(connections, timers) left on the loop");
    assert!(client.wait_connected(Duration::ZERO).is_err());
    at_stop
}

/// After `stop` returned, a round trip through the loop shows no new callback.
fn no_callback_after(journal: &Journal, at_stop: &[String], lp: &UserLoop) {
    lp.left();
    assert_eq!(
        journal.lock().unwrap().as_slice(),
        at_stop,
        "a callback ran after stop()"
    );
}

/// A stalling TLS server: its address, the `go` that lets it handshake, the socket it
/// accepted, and its outcome (`Ok` if the handshake failed).
type Stalling = (
    std::net::SocketAddr,
    mpsc::Sender<()>,
    mpsc::Receiver<TcpStream>,
    std::thread::JoinHandle<Result<(), String>>,
);

/// A TLS server (OpenSSL, on a thread) that accepts TCP, then waits for `go` before
/// it handshakes: the client sits in its handshake until then.
fn stalling_tls_server() -> Stalling {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, go_rx) = mpsc::channel();
    let (accepted_tx, accepted_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        b.set_certificate_chain_file(cert("server.crt")).unwrap();
        b.set_private_key_file(cert("server.key"), SslFiletype::PEM)
            .unwrap();
        let acceptor = b.build();
        let (s, _) = listener.accept().map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let _ = accepted_tx.send(s.try_clone().unwrap());
        go_rx.recv_timeout(IO_TIMEOUT).map_err(|e| e.to_string())?;
        match acceptor.accept(s) {
            Ok(mut tls) => {
                // Up on our side; hold it until the client goes.
                let mut buf = [0; 16];
                let _ = tls.read(&mut buf);
                Err("the handshake completed".into())
            }
            Err(_) => Ok(()),
        }
    });
    (addr, go_tx, accepted_rx, t)
}

fn tls() -> TlsConnector {
    TlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .handshake_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The defect: stop() during a TLS handshake left the connection on the loop until
/// the handshake timeout, and a server that finished afterwards got the client's up
/// callback run after stop() returned.
#[test]
fn stop_during_a_tls_handshake_closes_it_and_no_callback_follows() {
    init_logging();
    let lp = UserLoop::new();
    let (addr, go, accepted, server) = stalling_tls_server();
    let (b, journal) = journaled(&addr.to_string(), &lp);
    let client = b
        .retry(RetryPolicy::no_retry())
        .tls(tls().for_host("localhost"))
        .connect()
        .unwrap();
    let mut server_side = accepted.recv_timeout(IO_TIMEOUT).expect("server accepted");
    // The client's side is a connection now (counted), handshaking.
    assert!(wait_until(IO_TIMEOUT, || client.connection_count() == 1));
    let at_stop = stop_and_check(client, &lp, &journal);
    assert!(at_stop.is_empty(), "{at_stop:?}");
    // The client closed its socket: the server reads the ClientHello, then EOF.
    let mut rest = Vec::new();
    server_side
        .read_to_end(&mut rest)
        .expect("EOF, not a read timeout");
    // Now the server tries to finish: it must fail, and the client stay silent.
    go.send(()).unwrap();
    assert_eq!(server.join().unwrap(), Ok(()));
    no_callback_after(&journal, &at_stop, &lp);
}

#[test]
fn stop_while_up_runs_down_before_returning_then_nothing() {
    init_logging();
    let lp = UserLoop::new();
    let server = echo_server(1);
    let (b, journal) = journaled(&server.local_addr().to_string(), &lp);
    let client = b.connect().unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(conn.send(b"x".to_vec()));
    assert!(wait_until(IO_TIMEOUT, || journal.lock().unwrap().len() == 2));
    let at_stop = stop_and_check(client, &lp, &journal);
    assert_eq!(at_stop, ["up", "message", "down"]);
    // A send through the stale handle reaches nothing.
    assert!(!conn.send(b"y".to_vec()));
    no_callback_after(&journal, &at_stop, &lp);
    stop_when_idle(&server);
}

#[test]
fn stop_while_connecting_removes_the_connector_and_its_timer() {
    init_logging();
    let lp = UserLoop::new();
    // A listener whose accept queue is full: further SYNs are dropped, so a connect
    // stays in progress.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let (b, journal) = journaled(&addr.to_string(), &lp);
    let client = b
        .connect_timeout(Duration::from_secs(60))
        .retry(RetryPolicy::no_retry())
        .connect()
        .unwrap();
    // Connecting: a connector and its timeout timer are on the loop.
    assert!(wait_until(IO_TIMEOUT, || lp.left().1 == 1));
    assert_eq!(client.failures(), 0);
    let at_stop = stop_and_check(client, &lp, &journal);
    assert!(at_stop.is_empty());
    drop(fillers);
}

#[test]
fn stop_while_backing_off_and_after_giving_up() {
    init_logging();
    let lp = UserLoop::new();
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (b, journal) = journaled(&refused.to_string(), &lp);
    let client = b
        .retry(RetryPolicy {
            initial_delay: Duration::from_secs(60),
            ..Default::default()
        })
        .connect()
        .unwrap();
    assert!(wait_until(IO_TIMEOUT, || client.failures() == 1));
    // Backing off: the retry timer is on the loop.
    assert_eq!(lp.left(), (0, 1));
    stop_and_check(client, &lp, &journal);

    let (b, journal) = journaled(&refused.to_string(), &lp);
    let client = b.retry(RetryPolicy::no_retry()).connect().unwrap();
    assert!(client.wait_connected(IO_TIMEOUT).is_err());
    assert!(client.gave_up());
    let at_stop = stop_and_check(client, &lp, &journal);
    assert!(at_stop.is_empty());
}

#[test]
fn stop_before_the_first_attempt_starts_nothing() {
    init_logging();
    let lp = UserLoop::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    // A task queued before the client, so the client's first attempt waits behind it:
    // it receives the client and stops it there, on the loop thread, while the
    // client is still idle.
    let (client_tx, client_rx) = mpsc::channel::<TcpClient>();
    let (back_tx, back_rx) = mpsc::channel::<TcpClient>();
    lp.handle.queue_in_loop(move |_| {
        if let Ok(mut client) = client_rx.recv_timeout(IO_TIMEOUT) {
            client.stop();
            let _ = back_tx.send(client);
        }
    });
    let (b, journal) = journaled(&listener.local_addr().unwrap().to_string(), &lp);
    client_tx.send(b.connect().unwrap()).unwrap();
    let client = back_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("stopped on the loop");
    // The first attempt's turn came after the stop: nothing was started.
    assert_eq!(lp.left(), (0, 0));
    assert_eq!(
        listener.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "the stopped client connected"
    );
    let at_stop = stop_and_check(client, &lp, &journal);
    assert!(at_stop.is_empty());
}

#[test]
fn stop_after_a_disconnect_without_reconnect() {
    init_logging();
    let lp = UserLoop::new();
    let server = echo_server(1);
    let (b, journal) = journaled(&server.local_addr().to_string(), &lp);
    let client = b.connect().unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(conn.force_close());
    // Settled without a connection: the wait ends at once with an error.
    assert!(wait_until(IO_TIMEOUT, || client.connection().is_none()));
    assert!(client.wait_connected(IO_TIMEOUT).is_err());
    let at_stop = stop_and_check(client, &lp, &journal);
    assert_eq!(at_stop, ["up", "down"]);
    no_callback_after(&journal, &at_stop, &lp);
    stop_when_idle(&server);
}

#[test]
fn stop_in_the_middle_of_traffic() {
    init_logging();
    let lp = UserLoop::new();
    // A server that pours 32 MiB into every connection.
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_connection(|conn| {
            if conn.is_connected() {
                let chunk = vec![7u8; 1 << 20];
                for _ in 0..32 {
                    conn.send(&chunk);
                }
            }
        })
        .started();
    let (b, journal) = journaled(&server.local_addr().to_string(), &lp);
    let client = b.connect().unwrap();
    // Data is flowing: a few messages arrived.
    assert!(wait_until(IO_TIMEOUT, || journal.lock().unwrap().len() >= 4));
    let at_stop = stop_and_check(client, &lp, &journal);
    assert_eq!(at_stop.first().map(String::as_str), Some("up"));
    assert_eq!(at_stop.last().map(String::as_str), Some("down"));
    no_callback_after(&journal, &at_stop, &lp);
    // The server sees the client gone and releases its side.
    stop_when_idle(&server);
}
