#!/usr/bin/env bash
# Counts what an HTTP server does per request, in figures a loaded machine does not
# distort: user-space instructions (valgrind's callgrind, Ir) and system calls (strace -c),
# each over a fixed number of requests made by h2load (`--h1` for HTTP/1.1), Muon against
# hyper. Wall time and CPU time are not measured here (bench/run.sh does that).
#
#   bench/profile_http.sh            # h1, h2c and h2 over TLS (OpenSSL), Muon and hyper
#   bench/profile_http.sh h1 h2c     # some of: h1 h2c h2tls
#
# Knobs: PROFILE_REQUESTS (20000 per run), PROFILE_CONNS (50), PROFILE_STREAMS (1),
# PROFILE_BIN (a muon-bench binary; default: build it in release), PROFILE_OUT
# (bench/out/profile), PROFILE_PORT (9700: each server takes the next port). Writes
# one line per (case, server) to $PROFILE_OUT/summary.txt and keeps each callgrind
# dump and strace table there (`callgrind_annotate` shows the function costs).
#
# Method: the server starts under callgrind, answers one warm-up run (connections made,
# caches and allocations warm), its counters are zeroed, it answers the measured run,
# and the counters are dumped; Ir / requests is the user-space cost of a request, all
# threads. Then a plain server answers a warm-up run, `strace -c -f` attaches to all its
# threads, and the measured run is repeated for the system calls. The connections of a
# measured run are new ones (h2load makes its own), so their set-up is counted too:
# alike for both servers, and small against N requests.
# Both tools slow the server, so it batches more requests per wake-up than at full
# speed: compare the two servers of one case, not with bench/run.sh's figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
N=${PROFILE_REQUESTS:-20000}
CONNS=${PROFILE_CONNS:-50}
STREAMS=${PROFILE_STREAMS:-1}
OUT=${PROFILE_OUT:-$ROOT/bench/out/profile}
CASES=${*:-h1 h2c h2tls}
mkdir -p "$OUT"
for tool in valgrind callgrind_control strace h2load curl; do
    command -v $tool >/dev/null || {
        echo "profile_http: $tool missing (apt-get install valgrind strace nghttp2-client curl)" >&2
        exit 1
    }
done
if [[ -z ${PROFILE_BIN:-} ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    cargo build --release -p muon-bench >&2
    PROFILE_BIN=$CARGO_TARGET_DIR/release/muon-bench
fi
PORT=${PROFILE_PORT:-9700}
SPID=
log() { echo "[profile $(date +%H:%M:%S)] $*" >&2; }
stop() {
    if [[ -n $SPID ]]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
    fi
}
trap stop EXIT

# start wrapper... -- server args: starts the server under `wrapper`, waits (bounded)
# until it answers.
start() {
    local args=() wrap=()
    while [[ $1 != -- ]]; do wrap+=("$1"); shift; done
    shift
    args=("$@")
    PORT=$((PORT + 1))
    "${wrap[@]}" "$PROFILE_BIN" http-server "${args[@]}" --threads 1 \
        --addr "127.0.0.1:$PORT" >>"$OUT/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 600); do
        curl -s -k "${PROBE[@]}" -o /dev/null "$URL_BASE:$PORT/" && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    log "server did not answer: ${args[*]}"
    return 1
}

# load N: a fixed number of requests; fails unless all N succeeded.
load() {
    local n=$1 out
    out=$(timeout 600 h2load "${H2LOAD_MODE[@]}" -n "$n" -c "$CONNS" -m "$STREAMS" \
        "$URL_BASE:$PORT/" 2>&1) || { echo "$out" >&2; return 1; }
    echo "$out" >>"$OUT/h2load.log"
    local ok
    ok=$(echo "$out" | awk '/^requests:/ { print $8 }')
    [[ $ok == "$n" ]] || { echo "$out" >&2; log "only $ok of $n requests succeeded"; return 1; }
}

# The callgrind child is valgrind itself; its pid is the server's.
measure() { # case impl tls
    local case=$1 imp=$2 tls=$3 cg=$OUT/callgrind.$1.$2.out ir sys
    rm -f "$cg"*
    start valgrind --tool=callgrind --callgrind-out-file="$cg" -- \
        --impl "$imp" --tls "$tls"
    load $((N / 4))
    callgrind_control -z "$SPID" >/dev/null
    load "$N"
    callgrind_control -d "$SPID" >/dev/null
    stop
    # The dump after zeroing is the file with the highest part number.
    local dump
    dump=$(ls -1 "$cg"* | sort -t. -k5 -n | tail -1)
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
    # System calls: a plain server, warmed up, then strace attached to all its threads
    # for the measured run only.
    start -- --impl "$imp" --tls "$tls"
    load $((N / 4))
    local st=$OUT/strace.$case.$imp.txt tpid
    strace -c -f -p "$SPID" -o "$st" 2>"$st.log" &
    tpid=$!
    for _ in $(seq 200); do
        grep -q attached "$st.log" 2>/dev/null && break
        sleep 0.05
    done
    grep -q attached "$st.log" || { log "strace did not attach"; kill "$tpid"; return 1; }
    load "$N"
    kill -INT "$tpid"
    wait "$tpid" || true
    stop
    sys=$(awk '$NF == "total" { print $(NF-2) }' "$st")
    printf '%-6s %-9s requests=%d conns=%d streams=%d Ir/request=%.0f syscalls/request=%.2f dump=%s\n' \
        "$case" "$imp" "$N" "$CONNS" "$STREAMS" "$(echo "$ir / $N" | bc -l)" \
        "$(echo "$sys / $N" | bc -l)" "$(basename "$dump")" | tee -a "$OUT/summary.txt"
}

: >"$OUT/summary.txt"
for c in $CASES; do
    case $c in
        h1) URL_BASE=http://127.0.0.1 PROBE=() H2LOAD_MODE=(--h1) TLS=none HYPER=hyper ;;
        h2c) URL_BASE=http://127.0.0.1 PROBE=(--http2-prior-knowledge) H2LOAD_MODE=() TLS=none HYPER=hyper-h2 ;;
        h2tls) URL_BASE=https://127.0.0.1 PROBE=(--http2) H2LOAD_MODE=() TLS=openssl HYPER=hyper-h2 ;;
        *) echo "profile_http: unknown case $c (h1, h2c, h2tls)" >&2; exit 2 ;;
    esac
    for imp in muon "$HYPER"; do
        log "$c $imp: $N requests, $CONNS connections x $STREAMS streams"
        measure "$c" "$imp" "$TLS"
    done
done
log "done: $OUT/summary.txt"
cat "$OUT/summary.txt"
