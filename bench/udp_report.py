#!/usr/bin/env python3
"""Writes the UDP section of docs/benchmarks.md (and docs/bench-udp.svg) from the JSON
lines of bench/udp.sh. Usage:
  bench/udp_report.py bench/results/udp.jsonl bench/results/udp-meta.txt docs/benchmarks.md docs/bench-udp.svg
The section sits between <!-- udp:begin --> and <!-- udp:end --> (appended if absent).
Each (size, flows, server) has "saturate" lines (closed loop: the saturation rate and
the CPU per datagram) and "paced" lines (open loop at 80 % of that run's rate: the
loss). Every figure is a median over the repetitions; the ratios against the issue's
targets are computed here, not written by hand."""
import json, os, statistics, sys

results, meta_path, doc_path, svg_path = sys.argv[1:5]
rows = [json.loads(l) for l in open(results) if l.strip()]
meta = open(meta_path).read().strip() if os.path.exists(meta_path) else ""
servers = ["muon", "tokio", "floor"]
cases = sorted({(r["size"], r["flows"]) for r in rows})


def pick(mode, size, flows, server):
    return [r for r in rows if r.get("mode", "saturate") == mode and r["size"] == size
            and r["flows"] == flows and r["server"] == server]


def med(mode, size, flows, server, key):
    vals = [r[key] for r in pick(mode, size, flows, server)]
    return statistics.median(vals) if vals else float("nan")


def loss(size, flows, server):
    """Datagrams lost over datagrams sent in the paced runs, in per cent."""
    runs = pick("paced", size, flows, server)
    sent = sum(r["sent"] for r in runs)
    return 100.0 * sum(r["lost"] for r in runs) / sent if sent else float("nan")


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b and b == b and a == a else "n/a"


lines = ["<!-- udp:begin -->",
         "## UDP echo (issue 22): Muon's `UdpServer` vs tokio's `UdpSocket` vs a C floor", "",
         "`bench/run.sh udp` (= `bench/udp.sh`, then this report): each server on one thread pinned "
         "to core 0 — Muon's `UdpServer` (`recvmmsg`/`sendmmsg`, GSO), tokio's `UdpSocket` on a "
         "current-thread runtime (one `recv_from` and one `send_to` per datagram), and "
         "`bench/udp_floor.c` (epoll + `recvmmsg`/`sendmmsg` batches of 64, no framework); the load "
         "generator (`muon-bench udp-load`, `sendmmsg`/`recvmmsg` on one connected socket per flow) "
         "pinned to core 1. Saturation: a closed loop (64 datagrams in flight with 1 flow, 1 per "
         "flow with 256). Loss: an open loop at 80 % of that run's saturation rate, every datagram "
         "not echoed within 200 ms of the last send counted lost. Server CPU is the time on a CPU of all its threads ("
         "/proc/PID/task/*/schedstat, in ns; utime+stime where the kernel has no schedstat) over the window. Medians of the repetitions.", "",
         "Targets (issue 22): Muon's CPU per datagram ≤ 0.6× tokio's and ≤ 1.15× the floor's; no "
         "loss at 80 % of saturation.", "",
         "| size | flows | server | datagrams/s (saturated) | server CPU ns / datagram | ÷ tokio | ÷ floor | loss at 80 % |",
         "|---:|---:|---|---:|---:|---:|---:|---:|"]
verdicts = []
for size, flows in cases:
    cpu = {s: med("saturate", size, flows, s, "server_cpu_ns_per_dgram") for s in servers}
    for s in servers:
        lines.append("| %d B | %d | %s | %.0f | %.0f | %s | %s | %.3f %% |" % (
            size, flows, s, med("saturate", size, flows, s, "dgrams_per_s"), cpu[s],
            fmt_ratio(cpu[s], cpu["tokio"]) if s == "muon" else "",
            fmt_ratio(cpu[s], cpu["floor"]) if s == "muon" else "", loss(size, flows, s)))
    ok_tokio = cpu["muon"] <= 0.6 * cpu["tokio"]
    ok_floor = cpu["muon"] <= 1.15 * cpu["floor"]
    ok_loss = loss(size, flows, "muon") == 0.0
    verdicts.append("%d B × %d flows: ≤ 0.6× tokio %s, ≤ 1.15× floor %s, no loss at 80 %% %s" % (
        size, flows, "met" if ok_tokio else "NOT met", "met" if ok_floor else "NOT met",
        "met" if ok_loss else "NOT met"))
lines += ["", "Against the targets: " + "; ".join(verdicts) + ".", "",
          "![server CPU per datagram](bench-udp.svg)", "",
          "Every run (raw, `bench/results/udp.jsonl`):", "",
          "| mode | server | size | flows | s | sent | echoed | lost | datagrams/s | CPU s | ns/datagram |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append("| %s | %s | %d | %d | %.2f | %d | %d | %d | %.0f | %.3f | %.0f |" % (
        r.get("mode", "saturate"), r["server"], r["size"], r["flows"], r["seconds"], r["sent"],
        r["echoed"], r["lost"], r["dgrams_per_s"], r["server_cpu_s"], r["server_cpu_ns_per_dgram"]))
lines += ["", "```text", meta, "```", "<!-- udp:end -->"]
section = "\n".join(lines) + "\n"

doc = open(doc_path).read() if os.path.exists(doc_path) else ""
if "<!-- udp:begin -->" in doc:
    a = doc.index("<!-- udp:begin -->")
    b = doc.index("<!-- udp:end -->") + len("<!-- udp:end -->\n")
    doc = doc[:a] + section + doc[b:]
else:
    doc = doc.rstrip("\n") + "\n\n" + section
open(doc_path, "w").write(doc)

# One group of three bars (muon, tokio, floor) per case: server CPU ns per datagram.
W, H = 720, 280
colors = {"muon": "#3b6ea8", "tokio": "#c8743a", "floor": "#6a9a4a"}
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<text x="%d" y="18" text-anchor="middle" font-weight="bold">UDP echo: server CPU ns per datagram (lower is better)</text>' % (W / 2)]
vals = [med("saturate", sz, fl, s, "server_cpu_ns_per_dgram") for sz, fl in cases for s in servers]
vmax = max([v for v in vals if v == v] or [1]) * 1.15
gw = (W - 40) / max(len(cases), 1)
for ci, (size, flows) in enumerate(cases):
    gx = 20 + ci * gw
    for si, s in enumerate(servers):
        v = med("saturate", size, flows, s, "server_cpu_ns_per_dgram")
        v = 0 if v != v else v
        bw = (gw - 30) / len(servers)
        bh = (H - 80) * v / vmax
        bx = gx + 15 + si * bw
        svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (bx, H - 50 - bh, bw - 4, bh, colors[s]))
        svg.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>' % (bx + (bw - 4) / 2, H - 54 - bh, v))
    svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d B, %d flow%s</text>' % (
        gx + gw / 2, H - 32, size, flows, "" if flows == 1 else "s"))
for si, s in enumerate(servers):
    svg.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>' % (
        W / 2 - 100 + si * 80, H - 16, colors[s], W / 2 - 86 + si * 80, H - 7, s))
svg.append("</svg>")
open(svg_path, "w").write("\n".join(svg) + "\n")
