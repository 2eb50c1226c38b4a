//! TLS helpers for the integration tests: certificates, servers and a blocking client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use net_ssl::{TlsAcceptor, TlsAcceptorBuilder};
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVersion};

use super::{connect, BuilderExt, IO_TIMEOUT};

/// The development certificate `name` from the repository's `certs/` (found from the
/// package being tested: the root package, or a member such as `net-http`).
pub fn cert(name: &str) -> String {
    let mut dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("certs").join(name);
        if candidate.exists() {
            return candidate.display().to_string();
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => panic!("no certs/{name} above {}", env!("CARGO_MANIFEST_DIR")),
        }
    }
}

pub fn acceptor_builder() -> TlsAcceptorBuilder {
    TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
}

/// A TLS echo server with `threads` workers.
pub fn tls_echo_server(acceptor: TlsAcceptor, threads: usize) -> net::ServerHandle {
    net::TcpServer::builder("127.0.0.1:0")
        .name("tls-echo")
        .threads(threads)
        .tls(acceptor)
        .echo()
        .started()
}

/// A blocking OpenSSL client that trusts the development CA.
pub fn client_config(version: Option<SslVersion>) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    if let Some(v) = version {
        b.set_min_proto_version(Some(v)).unwrap();
        b.set_max_proto_version(Some(v)).unwrap();
    }
    b.build()
}

pub fn tls_connect(addr: SocketAddr, config: &SslConnector) -> SslStream<TcpStream> {
    config
        .connect("localhost", connect(addr))
        .expect("TLS handshake")
}

/// Echoes `data` in 64 KiB steps (write a step, read it back), so neither side's
/// buffers can fill up while the other waits.
pub fn tls_echo(stream: &mut SslStream<TcpStream>, data: &[u8]) -> Vec<u8> {
    let mut back = Vec::with_capacity(data.len());
    for chunk in data.chunks(64 * 1024) {
        stream.write_all(chunk).expect("tls write");
        let mut got = vec![0; chunk.len()];
        stream.read_exact(&mut got).expect("tls read");
        back.extend_from_slice(&got);
    }
    back
}

pub fn io_timeout() -> std::time::Duration {
    IO_TIMEOUT
}
