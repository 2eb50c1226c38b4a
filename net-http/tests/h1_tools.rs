//! Foreign HTTP clients against the server: curl (plain and HTTPS with the dev CA,
//! ALPN offering h2 and http/1.1) and Python's `http.client`.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::http::http_server;
use common::tls::cert;
use common::{stop_when_idle, BuilderExt};
use net_http::{HttpService, Limits, Router};

fn app() -> Router {
    common::http::root_and_echo()
}

fn https_server() -> net::ServerHandle {
    let tls = net_ssl::TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
        .alpn_protocols(&[net_http::ALPN_HTTP11])
        .build()
        .unwrap();
    HttpService::new(app())
        .install(net::TcpServer::builder("127.0.0.1:0").threads(2).tls(tls))
        .started()
}

/// Runs curl with `args`; returns (stdout, stderr) and asserts success.
fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "curl {args:?} failed: {stderr}");
    (stdout, stderr)
}

fn curl_session(base: &str, extra: &[&str]) {
    // Two GETs on one command line: the second must reuse the connection.
    let url = format!("{base}/");
    let (body, log) = curl(&[extra, &["-v", &url, &url]].concat());
    assert_eq!(body, "root\nroot\n");
    assert!(log.contains("Re-using existing connection"), "{log}");
    let (body, _) = curl(
        &[
            extra,
            &["--data-binary", "hello from curl", &format!("{base}/echo")],
        ]
        .concat(),
    );
    assert_eq!(body, "hello from curl");
    // A chunked upload of 200 KB, with Expect: 100-continue.
    // One file per session: the plain and HTTPS tests run at once, and a shared file
    // removed by one while the other's curl still reads it truncated the upload (the
    // server then waited for the rest and answered 408).
    let scheme = base.split(':').next().unwrap_or("http");
    let file =
        std::env::temp_dir().join(format!("muon-http-upload-{}-{scheme}", std::process::id()));
    let data = common::payload(200_000, 7)
        .iter()
        .map(|b| b'a' + b % 26)
        .collect::<Vec<u8>>();
    std::fs::write(&file, &data).unwrap();
    let upload = format!("@{}", file.display());
    let (body, log) = curl(
        &[
            extra,
            &[
                "-v",
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                &upload,
                &format!("{base}/echo"),
            ],
        ]
        .concat(),
    );
    std::fs::remove_file(&file).ok();
    assert!(log.contains("HTTP/1.1 100 Continue"), "{log}");
    assert!(log.contains("Transfer-Encoding: chunked"), "{log}");
    assert_eq!(body.as_bytes(), &data[..]);
}

#[test]
fn curl_plain_get_post_chunked_upload_and_keep_alive() {
    if common::require_tool("curl", "curl").is_none() {
        return;
    }
    let server = http_server(app(), Limits::default(), 2);
    curl_session(&format!("http://{}", server.local_addr()), &[]);
    stop_when_idle(&server);
}

#[test]
fn curl_https_with_the_dev_ca_negotiates_http_11_by_alpn() {
    if common::require_tool("curl", "curl").is_none() {
        return;
    }
    let server = https_server();
    let base = format!("https://localhost:{}", server.local_addr().port());
    let resolve = format!("localhost:{}:127.0.0.1", server.local_addr().port());
    let ca = cert("ca.crt");
    let extra = ["--cacert", ca.as_str(), "--resolve", resolve.as_str()];
    curl_session(&base, &extra);
    let (_, log) = curl(&[&extra[..], &["-v", &format!("{base}/")]].concat());
    assert!(
        log.lines()
            .any(|l| l.contains("ALPN") && l.contains("accepted") && l.contains("http/1.1")),
        "{log}"
    );
    stop_when_idle(&server);
}

const PYTHON_CLIENT: &str = r#"
import http.client, ssl, sys
host, port, tls, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tls", sys.argv[4]
if tls:
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=20)
else:
    conn = http.client.HTTPConnection(host, port, timeout=20)
out = []
first_socket = None
for _ in range(3):
    conn.request("GET", "/")
    r = conn.getresponse()
    out.append("%d %s" % (r.status, r.read().decode()))
    first_socket = first_socket or conn.sock
conn.request("POST", "/echo", body=b"python body")
r = conn.getresponse()
out.append("%d %s" % (r.status, r.read().decode()))
conn.request("POST", "/echo", body=iter([b"chunk1-", b"chunk2"]), encode_chunked=True)
r = conn.getresponse()
out.append("%d %s" % (r.status, r.read().decode()))
conn.request("HEAD", "/")
r = conn.getresponse()
out.append("%d %s %r" % (r.status, r.getheader("Content-Length"), r.read()))
print("|".join(out).replace("\n", ""))
print("same-socket" if first_socket is conn.sock else "reconnected")
"#;

fn python_client(server: &net::ServerHandle, tls: bool) {
    let mut child = Command::new("python3")
        .args(["-", "localhost", &server.local_addr().port().to_string()])
        .arg(if tls { "tls" } else { "plain" })
        .arg(cert("ca.crt"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PYTHON_CLIENT.as_bytes())
        .unwrap();
    let out = common::process::finish_within(
        &mut child,
        common::process::CHILD_WITHIN,
        "the python http.client",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "200 root|200 root|200 root|200 python body|200 chunk1-chunk2|200 5 b''\nsame-socket\n"
    );
}

#[test]
fn python_http_client_plain_and_tls() {
    if common::require_tool("python3", "python3").is_none() {
        return;
    }
    // "localhost" may resolve to ::1 first; Python then tries 127.0.0.1.
    let server = http_server(app(), Limits::default(), 2);
    python_client(&server, false);
    stop_when_idle(&server);
    let server = https_server();
    python_client(&server, true);
    stop_when_idle(&server);
}
