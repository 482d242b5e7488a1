#!/usr/bin/env bash
# millrace agent throughput on this machine: bench/agent_bench.py writes one file of --lines 200-byte lines and ships it
# to a 4-shard stream of a fresh `millrace serve` with the agent (KPL aggregation on, then off), then with a naive
# `tail -F | boto3 PutRecords` in the same run, and watches the agent's memory while the server is down.
# Writes bench/results/agent.md and bench/results/agent.jsonl.
#   bench/agent.sh [--lines 2000000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
lines=2000000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lines) lines="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
"$root/millrace" --help >/dev/null
tmp="$(mktemp -d)"; pid=""
cleanup() { if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" > "$tmp/server.log" 2>&1 & pid=$!
for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
mkdir -p "$tmp/work" "$here/results"
timeout 1200 python3 "$here/agent_bench.py" "$root/artifacts/cli/millrace.dll" "http://127.0.0.1:$port" "$tmp/work" --lines "$lines" | tee "$tmp/agent.jsonl"
cp "$tmp/agent.jsonl" "$here/results/agent.jsonl"
python3 - "$tmp/agent.jsonl" "$(nproc)" "bench/agent.sh --lines $lines" <<'PY' | tee "$here/results/agent.md"
import datetime, json, sys
path, cores, command = sys.argv[1:4]
rows = {r["name"]: r for r in (json.loads(l) for l in open(path) if l.strip())}
print(f"Machine: {cores} cores (agent, server and load on the same cores); {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.")
print()
print("| sender | lines/s (steady) | s to the last line | agent CPU µs/line | agent peak RSS MiB |")
print("|---|---|---|---|---|")
for name in ("agent-aggregated", "agent", "tail-F-PutRecords"):
    r = rows.get(name, {"error": "not run"})
    if "error" in r:
        print(f"| {name} | {r['error']} | | | |")
    else:
        print(f"| {name} | {r['lines_per_s']:,} | {r['seconds_to_last_line']} | {r.get('cpu_us_per_line', '')} | {r.get('peak_rss_mib', '')} |")
d = rows.get("agent-server-down")
if d and "rss_mib_each_second" in d:
    print()
    print(f"Server down (agent pointed at a closed port, {d['file_mib']} MiB file unread): agent RSS each second {d['rss_mib_each_second']} MiB.")
PY
