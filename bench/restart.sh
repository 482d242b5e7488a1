#!/usr/bin/env bash
# Restart time of `millrace serve` with a large retained data set: fills a data directory with PutRecords of 10 KB
# records (millrace-load, bounded by time and request count) until it holds about GB gibibytes, kills the server
# with SIGKILL, starts it again on the same directory and measures the time until it prints "ready" and until a
# GetRecords from TRIM_HORIZON answers. 127.0.0.1 only. Prints one JSON line.
#   bench/restart.sh [GB=10]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
gb="${1:-10}"
"$root/millrace" --help >/dev/null
dotnet build "$here/Millrace.Bench.Load/Millrace.Bench.Load.csproj" -c Release --nologo -v quiet >/dev/null
load="$here/Millrace.Bench.Load/bin/Release/net10.0/millrace-load.dll"
tmp="$(mktemp -d)"; pid=""
trap 'if [[ -n "$pid" ]]; then kill -9 "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
start_server() {
  dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" > "$tmp/log" 2>&1 & pid=$!
  for _ in $(seq 1 6000); do grep -q ready "$tmp/log" 2>/dev/null && return 0; sleep 0.01; done
  echo "server did not start" >&2; cat "$tmp/log" >&2; return 1
}
start_server
# Each round writes for up to 60 s; stop once the directory holds the target size (at most 20 rounds).
for _ in $(seq 1 20); do
  size=$(du -sb "$tmp/data" | cut -f1)
  [[ $size -ge $((gb * 1024 * 1024 * 1024)) ]] && break
  dotnet "$load" --endpoint "http://127.0.0.1:$port" --scenarios put-records-10k --seconds 60 --warmup-seconds 0 \
    --concurrency 16 --shards 8 --max-requests 200000 --markdown /dev/null > /dev/null
done
size=$(du -sb "$tmp/data" | cut -f1)
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
sync
t0=$(date +%s.%N)
start_server
t_ready=$(date +%s.%N)
call() { curl -sS -m 120 -X POST "http://127.0.0.1:$port/" -H "X-Amz-Target: Kinesis_20131202.$1" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Date: 20261123T000000Z' -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261123/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' -d "$2"; }
stream=$(call ListStreams '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["StreamNames"][0])')
it=$(call GetShardIterator "{\"StreamName\":\"$stream\",\"ShardId\":\"shardId-000000000000\",\"ShardIteratorType\":\"TRIM_HORIZON\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ShardIterator"])')
n=$(call GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":100}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Records"]))')
t_read=$(date +%s.%N)
rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
python3 -c "print('{\"dataGiB\":%.2f,\"secondsToReady\":%.2f,\"secondsToFirstRead\":%.2f,\"recordsRead\":$n,\"rssMiBAfterRestart\":%d}' % ($size/2**30, $t_ready-$t0, $t_read-$t0, $rss//1024))"
