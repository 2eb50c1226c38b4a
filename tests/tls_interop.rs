//! Foreign TLS clients against Muon: the `openssl s_client` CLI and Python's `ssl`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::tls::*;
use common::*;

/// Runs `openssl s_client` with `args`, sends `line`, waits for its echo on stdout,
/// then ends the client. Returns everything it printed.
fn s_client_echo(addr: std::net::SocketAddr, args: &[&str], line: &str) -> String {
    let mut child: Child = Command::new("openssl")
        .arg("s_client")
        .args(["-connect", &addr.to_string(), "-CAfile", &cert("ca.crt")])
        .args(["-verify_return_error", "-servername", "localhost"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "{line}").unwrap();
    let mut out = String::new();
    let echoed = loop {
        match rx.recv_timeout(IO_TIMEOUT) {
            Ok(l) => {
                let done = l.trim() == line;
                out.push_str(&l);
                out.push('\n');
                if done {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(echoed, "no echo from s_client {args:?}; it printed:\n{out}");
    out
}

#[test]
fn s_client_echoes_over_tls12_and_tls13() {
    init_logging();
    for &provider in PROVIDERS {
        let server = provider.echo_server(2);
        for (flag, proto) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
            let out = s_client_echo(server.local_addr(), &[flag], "hello from s_client");
            assert!(
                out.contains(&format!("Protocol  : {proto}"))
                    || out.contains(&format!("New, {proto}")),
                "{provider:?} {flag}: {out}"
            );
            assert!(
                out.contains("Verify return code: 0 (ok)"),
                "{provider:?} {flag}: {out}"
            );
        }
        assert!(server.stop());
    }
}

#[test]
fn s_client_resumes_its_session() {
    for &provider in PROVIDERS {
        s_client_resumes_on(provider);
    }
}

fn s_client_resumes_on(provider: Provider) {
    init_logging();
    let server = provider.echo_server(2);
    let dir = std::env::temp_dir().join(format!("muon-sess-{}-{provider:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for flag in ["-tls1_2", "-tls1_3"] {
        let sess = dir.join(format!("sess{flag}.pem"));
        let sess = sess.to_str().unwrap();
        let first = s_client_echo(server.local_addr(), &[flag, "-sess_out", sess], "first");
        assert!(
            first.contains("New, TLS"),
            "{provider:?} {flag}: first connection: {first}"
        );
        let second = s_client_echo(server.local_addr(), &[flag, "-sess_in", sess], "second");
        assert!(
            second.contains("Reused, TLS"),
            "{provider:?} {flag}: not resumed: {second}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(server.stop());
}

#[test]
fn python_ssl_echoes_with_verification() {
    for &provider in PROVIDERS {
        python_ssl_on(provider);
    }
}

fn python_ssl_on(provider: Provider) {
    init_logging();
    let server = provider.echo_server(2);
    let script = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        data = bytes(range(256)) * 4096
        s.sendall(data)
        got = bytearray()
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert bytes(got) == data, "echo differs"
        print("python", s.version(), s.cipher()[0], len(got))
"#;
    let out = common::process::output_within(
        Command::new("python3").args([
            "-c",
            script,
            &server.local_addr().port().to_string(),
            &cert("ca.crt"),
        ]),
        common::process::CHILD_WITHIN,
        "the python ssl client",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{provider:?}: python failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("python TLSv1.3"),
        "{provider:?}: {stdout}"
    );
    stop_when_idle(&server);
}

#[test]
fn s_client_with_a_client_certificate_is_served_and_without_is_refused() {
    init_logging();
    for &provider in PROVIDERS {
        let opts = ServerOpts {
            client_auth: Some(true),
            ..ServerOpts::default()
        };
        let server = provider.echo_server_with(&opts, 1);
        for flag in ["-tls1_2", "-tls1_3"] {
            // s_client's session printout (with the client certificate in it) can run
            // into the echo on one line: tls_tools::s_client looks for the echo at a
            // line's end.
            let base = [flag, "-CAfile", &cert("ca.crt"), "-servername", "localhost"];
            let client = [&cert("client.crt"), &cert("client.key")];
            let mut args = base.to_vec();
            args.extend(["-cert", client[0], "-key", client[1]]);
            let with = common::tls_tools::s_client(&server.local_addr().to_string(), &args);
            assert!(
                with.echoed && with.out.contains("Verify return code: 0 (ok)"),
                "{provider:?} {flag}: {}",
                with.out
            );
            let without = common::tls_tools::s_client(&server.local_addr().to_string(), &base);
            assert!(
                !without.echoed,
                "{provider:?} {flag}: served without a certificate: {}",
                without.out
            );
            assert!(
                without.out.contains("alert"),
                "{provider:?} {flag}: no alert told s_client why: {}",
                without.out
            );
        }
        assert!(server.stop());
    }
}

/// A TLS server that answers every request with one HTTP response and closes.
fn https_hello(provider: Provider, version: Version) -> muon::ServerHandle {
    let opts = ServerOpts {
        version: Some(version),
        ..ServerOpts::default()
    };
    muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(provider.acceptor(&opts))
        .on_message(|conn, input| {
            // The whole head has arrived once it ends with an empty line.
            if input.peek().windows(4).any(|w| w == b"\r\n\r\n") {
                input.retrieve_all();
                conn.send(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n",
                );
                conn.shutdown();
            }
        })
        .started()
}

#[test]
fn curl_fetches_over_tls12_and_tls13() {
    init_logging();
    let Some(curl) = require_tool("curl", "curl") else {
        return;
    };
    for &provider in PROVIDERS {
        for (version, flags) in [
            (Version::Tls12, ["--tlsv1.2", "--tls-max", "1.2"]),
            (Version::Tls13, ["--tlsv1.3", "--tls-max", "1.3"]),
        ] {
            let server = https_hello(provider, version);
            let port = server.local_addr().port();
            let out = std::process::Command::new(&curl)
                .args(["-sS", "--max-time", "20", "-v", "--cacert", &cert("ca.crt")])
                .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                .args(flags)
                .arg(format!("https://localhost:{port}/"))
                .output()
                .expect("curl");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{provider:?} {version:?}: curl failed: {stderr}"
            );
            assert_eq!(out.stdout, b"hello\n", "{provider:?} {version:?}");
            let proto = match version {
                Version::Tls12 => "TLSv1.2",
                Version::Tls13 => "TLSv1.3",
            };
            assert!(
                stderr.contains(proto),
                "{provider:?} {version:?}: curl did not report {proto}: {stderr}"
            );
            stop_when_idle(&server);
        }
    }
}
