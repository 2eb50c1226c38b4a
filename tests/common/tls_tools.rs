//! Foreign TLS tools against a server: the `echo` example as a child process, and
//! `openssl s_client` runs, for the production-TLS tests (chains, SNI, tickets, OCSP,
//! reload).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::tls::cert;
use super::IO_TIMEOUT;

#[allow(unused_imports)] // used by some of the test binaries that include this module
pub use super::example::example_path as example;

/// The `echo` example running as a child process, killed when dropped.
pub struct EchoProcess {
    child: Child,
    pub addr: String,
    lines: crossbeam_channel::Receiver<String>,
}

impl EchoProcess {
    /// Starts `echo --tls` with `args` on a free port and waits until it listens.
    pub fn start(args: &[&str]) -> EchoProcess {
        EchoProcess::try_start(args).unwrap_or_else(|log| panic!("echo did not start:\n{log}"))
    }

    /// Starts `echo --tls` with `args`; `Err` with its log if it exits instead of listening.
    pub fn try_start(args: &[&str]) -> Result<EchoProcess, String> {
        EchoProcess::try_start_example("echo", args)
    }

    /// Starts the example `name` (a TLS server taking the shared TLS flags) with
    /// `--tls` and `args`; `Err` with its log if it exits instead of listening.
    pub fn try_start_example(name: &str, args: &[&str]) -> Result<EchoProcess, String> {
        let all = [&["--tls", "--addr", "127.0.0.1:0", "--threads", "2"], args].concat();
        let (mut child, lines) = super::example::spawn_logging(name, &all, |_| {});
        let mut log = String::new();
        loop {
            match lines.recv_timeout(IO_TIMEOUT) {
                Ok(l) => {
                    log.push_str(&l);
                    log.push('\n');
                    if let Some((_, addr)) = l.split_once("listening on ") {
                        let addr = addr.trim().to_string();
                        return Ok(EchoProcess { child, addr, lines });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(log);
                }
            }
        }
    }

    /// Sends SIGHUP (reload the TLS files).
    pub fn sighup(&self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP) };
        assert_eq!(rc, 0, "kill -HUP");
    }

    /// Waits (bounded) for a log line containing `needle`; returns it.
    pub fn wait_for_log(&self, needle: &str) -> Option<String> {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `openssl s_client` run printed (stdout and stderr) and whether the server
/// echoed the line sent.
pub struct SClient {
    pub echoed: bool,
    pub out: String,
}

/// Runs `openssl s_client -connect addr` with `args`, sends a line, and waits (bounded)
/// for its echo (which also means the session tickets sent before it have arrived) or
/// for s_client to end (a failed handshake).
pub fn s_client(addr: &str, args: &[&str]) -> SClient {
    let line = "hello from s_client";
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args(["-connect", addr])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(Some(l)).is_err() {
                    return;
                }
            }
            let _ = tx.send(None);
        });
    }
    drop(tx);
    let _ = writeln!(stdin, "{line}");
    let mut out = String::new();
    let mut open_streams = 2;
    let mut echoed = false;
    while open_streams > 0 {
        match rx.recv_timeout(IO_TIMEOUT) {
            Ok(Some(l)) => {
                // s_client's own buffered lines may run into the echo on one line.
                echoed |= l.trim_end().ends_with(line);
                out.push_str(&l);
                out.push('\n');
                if echoed {
                    break;
                }
            }
            Ok(None) => open_streams -= 1,
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    SClient { echoed, out }
}

/// A fresh directory for one test's files, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("muon-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces `dest` with `src`'s bytes the way deployment tools do (write, then rename),
/// so a reader never sees half a file.
pub fn replace_file(src: impl AsRef<Path>, dest: impl AsRef<Path>) {
    let dest = dest.as_ref();
    let tmp = dest.with_extension("tmp");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

/// Writes `bytes` to `dest` by write-then-rename.
pub fn write_file(dest: impl AsRef<Path>, bytes: &[u8]) {
    let dest = dest.as_ref();
    let tmp = dest.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

/// Counts PEM certificates in s_client's `-showcerts` output.
pub fn certificates_shown(out: &str) -> usize {
    out.matches("-----BEGIN CERTIFICATE-----").count()
}

/// Makes a real OCSP response for `chain.crt` signed by the intermediate CA, with
/// `status` "V" (good) or "R" (revoked), using `openssl ocsp` as a responder.
pub fn ocsp_response(dir: &TempDir, status: &str) -> String {
    let serial = super::process::output_within(
        Command::new("openssl").args(["x509", "-noout", "-serial", "-in", &cert("chain.crt")]),
        super::process::CHILD_WITHIN,
        "openssl x509",
    );
    let serial = String::from_utf8(serial.stdout).unwrap();
    let serial = serial.trim().trim_start_matches("serial=");
    // index.txt: status, expiry, revocation date, serial, file, subject (tab separated).
    let revoked = if status == "R" { "250101000000Z" } else { "" };
    let index = format!("{status}\t991231235959Z\t{revoked}\t{serial}\tunknown\t/CN=localhost\n");
    std::fs::write(dir.path("index.txt"), index).unwrap();
    let resp = dir.path(&format!("ocsp-{status}.der"));
    let mut ocsp = Command::new("openssl");
    ocsp.args(["ocsp", "-index", &dir.path("index.txt")])
        .args([
            "-rsigner",
            &cert("intermediate-ca.crt"),
            "-rkey",
            &cert("intermediate-ca.key"),
        ])
        .args([
            "-CA",
            &cert("intermediate-ca.crt"),
            "-issuer",
            &cert("intermediate-ca.crt"),
        ])
        .args([
            "-cert",
            &cert("chain.crt"),
            "-respout",
            &resp,
            "-ndays",
            "7",
        ]);
    let out =
        super::process::output_within(&mut ocsp, super::process::CHILD_WITHIN, "openssl ocsp");
    assert!(out.status.success(), "openssl ocsp: {out:?}");
    resp
}
