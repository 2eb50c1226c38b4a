//! A user's OpenSSL call that leaves an error on the loop thread's queue must not
//! close another TLS connection on that loop (the first defect of the adversarial
//! review, reproduced the way a user hit it).
//!
//! On rustls the attack has an equivalent, so the test runs on both providers
//! (`name::openssl`, `name::rustls`): rustls returns its errors as values and keeps no
//! thread-local state, but its crypto, AWS-LC (aws-lc-rs), is a BoringSSL fork with the
//! same thread-local error queue, and user code on the loop thread may use OpenSSL
//! too. So the callback leaves an error on both queues (a failed OpenSSL verify and a
//! failed aws-lc-rs signature check), and the other connection must not notice either.
mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;

use common::tls::*;
use common::*;
use openssl::pkey::PKey;
use openssl::ssl::SslStream;
use openssl::x509::X509;

/// A socket whose writes can be held back, so a test decides how one TLS record is cut
/// into TCP segments.
#[derive(Debug)]
struct Segmenting {
    socket: TcpStream,
    held: Option<Vec<u8>>,
}

impl Read for Segmenting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.read(buf)
    }
}

impl Write for Segmenting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.held.as_mut() {
            Some(held) => {
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
            None => self.socket.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush()
    }
}

/// Checks a certificate against the wrong key with the safe API: `Ok(false)`, and an
/// error left on the calling thread's OpenSSL queue.
fn verify_with_wrong_key() -> bool {
    let x509 = X509::from_pem(&std::fs::read(cert("server.crt")).unwrap()).unwrap();
    let other = PKey::private_key_from_pem(&std::fs::read(cert("other.key")).unwrap()).unwrap();
    let wrong = PKey::public_key_from_pem(&other.public_key_to_pem().unwrap()).unwrap();
    x509.verify(&wrong).unwrap_or(false)
}

/// The same from AWS-LC (rustls's crypto): every signature check of rustls's
/// aws-lc-rs provider on a key that is no curve point fails inside AWS-LC, which leaves
/// its error on the calling thread's AWS-LC queue. True if one accepted it.
#[cfg(feature = "rustls")]
fn aws_lc_accepts_garbage() -> bool {
    use net_rustls::rustls::crypto::aws_lc_rs::default_provider;
    let bad_key = [4u8; 65];
    let bad_sig = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
    default_provider()
        .signature_verification_algorithms
        .all
        .iter()
        .any(|alg| alg.verify_signature(&bad_key, b"message", &bad_sig).is_ok())
}

#[cfg(not(feature = "rustls"))]
fn aws_lc_accepts_garbage() -> bool {
    false
}

per_provider!(another_connections_openssl_error_does_not_close_a_healthy_one);
fn another_connections_openssl_error_does_not_close_a_healthy_one(provider: Provider) {
    init_logging();
    let acceptor = provider.acceptor(&ServerOpts::default());
    // One worker: both connections share its thread, and so its error queue.
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .name("shared-queue")
        .threads(1)
        .tls(acceptor)
        .on_message(|conn, input| {
            if input.peek().starts_with(b"verify") {
                // Application code doing its own OpenSSL (and AWS-LC) work in a callback.
                let ok = verify_with_wrong_key() | aws_lc_accepts_garbage();
                conn.send(if ok { b"yes\n" } else { b"no!\n" });
                input.retrieve_all();
            } else {
                conn.send_buffer(input);
            }
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let config = client_config(None);

    let mut a = tls_connect(server.local_addr(), &config);
    let socket = connect(server.local_addr());
    let mut b: SslStream<Segmenting> = config
        .connect("localhost", Segmenting { socket, held: None })
        .expect("handshake of B");
    // B's handshake is over on the server too once an echo came back.
    b.write_all(b"warm-up").unwrap();
    let mut back = [0; 7];
    b.read_exact(&mut back).unwrap();

    // A's callback leaves an error on the worker's queue...
    a.write_all(b"verify").unwrap();
    let mut answer = [0; 4];
    a.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"no!\n");

    // ...then B sends one record in two segments, with a round trip of A's between
    // them so the server reads the halves separately.
    b.get_mut().held = Some(Vec::new());
    let message = payload(3000, 7);
    b.write_all(&message).unwrap();
    let record = b.get_mut().held.take().unwrap();
    let (first, second) = record.split_at(record.len() / 2);
    b.get_mut().socket.write_all(first).unwrap();
    a.write_all(b"verify").unwrap();
    a.read_exact(&mut answer).unwrap();
    b.get_mut().socket.write_all(second).unwrap();

    let mut echoed = vec![0; message.len()];
    b.read_exact(&mut echoed).unwrap_or_else(|e| {
        panic!("{provider:?}: B's echo: the server must not close B for A's errors: {e}")
    });
    assert_eq!(echoed, message);
    assert!(
        wait_for_log(std::time::Duration::from_millis(1), |l| l.contains("ASN1")).is_none(),
        "somebody else's OpenSSL error was logged as a connection's failure"
    );
    drop((a, b));
    stop_when_idle(&server);
}
