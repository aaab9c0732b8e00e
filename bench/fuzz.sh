#!/usr/bin/env bash
# Runs every fuzz target (fuzz/targets.rs) for RUNS executions each with
# cargo-fuzz (libFuzzer, nightly Rust) and prints, per target, the
# executions done and whether it crashed. Crash inputs land in
# fuzz/artifacts/<target>/; copy them to fuzz/regressions/<target>/ so that
# tests/tests/fuzz_corpus.rs replays them on every test run.
#
# Usage: bench/fuzz.sh [RUNS] [TARGET...]   (RUNS defaults to 10^7)
# Environment: FUZZ_SANITIZER=address|none (default none: 3-5x faster;
# use address for the codec's unsafe SIMD code).
set -euo pipefail
runs=${1:-10000000}
shift || true
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
[ -d corpus ] || cargo +nightly run --release --example seed
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sliver metadata recovery_symbols inconsistency_proof transaction checkpoints certificate)
sanitizer=${FUZZ_SANITIZER:-none}
printf '%-22s %12s %8s %s\n' target executions seconds result
for target in "${targets[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  if cargo +nightly fuzz run -s "$sanitizer" "$target" -- -runs="$runs" -max_len=65536 > "$log" 2>&1; then
    result=ok
  else
    result="CRASH (see fuzz/artifacts/$target and $log)"
  fi
  done_runs=$(grep -o 'Done [0-9]* runs' "$log" | awk '{print $2}' | tail -1)
  printf '%-22s %12s %8s %s\n' "$target" "${done_runs:-?}" "$(( $(date +%s) - start ))" "$result"
done
