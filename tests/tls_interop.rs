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
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 2);
    for (flag, proto) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = s_client_echo(server.local_addr(), &[flag], "hello from s_client");
        assert!(
            out.contains(&format!("Protocol  : {proto}")) || out.contains(&format!("New, {proto}")),
            "{flag}: {out}"
        );
        assert!(out.contains("Verify return code: 0 (ok)"), "{flag}: {out}");
    }
    assert!(server.stop());
}

#[test]
fn s_client_resumes_its_session() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 2);
    let dir = std::env::temp_dir().join(format!("muon-sess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for flag in ["-tls1_2", "-tls1_3"] {
        let sess = dir.join(format!("sess{flag}.pem"));
        let sess = sess.to_str().unwrap();
        let first = s_client_echo(server.local_addr(), &[flag, "-sess_out", sess], "first");
        assert!(
            first.contains("New, TLS"),
            "{flag}: first connection: {first}"
        );
        let second = s_client_echo(server.local_addr(), &[flag, "-sess_in", sess], "second");
        assert!(
            second.contains("Reused, TLS"),
            "{flag}: not resumed: {second}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(server.stop());
}

#[test]
fn python_ssl_echoes_with_verification() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 2);
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
        "python failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("python TLSv1.3"), "{stdout}");
    stop_when_idle(&server);
}
