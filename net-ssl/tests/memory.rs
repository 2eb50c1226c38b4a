//! Memory per established, idle TLS connection (both ends in this process).
//! Run with `cargo test -p muon-net-ssl --test memory -- --ignored --nocapture`.
mod common;

use common::{acceptor, connector, Pair};

fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads glibc's allocator statistics.
    unsafe { libc::mallinfo2().uordblks }
}

#[test]
#[ignore = "measurement, prints numbers"]
fn idle_connection_memory() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    const N: usize = 500;
    for (label, reuse) in [("full handshakes", false), ("resumed", true)] {
        if !reuse {
            con.clear_sessions();
        }
        let before = heap_in_use();
        let mut pairs = Vec::with_capacity(N);
        for _ in 0..N {
            if !reuse {
                con.clear_sessions();
            }
            let mut p = Pair::with(&acc, &con, "localhost");
            p.establish();
            p.client.write(b"ping").unwrap();
            p.server.write(b"pong").unwrap();
            assert!(p.pump());
            for end in [&mut p.client, &mut p.server] {
                end.plain = net::Buffer::new();
                end.wire_in = net::Buffer::new();
                end.wire_out = net::Buffer::new();
            }
            pairs.push(p);
        }
        let per_pair = (heap_in_use() - before) / N;
        println!(
            "{label}: {per_pair} bytes per client+server pair (~{} per side)",
            per_pair / 2
        );
        drop(pairs);
    }
}
