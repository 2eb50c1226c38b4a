#!/usr/bin/env bash
# The Autobahn|Testsuite (wstest -m fuzzingclient, Python 2.7) against
# examples/http_server's /ws-echo, over ws and wss, one worker loop each.
#
#   .ci/autobahn/run.sh ci              # the CI subset (every group; 9.* reduced, 4 MiB messages kept)
#   .ci/autobahn/run.sh full docs/autobahn.md   # everything but 12.*/13.*
#
# HTTP_SERVER_BIN=path runs that binary instead of building the release example
# (.ci/autobahn/leak_check.sh uses it with the debug build).
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
server_bin=${HTTP_SERVER_BIN:-}
if [ -z "$server_bin" ]; then
  cargo build --release --example http_server -q
  server_bin=./target/release/examples/http_server
fi
work=$(mktemp -d)
# The servers' PIDs. `start` must run in this shell, never in a `$(...)` subshell:
# a PID recorded there is lost and the trap below would kill nothing.
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started_addr=""
start() { # name, extra args... (sets started_addr)
  local name=$1; shift
  "$server_bin" --addr 127.0.0.1:0 --threads 1 --log info "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  started_addr=""
  for _ in $(seq 200); do
    started_addr=$(grep -o 'listening on [0-9.:]*' "$work/$name.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$started_addr" ] && return
    sleep 0.1
  done
  echo "server $name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}
start ws
ws=$started_addr
start wss --tls
wss=$started_addr

if [ "$mode" = full ]; then
  cases='["*"]'
else
  cases='["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.1.1", "9.1.2", "9.1.4", "9.2.1", "9.2.2", "9.2.4", "9.3.1", "9.4.1", "9.5.1", "9.6.1", "9.7.1", "9.8.1", "10.*"]'
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
elapsed=$(($(date +%s) - start_time))
echo "autobahn ($mode): $elapsed s"
version=$("$py2/bin/pip" show autobahntestsuite 2>/dev/null | sed -n 's/^Version: //p')
notes="Command: \`.ci/autobahn/run.sh $mode\` ($(date -u +%Y-%m-%d)): autobahntestsuite $version on \
Python $("$py2/bin/python" -c 'import platform; print(platform.python_version())'), \`wstest -m \
fuzzingclient\` against \`examples/http_server\` (release, \`--threads 1\`) at \`/ws-echo\`, over ws \
and over wss (the development certificate): $elapsed s for both on a $(nproc)-core machine shared \
with other builders. Groups 12 and 13 (permessage-deflate) are excluded: Muon does not offer \
the extension, so it is never negotiated. The CI subset (\`.ci/autobahn/run.sh ci\`) runs every \
group, with 9.* reduced to a few cases per subgroup (4 MiB messages included)."
python3 .ci/autobahn/summarize.py "$work/reports/index.json" "${out:-$work/summary.md}" \
  "Autobahn|Testsuite: Muon WebSocket ($mode run)" "$notes"
grep -E '^[0-9]+ cases' "${out:-$work/summary.md}"
