//! HTTP/2 attacks and malformed requests from a raw client (Python's `h2` package,
//! tests/h2/client.py): each attacked connection gets the right GOAWAY or
//! RST_STREAM, its memory stays bounded, and other connections are served meanwhile.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{stop_when_idle, BuilderExt};
use muon::http::{HttpService, Limits, Response, Router};

thread_local! {
    static HELD: std::cell::RefCell<Vec<muon::http::Responder>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Chunks pulled from `/big`'s body source.
static PULLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn app() -> Router {
    Router::new()
        .get("/", |_r, _c| Response::text("root\n").into())
        .post("/echo", |mut r, _c| {
            Response::new(200).body(r.take_body()).into()
        })
        .get("/trailers", |_r, _c| {
            Response::text("with trailers\n")
                .trailer("grpc-status", "0")
                .into()
        })
        .get("/later", |_r, ctx| {
            let responder = ctx.responder();
            std::thread::spawn(move || responder.respond(Response::text("later\n")));
            muon::http::Reply::Later
        })
        .get("/hold", |_r, ctx| {
            // Never answered while the connection lives (dropped with it).
            HELD.with(|h| h.borrow_mut().push(ctx.responder()));
            muon::http::Reply::Later
        })
        .get("/big", |_r, _c| {
            // 64 chunks of 64 KiB; each pull counted.
            let mut left = 64u32;
            Response::new(200)
                .stream(None, move || {
                    left = left.checked_sub(1)?;
                    PULLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Some(vec![b'x'; 64 * 1024])
                })
                .into()
        })
}

fn server(limits: Limits) -> muon::ServerHandle {
    HttpService::new(app())
        .limits(limits)
        .install(
            muon::TcpServer::builder("127.0.0.1:0")
                .name("h2-hostile")
                .threads(2),
        )
        .started()
}

/// Whether Python's `h2` is importable; in CI it must be (.ci/run installs it).
fn have_python_h2() -> bool {
    common::python_module("h2", "h2")
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/client.py");

/// Runs a scenario of tests/h2/client.py against `server`; its JSON report.
fn scenario(server: &muon::ServerHandle, name: &str) -> String {
    scenario_with(server, name, &[])
}

fn scenario_with(server: &muon::ServerHandle, name: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["60", "python3", SCRIPT])
        .arg(server.local_addr().port().to_string())
        .arg(name)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "scenario {name} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn trailers_follow_the_body() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = scenario(&s, "trailers");
    assert!(
        r.contains(r#""trailers": {"1": {"grpc-status": "0"}}"#),
        "{r}"
    );
    assert!(r.contains(r#""bodies": {"1": 14}"#), "{r}");
    stop_when_idle(&s);
}

/// The server's graceful stop with a request in flight: the client gets GOAWAY
/// (NO_ERROR, last stream id 1) first, then the answer to its request, then the close;
/// the stop returns once that connection is done.
#[test]
fn drain_sends_goaway_then_finishes_the_stream_in_flight() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let held: Arc<Mutex<Option<muon::http::Responder>>> = Arc::default();
    let slot = held.clone();
    let router = app().get("/hold", move |_r, ctx| {
        *slot.lock().unwrap() = Some(ctx.responder());
        muon::http::Reply::Later
    });
    let s = HttpService::new(router)
        .install(
            muon::TcpServer::builder("127.0.0.1:0")
                .name("h2-drain")
                .threads(1)
                .stop_timeout(Duration::from_secs(10)),
        )
        .started();
    let mut child = Command::new("timeout")
        .args(["60", "python3", SCRIPT])
        .arg(s.local_addr().port().to_string())
        .arg("drain")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line from the client").unwrap();
    assert_eq!(next(), "sent");
    assert!(
        common::wait_until(Duration::from_secs(10), || held.lock().unwrap().is_some()),
        "the request never reached its handler"
    );
    let stopper = {
        let s = s.clone();
        std::thread::spawn(move || s.stop())
    };
    // GOAWAY arrives while the request is still unanswered.
    assert_eq!(next(), "goaway");
    let responder = held.lock().unwrap().take().unwrap();
    assert!(responder.respond(Response::text("finished\n")));
    let mut report = next();
    // h2 announces a graceful GOAWAY twice: 2^31-1 first, then the real last stream.
    if report == "goaway" {
        report = next();
    }
    assert!(child.wait().unwrap().success());
    assert!(
        report.contains(r#""goaways": [[2147483647, 0], [1, 0]]"#),
        "{report}"
    );
    assert!(report.contains(r#""statuses": {"1": 200}"#), "{report}");
    assert!(report.contains(r#""body": {"1": 9}"#), "{report}");
    assert!(report.contains(r#""ended": [1]"#), "{report}");
    assert!(report.contains(r#""closed": true"#), "{report}");
    assert!(stopper.join().unwrap(), "the stop did not complete");
}

/// Runs attack `name` while a well-behaved client makes 200 requests on its own
/// connection; asserts that one got all 200 answered. The attack's report.
fn attack(server: &muon::ServerHandle, name: &str, args: &[&str]) -> String {
    let steady = {
        let port = server.local_addr().port().to_string();
        std::thread::spawn(move || {
            let out = Command::new("timeout")
                .args(["60", "python3", SCRIPT, &port, "steady"])
                .output()
                .expect("run python3");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let report = scenario_with(server, name, args);
    let steady = steady.join().unwrap();
    assert!(
        steady.contains(r#"{"ok": 200}"#),
        "the other client during {name}: {steady}"
    );
    report
}

/// The last GOAWAY's error code in a report, if any.
fn last_goaway(report: &str) -> Option<u32> {
    let list = report.split(r#""goaways": ["#).nth(1)?.split("]]").next()?;
    list.rsplit(", ").next()?.trim_end_matches(']').parse().ok()
}

const ENHANCE_YOUR_CALM: u32 = 11;
const PROTOCOL_ERROR: u32 = 1;

#[test]
fn rapid_reset_gets_goaway_enhance_your_calm() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = attack(&s, "rapid_reset", &[]);
    assert_eq!(last_goaway(&r), Some(ENHANCE_YOUR_CALM), "{r}");
    stop_when_idle(&s);
}

#[test]
fn continuation_flood_gets_goaway() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = attack(&s, "continuation_flood", &[]);
    assert_eq!(last_goaway(&r), Some(ENHANCE_YOUR_CALM), "{r}");
    stop_when_idle(&s);
}

#[test]
fn hpack_bomb_gets_goaway() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = attack(&s, "hpack_bomb", &[]);
    // The first request (one 4 KB field) is served; the block that decodes to 16 MB
    // ends the connection.
    assert!(r.contains(r#""statuses": {"1": 200}"#), "{r}");
    assert_eq!(last_goaway(&r), Some(ENHANCE_YOUR_CALM), "{r}");
    assert!(!r.contains(r#""3": 200"#), "{r}");
    stop_when_idle(&s);
}

#[test]
fn settings_ping_and_empty_data_floods_get_goaway_enhance_your_calm() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    for flood in ["settings_flood", "ping_flood", "empty_data_flood"] {
        let r = attack(&s, flood, &[]);
        assert_eq!(last_goaway(&r), Some(ENHANCE_YOUR_CALM), "{flood}: {r}");
    }
    stop_when_idle(&s);
}

#[test]
fn too_many_concurrent_streams_are_refused() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = attack(&s, "too_many_streams", &[]);
    // 100 streams are held open; the 101st (id 201) gets REFUSED_STREAM (7).
    assert!(r.contains(r#""resets": {"201": 7}"#), "{r}");
    assert_eq!(last_goaway(&r), None, "{r}");
    stop_when_idle(&s);
}

#[test]
fn malformed_requests_are_reset_with_protocol_error() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    for case in [
        "connection_header",
        "transfer_encoding",
        "pseudo_after_regular",
        "missing_path",
        "te_not_trailers",
        "response_pseudo",
        "content_length_over_data",
        "content_length_under_data",
    ] {
        let r = scenario_with(&s, "invalid", &[case]);
        // Stream 1 reset with PROTOCOL_ERROR; the connection goes on (stream 3 served).
        assert!(r.contains(r#""resets": {"1": 1}"#), "{case}: {r}");
        assert!(r.contains(r#""statuses": {"3": 200}"#), "{case}: {r}");
    }
    // An uppercase field name fails HPACK validation in h2: the whole connection ends
    // with PROTOCOL_ERROR (RFC 9113 allows treating it as a connection error).
    let r = scenario_with(&s, "invalid", &["uppercase_name"]);
    assert_eq!(last_goaway(&r), Some(PROTOCOL_ERROR), "{r}");
    stop_when_idle(&s);
}

#[test]
fn a_peer_that_never_opens_its_window_pins_one_chunk() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    PULLS.store(0, std::sync::atomic::Ordering::SeqCst);
    let mut child = Command::new("timeout")
        .args(["60", "python3", SCRIPT])
        .arg(s.local_addr().port().to_string())
        .arg("no_window")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().expect("a line").unwrap(), "pinged");
    // 50 wake-ups with the window shut: the source gave one 64 KiB chunk, which waits
    // for the window; the other 63 stay unpulled.
    let pulled = PULLS.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(pulled, 1, "chunks pulled while the peer's window is shut");
    drop(child.stdin.take());
    let report = lines.next().expect("the report").unwrap();
    assert!(child.wait().unwrap().success());
    assert!(report.contains(r#""statuses": {"1": 200}"#), "{report}");
    assert!(
        !report.contains(r#""body": {"1""#),
        "no DATA with a zero window: {report}"
    );
    stop_when_idle(&s);
}

#[test]
fn body_over_max_body_bytes_is_413() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    });
    let r = scenario(&s, "oversized_bodies");
    // By content-length, and by DATA without one.
    assert!(
        r.contains(r#""statuses": {"1": 413, "3": 413, "5": 200}"#),
        "{r}"
    );
    stop_when_idle(&s);
}

#[test]
fn headers_over_max_header_bytes_are_refused() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = scenario(&s, "big_headers");
    // A 20 KB field list (over 16 KiB): refused with 431, and the connection goes on.
    assert!(r.contains(r#""1": 431"#), "{r}");
    assert!(r.contains(r#""3": 200"#), "{r}");
    stop_when_idle(&s);
}

/// A client that uploads exactly its stream window and then waits: the server returns
/// the window (WINDOW_UPDATE) once its codec has read the bytes, with no further event
/// from the client, and the upload completes.
#[test]
fn the_window_comes_back_once_the_body_is_read() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = scenario(&s, "window_refill");
    assert!(!r.contains(r#""updates": 0"#), "{r}");
    assert!(r.contains(r#""timed_out": false"#), "{r}");
    assert!(r.contains(r#""statuses": {"1": 200}"#), "{r}");
    assert!(
        r.contains(&format!(r#""body": {{"1": {}}}"#, 256 * 1024 + 10)),
        "{r}"
    );
    stop_when_idle(&s);
}

/// A reset at every step of an exchange (after the preface, mid-header-block, with 20
/// answers pending on threads, mid-upload, mid-download, with a held request), twice:
/// the server drops each connection, answers arriving later go nowhere, and a client on
/// another connection gets all its answers meanwhile; nothing stays open.
#[test]
fn resets_at_every_step_leave_the_server_serving() {
    common::init_logging();
    if !have_python_h2() {
        return;
    }
    let s = server(Limits::default());
    let r = attack(&s, "reset_mid_stream", &[]);
    assert!(r.contains(r#"{"reset": 12}"#), "{r}");
    stop_when_idle(&s);
}
