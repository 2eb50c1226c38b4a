//! Restarts without a reset: a new process takes the old one's listening sockets over
//! a Unix socket (`SCM_RIGHTS`), then the old one drains and exits.
//!
//! Why not just `SO_REUSEPORT`: when a process closes its listener, connections the
//! kernel already queued on that listener (handshake done, not yet accepted) are
//! reset, and new ones keep being hashed to it until the moment it closes. Handing the
//! *same* listening sockets to the new process avoids both: the sockets never close,
//! so nothing queued on them is lost, and which process accepts is only a matter of
//! who calls `accept` first.
//!
//! The procedure, with a fixed path both processes know (`--handover PATH` in the
//! examples):
//!
//! 1. The new process calls [`take`]: it connects to the old one at `path` and receives
//!    copies of its listeners (or `None` when nobody is there: a first start, which
//!    binds as usual).
//! 2. It builds its server on them ([`crate::TcpServerBuilder::listeners`]), starts
//!    it, and calls [`Taken::ready`].
//! 3. The old process, told "ready", stops gracefully (stop accepting, drain) and
//!    exits. If the new process dies before it says ready, the old one keeps serving.
//! 4. The new process [`offer`]s its own listeners at `path` for the next restart.
//!
//! Trade-off: both processes must run on one host and agree on a path; a process that
//! crashes cannot hand over (its queued connections are lost, as with any close).
//!
//! Who may take over: the listeners are the server, so only its own user may take them.
//! The socket is created 0600 whatever the umask (bound inside a fresh owner-only
//! directory, made 0600 there, then renamed into place, so it is never reachable with
//! looser rights), and the offering side checks the peer's `SO_PEERCRED` before it sends
//! anything: a peer of another uid (root excepted) is logged and refused, and the old
//! server keeps serving. The taking side checks the offerer the same way.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// At most this many listeners are handed over in one message.
const MAX_FDS: usize = 64;
/// How long the old process waits for the new one to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY: &[u8] = b"ready\n";

/// The new process's side of a hand-over, after [`take`].
pub struct Taken {
    stream: UnixStream,
}

impl Taken {
    /// Tells the old process that the new server runs: the old one stops now.
    pub fn ready(mut self) -> io::Result<()> {
        self.stream.write_all(READY)
    }
}

/// Takes the listening sockets of the process offering them at `path`. `Ok(None)`
/// when no process is there (nothing at `path`, or nobody listening).
pub fn take(path: &Path) -> io::Result<Option<(Vec<TcpListener>, Taken)>> {
    let stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    // A socket at `path` bound by another user is not our old server: take nothing
    // from it (its "listeners" could be anything).
    let uid = peer_uid(&stream)?;
    if !may_hand_over(uid) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the process offering at {} runs as uid {uid}",
                path.display()
            ),
        ));
    }
    stream.set_read_timeout(Some(READY_TIMEOUT))?;
    let fds = recv_fds(&stream)?;
    let listeners = fds.into_iter().map(TcpListener::from).collect();
    Ok(Some((listeners, Taken { stream })))
}

/// Offers listening sockets at `path`, replacing whatever is there. Runs on a thread of
/// its own: each process that connects gets copies made by `listeners` at that moment
/// (give it `move || handle.listeners()`, see [`crate::ServerHandle::listeners`]); once
/// one says it is ready, `on_taken` runs (the caller stops its server there) and the
/// thread ends. No copy is kept in between: a server that stops accepting closes its
/// listeners for real (an error from `listeners` then refuses the hand-over).
///
/// The socket is created with mode 0600, and a peer whose uid differs from ours (root
/// excepted) gets nothing: it is logged and closed, and the offer goes on.
pub fn offer<L, F>(
    path: &Path,
    listeners: L,
    on_taken: F,
) -> io::Result<std::thread::JoinHandle<()>>
where
    L: Fn() -> io::Result<Vec<TcpListener>> + Send + 'static,
    F: FnOnce() + Send + 'static,
{
    let unix = bind_owner_only(path)?;
    std::thread::Builder::new()
        .name("handover".into())
        .spawn(move || {
            for stream in unix.incoming() {
                let mut stream = match stream {
                    Ok(s) => s,
                    Err(e) => {
                        log::warn!("handover: accept: {e}");
                        continue;
                    }
                };
                match peer_uid(&stream) {
                    Ok(uid) if may_hand_over(uid) => {}
                    Ok(uid) => {
                        log::warn!(
                            "handover: refused a process of uid {uid} (not ours); still serving"
                        );
                        continue;
                    }
                    Err(e) => {
                        log::warn!("handover: peer credentials: {e}; refused, still serving");
                        continue;
                    }
                }
                match listeners().and_then(|l| hand_over(&mut stream, &l)) {
                    Ok(()) => {
                        log::info!("handover: the new process took the listeners; stopping");
                        on_taken();
                        return;
                    }
                    Err(e) => log::warn!("handover: not taken ({e}); still serving"),
                }
            }
        })
}

/// Binds a Unix listener at `path` (replacing what is there) that only our user can
/// connect to. Binding honours the umask, and a chmod after binding at `path` would
/// leave a window with looser rights; so the socket is bound inside a fresh 0700
/// directory next to `path`, made 0600 there, and renamed over `path` (atomic, and it
/// keeps the socket's mode).
fn bind_owner_only(path: &Path) -> io::Result<UnixListener> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "handover path has no file name",
        )
    })?;
    let private: PathBuf = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    // A leftover of an earlier crash of a process with our pid: ours to remove.
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let inner = private.join("sock");
    let bound = UnixListener::bind(&inner).and_then(|l| {
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&inner, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// The uid of the process at the other end of `stream` (`SO_PEERCRED`: the
/// credentials it had when it connected, or when it listened for the connecting side).
fn peer_uid(stream: &UnixStream) -> io::Result<libc::uid_t> {
    // SAFETY: a zeroed ucred is a valid value of a plain C struct.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a live ucred and `len` its size; the kernel writes at most
    // `len` bytes into it.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Whether listeners may go to (or come from) a process running as `uid`: our own
/// effective uid, or root.
fn may_hand_over(uid: libc::uid_t) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

/// A control-message buffer aligned for `cmsghdr`: `CMSG_FIRSTHDR`/`CMSG_NXTHDR` hand
/// out `*mut cmsghdr` into it, which must be aligned, and a `Vec<u8>` only promises
/// 1-byte alignment.
struct Control(Vec<libc::cmsghdr>);

impl Control {
    /// A zeroed buffer of at least `bytes` bytes.
    fn new(bytes: usize) -> Control {
        let n = bytes.div_ceil(std::mem::size_of::<libc::cmsghdr>());
        // SAFETY: a zeroed cmsghdr is a valid value of a plain C struct.
        Control(vec![unsafe { std::mem::zeroed() }; n])
    }

    fn as_mut_ptr(&mut self) -> *mut libc::c_void {
        self.0.as_mut_ptr().cast()
    }
}

fn hand_over(stream: &mut UnixStream, listeners: &[TcpListener]) -> io::Result<()> {
    let fds: Vec<RawFd> = listeners.iter().map(AsRawFd::as_raw_fd).collect();
    send_fds(stream, &fds)?;
    stream.set_read_timeout(Some(READY_TIMEOUT))?;
    let mut said = [0; READY.len()];
    stream.read_exact(&mut said)?;
    if said != READY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected reply",
        ));
    }
    Ok(())
}

/// Sends `fds` with one byte (their count) in a single `sendmsg`.
fn send_fds(stream: &UnixStream, fds: &[RawFd]) -> io::Result<()> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} listeners to hand over (1..={MAX_FDS})", fds.len()),
        ));
    }
    let count = [fds.len() as u8];
    let iov = [IoSlice::new(&count)];
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = Control::new(space);
    // SAFETY: a zeroed msghdr is valid; the pointers set below point into `iov` and
    // `control`, which outlive the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` is at least CMSG_SPACE(fd_bytes) long and aligned for
    // `cmsghdr` (`Control`), so the header written through `cmsg` is aligned and it and
    // its data area of `fd_bytes` fit; CMSG_FIRSTHDR is non-null for a buffer that size.
    // The descriptors are copied bytewise (CMSG_DATA makes no promise for `RawFd`).
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(cmsg),
            fd_bytes as usize,
        );
    }
    // SAFETY: `msg` is fully initialised above and its buffers are live.
    let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives the descriptors sent by `send_fds` (new descriptors in this process,
/// close-on-exec).
fn recv_fds(stream: &UnixStream) -> io::Result<Vec<OwnedFd>> {
    let mut count = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut count)];
    let fd_bytes = (MAX_FDS * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = Control::new(space);
    // SAFETY: a zeroed msghdr is valid; the pointers point into `iov` and `control`,
    // which outlive the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr().cast();
    msg.msg_iovlen = iov.len() as _;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes live buffers of the given sizes.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the old process closed without handing over",
        ));
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` up to msg_controllen; CMSG_FIRSTHDR and
    // CMSG_NXTHDR walk only within it, and every header they return is aligned because
    // `control` is aligned for `cmsghdr` (`Control`) and the kernel places headers at
    // CMSG_ALIGN offsets. The data follows its header unaligned for `RawFd`, hence
    // read_unaligned. Each SCM_RIGHTS descriptor is new and ours, so OwnedFd takes
    // sole ownership of it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "descriptors truncated",
        ));
    }
    if fds.len() != count[0] as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected {} listeners, got {}", count[0], fds.len()),
        ));
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::Instant;

    fn test_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("muon-handover-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Other users must be able to reach the socket's directory, so that only the
        // socket's own mode (and the credential check) stands in their way.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn listeners_cross_a_unix_socket_and_still_accept() {
        let dir = test_dir("cross");
        let path = dir.join("sock");
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("[::1]:0").unwrap();
        let addrs = [a.local_addr().unwrap(), b.local_addr().unwrap()];
        let (tx, rx) = std::sync::mpsc::channel();
        let copies =
            move || -> io::Result<Vec<TcpListener>> { Ok(vec![a.try_clone()?, b.try_clone()?]) };
        let t = offer(&path, copies, move || tx.send(()).unwrap()).unwrap();
        let (got, taken) = take(&path).unwrap().expect("someone offers");
        assert_eq!(got.len(), 2);
        for (l, addr) in got.iter().zip(addrs) {
            assert_eq!(l.local_addr().unwrap(), addr);
            let _c = std::net::TcpStream::connect(addr).unwrap();
            l.accept().unwrap();
        }
        taken.ready().unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
        assert!(take(&dir.join("nobody")).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_socket_is_owner_only_whatever_the_umask() {
        let dir = test_dir("mode");
        let path = dir.join("sock");
        // Something already at the path (a previous process's socket) is replaced.
        std::fs::write(&path, b"stale").unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _t = offer(&path, move || Ok(vec![l.try_clone()?]), || {}).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // No temporary directory is left next to it.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sock")]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    const CHILD_ENV: &str = "MUON_HANDOVER_CHILD_PATH";

    /// A copy of this test binary in `dir` that `nobody` can run wherever the
    /// checkout is (a build under /root is out of its reach).
    fn exe_for_nobody(dir: &Path) -> PathBuf {
        let exe = dir.join("handover-test-child");
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    /// Runs `child_takes` in a new process of this test binary as user `nobody`;
    /// returns what it printed.
    fn take_as_nobody(path: &Path) -> String {
        // The test's name as libtest knows it: the module path without the crate.
        let (_, module) = module_path!().split_once("::").unwrap();
        let name = format!("{module}::child_takes");
        let exe = exe_for_nobody(path.parent().unwrap());
        let mut child = std::process::Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                &name,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, path)
            .uid(65534)
            .gid(65534)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    /// Not a test by itself: the process `take_as_nobody` starts.
    #[test]
    #[ignore]
    fn child_takes() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        match take(Path::new(&path)) {
            Ok(Some((l, taken))) => {
                println!("child: took {} listeners", l.len());
                let _ = taken.ready();
            }
            Ok(None) => println!("child: nobody there"),
            Err(e) => println!("child: refused: {e}"),
        }
    }

    const OFFER_ENV: &str = "MUON_HANDOVER_OFFER_PATH";

    /// Not a test by itself: a process of another user offering its listener at the
    /// path in `OFFER_ENV` until its stdin closes.
    #[test]
    #[ignore]
    fn child_offers() {
        let Some(path) = std::env::var_os(OFFER_ENV) else {
            return;
        };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _t = offer(Path::new(&path), move || Ok(vec![l.try_clone()?]), || {}).unwrap();
        println!("child: offering");
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    }

    #[test]
    fn listeners_offered_by_another_user_are_not_taken() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to run a process as nobody");
            return;
        }
        let dir = test_dir("offerer");
        // nobody must be able to create its socket here.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let path = dir.join("sock");
        let (_, module) = module_path!().split_once("::").unwrap();
        let name = format!("{module}::child_offers");
        let mut child = std::process::Command::new(exe_for_nobody(&dir))
            .args([
                "--ignored",
                "--exact",
                &name,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(OFFER_ENV, &path)
            .uid(65534)
            .gid(65534)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains("child: offering") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the child did not offer in time");
                }
            }
        }
        let taken = take(&path);
        drop(child.stdin.take());
        let _ = child.wait();
        match taken {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}"),
            Ok(Some((l, _))) => panic!("took {} listeners from uid 65534", l.len()),
            Ok(None) => panic!("nobody's offer was not found"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_user_is_refused_and_the_old_server_keeps_its_listeners() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root can start a process as another user; CI runs as root.
            eprintln!("skipped: needs root to run a process as nobody");
            return;
        }
        let dir = test_dir("peer");
        let path = dir.join("sock");
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = offer(
            &path,
            move || Ok(vec![l.try_clone()?]),
            move || tx.send(()).unwrap(),
        )
        .unwrap();

        // As created, another user cannot even connect.
        let out = take_as_nobody(&path);
        assert!(out.contains("child: refused: Permission denied"), "{out}");

        // With the socket opened to everyone (the old umask-given mode, or a careless
        // chmod), the credential check still refuses: nothing is sent.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let out = take_as_nobody(&path);
        assert!(
            out.contains("child: refused: the old process closed without handing over"),
            "{out}"
        );
        assert!(rx.try_recv().is_err(), "the old server was told to stop");

        // The same user still takes over.
        let (got, taken) = take(&path).unwrap().expect("still offered");
        assert_eq!(got[0].local_addr().unwrap(), addr);
        taken.ready().unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
