#!/usr/bin/env bash
# cargo-mutants on the state machines: every mutant of a listed file must make its
# tests fail. A missed mutant is a rule the tests do not check; fix the tests (or, for
# a mutant that cannot change behaviour, say why in the file and exclude it with
# `// mutants::skip` on the function or an entry in .cargo/mutants.toml).
#
#   .ci/mutants.sh            # every listed machine
#   .ci/mutants.sh FILE...    # only these (paths as listed below)
#
# Each entry: package, file, the `cargo test` arguments that run that machine's tests.
# Add the HTTP and client machines here as they are written.
set -euo pipefail
cd "$(dirname "$0")/.."

MACHINES=(
  "muon-net|net/src/lifecycle.rs|--lib lifecycle"
)

command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants@27.1.0
out=target/mutants
mkdir -p "$out"
failed=0
for entry in "${MACHINES[@]}"; do
  IFS='|' read -r pkg file test_args <<<"$entry"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF "$file"; then
    continue
  fi
  echo "== mutants: $file ($pkg; cargo test $test_args)"
  start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086 # test_args is a list of words
  cargo mutants -p "$pkg" -f "$file" -o "$out/$pkg" --timeout 120 -- $test_args || rc=$?
  echo "mutants: $file: $(( $(date +%s) - start )) s, exit status $rc"
  # 0: every mutant caught; 3: some only by a timeout (a hang is a failing test too).
  # 2: a mutant survived; 1 or 4: the run or the unmutated baseline failed.
  case $rc in
    0|3) ;;
    2) echo "mutants: missed in $file:"; cat "$out/$pkg/mutants.out/missed.txt"; failed=1 ;;
    *) echo "mutants: the run itself failed on $file"; failed=1 ;;
  esac
done
exit $failed
