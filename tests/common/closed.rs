//! "The server closed this connection", checked so that it can fail: the peer must see
//! an EOF or a reset within a bound. A read that times out means the connection is
//! still open, and that is a test failure, never a "closed".
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;

use super::IO_TIMEOUT;

/// How long a close the server decided on may take to reach the peer: a close is
/// immediate on loopback, so this only absorbs a loaded machine, and a missing close
/// fails in seconds instead of after `IO_TIMEOUT`.
pub const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// How the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// An orderly EOF (for TLS: close_notify, or a TCP EOF without it).
    Eof,
    /// A reset (`ECONNRESET`, `ECONNABORTED`, `EPIPE`).
    Reset,
    /// The TLS layer reported a protocol failure (an alert from the server).
    TlsAlert(String),
}

/// What arrived before the end, and the end.
#[derive(Debug)]
pub struct Closed {
    /// The bytes read before the end.
    pub bytes: Vec<u8>,
    /// How it ended.
    pub ending: Ending,
}

/// Reads `stream` (whose socket is `socket`) until it ends; panics with `what` if it
/// is still open after `within`, or on any read error that is not an end.
pub fn read_until_closed(
    stream: &mut impl Read,
    socket: &TcpStream,
    within: Duration,
    what: &str,
) -> Closed {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut buf = [0; 16 * 1024];
    let ending = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: still open after {within:?} ({} bytes read): not closed",
            bytes.len()
        );
        socket
            .set_read_timeout(Some(left))
            .expect("set_read_timeout");
        match stream.read(&mut buf) {
            Ok(0) => break Ending::Eof,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
                "{what}: still open after {within:?} ({} bytes read): not closed",
                bytes.len()
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                break Ending::Reset
            }
            Err(e) => match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<openssl::ssl::Error>())
            {
                Some(tls) => break Ending::TlsAlert(tls.to_string()),
                None => panic!("{what}: read failed with {e} ({:?}), not a close", e.kind()),
            },
        }
    };
    socket
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("set_read_timeout");
    Closed { bytes, ending }
}

/// A plain connection closed by the server within [`CLOSE_WITHIN`] (EOF or reset);
/// returns the bytes that came before the close.
pub fn expect_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let socket = stream.try_clone().expect("clone");
    let closed = read_until_closed(stream, &socket, CLOSE_WITHIN, what);
    assert!(
        matches!(closed.ending, Ending::Eof | Ending::Reset),
        "{what}: {closed:?}"
    );
    closed.bytes
}

/// A TLS connection closed by the server within [`CLOSE_WITHIN`]: EOF, reset, or an
/// alert that ends it; returns the application bytes that came before the close.
pub fn expect_tls_closed(stream: &mut SslStream<TcpStream>, what: &str) -> Vec<u8> {
    let socket = stream.get_ref().try_clone().expect("clone");
    read_until_closed(stream, &socket, CLOSE_WITHIN, what).bytes
}
