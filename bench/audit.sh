#!/usr/bin/env bash
# The audit's benchmark: the light audit of one certified blob (committee
# chain, block certificates, state proofs) against the full re-execution,
# on a generated chain held in memory.
# Usage: bash bench/audit.sh [CHECKPOINTS] [EPOCHS]   (default 100000 20)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-tests --example audit_bench -- "${1:-100000}" "${2:-20}"
