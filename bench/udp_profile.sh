#!/usr/bin/env bash
# Where a UDP echo server's CPU goes, measured so that a loaded machine does not change
# the answer: user-space instructions per datagram under valgrind's callgrind (Muon's
# UdpServer, tokio's UdpSocket echo, the C floor), each server run twice with the same
# closed-loop load of N1 and N2 datagrams; (Ir(N2) - Ir(N1)) / (N2 - N1) cancels the
# start-up and shutdown cost. Kernel time is not counted here (callgrind sees only user
# space): the system calls per datagram are the other half, and bench/udp.sh's CPU per
# datagram includes both. Output: one JSON line per server in
# bench/results/udp-profile.jsonl, and the callgrind files in bench/out/ for
# `callgrind_annotate` (the functions that cost most per datagram).
#
#   bench/udp_profile.sh            # 64 B, 1 flow, N1=20000 N2=60000
#   UDP_PROFILE_SIZE=1200 bench/udp_profile.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SIZE=${UDP_PROFILE_SIZE:-64}
FLOWS=${UDP_PROFILE_FLOWS:-1}
N1=${UDP_PROFILE_N1:-20000}
N2=${UDP_PROFILE_N2:-60000}
OUT=$ROOT/bench/results/udp-profile.jsonl
command -v valgrind >/dev/null || { echo "udp_profile.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$ROOT/bench/out" "$ROOT/bench/results"
cargo build --release -p muon-bench >&2
BIN=$CARGO_TARGET_DIR/release/muon-bench
FLOOR=$ROOT/bench/out/udp_floor
cc -O2 -g -Wall -o "$FLOOR" bench/udp_floor.c

pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# Total Ir of one server run that echoes $2 datagrams; the callgrind file is $3.
instructions() {
    local imp=$1 count=$2 file=$3 port=$4
    rm -f "$file"
    local cmd=("$BIN" udp-server --impl "$imp" --addr "127.0.0.1:$port")
    [[ $imp == floor ]] && cmd=("$FLOOR" 127.0.0.1 "$port")
    valgrind --tool=callgrind --callgrind-out-file="$file" "${cmd[@]}" 2>/dev/null &
    pid=$!
    python3 - "$port" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
deadline = time.time() + 60
while time.time() < deadline:
    try:
        s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(64); sys.exit(0)
    except OSError:
        pass
sys.exit("server did not start under valgrind")
PY
    # A closed loop of `count` datagrams (bounded in time too; 300 s under valgrind).
    local line
    line=$(timeout 300 "$BIN" udp-load --addr "127.0.0.1:$port" --server-pid "$pid" \
        --size "$SIZE" --flows "$FLOWS" --count "$count" --seconds 300 --label "$imp")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    pid=
    local echoed ir
    echoed=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["echoed"])' "$line")
    # The total line of the callgrind file: "summary: <Ir>" (or "totals:").
    ir=$(grep -E '^(summary|totals):' "$file" | head -1 | awk '{print $2}')
    echo "$ir $echoed"
}

: >"$OUT"
port=9500
for imp in muon tokio floor; do
    port=$((port + 1)); read -r ir1 e1 < <(instructions "$imp" "$N1" "$ROOT/bench/out/callgrind.$imp.n1" "$port")
    port=$((port + 1)); read -r ir2 e2 < <(instructions "$imp" "$N2" "$ROOT/bench/out/callgrind.$imp.n2" "$port")
    python3 - "$imp" "$SIZE" "$FLOWS" "$ir1" "$e1" "$ir2" "$e2" <<'PY' | tee -a "$OUT"
import json, sys
imp, size, flows, ir1, e1, ir2, e2 = sys.argv[1], *map(int, sys.argv[2:])
per = (ir2 - ir1) / (e2 - e1) if e2 > e1 else float("nan")
print(json.dumps({"scenario": "udp-profile", "server": imp, "size": size, "flows": flows,
                  "echoed": [e1, e2], "instructions": [ir1, ir2],
                  "user_instructions_per_dgram": round(per, 1)}))
PY
done
echo "udp_profile.sh: per-function costs: callgrind_annotate bench/out/callgrind.muon.n2" >&2
