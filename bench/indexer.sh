#!/usr/bin/env bash
# The indexer's benchmark: ingest of generated blob events served by a real
# sequencer over HTTP, then blob-status latency under wrk.
# Usage: bash bench/indexer.sh [EVENTS]   (default 1,000,000; needs `wrk`)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo run --quiet --release -p walrus-tests --example indexer_bench -- "${1:-1000000}"
