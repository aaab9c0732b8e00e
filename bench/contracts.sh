#!/usr/bin/env bash
# Applies register and certify transactions for BLOBS blobs (default 10,000)
# on a 1000-shard committee of 10 nodes and prints transactions per second,
# with certificate verification reported separately.
#   bash bench/contracts.sh [BLOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-contracts --example bench_blobs -- "${1:-10000}"
