#!/usr/bin/env bash
# Restart time of the chain service holding N objects (default 10^5 and
# 10^6): restored from stored objects, checked against the last state root.
#   bash bench/restart.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-runtime --example bench_restart -- "$@"
