#!/usr/bin/env python3
"""Writes the HTTP/2 section of docs/benchmarks.md (and docs/bench-h2.svg) from the
JSON lines of bench/run.sh's `h2` scenario. Usage:
  bench/h2_report.py bench/results/h2.jsonl bench/results/h2-meta.txt docs/benchmarks.md docs/bench-h2.svg
The section sits between <!-- h2:begin --> and <!-- h2:end --> (appended if absent);
hand-written notes belong outside the markers."""
import json, os, re, statistics, sys

results, meta_path, doc_path, svg_path = sys.argv[1:5]
rows = [json.loads(l) for l in open(results) if l.strip()]
for r in rows:
    r.setdefault("tls", "none")
meta = open(meta_path).read().strip()
m = re.search(r"BENCH_REPS=(\d+)", meta)
want_reps = int(m.group(1)) if m else 1
impls = ["muon", "hyper-h2"]
tls_order = [t for t in ("none", "openssl", "rustls") if any(r["tls"] == t for r in rows)]
cells = sorted({(r["conns"], r["streams"]) for r in rows})
TLS_TITLE = {"none": "h2c (cleartext, prior knowledge)",
             "openssl": "TLS, OpenSSL (Muon `ssl::TlsAcceptor`; hyper on tokio-openssl, same `SslContext`)",
             "rustls": "TLS, rustls (Muon `rustls::RustlsAcceptor`; hyper on tokio-rustls, same `ServerConfig`)"}


def sel(imp, tls, c, s):
    return [r for r in rows if (r["impl"], r["tls"], r["conns"], r["streams"]) == (imp, tls, c, s)]


def med(imp, tls, c, s, key):
    vals = [r[key] for r in sel(imp, tls, c, s)]
    return statistics.median(vals) if vals else float("nan")


def flag(imp, tls, c, s):
    return "†" if len(sel(imp, tls, c, s)) < want_reps else ""


lines = ["<!-- h2:begin -->",
         "## HTTP/2: `GET /`, Muon (`muon::http`, driving the `h2` crate) vs hyper's http2 server", "",
         "h2load (`-t1`, a warm-up, then a timed main duration) against one server at a time, in a random "
         "order within each repetition; the server on core 0 with one worker (Muon `threads(1)`; hyper 1.x "
         "`server::conn::http2` on a tokio current-thread runtime), h2load on core 1, loopback. Both answer "
         "the same 14-byte text. Over TLS (ALPN `h2`, ECDSA P-256 certificate) hyper runs on the same TLS "
         "library and the very same context as Muon's provider, so a ratio compares the HTTP/2 and I/O code, "
         "not two TLS stacks. Server CPU is utime+stime from /proc from the end of h2load's warm-up "
         "(connections and handshakes made) to its exit, divided by the requests of the main duration. "
         "Medians of the repetitions.", "",
         "**Check the load averages in the metadata below**: on a shared machine the absolute rates are "
         "noisy; compare the two servers of the same run.", ""]
for tls in tls_order:
    lines += ["### " + TLS_TITLE[tls], "",
              "| connections | streams | server | requests/s | CPU µs/request | Muon ÷ hyper (CPU/request) | range µs/request | errors |",
              "|---|---|---|---|---|---|---|---|"]
    for c, s in cells:
        mm, mh = med("muon", tls, c, s, "cpu_us_per_req"), med("hyper-h2", tls, c, s, "cpu_us_per_req")
        for imp in impls:
            v = [r["cpu_us_per_req"] for r in sel(imp, tls, c, s)]
            lines.append("| %d | %d | %s | %.0f%s | %.2f | %s | %s | %d |" % (
                c, s, imp, med(imp, tls, c, s, "rps"), flag(imp, tls, c, s), med(imp, tls, c, s, "cpu_us_per_req"),
                ("%.2f" % (mm / mh)) if imp == "muon" and mh == mh and mh else "",
                ("%.2f-%.2f" % (min(v), max(v))) if v else "-",
                sum(r["errors"] for r in sel(imp, tls, c, s))))
    lines.append("")
short = ["%s %s %dx%d: %d of %d" % (imp, tls, c, s, len(sel(imp, tls, c, s)), want_reps)
         for tls in tls_order for c, s in cells for imp in impls if len(sel(imp, tls, c, s)) < want_reps]
lines += [("† fewer repetitions than the %d asked for (an h2load run failed): " % want_reps + "; ".join(short) + ".")
          if short else "Every median rests on the %d repetitions asked for." % want_reps, "",
          "![HTTP/2 server CPU per request](bench-h2.svg)", "",
          "```text", meta, "```", "<!-- h2:end -->"]
section = "\n".join(lines) + "\n"

doc = open(doc_path).read() if os.path.exists(doc_path) else ""
if "<!-- h2:begin -->" in doc:
    a = doc.index("<!-- h2:begin -->")
    b = doc.index("<!-- h2:end -->") + len("<!-- h2:end -->\n")
    doc = doc[:a] + section + doc[b:]
else:
    doc = doc.rstrip("\n") + "\n\n" + section
open(doc_path, "w").write(doc)

# One panel per TLS mode; in each, a bar pair (Muon, hyper) per connections x streams.
W, PH, pad = 720, 220, 40
H = PH * len(tls_order) + 30
colors = {"muon": "#3b6ea8", "hyper-h2": "#c8743a"}
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H)]
for pi, tls in enumerate(tls_order):
    y0 = pi * PH
    vals = [med(i, tls, c, s, "cpu_us_per_req") for i in impls for c, s in cells]
    vmax = max([v for v in vals if v == v] or [1]) * 1.2
    svg.append('<text x="%d" y="%d" text-anchor="middle" font-weight="bold">server CPU µs per request: %s</text>' % (
        W / 2, y0 + 18, {"none": "h2c", "openssl": "TLS, OpenSSL", "rustls": "TLS, rustls"}[tls]))
    gw = (W - pad) / max(len(cells), 1)
    for ci, (c, s) in enumerate(cells):
        gx = pad / 2 + ci * gw
        for ii, imp in enumerate(impls):
            v = med(imp, tls, c, s, "cpu_us_per_req")
            if v != v:
                continue
            bh = (PH - 70) * v / vmax
            bw = (gw - 30) / 2
            bx = gx + 10 + ii * (bw + 5)
            svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (bx, y0 + PH - 30 - bh, bw, bh, colors[imp]))
            svg.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.2f</text>' % (bx + bw / 2, y0 + PH - 34 - bh, v))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d conns x %d streams</text>' % (gx + gw / 2, y0 + PH - 14, c, s))
for ii, imp in enumerate(impls):
    svg.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>' % (
        W / 2 - 70 + ii * 80, H - 18, colors[imp], W / 2 - 56 + ii * 80, H - 9, imp))
svg.append("</svg>")
open(svg_path, "w").write("\n".join(svg) + "\n")
