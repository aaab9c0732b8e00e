#!/usr/bin/env bash
# Storage node throughput (write/read MB/s at n = 1000 for 1 MiB and 64 MiB
# blobs) and recovery traffic of one node's slivers.   bash bench/node.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-runtime --example bench_node
