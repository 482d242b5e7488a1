"""The tutorial's producer: creates a 2-shard stream, waits for ACTIVE, and puts each sample tweet gzipped, with a
uuid4 partition key (boto3; the endpoint comes from AWS_ENDPOINT_URL).

    python3 producer.py <stream> [--create-only]
--create-only stops once the stream is ACTIVE (run.sh then creates the Firehose archive, which reads from LATEST)."""
import gzip
import json
import os
import sys
import uuid

import boto3

stream = sys.argv[1] if len(sys.argv) > 1 else 'tweets'
kinesis = boto3.client('kinesis')
try:
    kinesis.create_stream(StreamName=stream, ShardCount=2)
except kinesis.exceptions.ResourceInUseException:
    pass  # made by an earlier --create-only run
kinesis.get_waiter('stream_exists').wait(StreamName=stream)
print(f"stream {stream}: {kinesis.describe_stream_summary(StreamName=stream)['StreamDescriptionSummary']['StreamStatus']}, 2 shards")
if '--create-only' in sys.argv:
    sys.exit(0)

shards = {}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'tweets.jsonl')) as f:
    for line in f:
        tweet = json.loads(line)
        response = kinesis.put_record(StreamName=stream, Data=gzip.compress(json.dumps(tweet).encode('utf-8')),
                                      PartitionKey=str(uuid.uuid4()))
        shards[response['ShardId']] = shards.get(response['ShardId'], 0) + 1
print(f"put {sum(shards.values())} gzipped tweets: " + ", ".join(f"{s} {n}" for s, n in sorted(shards.items())))
