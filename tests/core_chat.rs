//! The chat server's building blocks over real sockets: length-prefixed frames,
//! broadcast across worker loops, ordering, churn, slow receivers, oversized frames.
//! The server here is built exactly as examples/chat_server.rs builds it.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tls::*;
use common::*;
use muon::codec::LengthHeaderCodec;
use muon::{EventLoop, RetryPolicy, TcpClient};

const CLIENTS: usize = 50;
const MESSAGES: u32 = 200;

fn chat_server(tls: bool, threads: usize, high_water: usize) -> (muon::ServerHandle, Room) {
    let codec = LengthHeaderCodec::new(64 * 1024);
    let loops_used: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let seen = loops_used.clone();
    let up = Arc::new(AtomicUsize::new(0));
    let seen_up = up.clone();
    let mut b = muon::TcpServer::builder("127.0.0.1:0")
        .name("chat")
        .threads(threads)
        .on_connection(move |conn| {
            if conn.is_connected() {
                seen.lock().unwrap().insert(conn.id().loop_index());
                // Counted once the connection is in its loop's broadcast set.
                seen_up.fetch_add(1, Ordering::SeqCst);
            }
        })
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |conn, payload| {
                let frame = Arc::new(codec.frame(payload));
                conn.for_each_sibling(move |peer| {
                    peer.send(&frame);
                });
            })
        })
        .high_water_mark(high_water)
        .on_high_water(|conn, queued| {
            log::warn!("{conn}: not reading ({queued} bytes queued); disconnecting");
            conn.force_close();
        });
    if tls {
        b = b.tls(acceptor_builder().build().unwrap());
    }
    (b.build().unwrap().start().unwrap(), Room { loops_used, up })
}

/// What the test sees of the server's side of the room.
struct Room {
    loops_used: Arc<Mutex<HashSet<usize>>>,
    up: Arc<AtomicUsize>,
}

impl Room {
    /// Waits (bounded) until `n` connections have come up and joined the broadcast.
    fn wait_joined(&self, n: usize) -> bool {
        wait_until(Duration::from_secs(10), || {
            self.up.load(Ordering::SeqCst) >= n
        })
    }
}

/// What one chat client saw: the next sequence number expected from each sender.
struct Seen {
    next: Vec<u32>,
    count: usize,
    out_of_order: usize,
}

fn chat_client(
    addr: std::net::SocketAddr,
    tls: bool,
    lp: &muon::LoopHandle,
    idx: usize,
    done: crossbeam_channel::Sender<(usize, usize, usize)>,
    expect: usize,
    received: Arc<AtomicUsize>,
) -> TcpClient {
    let codec = LengthHeaderCodec::default();
    let mut b = TcpClient::builder(&addr.to_string())
        .event_loop(lp.clone())
        .retry(RetryPolicy::no_retry())
        .on_connection(|conn| {
            if conn.is_connected() {
                conn.extensions_mut().insert(Seen {
                    next: vec![0; CLIENTS],
                    count: 0,
                    out_of_order: 0,
                });
            }
        })
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |conn, frame| {
                let sender = u16::from_be_bytes([frame[0], frame[1]]) as usize;
                let seq = u32::from_be_bytes([frame[2], frame[3], frame[4], frame[5]]);
                let Some(seen) = conn.extensions_mut().get_mut::<Seen>() else {
                    return;
                };
                if seen.next[sender] != seq {
                    seen.out_of_order += 1;
                }
                seen.next[sender] = seq + 1;
                seen.count += 1;
                received.fetch_add(1, Ordering::Relaxed);
                if seen.count == expect {
                    let _ = done.send((idx, seen.count, seen.out_of_order));
                }
            })
        });
    if tls {
        let c = muon::ssl::TlsConnector::builder()
            .ca_file(cert("ca.crt"))
            .build()
            .unwrap();
        b = b.tls(c.for_host("localhost"));
    }
    b.connect().unwrap()
}

fn room(tls: bool) {
    init_logging();
    let threads = 4;
    let (server, room) = chat_server(tls, threads, 16 << 20);
    let addr = server.local_addr();
    let lp = EventLoop::new("chat-clients").unwrap();
    let lh = lp.handle();
    let lp_thread = std::thread::spawn(move || lp.run());
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let expect = CLIENTS * MESSAGES as usize;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| chat_client(addr, tls, &lh, i, done_tx.clone(), expect, Arc::default()))
        .collect();
    let handles: Vec<_> = clients
        .iter()
        .map(|c| c.wait_connected(IO_TIMEOUT).unwrap())
        .collect();
    assert!(room.wait_joined(CLIENTS));
    assert_eq!(
        room.loops_used.lock().unwrap().len(),
        threads,
        "clients on every worker loop"
    );

    // Others join and leave while the room talks.
    let churn_lh = lh.clone();
    let churn = std::thread::spawn(move || {
        for _ in 0..40 {
            let (tx, _rx) = crossbeam_channel::unbounded();
            let c = chat_client(addr, tls, &churn_lh, 0, tx, usize::MAX, Arc::default());
            let _ = c.wait_connected(IO_TIMEOUT);
            drop(c);
        }
    });
    for seq in 0..MESSAGES {
        for (sender, h) in handles.iter().enumerate() {
            let mut msg = Vec::with_capacity(64);
            msg.extend_from_slice(&(sender as u16).to_be_bytes());
            msg.extend_from_slice(&seq.to_be_bytes());
            msg.extend_from_slice(&[b'x'; 32]);
            assert!(h.send(LengthHeaderCodec::default().frame(&msg)));
        }
    }
    churn.join().unwrap();
    let mut finished = HashSet::new();
    while finished.len() < CLIENTS {
        let (idx, count, out_of_order) = done_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {CLIENTS} clients got everything",
                    finished.len()
                )
            });
        assert_eq!(count, expect);
        assert_eq!(out_of_order, 0, "client {idx} saw messages out of order");
        assert!(finished.insert(idx), "client {idx} finished twice");
    }
    println!(
        "chat (tls={tls}): {CLIENTS} clients x {MESSAGES} messages, {} deliveries, 40 churners",
        CLIENTS * expect
    );
    drop(clients);
    lh.quit();
    lp_thread.join().unwrap().unwrap();
    assert!(server.stop());
}

#[test]
fn fifty_clients_everyone_gets_everything_in_order_plain() {
    room(false);
}

#[test]
fn fifty_clients_everyone_gets_everything_in_order_tls() {
    room(true);
}

#[test]
fn slow_receiver_is_cut_off_while_the_room_goes_on() {
    init_logging();
    let high_water = 2 << 20;
    let (server, room) = chat_server(false, 2, high_water);
    let addr = server.local_addr();
    // Joins and never reads.
    let slow = connect(addr);
    let lp = EventLoop::new("chat-clients").unwrap();
    let lh = lp.handle();
    let lp_thread = std::thread::spawn(move || lp.run());
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let talkers = 5;
    // 20 MiB for every receiver, far more than the kernel buffers for the slow one,
    // sent in rounds that the talkers keep up with (as people chatting would).
    let rounds = 25;
    let per_round = 40u32;
    let size = 4096;
    let expect = talkers * (rounds * per_round) as usize;
    let counters: Vec<Arc<AtomicUsize>> = (0..talkers).map(|_| Arc::default()).collect();
    let clients: Vec<_> = (0..talkers)
        .map(|i| {
            chat_client(
                addr,
                false,
                &lh,
                i,
                done_tx.clone(),
                expect,
                counters[i].clone(),
            )
        })
        .collect();
    let handles: Vec<_> = clients
        .iter()
        .map(|c| c.wait_connected(IO_TIMEOUT).unwrap())
        .collect();
    assert!(room.wait_joined(talkers + 1));
    for round in 0..rounds {
        for seq in round * per_round..(round + 1) * per_round {
            for (sender, h) in handles.iter().enumerate() {
                let mut msg = Vec::with_capacity(size);
                msg.extend_from_slice(&(sender as u16).to_be_bytes());
                msg.extend_from_slice(&seq.to_be_bytes());
                msg.resize(size, b'y');
                assert!(h.send(LengthHeaderCodec::default().frame(&msg)));
            }
        }
        let target = talkers * ((round + 1) * per_round) as usize;
        assert!(
            wait_until(Duration::from_secs(30), || counters
                .iter()
                .all(|c| c.load(Ordering::Relaxed) >= target)),
            "talkers fell behind in round {round}"
        );
    }
    for _ in 0..talkers {
        let (idx, count, ooo) = done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("talkers keep chatting");
        assert_eq!((count, ooo), (expect, 0), "talker {idx}");
    }
    let line =
        wait_for_log(IO_TIMEOUT, |l| l.contains("not reading")).expect("slow receiver cut off");
    let queued: usize = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // Bounded: the mark plus one broadcast frame.
    assert!(
        queued <= high_water + size + 4,
        "queued {queued} before the cut"
    );
    assert!(wait_until(Duration::from_secs(10), || server
        .connection_count()
        == talkers));
    drop((slow, clients));
    lh.quit();
    lp_thread.join().unwrap().unwrap();
    assert!(server.stop());
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    init_logging();
    let (server, room) = chat_server(false, 1, 1 << 20);
    let mut good = connect(server.local_addr());
    let mut bad = connect(server.local_addr());
    assert!(room.wait_joined(2));
    bad.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert!(expect_closed(&mut bad, "the oversized frame's sender").is_empty());
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("exceeds the maximum")).is_some());
    let frame = LengthHeaderCodec::default().frame(b"still chatting");
    good.write_all(&frame).unwrap();
    let mut back = vec![0; frame.len()];
    good.read_exact(&mut back).unwrap();
    assert_eq!(back, frame);
    drop(good);
    assert!(server.stop());
}
