//! `muon-bench report`: medians of the JSON lines of a run, beside the `openssl speed`
//! floors, written as docs/benchmarks.md with SVG plots next to it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Map, Value};

use crate::svg::{bar_chart, BarChart};

/// Options of `muon-bench report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// JSON lines written by `muon-bench load`.
    #[arg(long)]
    results: PathBuf,
    /// Raw output of the `openssl speed` runs.
    #[arg(long)]
    floors: PathBuf,
    /// key=value lines: machine, versions, timings.
    #[arg(long)]
    meta: PathBuf,
    /// Hand-written findings appended to the report, if the file exists.
    #[arg(long)]
    notes: Option<PathBuf>,
    /// The Markdown file to write; SVGs go beside it as bench-*.svg.
    #[arg(long)]
    out: PathBuf,
}

type Row = Map<String, Value>;

/// Crypto speeds of this machine from `openssl speed`.
#[derive(Default, Debug)]
struct Floors {
    rsa2048_sign_per_s: f64,
    ecdsa_p256_sign_per_s: f64,
    x25519_per_s: f64,
    aes128_bytes_per_s: f64,
    aes256_bytes_per_s: f64,
}

fn parse_floors(text: &str) -> Floors {
    let mut f = Floors::default();
    let nums = |l: &str| -> Vec<f64> {
        l.split_whitespace()
            .filter_map(|t| t.trim_end_matches(['k', 's']).parse().ok())
            .collect()
    };
    for line in text.lines() {
        let n = nums(line);
        let second_last = || n.len().checked_sub(2).map(|i| n[i]).unwrap_or(0.0);
        let last = || n.last().cloned().unwrap_or(0.0);
        if line.starts_with("rsa 2048 bits") || line.starts_with("rsa  2048 bits") {
            f.rsa2048_sign_per_s = second_last();
        } else if line.contains("ecdsa (nistp256)") {
            f.ecdsa_p256_sign_per_s = second_last();
        } else if line.contains("ecdh (X25519)") {
            f.x25519_per_s = last();
        } else if line.to_ascii_uppercase().starts_with("AES-128-GCM") {
            f.aes128_bytes_per_s = last() * 1000.0;
        } else if line.to_ascii_uppercase().starts_with("AES-256-GCM") {
            f.aes256_bytes_per_s = last() * 1000.0;
        }
    }
    f
}

fn val_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows of a run, and medians over the repetitions that match a filter.
struct Data {
    rows: Vec<Row>,
    /// The repetitions the run asked for (`reps` of meta.txt).
    want_reps: usize,
    /// The table cells whose median rests on fewer repetitions than asked.
    short: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl crate::findings::Source for Data {
    fn median(&self, filter: &[(&str, &str)], metric: &str) -> Option<(f64, usize)> {
        let n = self.count(filter, metric);
        self.med(filter, metric).map(|m| (m, n))
    }
}

impl Data {
    /// How many rows match `filter` and carry `metric`.
    fn count(&self, filter: &[(&str, &str)], metric: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| {
                filter
                    .iter()
                    .all(|(k, want)| r.get(*k).map(val_str).as_deref() == Some(*want))
            })
            .filter(|r| r.get(metric).and_then(Value::as_f64).is_some())
            .count()
    }

    fn med(&self, filter: &[(&str, &str)], metric: &str) -> Option<f64> {
        let mut v: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| {
                filter
                    .iter()
                    .all(|(k, want)| r.get(*k).map(val_str).as_deref() == Some(*want))
            })
            .filter_map(|r| r.get(metric).and_then(Value::as_f64))
            .collect();
        if v.is_empty() {
            return None;
        }
        if v.len() < self.want_reps {
            let cell: Vec<String> = filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.short.borrow_mut().insert(format!(
                "{} {metric}: {} of {} repetitions",
                cell.join(" "),
                v.len(),
                self.want_reps
            ));
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        Some(if n & 1 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    fn reps(&self, filter: &[(&str, &str)]) -> usize {
        self.rows
            .iter()
            .filter(|r| {
                filter
                    .iter()
                    .all(|(k, want)| r.get(*k).map(val_str).as_deref() == Some(*want))
            })
            .count()
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if digits == 0 {
                group_thousands(x.round() as i64)
            } else {
                format!("{x:.digits$}")
            }
        }
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

/// `n` with a comma every three digits.
pub(crate) fn group_thousands(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() && b.is_finite() => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

const SIZES: [usize; 3] = [1024, 4096, 16384];
const CONNS: [usize; 3] = [1, 100, 1000];

fn size_label(s: usize) -> String {
    format!("{} KiB", s / 1024)
}

/// Writes the report and its plots.
pub fn run(args: ReportArgs) -> io::Result<()> {
    let text = std::fs::read_to_string(&args.results)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => rows.push(m),
            _ => eprintln!(
                "report: skipping line {} of {}",
                i + 1,
                args.results.display()
            ),
        }
    }
    let floors = parse_floors(&std::fs::read_to_string(&args.floors).unwrap_or_default());
    let meta: BTreeMap<String, String> = std::fs::read_to_string(&args.meta)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let d = Data {
        rows,
        want_reps: meta.get("reps").and_then(|r| r.parse().ok()).unwrap_or(1),
        short: Default::default(),
    };
    let m = |k: &str| meta.get(k).cloned().unwrap_or_else(|| "?".into());
    let dir = args
        .out
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let ssls: Vec<&str> = ["system", "vendored"]
        .into_iter()
        .filter(|s| d.reps(&[("ssl", s)]) > 0)
        .collect();

    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Benchmarks: Muon vs tokio (+ tokio-openssl)\n\n\
         Generated by `bench/run.sh` ({}); do not edit by hand: the findings at the end come \
         from `bench/NOTES.md`.\n",
        m("date")
    );
    let _ = writeln!(o, "```text\n{}\n```\n", m("command"));
    let _ = writeln!(o, "## Machine and versions\n");
    let _ = writeln!(o, "| what | value |\n|---|---|");
    for (k, label) in [
        ("cpu", "CPU"),
        ("cores", "cores"),
        ("kernel", "kernel"),
        ("rustc", "rustc"),
        ("openssl_system", "OpenSSL (system)"),
        ("openssl_vendored", "OpenSSL (vendored, openssl-src)"),
        ("vendored_build_s", "vendored build time (s)"),
        ("crates", "crates"),
        ("suite_s", "suite wall time (s)"),
    ] {
        let _ = writeln!(o, "| {label} | {} |", m(k).replace('|', "/"));
    }
    let _ = writeln!(
        o,
        "\n## Method\n\n\
- Server: `taskset -c 0 muon-bench server --impl muon|tokio --threads 1`: Muon's `TcpServer` \
with one worker loop (plus its accepting main reactor), or a tokio multi-thread runtime with one \
worker thread (`accept` loop + one task per connection, 16 KiB read buffer, `read` then \
`write_all`). TLS: Muon's `TlsAcceptor`; the tokio server makes its `Ssl`s from the very same \
`SslContext` (tokio-openssl), so versions (1.2 + 1.3), `TLS12_CIPHERS`, `GROUPS`, session cache \
and tickets are identical. Certificates from `certs/` (ECDSA P-256 by default, RSA-2048 for the \
RSA handshakes). TCP_NODELAY on both.\n\
- Load generator: `taskset -c 1 muon-bench load ...`, one tokio `current_thread` runtime (one \
FIFO scheduler for every connection: fair at 1,000 connections), tokio-openssl client without \
chain verification (the server still signs every full handshake). Loopback only.\n\
- Server CPU: utime + stime of the server process from `/proc/PID/stat` (10 ms ticks), read by \
the load generator right before and after the measured window; RSS: `VmRSS` from \
`/proc/PID/status`.\n\
- Each point runs Muon and tokio in a random order within each repetition, {} times each; every figure is the median (\"Repetitions\" at the end lists any cell with fewer).\n\
- **pingpong**: every connection writes one message, reads the whole echo, repeats (one message \
in flight per connection, muduo's pingpong with a full round trip so it gives latency too). \
{} s warm-up, {} s window. msgs/s counts echoes completed in the window; latency is the round \
trip of messages sent and received in it; spread = max/min of per-connection round trips (and \
their coefficient of variation).\n\
- **handshake**: {} concurrent clients each loop connect, TLS handshake, one 64-byte echo, \
close_notify, close. Resumed: every client offers the newest session it got itself (TLS 1.3 \
ticket, TLS 1.2 ticket; its first handshake, in the warm-up, is full) and the fraction the server \
actually resumed is shown.\n\
- **bulk**: each connection writes 256 MiB (a pseudo-random pattern) while reading the echo back \
and comparing every byte. ms/GiB is server CPU per GiB echoed (counted one way).\n\
- **memory**: 10,000 connections opened (64 at a time), each echoes 64 bytes (after the \
handshake for TLS) and stays idle; RSS per connection = (RSS loaded − RSS before) / 10,000; \
then all close and RSS is read again 2.5 s later.\n\
- Floors: `openssl speed -seconds 1` of the system OpenSSL (the vendored build has no `openssl` \
binary). A full TLS 1.3 or 1.2 ECDHE handshake costs the server one signature and two X25519 \
operations; a resumed TLS 1.3 handshake (psk_dhe_ke) two X25519; a resumed TLS 1.2 one none. \
TLS 1.3 here negotiates AES-256-GCM, so TLS pingpong/bulk add one AES-256-GCM decrypt and one \
encrypt of every byte to the plain echo.\n",
        m("reps"),
        m("warmup"),
        m("window"),
        m("hs_clients"),
    );

    // Floors.
    let us = |per_s: f64| if per_s > 0.0 { 1e6 / per_s } else { f64::NAN };
    let _ = writeln!(o, "## Crypto floors (`openssl speed`, system OpenSSL)\n");
    let _ = writeln!(o, "| operation | rate | cost |\n|---|---|---|");
    let _ = writeln!(
        o,
        "| ECDSA P-256 sign | {}/s | {:.1} µs |",
        opt(Some(floors.ecdsa_p256_sign_per_s), 0),
        us(floors.ecdsa_p256_sign_per_s)
    );
    let _ = writeln!(
        o,
        "| RSA-2048 sign | {}/s | {:.1} µs |",
        opt(Some(floors.rsa2048_sign_per_s), 0),
        us(floors.rsa2048_sign_per_s)
    );
    let _ = writeln!(
        o,
        "| X25519 | {}/s | {:.1} µs |",
        opt(Some(floors.x25519_per_s), 0),
        us(floors.x25519_per_s)
    );
    let gib = (1u64 << 30) as f64;
    for (name, bps) in [
        ("AES-128-GCM, 16 KiB", floors.aes128_bytes_per_s),
        ("AES-256-GCM, 16 KiB", floors.aes256_bytes_per_s),
    ] {
        let _ = writeln!(
            o,
            "| {name} | {:.0} MiB/s | {:.0} ms/GiB |",
            bps / (1 << 20) as f64,
            if bps > 0.0 { gib / bps * 1e3 } else { f64::NAN }
        );
    }
    let aead_us = |size: usize| {
        if floors.aes256_bytes_per_s > 0.0 {
            2.0 * size as f64 / floors.aes256_bytes_per_s * 1e6
        } else {
            f64::NAN
        }
    };
    let aead_ms_per_gib = if floors.aes256_bytes_per_s > 0.0 {
        2.0 * gib / floors.aes256_bytes_per_s * 1e3
    } else {
        f64::NAN
    };

    // Pingpong.
    let _ = writeln!(o, "\n## Pingpong\n");
    let variants: Vec<(&str, &str, &str)> = {
        let mut v = vec![("false", "system", "plain")];
        for s in &ssls {
            v.push((
                "true",
                s,
                if *s == "system" {
                    "TLS, system OpenSSL"
                } else {
                    "TLS, vendored OpenSSL"
                },
            ));
        }
        v
    };
    for (tls, ssl, title) in &variants {
        let base = |imp: &'static str, c: String, s: String| -> Vec<(&'static str, String)> {
            vec![
                ("scenario", "pingpong".into()),
                ("impl", imp.into()),
                ("tls", tls.to_string()),
                ("ssl", ssl.to_string()),
                ("conns", c),
                ("size", s),
            ]
        };
        let q = |imp: &'static str, c: usize, s: usize, metric: &str| {
            let f = base(imp, c.to_string(), s.to_string());
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            d.med(&f, metric)
        };
        let _ = writeln!(o, "### {title}: throughput and server CPU\n");
        let floor_col = *tls == "true";
        let _ = writeln!(
            o,
            "| conns | size | msgs/s Muon | msgs/s tokio | MiB/s Muon | MiB/s tokio | CPU µs/msg Muon | CPU µs/msg tokio | CPU Muon/tokio |{}",
            if floor_col { " floor: Muon plain + AEAD µs |" } else { "" }
        );
        let _ = writeln!(
            o,
            "|---|---|---|---|---|---|---|---|---|{}",
            if floor_col { "---|" } else { "" }
        );
        for c in CONNS {
            for s in SIZES {
                let cm = q("muon", c, s, "server_cpu_us_per_msg");
                let ct = q("tokio", c, s, "server_cpu_us_per_msg");
                let floor = if floor_col {
                    let plain = d.med(
                        &[
                            ("scenario", "pingpong"),
                            ("impl", "muon"),
                            ("tls", "false"),
                            ("conns", &c.to_string()),
                            ("size", &s.to_string()),
                        ],
                        "server_cpu_us_per_msg",
                    );
                    format!(
                        " {} ({:.2} AEAD) |",
                        opt(plain.map(|p| p + aead_us(s)), 2),
                        aead_us(s)
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    o,
                    "| {c} | {} | {} | {} | {} | {} | {} | {} | {} |{floor}",
                    size_label(s),
                    opt(q("muon", c, s, "msgs_per_s"), 0),
                    opt(q("tokio", c, s, "msgs_per_s"), 0),
                    opt(q("muon", c, s, "mib_per_s"), 1),
                    opt(q("tokio", c, s, "mib_per_s"), 1),
                    opt(cm, 2),
                    opt(ct, 2),
                    ratio(cm, ct),
                );
            }
        }
        let _ = writeln!(o, "\n### {title}: latency and fairness\n");
        let _ = writeln!(
            o,
            "| conns | size | p50 µs Muon / tokio | p99 µs Muon / tokio | p99.9 µs Muon / tokio | spread max/min Muon / tokio | spread CV Muon / tokio |\n|---|---|---|---|---|---|---|"
        );
        for c in CONNS {
            for s in SIZES {
                let pair = |metric: &str, dg: usize| {
                    format!(
                        "{} / {}",
                        opt(q("muon", c, s, metric), dg),
                        opt(q("tokio", c, s, metric), dg)
                    )
                };
                let _ = writeln!(
                    o,
                    "| {c} | {} | {} | {} | {} | {} | {} |",
                    size_label(s),
                    pair("p50_us", 1),
                    pair("p99_us", 1),
                    pair("p999_us", 1),
                    pair("spread_max_min", 2),
                    pair("spread_cv", 3),
                );
            }
        }
        let _ = writeln!(o);
    }
    // Pingpong plots (system OpenSSL).
    let cats: Vec<String> = CONNS
        .iter()
        .flat_map(|c| SIZES.iter().map(move |s| format!("{c}c {}K", s / 1024)))
        .collect();
    let pp_series = |metric: &str| -> Vec<(String, Vec<Option<f64>>)> {
        let mut out = Vec::new();
        for (tls, label) in [("false", "plain"), ("true", "TLS")] {
            for imp in ["muon", "tokio"] {
                let vals = CONNS
                    .iter()
                    .flat_map(|c| SIZES.iter().map(move |s| (*c, *s)))
                    .map(|(c, s)| {
                        d.med(
                            &[
                                ("scenario", "pingpong"),
                                ("impl", imp),
                                ("tls", tls),
                                ("ssl", "system"),
                                ("conns", &c.to_string()),
                                ("size", &s.to_string()),
                            ],
                            metric,
                        )
                    })
                    .collect();
                out.push((format!("{imp} {label}"), vals));
            }
        }
        out
    };
    write_svg(
        &dir,
        "bench-pingpong-cpu.svg",
        &BarChart {
            title: "Pingpong: server CPU per message (lower is better)",
            y_label: "server CPU µs / message",
            categories: cats.clone(),
            series: pp_series("server_cpu_us_per_msg"),
        },
    )?;
    write_svg(
        &dir,
        "bench-pingpong-rate.svg",
        &BarChart {
            title: "Pingpong: messages per second (load generator on one core)",
            y_label: "messages / s",
            categories: cats,
            series: pp_series("msgs_per_s"),
        },
    )?;
    let _ = writeln!(
        o,
        "![server CPU per message](bench-pingpong-cpu.svg)\n\n![messages per second](bench-pingpong-rate.svg)\n"
    );

    // Handshakes.
    let _ = writeln!(o, "## Handshakes\n");
    let hs_cases: Vec<(&str, &str, &str)> = ["ecdsa", "rsa"]
        .iter()
        .flat_map(|k| {
            ["1.3", "1.2"]
                .iter()
                .flat_map(move |v| ["false", "true"].iter().map(move |r| (*k, *v, *r)))
        })
        .collect();
    let hs_floor = |key: &str, ver: &str, resume: &str| -> f64 {
        let sign = if key == "rsa" {
            us(floors.rsa2048_sign_per_s)
        } else {
            us(floors.ecdsa_p256_sign_per_s)
        };
        let x = us(floors.x25519_per_s);
        match (ver, resume) {
            (_, "false") => sign + 2.0 * x,
            ("1.3", _) => 2.0 * x,
            _ => 0.0,
        }
    };
    let hs_label = |k: &str, v: &str, r: &str| {
        format!(
            "{} TLS {v} {}",
            if k == "rsa" { "RSA" } else { "ECDSA" },
            if r == "true" { "resumed" } else { "full" }
        )
    };
    for ssl in &ssls {
        let _ = writeln!(o, "### {ssl} OpenSSL\n");
        let _ = writeln!(
            o,
            "| handshake | hs/s Muon | hs/s tokio | rate Muon/tokio | CPU µs/hs Muon | CPU µs/hs tokio | CPU Muon/tokio | crypto floor µs | resumed Muon / tokio |\n|---|---|---|---|---|---|---|---|---|"
        );
        for (k, v, r) in &hs_cases {
            let q = |imp: &str, metric: &str| {
                d.med(
                    &[
                        ("scenario", "handshake"),
                        ("impl", imp),
                        ("ssl", ssl),
                        ("key", k),
                        ("tls_version", v),
                        ("resume", r),
                    ],
                    metric,
                )
            };
            let (rm, rt) = (
                q("muon", "handshakes_per_s"),
                q("tokio", "handshakes_per_s"),
            );
            let (cm, ct) = (
                q("muon", "server_cpu_us_per_handshake"),
                q("tokio", "server_cpu_us_per_handshake"),
            );
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} / {} |",
                hs_label(k, v, r),
                opt(rm, 0),
                opt(rt, 0),
                ratio(rm, rt),
                opt(cm, 1),
                opt(ct, 1),
                ratio(cm, ct),
                hs_floor(k, v, r),
                opt(q("muon", "resumed_fraction"), 2),
                opt(q("tokio", "resumed_fraction"), 2),
            );
        }
        let _ = writeln!(o);
    }
    {
        let mut series = Vec::new();
        for ssl in &ssls {
            for imp in ["muon", "tokio"] {
                let vals = hs_cases
                    .iter()
                    .map(|(k, v, r)| {
                        d.med(
                            &[
                                ("scenario", "handshake"),
                                ("impl", imp),
                                ("ssl", ssl),
                                ("key", k),
                                ("tls_version", v),
                                ("resume", r),
                            ],
                            "server_cpu_us_per_handshake",
                        )
                    })
                    .collect();
                series.push((format!("{imp} ({ssl})"), vals));
            }
        }
        series.push((
            "crypto floor".into(),
            hs_cases
                .iter()
                .map(|(k, v, r)| Some(hs_floor(k, v, r)))
                .collect(),
        ));
        write_svg(
            &dir,
            "bench-handshake.svg",
            &BarChart {
                title: "Handshakes: server CPU per handshake vs the crypto floor",
                y_label: "server CPU µs / handshake",
                categories: hs_cases
                    .iter()
                    .map(|(k, v, r)| {
                        format!(
                            "{} {v} {}",
                            if *k == "rsa" { "RSA" } else { "EC" },
                            if *r == "true" { "res" } else { "full" }
                        )
                    })
                    .collect(),
                series,
            },
        )?;
        let _ = writeln!(o, "![handshake CPU](bench-handshake.svg)\n");
    }

    accept_modes_section(&d, &mut o);

    // Bulk.
    let _ = writeln!(
        o,
        "## Bulk (256 MiB each way per connection, content checked)\n"
    );
    let _ = writeln!(
        o,
        "| variant | conns | MiB/s Muon | MiB/s tokio | CPU ms/GiB Muon | CPU ms/GiB tokio | CPU Muon/tokio | floor ms/GiB |\n|---|---|---|---|---|---|---|---|"
    );
    let mut bulk_cats = Vec::new();
    let mut bulk_m = Vec::new();
    let mut bulk_t = Vec::new();
    for (tls, ssl, label) in &variants {
        for c in [1usize, 4] {
            let cs = c.to_string();
            let q = |imp: &str, metric: &str| {
                d.med(
                    &[
                        ("scenario", "bulk"),
                        ("impl", imp),
                        ("tls", tls),
                        ("ssl", ssl),
                        ("conns", &cs),
                    ],
                    metric,
                )
            };
            let (cm, ct) = (
                q("muon", "server_cpu_ms_per_gib"),
                q("tokio", "server_cpu_ms_per_gib"),
            );
            let floor = if *tls == "true" {
                let plain = d.med(
                    &[
                        ("scenario", "bulk"),
                        ("impl", "muon"),
                        ("tls", "false"),
                        ("conns", &cs),
                    ],
                    "server_cpu_ms_per_gib",
                );
                format!(
                    "{} (Muon plain + {:.0} AEAD)",
                    opt(plain.map(|p| p + aead_ms_per_gib), 0),
                    aead_ms_per_gib
                )
            } else {
                "–".into()
            };
            let _ = writeln!(
                o,
                "| {label} | {c} | {} | {} | {} | {} | {} | {floor} |",
                opt(q("muon", "mib_per_s"), 0),
                opt(q("tokio", "mib_per_s"), 0),
                opt(cm, 0),
                opt(ct, 0),
                ratio(cm, ct),
            );
            bulk_cats.push(format!(
                "{} {c}c",
                match (*tls, *ssl) {
                    ("false", _) => "plain",
                    (_, "system") => "TLS",
                    _ => "TLS vend.",
                }
            ));
            bulk_m.push(cm);
            bulk_t.push(ct);
        }
    }
    write_svg(
        &dir,
        "bench-bulk.svg",
        &BarChart {
            title: "Bulk echo: server CPU per GiB (lower is better)",
            y_label: "server CPU ms / GiB",
            categories: bulk_cats,
            series: vec![("muon".into(), bulk_m), ("tokio".into(), bulk_t)],
        },
    )?;
    let _ = writeln!(o, "\n![bulk CPU per GiB](bench-bulk.svg)\n");

    // Memory.
    let _ = writeln!(o, "## Memory (10,000 idle connections)\n");
    let _ = writeln!(
        o,
        "| variant | RSS before MiB Muon / tokio | RSS loaded MiB Muon / tokio | bytes/conn Muon | bytes/conn tokio | Muon/tokio | RSS after close MiB Muon / tokio |\n|---|---|---|---|---|---|---|"
    );
    let mut mem_cats = Vec::new();
    let (mut mem_m, mut mem_t) = (Vec::new(), Vec::new());
    for (tls, ssl, label) in &variants {
        let q = |imp: &str, metric: &str| {
            d.med(
                &[
                    ("scenario", "memory"),
                    ("impl", imp),
                    ("tls", tls),
                    ("ssl", ssl),
                ],
                metric,
            )
        };
        let mib = |v: Option<f64>| v.map(|x| x / (1 << 20) as f64);
        let (pm, pt) = (q("muon", "rss_per_conn"), q("tokio", "rss_per_conn"));
        let _ = writeln!(
            o,
            "| {label} | {} / {} | {} / {} | {} | {} | {} | {} / {} |",
            opt(mib(q("muon", "rss_before")), 1),
            opt(mib(q("tokio", "rss_before")), 1),
            opt(mib(q("muon", "rss_loaded")), 1),
            opt(mib(q("tokio", "rss_loaded")), 1),
            opt(pm, 0),
            opt(pt, 0),
            ratio(pm, pt),
            opt(mib(q("muon", "rss_after_close")), 1),
            opt(mib(q("tokio", "rss_after_close")), 1),
        );
        mem_cats.push(label.to_string());
        mem_m.push(pm);
        mem_t.push(pt);
    }
    write_svg(
        &dir,
        "bench-memory.svg",
        &BarChart {
            title: "Idle connections: server RSS per connection (lower is better)",
            y_label: "bytes / connection",
            categories: mem_cats,
            series: vec![("muon".into(), mem_m), ("tokio".into(), mem_t)],
        },
    )?;
    let _ = writeln!(o, "\n![memory per connection](bench-memory.svg)\n");

    if let Some(notes) = &args.notes {
        if let Ok(n) = std::fs::read_to_string(notes) {
            let _ = writeln!(o, "{}", crate::findings::fill(&n, &d, d.want_reps, &meta));
        }
    }
    // Last, so that it lists the cells of the findings too.
    let short = d.short.borrow();
    let _ = writeln!(
        o,
        "## Repetitions
"
    );
    if short.is_empty() {
        let _ = writeln!(
            o,
            "Every figure above is the median of the {} repetitions asked for.",
            d.want_reps
        );
    } else {
        let _ = writeln!(
            o,
            "These medians rest on fewer repetitions than the {} asked for (a load run \
             failed; see the log of `bench/run.sh`); figures marked † in the findings use them:\n",
            d.want_reps
        );
        for cell in short.iter() {
            let _ = writeln!(o, "- {cell}");
        }
    }
    std::fs::write(&args.out, o)?;
    eprintln!("report: wrote {}", args.out.display());
    Ok(())
}

fn write_svg(dir: &Path, name: &str, chart: &BarChart) -> io::Result<()> {
    std::fs::write(dir.join(name), bar_chart(chart))
}

/// The accept-mode comparison: the same handshakes against Muon's main reactor with a
/// hand-off, a worker accepting for itself (SO_REUSEPORT), the main loop alone, and
/// tokio with one worker (all pinned to one core, system OpenSSL, ECDSA).
fn accept_modes_section(d: &Data, o: &mut String) {
    if d.reps(&[("batch", "accept")]) == 0 {
        return;
    }
    let _ = writeln!(
        o,
        "## Accept modes (one core, system OpenSSL, ECDSA)\n\n\
`main`: the main reactor accepts and hands each connection to the one worker (default). \
`per-loop`: the worker accepts on its own `SO_REUSEPORT` listener (`accept_per_loop(true)`). \
`main-only`: `threads(0)`, the main loop accepts and serves. tokio: one worker thread.\n"
    );
    let _ = writeln!(
        o,
        "| handshake | mode | hs/s | CPU µs/hs | CPU vs tokio |\n|---|---|---|---|---|"
    );
    for (v, r) in [
        ("1.2", "true"),
        ("1.3", "true"),
        ("1.2", "false"),
        ("1.3", "false"),
    ] {
        let q = |mode: &str, metric: &str| {
            d.med(
                &[
                    ("batch", "accept"),
                    ("mode", mode),
                    ("tls_version", v),
                    ("resume", r),
                ],
                metric,
            )
        };
        let tokio_cpu = q("tokio", "server_cpu_us_per_handshake");
        for mode in ["main", "per-loop", "main-only", "tokio"] {
            let cpu = q(mode, "server_cpu_us_per_handshake");
            let _ = writeln!(
                o,
                "| TLS {v} {} | {mode} | {} | {} | {} |",
                if r == "true" { "resumed" } else { "full" },
                opt(q(mode, "handshakes_per_s"), 0),
                opt(cpu, 1),
                ratio(cpu, tokio_cpu),
            );
        }
    }
    let _ = writeln!(o);
}
