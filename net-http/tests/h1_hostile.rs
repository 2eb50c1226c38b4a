//! Hostile or careless HTTP peers: a reset at every byte of a pipelined exchange
//! (with answers still pending on threads), and a half-close right after the requests.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::http::{get, http_server, Client};
use common::stop_when_idle;
use net_http::{Limits, Reply, Response, Router};

fn app() -> Router {
    common::http::root_and_echo().get("/later", |_r, ctx| {
        let responder = ctx.responder();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            responder.respond(Response::text("later\n"));
        });
        Reply::Later
    })
}

#[test]
fn a_reset_at_any_byte_leaves_the_server_serving() {
    common::init_logging();
    let server = http_server(app(), Limits::default(), 2);
    let wire = [
        get("/later"),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(),
        get("/"),
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n".to_vec(),
    ]
    .concat();
    for cut in (0..=wire.len()).step_by(3) {
        let mut c = Client::new(server.local_addr());
        c.send(&wire[..cut]);
        common::reset(&c.stream);
        drop(c);
    }
    let mut ok = Client::new(server.local_addr());
    ok.send(&get("/later"));
    assert_eq!(ok.response().text(), "later\n");
    drop(ok);
    stop_when_idle(&server);
}

#[test]
fn a_half_close_after_pipelined_requests_still_gets_every_answer() {
    let server = http_server(app(), Limits::default(), 1);
    let mut c = Client::new(server.local_addr());
    // More than the pipelining limit, some answered late, then our FIN.
    let requests: Vec<u8> = (0..40)
        .flat_map(|i| if i % 4 == 0 { get("/later") } else { get("/") })
        .collect();
    c.send(&requests);
    common::half_close(&c.stream);
    for i in 0..40 {
        let want = if i % 4 == 0 { "later\n" } else { "root\n" };
        assert_eq!(c.response().text(), want, "response {i}");
    }
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}
