//! Waiting on child processes with a deadline: a child that hangs (a stuck example, a
//! foreign tool waiting for input) is killed and the test fails, instead of hanging
//! the suite and CI with it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a short-lived child (a client example, `--help`, curl, openssl) may run.
pub const CHILD_WITHIN: Duration = Duration::from_secs(60);

/// Waits for `child` to exit within `limit`; past it, kills the child and panics.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}; killed");
        }
        // No exit notification to block on without a signal handler: poll, bounded.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks
/// on a full pipe while we wait for its exit.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut out);
        }
        out
    })
}

/// Runs `cmd` to completion (stdin closed, stdout and stderr captured) within
/// `limit`; past it, kills the child and panics.
pub fn output_within(cmd: &mut Command, limit: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: spawn: {e}"));
    finish_within(&mut child, limit, what)
}

/// Waits for an already spawned `child` within `limit` and collects whatever of its
/// stdout and stderr were piped; past the limit, kills it and panics.
pub fn finish_within(child: &mut Child, limit: Duration, what: &str) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_within(child, limit, what);
    // The child is gone: its pipes are at EOF unless it left a grandchild holding
    // them, which the tests never start.
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// The lines a child writes on a pipe, as a channel: read them with `recv_timeout`.
pub fn lines_of(pipe: impl Read + Send + 'static) -> crossbeam_channel::Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (until `deadline`) for a line of `lines` that satisfies `pred`; panics with
/// `what` when the child closed the pipe or the deadline passed.
pub fn wait_for_line(
    lines: &crossbeam_channel::Receiver<String>,
    deadline: Instant,
    what: &str,
    mut pred: impl FnMut(&str) -> bool,
) -> String {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                panic!("{what}: no such line before the deadline")
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                panic!("{what}: the child closed its output first")
            }
        }
    }
}
