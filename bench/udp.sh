#!/usr/bin/env bash
# UDP echo, one core each: the server pinned to core 0 (Muon's UdpServer, tokio's
# UdpSocket with one system call per datagram, and the C floor bench/udp_floor.c with
# recvmmsg/sendmmsg batches of 64), the batched load generator pinned to core 1.
# 64 B and 1,200 B datagrams, 1 and 256 flows. One JSON line per run in
# bench/results/udp.jsonl (datagrams/s, lost, server CPU per datagram).
#
#   bench/udp.sh            # BENCH_REPS (3) rounds, BENCH_UDP_SECONDS (2) each
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPS=${BENCH_REPS:-3}
SECONDS_EACH=${BENCH_UDP_SECONDS:-2}
OUT=$ROOT/bench/results/udp.jsonl
mkdir -p "$ROOT/bench/out" "$ROOT/bench/results"
cargo build --release -p muon-bench >&2
BIN=$CARGO_TARGET_DIR/release/muon-bench
FLOOR=$ROOT/bench/out/udp_floor
cc -O2 -Wall -o "$FLOOR" bench/udp_floor.c
: >"$OUT"
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
                timeout 60 taskset -c 1 "$BIN" udp-load --addr "127.0.0.1:$PORT" --server-pid "$pid" \
                    --size "$size" --flows "$flows" --seconds "$SECONDS_EACH" --label "$imp" | tee -a "$OUT"
                kill "$pid"; wait "$pid" 2>/dev/null || true
            done
        done
    done
done
