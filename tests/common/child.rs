//! A server in a child process (this test binary again, running an ignored entry
//! test), driven over stdin/stdout: so a test can read the server's own RSS and live
//! connection count, and lower its descriptor limit, without its clients in the way.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use super::IO_TIMEOUT;

pub struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    lines: crossbeam_channel::Receiver<String>,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Runs `entry` (an ignored test in the same binary) with `MUON_CHILD=kind`.
    pub fn spawn(entry: &str, kind: &str, fd_limit: Option<u64>) -> ChildServer {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            entry,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MUON_CHILD", kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Some(limit) = fd_limit {
            // SAFETY: setrlimit is async-signal-safe and only changes the child's own
            // limit; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn child server");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let l = lines
                .recv_timeout(IO_TIMEOUT)
                .expect("child server address");
            // libtest may print "test <name> ... " on the same line first.
            if let Some((_, a)) = l.split_once("ADDR ") {
                break a.trim().parse().unwrap();
            }
        };
        ChildServer {
            child,
            stdin,
            lines,
            addr,
        }
    }

    /// Sends a command line, returns the child's `REPLY` to it.
    pub fn query(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").expect("child stdin");
        loop {
            let l = self.lines.recv_timeout(IO_TIMEOUT).expect("child reply");
            if let Some((_, r)) = l.split_once("REPLY ") {
                return r.trim().to_string();
            }
        }
    }

    /// The child's resident set size in KiB.
    pub fn rss_kib(&mut self) -> u64 {
        self.query("rss").parse().unwrap()
    }

    /// Bytes the child's malloc has handed out and not taken back (every arena, mmap'd
    /// blocks included): the Rust heap and OpenSSL's alike, so a leak of either shows
    /// byte for byte, where RSS hides it behind the allocator's page-sized slack.
    pub fn heap_bytes(&mut self) -> u64 {
        self.query("heap").parse().unwrap()
    }

    /// The server's live connection count.
    pub fn live(&mut self) -> usize {
        self.query("count").parse().unwrap()
    }

    /// Waits (bounded) until the server has no live connection; returns whether it did.
    pub fn wait_idle(&mut self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.live() == 0 {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Closes the child's stdin (it stops its server and exits); returns its success.
    /// A child that does not exit within 30 s is killed and the test fails.
    pub fn finish(mut self) -> bool {
        drop(self.stdin);
        super::process::wait_within(
            &mut self.child,
            std::time::Duration::from_secs(30),
            "child server after its stdin closed",
        )
        .success()
    }
}

/// The child side: serves `server` and answers commands until stdin closes.
pub fn serve_commands(server: net::ServerHandle) {
    println!("ADDR {}", server.local_addr());
    let stdin = std::io::stdin();
    for line in stdin.lock().lines().map_while(Result::ok) {
        let reply = match line.trim() {
            "rss" => rss_kib().to_string(),
            "heap" => heap_bytes().to_string(),
            "count" => server.connection_count().to_string(),
            other => format!("unknown command {other}"),
        };
        println!("REPLY {reply}");
    }
    server.stop();
}

/// This process's resident set size in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes in use from malloc in this process (glibc's `mallinfo2`: arena chunks in use,
/// including the small per-thread caches, plus mmap'd blocks).
pub fn heap_bytes() -> u64 {
    // SAFETY: mallinfo2 takes no argument and returns a struct by value; it only
    // reads the allocator's statistics under its own locks.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

/// `MUON_STRESS_SCALE` (default 1): multiplies the stress tests' sizes.
pub fn scale() -> usize {
    std::env::var("MUON_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}
