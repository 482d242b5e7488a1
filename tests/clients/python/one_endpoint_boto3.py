"""One endpoint: Kinesis, DynamoDB and S3 on the port in AWS_ENDPOINT_URL, with no endpoint_url arguments.

Usage: AWS_ENDPOINT_URL=http://127.0.0.1:PORT python3 one_endpoint_boto3.py NAME
Prints one line `SUMMARY {json}` on success; any failed check raises (non-zero exit).
"""
import hashlib
import json
import os
import sys
import time

import boto3
from botocore.config import Config

name = sys.argv[1]
assert os.environ.get("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL must be set"
cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=60)
summary = {"endpoint": os.environ["AWS_ENDPOINT_URL"], "boto3": boto3.__version__}

# Kinesis
kinesis = boto3.client("kinesis", config=cfg)
summary["kinesis_endpoint"] = kinesis.meta.endpoint_url
kinesis.create_stream(StreamName=name, ShardCount=1)
for _ in range(100):
    if kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
        break
    time.sleep(0.1)
sent = [f"record-{i}".encode() for i in range(5)]
for data in sent:
    kinesis.put_record(StreamName=name, Data=data, PartitionKey="pk")
shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = []
for _ in range(20):
    r = kinesis.get_records(ShardIterator=it, Limit=100)
    got += [x["Data"] for x in r["Records"]]
    it = r["NextShardIterator"]
    if len(got) >= len(sent):
        break
assert got == sent, got
summary["kinesis_records"] = len(got)

# DynamoDB
ddb = boto3.client("dynamodb", config=cfg)
summary["dynamodb_endpoint"] = ddb.meta.endpoint_url
ddb.create_table(
    TableName=name,
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    BillingMode="PAY_PER_REQUEST",
)
for _ in range(100):
    if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
        break
    time.sleep(0.1)
ddb.put_item(TableName=name, Item={"pk": {"S": "k1"}, "v": {"N": "42"}, "s": {"S": "héllo"}})
item = ddb.get_item(TableName=name, Key={"pk": {"S": "k1"}}, ConsistentRead=True)["Item"]
assert item == {"pk": {"S": "k1"}, "v": {"N": "42"}, "s": {"S": "héllo"}}, item
summary["dynamodb_item"] = True

# S3, path style (boto3's choice for an IP-address endpoint) and explicitly requested path style.
for style in ("auto", "path"):
    s3 = boto3.client("s3", config=cfg.merge(Config(s3={"addressing_style": style})))
    summary["s3_endpoint"] = s3.meta.endpoint_url
    bucket = f"{name}-{style}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="dir/obj.bin", Body=body, ContentType="application/x-test")
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"', put["ETag"]
    obj = s3.get_object(Bucket=bucket, Key="dir/obj.bin")
    data = obj["Body"].read()
    assert data == body
    assert obj["ContentType"] == "application/x-test", obj["ContentType"]
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in buckets, buckets
    summary[f"s3_{style}"] = hashlib.sha256(data).hexdigest() == hashlib.sha256(body).hexdigest()

summary["ok"] = True
print("SUMMARY " + json.dumps(summary))
