"""Firehose's Redshift destination with boto3, a PostgreSQL database standing in for the cluster.

Usage: firehose_redshift_boto3.py <endpoint> <name prefix> <jdbc url> <username>
The calling test created table <prefix>_events (id int, name text, amount numeric) and checks its rows afterwards;
this script puts the records, checks the staged S3 objects and that a COPY into a missing table ends in errors/manifests/.
"""
import json
import sys
import time

import boto3

from acceptance import check, finish

endpoint, prefix, jdbc, username = sys.argv[1:5]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
bucket = f"{prefix}-redshift"
s3.create_bucket(Bucket=bucket)


def create(name, table, retry_seconds):
    fh.create_delivery_stream(DeliveryStreamName=name, RedshiftDestinationConfiguration={
        "RoleARN": ROLE, "ClusterJDBCURL": jdbc, "Username": username, "Password": "unused",
        "CopyCommand": {"DataTableName": table, "DataTableColumns": "id,name,amount", "CopyOptions": "JSON 'auto' GZIP"},
        "RetryOptions": {"DurationInSeconds": retry_seconds},
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": f"{name}/", "CompressionFormat": "GZIP",
                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}},
    })


def keys(key_prefix):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])]


def wait_for(key_prefix, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = keys(key_prefix)
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"nothing under {key_prefix}")


def load_into_table():
    name = f"{prefix}-load"
    create(name, f"{prefix}_events", retry_seconds=60)
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["RedshiftDestinationDescription"]
    assert "Password" not in d and d["ClusterJDBCURL"] == jdbc and d["CopyCommand"]["DataTableName"] == f"{prefix}_events", d
    records = [json.dumps({"id": i, "name": f"item {i}", "amount": i * 1.5, "ignored": True}).encode() + b"\n" for i in range(50)]
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    staged = wait_for(f"{name}/")
    assert staged[0].endswith(".gz"), staged


check("load_into_table", load_into_table)


def missing_table_ends_in_error_manifest():
    name = f"{prefix}-missing"
    create(name, f"{prefix}_no_such_table", retry_seconds=2)
    fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"id": 1, "name": "x", "amount": 1}\n'})
    [manifest_key] = wait_for(f"{name}/errors/manifests/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    [entry] = manifest["entries"]
    assert entry["url"].startswith(f"s3://{bucket}/{name}/") and entry["mandatory"] is True, manifest
    assert manifest["errorCode"] == "Redshift.TableNotFound", manifest


check("missing_table_ends_in_error_manifest", missing_table_ends_in_error_manifest)
finish()
