//! The resolver against DNS servers the test runs itself (a Muon UDP responder and a
//! TCP one on the same port, answering from a small zone): A and AAAA, CNAME chains,
//! search domains, NXDOMAIN, a nameserver that never answers, truncation that forces
//! TCP, TTL expiry, the hosts file.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wait_until, BuilderExt, IO_TIMEOUT};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::BinDecodable;
use muon::resolve::{ResolveError, Resolver, ResolverConfig};
use muon::udp::{UdpServer, UdpServerHandle};
use muon::{ServerHandle, TcpServer};

/// Records by lower-case absolute name.
#[derive(Default, Clone)]
struct Zone {
    records: HashMap<String, Vec<(RData, u32)>>,
}

impl Zone {
    fn add(mut self, name: &str, data: RData, ttl: u32) -> Self {
        self.records
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push((data, ttl));
        self
    }

    fn answer(&self, query: &[u8], udp: bool, truncate: bool) -> Option<Vec<u8>> {
        let q = Message::from_bytes(query).ok()?;
        let question = q.queries().first()?.clone();
        let mut m = Message::new();
        m.set_id(q.id())
            .set_message_type(MessageType::Response)
            .set_recursion_desired(true)
            .set_recursion_available(true)
            .add_query(question.clone());
        if udp && truncate {
            m.set_truncated(true);
            return m.to_vec().ok();
        }
        let mut name = question.name().to_ascii().to_ascii_lowercase();
        if !self.records.contains_key(&name) {
            m.set_response_code(ResponseCode::NXDomain);
            return m.to_vec().ok();
        }
        for _ in 0..10 {
            let Some(rs) = self.records.get(&name) else {
                break;
            };
            let owner = Name::from_ascii(&name).unwrap();
            let mut next = None;
            for (data, ttl) in rs {
                let keep = match data {
                    RData::CNAME(c) => {
                        next = Some(c.0.to_ascii().to_ascii_lowercase());
                        true
                    }
                    d => d.record_type() == question.query_type(),
                };
                if keep {
                    m.add_answer(Record::from_rdata(owner.clone(), *ttl, data.clone()));
                }
            }
            match next {
                Some(n) => name = n,
                None => break,
            }
        }
        m.to_vec().ok()
    }
}

/// A DNS server on 127.0.0.1 (UDP and TCP on one port) answering from a zone.
struct Dns {
    udp: UdpServerHandle,
    tcp: ServerHandle,
    queries: Arc<Mutex<Vec<(String, &'static str)>>>,
    truncate: Arc<AtomicBool>,
    /// The zone both sides answer from (a test may change it between queries).
    zone: Arc<Mutex<Zone>>,
}

impl Dns {
    fn start(zone: Zone) -> Dns {
        let zone = Arc::new(Mutex::new(zone));
        let queries: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
        let truncate = Arc::new(AtomicBool::new(false));
        // One port for both: the TCP listener picks it, the UDP sockets join it (a
        // parallel test may hold that UDP port: then try another).
        for _ in 0..20 {
            let tcp = tcp_responder(zone.clone(), queries.clone());
            let port = tcp.local_addr().port();
            let (z, log, tr) = (zone.clone(), queries.clone(), truncate.clone());
            let udp = UdpServer::builder(("127.0.0.1", port))
                .name("dns-udp")
                .threads(1)
                .on_datagram(move |ctx, d, _, _| {
                    if let Ok(m) = Message::from_bytes(d) {
                        if let Some(q) = m.queries().first() {
                            log.lock().unwrap().push((q.name().to_ascii(), "udp"));
                        }
                    }
                    let reply = z.lock().unwrap().answer(d, true, tr.load(Ordering::SeqCst));
                    if let Some(reply) = reply {
                        ctx.reply(&reply);
                    }
                })
                .build();
            let Ok(udp) = udp else { continue };
            return Dns {
                udp: udp.start().unwrap(),
                tcp: tcp.start().unwrap(),
                queries,
                truncate,
                zone,
            };
        }
        panic!("no port free for both UDP and TCP");
    }

    fn port(&self) -> u16 {
        self.udp.local_addr().port()
    }

    fn asked(&self) -> Vec<(String, &'static str)> {
        self.queries.lock().unwrap().clone()
    }

    /// How many questions (A and AAAA, UDP and TCP) named `name`.
    fn asked_for(&self, name: &str) -> usize {
        self.asked().iter().filter(|(n, _)| n == name).count()
    }

    /// Answers from `zone` from now on.
    fn set_zone(&self, zone: Zone) {
        *self.zone.lock().unwrap() = zone;
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.udp.stop();
        self.tcp.stop();
    }
}

/// The TCP side: length-prefixed queries, length-prefixed answers.
fn tcp_responder(
    zone: Arc<Mutex<Zone>>,
    log: Arc<Mutex<Vec<(String, &'static str)>>>,
) -> TcpServer {
    TcpServer::builder("127.0.0.1:0")
        .name("dns-tcp")
        .threads(1)
        .on_message(move |conn, input| {
            while input.readable_bytes() >= 2 {
                let b = input.peek();
                let len = u16::from_be_bytes([b[0], b[1]]) as usize;
                if input.readable_bytes() < 2 + len {
                    break;
                }
                let q = b[2..2 + len].to_vec();
                input.retrieve(2 + len);
                if let Ok(m) = Message::from_bytes(&q) {
                    if let Some(qq) = m.queries().first() {
                        log.lock().unwrap().push((qq.name().to_ascii(), "tcp"));
                    }
                }
                let reply = zone.lock().unwrap().answer(&q, false, false);
                if let Some(reply) = reply {
                    let mut out = (reply.len() as u16).to_be_bytes().to_vec();
                    out.extend_from_slice(&reply);
                    conn.send(&out);
                }
            }
        })
        .build()
        .unwrap()
}

fn resolve(r: &Resolver, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    r.resolve(host, move |_, res| {
        let _ = tx.send(res);
    });
    rx.recv_timeout(IO_TIMEOUT * 2)
        .expect("the resolver never answered")
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn a(ip: &str) -> RData {
    RData::A(A(ip.parse().unwrap()))
}

fn aaaa(ip: &str) -> RData {
    RData::AAAA(AAAA(ip.parse().unwrap()))
}

fn cname(n: &str) -> RData {
    RData::CNAME(CNAME(Name::from_ascii(n).unwrap()))
}

fn zone() -> Zone {
    Zone::default()
        .add("dual.test.", a("192.0.2.1"), 300)
        .add("dual.test.", aaaa("2001:db8::1"), 300)
        .add("v4only.test.", a("192.0.2.4"), 300)
        .add("alias.test.", cname("mid.test."), 300)
        .add("mid.test.", cname("dual.test."), 300)
        .add("www.corp.test.", a("192.0.2.80"), 300)
        .add("short.test.", a("192.0.2.9"), 1)
        .add("noaddr.test.", cname("nowhere.test."), 300)
        .add(
            "nowhere.test.",
            RData::CNAME(CNAME(Name::from_ascii("x.").unwrap())),
            300,
        )
}

fn config(text: &str, port: u16) -> ResolverConfig {
    ResolverConfig::parse(text).port(port)
}

#[test]
fn a_and_aaaa_ipv6_first() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    assert_eq!(
        resolve(&r, "dual.test"),
        Ok(ips(&["2001:db8::1", "192.0.2.1"]))
    );
    assert_eq!(resolve(&r, "v4only.test"), Ok(ips(&["192.0.2.4"])));
    let asked = dns.asked();
    assert_eq!(
        asked.len(),
        4,
        "one A and one AAAA query per name: {asked:?}"
    );
}

#[test]
fn cname_chains_are_followed() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    assert_eq!(
        resolve(&r, "alias.test"),
        Ok(ips(&["2001:db8::1", "192.0.2.1"]))
    );
    assert_eq!(
        resolve(&r, "noaddr.test"),
        Err(ResolveError::NoAddress {
            name: "noaddr.test".into()
        })
    );
}

#[test]
fn search_domains_and_nxdomain() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    let r = Resolver::new(
        &lp.handle,
        config(
            "nameserver 127.0.0.1\nsearch corp.test other.test\noptions ndots:1",
            dns.port(),
        ),
    );
    assert_eq!(resolve(&r, "www"), Ok(ips(&["192.0.2.80"])));
    assert!(
        dns.asked().iter().all(|(n, _)| n == "www.corp.test."),
        "{:?}",
        dns.asked()
    );
    let err = resolve(&r, "missing").unwrap_err();
    assert_eq!(
        err,
        ResolveError::NxDomain {
            name: "missing".into()
        }
    );
    assert!(err.to_string().contains("NXDOMAIN"), "{err}");
    let names: Vec<String> = dns.asked().into_iter().map(|(n, _)| n).collect();
    for tried in ["missing.corp.test.", "missing.other.test.", "missing."] {
        assert!(
            names.contains(&tried.to_string()),
            "{tried} not asked: {names:?}"
        );
    }
}

#[test]
fn a_silent_nameserver_times_out_and_the_next_one_answers() {
    let dns = Dns::start(zone());
    // The first nameserver is a socket that never answers, on the same port.
    let silent = UdpSocket::bind(("127.0.0.2", dns.port())).unwrap();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(
        &lp.handle,
        config(
            "nameserver 127.0.0.2\nnameserver 127.0.0.1\noptions timeout:1 attempts:1",
            dns.port(),
        ),
    );
    let started = Instant::now();
    assert_eq!(
        resolve(&r, "dual.test"),
        Ok(ips(&["2001:db8::1", "192.0.2.1"]))
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "answered before the first server's timeout: {took:?}"
    );
    let mut buf = [0u8; 512];
    silent.set_nonblocking(true).unwrap();
    assert!(
        silent.recv_from(&mut buf).is_ok(),
        "the silent server was asked first"
    );
}

#[test]
fn no_answer_at_all_is_a_timeout_naming_the_tries() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(
        &lp.handle,
        config(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:2",
            silent.local_addr().unwrap().port(),
        ),
    );
    let started = Instant::now();
    let err = resolve(&r, "dual.test").unwrap_err();
    assert_eq!(
        err,
        ResolveError::Timeout {
            name: "dual.test".into(),
            tries: 2,
            nameservers: 1
        }
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(err.to_string().contains("after 2 queries"), "{err}");
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    dns.truncate.store(true, Ordering::SeqCst);
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    assert_eq!(
        resolve(&r, "dual.test"),
        Ok(ips(&["2001:db8::1", "192.0.2.1"]))
    );
    let tcp = dns.asked().iter().filter(|(_, t)| *t == "tcp").count();
    assert_eq!(tcp, 2, "A and AAAA over TCP: {:?}", dns.asked());
}

#[test]
fn answers_are_cached_for_their_ttl() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    let first = Instant::now();
    assert_eq!(resolve(&r, "short.test"), Ok(ips(&["192.0.2.9"])));
    let asked = dns.asked().len();
    assert_eq!(resolve(&r, "SHORT.test"), Ok(ips(&["192.0.2.9"])));
    assert_eq!(
        dns.asked().len(),
        asked,
        "a fresh answer comes from the cache"
    );
    // TTL 1 s: re-resolving asks the server again only once it expired.
    let asked_again = wait_until(Duration::from_secs(5), || {
        assert_eq!(resolve(&r, "short.test"), Ok(ips(&["192.0.2.9"])));
        dns.asked().len() > asked
    });
    assert!(asked_again, "the cache never expired");
    assert!(
        first.elapsed() >= Duration::from_secs(1),
        "expired before its TTL"
    );
}

#[test]
fn hosts_file_literals_and_bad_names_need_no_server() {
    let dir = std::env::temp_dir().join(format!("muon-resolve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), "10.1.2.3 fromhosts\n::1 fromhosts\n").unwrap();
    std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let lp = common::LoopThread::start("resolver-test");
    let cfg = ResolverConfig::from_files(dir.join("resolv.conf"), dir.join("hosts"))
        .unwrap()
        .port(silent.local_addr().unwrap().port());
    let r = Resolver::new(&lp.handle, cfg);
    assert_eq!(resolve(&r, "FromHosts"), Ok(ips(&["::1", "10.1.2.3"])));
    assert_eq!(resolve(&r, "192.0.2.5"), Ok(ips(&["192.0.2.5"])));
    assert_eq!(resolve(&r, "[::1]"), Ok(ips(&["::1"])));
    assert!(matches!(
        resolve(&r, "bad..name"),
        Err(ResolveError::InvalidName { .. })
    ));
    let mut buf = [0u8; 512];
    assert!(silent.recv_from(&mut buf).is_err(), "no query was sent");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn many_lookups_at_once_all_answer() {
    let (dns, lp) = (
        Dns::start(zone()),
        common::LoopThread::start("resolver-test"),
    );
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..200 {
        let host = if i % 2 == 0 {
            "dual.test"
        } else {
            "missing.test"
        };
        // Distinct spellings so the cache does not answer them all.
        let host = format!("{host}{}", if i % 4 < 2 { "" } else { "." });
        let (tx, done) = (tx.clone(), done.clone());
        r.resolve(&host, move |_, res| {
            done.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(res.is_ok());
        });
    }
    let oks = (0..200)
        .filter(|_| {
            rx.recv_timeout(IO_TIMEOUT)
                .expect("a lookup never finished")
        })
        .count();
    assert_eq!(oks, 100);
    assert_eq!(done.load(Ordering::SeqCst), 200);
}

/// The echo_client example resolves `--connect host:port` through the resolver: its
/// DNS query reaches this test's nameserver, and the echo comes back.
#[test]
fn echo_client_connects_by_name_through_the_resolver() {
    use std::io::Write;
    let dns = Dns::start(zone().add("echo.test.", a("127.0.0.1"), 60));
    let echo = TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_message(|conn, input| {
            conn.send_buffer(input);
        })
        .started();
    let dir = std::env::temp_dir().join(format!("muon-echo-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:2\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(common::example::example_path("echo_client"))
        .args([
            "--connect",
            &format!("echo.test:{}", echo.local_addr().port()),
        ])
        .args(["--resolv-conf", dir.join("resolv.conf").to_str().unwrap()])
        .args(["--hosts", dir.join("no-hosts").to_str().unwrap()])
        .args(["--dns-port", &dns.port().to_string(), "--timeout", "10"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello by name\n")
        .unwrap();
    let out = common::process::finish_within(&mut child, IO_TIMEOUT, "echo_client");
    let status = out.status;
    assert!(
        status.success(),
        "echo_client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello by name\n");
    assert!(
        dns.asked().iter().any(|(n, _)| n == "echo.test."),
        "{:?}",
        dns.asked()
    );
    echo.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A hostile nameserver: garbage, an answer with another id, an answer to another
/// question, all for the same query. The resolver takes none of them (it times out
/// and says so) and is not hurt.
#[test]
fn garbage_and_spoofed_answers_are_ignored() {
    let z = zone();
    let hostile = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(move |ctx, d, _, _| {
            ctx.reply(&[0xff; 300]);
            ctx.reply(&[]);
            if let Some(good) = z.answer(d, true, false) {
                let mut wrong_id = good.clone();
                wrong_id[0] ^= 0x55;
                ctx.reply(&wrong_id);
                let mut cut = good.clone();
                cut.truncate(good.len() / 2);
                ctx.reply(&cut);
            }
            // An answer for the name asked but under another question, with the
            // right id: only the question tells it apart.
            if let Ok(q) = Message::from_bytes(d) {
                let mut m = Message::new();
                m.set_id(q.id()).set_message_type(MessageType::Response);
                m.add_query(hickory_proto::op::Query::query(
                    Name::from_ascii("other.test.").unwrap(),
                    hickory_proto::rr::RecordType::A,
                ));
                m.add_answer(Record::from_rdata(
                    Name::from_ascii("dual.test.").unwrap(),
                    300,
                    a("192.0.2.66"),
                ));
                if let Ok(b) = m.to_vec() {
                    ctx.reply(&b);
                }
            }
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(
        &lp.handle,
        config(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1",
            hostile.local_addr().port(),
        ),
    );
    assert_eq!(
        resolve(&r, "dual.test"),
        Err(ResolveError::Timeout {
            name: "dual.test".into(),
            tries: 1,
            nameservers: 1
        })
    );
    assert!(
        hostile.stats().datagrams_in >= 2,
        "the hostile server was asked"
    );
    assert!(hostile.stop());
}

/// A client of `host:port` on the resolver `r`'s configuration, retrying and
/// reconnecting after `delay` (no jitter), reporting each connection's peer when it
/// comes up and each retry's error.
fn named_client(
    target: &str,
    r: &Resolver,
    delay: Duration,
) -> (
    muon::TcpClient,
    crossbeam_channel::Receiver<std::net::SocketAddr>,
    crossbeam_channel::Receiver<std::io::Error>,
) {
    let (up_tx, up_rx) = crossbeam_channel::unbounded();
    let (retry_tx, retry_rx) = crossbeam_channel::unbounded();
    let client = muon::TcpClient::builder(target)
        .resolver(r.clone())
        .retry(muon::RetryPolicy {
            initial_delay: delay,
            max_delay: delay,
            max_attempts: None,
            jitter: false,
        })
        .reconnect(true)
        .on_connection(move |conn| {
            if conn.is_connected() {
                let _ = up_tx.send(conn.peer_addr());
            }
        })
        .on_retry(move |_, _, e| {
            let _ = retry_tx.send(std::io::Error::new(e.kind(), e.to_string()));
        })
        .connect()
        .unwrap();
    (client, up_rx, retry_rx)
}

/// Two echo servers on one port, at 127.0.0.1 and 127.0.0.2.
fn two_servers_on_one_port() -> (ServerHandle, ServerHandle, u16) {
    for _ in 0..20 {
        let first = TcpServer::builder("127.0.0.1:0")
            .threads(1)
            .echo()
            .started();
        let port = first.local_addr().port();
        let second = TcpServer::builder(format!("127.0.0.2:{port}"))
            .threads(1)
            .echo()
            .build()
            .and_then(|s| s.start());
        match second {
            Ok(second) => return (first, second, port),
            // Another test holds that port on 127.0.0.2: try another.
            Err(_) => {
                first.stop();
            }
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

/// The client resolves again before every attempt: when the name's address changes
/// and the connection goes down, the reconnect goes to the new address (answers with
/// TTL 0 are not cached, so each lookup asks the nameserver).
#[test]
fn a_reconnect_follows_a_changed_address() {
    let dns = Dns::start(zone().add("svc.test.", a("127.0.0.1"), 0));
    let (first, second, port) = two_servers_on_one_port();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    let (client, ups, _retries) =
        named_client(&format!("svc.test:{port}"), &r, Duration::from_millis(50));
    let peer = ups.recv_timeout(IO_TIMEOUT).expect("never came up");
    assert_eq!(peer, format!("127.0.0.1:{port}").parse().unwrap());
    let asked = dns.asked_for("svc.test.");
    assert!(asked >= 1, "{:?}", dns.asked());
    // The service moves: the name now says 127.0.0.2, and the old server goes away.
    dns.set_zone(zone().add("svc.test.", a("127.0.0.2"), 0));
    first.stop();
    let peer = ups.recv_timeout(IO_TIMEOUT).expect("never came up again");
    assert_eq!(
        peer,
        format!("127.0.0.2:{port}").parse().unwrap(),
        "the reconnect did not follow the new address"
    );
    assert!(dns.asked_for("svc.test.") > asked, "{:?}", dns.asked());
    drop(client);
    second.stop();
}

/// With a TTL, the answer is cached: a reconnect within it does not ask again (the
/// lookup before each attempt is cheap), and connects to the cached address.
#[test]
fn a_reconnect_within_the_ttl_uses_the_cache() {
    let dns = Dns::start(zone().add("cached.test.", a("127.0.0.1"), 300));
    // Closes every connection that sends anything.
    let server = TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_message(|conn, input| {
            input.retrieve_all();
            conn.force_close();
        })
        .started();
    let port = server.local_addr().port();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));
    let (client, ups, _retries) = named_client(
        &format!("cached.test:{port}"),
        &r,
        Duration::from_millis(50),
    );
    ups.recv_timeout(IO_TIMEOUT).expect("never came up");
    let asked = dns.asked_for("cached.test.");
    assert!(asked >= 1, "{:?}", dns.asked());
    // The server drops the connection; the client reconnects to the same server.
    client.connection().expect("up").send(b"bye".to_vec());
    ups.recv_timeout(IO_TIMEOUT).expect("never came up again");
    assert_eq!(dns.asked_for("cached.test."), asked, "{:?}", dns.asked());
    drop(client);
    server.stop();
}

/// A name that does not exist yet: each failed lookup is a failed attempt whose
/// error (NXDOMAIN, named) reaches the retry callback; once the name exists, the
/// next attempt connects. A client that may try once gives up with that error.
#[test]
fn nxdomain_then_success_on_a_retry() {
    let dns = Dns::start(zone());
    let server = TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .echo()
        .started();
    let port = server.local_addr().port();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(&lp.handle, config("nameserver 127.0.0.1", dns.port()));

    let once = muon::TcpClient::builder(&format!("late.test:{port}"))
        .resolver(r.clone())
        .retry(muon::RetryPolicy::no_retry())
        .connect()
        .unwrap();
    let e = once.wait_connected(IO_TIMEOUT).expect_err("connected");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert_eq!(e.to_string(), "late.test: no such domain (NXDOMAIN)");
    assert!(once.gave_up());

    let (client, ups, retries) =
        named_client(&format!("late.test:{port}"), &r, Duration::from_millis(50));
    let e = retries.recv_timeout(IO_TIMEOUT).expect("no retry reported");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert_eq!(e.to_string(), "late.test: no such domain (NXDOMAIN)");
    assert!(ups.try_recv().is_err(), "up without an address");
    dns.set_zone(zone().add("late.test.", a("127.0.0.1"), 0));
    let peer = ups.recv_timeout(IO_TIMEOUT).expect("never came up");
    assert_eq!(peer, server.local_addr());
    client.wait_connected(IO_TIMEOUT).unwrap();
    assert_eq!(client.failures(), 0);
    drop(client);
    server.stop();
}

/// Stopped while its lookup waits on a nameserver that never answers (5 rounds of
/// 2 s): nothing of the client runs afterwards (no up, no retry), and the lookup is
/// gone from the loop — after what was already sent, the nameserver gets no further
/// query for longer than the lookup's timeout, though a live lookup would ask again.
#[test]
fn a_stop_during_the_lookup_cancels_it() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let lp = common::LoopThread::start("resolver-test");
    let r = Resolver::new(
        &lp.handle,
        config(
            "nameserver 127.0.0.1\noptions timeout:2 attempts:5",
            silent.local_addr().unwrap().port(),
        ),
    );
    let called = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (called.clone(), called.clone());
    let mut client = muon::TcpClient::builder("slow.test:80")
        .resolver(r)
        .event_loop(lp.handle.clone())
        .on_connection(move |_| {
            c1.fetch_add(1, Ordering::SeqCst);
        })
        .on_retry(move |_, _, _| {
            c2.fetch_add(1, Ordering::SeqCst);
        })
        .connect()
        .unwrap();
    // The lookup's first queries (A and AAAA) arrive: the client is resolving.
    let mut buf = [0u8; 512];
    silent
        .recv(&mut buf)
        .expect("no query reached the nameserver");
    client.stop();
    // Drain what was sent before the stop took effect (a retry round may have come
    // just before it); a lookup still alive would ask again within its 2 s timeout.
    silent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while silent.recv(&mut buf).is_ok() {}
    // Past the lookup's timeout (2 s), with margin: a live lookup asks again.
    silent
        .set_read_timeout(Some(Duration::from_millis(3500)))
        .unwrap();
    match silent.recv(&mut buf) {
        Ok(n) => panic!("a query of {n} bytes after the stop: the lookup still runs"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    assert_eq!(
        called.load(Ordering::SeqCst),
        0,
        "a callback after the stop"
    );
    let e = client
        .wait_connected(Duration::from_secs(1))
        .expect_err("connected");
    assert!(e.to_string().contains("stopped"), "{e}");
}
