"""The tutorial's consumer: polls every shard from TRIM_HORIZON, following NextShardIterator, decompresses each
record, scores its sentiment, extracts keywords and writes the enriched document to S3 (boto3)."""
import gzip
import json
import sys
import time

import boto3

from enrich import enrich

stream, bucket, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
kinesis = boto3.client('kinesis')
s3 = boto3.client('s3')
iterators = {}
for shard in kinesis.list_shards(StreamName=stream)['Shards']:
    iterators[shard['ShardId']] = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard['ShardId'], ShardIteratorType='TRIM_HORIZON')['ShardIterator']

written, labels, deadline = 0, {}, time.time() + 60
while written < expected and iterators and time.time() < deadline:
    for shard_id, iterator in list(iterators.items()):
        response = kinesis.get_records(ShardIterator=iterator, Limit=100)
        for record in response['Records']:
            doc = enrich(json.loads(gzip.decompress(record['Data'])))
            doc['kinesis'] = {'shardId': shard_id, 'sequenceNumber': record['SequenceNumber']}
            s3.put_object(Bucket=bucket, Key=f"enriched/python/{doc['id']}.json", Body=json.dumps(doc).encode('utf-8'),
                          ContentType='application/json')
            labels[doc['sentiment']['label']] = labels.get(doc['sentiment']['label'], 0) + 1
            written += 1
        if response.get('NextShardIterator'):
            iterators[shard_id] = response['NextShardIterator']
        else:
            del iterators[shard_id]  # a closed shard, read to its end
        if not response['Records']:
            time.sleep(0.2)
print(f"python consumer: {written} enriched tweets written to s3://{bucket}/enriched/python/ "
      + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
sys.exit(0 if written >= expected else 1)
