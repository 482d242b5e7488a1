#!/usr/bin/env bash
# Lambda figures on this machine (bench/lambda_bench.py against a fresh `millrace serve`): warm synchronous Invoke
# round trip of a trivial Python function, cold start, a mapping's delivery rate on a 4-shard stream (BatchSize
# 1,000) and put-to-invoke latency (BatchSize 1, no batching window). Writes bench/results/lambda.md and .jsonl.
#   bench/lambda.sh [--invokes 2000] [--colds 20] [--records 1000000] [--latency-samples 200]
# No peer runs beside it: moto's Lambda runs functions in Docker, which this machine does not have.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$root/millrace" --help >/dev/null
tmp="$(mktemp -d)"; pid=""
cleanup() { if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" > "$tmp/server.log" 2>&1 & pid=$!
for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
mkdir -p "$tmp/work" "$here/results"
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
  python3 "$here/lambda_bench.py" "http://127.0.0.1:$port" "$tmp/work" "$@" | tee "$here/results/lambda.jsonl"
python3 - "$here/results/lambda.jsonl" "$(nproc)" "bench/lambda.sh $*" <<'PY' | tee "$here/results/lambda.md"
import datetime, json, sys
rows = {r["scenario"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
print(f"Machine: {sys.argv[2]} cores; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{sys.argv[3].strip()}`.")
print("Peer: none. moto's Lambda runs functions in Docker containers, and this machine has no Docker.")
print()
print("| figure | Millrace | goal (issue 13) |")
print("|---|---:|---:|")
w, c, m, l = rows["warm-invoke"], rows["cold-start"], rows["mapping-throughput"], rows["put-to-invoke"]
print(f"| warm synchronous Invoke round trip, trivial Python function ({w['invokes']} calls) | p50 {w['p50Ms']} ms, p99 {w['p99Ms']} ms | p50 <= 2 ms |")
print(f"| cold start: first Invoke after a configuration change ({c['starts']} starts) | p50 {c['p50Ms']} ms, max {c['maxMs']} ms | <= 150 ms |")
print(f"| mapping on a 4-shard stream, BatchSize 1,000, 100-byte records, after a warm-up mapping of {m['warmupRecords']:,} | {m['recordsPerSecond']:,} records/s ({m['delivered']:,} in {m['seconds']} s, from CreateEventSourceMapping to the last invoke) | >= 100,000 records/s |")
print(f"| put-to-invoke latency, BatchSize 1, MaximumBatchingWindowInSeconds 0 ({l['samples']} records) | p50 {l['p50Ms']} ms, p99 {l['p99Ms']} ms | p50 <= 20 ms |")
PY
