//! HTTP/2 attacks and malformed requests from a raw client (Python's `h2` package,
//! tests/h2/client.py): each attacked connection gets the right GOAWAY or
//! RST_STREAM, its memory stays bounded, and other connections are served meanwhile.

mod common;

use std::process::Command;

use common::{stop_when_idle, BuilderExt};
use muon::http::{HttpService, Limits, Response, Router};

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
        .get("/big", |_r, _c| {
            let mut left = 64u32;
            Response::new(200)
                .stream(None, move || {
                    left = left.checked_sub(1)?;
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
    let ok = Command::new("python3")
        .args(["-c", "import h2"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python3 with the `h2` package is required (pip install h2)");
        }
        eprintln!("SKIPPED: python3 `h2` package not installed (pip install h2)");
    }
    ok
}

/// Runs a scenario of tests/h2/client.py against `server`; its JSON report.
fn scenario(server: &muon::ServerHandle, name: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/client.py");
    let out = Command::new("timeout")
        .args(["60", "python3", script])
        .arg(server.local_addr().port().to_string())
        .arg(name)
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
