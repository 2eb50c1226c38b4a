#!/usr/bin/env bash
# Instruction counts of the TLS echo servers per unit of work: each server runs under
# valgrind's callgrind, the load generator (`muon-bench load ... --count`) makes the
# same fixed work every run, and callgrind's counters are zeroed right before the
# measured operations and dumped right after (`--on-start`/`--on-end`). Instructions
# are what a loaded machine distorts least (wall-clock and CPU-time figures taken on a
# busy machine are not comparable); they count user-space work only (the kernel's share,
# system calls and copies, is not in them: see `strace -c` in docs/benchmarks.md).
#
#   bench/profile.sh                      # every case, muon-rustls and tokio-rustls
#   PROFILE_IMPLS="muon-rustls" bench/profile.sh hs13 pp1k
#
# Cases: hs13 (full TLS 1.3 handshake), hs13r (TLS 1.3, resumed), hs12 (full TLS 1.2),
# hs12r (TLS 1.2, resumed), pp1k / pp16k (pingpong, 1 connection), bulk (16 MiB each
# way, 1 connection). Writes one JSON line per (server, case) to
# bench/results/profile.jsonl (appended) and the callgrind files to bench/out/profile/
# (`callgrind_annotate FILE` shows where the instructions go).
#
# Knobs: PROFILE_IMPLS (muon-rustls tokio-rustls), PROFILE_HS (handshakes per client,
# 4 clients: 25), PROFILE_MSGS (1 KiB messages: 2000; 16 KiB: a quarter), PROFILE_BULK_MIB (16).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/bench/out/profile
RES=$ROOT/bench/results
mkdir -p "$OUT" "$RES"
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }
IMPLS=${PROFILE_IMPLS:-muon-rustls tokio-rustls}
HS=${PROFILE_HS:-25}
MSGS=${PROFILE_MSGS:-2000}
BULK_MIB=${PROFILE_BULK_MIB:-16}
CASES=${*:-hs13 hs13r hs12 hs12r pp1k pp16k bulk}
PORT=9400

cargo build --release -p muon-bench
BIN=$OUT/muon-bench
cp "$CARGO_TARGET_DIR/release/muon-bench" "$BIN"

SPID=
stop_server() {
    if [[ -n $SPID ]]; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
    fi
}
trap stop_server EXIT

# The Ir total of a callgrind output file ("totals:" line, else "summary:").
total_ir() {
    awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 } END { print (t ? t : s) }' "$1"
}

for case in $CASES; do
    case $case in
        hs13) load=(handshake --tls-version 1.3 --conns 4 --count "$HS"); ops=$((4 * HS)); unit=handshake ;;
        hs13r) load=(handshake --tls-version 1.3 --resume --conns 4 --count "$HS"); ops=$((4 * HS)); unit=handshake ;;
        hs12) load=(handshake --tls-version 1.2 --conns 4 --count "$HS"); ops=$((4 * HS)); unit=handshake ;;
        hs12r) load=(handshake --tls-version 1.2 --resume --conns 4 --count "$HS"); ops=$((4 * HS)); unit=handshake ;;
        pp1k) load=(pingpong --conns 1 --size 1024 --count "$MSGS"); ops=$MSGS; unit=message ;;
        pp16k) load=(pingpong --conns 1 --size 16384 --count $((MSGS / 4))); ops=$((MSGS / 4)); unit=message ;;
        bulk) load=(bulk --conns 1 --bytes $((BULK_MIB << 20))); ops=$BULK_MIB; unit=MiB ;;
        *) echo "unknown case $case" >&2; exit 2 ;;
    esac
    for imp in $IMPLS; do
        PORT=$((PORT + 1))
        file=$OUT/callgrind.$imp.$case
        rm -f "$file" "$file".*
        log=$OUT/server.$imp.$case.log
        valgrind --tool=callgrind --callgrind-out-file="$file" --dump-instr=no \
            "$BIN" server --impl "$imp" --tls --threads 1 --addr "127.0.0.1:$PORT" >"$log" 2>&1 &
        SPID=$!
        # valgrind starts slowly: wait (bounded) for the server's listening line.
        for _ in $(seq 600); do
            grep -q "listening on" "$log" && break
            kill -0 "$SPID" 2>/dev/null || { cat "$log" >&2; exit 1; }
            sleep 0.1
        done
        grep -q "listening on" "$log" || { echo "$imp did not start within 60 s" >&2; exit 1; }
        echo "[profile $(date +%H:%M:%S)] $imp $case" >&2
        line=$(timeout 900 "$BIN" load "${load[@]}" --tls --addr "127.0.0.1:$PORT" \
            --server-pid "$SPID" --count-seconds 800 \
            --on-start "callgrind_control -z $SPID >/dev/null" \
            --on-end "callgrind_control -d $SPID >/dev/null")
        stop_server
        # The dump made by --on-end is the first numbered file (the final one, at exit,
        # holds the rest of the run).
        dump=$(ls "$file".* 2>/dev/null | sort -V | head -1)
        [[ -n $dump ]] || { echo "no callgrind dump for $imp $case" >&2; exit 1; }
        ir=$(total_ir "$dump")
        python3 - "$imp" "$case" "$unit" "$ops" "$ir" "$line" "$dump" >>"$RES/profile.jsonl" <<'PY'
import json, sys
imp, case, unit, ops, ir, line, dump = sys.argv[1:]
r = json.loads(line)
out = {"impl": imp, "case": case, "unit": unit, "ops": int(ops), "ir": int(ir),
       "ir_per_op": int(ir) / int(ops), "callgrind": dump.split("/bench/")[-1]}
if "resumed_fraction" in r:
    out["resumed_fraction"] = r["resumed_fraction"]
print(json.dumps(out))
PY
        tail -1 "$RES/profile.jsonl" >&2
    done
done
