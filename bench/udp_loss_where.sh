#!/usr/bin/env bash
# Where do datagrams die in bench/udp.sh's paced run (80 % of saturation)? Runs one
# 64 B x 1 flow saturation + paced pair against Muon and against the C floor, and reads
# /proc/net/udp's per-socket drop counter for the server's socket before and after
# (the load generator's sockets are gone by then: drops at the server socket equal to
# the lost count mean the server's receive buffer overflowed). Needs bench/udp.sh to
# have built muon-bench and bench/out/udp_floor.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${CARGO_TARGET_DIR:-target}/release/muon-bench
FLOOR=bench/out/udp_floor
PORT=9399
server_drops() {
    awk -v p="$(printf '%04X' "$PORT")" \
        'NR > 1 { split($2, a, ":"); if (a[2] == p) s += $NF } END { print s + 0 }' /proc/net/udp
}
for imp in muon floor; do
    PORT=$((PORT + 1))
    if [[ $imp == floor ]]; then
        taskset -c 0 "$FLOOR" 127.0.0.1 "$PORT" 2>/dev/null &
    else
        taskset -c 0 "$BIN" udp-server --impl "$imp" --addr "127.0.0.1:$PORT" 2>/dev/null &
    fi
    pid=$!
    # The saturation run also proves the server is up (udp-load fails on no echo).
    line=$(timeout 60 taskset -c 1 "$BIN" udp-load --addr "127.0.0.1:$PORT" --server-pid "$pid" \
        --size 64 --flows 1 --seconds 2 --label "$imp")
    rate=$(python3 -c 'import json,sys; print("%.0f" % (0.8 * json.loads(sys.argv[1])["dgrams_per_s"]))' "$line")
    before=$(server_drops)
    paced=$(timeout 60 taskset -c 1 "$BIN" udp-load --addr "127.0.0.1:$PORT" --server-pid "$pid" \
        --size 64 --flows 1 --seconds 2 --label "$imp" --rate "$rate")
    lost=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lost"])' "$paced")
    echo "$imp: paced at $rate/s, lost $lost, dropped at the server socket $(($(server_drops) - before))"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
