"""The tutorial pipeline with boto3: gzip'd JSON records put into a 2-shard stream, a delivery stream reading the stream and
writing to S3; every record is found byte for byte in the delivered objects. Also KPL-aggregated records, which Firehose
deaggregates.

Usage: firehose_tutorial_boto3.py <endpoint> <name prefix>
"""
import gzip
import hashlib
import json
import struct
import sys
import time

import boto3

from acceptance import check, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
kinesis = session.client("kinesis", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
stream, bucket, name = f"{prefix}-stream", f"{prefix}-bucket", f"{prefix}-delivery"


def delivered_bytes():
    out = b""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out += s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def wait_for(records, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = delivered_bytes()
        missing = [r for r in records if r not in data]
        if not missing:
            return data
        time.sleep(0.5)
    raise AssertionError(f"{len(missing)} of {len(records)} records never delivered")


def setup():
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    s3.create_bucket(Bucket=bucket)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    fh.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
                              KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
                              ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "tutorial/",
                                                                  "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    for _ in range(100):
        if fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)


check("setup", setup)


def gzipped_json_records_arrive_byte_for_byte():
    records = []
    for i in range(400):
        event = {"ticker_symbol": ["AMZN", "MSFT", "NFLX", "QXZ"][i % 4], "sector": "TECHNOLOGY", "change": i / 10, "price": 100 + i, "seq": i}
        records.append(gzip.compress(json.dumps(event).encode(), mtime=0) + str(i).encode().rjust(6, b"0"))
    for i in range(0, len(records), 100):
        r = kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": f"pk-{j}"} for j, d in enumerate(records[i:i + 100], i)])
        assert r["FailedRecordCount"] == 0, r
    shards = {e["ShardId"] for e in r["Records"]}
    assert len(shards) == 2, shards
    data = wait_for(records)
    assert len(data) >= sum(len(r) for r in records), len(data)


check("gzipped_json_records_arrive_byte_for_byte", gzipped_json_records_arrive_byte_for_byte)


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def kpl_aggregate(partition_key, users):
    """The KPL's aggregated record: magic, protobuf AggregatedRecord, MD5."""
    body = field(1, partition_key.encode())
    for u in users:
        record = varint(1 << 3 | 0) + varint(0) + field(3, u)
        body += field(3, record)
    return b"\xf3\x89\x9a\xc2" + body + hashlib.md5(body).digest()


def kpl_records_are_deaggregated():
    users = [b"<user-record-%03d>" % i for i in range(20)]
    aggregate = kpl_aggregate("agg-key", users)
    kinesis.put_record(StreamName=stream, Data=aggregate, PartitionKey="agg-key")
    data = wait_for(users)
    assert b"\xf3\x89\x9a\xc2" not in data, "the aggregate envelope was delivered"
    joined = b"".join(users)
    assert joined in data, "user records not contiguous and in order"


check("kpl_records_are_deaggregated", kpl_records_are_deaggregated)
finish()
