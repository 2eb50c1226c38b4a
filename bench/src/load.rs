//! The load generator: one single-threaded tokio runtime (pin it to its own core with
//! `taskset`), so every connection's task is served in turn by one FIFO scheduler and
//! the generator is fair at 1,000 connections. It prints one JSON line per run.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use openssl::ex_data::Index;
use openssl::ssl::{
    Ssl, SslConnector, SslMethod, SslSession, SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::proc_stat::{cpu_seconds, rss_bytes};

/// Which scenario `muon-bench load` runs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Each connection keeps one message in flight: write it, read the echo, repeat.
    Pingpong,
    /// Concurrent clients: connect, TLS handshake, one echo, close.
    Handshake,
    /// Each connection streams `--bytes` to the server and reads them back, checked.
    Bulk,
    /// Opens `--conns` connections, one echo each, and measures server RSS.
    Memory,
}

/// Options of `muon-bench load`.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// The scenario.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Server process id (for CPU time and RSS).
    #[arg(long)]
    server_pid: u32,
    /// Connections (pingpong, bulk, memory) or concurrent clients (handshake).
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Message size in bytes (pingpong).
    #[arg(long, default_value_t = 16384)]
    size: usize,
    /// Bytes each bulk connection sends (and reads back).
    #[arg(long, default_value_t = 256 << 20)]
    bytes: u64,
    /// Measured window in seconds (pingpong, handshake).
    #[arg(long, default_value_t = 2.0)]
    window: f64,
    /// Warm-up before the window in seconds.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Use TLS.
    #[arg(long)]
    tls: bool,
    /// Force one TLS version (1.2 or 1.3); default: negotiate (1.3).
    #[arg(long)]
    tls_version: Option<String>,
    /// Resume sessions (handshake scenario): every handshake after the first offers the
    /// newest session (ticket) the client got.
    #[arg(long)]
    resume: bool,
    /// Instead of a time window, exactly this many handshakes per client (handshake)
    /// or messages per connection (pingpong), after one unmeasured each: the same work
    /// every run, for instruction counts (bench/profile.sh).
    #[arg(long)]
    count: Option<u64>,
    /// With `--count` (or in bulk): a shell command run right before the measured operations
    /// (e.g. `callgrind_control -z PID`); it must succeed.
    #[arg(long)]
    on_start: Option<String>,
    /// With `--count` (or in bulk): a shell command run right after them (e.g. `callgrind_control
    /// -d PID`); it must succeed.
    #[arg(long)]
    on_end: Option<String>,
    /// With `--count`: the most the measured operations may take, in seconds.
    #[arg(long, default_value_t = 600.0)]
    count_seconds: f64,
    /// Free-form labels copied into the JSON line (key=value).
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
}

impl LoadArgs {
    fn count_limit(&self) -> Duration {
        Duration::from_secs_f64(self.count_seconds)
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("label {s:?} is not key=value"))
}

/// Runs one scenario and prints its JSON line.
pub fn run(args: LoadArgs) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = rt.block_on(async {
        let dialer = Arc::new(Dialer::new(&args)?);
        wait_listening(args.addr).await?;
        match args.scenario {
            Scenario::Pingpong => pingpong(&args, dialer).await,
            Scenario::Handshake => handshake(&args, dialer).await,
            Scenario::Bulk => bulk(&args, dialer).await,
            Scenario::Memory => memory(&args, dialer).await,
        }
    })?;
    if let Value::Object(map) = &mut out {
        map.insert(
            "scenario".into(),
            json!(format!("{:?}", args.scenario).to_lowercase()),
        );
        map.insert("tls".into(), json!(args.tls));
        map.insert("conns".into(), json!(args.conns));
        map.insert("resume".into(), json!(args.resume));
        map.insert(
            "tls_version".into(),
            json!(args.tls_version.clone().unwrap_or_else(|| "default".into())),
        );
        for (k, v) in &args.labels {
            map.insert(k.clone(), json!(v));
        }
    }
    println!("{out}");
    Ok(())
}

/// Waits (at most 10 s) until the server accepts connections.
async fn wait_listening(addr: SocketAddr) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A plain or TLS byte stream.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = Box<dyn Io>;

/// The newest resumable session one client holds (each handshake client has its own:
/// see [`Dialer`]).
type SessionSlot = Arc<Mutex<Option<SslSession>>>;

/// Opens connections: TCP with TCP_NODELAY, then the TLS handshake if asked.
///
/// Resumption: every handshake client keeps its own newest session in a
/// [`SessionSlot`], as a real client does. One slot shared by all clients resumed only
/// about half the TLS 1.2 handshakes against rustls servers: rustls sends a new ticket
/// on every TLS 1.2 resumption, and OpenSSL's client then marks the session it resumed
/// not resumable (`SSL_CTX_remove_session` in `tls_process_new_session_ticket`) without
/// calling the new-session callback (it is not called for a resumed TLS 1.2 handshake),
/// so the shared slot kept a dead session and the next offer was a full handshake.
/// Now a TLS 1.2 client takes the connection's session after the handshake (for a
/// resumption with a new ticket, the fresh copy carrying it), and TLS 1.3 tickets
/// (after the handshake) reach the slot of the connection they arrived on through the
/// callback.
struct Dialer {
    addr: SocketAddr,
    tls: Option<SslConnector>,
    resume: bool,
    /// Where the new-session callback finds the slot of the connection it runs for.
    slot_index: Index<Ssl, SessionSlot>,
}

impl Dialer {
    fn new(args: &LoadArgs) -> io::Result<Dialer> {
        let slot_index = Ssl::new_ex_index::<SessionSlot>().map_err(io::Error::other)?;
        let tls = if args.tls {
            let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(io::Error::other)?;
            // The chain is not verified: it would only add client CPU. The server still
            // signs every full handshake and the client checks that signature.
            b.set_verify(SslVerifyMode::NONE);
            let version = match args.tls_version.as_deref() {
                None => None,
                Some("1.2") => Some(SslVersion::TLS1_2),
                Some("1.3") => Some(SslVersion::TLS1_3),
                Some(v) => return Err(io::Error::other(format!("unknown TLS version {v}"))),
            };
            if version.is_some() {
                b.set_min_proto_version(version).map_err(io::Error::other)?;
                b.set_max_proto_version(version).map_err(io::Error::other)?;
            }
            b.set_session_cache_mode(SslSessionCacheMode::CLIENT);
            b.set_new_session_callback(move |ssl, s| {
                if let Some(slot) = ssl.ex_data(slot_index) {
                    if let Ok(mut g) = slot.lock() {
                        *g = Some(s);
                    }
                }
            });
            Some(b.build())
        } else {
            None
        };
        Ok(Dialer {
            addr: args.addr,
            tls,
            resume: args.resume,
            slot_index,
        })
    }

    /// A connection, and whether its TLS session was resumed. With `--resume`, `slot`
    /// is the client's own session: offered if it holds one, updated with the newest.
    async fn dial(&self, slot: &SessionSlot) -> io::Result<(Stream, bool)> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let Some(connector) = &self.tls else {
            return Ok((Box::new(tcp), false));
        };
        let mut ssl = connector
            .configure()
            .map_err(io::Error::other)?
            .verify_hostname(false)
            .into_ssl("localhost")
            .map_err(io::Error::other)?;
        if self.resume {
            let cached = slot.lock().ok().and_then(|g| g.clone());
            if let Some(s) = cached {
                // SAFETY: the session comes from a connection of this same context.
                unsafe { ssl.set_session(&s) }.map_err(io::Error::other)?;
            }
            ssl.set_ex_data(self.slot_index, slot.clone());
        }
        let mut s = tokio_openssl::SslStream::new(ssl, tcp).map_err(io::Error::other)?;
        Pin::new(&mut s).connect().await.map_err(io::Error::other)?;
        let reused = s.ssl().session_reused();
        if self.resume && s.ssl().version2() != Some(SslVersion::TLS1_3) {
            // TLS 1.2: the session is complete now (see the type's comment).
            if let (Some(now), Ok(mut g)) = (s.ssl().session(), slot.lock()) {
                *g = Some(now.to_owned());
            }
        }
        Ok((Box::new(s), reused))
    }
}

/// Opens `n` connections, at most 64 handshakes at a time, each followed by one echo
/// of `first` bytes.
async fn open_many(dialer: &Arc<Dialer>, n: usize, first: usize) -> io::Result<Vec<Stream>> {
    let gate = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (dialer, gate) = (dialer.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(io::Error::other)?;
            let (mut s, _) = dialer.dial(&SessionSlot::default()).await?;
            if first > 0 {
                echo_once(&mut s, first).await?;
            }
            Ok::<Stream, io::Error>(s)
        }));
    }
    let mut streams = Vec::with_capacity(n);
    for t in tasks {
        streams.push(t.await.map_err(io::Error::other)??);
    }
    Ok(streams)
}

async fn echo_once(s: &mut Stream, size: usize) -> io::Result<()> {
    let msg = vec![b'x'; size];
    let mut back = vec![0u8; size];
    s.write_all(&msg).await?;
    s.read_exact(&mut back).await?;
    if back != msg {
        return Err(io::Error::other("echo differs from what was sent"));
    }
    Ok(())
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// What one pingpong connection did inside the window.
struct ConnResult {
    msgs: u64,
    latencies_ns: Vec<u32>,
}

/// Runs `phase` through warm-up, window and stop; returns the server CPU seconds and
/// the wall seconds of the window.
async fn measured_window(args: &LoadArgs, phase: &AtomicU8) -> io::Result<(f64, f64)> {
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let cpu0 = cpu_seconds(args.server_pid)?;
    let t0 = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.window)).await;
    phase.store(STOP, Ordering::Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(args.server_pid)? - cpu0;
    Ok((cpu, wall))
}

async fn pingpong(args: &LoadArgs, dialer: Arc<Dialer>) -> io::Result<Value> {
    let streams = open_many(&dialer, args.conns, args.size).await?;
    let (per_conn, lat, cpu, wall) = match args.count {
        Some(count) => pingpong_counted(args, streams, count).await?,
        None => pingpong_window(args, streams).await?,
    };
    pingpong_result(args, per_conn, lat, cpu, wall)
}

/// Messages per connection, latencies (ns), server CPU seconds, wall seconds.
type PingpongRun = (Vec<f64>, Vec<u32>, f64, f64);

/// `--count`: after the one echo each connection made when it opened, `--on-start`,
/// exactly `count` messages on every connection, `--on-end`.
async fn pingpong_counted(
    args: &LoadArgs,
    streams: Vec<Stream>,
    count: u64,
) -> io::Result<PingpongRun> {
    run_hook(args.on_start.as_deref())?;
    let cpu0 = cpu_seconds(args.server_pid)?;
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for mut s in streams {
        let size = args.size;
        tasks.push(tokio::spawn(async move {
            let msg = vec![0x5au8; size];
            let mut back = vec![0u8; size];
            let mut lat = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let t = Instant::now();
                s.write_all(&msg).await?;
                s.read_exact(&mut back).await?;
                lat.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
            }
            Ok::<Vec<u32>, io::Error>(lat)
        }));
    }
    let done = join_counted(tasks, args.count_limit()).await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(args.server_pid)? - cpu0;
    run_hook(args.on_end.as_deref())?;
    let per_conn = done.iter().map(|l| l.len() as f64).collect();
    Ok((per_conn, done.concat(), cpu, wall))
}

async fn pingpong_window(args: &LoadArgs, streams: Vec<Stream>) -> io::Result<PingpongRun> {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut tasks = Vec::with_capacity(streams.len());
    for mut s in streams {
        let phase = phase.clone();
        let size = args.size;
        tasks.push(tokio::spawn(async move {
            let msg = vec![0x5au8; size];
            let mut back = vec![0u8; size];
            let mut r = ConnResult {
                msgs: 0,
                latencies_ns: Vec::new(),
            };
            // Bounded: the phase reaches STOP after warm-up + window.
            loop {
                let started_in = phase.load(Ordering::Relaxed);
                if started_in == STOP {
                    break;
                }
                let t = Instant::now();
                s.write_all(&msg).await?;
                s.read_exact(&mut back).await?;
                if phase.load(Ordering::Relaxed) == MEASURE {
                    r.msgs += 1;
                    if started_in == MEASURE {
                        let ns = t.elapsed().as_nanos().min(u32::MAX as u128) as u32;
                        r.latencies_ns.push(ns);
                    }
                }
            }
            Ok::<ConnResult, io::Error>(r)
        }));
    }
    let (cpu, wall) = measured_window(args, &phase).await?;
    let mut per_conn = Vec::with_capacity(tasks.len());
    let mut lat = Vec::new();
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .map_err(|_| io::Error::other("a connection did not finish within 10 s"))?
            .map_err(io::Error::other)??;
        per_conn.push(r.msgs as f64);
        lat.extend_from_slice(&r.latencies_ns);
    }
    Ok((per_conn, lat, cpu, wall))
}

fn pingpong_result(
    args: &LoadArgs,
    per_conn: Vec<f64>,
    mut lat: Vec<u32>,
    cpu: f64,
    wall: f64,
) -> io::Result<Value> {
    let msgs: f64 = per_conn.iter().sum();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    let mean = msgs / per_conn.len() as f64;
    let var = per_conn.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / per_conn.len() as f64;
    let min = per_conn.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = per_conn.iter().cloned().fold(0.0, f64::max);
    Ok(json!({
        "size": args.size,
        "msgs_per_s": msgs / wall,
        "mib_per_s": msgs * args.size as f64 / wall / (1 << 20) as f64,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "spread_max_min": if min > 0.0 { max / min } else { f64::INFINITY },
        "spread_cv": if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
        "server_cpu_us_per_msg": cpu * 1e6 / msgs.max(1.0),
        "server_cpu_util": cpu / wall,
        "window_s": wall,
    }))
}

/// One client handshake as the scenario makes it: connect (offering the client's
/// session when resuming), one 64-byte echo (a TLS 1.3 ticket arrives before it), then
/// close_notify and close (a clean shutdown keeps the session resumable).
async fn one_handshake(dialer: &Dialer, slot: &SessionSlot) -> io::Result<bool> {
    let (mut s, reused) = dialer.dial(slot).await?;
    echo_once(&mut s, 64).await?;
    let _ = s.shutdown().await;
    Ok(reused)
}

async fn handshake(args: &LoadArgs, dialer: Arc<Dialer>) -> io::Result<Value> {
    if dialer.tls.is_none() {
        return Err(io::Error::other("the handshake scenario needs --tls"));
    }
    if let Some(count) = args.count {
        return handshake_counted(args, dialer, count).await;
    }
    // One handshake first: the server answers TLS before the clock starts.
    one_handshake(&dialer, &SessionSlot::default()).await?;
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut tasks = Vec::new();
    for _ in 0..args.conns {
        let (phase, dialer) = (phase.clone(), dialer.clone());
        tasks.push(tokio::spawn(async move {
            // This client's own session; its first handshake (in the warm-up) is full.
            let slot = SessionSlot::default();
            let (mut done, mut reused) = (0u64, 0u64);
            while phase.load(Ordering::Relaxed) != STOP {
                let r = one_handshake(&dialer, &slot).await?;
                if phase.load(Ordering::Relaxed) == MEASURE {
                    done += 1;
                    reused += u64::from(r);
                }
            }
            Ok::<(u64, u64), io::Error>((done, reused))
        }));
    }
    let (cpu, wall) = measured_window(args, &phase).await?;
    let (mut done, mut reused) = (0u64, 0u64);
    for t in tasks {
        let (d, r) = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .map_err(|_| io::Error::other("a client did not finish within 10 s"))?
            .map_err(io::Error::other)??;
        done += d;
        reused += r;
    }
    Ok(handshake_result(done, reused, cpu, wall))
}

fn handshake_result(done: u64, reused: u64, cpu: f64, wall: f64) -> Value {
    json!({
        "handshakes": done,
        "resumed": reused,
        "handshakes_per_s": done as f64 / wall,
        "resumed_fraction": reused as f64 / (done.max(1)) as f64,
        "server_cpu_us_per_handshake": cpu * 1e6 / (done.max(1)) as f64,
        "server_cpu_util": cpu / wall,
        "window_s": wall,
    })
}

/// `--count`: every client first makes one unmeasured handshake (so a resuming client
/// holds a session), then `--on-start` runs, then each client makes exactly `count`
/// handshakes, then `--on-end` runs. The same work every run, for instruction counts.
async fn handshake_counted(args: &LoadArgs, dialer: Arc<Dialer>, count: u64) -> io::Result<Value> {
    let slots: Vec<SessionSlot> = (0..args.conns).map(|_| SessionSlot::default()).collect();
    for slot in &slots {
        one_handshake(&dialer, slot).await?;
    }
    run_hook(args.on_start.as_deref())?;
    let cpu0 = cpu_seconds(args.server_pid)?;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for slot in slots {
        let dialer = dialer.clone();
        tasks.push(tokio::spawn(async move {
            let mut reused = 0u64;
            for _ in 0..count {
                reused += u64::from(one_handshake(&dialer, &slot).await?);
            }
            Ok::<u64, io::Error>(reused)
        }));
    }
    let reused = join_counted(tasks, args.count_limit())
        .await?
        .into_iter()
        .sum();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(args.server_pid)? - cpu0;
    run_hook(args.on_end.as_deref())?;
    Ok(handshake_result(
        count * args.conns as u64,
        reused,
        cpu,
        wall,
    ))
}

/// Waits for the tasks of a `--count` run, all within `limit` (a run that takes
/// longer is a failure, not a short result).
async fn join_counted<T>(
    tasks: Vec<tokio::task::JoinHandle<io::Result<T>>>,
    limit: Duration,
) -> io::Result<Vec<T>> {
    let all = async {
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.map_err(io::Error::other)??);
        }
        Ok::<Vec<T>, io::Error>(out)
    };
    tokio::time::timeout(limit, all)
        .await
        .map_err(|_| io::Error::other(format!("the counted run took over {limit:?}")))?
}

/// Runs a `--on-start`/`--on-end` command with `sh -c`; it must succeed.
fn run_hook(cmd: Option<&str>) -> io::Result<()> {
    let Some(cmd) = cmd else { return Ok(()) };
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!("hook {cmd:?} failed: {status}")));
    }
    Ok(())
}

/// Length of the repeating test pattern: prime, so chunk edges never line up with it.
const PATTERN_PERIOD: usize = 65_521;
const CHUNK: usize = 64 * 1024;

fn pattern() -> Arc<Vec<u8>> {
    let mut x: u32 = 0x9e37_79b9;
    let p: Vec<u8> = (0..PATTERN_PERIOD + CHUNK)
        .map(|i| {
            if i < PATTERN_PERIOD {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
            }
            (x >> 24) as u8
        })
        .collect();
    // Make the tail repeat the head exactly.
    let mut p = p;
    for i in PATTERN_PERIOD..p.len() {
        p[i] = p[i - PATTERN_PERIOD];
    }
    Arc::new(p)
}

async fn bulk(args: &LoadArgs, dialer: Arc<Dialer>) -> io::Result<Value> {
    let streams = open_many(&dialer, args.conns, 0).await?;
    let pat = pattern();
    let total = args.bytes;
    // The byte count is fixed already: the hooks work here without `--count`.
    run_hook(args.on_start.as_deref())?;
    let cpu0 = cpu_seconds(args.server_pid)?;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for s in streams {
        let (mut rd, mut wr) = tokio::io::split(s);
        let p = pat.clone();
        tasks.push(tokio::spawn(async move {
            let mut off = 0u64;
            while off < total {
                let n = (total - off).min(CHUNK as u64) as usize;
                let at = (off % PATTERN_PERIOD as u64) as usize;
                wr.write_all(&p[at..at + n]).await?;
                off += n as u64;
            }
            wr.flush().await?;
            Ok::<(), io::Error>(())
        }));
        let p = pat.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            let mut off = 0u64;
            while off < total {
                let want = (total - off).min(CHUNK as u64) as usize;
                let n = rd.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Err(io::Error::other(format!(
                        "server closed after {off} of {total} bytes"
                    )));
                }
                let at = (off % PATTERN_PERIOD as u64) as usize;
                if buf[..n] != p[at..at + n] {
                    return Err(io::Error::other(format!("echo differs near byte {off}")));
                }
                off += n as u64;
            }
            Ok(())
        }));
    }
    // A profiled server (bench/profile.sh) is slow: it gets the `--count` bound.
    let limit = match args.on_start {
        Some(_) => args.count_limit(),
        None => Duration::from_secs(120),
    };
    for t in tasks {
        tokio::time::timeout(limit, t)
            .await
            .map_err(|_| io::Error::other(format!("bulk transfer took over {limit:?}")))?
            .map_err(io::Error::other)??;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(args.server_pid)? - cpu0;
    run_hook(args.on_end.as_deref())?;
    let one_way = total as f64 * args.conns as f64;
    Ok(json!({
        "bytes_each_way": one_way,
        "mib_per_s": one_way / wall / (1 << 20) as f64,
        "server_cpu_ms_per_gib": cpu * 1e3 / (one_way / (1u64 << 30) as f64),
        "server_cpu_util": cpu / wall,
        "seconds": wall,
        "content_checked": true,
    }))
}

async fn memory(args: &LoadArgs, dialer: Arc<Dialer>) -> io::Result<Value> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes(args.server_pid)?;
    let t0 = Instant::now();
    let streams = open_many(&dialer, args.conns, 64).await?;
    let open_s = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss_bytes(args.server_pid)?;
    drop(streams);
    // Muon trims freed pages after a second without connections; wait 2.5 s for it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = rss_bytes(args.server_pid)?;
    Ok(json!({
        "rss_before": before,
        "rss_loaded": loaded,
        "rss_after_close": after,
        "rss_per_conn": (loaded as f64 - before as f64) / args.conns as f64,
        "open_seconds": open_s,
    }))
}
