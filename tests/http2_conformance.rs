//! RFC 9113 conformance cases that h2 0.4.20 answered wrongly and the vendored h2
//! fixes (vendor/h2/MUON.md), from a raw client (Python's `h2` package,
//! tests/h2/client.py) over h2c and over TLS with ALPN `h2` on both providers: each
//! gets the exact error code the RFC names, and a well-behaved client on another
//! connection is served meanwhile. httpwg-cli runs the whole suite (.ci/httpwg.sh).

mod common;

use std::process::Command;
use std::time::Duration;

use common::tls::{cert, Provider, ServerOpts, PROVIDERS};
use common::{stop_when_idle, BuilderExt};
use muon::http::{HttpService, Limits, Reply, Response, Router};

const PROTOCOL_ERROR: u32 = 0x1;
const COMPRESSION_ERROR: u32 = 0x9;
const NO_ERROR: u32 = 0x0;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/client.py");

/// How the client reaches the server.
#[derive(Debug, Clone, Copy)]
enum Transport {
    /// Cleartext with prior knowledge.
    H2c,
    /// TLS with ALPN `h2`.
    Tls(Provider),
}

/// h2c, then TLS with every provider of this build.
fn transports() -> Vec<Transport> {
    std::iter::once(Transport::H2c)
        .chain(PROVIDERS.iter().map(|&p| Transport::Tls(p)))
        .collect()
}

fn app() -> Router {
    Router::new()
        .get("/", |_r, _c| Response::text("root\n").into())
        .post("/echo", |mut r, _c| {
            Response::new(200).body(r.take_body()).into()
        })
        .get("/later", |_r, ctx| {
            let responder = ctx.responder();
            std::thread::spawn(move || responder.respond(Response::text("later\n")));
            Reply::Later
        })
}

fn server(transport: Transport, limits: Limits) -> muon::ServerHandle {
    let builder = muon::TcpServer::builder("127.0.0.1:0")
        .name("h2-conformance")
        .threads(2);
    let builder = match transport {
        Transport::H2c => builder,
        Transport::Tls(provider) => builder.tls(provider.acceptor(&ServerOpts {
            alpn: muon::http::ALPN_H2_HTTP11.to_vec(),
            ..ServerOpts::default()
        })),
    };
    HttpService::new(app())
        .limits(limits)
        .install(builder)
        .started()
}

/// Runs scenario `name` of tests/h2/client.py with `args`; its JSON report.
fn scenario(
    server: &muon::ServerHandle,
    transport: Transport,
    name: &str,
    args: &[&str],
) -> String {
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "python3", SCRIPT])
        .arg(server.local_addr().port().to_string())
        .arg(name)
        .args(args);
    if let Transport::Tls(_) = transport {
        cmd.env("H2_TLS_CA", cert("ca.crt"));
    }
    let out = cmd.output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{transport:?}: scenario {name} {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cases` while a well-behaved client makes 200 requests on its own connection
/// to the same server; asserts that all 200 were answered.
fn with_steady_client(server: &muon::ServerHandle, transport: Transport, cases: impl FnOnce()) {
    let steady = {
        let server = server.clone();
        std::thread::spawn(move || scenario(&server, transport, "steady", &[]))
    };
    cases();
    let steady = steady.join().expect("the steady client");
    assert!(
        steady.contains(r#"{"ok": 200}"#),
        "{transport:?}: the other client: {steady}"
    );
}

/// The GOAWAYs a report lists, as (last stream id, error code).
fn goaways(report: &str) -> Vec<(u32, u32)> {
    let rest = report
        .split(r#""goaways": ["#)
        .nth(1)
        .unwrap_or_else(|| panic!("no goaways in {report}"));
    if rest.starts_with(']') {
        return Vec::new();
    }
    let list = rest.split("]]").next().unwrap_or_default();
    list.split("], [")
        .map(|pair| {
            let mut n = pair
                .trim_matches(|c| c == '[' || c == ']')
                .split(", ")
                .map(|v| v.parse::<u32>().expect("a number"));
            (n.next().unwrap(), n.next().unwrap())
        })
        .collect()
}

fn have_python_h2() -> bool {
    common::python_module("h2", "h2")
}

/// RFC 9113 §4.3: a field block that cannot be decompressed (truncated, an index in
/// no table, bad Huffman padding, a table size update over the limit), in a HEADERS
/// frame or in the CONTINUATION that ends the block, is a connection error of type
/// COMPRESSION_ERROR (h2 0.4.20 said PROTOCOL_ERROR).
#[test]
fn undecodable_field_blocks_get_goaway_compression_error() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let cases: &[&[&str]] = &[
        &["truncated"],
        &["index_zero"],
        &["index_past_tables"],
        &["huffman_padding"],
        &["table_size_over_limit"],
        &["truncated", "continuation"],
        &["index_zero", "continuation"],
    ];
    for transport in transports() {
        let s = server(transport, Limits::default());
        with_steady_client(&s, transport, || {
            for &case in cases {
                let r = scenario(&s, transport, "bad_hpack", case);
                assert_eq!(
                    goaways(&r).last().map(|g| g.1),
                    Some(COMPRESSION_ERROR),
                    "{transport:?} {case:?}: {r}"
                );
                assert!(
                    r.contains(r#""closed": true"#),
                    "{transport:?} {case:?}: {r}"
                );
                assert!(!r.contains(r#""1": 200"#), "{transport:?} {case:?}: {r}");
            }
        });
        stop_when_idle(&s);
    }
}

/// RFC 9113 §8.1: pseudo-header fields MUST NOT appear in a trailer section; the
/// request is malformed, a stream error of type PROTOCOL_ERROR (§8.1.1), and the
/// connection goes on. h2 0.4.20 dropped the pseudo-header and served the request.
#[test]
fn a_pseudo_header_in_trailers_resets_the_stream_with_protocol_error() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    for transport in transports() {
        let s = server(transport, Limits::default());
        with_steady_client(&s, transport, || {
            for name in [":method", ":path", ":status", ":scheme"] {
                let r = scenario(&s, transport, "pseudo_in_trailers", &[name]);
                let reset = format!(r#""resets": {{"1": {PROTOCOL_ERROR}}}"#);
                assert!(r.contains(&reset), "{transport:?} {name}: {r}");
                assert!(
                    r.contains(r#""statuses": {"3": 200}"#),
                    "{transport:?} {name}: stream 1 must not be served, stream 3 must: {r}"
                );
                assert_eq!(goaways(&r), [], "{transport:?} {name}: {r}");
            }
        });
        stop_when_idle(&s);
    }
}

/// RFC 9113 §6.8 and §7: a client's GOAWAY with an unknown error code triggers nothing
/// special: the request in flight is answered, and so are PINGs sent after the answer,
/// with no GOAWAY from the server; when the client ends its side, the server closes.
/// h2 0.4.20 closed the connection as soon as it was idle after the client's GOAWAY,
/// so a PING arriving in a later read went unanswered.
#[test]
fn a_client_goaway_with_an_unknown_code_leaves_the_connection_serving() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    for transport in transports() {
        let s = server(transport, Limits::default());
        with_steady_client(&s, transport, || {
            let r = scenario(&s, transport, "goaway_then_ping", &[]);
            assert!(
                r.contains(r#""statuses": {"1": 200}"#),
                "{transport:?}: {r}"
            );
            assert!(r.contains(r#""pongs_before_eof": 2"#), "{transport:?}: {r}");
            assert!(
                r.contains(r#""goaways_before_eof": 0"#),
                "{transport:?}: {r}"
            );
            assert!(r.contains(r#""closed": true"#), "{transport:?}: {r}");
            assert!(r.contains(r#""timed_out": false"#), "{transport:?}: {r}");
        });
        stop_when_idle(&s);
    }
}

/// The connection a client keeps after its GOAWAY is bounded as any idle one: the
/// server's idle deadline sends GOAWAY (NO_ERROR) and closes it.
#[test]
fn a_silent_client_after_its_goaway_is_closed_at_the_idle_deadline() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let limits = Limits {
        keep_alive_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    for transport in transports() {
        let s = server(transport, limits.clone());
        let r = scenario(&s, transport, "goaway_then_idle", &[]);
        assert!(
            r.contains(r#""statuses": {"1": 200}"#),
            "{transport:?}: {r}"
        );
        assert!(!goaways(&r).is_empty(), "{transport:?}: {r}");
        assert!(
            goaways(&r).iter().all(|&(_, code)| code == NO_ERROR),
            "{transport:?}: {r}"
        );
        assert!(r.contains(r#""closed": true"#), "{transport:?}: {r}");
        assert!(r.contains(r#""timed_out": false"#), "{transport:?}: {r}");
        stop_when_idle(&s);
    }
}
