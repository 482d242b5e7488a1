# Shared by the examples' run.sh: starts a fresh `./millrace serve` on a free loopback port in a temporary data
# directory, stops it (and everything else the script started, and removes the directory) when the script exits, and
# points the AWS CLI and SDKs at it.
#   source "$(dirname "$0")/../lib.sh"; start_millrace
# MILLRACE overrides the command that runs Millrace (the tests give the build they test).
set -euo pipefail
examples_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$examples_root/.." && pwd)"
example_dir="$(cd "$(dirname "$0")" && pwd)"
read -ra millrace <<< "${MILLRACE:-$repo_root/millrace}"
work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Runs a command in the background until the script ends.
background() { "$@" & pids=("$!" "${pids[@]}"); }

start_millrace() {
  "${millrace[@]}" --help >/dev/null # builds once if needed
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  "${millrace[@]}" serve --host 127.0.0.1 --port "$port" --data-dir "$work/data" > "$work/millrace.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 300); do
    grep -q "Millrace ready" "$work/millrace.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "Millrace ready" "$work/millrace.log" || { cat "$work/millrace.log" >&2; echo "millrace did not start" >&2; exit 1; }
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
  echo "== millrace serve on $AWS_ENDPOINT_URL (data in $work/data)"
}

# The AWS CLI v2 from Debian (a v1 `aws` may be first on PATH). Debian's 2.9 predates AWS_ENDPOINT_URL (2.13), so
# the endpoint is given on the command line; newer CLIs, boto3 and the SDKs read the variable.
aws() { /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

# Prints a command, then runs it, as a walkthrough shows it.
step() { echo; echo "\$ $*"; "$@"; }

# Waits (at most $2 seconds, default 60) until the command in $1 succeeds.
wait_for() {
  local deadline=$((SECONDS + ${2:-60}))
  until eval "$1" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "gave up waiting for: $1" >&2; return 1; fi
    sleep 0.5
  done
}

# Prints the messages of a log group (CloudWatch Logs), one per line, indented.
log_messages() {
  aws logs filter-log-events --log-group-name "$1" --output json |
    python3 -c 'import json, sys; [print("   " + e["message"].rstrip("\n")) for e in json.load(sys.stdin)["events"]]'
}

# The AWS CLI with its client-side parameter validation off, for values today's API takes but Debian's CLI 2.9 model
# does not (a Firehose IntervalInSeconds under 60).
aws_unvalidated() {
  printf '[default]\nparameter_validation = false\n' > "$work/aws-unvalidated-config"
  AWS_CONFIG_FILE="$work/aws-unvalidated-config" /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
}
