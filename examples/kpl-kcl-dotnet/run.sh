#!/usr/bin/env bash
# The KPL and KCL samples' idea in .NET: a producer puts numbered records with Millrace.Producer; a consumer
# application of two worker processes on Millrace.Consumer checks that every number arrives, across a SplitShard
# made half-way.
source "$(dirname "$0")/../lib.sh"
start_millrace

echo
echo "\$ dotnet build NumberProducer; dotnet build NumberConsumer"
for project in NumberProducer NumberConsumer; do
  dotnet build "$example_dir/$project" -c Release --nologo -v quiet > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
done

step aws kinesis create-stream --stream-name numbers --shard-count 2
aws kinesis wait stream-exists --stream-name numbers

echo
echo "\$ NumberConsumer numbers worker-1 worker-1.txt &  NumberConsumer numbers worker-2 worker-2.txt &"
for worker in worker-1 worker-2; do
  background dotnet "$example_dir/NumberConsumer/bin/Release/net10.0/NumberConsumer.dll" numbers "$worker" "$work/$worker.txt"
done

step dotnet "$example_dir/NumberProducer/bin/Release/net10.0/NumberProducer.dll" numbers 1 5000

# Half-way: shardId-000000000000 (hash keys 0 .. 2^127-1) splits at its middle, 2^126.
step aws kinesis split-shard --stream-name numbers --shard-to-split shardId-000000000000 --new-starting-hash-key 85070591730234615865843651857942052864
aws kinesis wait stream-exists --stream-name numbers
step aws kinesis list-shards --stream-name numbers --query 'Shards[].{ShardId:ShardId,Parent:ParentShardId,Closed:SequenceNumberRange.EndingSequenceNumber}' --output table

step dotnet "$example_dir/NumberProducer/bin/Release/net10.0/NumberProducer.dll" numbers 5001 10000

echo
echo "== waiting until the workers have seen every number"
touch "$work/worker-1.txt" "$work/worker-2.txt"
wait_for "python3 '$example_dir/check.py' 10000 '$work/worker-1.txt' '$work/worker-2.txt' --quiet" 90 || true
echo
echo "== stopping the workers (graceful shutdown: checkpoint, give up the leases)"
workers=("${pids[@]:0:2}")
kill -TERM "${workers[@]}" 2>/dev/null || true
wait_for '! kill -0 "${workers[@]}" 2>/dev/null' 20
echo
echo "== what each worker processed, per shard:"
python3 "$example_dir/check.py" 10000 "$work/worker-1.txt" "$work/worker-2.txt"
echo
echo "== the lease table (DynamoDB, on the same endpoint):"
aws dynamodb scan --table-name number-checker --query 'Items[].{shard:leaseKey.S,owner:leaseOwner.S,checkpoint:checkpoint.S}' --output table
echo
echo "== done"
