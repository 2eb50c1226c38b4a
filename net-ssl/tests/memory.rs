//! Memory per established, idle TLS connection (both ends in this process).
//! Run with `cargo test -p muon-net-ssl --release --test memory -- --ignored --nocapture
//! --test-threads=1` (one test at a time: the heap counter is process-wide).
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

/// What the server keeps per idle connection (what a server's RSS pays), the client
/// side dropped, for each protocol version.
#[test]
#[ignore = "measurement, prints numbers"]
fn server_side_idle_memory() {
    use net_ssl::TlsVersion;
    const N: usize = 1000;
    for (label, version) in [
        ("TLS 1.3", TlsVersion::Tls13),
        ("TLS 1.2", TlsVersion::Tls12),
    ] {
        let acc = acceptor().max_protocol(version).build().unwrap();
        let con = connector().build().unwrap();
        let before = heap_in_use();
        let mut servers = Vec::with_capacity(N);
        for _ in 0..N {
            con.clear_sessions();
            let mut p = Pair::with(&acc, &con, "localhost");
            p.establish();
            p.client.write(b"ping").unwrap();
            p.server.write(b"pong").unwrap();
            assert!(p.pump());
            let Pair { client, mut server } = p;
            drop(client);
            server.plain = net::Buffer::new();
            server.wire_in = net::Buffer::new();
            server.wire_out = net::Buffer::new();
            servers.push(server);
        }
        let per_conn = (heap_in_use() - before) / N;
        println!("{label}: {per_conn} heap bytes per idle server-side connection");
        drop(servers);
    }
    // The floor: OpenSSL's per-connection object before any byte is exchanged.
    let acc = acceptor().build().unwrap();
    let before = heap_in_use();
    let fresh: Vec<_> = (0..N).map(|_| acc.new_tls_layer(None).unwrap()).collect();
    let per_conn = (heap_in_use() - before) / N;
    println!("new server layer, no handshake yet (SSL_new + layer): {per_conn} heap bytes");
    drop(fresh);
}
