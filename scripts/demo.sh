#!/usr/bin/env bash
# The main job: start a local Walrus network with `walrus devnet` (7 storage
# nodes, 1000 shards, each service its own process), store a real file through
# it, read it back, check it is byte-identical and certified, audit its
# provenance from the chain, ask the indexer, then stop.
#
#   bash scripts/demo.sh [FILE]     # default: the Rust toolchain's librustc_driver (~150 MB)
#
# Uses ports 9100-9107, 9201-9207, 9300, 9401-9406, 9500-9506 and 31415 on
# 127.0.0.1 and a fresh directory under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-$(ls "$(rustc --print sysroot)"/lib/librustc_driver-*.so | head -1)}
cargo build --release -p walrus-node
WALRUS=$PWD/target/release/walrus
DIR=$(mktemp -d "${TMPDIR:-/tmp}/walrus-demo.XXXXXX")
CONFIG=(--config "$DIR/client_config.yaml")

"$WALRUS" devnet --dir "$DIR" --nodes 7 --n-shards 1000 > "$DIR/devnet.out" 2>&1 &
DEVNET=$!
trap 'kill -TERM $DEVNET 2>/dev/null; wait $DEVNET 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q "^Devnet ready" "$DIR/devnet.out" 2>/dev/null && break
  kill -0 $DEVNET 2>/dev/null || { cat "$DIR/devnet.out"; exit 1; }
  sleep 0.1
done
cat "$DIR/devnet.out"
"$WALRUS" "${CONFIG[@]}" health

echo; echo "== store $FILE ($(stat -c %s "$FILE") bytes)"
"$WALRUS" "${CONFIG[@]}" store "$FILE" --epochs 5 | tee "$DIR/store.out"
BLOB_ID=$(awk '/Blob ID:/ {print $3}' "$DIR/store.out")

echo; echo "== read $BLOB_ID"
"$WALRUS" "${CONFIG[@]}" read "$BLOB_ID" --out "$DIR/read-back"
cmp "$FILE" "$DIR/read-back" && echo "byte-identical: yes"

echo; echo "== blob-status"
"$WALRUS" "${CONFIG[@]}" blob-status "$BLOB_ID"

echo; echo "== audit (light: certificates, committee chain, state proofs; --full re-executes)"
"$WALRUS" "${CONFIG[@]}" audit "$BLOB_ID"

echo; echo "== indexer: http://127.0.0.1:9300/?q=$BLOB_ID (explorer page)"
curl -s "http://127.0.0.1:9300/v1/blobs/$BLOB_ID"; echo
