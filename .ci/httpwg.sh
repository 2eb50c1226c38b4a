#!/usr/bin/env bash
# The HTTP/2 conformance suite (httpwg-cli, "an h2spec replacement") against the
# http_server example: over h2c (prior knowledge), and over TLS with ALPN h2 with each
# TLS provider (OpenSSL, rustls). httpwg-cli speaks cleartext only, so for TLS it talks
# to .ci/tls_relay.py, which carries each connection to the server over TLS (ALPN h2,
# certificate verified) unchanged (docs/http.md, "Conformance").
#
# Usage: .ci/httpwg.sh SERVER_BINARY [h2c|openssl|rustls]...   (default: all three)
#
# Every case must pass: one that fails or never reports (a panic in the suite) fails
# the step, and so does a run with too few cases or a relay that could not carry a
# connection over TLS with h2.
set -euo pipefail
server=$(realpath "${1:?usage: .ci/httpwg.sh SERVER_BINARY [h2c|openssl|rustls]...}")
cd "$(dirname "$0")/.."
shift
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(h2c openssl rustls)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on now (another worktree may run this script at once).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# check LABEL LOG: every case that ran passed, and enough of them ran.
check() {
  local label=$1 plain summary ran passed failed
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$2")
  summary=$(grep -E "Passed [0-9]+/[0-9]+ tests" <<<"$plain" || true)
  echo "httpwg $label: ${summary:-no summary}"
  [ -n "$summary" ] || { grep -v "^ *at \|^ *[0-9][0-9]*: " <<<"$plain" | tail -40; return 1; }
  ran=$(grep -E "Running test: " <<<"$plain" | sed 's/.*Running test: //' | sort -u)
  passed=$(grep -E "Test passed: " <<<"$plain" | sed 's/.*Test passed: //' | sort -u)
  [ "$(wc -l <<<"$ran")" -ge 107 ] || { echo "httpwg $label: too few cases ran"; return 1; }
  failed=$(comm -23 <(echo "$ran") <(echo "$passed"))
  if [ -n "$failed" ]; then
    sed 's/^/  FAILED: /' <<<"$failed"
    grep -E "^Message" <<<"$plain" | sort | uniq -c
    return 1
  fi
  echo "httpwg $label: $(wc -l <<<"$passed")/$(wc -l <<<"$ran") passed"
}

h2c() {
  local port log=$work/h2c.log
  port=$(free_port)
  # httpwg starts the server itself and stops it at the end.
  timeout --kill-after=10 300 httpwg -v --connect-timeout 5000 --frame-timeout 2000 -a "127.0.0.1:$port" -- \
    "$server" --addr "127.0.0.1:$port" --threads 1 --log error >"$log" 2>&1 || true
  check h2c "$log"
}

tls() {
  local provider=$1 server_port relay_port log=$work/$1.log srv relay status=0
  server_port=$(free_port)
  relay_port=$(free_port)
  # --foreground: without it `timeout` passes a SIGTERM on to its whole process group
  # as well, so the child gets it twice and may die of the second after handling the first.
  timeout --foreground --kill-after=10 300 "$server" --addr "127.0.0.1:$server_port" --threads 1 \
    --log error --tls --tls-provider "$provider" \
    --cert certs/server.crt --key certs/server.key >"$work/$provider.server.log" 2>&1 &
  srv=$!
  pids+=("$srv")
  # The relay says "ready" once a probe completed a TLS handshake with ALPN h2.
  : >"$work/$provider.relay.out"
  timeout --foreground --kill-after=10 300 python3 .ci/tls_relay.py "$relay_port" "$server_port" \
    certs/ca.crt 280 >"$work/$provider.relay.out" 2>"$work/$provider.relay.err" &
  relay=$!
  pids+=("$relay")
  if ! timeout 20 bash -c 'until grep -q ready "$1"; do
         kill -0 "$2" 2>/dev/null || exit 1; sleep 0.1; done' _ \
      "$work/$provider.relay.out" "$relay"; then
    echo "httpwg $provider: the TLS relay never became ready"
    cat "$work/$provider.relay.err" "$work/$provider.server.log"
    return 1
  fi
  timeout --kill-after=10 300 httpwg -v --connect-timeout 5000 --frame-timeout 2000 -a "127.0.0.1:$relay_port" \
    >"$log" 2>&1 || true
  check "TLS ($provider)" "$log" || status=1
  local code=0
  kill -TERM "$relay"
  wait "$relay" || code=$?
  if [ "$code" != 0 ]; then
    echo "httpwg $provider: the relay failed (exit $code):"
    cat "$work/$provider.relay.err"
    status=1
  fi
  code=0
  kill -TERM "$srv"
  wait "$srv" || code=$?
  if [ "$code" != 0 ]; then
    echo "httpwg $provider: the server exited with status $code:"
    cat "$work/$provider.server.log"
    status=1
  fi
  return $status
}

failed=0
for mode in "${modes[@]}"; do
  case $mode in
    h2c) h2c || failed=1 ;;
    openssl | rustls) tls "$mode" || failed=1 ;;
    *) echo "unknown mode: $mode"; exit 2 ;;
  esac
done
exit $failed
