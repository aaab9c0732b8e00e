#!/usr/bin/env bash
# The tests, on a fresh Debian machine with the Rust toolchain: installs what
# they need that cargo cannot (headless Chromium for the explorer page's test
# in tests/tests/devnet.rs; iproute2 for the network-namespace test in
# tests/tests/netns.rs) through the system package manager, then runs
# `cargo test --workspace --locked`. Extra arguments go to cargo test.
#
#   bash scripts/test.sh [CARGO TEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is required: install the Rust toolchain (https://rustup.rs) and retry" >&2
  exit 1
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]} (headless browser for the explorer page's test; ip and tc for the network-namespace test)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "error: ${missing[*]} missing and this user cannot install them: run 'apt-get install ${missing[*]}' as root" >&2
      exit 1
    }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

exec cargo test --workspace --locked "$@"
