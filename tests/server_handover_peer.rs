//! The hand-over socket of the `echo` example belongs to its user: a server started
//! under umask 000 (the case the review exploited) still creates it 0600, a process of
//! another user (`nobody`) can neither connect nor, with the socket opened to all,
//! receive the listeners, and the old server keeps serving throughout; a process of
//! the same user then takes over as documented.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::example::{example_path, Killed};
use common::{connect, IO_TIMEOUT};

/// Starts the echo example with `--handover path` (as `uid` if given, under `umask`);
/// returns it and its log lines.
fn echo(
    path: &Path,
    uid: Option<u32>,
    umask: libc::mode_t,
) -> (Killed, crossbeam_channel::Receiver<String>) {
    // nobody runs a copy beside the socket: the build may be where it cannot reach.
    let exe = match uid {
        Some(_) => {
            let copy = path.with_file_name("echo-for-nobody");
            if !copy.exists() {
                std::fs::copy(example_path("echo"), &copy).unwrap();
                std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            copy
        }
        None => example_path("echo"),
    };
    let mut cmd = Command::new(exe);
    cmd.args([
        "--threads",
        "1",
        "--log",
        "info",
        "--addr",
        "127.0.0.1:0",
        "--drain-grace-ms",
        "0",
    ])
    .arg("--handover")
    .arg(path)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    // SAFETY: umask is async-signal-safe and only changes the child's own mask;
    // nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
    let mut child: Child = cmd.spawn().expect("spawn echo");
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

/// Waits (bounded) for a log line containing `what`.
fn wait_line(lines: &crossbeam_channel::Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut seen = Vec::new();
    loop {
        match lines.recv_deadline(deadline) {
            Ok(l) if l.contains(what) => return l,
            Ok(l) => seen.push(l),
            Err(_) => panic!("no log line with {what:?}; log: {seen:#?}"),
        }
    }
}

/// Waits (bounded) for `child` to exit; its status.
fn exit_status(child: &mut Killed) -> std::process::ExitStatus {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "the process did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn echoes(addr: &str) -> bool {
    let mut c = connect(addr.parse().unwrap());
    let mut back = [0u8; 5];
    c.write_all(b"hello").is_ok() && c.read_exact(&mut back).is_ok() && &back == b"hello"
}

#[test]
fn another_user_cannot_take_the_listeners_and_the_same_user_can() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a process as nobody");
        return;
    }
    let dir = std::env::temp_dir().join(format!("muon-handover-peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Others may reach the directory: only the socket's own protection counts.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("echo.sock");

    let (mut old, old_log) = echo(&path, None, 0o000);
    let line = wait_line(&old_log, "listening on ");
    let addr = line
        .split_once("listening on ")
        .unwrap()
        .1
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + IO_TIMEOUT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "no hand-over socket at {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "the hand-over socket under umask 000"
    );

    // nobody, as created: cannot connect; the old server is untouched.
    let (mut intruder, intruder_log) = echo(&path, Some(65534), 0o022);
    assert!(
        !exit_status(&mut intruder).success(),
        "nobody's echo must fail"
    );
    drop(intruder_log);
    assert!(
        old.0.try_wait().unwrap().is_none(),
        "the old server stopped"
    );
    assert!(echoes(&addr));

    // nobody, with the socket opened to everyone: refused by its uid, nothing sent.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (mut intruder, intruder_log) = echo(&path, Some(65534), 0o022);
    assert!(
        !exit_status(&mut intruder).success(),
        "nobody's echo must fail"
    );
    let refused = wait_line(&old_log, "handover: refused a process of uid 65534");
    println!("old server: {refused}");
    let said: Vec<String> = intruder_log.try_iter().collect();
    assert!(
        !said.iter().any(|l| l.contains("took ")),
        "nobody took the listeners: {said:#?}"
    );
    assert!(
        old.0.try_wait().unwrap().is_none(),
        "the old server stopped"
    );
    assert!(echoes(&addr));

    // The same user takes over: the old one drains and exits 0, the new one serves.
    let (_new, new_log) = echo(&path, None, 0o022);
    wait_line(&new_log, "took 1 listener(s)");
    wait_line(&old_log, "hand-over: draining");
    assert!(exit_status(&mut old).success());
    assert!(echoes(&addr));
    let _ = std::fs::remove_dir_all(&dir);
}
