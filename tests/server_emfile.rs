//! Running out of file descriptors: the server survives, refuses what it cannot hold,
//! and serves again once descriptors free up. The server runs in a child process (this
//! test binary again, running the ignored `emfile_server` entry) whose RLIMIT_NOFILE is
//! lowered before exec.

mod common;

use std::io::{BufRead, BufReader, Read, Write};

use common::process::{lines_of, wait_for_line, wait_within};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const FD_LIMIT: u64 = 64;

/// The child: an echo server that runs until its stdin closes.
#[test]
#[ignore = "run by emfile_reached_and_recovered in a child process"]
fn emfile_server() {
    muon::logging::init("warn");
    let server = echo_server(1);
    println!("ADDR {}", server.local_addr());
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    server.stop();
}

#[test]
fn emfile_reached_and_recovered() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "emfile_server", "--ignored", "--nocapture"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits;
    // nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: FD_LIMIT,
                rlim_max: FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn child server");
    let out = lines_of(child.stdout.take().unwrap());
    let line = wait_for_line(
        &out,
        Instant::now() + IO_TIMEOUT,
        "the child's address",
        |l| l.contains("ADDR "),
    );
    let addr: std::net::SocketAddr = line.split_once("ADDR ").unwrap().1.trim().parse().unwrap();

    // The child's log, read as it comes so the child never blocks on a full pipe.
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log_in = log.clone();
    let log_reader = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            log_in.lock().unwrap().push_str(&(l + "\n"));
        }
    });

    // Twice the descriptor limit: the server must run out and refuse some.
    let clients: Vec<_> = (0..2 * FD_LIMIT).map(|_| connect(addr)).collect();
    let (mut served, mut refused, mut stuck) = (0, 0, 0);
    for (i, c) in clients.iter().enumerate() {
        let msg = format!("hello {i}");
        let mut back = vec![0; msg.len()];
        let (mut w, mut r) = (c, c);
        let outcome = w
            .write_all(msg.as_bytes())
            .and_then(|_| r.read_exact(&mut back));
        match outcome {
            Ok(()) if back == msg.as_bytes() => served += 1,
            Ok(()) => panic!("client {i} got {back:?}"),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                stuck += 1
            }
            // EOF or reset: closed by the acceptor.
            Err(_) => refused += 1,
        }
    }
    let child_log = || log.lock().unwrap().clone();
    assert_eq!(
        stuck,
        0,
        "{stuck} clients neither served nor refused; child log:\n{}",
        child_log()
    );
    assert!(
        served > 0,
        "nothing served ({refused} refused); child log:\n{}",
        child_log()
    );
    assert!(refused > 0, "the descriptor limit was never reached");
    assert!(
        child.try_wait().unwrap().is_none(),
        "server died: {}",
        child_log()
    );

    // Descriptors free up: the server serves again by itself.
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        let c = connect(addr);
        c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut w = &c;
        let mut r = &c;
        let mut back = [0; 5];
        if w.write_all(b"again").is_ok() && r.read_exact(&mut back).is_ok() && &back == b"again" {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(
        recovered,
        "server did not recover after descriptors freed up"
    );
    drop(child.stdin.take());
    let status = wait_within(&mut child, Duration::from_secs(30), "the emfile child");
    log_reader.join().unwrap();
    let err = child_log();
    assert!(status.success(), "child failed: {err}");
    // One burst of refusals, one warning (docs/architecture.md: "logs once per burst").
    assert_eq!(
        err.matches("out of file descriptors").count(),
        1,
        "not exactly one warning: {err}"
    );
    println!(
        "emfile: served {served}, refused {refused} of {} at RLIMIT_NOFILE={FD_LIMIT}",
        2 * FD_LIMIT
    );
}
