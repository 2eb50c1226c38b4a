#!/usr/bin/env bash
# UDP echo, one core each: the server pinned to core 0 (Muon's UdpServer, tokio's
# UdpSocket with one system call per datagram, and the C floor bench/udp_floor.c with
# recvmmsg/sendmmsg batches of 64), the batched load generator pinned to core 1.
# 64 B and 1,200 B datagrams, 1 and 256 flows. For each: a closed-loop run (the
# saturation rate and the server CPU per datagram), then an open-loop run at 80 % of
# that rate (the loss). One JSON line per run in bench/results/udp.jsonl; then
# bench/udp_report.py writes the table, the verdict against the targets and the plot
# into docs/benchmarks.md (between <!-- udp:begin/end -->) and docs/bench-udp.svg.
#
#   bench/udp.sh            # BENCH_REPS (3) rounds, BENCH_UDP_SECONDS (2) per run
#   BENCH_UDP_DOC=/tmp/b.md BENCH_UDP_SVG=/tmp/b.svg bench/udp.sh   # report elsewhere
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPS=${BENCH_REPS:-3}
SECONDS_EACH=${BENCH_UDP_SECONDS:-2}
DOC=${BENCH_UDP_DOC:-$ROOT/docs/benchmarks.md}
SVG=${BENCH_UDP_SVG:-$ROOT/docs/bench-udp.svg}
OUT=$ROOT/bench/results/udp.jsonl
META=$ROOT/bench/results/udp-meta.txt
mkdir -p "$ROOT/bench/out" "$ROOT/bench/results"
cargo build --release -p muon-bench >&2
BIN=$CARGO_TARGET_DIR/release/muon-bench
FLOOR=$ROOT/bench/out/udp_floor
cc -O2 -Wall -o "$FLOOR" bench/udp_floor.c
: >"$OUT"
{
    echo "date: $(date -u +%FT%TZ)  host: $(uname -srm)  cores: $(nproc)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "BENCH_REPS=$REPS BENCH_UDP_SECONDS=$SECONDS_EACH"
    echo "muon: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
} >"$META"

pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

PORT=9300
for rep in $(seq "$REPS"); do
    for size in 64 1200; do
        for flows in 1 256; do
            for imp in muon tokio floor; do
                PORT=$((PORT + 1))
                if [[ $imp == floor ]]; then
                    taskset -c 0 "$FLOOR" 127.0.0.1 "$PORT" 2>/dev/null &
                else
                    taskset -c 0 "$BIN" udp-server --impl "$imp" --addr "127.0.0.1:$PORT" 2>/dev/null &
                fi
                pid=$!
                # Ready when it echoes one datagram (bounded).
                python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(64); sys.exit(0)
    except OSError:
        pass
sys.exit("server did not start")
PY
                line=$(timeout 60 taskset -c 1 "$BIN" udp-load --addr "127.0.0.1:$PORT" --server-pid "$pid" \
                    --size "$size" --flows "$flows" --seconds "$SECONDS_EACH" --label "$imp")
                echo "$line" | tee -a "$OUT"
                rate=$(python3 -c 'import json,sys; print("%.0f" % (0.8 * json.loads(sys.argv[1])["dgrams_per_s"]))' "$line")
                if [[ $rate -gt 0 ]]; then
                    timeout 60 taskset -c 1 "$BIN" udp-load --addr "127.0.0.1:$PORT" --server-pid "$pid" \
                        --size "$size" --flows "$flows" --seconds "$SECONDS_EACH" --label "$imp" \
                        --rate "$rate" | tee -a "$OUT"
                else
                    echo "udp.sh: $imp echoed nothing at $size B x $flows flows" >&2
                fi
                kill "$pid"; wait "$pid" 2>/dev/null || true
                pid=
            done
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
python3 "$ROOT/bench/udp_report.py" "$OUT" "$META" "$DOC" "$SVG"
echo "udp.sh: report in $DOC and $SVG" >&2
