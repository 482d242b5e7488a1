#!/usr/bin/env python3
"""boto3 against a Millrace started with --enforce-limits and small per-shard figures.

    python3 tests/clients/python/kinesis_limits_boto3.py <endpoint> <stream-name> <write-records-per-sec> <write-bytes-per-sec>

Retries are off, so what boto3 sees is what the server answered: put_records partial failure (FailedRecordCount,
per-entry ErrorCode/ErrorMessage), put_record and get_records raising the modeled
ProvisionedThroughputExceededException, describe_stream raising LimitExceededException. Prints one
"SUMMARY {json}" line and exits 0 only if every check held.
"""

import concurrent.futures
import json
import sys
import time

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, stream, per_second, bytes_per_second = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = boto3.client(
    "kinesis",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="local",
    aws_secret_access_key="local",
    config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=50),
)
summary = {"ok": False}


def create():
    for _ in range(50):
        try:
            client.create_stream(StreamName=stream, ShardCount=1)
            return
        except client.exceptions.LimitExceededException:
            time.sleep(0.1)
    raise SystemExit("create_stream kept failing")


create()
put = client.put_records(StreamName=stream, Records=[{"PartitionKey": "k", "Data": b"x"} for _ in range(4 * per_second)])
failed = [r for r in put["Records"] if "ErrorCode" in r]
summary["failed_record_count"] = put["FailedRecordCount"]
summary["failed_entries"] = len(failed)
summary["entry_codes"] = sorted({r["ErrorCode"] for r in failed})
summary["entry_message"] = failed[0]["ErrorMessage"] if failed else None

try:
    # Half the byte budget per call: over it after a few calls unless every call takes half a second.
    for _ in range(60):
        client.put_record(StreamName=stream, PartitionKey="k", Data=bytes(bytes_per_second // 2))
    summary["put_record"] = "not throttled"
except client.exceptions.ProvisionedThroughputExceededException as e:
    summary["put_record"] = e.response["Error"]["Code"]
    summary["put_record_status"] = e.response["ResponseMetadata"]["HTTPStatusCode"]

iterator = client.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]


def first_error(calls, call):
    """Runs the calls at once (boto3 clients are thread-safe) and returns the first ClientError, or None.
    A loaded machine may spread one burst over more than a second, so up to five bursts are tried."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=calls) as pool:
        for _ in range(5):
            futures = [pool.submit(call) for _ in range(calls)]
            errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                return errors[0]
    return None


error = first_error(12, lambda: client.get_records(ShardIterator=iterator, Limit=1))
summary["get_records"] = error.response["Error"]["Code"] if isinstance(error, ClientError) else repr(error)

error = first_error(40, lambda: client.describe_stream(StreamName=stream))
summary["describe_stream"] = error.response["Error"]["Code"] if isinstance(error, ClientError) else repr(error)
summary["describe_stream_message"] = error.response["Error"]["Message"] if isinstance(error, ClientError) else None

summary["ok"] = True
print("SUMMARY " + json.dumps(summary))
