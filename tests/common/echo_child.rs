//! The `echo` example as a child process whose log a test reads: for restarts,
//! signals, and servers behind a real load balancer.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::IO_TIMEOUT;

/// An echo example process; its log lines arrive on `lines`. Killed on drop.
pub struct Echo {
    pub child: Child,
    lines: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Echo {
    pub fn start(args: &[&str]) -> Echo {
        Echo::start_example("echo", args)
    }

    /// Starts another server example (`chat_server`) the same way.
    pub fn start_example(name: &str, args: &[&str]) -> Echo {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = log.clone();
        let all = [&["--threads", "2", "--log", "info"], args].concat();
        let (child, lines) = super::example::spawn_logging(name, &all, move |l| {
            keep.lock().unwrap().push(l.to_string())
        });
        Echo { child, lines, log }
    }

    /// Waits (bounded) for a log line containing `what`; returns it.
    pub fn wait_line(&self, what: &str) -> String {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let l = self.lines.recv_deadline(deadline).unwrap_or_else(|_| {
                panic!(
                    "no log line with {what:?}; log: {:?}",
                    self.log.lock().unwrap()
                )
            });
            if l.contains(what) {
                return l;
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        let l = self.wait_line("listening on ");
        l.split_once("listening on ")
            .unwrap()
            .1
            .trim()
            .parse()
            .unwrap()
    }

    /// Every log line so far that contains `what`.
    pub fn lines_with(&self, what: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(what)).cloned().collect()
    }

    pub fn count(&self, what: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(what))
            .count()
    }

    pub fn sigterm(&self) {
        // SAFETY: kill with a valid signal on our own child's pid has no memory effects.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
    }

    /// Waits (bounded) for the process to exit; returns whether it exited 0.
    pub fn exits_0(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
