#!/usr/bin/env bash
# State commitment cost per checkpoint with 1,000 changed objects at N
# objects (default 10^4, 10^5, 10^6): the authenticated state tree against
# the whole-state blake3 digest the chain used before.
#   bash bench/state_tree.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p walrus-contracts --example bench_state_tree -- "$@"
