#!/usr/bin/env bash
# Millrace's S3 and moto_server's side by side on 127.0.0.1, one after the other, with the same millrace-s3-load
# scenarios: 1 MiB PUTs and GETs and 4 KiB PUTs from --concurrency clients, ListObjectsV2 pages of 1,000 keys out
# of --list-keys, and one --multipart-mib multipart upload with the server's RSS sampled throughout. Writes
# bench/results/s3.md (table) and bench/results/s3.jsonl (raw lines).
#   bench/s3.sh [--seconds 5] [--concurrency 16] [--list-keys 1000000] [--moto-list-keys 20000] [--multipart-mib 5120]
# moto keeps objects in memory and seeds slowly, so it lists a smaller bucket (--moto-list-keys) and skips the
# multipart scenario; the table says so.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seconds=5 concurrency=16 list_keys=1000000 moto_list_keys=20000 multipart_mib=5120
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2" ;; --concurrency) concurrency="$2" ;; --list-keys) list_keys="$2" ;;
    --moto-list-keys) moto_list_keys="$2" ;; --multipart-mib) multipart_mib="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
moto_server="$(command -v moto_server || echo /root/.pyenv/versions/3.11.7/bin/moto_server)"
"$root/millrace" --help >/dev/null
dotnet build "$here/Millrace.Bench.S3/Millrace.Bench.S3.csproj" -c Release --nologo -v quiet >/dev/null
load="$here/Millrace.Bench.S3/bin/Release/net10.0/millrace-s3-load.dll"

source "$here/lib.sh"

jsonl="$tmp/s3.jsonl"; : > "$jsonl"
for name in millrace moto; do
  port=$(free_port)
  if [[ $name == millrace ]]; then
    dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/millrace-data" > "$tmp/$name.log" 2>&1 & pid=$!
    extra=(--list-keys "$list_keys" --multipart-mib "$multipart_mib")
  else
    "$moto_server" -H 127.0.0.1 -p "$port" > "$tmp/$name.log" 2>&1 & pid=$!
    extra=(--list-keys "$moto_list_keys" --scenarios put-1mib,get-1mib,put-4kib,list-1000)
  fi
  wait_port "$port" || { echo "$name did not start" >&2; cat "$tmp/$name.log" >&2; stop; continue; }
  echo "== $name (pid $pid, port $port)" >&2
  dotnet "$load" --endpoint "http://127.0.0.1:$port" --label "$name" --server-pid "$pid" --seconds "$seconds" --concurrency "$concurrency" "${extra[@]}" | tee -a "$jsonl" >&2 || true
  stop
done

mkdir -p "$here/results"
cp "$jsonl" "$here/results/s3.jsonl"
python3 - "$jsonl" "$(nproc)" "$(free -g | awk '/Mem:/{print $2}')" "bench/s3.sh --seconds $seconds --concurrency $concurrency --list-keys $list_keys --moto-list-keys $moto_list_keys --multipart-mib $multipart_mib" <<'PY' | tee "$here/results/s3.md"
import datetime, json, sys
path, cores, mem, command = sys.argv[1:5]
rows = [json.loads(l) for l in open(path) if l.strip()]
by = {(r["server"], r["scenario"]): r for r in rows}
units = {"put-1mib": ("megabytesPerSecond", "MB/s"), "get-1mib": ("megabytesPerSecond", "MB/s"), "put-4kib": ("objectsPerSecond", "objects/s"),
         "list-1000": ("latencyP50Ms", "p50 ms per page"), "multipart": ("megabytesPerSecond", "MB/s")}
print(f"Machine: {cores} cores, {mem} GiB RAM; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.")
print()
print("| scenario | unit | millrace | moto | Millrace / moto | notes |")
print("|---|---|---|---|---|---|")
fmt = lambda v: "n/a" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")
for sc, (field, unit) in units.items():
    m, o = by.get(("millrace", sc)), by.get(("moto", sc))
    mv = m.get(field) if m and not m.get("error") else None
    ov = o.get(field) if o and not o.get("error") else None
    ratio = "n/a" if not mv or not ov else (f"{ov / mv:.2f}x faster" if sc == "list-1000" else f"{mv / ov:.2f}x")
    notes = []
    for label, r in (("millrace", m), ("moto", o)):
        if r is None:
            notes.append(f"{label}: not run")
            continue
        if r.get("error"):
            notes.append(f"{label}: {r['error'][:80]}")
        if sc == "list-1000" and "seededKeys" in r:
            notes.append(f"{label}: {r['seededKeys']:,} keys, p99 {r.get('latencyP99Ms')} ms")
        if sc == "multipart" and r.get("serverRssMiBMax") is not None:
            notes.append(f"{label}: {r['uploadMiB']:,} MiB, RSS first/max/last {r['serverRssMiBFirst']}/{r['serverRssMiBMax']}/{r['serverRssMiBLast']} MiB")
        if sc.startswith(("put", "get")) and r.get("latencyP50Ms") is not None:
            notes.append(f"{label}: p50 {r['latencyP50Ms']} ms, p99 {r['latencyP99Ms']} ms, errors {r.get('errorResponses', 0)}")
    print(f"| {sc} | {unit} | {fmt(mv)} | {fmt(ov)} | {ratio} | {'; '.join(notes)} |")
PY
