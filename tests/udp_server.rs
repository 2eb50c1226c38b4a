//! The UDP server on real loopback sockets: echo over IPv4 and IPv6, replies from the
//! local address a request hit, the size limits, truncation, flows spread over loops,
//! sends from other threads, GSO/GRO, and a stop in the middle of a flood.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{payload, wait_until, IO_TIMEOUT};
use muon::udp::{UdpServer, UdpServerHandle};

/// The stop test counts the process's descriptors and threads: the tests of this file
/// run one at a time so that another test's sockets do not show up in the count.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits (bounded) until the server's counters satisfy `pred`: they are added to
/// right after the system call, so a reply can reach the client first.
fn stats_reach(
    server: &UdpServerHandle,
    pred: impl Fn(&muon::udp::UdpStats) -> bool,
) -> muon::udp::UdpStats {
    wait_until(IO_TIMEOUT, || pred(&server.stats()));
    server.stats()
}

fn echo_server(addr: &str, threads: usize) -> UdpServerHandle {
    UdpServer::builder(addr)
        .name("udp-echo")
        .threads(threads)
        .on_datagram(|ctx, d, _peer, _local| {
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap()
}

fn client(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Receives one datagram (bounded by IO_TIMEOUT: a timeout fails the test).
fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = s
        .recv_from(&mut buf)
        .expect("no datagram within the timeout");
    buf.truncate(n);
    (buf, from)
}

#[test]
fn echo_over_ipv4_and_ipv6() {
    let _serial = serial();
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let server = echo_server(addr, 2);
        let c = client(if addr.starts_with('[') {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        });
        for i in 0..20u64 {
            let msg = payload(100 + i as usize, i);
            c.send_to(&msg, server.local_addr()).unwrap();
            let (got, from) = recv(&c);
            assert_eq!(got, msg);
            assert_eq!(from, server.local_addr());
        }
        let s = stats_reach(&server, |s| s.datagrams_out >= 20);
        assert_eq!((s.datagrams_in, s.datagrams_out), (20, 20));
        assert_eq!(s.bytes_in, (0..20).map(|i| 100 + i).sum::<u64>());
        assert!(server.stop());
    }
}

/// A server bound to one address asks for no pktinfo (every datagram it receives was
/// sent to that address): the callback still gets that address as the local one, and
/// the reply leaves from it, over IPv4 and IPv6.
#[test]
fn a_server_bound_to_one_address_knows_its_local_address() {
    let _serial = serial();
    for (bind, from) in [("127.0.0.2:0", "127.0.0.1:0"), ("[::1]:0", "[::1]:0")] {
        let server = UdpServer::builder(bind)
            .threads(2)
            .on_datagram(|ctx, _d, _peer, local| {
                ctx.reply(local.to_string().as_bytes());
            })
            .build()
            .unwrap()
            .start()
            .unwrap();
        let c = client(from);
        c.send_to(b"where", server.local_addr()).unwrap();
        let (got, replier) = recv(&c);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            server.local_addr().to_string()
        );
        assert_eq!(replier, server.local_addr());
        assert!(server.stop());
    }
}

#[test]
fn replies_leave_from_the_address_the_request_hit() {
    let _serial = serial();
    // Bound to the wildcard: without IP_PKTINFO on the reply, the kernel would pick
    // 127.0.0.1 as the source for a client on 127.0.0.1, whatever address it asked.
    let server = UdpServer::builder("0.0.0.0:0")
        .threads(2)
        .on_datagram(|ctx, _d, _peer, local| {
            ctx.reply(local.ip().to_string().as_bytes());
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let port = server.local_addr().port();
    let c = client("127.0.0.1:0");
    for target in ["127.0.0.2", "127.0.0.1", "127.0.0.3"] {
        let to = SocketAddr::new(target.parse().unwrap(), port);
        c.send_to(b"where?", to).unwrap();
        let (got, from) = recv(&c);
        assert_eq!(
            from, to,
            "the reply must come from the address the client used"
        );
        assert_eq!(
            String::from_utf8(got).unwrap(),
            target,
            "local address given to the callback"
        );
    }
    assert!(server.stop());
}

#[test]
fn datagrams_of_0_and_65507_bytes() {
    let _serial = serial();
    let server = echo_server("127.0.0.1:0", 1);
    let c = client("127.0.0.1:0");
    for len in [0usize, 1, 1472, 65_507] {
        let msg = payload(len, len as u64);
        c.send_to(&msg, server.local_addr()).unwrap();
        let (got, _) = recv(&c);
        assert_eq!(got.len(), len);
        assert_eq!(got, msg);
    }
    assert_eq!(server.stats().drops, Default::default());
    assert!(server.stop());
}

#[test]
fn a_datagram_larger_than_the_buffer_is_counted_not_cut() {
    let _serial = serial();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .max_datagram_size(1500)
        .on_datagram(move |ctx, d, _, _| {
            seen2.lock().unwrap().push(d.len());
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let c = client("127.0.0.1:0");
    c.send_to(&payload(1501, 1), server.local_addr()).unwrap();
    c.send_to(&payload(1500, 2), server.local_addr()).unwrap();
    // One flow stays on one socket in order: the 1,500-byte reply comes after the
    // oversized datagram was handled.
    let (got, _) = recv(&c);
    assert_eq!(got, payload(1500, 2));
    assert_eq!(*seen.lock().unwrap(), vec![1500]);
    let s = server.stats();
    assert_eq!(s.drops.truncated, 1);
    assert_eq!(s.datagrams_in, 1);
    assert!(server.stop());
}

#[test]
fn thousands_of_source_ports_spread_over_every_loop() {
    let _serial = serial();
    const LOOPS: usize = 4;
    const FLOWS: usize = 4000;
    const WINDOW: usize = 200;
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(LOOPS)
        .on_datagram(|ctx, d, _, _| {
            let mut reply = d.to_vec();
            reply.push(ctx.loop_ctx().index() as u8);
            ctx.reply(&reply);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let mut per_loop = [0usize; LOOPS];
    let mut answered = 0;
    for start in (0..FLOWS).step_by(WINDOW) {
        let socks: Vec<UdpSocket> = (0..WINDOW).map(|_| client("127.0.0.1:0")).collect();
        let ports: HashSet<u16> = socks
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        assert_eq!(ports.len(), WINDOW);
        for (i, s) in socks.iter().enumerate() {
            s.send_to(&((start + i) as u32).to_be_bytes(), server.local_addr())
                .unwrap();
        }
        for (i, s) in socks.iter().enumerate() {
            let (got, _) = recv(s);
            assert_eq!(&got[..4], &((start + i) as u32).to_be_bytes());
            per_loop[got[4] as usize] += 1;
            answered += 1;
        }
    }
    assert_eq!(answered, FLOWS);
    for (i, n) in per_loop.iter().enumerate() {
        // A fair hash puts about FLOWS/LOOPS = 1000 on each; far below means a loop
        // is not serving its socket.
        assert!(
            *n > FLOWS / LOOPS / 4,
            "loop {i} served only {n} of {FLOWS} flows: {per_loop:?}"
        );
    }
    assert_eq!(server.stats().datagrams_in, FLOWS as u64);
    assert!(server.stop());
}

#[test]
fn sends_from_other_threads_arrive_in_order() {
    let _serial = serial();
    const THREADS: usize = 4;
    const EACH: u32 = 200;
    let server = echo_server("127.0.0.1:0", 3);
    let clients: Vec<UdpSocket> = (0..THREADS).map(|_| client("127.0.0.1:0")).collect();
    let senders: Vec<_> = clients
        .iter()
        .map(|c| {
            let (sender, to) = (server.sender(), c.local_addr().unwrap());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    sender.send_to(&i.to_be_bytes(), to).unwrap();
                }
            })
        })
        .collect();
    for t in senders {
        t.join().unwrap();
    }
    for c in &clients {
        for i in 0..EACH {
            let (got, from) = recv(c);
            assert_eq!(
                got,
                i.to_be_bytes(),
                "datagrams to one peer keep their order"
            );
            assert_eq!(from.port(), server.local_addr().port());
        }
    }
    let s = stats_reach(&server, |s| s.datagrams_out >= THREADS as u64 * EACH as u64);
    assert_eq!(s.datagrams_out, THREADS as u64 * EACH as u64);
    assert!(server.stop());
    // After the stop a send is refused and counted, not lost silently.
    let err = server
        .sender()
        .send_to(b"late", clients[0].local_addr().unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    assert_eq!(server.stats().drops.stopped, 1);
}

/// A burst of replies to one peer leaves as one GSO message, and a server with GRO
/// receives it coalesced but delivers each datagram on its own.
#[test]
fn gso_replies_and_gro_receives() {
    let _serial = serial();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let sizes2 = sizes.clone();
    let receiver = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(move |_, d, _, _| sizes2.lock().unwrap().push(d.len()))
        .build()
        .unwrap()
        .start()
        .unwrap();
    let to = receiver.local_addr();
    let sender = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(move |ctx, d, _, _| {
            // 10 full 1,000-byte datagrams and a shorter last one: one GSO run.
            for i in 0..10u8 {
                ctx.send_to(&[i; 1000], to);
            }
            ctx.send_to(&[99; 300], to);
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let c = client("127.0.0.1:0");
    c.send_to(b"go", sender.local_addr()).unwrap();
    assert_eq!(recv(&c).0, b"go");
    assert!(
        wait_until(IO_TIMEOUT, || sizes.lock().unwrap().len() >= 11),
        "receiver got {:?}",
        sizes.lock().unwrap()
    );
    let mut want = vec![1000; 10];
    want.push(300);
    assert_eq!(*sizes.lock().unwrap(), want);
    let (s, r) = (
        stats_reach(&sender, |s| s.datagrams_out >= 12),
        receiver.stats(),
    );
    assert_eq!(s.datagrams_out, 12);
    assert_eq!(s.gso_sends, 1, "{s:?}");
    assert_eq!(r.datagrams_in, 11);
    assert_eq!(r.gro_receives, 1, "{r:?}");
    assert!(sender.stop() && receiver.stop());
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

/// Clients flood while the server stops: the stop drains, every datagram delivered is
/// answered or counted as dropped, and no socket or thread is left behind.
#[test]
fn a_flood_while_the_server_stops() {
    let _serial = serial();
    let fds_before = fd_count();
    let server = UdpServer::builder("127.0.0.1:0")
        .name("udpflood")
        .threads(3)
        .on_datagram(|ctx, d, _, _| {
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    assert!(thread_names().iter().any(|n| n.starts_with("udpflood")));
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let replies = Arc::new(AtomicUsize::new(0));
    let floods: Vec<_> = (0..4)
        .map(|k| {
            let (stop, replies) = (stop.clone(), replies.clone());
            std::thread::spawn(move || {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_nonblocking(true).unwrap();
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut buf = [0u8; 256];
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && sent < 2_000_000
                {
                    if c.send_to(&payload(64, k), addr).is_ok() {
                        sent += 1;
                    }
                    while c.recv(&mut buf).is_ok() {
                        replies.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    assert!(wait_until(IO_TIMEOUT, || replies.load(Ordering::Relaxed) > 2000));
    assert!(server.stop(), "the stop must drain in time");
    stop.store(true, Ordering::Relaxed);
    for t in floods {
        t.join().unwrap();
    }
    let s = server.stats();
    let d = s.drops;
    assert!(s.datagrams_in > 2000);
    assert_eq!(
        s.datagrams_in,
        s.datagrams_out + d.queue_full + d.no_buffer + d.send_error + d.stopped,
        "every datagram delivered is answered or counted: {s:?}"
    );
    assert_eq!(d.truncated + d.panicked, 0);
    assert!(
        !thread_names().iter().any(|n| n.starts_with("udpflood")),
        "loop threads left: {:?}",
        thread_names()
    );
    drop(server);
    assert_eq!(fd_count(), fds_before, "sockets or pollers left open");
}

#[test]
fn a_panicking_callback_is_counted_and_the_loop_serves_on() {
    let _serial = serial();
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(|ctx, d, _, _| {
            if d == b"boom" {
                panic!("bad datagram");
            }
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let c = client("127.0.0.1:0");
    c.send_to(b"boom", server.local_addr()).unwrap();
    c.send_to(b"fine", server.local_addr()).unwrap();
    assert_eq!(recv(&c).0, b"fine");
    assert_eq!(server.stats().drops.panicked, 1);
    assert!(server.stop());
}

#[test]
fn ipv6_replies_from_the_address_hit_and_ipv4_on_a_dual_stack_socket() {
    let _serial = serial();
    let server = UdpServer::builder("[::]:0")
        .threads(1)
        .on_datagram(|ctx, _d, _peer, local| {
            ctx.reply(local.ip().to_string().as_bytes());
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let port = server.local_addr().port();
    let mut seen: HashMap<IpAddr, String> = HashMap::new();
    for (bind, target) in [("[::1]:0", "::1"), ("127.0.0.1:0", "127.0.0.2")] {
        let c = client(bind);
        let to = SocketAddr::new(target.parse().unwrap(), port);
        c.send_to(b"?", to).unwrap();
        let (got, from) = recv(&c);
        assert_eq!(from, to);
        seen.insert(to.ip(), String::from_utf8(got).unwrap());
    }
    assert_eq!(seen[&"::1".parse::<IpAddr>().unwrap()], "::1");
    assert_eq!(seen[&"127.0.0.2".parse::<IpAddr>().unwrap()], "127.0.0.2");
    assert!(server.stop());
}

/// The example as users run it: two processes share one port with `--reuse-port`,
/// and every flow is answered by one of them.
#[test]
fn udp_echo_example_shares_a_port_across_processes() {
    let _serial = serial();
    let (_first, addr) =
        common::example::start_example("udp_echo", &["--threads", "2", "--reuse-port"]);
    let (second, lines) = common::example::spawn_logging(
        "udp_echo",
        &["--addr", &addr, "--threads", "1", "--reuse-port"],
        |_| {},
    );
    // Killed (and reaped) however the test ends.
    let mut second = common::example::Killed(second);
    // Every line until the one that says it listens, within one bound (the process
    // logs other lines first).
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let mut second_up = false;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(&format!("listening on {addr}")) => {
                second_up = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let addr: SocketAddr = addr.parse().unwrap();
    let mut answered = 0;
    for i in 0..200u32 {
        let c = client("127.0.0.1:0");
        c.send_to(&i.to_be_bytes(), addr).unwrap();
        assert_eq!(recv(&c).0, i.to_be_bytes());
        answered += 1;
    }
    assert!(
        second_up,
        "the second process could not bind the shared port"
    );
    assert_eq!(answered, 200);
    // SIGTERM: the second process drains, stops and logs its counters; the kernel
    // gave it a share of the 200 flows.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(second.0.id() as i32, libc::SIGTERM) },
        0
    );
    let deadline = Instant::now() + IO_TIMEOUT;
    let stopped = std::iter::from_fn(|| lines.recv_deadline(deadline).ok())
        .find(|l| l.contains("stopped (drained: true)"))
        .expect("the second process logs its stop in time");
    let served: u64 = stopped
        .split("datagrams_in: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("datagrams_in in the stop line");
    assert!(
        served > 0 && served < 200,
        "second process served {served} of 200 flows"
    );
    assert!(common::process::wait_within(&mut second.0, IO_TIMEOUT, "udp_echo").success());
}

/// A run of replies to one peer is cut where a datagram is shorter than the run's
/// size: every datagram arrives with its own length, in order, whatever the sizes.
#[test]
fn mixed_sizes_to_one_peer_keep_their_boundaries() {
    let _serial = serial();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let sizes2 = sizes.clone();
    let receiver = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .gro(false)
        .on_datagram(move |_, d, _, _| sizes2.lock().unwrap().push(d.len()))
        .build()
        .unwrap()
        .start()
        .unwrap();
    let to = receiver.local_addr();
    let pattern = [1000usize, 1000, 500, 1000, 1000, 1000, 0, 7, 7, 1200, 1000];
    let sender = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(move |ctx, d, _, _| {
            for (i, len) in pattern.iter().enumerate() {
                ctx.send_to(&vec![i as u8; *len], to);
            }
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let c = client("127.0.0.1:0");
    c.send_to(b"go", sender.local_addr()).unwrap();
    assert_eq!(recv(&c).0, b"go");
    assert!(
        wait_until(IO_TIMEOUT, || sizes.lock().unwrap().len() >= pattern.len()),
        "receiver got {:?}",
        sizes.lock().unwrap()
    );
    assert_eq!(*sizes.lock().unwrap(), pattern);
    let s = stats_reach(&sender, |s| s.datagrams_out > pattern.len() as u64);
    assert!(
        s.gso_sends >= 2,
        "the full-size runs left as GSO messages: {s:?}"
    );
    assert!(sender.stop() && receiver.stop());
}

/// A loop spends at most its read budget on one socket before its other work runs:
/// with 1,000 datagrams waiting, a task queued by the first callback runs after 256
/// deliveries, not after all of them.
#[test]
fn the_read_budget_lets_other_work_run() {
    let _serial = serial();
    const WAITING: usize = 1000;
    let delivered = Arc::new(AtomicUsize::new(0));
    let seen_by_task = Arc::new(Mutex::new(None));
    let (d2, s2) = (delivered.clone(), seen_by_task.clone());
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .read_budget(256)
        .recv_buffer_size(4 << 20)
        .on_datagram(move |ctx, _, _, _| {
            if d2.fetch_add(1, Ordering::SeqCst) == 0 {
                let (d3, s3) = (d2.clone(), s2.clone());
                ctx.loop_ctx().handle().queue_in_loop(move |_| {
                    *s3.lock().unwrap() = Some(d3.load(Ordering::SeqCst));
                });
            }
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    // Hold the loop while the datagrams pile up in its socket.
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let (held_tx, held_rx) = crossbeam_channel::bounded::<()>(1);
    server.loops()[0].queue_in_loop(move |_| {
        let _ = held_tx.send(());
        let _ = release_rx.recv_timeout(IO_TIMEOUT);
    });
    held_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("the loop never ran the holding task");
    let c = client("127.0.0.1:0");
    for i in 0..WAITING as u32 {
        c.send_to(&i.to_be_bytes(), server.local_addr()).unwrap();
    }
    release_tx.send(()).unwrap();
    assert!(wait_until(IO_TIMEOUT, || delivered.load(Ordering::SeqCst) == WAITING));
    let at_task = seen_by_task.lock().unwrap().expect("the task never ran");
    assert_eq!(at_task, 256, "the task ran after {at_task} deliveries");
    assert!(server.stop());
}

/// A reply to a port nobody listens on comes back as ICMP port unreachable: counted
/// (`drops.unreachable`), and the socket serves on.
#[test]
fn icmp_errors_for_sends_are_counted() {
    let _serial = serial();
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(move |ctx, d, _, _| {
            ctx.send_to(b"to nobody", closed);
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let c = client("127.0.0.1:0");
    for i in 0..3u8 {
        c.send_to(&[i], server.local_addr()).unwrap();
        assert_eq!(recv(&c).0, [i], "the socket serves on after an ICMP error");
    }
    let s = stats_reach(&server, |s| s.drops.unreachable >= 3);
    assert_eq!(s.drops.unreachable, 3, "{s:?}");
    assert!(server.stop());
}
