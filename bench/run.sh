#!/usr/bin/env bash
# Runs Muon's benchmark suite against tokio (+ tokio-openssl) and writes
# docs/benchmarks.md with SVG plots in docs/. One command:
#
#   bench/run.sh          # the echo scenarios, then http; the sections of the other
#                         # scenarios already in docs/benchmarks.md are kept
#   bench/run.sh http     # only the HTTP scenario: wrk keep-alive GET / vs hyper
#   bench/run.sh rustls   # only the TLS providers: Muon and tokio on OpenSSL and on
#                         # rustls (handshakes, pingpong, bulk, idle memory), alternated
#   bench/run.sh http h2  # several of http, h2, rustls, udp: each in turn
#   bench/run.sh udp      # only UDP echo: Muon vs tokio vs the C floor (bench/udp.sh)
#   bench/run.sh h2       # only HTTP/2 (h2c, and TLS on OpenSSL and rustls): h2load GET /
#                         # vs hyper's http2 server
#
# Server pinned to core 0 (1 worker thread), load generator pinned to core 1, loopback.
# Builds muon-bench twice: against the system OpenSSL and with the `vendored` feature
# (OpenSSL compiled from openssl-src); the TLS scenarios run with both.
#
# Knobs (environment): BENCH_REPS (3), BENCH_WINDOW (1 s), BENCH_WARMUP (0.25 s),
# BENCH_VENDORED (1; 0 skips the vendored OpenSSL runs), BENCH_HTTP_SECONDS (8 s per
# wrk or h2load run), BENCH_HTTP_CONNS ("50 1000"), BENCH_H2_STREAMS ("1 100"),
# BENCH_H2_TLS ("none openssl rustls"), BENCH_H2_WARMUP (2 s), CARGO_TARGET_DIR.
set -euo pipefail
# UDP echo has a script of its own (its own servers, load generator and C floor).
if [[ ${1:-} == udp ]]; then
    exec "$(dirname "${BASH_SOURCE[0]}")/udp.sh"
fi

# Several scenarios in one command (`bench/run.sh http h2`): one run each, in order.
if (($# > 1)); then
    for s in "$@"; do
        case $s in
            http | h2 | rustls | udp) "${BASH_SOURCE[0]}" "$s" ;;
            *) echo "bench/run.sh: only http, h2, rustls and udp combine (got $s)" >&2; exit 2 ;;
        esac
    done
    exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/bench/out
RES=$ROOT/bench/results
mkdir -p "$OUT" "$RES"
RESULTS=$RES/results.jsonl
[[ ${1:-all} == http || ${1:-all} == h2 || ${1:-all} == rustls ]] || : >"$RESULTS"
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

# The implementations of one repetition, in a random order: whichever runs first or
# second in a warming or cooling machine is not always the same one.
order() { shuf -e "$@"; }
FAILED_RUNS=0

# HTTP: wrk keep-alive GET / against muon and hyper, alternated, one worker each.
http_batch() { # bin
    local bin=$1 out=$RES/http.jsonl
    command -v wrk >/dev/null || { log "wrk missing (apt-get install wrk)"; exit 1; }
    : >"$out"
    for rep in $(seq "$REPS"); do
        for imp in $(order muon hyper); do
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
                if ! w=$(timeout $((HTTP_SECONDS + 60)) taskset -c $LOAD_CORE wrk -t1 -c"$conns" \
                    -d"${HTTP_SECONDS}s" --timeout 10s --latency "http://127.0.0.1:$PORT/" 2>&1); then
                    # No row: the report flags the cell as short of repetitions.
                    echo "$w" >>"$OUT/wrk.log"
                    log "FAILED: wrk http rep=$rep $imp conns=$conns"
                    FAILED_RUNS=$((FAILED_RUNS + 1))
                    continue
                fi
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
[[ $SCENARIO == http || $SCENARIO == h2 || $SCENARIO == rustls ]] && VENDORED=0
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
        # No row: the report flags the cell as short of repetitions.
        log "FAILED: load $scenario $*"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
}

# Pingpong: one server per (impl, rep, tls), all 9 points against it.
pingpong_batch() { # bin ssl tls(0/1)
    local bin=$1 ssl=$2 tls=$3 flag=()
    [[ $tls == 1 ]] && flag=(--tls)
    for rep in $(seq "$REPS"); do
        for imp in $(order muon tokio); do
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
        for imp in $(order muon tokio); do
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
        for imp in $(order muon tokio); do
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
        for imp in $(order muon tokio); do
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
        for mode in $(order main per-loop main-only tokio); do
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
# HTTP/2: h2load GET / against muon and hyper's http2 server (hyper-h2), alternated in
# a random order within each repetition, one worker each; 1 and 100 streams per
# connection, BENCH_HTTP_CONNS connections; cleartext (prior knowledge) and TLS (ALPN h2)
# on each provider, hyper on the same TLS library and context as Muon (tokio-openssl on
# Muon's SslContext, tokio-rustls on Muon's rustls ServerConfig). Server CPU is counted
# from the end of h2load's warm-up (connections and TLS handshakes made, read when h2load
# prints that its main duration started) to its exit, so it is the CPU of the requests.
# Knobs: BENCH_H2_STREAMS ("1 100"), BENCH_H2_TLS ("none openssl rustls"),
# BENCH_H2_WARMUP (2 s), BENCH_HTTP_SECONDS, BENCH_HTTP_CONNS, BENCH_REPS.
H2_STREAMS=${BENCH_H2_STREAMS:-1 100}
H2_TLS=${BENCH_H2_TLS:-none openssl rustls}
H2_WARMUP=${BENCH_H2_WARMUP:-2}
# One h2load run against $SPID; prints one JSON line (or nothing if the run failed).
h2_run() { # url imp tls conns streams rep
    local url=$1 imp=$2 tls=$3 conns=$4 streams=$5 rep=$6 t0= t1 line log
    log=$(mktemp)
    # h2load's own output tells when the warm-up ends; the server's CPU is read then.
    while IFS= read -r line; do
        echo "$line" >>"$log"
        if [[ -z $t0 && $line == *"Main benchmark duration is started"* ]]; then
            t0=$(cpu_ticks "$SPID")
        fi
    done < <(timeout $((HTTP_SECONDS + H2_WARMUP + 60)) taskset -c $LOAD_CORE h2load -t1 \
        -c"$conns" -m"$streams" --warm-up-time="$H2_WARMUP" -D"$HTTP_SECONDS" "$url" 2>&1)
    t1=$(cpu_ticks "$SPID")
    cat "$log" >>"$OUT/h2load.log"
    if [[ -z $t0 ]] || ! grep -q '^requests:' "$log"; then
        rm -f "$log"
        return 1
    fi
    awk -v imp="$imp" -v tls="$tls" -v conns="$conns" -v streams="$streams" -v rep="$rep" \
        -v cpu="$(echo "($t1 - $t0) / $CLK_TCK" | bc -l)" '
        # "finished in" counts the warm-up too; its rate and "requests:" count the main
        # duration alone.
        /^finished in/ { rps = $4 + 0 }
        /^requests:/ { ok = $8; failed = $10; errored = $12 }
        END { printf "{\"impl\":\"%s\",\"tls\":\"%s\",\"conns\":%d,\"streams\":%d,\"rep\":%d,\"requests\":%d,\"seconds\":%.3f,\"cpu_s\":%.3f,\"rps\":%.1f,\"cpu_us_per_req\":%.3f,\"errors\":%d}\n",
              imp, tls, conns, streams, rep, ok, ok / (rps ? rps : 1), cpu, rps, cpu * 1e6 / (ok ? ok : 1), failed + errored }' "$log"
    rm -f "$log"
}
h2_batch() { # bin
    local bin=$1 out=$RES/h2.jsonl
    command -v h2load >/dev/null || { log "h2load missing (apt-get install nghttp2-client)"; exit 1; }
    : >"$out"
    for rep in $(seq "$REPS"); do
        for tls in $H2_TLS; do
            for imp in $(order muon hyper-h2); do
                PORT=$((PORT + 1))
                local url=http://127.0.0.1:$PORT/ probe=(--http2-prior-knowledge)
                [[ $tls != none ]] && url=https://127.0.0.1:$PORT/ probe=(--http2 -k)
                taskset -c $SERVER_CORE "$bin" http-server --impl "$imp" --threads 1 \
                    --tls "$tls" --addr "127.0.0.1:$PORT" >>"$OUT/server.log" 2>&1 &
                SPID=$!
                for _ in $(seq 100); do
                    curl -s "${probe[@]}" -o /dev/null "$url" && break
                    sleep 0.05
                done
                for conns in $HTTP_CONNS; do
                    for streams in $H2_STREAMS; do
                        log "h2 rep=$rep tls=$tls $imp conns=$conns streams=$streams"
                        if ! h2_run "$url" "$imp" "$tls" "$conns" "$streams" "$rep" >>"$out"; then
                            # No row: the report flags the cell as short of repetitions.
                            log "FAILED: h2load rep=$rep tls=$tls $imp conns=$conns streams=$streams"
                            FAILED_RUNS=$((FAILED_RUNS + 1))
                        fi
                    done
                done
                stop_server
            done
        done
    done
    {
        echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
        echo "command=bench/run.sh h2   (BENCH_REPS=$REPS BENCH_HTTP_SECONDS=$HTTP_SECONDS BENCH_H2_WARMUP=$H2_WARMUP BENCH_HTTP_CONNS=\"$HTTP_CONNS\" BENCH_H2_STREAMS=\"$H2_STREAMS\" BENCH_H2_TLS=\"$H2_TLS\")"
        echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average before: $LOAD_BEFORE"
        echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "h2load=$(h2load --version 2>&1 | head -1)"
        echo "crates=hyper $(crate_version hyper), h2 $(crate_version h2), tokio $(crate_version tokio), tokio-openssl $(crate_version tokio-openssl), tokio-rustls $(crate_version tokio-rustls), rustls $(crate_version rustls)"
        echo "openssl=$("$bin" version)"
        echo "rustc=$(rustc -V)"
        echo "failed_runs=$FAILED_RUNS"
    } >"$RES/h2-meta.txt"
    python3 "$ROOT/bench/h2_report.py" "$out" "$RES/h2-meta.txt" \
        "$ROOT/docs/benchmarks.md" "$ROOT/docs/bench-h2.svg"
}
if [[ $SCENARIO == h2 ]]; then
    h2_batch "$OUT/muon-bench-system"
    log "done in $(($(date +%s) - SUITE_START)) s: the HTTP/2 section of docs/benchmarks.md; $FAILED_RUNS failed runs"
    exit 0
fi
# The TLS providers side by side: muon and tokio on OpenSSL (tokio-openssl) and on
# rustls (muon-rustls, tokio-rustls on the same ServerConfig), alternated in every rep,
# ECDSA P-256 certificate, one server worker on core 0, the load generator on core 1.
rustls_section() {
    local bin=$OUT/muon-bench-system out=$RES/rustls.jsonl
    # muon-rustls-per-loop: Muon on rustls with the worker accepting on its own
    # SO_REUSEPORT listener (no hand-off from the main loop); handshakes only, the
    # one measure where the hand-off shows.
    local RUSTLS_IMPLS=${BENCH_RUSTLS_IMPLS:-muon tokio muon-rustls tokio-rustls muon-rustls-per-loop}
    local MEM_CONNS=${BENCH_RUSTLS_MEM_CONNS:-10000}
    : >"$out"
    for rep in $(seq "$REPS"); do
        for imp in $RUSTLS_IMPLS; do
            log "rustls rep=$rep $imp"
            local server_imp=$imp extra=()
            if [[ $imp == muon-rustls-per-loop ]]; then
                server_imp=muon-rustls
                extra=(--accept-per-loop)
            fi
            start_server "$bin" "$server_imp" --tls "${extra[@]}"
            for hs in "1.3 full" "1.3 resumed" "1.2 resumed" "1.2 full"; do
                set -- $hs
                local r=()
                [[ $2 == resumed ]] && r=(--resume)
                RESULTS=$out load "$bin" handshake --tls --tls-version "$1" "${r[@]}" \
                    --conns $HS_CLIENTS --window "$WINDOW" --warmup "$WARMUP" \
                    --label impl=$imp --label rep=$rep --label batch=rustls
            done
            if [[ $imp == muon-rustls-per-loop ]]; then
                stop_server
                continue
            fi
            for conns in 1 100; do
                for size in 1024 16384; do
                    RESULTS=$out load "$bin" pingpong --tls --conns $conns --size $size \
                        --window "$WINDOW" --warmup "$WARMUP" \
                        --label impl=$imp --label rep=$rep --label batch=rustls
                done
            done
            RESULTS=$out load "$bin" bulk --tls --conns 1 --bytes $((64 << 20)) \
                --label impl=$imp --label rep=$rep --label batch=rustls
            stop_server
            start_server "$bin" "$imp" --tls
            RESULTS=$out load "$bin" memory --tls --conns "$MEM_CONNS" \
                --label impl=$imp --label rep=$rep --label batch=rustls
            stop_server
        done
    done
    python3 "$ROOT/bench/rustls_report.py" "$out" "$ROOT/docs/benchmarks.md" \
        "command: bench/run.sh rustls (BENCH_REPS=$REPS BENCH_WINDOW=$WINDOW BENCH_WARMUP=$WARMUP BENCH_RUSTLS_MEM_CONNS=$MEM_CONNS); $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); rustls $(crate_version rustls), tokio-rustls $(crate_version tokio-rustls), aws-lc-rs $(crate_version aws-lc-rs)"
}
if [[ $SCENARIO == rustls ]]; then
    rustls_section
    log "done in $(($(date +%s) - SUITE_START)) s: the rustls section of docs/benchmarks.md"
    exit 0
fi
if [[ $SCENARIO == http ]]; then
    http_section
    log "done in $(($(date +%s) - SUITE_START)) s: the HTTP section of docs/benchmarks.md; $FAILED_RUNS failed runs"
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

# The report rewrites the file from the echo results alone: keep every section that
# follows it (the http, rustls, udp and h2 sections other runs wrote, and the
# hand-written profiles) and put them back after it.
TAIL=$OUT/benchmarks-tail.md
awk '/^<!-- http:begin -->/ { keep = 1 } keep' "$ROOT/docs/benchmarks.md" >"$TAIL"
"$SYS" report --results "$RESULTS" --floors "$RES/floors.txt" --meta "$RES/meta.txt" \
    --notes "$ROOT/bench/NOTES.md" --out "$ROOT/docs/benchmarks.md"
if [[ -s $TAIL ]]; then
    { echo; cat "$TAIL"; } >>"$ROOT/docs/benchmarks.md"
fi
http_section
log "done in $(($(date +%s) - SUITE_START)) s: docs/benchmarks.md; $FAILED_RUNS failed runs (flagged in its Repetitions section)"
