#!/usr/bin/env bash
# Prints codec throughput for a 64 MiB random blob at n = 1000: full encode,
# metadata only and three kinds of decode, each on 1 thread and on all
# threads, with the peak resident memory of each run (one process per run).
# Each figure is the median of ROUNDS runs inside that process.
#   bash bench/codec.sh [SIZE_MIB] [N_SHARDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-64}
n_shards=${2:-1000}
rounds=${3:-5}
threads_all=$(nproc)
cargo build --quiet --release -p walrus-codec --example codec_throughput
bin=target/release/examples/codec_throughput
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for mode in encode metadata decode-systematic decode-recovery decode-secondary; do
  for threads in 1 "$threads_all"; do
    "$bin" "$mode" "$size_mib" "$n_shards" "$threads" "$rounds" >>"$results"
  done
done
python3 - "$results" <<'PY'
import json, sys
print(f"{'mode':<20} {'threads':>7} {'median_s':>9} {'MB/s':>8} {'rounds_s':>13} {'peak_RSS_MiB':>13}")
for line in open(sys.argv[1]):
    r = json.loads(line)
    spread = f"{r['min_s']:.3f}-{r['max_s']:.3f}"
    print(f"{r['mode']:<20} {r['threads']:>7} {r['median_s']:>9.3f} {r['mb_per_s']:>8.1f} {spread:>13} {r['peak_rss_mib']:>13.0f}")
PY
echo "MB/s from the median round; rounds_s: the fastest and slowest round (a wide spread means a noisy machine)."
echo "MB = 10^6 bytes of unencoded blob. encode: EncodingConfig::encode_owned, as the client encodes"
echo "(the blob becomes primary slivers 0..p; its copy for each round is made before the clock starts)."
echo "decode-systematic: primary slivers 0..p (no decoding);"
echo "decode-recovery: the last p primary slivers; decode-secondary: the last s secondary slivers."
