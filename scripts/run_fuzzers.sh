#!/usr/bin/env bash
# Runs every fuzzer binary in DIR for FUZZ_SECONDS (default 30) each, starting
# from its committed seed corpus (fuzz/corpus/<name>/). New inputs go to a
# scratch directory, never into the repository. Exits non-zero on the first
# crash, hang or sanitizer report.
#   scripts/run_fuzzers.sh build/fuzz/fuzz
set -euo pipefail
dir=$1
seconds=${FUZZ_SECONDS:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$dir"/*_fuzzer; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin" _fuzzer)
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/fsdb-fuzz-$name-XXXXXX")
  echo "== fuzzing $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$scratch" "$root/fuzz/corpus/$name" 2>&1 | tail -n 12
  rm -rf "$scratch"
done
[ "$found" -eq 1 ] || { echo "run_fuzzers.sh: no *_fuzzer binaries in $dir" >&2; exit 1; }
