#!/usr/bin/env bash
# Millrace's Firehose and moto_server's side by side on 127.0.0.1, one after the other, driven by the same client:
# bench/firehose_bench.py creates a delivery stream writing GZIP to the server's own S3 every second, then the .NET
# driver (bench/Millrace.Bench.Firehose, --connections keep-alive connections) puts PutRecordBatch calls of
# 500 x 1 KiB records for --warmup + --seconds seconds (at most --batches calls), the rate measured after the warmup;
# then every record is looked for in S3 and the largest data freshness reported (object LastModified minus the put
# time of its oldest record). --driver boto3 uses --procs boto3 processes instead. Writes bench/results/firehose.md
# and bench/results/firehose.jsonl.
# --prefault-mb N (default 4000; 0 turns it off) writes and deletes N MB of page cache before each server starts:
# this VM hands freed memory back to its host, and the first touch of page-cache memory then costs a host fault per
# page (a cold 1 MiB-block dd writes ~300 MB/s, a warm one ~3.7 GB/s), which a long-running server has long paid.
#   bench/firehose.sh [--connections 8] [--seconds 10] [--warmup 4] [--batches 100000] [--driver dotnet|boto3] [--procs 4] [--prefault-mb 4000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
procs=4 batches=100000 connections=8 seconds=10 warmup=4 driver=dotnet prefault=4000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --procs) procs="$2" ;; --batches) batches="$2" ;; --connections) connections="$2" ;; --seconds) seconds="$2" ;;
    --warmup) warmup="$2" ;; --driver) driver="$2" ;; --prefault-mb) prefault="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
moto_server="$(command -v moto_server || echo /root/.pyenv/versions/3.11.7/bin/moto_server)"
"$root/millrace" --help >/dev/null

source "$here/lib.sh"
if [[ $driver == dotnet ]]; then
  dotnet build "$here/Millrace.Bench.Firehose/Millrace.Bench.Firehose.csproj" -c Release -o "$tmp/driver" --nologo -v quiet >/dev/null
  driver_arg="$tmp/driver/millrace-firehose-load.dll"
else
  driver_arg=boto3
fi

jsonl="$tmp/firehose.jsonl"; : > "$jsonl"
for name in millrace moto; do
  if (( prefault > 0 )); then
    dd if=/dev/zero of="$tmp/prefault" bs=1M count="$prefault" status=none; rm -f "$tmp/prefault"
  fi
  port=$(free_port)
  if [[ $name == millrace ]]; then
    dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/millrace-data" > "$tmp/$name.log" 2>&1 & pid=$!
  else
    "$moto_server" -H 127.0.0.1 -p "$port" > "$tmp/$name.log" 2>&1 & pid=$!
  fi
  wait_port "$port" || { echo "$name did not start" >&2; cat "$tmp/$name.log" >&2; stop; continue; }
  echo "== $name (pid $pid, port $port)" >&2
  timeout 600 python3 "$here/firehose_bench.py" "http://127.0.0.1:$port" "$name" --procs "$procs" --batches "$batches" \
      --driver "$driver_arg" --connections "$connections" --seconds "$seconds" --warmup "$warmup" | tee -a "$jsonl" >&2 \
    || echo "{\"server\": \"$name\", \"error\": \"failed or timed out\"}" >> "$jsonl"
  stop
done

mkdir -p "$here/results"
cp "$jsonl" "$here/results/firehose.jsonl"
python3 - "$jsonl" "$(nproc)" "bench/firehose.sh --driver $driver --connections $connections --seconds $seconds --warmup $warmup --batches $batches --procs $procs --prefault-mb $prefault" <<'PY' | tee "$here/results/firehose.md"
import datetime, json, sys
path, cores, command = sys.argv[1:4]
rows = {r["server"]: r for r in (json.loads(l) for l in open(path) if l.strip())}
print(f"Machine: {cores} cores; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.")
print()
print("| server | driver | records put | PutRecordBatch records/s | delivered to S3 | max data freshness (s) |")
print("|---|---|---|---|---|---|")
for name in ("millrace", "moto"):
    r = rows.get(name, {"error": "not run"})
    if "error" in r:
        print(f"| {name} | | {r['error']} | | | |")
    else:
        print(f"| {name} | {r['driver']} | {r['records']:,} | {r['records_per_s']:,} | {r['delivered']:,} | {r['max_freshness_s']} |")
m, o = rows.get("millrace", {}), rows.get("moto", {})
if "records_per_s" in m and "records_per_s" in o:
    print()
    print(f"Millrace / moto put throughput: {m['records_per_s'] / o['records_per_s']:.2f}x.")
PY
