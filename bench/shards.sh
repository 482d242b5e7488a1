#!/usr/bin/env bash
# RSS of `millrace serve` with many open shards: creates STREAMS streams of SHARDS shards each on 127.0.0.1, waits
# until all are ACTIVE, writes one record to every stream, and prints the server's RSS and peak RSS.
#   bench/shards.sh [streams=5] [shards-per-stream=2000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
streams="${1:-5}"; shards="${2:-2000}"
"$root/millrace" --help >/dev/null
tmp="$(mktemp -d)"; pid=""
trap 'if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" > "$tmp/log" 2>&1 & pid=$!
for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
call() { curl -sS -m 120 -X POST "http://127.0.0.1:$port/" -H "X-Amz-Target: Kinesis_20131202.$1" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Date: 20261123T000000Z' -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261123/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' -d "$2"; }
start=$(date +%s.%N)
for s in $(seq 1 "$streams"); do call CreateStream "{\"StreamName\":\"shards-$s\",\"ShardCount\":$shards}" >/dev/null; done
for s in $(seq 1 "$streams"); do
  for _ in $(seq 1 600); do
    call DescribeStreamSummary "{\"StreamName\":\"shards-$s\"}" | grep -q '"ACTIVE"' && break; sleep 0.1
  done
  call PutRecord "{\"StreamName\":\"shards-$s\",\"PartitionKey\":\"k\",\"Data\":\"aGVsbG8=\"}" >/dev/null
done
secs=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status); hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
echo "{\"streams\":$streams,\"shards\":$((streams * shards)),\"secondsToActive\":$secs,\"rssMiB\":$((rss / 1024)),\"peakRssMiB\":$((hwm / 1024))}"
