#!/usr/bin/env bash
# The course's AWS CLI steps, verbatim but for the endpoint (AWS_ENDPOINT_URL), against a fresh Millrace.
source "$(dirname "$0")/../lib.sh"
start_millrace

step aws kinesis create-stream --stream-name my-first-stream --shard-count 1
aws kinesis wait stream-exists --stream-name my-first-stream
step aws kinesis describe-stream --stream-name my-first-stream
step aws kinesis put-record --stream-name my-first-stream --partition-key user1 --data "user signup" --cli-binary-format raw-in-base64-out
step aws kinesis put-record --stream-name my-first-stream --partition-key user2 --data "user login" --cli-binary-format raw-in-base64-out
step aws kinesis put-record --stream-name my-first-stream --partition-key user3 --data "user logout" --cli-binary-format raw-in-base64-out

echo
echo "\$ aws kinesis get-shard-iterator --stream-name my-first-stream --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON"
iterator=$(aws kinesis get-shard-iterator --stream-name my-first-stream --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
echo "$iterator"
step aws kinesis get-records --shard-iterator "$iterator" --limit 2

echo
echo "== the Data fields are base64; decoded:"
aws kinesis get-records --shard-iterator "$iterator" --limit 2 --query 'Records[].Data' --output text | tr '\t' '\n' | while read -r data; do
  echo "   $(echo "$data" | base64 -d)"
done

step aws kinesis split-shard --stream-name my-first-stream --shard-to-split shardId-000000000000 --new-starting-hash-key 170141183460469231731687303715884105727
aws kinesis wait stream-exists --stream-name my-first-stream
step aws kinesis list-shards --stream-name my-first-stream
step aws kinesis merge-shards --stream-name my-first-stream --shard-to-merge shardId-000000000001 --adjacent-shard-to-merge shardId-000000000002
aws kinesis wait stream-exists --stream-name my-first-stream
step aws kinesis list-shards --stream-name my-first-stream --query 'Shards[].{ShardId:ShardId,Parent:ParentShardId,AdjacentParent:AdjacentParentShardId,Closed:SequenceNumberRange.EndingSequenceNumber}' --output table
step aws kinesis delete-stream --stream-name my-first-stream
echo
echo "== done: 3 records put, 2 read back, one shard split into two and the two merged again"
