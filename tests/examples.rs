//! The README's main command and the echo client, as users run them: the example
//! binaries themselves (built by `cargo test` before the integration tests run).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::tls::cert;
use common::IO_TIMEOUT;

fn example(name: &str) -> PathBuf {
    // <target>/<profile>/deps/<this test> -> <target>/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole `cargo test` (it builds the examples first)",
        path.display()
    );
    path
}

/// A child process that is killed when the test ends, passing or failing.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `echo` with `args` on a free port; returns it and the address it logged.
fn start_echo(args: &[&str]) -> (Killed, String) {
    let mut child = Command::new(example("echo"))
        .args(["--addr", "127.0.0.1:0", "--threads", "1"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if let Some((_, addr)) = line.trim().split_once("listening on ") {
                let _ = tx.send(addr.to_string());
            }
            line.clear();
        }
    });
    let child = Killed(child);
    let addr = rx.recv_timeout(IO_TIMEOUT).expect("echo logs its address");
    (child, addr)
}

fn run_client(args: &[&str], input: &str) -> (bool, String, String) {
    let mut client = Command::new(example("echo_client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    client
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let ok = client.wait().unwrap().success();
    (ok, out, err)
}

#[test]
fn tls_echo_example_serves_the_echo_client_example() {
    let (_server, addr) = start_echo(&["--tls"]);
    let port = addr.rsplit_once(':').unwrap().1;
    let target = format!("localhost:{port}");
    let ca = cert("ca.crt");
    let (ok, out, err) = run_client(
        &["--tls", "--addr", &target, "--ca", &ca, "--timeout", "10"],
        "first line\nsecond line\n",
    );
    assert!(ok, "client failed: {err}");
    assert_eq!(out, "first line\nsecond line\n");

    // A name the certificate does not carry: exit status 1 and OpenSSL's reason.
    let (ok, _, err) = run_client(
        &[
            "--tls",
            "--addr",
            &target,
            "--ca",
            &ca,
            "--server-name",
            "wrong.example",
        ],
        "x\n",
    );
    assert!(!ok, "verification should have failed");
    assert!(err.contains("hostname mismatch"), "{err}");
}

#[test]
fn plain_echo_example_and_help() {
    let (_server, addr) = start_echo(&[]);
    let (ok, out, err) = run_client(&["--addr", &addr], "plain\n");
    assert!(ok, "client failed: {err}");
    assert_eq!(out, "plain\n");
    for name in [
        "echo",
        "echo_client",
        "chat_server",
        "chat_client",
        "http_server",
        "ws_chat",
    ] {
        let help = Command::new(example(name)).arg("--help").output().unwrap();
        assert!(help.status.success(), "{name} --help failed");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--addr"),
            "{name} --help"
        );
    }
}
