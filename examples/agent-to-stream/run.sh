#!/usr/bin/env bash
# The course's agent demo: a log generator, agent.json, `millrace agent`, and the lines read back from the stream;
# a second flow turns an Apache access log into JSON with LOGTOJSON.
source "$(dirname "$0")/../lib.sh"
start_millrace

step aws kinesis create-stream --stream-name server-logs --shard-count 1
step aws kinesis create-stream --stream-name access-logs --shard-count 1
aws kinesis wait stream-exists --stream-name server-logs
aws kinesis wait stream-exists --stream-name access-logs

# The agent's files live in a scratch copy of this folder: agent.json's relative paths are taken from its directory.
mkdir -p "$work/agent/logs"
cp "$example_dir/agent.json" "$work/agent/"
echo
echo "\$ ./generate-logs.sh logs &      # a line a second into logs/server.log"
background "$example_dir/generate-logs.sh" "$work/agent/logs"
echo "\$ cp access.log.sample logs/access.log"
cp "$example_dir/access.log.sample" "$work/agent/logs/access.log"
echo "\$ millrace agent --config agent.json &"
background "${millrace[@]}" agent --config "$work/agent/agent.json" > "$work/agent.log" 2>&1

# Reads a one-shard stream from its start and prints each record's data.
read_stream() {
  local iterator
  iterator=$(aws kinesis get-shard-iterator --stream-name "$1" --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
  aws kinesis get-records --shard-iterator "$iterator" --query 'Records[].Data' --output text | tr '\t' '\n' | while read -r data; do
    [[ -n "$data" && "$data" != None ]] && echo "   $(echo "$data" | base64 -d | tr -d '\n')"
  done
}

echo
echo "== waiting for 4 log lines in server-logs"
wait_for '[[ $(read_stream server-logs | wc -l) -ge 4 ]]' 60
echo "== server-logs, from TRIM_HORIZON (get-shard-iterator, get-records, base64 -d):"
read_stream server-logs
echo
echo "== access-logs: each access log line as LOGTOJSON made it (the last sample line is not one, so it was skipped):"
wait_for '[[ $(read_stream access-logs | wc -l) -ge 4 ]]' 60
read_stream access-logs
echo
echo "== the agent's own log:"
sed 's/^/   /' "$work/agent.log" | head -8
echo
echo "== done"
