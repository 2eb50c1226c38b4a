#!/usr/bin/env bash
# Runs Muon's benchmark suite against tokio (+ tokio-openssl) and writes
# docs/benchmarks.md with SVG plots in docs/. One command:
#
#   bench/run.sh          # everything (echo scenarios, then http)
#   bench/run.sh http     # only the HTTP scenario: wrk keep-alive GET / vs hyper
#   bench/run.sh udp      # only UDP echo: Muon vs tokio vs the C floor (bench/udp.sh)
#
# Server pinned to core 0 (1 worker thread), load generator pinned to core 1, loopback.
# Builds muon-bench twice: against the system OpenSSL and with the `vendored` feature
# (OpenSSL compiled from openssl-src); the TLS scenarios run with both.
#
# Knobs (environment): BENCH_REPS (3), BENCH_WINDOW (1 s), BENCH_WARMUP (0.25 s),
# BENCH_VENDORED (1; 0 skips the vendored OpenSSL runs), BENCH_HTTP_SECONDS (8 s per
# wrk run), BENCH_HTTP_CONNS ("50 1000"), CARGO_TARGET_DIR.
set -euo pipefail
# UDP echo has a script of its own (its own servers, load generator and C floor).
if [[ ${1:-} == udp ]]; then
    exec "$(dirname "${BASH_SOURCE[0]}")/udp.sh"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/bench/out
RES=$ROOT/bench/results
mkdir -p "$OUT" "$RES"
RESULTS=$RES/results.jsonl
[[ ${1:-all} == http ]] || : >"$RESULTS"
REPS=${BENCH_REPS:-3}
WINDOW=${BENCH_WINDOW:-1}
WARMUP=${BENCH_WARMUP:-0.25}
VENDORED=${BENCH_VENDORED:-1}
HS_CLIENTS=16
SERVER_CORE=0
LOAD_CORE=1
CERTS=$ROOT/certs
SUITE_START=$(date +%s)

# 10,000 idle connections need more descriptors than the usual 1,024 (both binaries
# also raise their soft limit to the hard one).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
SCENARIO=${1:-all}
HTTP_SECONDS=${BENCH_HTTP_SECONDS:-8}
HTTP_CONNS=${BENCH_HTTP_CONNS:-50 1000}
CLK_TCK=$(getconf CLK_TCK)

crate_version() {
    awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# HTTP: wrk keep-alive GET / against muon and hyper, alternated, one worker each.
http_batch() { # bin
    local bin=$1 out=$RES/http.jsonl
    command -v wrk >/dev/null || { log "wrk missing (apt-get install wrk)"; exit 1; }
    : >"$out"
    for rep in $(seq "$REPS"); do
        for imp in muon hyper; do
            PORT=$((PORT + 1))
            taskset -c $SERVER_CORE "$bin" http-server --impl "$imp" --threads 1 \
                --addr "127.0.0.1:$PORT" >>"$OUT/server.log" 2>&1 &
            SPID=$!
            for _ in $(seq 100); do
                curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
                sleep 0.05
            done
            for conns in $HTTP_CONNS; do
                log "http rep=$rep $imp conns=$conns"
                local t0 t1 w
                t0=$(cpu_ticks "$SPID")
                w=$(timeout $((HTTP_SECONDS + 60)) taskset -c $LOAD_CORE wrk -t1 -c"$conns" \
                    -d"${HTTP_SECONDS}s" --timeout 10s --latency "http://127.0.0.1:$PORT/" 2>&1) || true
                t1=$(cpu_ticks "$SPID")
                echo "$w" >>"$OUT/wrk.log"
                echo "$w" | awk -v imp="$imp" -v conns="$conns" -v rep="$rep" \
                    -v cpu="$(echo "($t1 - $t0) / $CLK_TCK" | bc -l)" '
                    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                                     if (v ~ /s$/) return v * 1000; return v }
                    / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) }
                    /requests in/ { req = $1; secs = $4; sub(/s,?$/, "", secs) }
                    /Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
                    /Non-2xx/ { err += $NF }
                    END { printf "{\"impl\":\"%s\",\"conns\":%d,\"rep\":%d,\"requests\":%d,\"seconds\":%.3f,\"cpu_s\":%.3f,\"rps\":%.1f,\"cpu_us_per_req\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%d}\n",
                          imp, conns, rep, req, secs, cpu, req / secs, cpu * 1e6 / (req ? req : 1), p50, p99, err }' >>"$out"
            done
            stop_server
        done
    done
    {
        echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
        echo "command=bench/run.sh http   (BENCH_REPS=$REPS BENCH_HTTP_SECONDS=$HTTP_SECONDS BENCH_HTTP_CONNS=\"$HTTP_CONNS\")"
        echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average before: $LOAD_BEFORE"
        echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "wrk=$(wrk -v 2>&1 | head -1)"
        echo "crates=hyper $(crate_version hyper), hyper-util $(crate_version hyper-util), tokio $(crate_version tokio), httparse $(crate_version httparse)"
        echo "rustc=$(rustc -V)"
    } >"$RES/http-meta.txt"
}

log "building muon-bench (system OpenSSL)"
cargo build --release -p muon-bench
cp "$CARGO_TARGET_DIR/release/muon-bench" "$OUT/muon-bench-system"
VENDORED_BUILD_S=skipped
[[ $SCENARIO == http ]] && VENDORED=0
if [[ $VENDORED == 1 ]]; then
    log "building muon-bench --features vendored (compiles OpenSSL once; cached afterwards)"
    t0=$(date +%s)
    if cargo build --release -p muon-bench --features vendored; then
        VENDORED_BUILD_S=$(($(date +%s) - t0))
        cp "$CARGO_TARGET_DIR/release/muon-bench" "$OUT/muon-bench-vendored"
    else
        log "vendored build failed: TLS runs with the vendored OpenSSL are skipped"
        VENDORED=0
        VENDORED_BUILD_S=failed
    fi
fi

PORT=9200
SPID=
start_server() { # bin impl args...
    local bin=$1 imp=$2
    shift 2
    PORT=$((PORT + 1))
    taskset -c $SERVER_CORE "$bin" server --impl "$imp" --threads "${THREADS:-1}" \
        --addr "127.0.0.1:$PORT" "$@" >>"$OUT/server.log" 2>&1 &
    SPID=$!
}
stop_server() {
    if [[ -n $SPID ]]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
    fi
}
trap stop_server EXIT

# load bin scenario labels... -- load args...
load() {
    local bin=$1 scenario=$2
    shift 2
    if ! timeout 180 taskset -c $LOAD_CORE "$bin" load "$scenario" \
        --addr "127.0.0.1:$PORT" --server-pid "$SPID" "$@" >>"$RESULTS"; then
        log "FAILED: load $scenario $*"
    fi
}

# Pingpong: one server per (impl, rep, tls), all 9 points against it.
pingpong_batch() { # bin ssl tls(0/1)
    local bin=$1 ssl=$2 tls=$3 flag=()
    [[ $tls == 1 ]] && flag=(--tls)
    for rep in $(seq "$REPS"); do
        for imp in muon tokio; do
            log "pingpong ssl=$ssl tls=$tls rep=$rep $imp"
            start_server "$bin" "$imp" "${flag[@]}"
            for conns in 1 100 1000; do
                for size in 1024 4096 16384; do
                    load "$bin" pingpong "${flag[@]}" --conns $conns --size $size \
                        --window "$WINDOW" --warmup "$WARMUP" \
                        --label impl=$imp --label ssl=$ssl --label rep=$rep
                done
            done
            stop_server
        done
    done
}

handshake_batch() { # bin ssl
    local bin=$1 ssl=$2
    for rep in $(seq "$REPS"); do
        for imp in muon tokio; do
            for key in ecdsa rsa; do
                local cert=$CERTS/server.crt k=$CERTS/server.key
                [[ $key == rsa ]] && cert=$CERTS/server-rsa.crt k=$CERTS/server-rsa.key
                log "handshake ssl=$ssl rep=$rep $imp $key"
                start_server "$bin" "$imp" --tls --cert "$cert" --key "$k"
                for ver in 1.3 1.2; do
                    for resume in 0 1; do
                        local r=()
                        [[ $resume == 1 ]] && r=(--resume)
                        load "$bin" handshake --tls --tls-version $ver "${r[@]}" \
                            --conns $HS_CLIENTS --window "$WINDOW" --warmup "$WARMUP" \
                            --label impl=$imp --label ssl=$ssl --label rep=$rep --label key=$key
                    done
                done
                stop_server
            done
        done
    done
}

bulk_batch() { # bin ssl tls
    local bin=$1 ssl=$2 tls=$3 flag=()
    [[ $tls == 1 ]] && flag=(--tls)
    for rep in $(seq "$REPS"); do
        for imp in muon tokio; do
            log "bulk ssl=$ssl tls=$tls rep=$rep $imp"
            start_server "$bin" "$imp" "${flag[@]}"
            for conns in 1 4; do
                load "$bin" bulk "${flag[@]}" --conns $conns --bytes $((256 << 20)) \
                    --label impl=$imp --label ssl=$ssl --label rep=$rep
            done
            stop_server
        done
    done
}

memory_batch() { # bin ssl tls
    local bin=$1 ssl=$2 tls=$3 flag=()
    [[ $tls == 1 ]] && flag=(--tls)
    for rep in $(seq "$REPS"); do
        for imp in muon tokio; do
            log "memory ssl=$ssl tls=$tls rep=$rep $imp"
            start_server "$bin" "$imp" "${flag[@]}"
            load "$bin" memory "${flag[@]}" --conns 10000 \
                --label impl=$imp --label ssl=$ssl --label rep=$rep
            stop_server
        done
    done
}

# Accept modes: the same handshakes against Muon's three ways of taking connections in
# (main reactor + 1 worker with a hand-off; 1 worker accepting on its own SO_REUSEPORT
# listener; the main loop alone, threads(0)) and tokio with one worker.
accept_batch() { # bin
    local bin=$1
    for rep in $(seq "$REPS"); do
        for mode in main per-loop main-only tokio; do
            local imp=muon threads=1 extra=()
            case $mode in
                per-loop) extra=(--accept-per-loop) ;;
                main-only) threads=0 ;;
                tokio) imp=tokio ;;
            esac
            log "accept modes rep=$rep $mode"
            THREADS=$threads start_server "$bin" "$imp" --tls "${extra[@]}"
            for ver in 1.2 1.3; do
                for resume in 1 0; do
                    local r=()
                    [[ $resume == 1 ]] && r=(--resume)
                    load "$bin" handshake --tls --tls-version $ver "${r[@]}" \
                        --conns $HS_CLIENTS --window "$WINDOW" --warmup "$WARMUP" \
                        --label impl=$imp --label mode=$mode --label batch=accept --label rep=$rep
                done
            done
            stop_server
        done
    done
}
http_section() {
    http_batch "$OUT/muon-bench-system"
    python3 "$ROOT/bench/http_report.py" "$RES/http.jsonl" "$RES/http-meta.txt" \
        "$ROOT/docs/benchmarks.md" "$ROOT/docs/bench-http.svg"
}
if [[ $SCENARIO == http ]]; then
    http_section
    log "done in $(($(date +%s) - SUITE_START)) s: the HTTP section of docs/benchmarks.md"
    exit 0
fi

log "floors: openssl speed"
{
    openssl speed -seconds 1 ecdsap256 rsa2048 ecdhx25519 2>/dev/null
    openssl speed -seconds 1 -bytes 16384 -evp aes-128-gcm 2>/dev/null
    openssl speed -seconds 1 -bytes 16384 -evp aes-256-gcm 2>/dev/null
} >"$RES/floors.txt"

SYS=$OUT/muon-bench-system
pingpong_batch "$SYS" system 0
pingpong_batch "$SYS" system 1
handshake_batch "$SYS" system
accept_batch "$SYS"
bulk_batch "$SYS" system 0
bulk_batch "$SYS" system 1
memory_batch "$SYS" system 0
memory_batch "$SYS" system 1
if [[ $VENDORED == 1 ]]; then
    VEN=$OUT/muon-bench-vendored
    pingpong_batch "$VEN" vendored 1
    handshake_batch "$VEN" vendored
    bulk_batch "$VEN" vendored 1
    memory_batch "$VEN" vendored 1
fi

{
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "command=bench/run.sh   (BENCH_REPS=$REPS BENCH_WINDOW=$WINDOW BENCH_WARMUP=$WARMUP BENCH_VENDORED=$VENDORED)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores=$(nproc) (server on core $SERVER_CORE, load generator on core $LOAD_CORE)"
    echo "kernel=$(uname -r)"
    echo "rustc=$(rustc -V)"
    echo "openssl_system=$("$SYS" version)"
    if [[ $VENDORED == 1 ]]; then
        echo "openssl_vendored=$("$OUT/muon-bench-vendored" version) (openssl-src $(crate_version openssl-src))"
    else
        echo "openssl_vendored=not run"
    fi
    echo "vendored_build_s=$VENDORED_BUILD_S (this run; 0-2 s means cached, see notes for a cold build)"
    echo "crates=tokio $(crate_version tokio), tokio-openssl $(crate_version tokio-openssl), openssl $(crate_version openssl), openssl-sys $(crate_version openssl-sys), mio $(crate_version mio)"
    echo "reps=$REPS"
    echo "window=$WINDOW"
    echo "warmup=$WARMUP"
    echo "hs_clients=$HS_CLIENTS"
    echo "suite_s=$(($(date +%s) - SUITE_START))"
} >"$RES/meta.txt"

"$SYS" report --results "$RESULTS" --floors "$RES/floors.txt" --meta "$RES/meta.txt" \
    --notes "$ROOT/bench/NOTES.md" --out "$ROOT/docs/benchmarks.md"
http_section
log "done in $(($(date +%s) - SUITE_START)) s: docs/benchmarks.md"
