//! Runs an example binary as users do (built by `cargo test` before the integration
//! tests), killed when the test ends.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::IO_TIMEOUT;

pub fn example_path(name: &str) -> PathBuf {
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
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts example `name` on a free loopback port with `args`; returns it and the
/// address it logged.
pub fn start_example(name: &str, args: &[&str]) -> (Killed, String) {
    let mut child = Command::new(example_path(name))
        .args(["--addr", "127.0.0.1:0"])
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
                let addr = addr.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
            line.clear();
        }
    });
    let child = Killed(child);
    let addr = rx
        .recv_timeout(IO_TIMEOUT)
        .expect("the example logs its address");
    (child, addr)
}

/// Spawns example `name` with `args`: stdout discarded, stderr (its log) read line by
/// line on a thread, each line passed to `tee` and then sent on the returned channel.
pub fn spawn_logging(
    name: &str,
    args: &[&str],
    mut tee: impl FnMut(&str) + Send + 'static,
) -> (Child, crossbeam_channel::Receiver<String>) {
    let mut child = Command::new(example_path(name))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, lines) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            tee(&l);
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, lines)
}
