//! The README's main command and the echo client, as users run them: the example
//! binaries themselves (built by `cargo test` before the integration tests run).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::example::{example_path as example, start_example, Killed};
use common::process::{finish_within, output_within, CHILD_WITHIN};
use common::tls::cert;

/// Starts `echo` with `args` on a free port; returns it and the address it logged.
fn start_echo(args: &[&str]) -> (Killed, String) {
    start_example("echo", &[&["--threads", "1"], args].concat())
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
    let out = finish_within(&mut client, CHILD_WITHIN, "echo_client");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
        let help = output_within(
            Command::new(example(name)).arg("--help"),
            CHILD_WITHIN,
            name,
        );
        assert!(help.status.success(), "{name} --help failed");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("--addr"),
            "{name} --help"
        );
    }
}
