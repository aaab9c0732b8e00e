#!/usr/bin/env bash
# Store and read throughput through a 7-node, 1000-shard `walrus devnet`
# (every process shares this machine's cores), for a 64 MiB random blob and
# the Rust toolchain's librustc_driver (~150 MB), plus the end-to-end latency
# of 1 KiB stores (median of 20).
#
#   bash bench/devnet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p walrus-node
WALRUS=$PWD/target/release/walrus
DIR=$(mktemp -d "${TMPDIR:-/tmp}/walrus-bench.XXXXXX")
CONFIG=(--config "$DIR/client_config.yaml")
"$WALRUS" devnet --dir "$DIR/devnet" --nodes 7 --n-shards 1000 \
  --chain-port 19100 --node-port 19101 --metrics-port 19201 --daemon-port 19415 --indexer-port 19300 --validator-port 19400 --p2p-port 19500 > "$DIR/devnet.out" 2>&1 &
DEVNET=$!
trap 'kill -TERM $DEVNET 2>/dev/null; wait $DEVNET 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 600); do
  grep -q "^Devnet ready" "$DIR/devnet.out" 2>/dev/null && break
  sleep 0.1
done
CONFIG=(--config "$DIR/devnet/client_config.yaml")
head -c $((64 << 20)) /dev/urandom > "$DIR/random-64MiB"
DRIVER=$(ls "$(rustc --print sysroot)"/lib/librustc_driver-*.so | head -1)

printf '%-22s %10s %10s %10s %10s %10s %10s %10s\n' file MB store_MB/s read_MB/s encode_ms register_ms upload_ms certify_ms
for FILE in "$DIR/random-64MiB" "$DRIVER"; do
  SIZE=$(stat -c %s "$FILE")
  T0=$(date +%s.%N)
  "$WALRUS" --json "${CONFIG[@]}" store "$FILE" --force > "$DIR/store.json"
  T1=$(date +%s.%N)
  BLOB_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["blobId"])' "$DIR/store.json")
  "$WALRUS" --json "${CONFIG[@]}" read "$BLOB_ID" --out "$DIR/read-back" > /dev/null
  T2=$(date +%s.%N)
  cmp "$FILE" "$DIR/read-back"
  python3 - "$DIR/store.json" "$SIZE" "$T0" "$T1" "$T2" "$(basename "$FILE")" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))[0]
size, t0, t1, t2, name = int(sys.argv[2]), *map(float, sys.argv[3:6]), sys.argv[6]
t = report["timings"]
print(f"{name[:22]:<22} {size/1e6:10.1f} {size/1e6/(t1-t0):10.1f} {size/1e6/(t2-t1):10.1f} "
      f"{t['encodeMs']:10d} {t['registerMs']:10d} {t['uploadMs']:10d} {t['certifyMs']:10d}")
PY
done

# Small blobs: 20 distinct 1 KiB files, end to end (process start included).
TIMES=()
for i in $(seq 20); do
  head -c 1024 /dev/urandom > "$DIR/small"
  T0=$(date +%s%N)
  "$WALRUS" --json "${CONFIG[@]}" store "$DIR/small" > /dev/null
  T1=$(date +%s%N)
  TIMES+=($(( (T1 - T0) / 1000000 )))
done
MEDIAN=$(printf '%s\n' "${TIMES[@]}" | sort -n | sed -n 10p)
echo "1 KiB store, end to end incl. process start: median ${MEDIAN} ms (20 runs)"
