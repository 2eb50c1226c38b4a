"""Medians per scenario from bench/ab.sh's results: a Markdown table, old vs new."""
import collections
import json
import statistics
import sys

path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
METRIC = {
    "pingpong": ("server_cpu_us_per_msg", "µs server CPU/msg"),
    "handshake": ("server_cpu_us_per_handshake", "µs server CPU/handshake"),
    "memory": ("rss_per_conn", "B RSS/connection"),
}
runs = collections.defaultdict(list)
for line in open(path):
    r = json.loads(line)
    if r.get("scenario") not in METRIC:
        continue
    key = (r["scenario"], r.get("tls"), r.get("conns"), r.get("size"), r.get("tls_version"), r.get("resume"))
    runs[(key, r["build"])].append(r[METRIC[r["scenario"]][0]])

print(f"| scenario | {old} | {new} | new/old |")
print("|---|---|---|---|")
for key in sorted({k for k, _ in runs}, key=str):
    a, b = runs.get((key, "old"), []), runs.get((key, "new"), [])
    if not a or not b:
        continue
    scenario, tls, conns, size, version, resume = key
    name = f"{scenario} {'TLS' if tls else 'plain'} {conns} conns"
    if scenario == "pingpong":
        name += f" × {size} B"
    if scenario == "handshake":
        name += f" TLS {version} {'resumed' if resume else 'full'}"
    ma, mb = statistics.median(a), statistics.median(b)
    spread = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}"
    print(f"| {name} ({METRIC[scenario][1]}) | {ma:.2f} ({spread(a)}) | {mb:.2f} ({spread(b)}) | {mb / ma:.3f} |")
