#!/usr/bin/env python3
"""Writes the "TLS providers" section of docs/benchmarks.md from bench/run.sh rustls's
JSON lines: medians over the alternated reps, per server, and the ratios the issue's
targets are stated in.

Usage: rustls_report.py RESULTS.jsonl docs/benchmarks.md "command and machine line"
"""
import json
import statistics
import sys

BEGIN = "<!-- rustls:begin (bench/run.sh rustls writes this section) -->"
END = "<!-- rustls:end -->"
IMPLS = ["muon", "tokio", "muon-rustls", "tokio-rustls", "muon-rustls-per-loop"]
NAMES = {
    "muon": "Muon + OpenSSL",
    "tokio": "tokio + tokio-openssl",
    "muon-rustls": "Muon + rustls",
    "tokio-rustls": "tokio + tokio-rustls",
    "muon-rustls-per-loop": "Muon + rustls, per-loop accept",
}


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def resumed_note(fraction):
    if fraction is None:
        return ""
    if fraction >= 0.9995:
        return " (100 % resumed)"
    return f" (**only {fraction * 100:.0f} % resumed**: a mix of full and resumed handshakes)"


def main():
    results, doc, meta = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(l) for l in open(results) if l.strip()]

    def pick(imp, scenario, **kw):
        return [
            r
            for r in rows
            if r["impl"] == imp
            and r["scenario"] == scenario
            and all(r.get(k) == v for k, v in kw.items())
        ]

    lines = [BEGIN, "", "## TLS providers: OpenSSL and rustls", ""]
    lines.append(
        "Server CPU per unit of work (lower is better), medians of the alternated reps; "
        "one server worker on core 0, the load generator (OpenSSL client) on core 1, "
        "ECDSA P-256 certificate. `muon-rustls` is `muon::rustls::RustlsAcceptor`; "
        "`tokio-rustls` serves the very same rustls `ServerConfig`. The default Muon "
        "server has the main loop accept and hand each connection to the worker "
        "(a wake-up and a context switch per connection); `per-loop accept` is the same "
        "server with `accept_per_loop(true)`, the worker accepting on its own "
        "`SO_REUSEPORT` listener as tokio's one task does (handshakes only)."
    )
    lines.append("")
    lines.append("| measure | " + " | ".join(NAMES[i] for i in IMPLS) + " | Muon+rustls / tokio-rustls | Muon+rustls / tokio-openssl | per-loop / tokio-rustls |")
    lines.append("|---|" + "---|" * (len(IMPLS) + 3))

    def row(label, per_impl, fmt="{:.1f}", note=None):
        vals = [per_impl(i) for i in IMPLS]
        cells = [fmt.format(v) if v is not None else "–" for v in vals]
        if note:
            cells = [c + note(i) for c, i in zip(cells, IMPLS)]
        mr, tr, to, pl = vals[2], vals[3], vals[1], vals[4]
        ratio = lambda a, b: f"{a / b:.2f}×" if a is not None and b else "–"
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {ratio(mr, tr)} | {ratio(mr, to)} | {ratio(pl, tr)} |"
        )

    for ver, resume, label in [
        ("1.3", False, "full TLS 1.3 handshake, µs CPU"),
        ("1.3", True, "TLS 1.3 handshake offering a ticket, µs CPU"),
        ("1.2", False, "full TLS 1.2 handshake, µs CPU"),
        ("1.2", True, "TLS 1.2 handshake offering a ticket, µs CPU"),
    ]:
        hs = lambda i: pick(i, "handshake", tls_version=ver, resume=resume)
        # Resumed rows: the share of handshakes the server really resumed; a cell
        # below 100 % mixes full and resumed handshakes and says so.
        note = (lambda i: resumed_note(median(hs(i), "resumed_fraction"))) if resume else None
        row(label, lambda i: median(hs(i), "server_cpu_us_per_handshake"), note=note)
    for conns in (1, 100):
        for size in (1024, 16384):
            row(
                f"pingpong {size // 1024} KiB, {conns} conn{'s' if conns > 1 else ''}, µs CPU per message",
                lambda i: median(pick(i, "pingpong", conns=conns, size=size), "server_cpu_us_per_msg"),
                "{:.2f}",
            )
    row("bulk 64 MiB each way, ms CPU per GiB", lambda i: median(pick(i, "bulk"), "server_cpu_ms_per_gib"), "{:.0f}")
    row(
        "idle TLS connection, bytes of server RSS",
        lambda i: median(pick(i, "memory"), "rss_per_conn"),
        "{:.0f}",
    )
    lines.append("")
    lines.append(meta)
    lines.append("")
    lines.append(END)
    section = "\n".join(lines)

    text = open(doc).read()
    if BEGIN in text and END in text:
        a = text.index(BEGIN)
        b = text.index(END) + len(END)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(doc, "w").write(text)


if __name__ == "__main__":
    main()
