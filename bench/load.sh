#!/usr/bin/env bash
# Load on a 7-node, 100-shard `walrus devnet` through its publisher and
# aggregator: WORKERS concurrent clients each store and read back OPS
# random blobs (16 KiB to 1 MiB, every read checked byte for byte), bounded
# by DEADLINE seconds. Prints store and read throughput, p50/p99
# latencies, and every service's peak memory (VmHWM), and fails if a
# storage node's peak passes NODE_BUDGET_MB or the publisher's passes
# PUBLISHER_BUDGET_MB (issue 21).
#
#   bash bench/load.sh                      # release build, 8 x 20 ops
#   WORKERS=4 OPS=5 WALRUS=target/debug/walrus bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-8} OPS=${OPS:-20} DEADLINE=${DEADLINE:-600}
NODE_BUDGET_MB=${NODE_BUDGET_MB:-1024} PUBLISHER_BUDGET_MB=${PUBLISHER_BUDGET_MB:-2048}
if [ -z "${WALRUS:-}" ]; then
  cargo build --release -p walrus-node
  WALRUS=$PWD/target/release/walrus
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/walrus-load.XXXXXX")
"$WALRUS" devnet --dir "$DIR/devnet" --nodes 7 --n-shards 100 \
  --chain-port 19100 --node-port 19101 --metrics-port 19201 --daemon-port 19415 \
  --indexer-port 19300 --validator-port 19400 --p2p-port 19500 > "$DIR/devnet.out" 2>&1 &
DEVNET=$!
trap 'kill -TERM $DEVNET 2>/dev/null; wait $DEVNET 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1200); do
  grep -q "^Devnet ready" "$DIR/devnet.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "^Devnet ready" "$DIR/devnet.out" || { cat "$DIR/devnet.out"; exit 1; }
python3 - "$DIR/devnet/devnet.json" "$WORKERS" "$OPS" "$DEADLINE" "$NODE_BUDGET_MB" "$PUBLISHER_BUDGET_MB" <<'PY'
import json, os, random, statistics, sys, threading, time, urllib.request

services = json.load(open(sys.argv[1]))
workers, ops, deadline = int(sys.argv[2]), int(sys.argv[3]), time.time() + float(sys.argv[4])
node_budget, publisher_budget = int(sys.argv[5]), int(sys.argv[6])
daemon = services["daemon"]["url"]
lock = threading.Lock()
stores, reads, errors, moved = [], [], [], [0]

def request(method, path, body=None):
    req = urllib.request.Request(daemon + path, data=body, method=method)
    with urllib.request.urlopen(req, timeout=300) as reply:
        return reply.read()

def worker(seed):
    rng = random.Random(seed)
    for _ in range(ops):
        if time.time() > deadline:
            return
        blob = rng.randbytes(rng.randint(16 << 10, 1 << 20))
        try:
            t0 = time.time()
            reply = json.loads(request("PUT", "/v1/blobs?epochs=2", blob))
            t1 = time.time()
            result = reply.get("newlyCreated") or reply.get("alreadyCertified")
            blob_id = (result.get("blobObject") or result)["blobId"]
            back = request("GET", f"/v1/blobs/{blob_id}")
            t2 = time.time()
            if back != blob:
                raise RuntimeError(f"read of {blob_id} differs")
            with lock:
                stores.append(t1 - t0); reads.append(t2 - t1); moved[0] += len(blob)
        except Exception as error:
            with lock:
                errors.append(str(error))

start = time.time()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.time() - start

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")

print(f"{workers} workers x {ops} ops in {elapsed:.1f} s: {len(stores)} stores+reads, {len(errors)} errors")
print(f"throughput: {len(stores)/elapsed:.2f} store+read/s, {moved[0]/1e6/elapsed:.2f} MB/s stored and read back")
print(f"store ms p50 {pct(stores, .5):.0f} p99 {pct(stores, .99):.0f}; read ms p50 {pct(reads, .5):.0f} p99 {pct(reads, .99):.0f}")
for error in errors[:5]:
    print("error:", error)

def peak_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None

over = []
named = [(n["name"] if "name" in n else f"node-{i}", n["pid"], node_budget) for i, n in enumerate(services["nodes"])]
named += [("publisher", services["daemon"]["pid"], publisher_budget)]
named += [(v.get("name", f"validator-{i}"), v["pid"], None) for i, v in enumerate(services["validators"])]
named += [("indexer", services["indexer"]["pid"], None)]
for name, pid, budget in named:
    peak = peak_mb(pid)
    note = "" if budget is None else f" (budget {budget} MB)"
    print(f"peak memory {name:<14} {peak:8.0f} MB{note}" if peak is not None else f"peak memory {name}: gone")
    if budget is not None and peak is not None and peak > budget:
        over.append(name)
if errors or over:
    print("FAILED:", f"{len(errors)} errors" if errors else "", f"over budget: {over}" if over else "")
    sys.exit(1)
PY
