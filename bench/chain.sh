#!/usr/bin/env bash
# Load test of the chain service over HTTP on 127.0.0.1: committed tx/s and
# p50/p99 latency to finality, on the single sequencer (VALIDATORS 0) or on
# VALIDATORS replicated validators.
#   bash bench/chain.sh [CLIENTS] [PER_CLIENT] [VALIDATORS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-runtime --example bench_chain -- "${1:-64}" "${2:-150}" "${3:-0}"
