#!/usr/bin/env bash
# The Autobahn|Testsuite (wstest -m fuzzingclient, Python 2.7) against
# examples/http_server's /ws-echo, over ws and wss, one worker loop each.
#
#   .ci/autobahn/run.sh ci              # the CI subset (every group; 9.* reduced)
#   .ci/autobahn/run.sh full docs/autobahn.md   # everything but 12.*/13.*
#
# 12.* and 13.* test permessage-deflate, which Muon does not offer (it is never
# negotiated, so those cases do not apply). Exits non-zero unless every case is OK,
# NON-STRICT or INFORMATIONAL.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-ci}
out=${2:-}
py2=${PY2_HOME:-$HOME/.pyenv/versions/2.7.18}
wstest="$py2/bin/wstest"
if [ ! -x "$wstest" ]; then
  "$py2/bin/pip" install -q autobahntestsuite
fi
cargo build --release --example http_server -q
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # name, extra args...
  local name=$1; shift
  ./target/release/examples/http_server --addr 127.0.0.1:0 --threads 1 --log info "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    addr=$(grep -o 'listening on [0-9.:]*' "$work/$name.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$addr" ] && { echo "$addr"; return; }
    sleep 0.1
  done
  echo "server $name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}
ws=$(start ws)
wss=$(start wss --tls)

if [ "$mode" = full ]; then
  cases='["*"]'
else
  cases='["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.1.1", "9.1.2", "9.2.1", "9.2.2", "9.3.1", "9.4.1", "9.5.1", "9.6.1", "9.7.1", "9.8.1", "10.*"]'
fi
cat >"$work/spec.json" <<JSON
{
  "outdir": "$work/reports",
  "servers": [{"agent": "muon-ws", "url": "ws://$ws/ws-echo"},
              {"agent": "muon-wss", "url": "wss://$wss/ws-echo"}],
  "cases": $cases,
  "exclude-cases": ["12.*", "13.*"],
  "exclude-agent-cases": {}
}
JSON
start_time=$(date +%s)
(cd "$work" && timeout 1200 "$wstest" -m fuzzingclient -s spec.json >"$work/wstest.log" 2>&1) || {
  echo "wstest failed or timed out; last lines:" >&2; tail -20 "$work/wstest.log" >&2; exit 1
}
echo "autobahn ($mode): $(($(date +%s) - start_time)) s"
python3 .ci/autobahn/summarize.py "$work/reports/index.json" "${out:-$work/summary.md}" \
  "Autobahn|Testsuite: Muon WebSocket ($mode run)"
grep -E '^[0-9]+ cases' "${out:-$work/summary.md}"
