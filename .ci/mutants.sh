#!/usr/bin/env bash
# cargo-mutants on the state machines: every mutant of a listed file must make its
# tests fail. A missed mutant is a rule the tests do not check; fix the tests (or, for
# a mutant that cannot change behaviour, say why in the file and exclude it with
# `// mutants::skip` on the function or an entry in .cargo/mutants.toml).
#
#   .ci/mutants.sh            # every listed machine
#   .ci/mutants.sh FILE...    # only these (paths as listed below)
#
# Each entry: package, file, the `cargo test` arguments that run that machine's tests,
# and optionally a regex of mutants excluded as equivalent (each justified in EQUIVALENT
# below). Add the HTTP and client machines here as they are written.
set -euo pipefail
cd "$(dirname "$0")/.."

# Equivalent mutants (they cannot change behaviour), and why:
# - lifecycle.rs, note_cause, guard `self.read != ReadSide::Ended` -> `true`: apply()
#   notes the cause before the transition, so the first PeerClosed always sees the read
#   side open and records PeerEof (or keeps a cause already there); by the time the read
#   side is Ended a cause is set, and a PeerEof never replaces any cause (it is
#   orderly, and only a non-orderly cause replaces an orderly one).
LIFECYCLE_EQUIVALENT='match guard self\.read != ReadSide::Ended with true in Lifecycle::note_cause'

MACHINES=(
  "muon-net|net/src/conn/lifecycle.rs|--lib lifecycle|$LIFECYCLE_EQUIVALENT"
  "muon-net|net/src/client/machine.rs|--lib client::machine"
  "muon-net-http|net-http/src/h1/reading.rs|--lib h1::reading"
)

command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants@27.1.0
out=target/mutants
mkdir -p "$out"
failed=0
for entry in "${MACHINES[@]}"; do
  IFS='|' read -r pkg file test_args equivalent <<<"$entry"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qxF "$file"; then
    continue
  fi
  echo "== mutants: $file ($pkg; cargo test $test_args)"
  start=$(date +%s)
  rc=0
  exclude=()
  [ -n "$equivalent" ] && exclude=(--exclude-re "$equivalent")
  # shellcheck disable=SC2086 # test_args is a list of words
  # In place (CI's clone is throwaway; cargo-mutants restores the file after each
  # mutant): each mutant is an incremental build in the target directory the suite
  # already built, instead of a cold build in a copy. (.ci/run runs this step last, so
  # a run cut short by its timeout leaves no mutated file to a later step.)
  cargo mutants --in-place -p "$pkg" -f "$file" -o "$out/${file////_}" --timeout 120 \
    "${exclude[@]}" -- $test_args || rc=$?
  echo "mutants: $file: $(( $(date +%s) - start )) s, exit status $rc"
  # 0: every mutant caught; 3: some only by a timeout (a hang is a failing test too).
  # 2: a mutant survived; 1 or 4: the run or the unmutated baseline failed.
  case $rc in
    0|3) ;;
    2) echo "mutants: missed in $file:"; cat "$out/${file////_}/mutants.out/missed.txt"; failed=1 ;;
    *) echo "mutants: the run itself failed on $file"; failed=1 ;;
  esac
done
exit $failed
