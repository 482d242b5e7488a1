#!/usr/bin/env python3
"""boto3 server-side encryption flow against a Millrace endpoint.

    python3 tests/clients/python/sse_boto3.py <endpoint> <stream-name> <marker> <before> <after>

Creates a 1-shard stream, writes <before> (plaintext), starts encryption with alias/aws/kinesis, writes records whose
data and partition keys contain <marker> with put_record and put_records, reads everything back, stops encryption and
writes <after>. Checks EncryptionType on every response and record and the stream's description at each step.
The C# test then greps the data directory for <marker>.

Prints one JSON line starting with "SUMMARY " and exits 0 only if every check held.
"""

import json
import sys
import traceback

import boto3
import botocore.config


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def main():
    endpoint, stream, marker, before, after = sys.argv[1:6]
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                     config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=20, connect_timeout=5))
    k.create_stream(StreamName=stream, ShardCount=1)
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    put = k.put_record(StreamName=stream, PartitionKey=before, Data=before.encode())
    check("EncryptionType" not in put or put["EncryptionType"] == "NONE", f"plaintext put said {put.get('EncryptionType')}")

    k.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    summary = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    check(summary["EncryptionType"] == "KMS", f"summary EncryptionType {summary['EncryptionType']}")
    check(summary.get("KeyId") == "alias/aws/kinesis", f"summary KeyId {summary.get('KeyId')}")
    check(summary["StreamStatus"] == "ACTIVE", f"status {summary['StreamStatus']}")
    described = k.describe_stream(StreamName=stream)["StreamDescription"]
    check(described["EncryptionType"] == "KMS" and described.get("KeyId") == "alias/aws/kinesis", "describe_stream encryption")

    expected = {before: (before, "NONE")}
    put = k.put_record(StreamName=stream, PartitionKey=f"{marker}-pk-single", Data=f"{marker}-data-single".encode())
    check(put.get("EncryptionType") == "KMS", f"put_record EncryptionType {put.get('EncryptionType')}")
    expected[f"{marker}-pk-single"] = (f"{marker}-data-single", "KMS")
    entries = [{"PartitionKey": f"{marker}-pk-{i}", "Data": (f"{marker}-data-{i}-" + "d" * (100 * i)).encode()} for i in range(5)]
    batch = k.put_records(StreamName=stream, Records=entries)
    check(batch["FailedRecordCount"] == 0, f"put_records failed {batch['FailedRecordCount']}")
    check(batch.get("EncryptionType") == "KMS", f"put_records EncryptionType {batch.get('EncryptionType')}")
    for e in entries:
        expected[e["PartitionKey"]] = (e["Data"].decode(), "KMS")

    iterator = k.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = k.get_records(ShardIterator=iterator)["Records"]
    got = {r["PartitionKey"]: (r["Data"].decode(), r.get("EncryptionType")) for r in records}
    check(got == expected, f"read back {got} != {expected}")
    check([r["PartitionKey"] for r in records] == list(expected), "records out of order")

    k.stop_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    summary = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    check(summary["EncryptionType"] == "NONE" and "KeyId" not in summary, f"after stop: {summary}")
    put = k.put_record(StreamName=stream, PartitionKey=after, Data=after.encode())
    check("EncryptionType" not in put or put["EncryptionType"] == "NONE", f"put after stop said {put.get('EncryptionType')}")

    print("SUMMARY " + json.dumps({"ok": True, "records": len(expected) + 1}))


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - report everything to the C# test
        traceback.print_exc()
        print("SUMMARY " + json.dumps({"ok": False}))
        sys.exit(1)
