//! Helpers shared by the integration tests: servers on loopback, blocking clients
//! with bounded waits, and deterministic payloads.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Every blocking socket operation in the tests gives up after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Installs a logger that keeps every record at info level and above (so tests can
/// check what the library logged) and prints warnings and errors.
pub fn init_logging() {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

struct Capture;
static CAPTURE: Capture = Capture;
static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        let line = format!("{} {}: {}", r.level(), r.target(), r.args());
        if r.level() <= log::Level::Warn {
            eprintln!("{line}");
        }
        LINES.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// Every line logged so far that satisfies `pred`.
pub fn logged_lines(pred: impl Fn(&str) -> bool) -> Vec<String> {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| pred(l))
        .cloned()
        .collect()
}

/// Waits (bounded) for a logged line that satisfies `pred`; returns it.
pub fn wait_for_log(timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
    let mut found = None;
    wait_until(timeout, || {
        found = LINES.lock().unwrap().iter().find(|l| pred(l)).cloned();
        found.is_some()
    });
    found
}

/// A plain echo server with `threads` workers on an ephemeral loopback port.
pub fn echo_server(threads: usize) -> net::ServerHandle {
    net::TcpServer::builder("127.0.0.1:0")
        .name("echo")
        .threads(threads)
        .echo()
        .started()
}

/// Test shorthands on a server builder.
pub trait BuilderExt {
    /// Echo every byte received.
    fn echo(self) -> Self;
    /// Build and start on a thread of its own; panics on failure.
    fn started(self) -> net::ServerHandle;
}

impl BuilderExt for net::TcpServerBuilder {
    fn echo(self) -> Self {
        self.on_message(|conn, input| {
            conn.send_buffer(input);
        })
    }

    fn started(self) -> net::ServerHandle {
        self.accept_per_loop(accept_per_loop())
            .build()
            .expect("build")
            .start()
            .expect("start")
    }
}

/// `MUON_ACCEPT_PER_LOOP=1`: every server the tests start with `started()` accepts on
/// each worker loop (`accept_per_loop`), so the same suites run in that mode too.
pub fn accept_per_loop() -> bool {
    std::env::var("MUON_ACCEPT_PER_LOOP").is_ok_and(|v| v == "1")
}

/// A blocking client with read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Bytes that differ at every offset, so a lost, repeated or reordered chunk shows.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `data` from a second thread while reading `data.len()` bytes back here, so a
/// large echo cannot deadlock on full socket buffers. Returns what was read.
pub fn echo_round_trip(stream: &TcpStream, data: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let owned = data.to_vec();
    let t = std::thread::spawn(move || writer.write_all(&owned));
    let mut back = vec![0; data.len()];
    let mut reader = stream.try_clone().unwrap();
    reader.read_exact(&mut back).expect("read echo");
    t.join().unwrap().expect("write");
    back
}

/// Reads until EOF (bounded by the read timeout); returns the bytes.
pub fn read_to_eof(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

pub fn half_close(stream: &TcpStream) {
    stream.shutdown(Shutdown::Write).unwrap();
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held. For
/// state that has no event to wait on (a counter in another thread).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Asserts that every connection of `server` is released (bounded wait), then stops it.
pub fn stop_when_idle(server: &net::ServerHandle) {
    assert!(
        wait_until(Duration::from_secs(10), || server.connection_count() == 0),
        "{} connections still live",
        server.connection_count()
    );
    assert!(server.stop(), "server did not stop in time");
}

/// A client builder that forwards every received byte to the returned channel.
pub fn collecting_client(
    addr: &str,
) -> (net::TcpClientBuilder, crossbeam_channel::Receiver<Vec<u8>>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let b = net::TcpClient::builder(addr).on_message(move |_conn, input| {
        let _ = tx.send(input.retrieve_all_as_vec());
    });
    (b, rx)
}

/// Collects exactly `len` bytes from a collecting client's channel (bounded wait).
pub fn recv_exactly(rx: &crossbeam_channel::Receiver<Vec<u8>>, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < len {
        got.extend(rx.recv_timeout(IO_TIMEOUT).expect("bytes"));
    }
    got
}

pub mod child;
pub mod closed;
pub mod echo_child;
pub mod example;
pub mod http;
pub mod process;
pub mod tls;
pub mod tls_tools;

#[allow(unused_imports)] // each test binary uses its share
pub use closed::{expect_closed, expect_tls_closed, read_until_closed, Ending, CLOSE_WITHIN};

/// Finds a foreign program (haproxy, testssl, chromium, curl, ...) on the PATH.
///
/// Missing on a developer's machine: prints how to get it and returns `None`, so the
/// test can return early. Missing under CI (`CI` set): panics, because `.ci/run`
/// installs every tool the tests use and a skipped test there would prove nothing.
pub fn require_tool(name: &str, debian_package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("`{name}` is not installed (Debian package `{debian_package}`); .ci/run must install it");
        }
        eprintln!("SKIPPED: `{name}` is not installed (apt-get install {debian_package})");
    }
    found
}

/// Makes `stream`'s close send RST instead of FIN (SO_LINGER 0): a peer that resets.
/// The reset happens when the last handle to the socket is dropped.
pub fn reset(stream: &TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
}

/// Whether python3 has `module` (pip package `package`): skips loudly outside CI, fails
/// under CI (where .ci/run must have installed it).
pub fn python_module(module: &str, package: &str) -> bool {
    if require_tool("python3", "python3").is_none() {
        return false;
    }
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python3 lacks the {package} package; .ci/run must install it");
        }
        eprintln!("SKIPPED: python3 -m pip install {package}");
    }
    ok
}

/// An event loop on a thread of its own, for clients in tests; quits and is joined
/// when the guard drops.
pub struct LoopThread {
    pub handle: net::LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopThread {
    pub fn start(name: &str) -> LoopThread {
        let lp = net::EventLoop::new(name).expect("an event loop");
        let handle = lp.handle();
        let thread = std::thread::spawn(move || lp.run().expect("the loop runs"));
        LoopThread {
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        self.handle.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
