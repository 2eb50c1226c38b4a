//! Failures: garbage, bad configuration, use after failure, error values.
mod common;

use std::time::Duration;

use common::{acceptor, cert, connector, peer, Pair};
use net::{Buffer, Layer, LayerFactory, LayerRead};
use net_ssl::{TlsAcceptor, TlsError};

#[test]
fn garbage_input_is_an_error_with_openssl_reason() {
    let acc = acceptor().build().unwrap();
    let mut layer = acc.new_layer(peer()).unwrap();
    let (mut wire_in, mut plain, mut wire_out) = (Buffer::new(), Buffer::new(), Buffer::new());
    wire_in.append(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let err = layer
        .read(&mut wire_in, &mut plain, &mut wire_out, false)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SSL routines"), "{text}");
    assert!(text.contains("http request"), "{text}");
    assert!(text.contains("127.0.0.1:4433"), "{text}");
    assert!(!text.contains('\n'));

    // The error value carries OpenSSL's stack.
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<TlsError>())
        .unwrap();
    assert!(tls.error_stack().is_some_and(|s| !s.errors().is_empty()));
    assert!(tls.ssl_error().is_some());

    // After a failure: no more OpenSSL I/O, no close_notify.
    wire_in.append(&[0x16, 3, 1, 0, 1, 0]);
    assert!(layer
        .read(&mut wire_in, &mut plain, &mut wire_out, false)
        .is_err());
    assert!(layer.write(b"x", &mut wire_out).is_err());
    let before = wire_out.readable_bytes();
    layer.close(&mut wire_out).unwrap();
    assert_eq!(wire_out.readable_bytes(), before);
}

#[test]
fn garbage_after_handshake_is_an_error() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    p.server.wire_in.append(&[0x17, 3, 3, 0, 40]);
    p.server.wire_in.append(&[0xAA; 40]);
    let err = p.server.read(false).unwrap_err();
    assert!(err.to_string().contains("read failed"), "{err}");
    assert!(err.to_string().contains("SSL routines"), "{err}");
}

#[test]
fn mismatched_key_names_both_files() {
    let err = TlsAcceptor::from_pem_files(cert("server.crt"), cert("other.key")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("server.crt") && text.contains("other.key"),
        "{text}"
    );
    assert!(text.contains("does not match"), "{text}");

    let err = net_ssl::TlsConnector::builder()
        .client_cert(cert("client.crt"), cert("server.key"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client.crt"), "{err}");
}

#[test]
fn missing_and_malformed_files() {
    let err = TlsAcceptor::from_pem_files(cert("missing.crt"), cert("server.key")).unwrap_err();
    assert!(err.to_string().contains("missing.crt"), "{err}");
    let err = TlsAcceptor::from_pem_files(cert("server.key"), cert("server.key")).unwrap_err();
    assert!(err.to_string().contains("server.key"), "{err}");
    let err = TlsAcceptor::from_pem(b"not pem", b"not pem").unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let err = acceptor()
        .sni_certificate("x.test", cert("other.crt"), cert("server.key"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("other.crt"), "{err}");
}

#[test]
fn bad_options_are_errors() {
    let err = acceptor()
        .min_protocol(net_ssl::TlsVersion::Tls13)
        .max_protocol(net_ssl::TlsVersion::Tls12)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("minimum protocol"), "{err}");
    let long = "x".repeat(300);
    assert!(acceptor().alpn_protocols(&[&long]).build().is_err());
    assert!(connector().alpn_protocols(&[""]).build().is_err());
}

#[test]
fn io_error_conversion() {
    let io: std::io::Error = TlsError::msg("boom").into();
    assert_eq!(io.kind(), std::io::ErrorKind::Other);
    assert!(io.get_ref().is_some_and(|e| e.is::<TlsError>()));
}

#[test]
fn handshake_timeouts() {
    let acc = acceptor().build().unwrap();
    assert_eq!(acc.handshake_timeout(), Some(Duration::from_secs(10)));
    let acc = acceptor()
        .handshake_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    assert_eq!(acc.handshake_timeout(), Some(Duration::from_millis(1500)));
    let con = connector()
        .handshake_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(
        con.for_host("localhost").handshake_timeout(),
        Some(Duration::from_secs(3))
    );
}

struct Plain;

impl Layer for Plain {
    fn start(&mut self, _: &mut Buffer) -> std::io::Result<()> {
        Ok(())
    }
    fn read(
        &mut self,
        _: &mut Buffer,
        _: &mut Buffer,
        _: &mut Buffer,
        _: bool,
    ) -> std::io::Result<LayerRead> {
        Ok(LayerRead::default())
    }
    fn write(&mut self, _: &[u8], _: &mut Buffer) -> std::io::Result<()> {
        Ok(())
    }
    fn close(&mut self, _: &mut Buffer) -> std::io::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn tls_layer_downcast() {
    let other: Box<dyn Layer> = Box::new(Plain);
    assert!(net_ssl::TlsLayer::of(other.as_ref()).is_none());
    let acc = acceptor().build().unwrap();
    let tls = acc.new_layer(peer()).unwrap();
    let tls = net_ssl::TlsLayer::of(tls.as_ref());
    assert!(tls.is_some_and(|t| !t.is_client()));
    assert_eq!(tls.and_then(|t| t.peer_addr()), Some(peer()));
}
