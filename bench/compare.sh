#!/usr/bin/env bash
# Millrace and its peers side by side, in one run, on 127.0.0.1: each server is started, given the same
# millrace-load scenarios, and stopped by PID before the next one starts. Prints a table of every figure with the
# ratio Millrace / peer and writes it to bench/results/compare.md (raw JSON lines: bench/results/compare.jsonl).
#   bench/compare.sh [--servers millrace,kinesalite,kinesis-mock,moto] [millrace-load options, e.g. --seconds 10 --concurrency 16 --shards 4]
# Peers: kinesalite 3.3.3 and kinesis-mock (npm kinesis-local 0.6.2, its Node build) are installed by this script
# into bench/.peers (ignored by git); moto_server is the preinstalled Python 3.11 one. Node peers have no host
# flag, so bench/putrecords/loopback.cjs is preloaded to bind them to 127.0.0.1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
servers="millrace,kinesalite,kinesis-mock,moto"
if [[ "${1:-}" == "--servers" ]]; then servers="$2"; shift 2; fi
load_args=("$@")

peers="$here/.peers"
if [[ ",$servers," == *,kinesalite,* || ",$servers," == *,kinesis-mock,* ]]; then
  mkdir -p "$peers"
  [[ -f "$peers/package.json" ]] || echo '{"name":"millrace-bench-peers","private":true}' > "$peers/package.json"
  [[ -d "$peers/node_modules/kinesalite" && -d "$peers/node_modules/kinesis-local" ]] ||
    (cd "$peers" && npm install --silent --no-audit --no-fund kinesalite@3.3.3 kinesis-local@0.6.2 >/dev/null)
fi
moto_server="$(command -v moto_server || echo /root/.pyenv/versions/3.11.7/bin/moto_server)"

# Build both once, outside any measurement.
"$root/millrace" --help >/dev/null
dotnet build "$here/Millrace.Bench.Load/Millrace.Bench.Load.csproj" -c Release --nologo -v quiet >/dev/null
load="$here/Millrace.Bench.Load/bin/Release/net10.0/millrace-load.dll"

source "$here/lib.sh"

jsonl="$tmp/results.jsonl"; : > "$jsonl"
IFS=',' read -ra list <<< "$servers"
for name in "${list[@]}"; do
  port=$(free_port)
  case "$name" in
    millrace)
      dotnet "$root/artifacts/cli/millrace.dll" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/millrace-data" > "$tmp/$name.log" 2>&1 & pid=$! ;;
    kinesalite)
      node -r "$here/putrecords/loopback.cjs" "$peers/node_modules/kinesalite/cli.js" --port "$port" --createStreamMs 0 --deleteStreamMs 0 --shardLimit 100000 > "$tmp/$name.log" 2>&1 & pid=$! ;;
    kinesis-mock)
      KINESIS_MOCK_PLAIN_PORT="$port" KINESIS_MOCK_TLS_PORT="$(free_port)" KINESIS_MOCK_CERT_PATH="$peers/node_modules/kinesis-local/server.json" \
        CREATE_STREAM_DURATION=0ms SHARD_LIMIT=100000 LOG_LEVEL=WARN \
        node -r "$here/putrecords/loopback.cjs" "$peers/node_modules/kinesis-local/main.js" > "$tmp/$name.log" 2>&1 & pid=$! ;;
    moto)
      "$moto_server" -H 127.0.0.1 -p "$port" > "$tmp/$name.log" 2>&1 & pid=$! ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  if ! wait_port "$port"; then echo "$name did not start:" >&2; cat "$tmp/$name.log" >&2; stop; continue; fi
  echo "== $name (pid $pid, port $port)" >&2
  dotnet "$load" --endpoint "http://127.0.0.1:$port" --label "$name" --server-pid "$pid" --markdown /dev/null "${load_args[@]}" | tee -a "$jsonl" >&2 || true
  stop
done

mkdir -p "$here/results"
cp "$jsonl" "$here/results/compare.jsonl"
python3 "$here/compare_table.py" "$jsonl" "$(nproc)" "$(free -g | awk '/Mem:/{print $2}')" "bench/compare.sh --servers $servers ${load_args[*]}" | tee "$here/results/compare.md"
