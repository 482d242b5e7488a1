#!/usr/bin/env bash
# PutRecords throughput (500 x 100-byte records per call) of `./millrace serve` (embedded storage, every
# acknowledgement after fsync) and kinesalite (in-memory), run one after the other in the same invocation on
# 127.0.0.1. Writes bench/results/putrecords.md.
#   bench/putrecords/compare.sh [requests=200] [concurrency...=1 16]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
requests="${1:-200}"; shift || true
concurrencies=("${@:-1 16}"); concurrencies=(${concurrencies[@]})
(cd "$here" && { [ -d node_modules/kinesalite ] || npm install --silent --no-audit --no-fund >/dev/null; })
"$root/millrace" --help >/dev/null   # build once, outside the measurement

tmp="$(mktemp -d)"; trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

results=()
run_peer() { # name port
  for c in "${concurrencies[@]}"; do
    line="$(node "$here/putrecords.mjs" "$2" "$requests" "$c" 4 60)"
    echo "$1 c=$c $line" >&2
    results+=("$1|$c|$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recordsPerSecond"])')")
  done
}

port=$(free_port)
"$root/millrace" serve --port "$port" --data-dir "$tmp/millrace-data" > "$tmp/millrace.log" 2>&1 & echo $! > "$tmp/millrace.pid"
wait_port "$port"; run_peer millrace "$port"; kill "$(cat "$tmp/millrace.pid")"; wait "$(cat "$tmp/millrace.pid")" 2>/dev/null || true; rm "$tmp/millrace.pid"

port=$(free_port)
node -r "$here/loopback.cjs" "$here/node_modules/kinesalite/cli.js" --port "$port" --createStreamMs 0 > "$tmp/kinesalite.log" 2>&1 & echo $! > "$tmp/kinesalite.pid"
wait_port "$port"; run_peer kinesalite "$port"; kill "$(cat "$tmp/kinesalite.pid")"; rm "$tmp/kinesalite.pid"

mkdir -p "$root/bench/results"
out="$root/bench/results/putrecords.md"
{
  echo "# PutRecords throughput, 500 x 100-byte records per call"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d). Command: \`bench/putrecords/compare.sh $requests ${concurrencies[*]}\`."
  echo "Millrace: embedded storage, each acknowledgement after fsync. kinesalite 3.3.3: in memory (its default)."
  echo
  echo "| clients | Millrace rec/s | kinesalite rec/s | Millrace / kinesalite |"
  echo "|---|---|---|---|"
  for c in "${concurrencies[@]}"; do
    m=$(printf '%s\n' "${results[@]}" | awk -F'|' -v c="$c" '$1=="millrace" && $2==c {print $3}')
    k=$(printf '%s\n' "${results[@]}" | awk -F'|' -v c="$c" '$1=="kinesalite" && $2==c {print $3}')
    echo "| $c | $m | $k | $(python3 -c "print(f'{$m/$k:.1f}x')") |"
  done
} > "$out"
cat "$out"
