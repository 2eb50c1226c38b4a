//! UDP echo: the servers (Muon's `UdpServer`, tokio's `UdpSocket` with one system call
//! per datagram) and a load generator (`udp-load`) that drives any UDP echo server
//! (these, or the C floor `bench/udp_floor.c`) with `sendmmsg`/`recvmmsg` batches, so
//! the generator is not what limits a one-core server.
//!
//! ```text
//! muon-bench udp-server --impl muon|tokio --addr 127.0.0.1:9100
//! muon-bench udp-load --addr 127.0.0.1:9100 --server-pid P --size 64 --flows 256
//! ```
//!
//! By default the load keeps at most `window` datagrams in flight per flow (a closed
//! loop, which finds the server's saturation rate); a datagram not back within 200 ms
//! is counted lost and its slot reused. With `--rate R` it is an open loop instead: R
//! datagrams/s in all, paced over the flows in turn whatever comes back, and every
//! datagram sent and not echoed by 200 ms after the last send is lost (the loss at a
//! given fraction of saturation). With `--count N` it stops after N datagrams sent
//! (for a profile of a fixed amount of work). It prints one JSON line: datagrams/s
//! echoed, lost, and the server's CPU per datagram (`/proc/PID/task/*/schedstat` at
//! the edges of the window; utime+stime where the kernel has no schedstat).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use clap::Args;

use crate::Impl;

/// Options of `muon-bench udp-server`.
#[derive(Args, Debug)]
pub struct UdpServerArgs {
    /// Which server.
    #[arg(long = "impl", value_enum)]
    imp: Impl,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    addr: String,
}

/// Runs the chosen UDP echo server on one thread until the process is killed.
pub fn run_server(args: UdpServerArgs) -> io::Result<()> {
    match args.imp {
        Impl::Muon => muon::udp::UdpServer::builder(args.addr.as_str())
            .name("udp-bench")
            .threads(1)
            .on_datagram(|ctx, d, _, _| {
                ctx.reply(d);
            })
            .build()?
            .run(),
        Impl::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let socket = tokio::net::UdpSocket::bind(args.addr.as_str()).await?;
                let mut buf = vec![0u8; 65_536];
                loop {
                    let (n, peer) = socket.recv_from(&mut buf).await?;
                    // A full socket buffer drops the reply, as a UDP server does.
                    let _ = socket.send_to(&buf[..n], peer).await;
                }
            })
        }
        // The TLS providers are TCP servers; there is no UDP variant of them.
        Impl::MuonRustls | Impl::TokioRustls => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "udp-server: --impl muon or tokio (the rustls servers are TLS over TCP)",
        )),
    }
}

/// Options of `muon-bench udp-load`.
#[derive(Args, Debug)]
pub struct UdpLoadArgs {
    /// The server.
    #[arg(long)]
    addr: SocketAddr,
    /// The server's pid (for its CPU time).
    #[arg(long)]
    server_pid: u32,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Flows (sockets, each its own source port).
    #[arg(long, default_value_t = 1)]
    flows: usize,
    /// Datagrams in flight per flow.
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// Seconds measured (after a quarter second of warm-up).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Label for the JSON line (the server's name).
    #[arg(long, default_value = "")]
    label: String,
    /// Open loop at this many datagrams/s in all (0: closed loop, `window` per flow).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Stop after this many datagrams sent (0: run for `seconds`).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

const BATCH: usize = 64;
const LOST_AFTER: Duration = Duration::from_millis(200);

struct Flow {
    socket: UdpSocket,
    in_flight: usize,
    last_reply: Instant,
}

/// `sendmmsg` of `n` copies of `payload` on a connected socket. Returns how many left.
fn send_batch(fd: i32, payload: &[u8], n: usize) -> usize {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: all-zero mmsghdrs are valid; each points at the one iovec above, which
    // points at `payload`; both outlive the call.
    unsafe {
        let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
        for h in hdrs.iter_mut().take(n) {
            h.msg_hdr.msg_iov = &mut iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        let r = libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT);
        r.max(0) as usize
    }
}

/// `recvmmsg` into `bufs`; returns how many datagrams came.
fn recv_batch(fd: i32, bufs: &mut [u8], size: usize) -> usize {
    let slots = (bufs.len() / size).min(BATCH);
    // SAFETY: each header points at its own iovec over a disjoint `size`-byte slice of
    // `bufs`; all live through the call.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = std::mem::zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
        for i in 0..slots {
            iovs[i] = libc::iovec {
                iov_base: bufs.as_mut_ptr().add(i * size).cast(),
                iov_len: size,
            };
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let r = libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            slots as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        );
        r.max(0) as usize
    }
}

/// Drives the server; prints one JSON line.
pub fn run_load(args: UdpLoadArgs) -> io::Result<()> {
    if args.rate > 0.0 {
        return run_paced(args);
    }
    let window = if args.window > 0 {
        args.window
    } else {
        (256 / args.flows).clamp(1, BATCH)
    };
    let bind = if args.addr.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let mut flows: Vec<Flow> = (0..args.flows)
        .map(|_| {
            let s = UdpSocket::bind(bind)?;
            s.connect(args.addr)?;
            s.set_nonblocking(true)?;
            Ok(Flow {
                socket: s,
                in_flight: 0,
                last_reply: Instant::now(),
            })
        })
        .collect::<io::Result<_>>()?;
    let payload = vec![0x5au8; args.size];
    let slot = args.size.max(1);
    let mut bufs = vec![0u8; slot * BATCH];
    let warm_until = Instant::now() + Duration::from_millis(250);
    let end = warm_until + Duration::from_secs_f64(args.seconds);
    let (mut sent, mut echoed, mut lost) = (0u64, 0u64, 0u64);
    let mut cpu0 = None;
    let mut started = warm_until;
    loop {
        let now = Instant::now();
        if cpu0.is_none() && now >= warm_until {
            cpu0 = Some(crate::proc_stat::cpu_seconds_fine(args.server_pid)?);
            started = now;
            (sent, echoed, lost) = (0, 0, 0);
        }
        if now >= end || (args.count > 0 && sent >= args.count) {
            break;
        }
        for f in flows.iter_mut() {
            let fd = f.socket.as_raw_fd();
            let got = recv_batch(fd, &mut bufs, slot);
            if got > 0 {
                f.in_flight = f.in_flight.saturating_sub(got);
                f.last_reply = now;
                echoed += got as u64;
            } else if f.in_flight > 0 && now.duration_since(f.last_reply) > LOST_AFTER {
                lost += f.in_flight as u64;
                f.in_flight = 0;
                f.last_reply = now;
            }
            let mut room = window - f.in_flight.min(window);
            if args.count > 0 {
                room = room.min(args.count.saturating_sub(sent) as usize);
            }
            if room > 0 {
                let n = send_batch(fd, &payload, room.min(BATCH));
                f.in_flight += n;
                sent += n as u64;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = crate::proc_stat::cpu_seconds_fine(args.server_pid)? - cpu0.unwrap_or(0.0);
    print_line(&args, "saturate", window, secs, (sent, echoed, lost), cpu);
    Ok(())
}

/// One JSON line of results.
fn print_line(
    args: &UdpLoadArgs,
    mode: &str,
    window: usize,
    secs: f64,
    (sent, echoed, lost): (u64, u64, u64),
    cpu: f64,
) {
    println!(
        "{{\"scenario\":\"udp\",\"mode\":\"{}\",\"rate\":{:.0},\"server\":\"{}\",\"size\":{},\"flows\":{},\"window\":{},\"seconds\":{:.3},\"sent\":{},\"echoed\":{},\"lost\":{},\"dgrams_per_s\":{:.0},\"server_cpu_s\":{:.3},\"server_cpu_ns_per_dgram\":{:.1}}}",
        mode,
        args.rate,
        args.label,
        args.size,
        args.flows,
        window,
        secs,
        sent,
        echoed,
        lost,
        echoed as f64 / secs,
        cpu,
        if echoed > 0 { cpu * 1e9 / echoed as f64 } else { 0.0 }
    );
}

/// The open loop: `rate` datagrams/s over the flows in turn, for `seconds` (no
/// warm-up: every datagram sent is accounted for), then 200 ms more to collect the
/// last echoes. Lost = sent - echoed.
fn run_paced(args: UdpLoadArgs) -> io::Result<()> {
    let bind = if args.addr.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let sockets: Vec<UdpSocket> = (0..args.flows.max(1))
        .map(|_| {
            let s = UdpSocket::bind(bind)?;
            s.connect(args.addr)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<io::Result<_>>()?;
    let payload = vec![0x5au8; args.size];
    let slot = args.size.max(1);
    let mut bufs = vec![0u8; slot * BATCH];
    let cpu0 = crate::proc_stat::cpu_seconds_fine(args.server_pid)?;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let (mut sent, mut echoed) = (0u64, 0u64);
    let mut next = 0usize;
    let mut last_send = start;
    let mut stopped: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let sending = now < end && (args.count == 0 || sent < args.count);
        if !sending {
            let since = *stopped.get_or_insert(now);
            if now.duration_since(since) > LOST_AFTER {
                break;
            }
        }
        if sending {
            // What the schedule allows by now, in batches of at most 64 per flow.
            let due = (now.duration_since(start).as_secs_f64() * args.rate) as u64;
            let mut owed = due.saturating_sub(sent);
            if args.count > 0 {
                owed = owed.min(args.count - sent);
            }
            while owed > 0 {
                let fd = sockets[next].as_raw_fd();
                next = (next + 1) % sockets.len();
                let n = send_batch(fd, &payload, (owed as usize).min(BATCH)) as u64;
                sent += n;
                owed -= n.min(owed);
                if n == 0 {
                    break;
                }
            }
            last_send = now;
        }
        for s in &sockets {
            loop {
                let got = recv_batch(s.as_raw_fd(), &mut bufs, slot);
                echoed += got as u64;
                if got < BATCH {
                    break;
                }
            }
        }
    }
    let secs = last_send.duration_since(start).as_secs_f64().max(1e-9);
    let cpu = crate::proc_stat::cpu_seconds_fine(args.server_pid)? - cpu0;
    let lost = sent.saturating_sub(echoed);
    print_line(&args, "paced", 0, secs, (sent, echoed, lost), cpu);
    Ok(())
}
