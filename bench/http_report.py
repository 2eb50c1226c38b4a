#!/usr/bin/env python3
"""Writes the HTTP section of docs/benchmarks.md (and docs/bench-http.svg) from the
JSON lines of bench/run.sh's `http` scenario. Usage:
  bench/http_report.py bench/results/http.jsonl bench/results/http-meta.txt docs/benchmarks.md docs/bench-http.svg
The section sits between <!-- http:begin --> and <!-- http:end --> (appended if absent)."""
import json, statistics, sys

results, meta_path, doc_path, svg_path = sys.argv[1:5]
rows = [json.loads(l) for l in open(results) if l.strip()]
meta = open(meta_path).read().strip()
conns = sorted({r["conns"] for r in rows})
impls = ["muon", "hyper"]

import re
m = re.search(r"BENCH_REPS=(\d+)", meta)
want_reps = int(m.group(1)) if m else 1

def reps(imp, c):
    return sum(1 for r in rows if r["impl"] == imp and r["conns"] == c)

def flag(imp, c):
    """A dagger on a cell whose median rests on fewer repetitions than asked."""
    return "†" if reps(imp, c) < want_reps else ""

def med(imp, c, key):
    vals = [r[key] for r in rows if r["impl"] == imp and r["conns"] == c]
    return statistics.median(vals) if vals else float("nan")

lines = ["<!-- http:begin -->", "## HTTP/1.1: keep-alive `GET /`, Muon (`muon::http`) vs hyper", "",
         "wrk (`-t1 --latency`, keep-alive) against one server at a time, in a random order within each repetition; "
         "the server on core 0 with one worker (Muon `threads(1)`; hyper 1.x on a tokio "
         "current-thread runtime), wrk on core 1, loopback. Both answer the same 14-byte text with "
         "Date, Content-Type and Content-Length. Server CPU is utime+stime from /proc over the whole "
         "wrk run. Medians of the repetitions.", "",
         "2 cores, so server and load generator each have one; the load average before and after "
         "is in the metadata below (a high one means other work shared the machine and the figures "
         "are noisy): compare the two columns of the same run, not with other pages.", "",
         "| connections | server | requests/s | server CPU µs / request | Muon ÷ hyper (CPU/request) | p50 ms | p99 ms | errors |",
         "|---|---|---|---|---|---|---|---|"]
for c in conns:
    ratio = med("muon", c, "cpu_us_per_req") / med("hyper", c, "cpu_us_per_req")
    for imp in impls:
        lines.append("| %d | %s | %.0f%s | %.2f | %s | %.2f | %.2f | %d |" % (
            c, imp, med(imp, c, "rps"), flag(imp, c), med(imp, c, "cpu_us_per_req"),
            ("%.2f" % ratio) if imp == "muon" else "", med(imp, c, "p50_ms"), med(imp, c, "p99_ms"),
            sum(r["errors"] for r in rows if r["impl"] == imp and r["conns"] == c)))
short = ["%s at %d connections: %d of %d" % (imp, c, reps(imp, c), want_reps)
         for c in conns for imp in impls if reps(imp, c) < want_reps]
lines += ["", ("† fewer repetitions than the %d asked for (a wrk run failed): " % want_reps + "; ".join(short) + ".")
          if short else "Every median rests on the %d repetitions asked for." % want_reps]
def spread(imp, c, key):
    vals = [r[key] for r in rows if r["impl"] == imp and r["conns"] == c]
    return "%.2f-%.2f" % (min(vals), max(vals))
lines += ["", "Run-to-run range of server CPU µs per request: " + "; ".join(
    "%d connections: Muon %s, hyper %s" % (c, spread("muon", c, "cpu_us_per_req"), spread("hyper", c, "cpu_us_per_req"))
    for c in conns) + ". Where these ranges overlap, the difference between the medians is "
    "within this machine's noise.", ""]
lines += ["", "![CPU per request and p99 latency](bench-http.svg)", "",
          "Every run (raw, `bench/results/http.jsonl`):", "",
          "| server | connections | rep | requests | s | CPU s | req/s | µs/req | p99 ms |", "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append("| %s | %d | %d | %d | %.1f | %.2f | %.0f | %.2f | %.2f |" % (
        r["impl"], r["conns"], r["rep"], r["requests"], r["seconds"], r["cpu_s"], r["rps"],
        r["cpu_us_per_req"], r["p99_ms"]))
lines += ["", "```text", meta, "```", "<!-- http:end -->"]
section = "\n".join(lines) + "\n"

doc = open(doc_path).read() if __import__("os").path.exists(doc_path) else ""
if "<!-- http:begin -->" in doc:
    a = doc.index("<!-- http:begin -->")
    b = doc.index("<!-- http:end -->") + len("<!-- http:end -->\n")
    doc = doc[:a] + section + doc[b:]
else:
    doc = doc.rstrip("\n") + "\n\n" + section
open(doc_path, "w").write(doc)

# Two bar groups per connection count: CPU per request and p99, Muon vs hyper.
W, H, pad = 640, 260, 40
colors = {"muon": "#3b6ea8", "hyper": "#c8743a"}
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H)]
panels = [("cpu_us_per_req", "server CPU µs per request"), ("p99_ms", "p99 latency ms")]
pw = (W - pad) / len(panels)
for pi, (key, title) in enumerate(panels):
    x0 = pad / 2 + pi * pw
    vmax = max(med(i, c, key) for i in impls for c in conns) * 1.15 or 1
    svg.append('<text x="%.0f" y="18" text-anchor="middle" font-weight="bold">%s</text>' % (x0 + pw / 2, title))
    gw = (pw - 20) / len(conns)
    for ci, c in enumerate(conns):
        gx = x0 + 10 + ci * gw
        for ii, imp in enumerate(impls):
            v = med(imp, c, key)
            bh = (H - 70) * v / vmax
            bx = gx + 10 + ii * (gw - 20) / 2
            bw = (gw - 20) / 2 - 4
            svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (bx, H - 40 - bh, bw, bh, colors[imp]))
            svg.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.2f</text>' % (bx + bw / 2, H - 44 - bh, v))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d conns</text>' % (gx + gw / 2, H - 24, c))
for ii, imp in enumerate(impls):
    svg.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>' % (
        W / 2 - 60 + ii * 70, H - 14, colors[imp], W / 2 - 46 + ii * 70, H - 5, imp))
svg.append("</svg>")
open(svg_path, "w").write("\n".join(svg) + "\n")
