#!/usr/bin/env bash
# Checks that .ci/autobahn/run.sh stops both of its servers whatever path it exits
# by: it runs the script against a stand-in wstest (which records the servers'
# addresses from spec.json, then fails or succeeds without writing a report), and
# after each run both addresses must refuse connections.
#
#   .ci/autobahn/leak_check.sh      # builds the debug http_server example first
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --example http_server -q
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
mkdir -p "$fake/bin"
cat >"$fake/bin/wstest" <<'PY'
#!/usr/bin/env bash
cp spec.json "$LEAK_SPEC"
exit "$LEAK_EXIT"
PY
printf '#!/bin/sh\nexit 0\n' >"$fake/bin/pip"
printf '#!/bin/sh\necho 2.7.18\n' >"$fake/bin/python"
chmod +x "$fake/bin/"*

status=0
for path in wstest-fails report-missing; do
  code=1
  [ "$path" = report-missing ] && code=0
  rm -f "$fake/spec.json"
  if PY2_HOME=$fake HTTP_SERVER_BIN=./target/debug/examples/http_server \
    LEAK_SPEC=$fake/spec.json LEAK_EXIT=$code \
    timeout 120 .ci/autobahn/run.sh ci >"$fake/run.log" 2>&1; then
    echo "leak_check ($path): run.sh succeeded without a report" >&2; status=1
  fi
  [ -s "$fake/spec.json" ] || { echo "leak_check ($path): wstest never ran" >&2; cat "$fake/run.log" >&2; exit 1; }
  for addr in $(grep -o '[a-z]*://[0-9.:]*' "$fake/spec.json" | sed 's,.*://,,'); do
    host=${addr%:*}; port=${addr##*:}
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      echo "leak_check ($path): a server still listens on $addr after run.sh exited" >&2
      status=1
    fi
  done
  echo "leak_check ($path): checked $(grep -o '[a-z]*://[0-9.:]*' "$fake/spec.json" | wc -l) servers"
done
exit $status
