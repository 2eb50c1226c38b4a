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

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
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
pub fn offer<L, F>(
    path: &Path,
    listeners: L,
    on_taken: F,
) -> io::Result<std::thread::JoinHandle<()>>
where
    L: Fn() -> io::Result<Vec<TcpListener>> + Send + 'static,
    F: FnOnce() + Send + 'static,
{
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let unix = UnixListener::bind(path)?;
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
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; the pointers set below point into `iov` and
    // `control`, which outlive the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` is CMSG_SPACE(fd_bytes) long, so the first header and its
    // data area of `fd_bytes` fit; CMSG_FIRSTHDR is non-null for a buffer that size.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast(), fds.len());
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
    let mut control = vec![0u8; space];
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
    // CMSG_NXTHDR walk only within it. Each SCM_RIGHTS descriptor is new and ours,
    // so OwnedFd takes sole ownership of it.
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

    #[test]
    fn listeners_cross_a_unix_socket_and_still_accept() {
        let dir = std::env::temp_dir().join(format!("muon-handover-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
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
}
