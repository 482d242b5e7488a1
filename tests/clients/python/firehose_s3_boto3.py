"""Firehose delivery to S3 with boto3: key layout, prefixes, compression, processors, dynamic partitioning, error output, backup.

Usage: firehose_s3_boto3.py <endpoint> <name prefix> <download directory>
Compressed objects are also saved under <download directory>/<format>/ for the calling test to open with the standard tools.
"""
import base64
import gzip
import io
import json
import os
import re
import sys
import time
import zipfile

import boto3

from acceptance import check, err, finish

endpoint, prefix, downloads = sys.argv[1], sys.argv[2], sys.argv[3]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
lam = session.client("lambda", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
bucket = f"{prefix}-s3"
s3.create_bucket(Bucket=bucket)
FAST = {"SizeInMBs": 1, "IntervalInSeconds": 1}


def create(name, **config):
    fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dict(
        {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "BufferingHints": FAST}, **config))
    for _ in range(100):
        if fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)


def objects(key_prefix, count=1, timeout=30):
    """Waits until at least count objects exist under key_prefix; returns {key: bytes}."""
    deadline = time.time() + timeout
    found = {}
    while time.time() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
        if len(listed) >= count:
            time.sleep(0.5)  # let a batch written in parts finish
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
            return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
        time.sleep(0.2)
    raise AssertionError(f"{len(found)} objects under {key_prefix} after {timeout} s")


def put(name, records):
    for i in range(0, len(records), 500):
        r = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": d} for d in records[i:i + 500]])
        assert r["FailedPutCount"] == 0, r


def default_key_layout():
    name = f"{prefix}-plain"
    create(name, Prefix="plain/")
    put(name, [b"a\n", b"b\n", b"c\n"])
    got = objects("plain/")
    [(key, body)] = got.items()
    assert body == b"a\nb\nc\n", body
    # plain/YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>
    pattern = r"plain/\d{4}/\d{2}/\d{2}/\d{2}/" + re.escape(name) + r"-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}"
    assert re.fullmatch(pattern, key), key
    utc = time.gmtime()
    assert key.startswith(f"plain/{utc.tm_year:04d}/{utc.tm_mon:02d}/"), key


check("default_key_layout", default_key_layout)


def compression_formats():
    payload = [json.dumps({"n": i, "text": "firehose " * 20}).encode() + b"\n" for i in range(300)]
    expected = b"".join(payload)
    for fmt, ext in [("GZIP", ".gz"), ("ZIP", ".zip"), ("Snappy", ".snappy"), ("HADOOP_SNAPPY", ".snappy")]:
        name = f"{prefix}-{fmt.lower().replace('_', '')}"
        create(name, Prefix=f"compressed/{fmt}/", CompressionFormat=fmt)
        put(name, payload)
        got = objects(f"compressed/{fmt}/")
        assert len(got) == 1, list(got)
        key, body = next(iter(got.items()))
        assert key.endswith(ext), key
        os.makedirs(os.path.join(downloads, fmt), exist_ok=True)
        with open(os.path.join(downloads, fmt, os.path.basename(key)), "wb") as f:
            f.write(body)
        if fmt == "GZIP":
            assert gzip.decompress(body) == expected
        if fmt == "ZIP":
            with zipfile.ZipFile(io.BytesIO(body)) as z:
                [entry] = z.namelist()
                assert z.read(entry) == expected
    with open(os.path.join(downloads, "expected.txt"), "wb") as f:
        f.write(expected)


check("compression_formats", compression_formats)


def custom_prefix_time_zone_and_extension():
    name = f"{prefix}-custom"
    create(name, Prefix="custom/year=!{timestamp:yyyy}/hour=!{timestamp:HH}/!{firehose:random-string}/",
           ErrorOutputPrefix="custom-errors/!{firehose:error-output-type}/", CustomTimeZone="Asia/Tokyo", FileExtension=".jsonl")
    put(name, [b'{"a":1}\n'])
    [key] = objects("custom/").keys()
    tokyo = time.gmtime(time.time() + 9 * 3600)
    assert key.startswith(f"custom/year={tokyo.tm_year:04d}/hour={tokyo.tm_hour:02d}/"), key
    assert re.fullmatch(r"custom/year=\d{4}/hour=\d{2}/[A-Za-z0-9]{11}/.+\.jsonl", key), key


check("custom_prefix_time_zone_and_extension", custom_prefix_time_zone_and_extension)


def dynamic_partitioning_with_jq_and_delimiters():
    name = f"{prefix}-dynamic"
    create(name,
           Prefix="dynamic/customer=!{partitionKeyFromQuery:customer}/year=!{partitionKeyFromQuery:year}/",
           ErrorOutputPrefix="dynamic-errors/!{firehose:error-output-type}/",
           BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 1},
           DynamicPartitioningConfiguration={"Enabled": True},
           ProcessingConfiguration={"Enabled": True, "Processors": [
               {"Type": "RecordDeAggregation", "Parameters": [{"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]},
               {"Type": "MetadataExtraction", "Parameters": [
                   {"ParameterName": "MetadataExtractionQuery", "ParameterValue": '{customer: .customer, year: .ts | strftime("%Y")}'},
                   {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
               {"Type": "AppendDelimiterToRecord", "Parameters": []},
           ]})
    # Two JSON records in one Firehose record (deaggregated), one record per customer otherwise, one unparseable.
    put(name, [b'{"customer":"acme","ts":1700000000,"v":1}{"customer":"zenith","ts":1700000000,"v":2}',
               b'{"customer":"acme","ts":1700000000,"v":3}', b"not json"])
    got = objects("dynamic/", count=2)
    by_prefix = {k.rsplit("/", 1)[0]: v for k, v in got.items()}
    assert by_prefix == {
        "dynamic/customer=acme/year=2023": b'{"customer":"acme","ts":1700000000,"v":1}\n{"customer":"acme","ts":1700000000,"v":3}\n',
        "dynamic/customer=zenith/year=2023": b'{"customer":"zenith","ts":1700000000,"v":2}\n',
    }, by_prefix
    errors = objects("dynamic-errors/")
    [(key, body)] = errors.items()
    record = json.loads(body.splitlines()[0])
    assert base64.b64decode(record["rawData"]) == b"not json", record
    assert {"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData"} <= record.keys(), record
    code = err(lambda: fh.create_delivery_stream(DeliveryStreamName=f"{prefix}-dp-noerr", ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "x/!{partitionKeyFromQuery:a}/",
        "DynamicPartitioningConfiguration": {"Enabled": True}}))
    assert code == ("InvalidArgumentException", 400), code


check("dynamic_partitioning_with_jq_and_delimiters", dynamic_partitioning_with_jq_and_delimiters)


def make_function(fname, code):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("lambda_function.py", code)
    lam.create_function(FunctionName=fname, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/lambda",
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": buffer.getvalue()}, Timeout=3)
    lam.get_waiter("function_active_v2").wait(FunctionName=fname)
    return lam.get_function(FunctionName=fname)["Configuration"]["FunctionArn"]


def lambda_processor(arn, retries="1"):
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": arn}, {"ParameterName": "NumberOfRetries", "ParameterValue": retries},
        {"ParameterName": "BufferSizeInMBs", "ParameterValue": "1"}, {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "1"}]}]}


def lambda_results_and_partition_keys():
    arn = make_function(f"{prefix}-transform", """
import base64, json
def lambda_handler(event, context):
    out = []
    for r in event['records']:
        text = base64.b64decode(r['data']).decode()
        assert r['approximateArrivalTimestamp'] > 0 and event['deliveryStreamArn'].startswith('arn:aws:firehose:')
        if text == 'drop':
            out.append({'recordId': r['recordId'], 'result': 'Dropped'})
        elif text == 'fail':
            out.append({'recordId': r['recordId'], 'result': 'ProcessingFailed', 'data': r['data']})
        else:
            out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(text.upper().encode() + b'\\n').decode(),
                        'metadata': {'partitionKeys': {'kind': text[0]}}})
    return {'records': out}
""")
    name = f"{prefix}-lambda"
    create(name, Prefix="lambda/kind=!{partitionKeyFromLambda:kind}/", ErrorOutputPrefix="lambda-errors/!{firehose:error-output-type}/",
           BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 1},
           DynamicPartitioningConfiguration={"Enabled": True}, ProcessingConfiguration=lambda_processor(arn))
    put(name, [b"apple", b"drop", b"avocado", b"fail", b"banana"])
    got = {k.rsplit("/", 1)[0]: v for k, v in objects("lambda/", count=2).items()}
    assert got == {"lambda/kind=a": b"APPLE\nAVOCADO\n", "lambda/kind=b": b"BANANA\n"}, got
    [(key, body)] = objects("lambda-errors/").items()
    assert key.startswith("lambda-errors/processing-failed/"), key
    record = json.loads(body)
    assert base64.b64decode(record["rawData"]) == b"fail" and record["lambdaArn"] == arn, record


check("lambda_results_and_partition_keys", lambda_results_and_partition_keys)


def lambda_garbage_and_timeout():
    for label, code in [("garbage", "def lambda_handler(event, context):\n    return {'nothing': 'useful'}\n"),
                        ("missing", "def lambda_handler(event, context):\n    return {'records': []}\n"),
                        ("timeout", "import time\ndef lambda_handler(event, context):\n    time.sleep(10)\n")]:
        arn = make_function(f"{prefix}-{label}", code)
        name = f"{prefix}-l-{label}"
        create(name, Prefix=f"l-{label}/", ErrorOutputPrefix=f"l-{label}-errors/!{{firehose:error-output-type}}/",
               ProcessingConfiguration=lambda_processor(arn, retries="1"))
        put(name, [b"one", b"two"])
        [(key, body)] = objects(f"l-{label}-errors/", timeout=60).items()
        assert key.startswith(f"l-{label}-errors/processing-failed/"), key
        lines = [json.loads(line) for line in body.splitlines()]
        assert sorted(base64.b64decode(r["rawData"]) for r in lines) == [b"one", b"two"], lines
        assert all(r["attemptsMade"] == 2 and r["lambdaArn"] == arn and r["errorCode"].startswith("Lambda.") for r in lines), lines
        assert not s3.list_objects_v2(Bucket=bucket, Prefix=f"l-{label}/").get("Contents"), label


check("lambda_garbage_and_timeout", lambda_garbage_and_timeout)


def source_backup():
    arn = make_function(f"{prefix}-upper", """
import base64
def lambda_handler(event, context):
    return {'records': [{'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(base64.b64decode(r['data']).upper()).decode()}
                        for r in event['records']]}
""")
    name = f"{prefix}-backup"
    create(name, Prefix="transformed/", ProcessingConfiguration=lambda_processor(arn), S3BackupMode="Enabled",
           S3BackupConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "source/", "BufferingHints": FAST})
    put(name, [b"x1 ", b"x2 "])
    assert list(objects("transformed/").values()) == [b"X1 X2 "]
    assert list(objects("source/").values()) == [b"x1 x2 "]
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    version = d["VersionId"]
    code = err(lambda: fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=version,
                                             DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"S3BackupMode": "Disabled"}))
    assert code == ("InvalidArgumentException", 400), code


check("source_backup", source_backup)
finish()
