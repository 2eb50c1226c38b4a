//! A connect that fails is the caller's error (`wait_connected` returns it) and the
//! library logs it once, below ERROR: an application that reports it is not doubled
//! by a louder line of the library's.

mod common;

use common::*;
use muon::{RetryPolicy, TcpClient};

#[test]
fn a_refused_connect_is_returned_and_logged_once_below_error() {
    init_logging();
    // Bound but not listening: connecting is refused, and the port stays ours.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let client = TcpClient::builder(&addr.to_string())
        .name("refused-client")
        .retry(RetryPolicy::no_retry())
        .connect()
        .unwrap();
    let err = client.wait_connected(IO_TIMEOUT).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let line = wait_for_log(IO_TIMEOUT, |l| l.contains("refused-client: giving up"))
        .expect("the failure is logged");
    assert!(line.starts_with("INFO"), "{line}");
    let lines = common::logged_lines(|l| l.contains("refused-client"));
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    drop(client);
}
