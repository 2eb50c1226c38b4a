#!/usr/bin/env bash
# Before/after: builds muon-bench at two git revisions and runs the same scenarios
# against Muon's server from each, alternated round by round (server pinned to core 0
# with one worker, load to core 1), then prints medians per scenario. For a change to
# the core whose cost must be shown against the run's own noise.
#
#   bench/ab.sh OLD_REV NEW_REV [ROUNDS]
#
# Worktrees and target directories go under target/ab/; results in target/ab/results.jsonl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OLD=${1:?old revision}
NEW=${2:?new revision}
ROUNDS=${3:-5}
AB=$ROOT/target/ab
mkdir -p "$AB"
: >"$AB/results.jsonl"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

for side in old new; do
    rev=$OLD
    [[ $side == new ]] && rev=$NEW
    rm -rf "$AB/src-$side"
    git worktree add -q --detach "$AB/src-$side" "$rev"
    (cd "$AB/src-$side" && CARGO_TARGET_DIR=$AB/target-$side cargo build -q --release -p muon-bench)
    cp "$AB/target-$side/release/muon-bench" "$AB/bench-$side"
    git worktree remove --force "$AB/src-$side"
done

PORT=9700
# The server of the run in progress, stopped on every exit path (an error under
# `set -e`, Ctrl-C, TERM), not only at the end of `run`.
spid=""
stop_server() {
    if [[ -n $spid ]]; then
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        spid=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
run() { # side scenario-args...
    local side=$1
    shift
    PORT=$((PORT + 1))
    local tls=()
    [[ " $* " == *" --tls "* ]] && tls=(--tls --cert "$ROOT/certs/server.crt" --key "$ROOT/certs/server.key")
    taskset -c 0 "$AB/bench-$side" server --impl muon --threads 1 --addr "127.0.0.1:$PORT" "${tls[@]}" \
        >>"$AB/server.log" 2>&1 &
    spid=$!
    # Bounded wait for the listener (a benchmark script: polling is fine here).
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    timeout 120 taskset -c 1 "$AB/bench-$side" load "$@" --addr "127.0.0.1:$PORT" \
        --server-pid "$spid" --label "build=$side" >>"$AB/results.jsonl" || echo "FAILED $side $*" >&2
    stop_server
}

for round in $(seq "$ROUNDS"); do
    for side in old new; do
        echo "[ab] round $round $side" >&2
        run $side pingpong --conns 100 --size 1024 --window 1 --warmup 0.25
        run $side pingpong --tls --conns 100 --size 1024 --window 1 --warmup 0.25
        run $side handshake --tls --tls-version 1.3 --conns 16 --window 1 --warmup 0.25
        run $side handshake --tls --tls-version 1.2 --resume --conns 16 --window 1 --warmup 0.25
        run $side memory --conns 5000
        run $side memory --tls --conns 5000
    done
done
python3 "$ROOT/bench/ab_report.py" "$AB/results.jsonl" "$OLD" "$NEW"
