"""Firehose record format conversion (JSON to Apache Parquet) with boto3, the schema from a Glue table.

Usage: firehose_parquet_boto3.py <endpoint> <name prefix> <download directory>
Saves the delivered Parquet object as <download directory>/data.parquet and the rows it must hold as expected.json
(one JSON object per row, the values DuckDB should read), for the calling test to open with an independent reader.
"""
import base64
import json
import os
import sys
import time

import boto3

from acceptance import check, err, finish

endpoint, prefix, downloads = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
glue = session.client("glue", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
bucket = f"{prefix}-parquet"
database = f"{prefix}_lake"
s3.create_bucket(Bucket=bucket)
glue.create_database(DatabaseInput={"Name": database})
glue.create_table(DatabaseName=database, TableInput={
    "Name": "ticks",
    "StorageDescriptor": {
        "Columns": [
            {"Name": "ticker_symbol", "Type": "string"},
            {"Name": "sector", "Type": "string"},
            {"Name": "price", "Type": "double"},
            {"Name": "volume", "Type": "bigint"},
            {"Name": "tags", "Type": "array<string>"},
            {"Name": "quote", "Type": "struct<bid:double,ask:double>"},
            {"Name": "event_time", "Type": "timestamp"},
        ],
        "Location": f"s3://{bucket}/parquet/",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    },
})


def conversion(table="ticks", serializer=None, deserializer=None):
    return {
        "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": database, "TableName": table, "Region": "us-east-1", "VersionId": "LATEST"},
        "InputFormatConfiguration": {"Deserializer": deserializer or {"OpenXJsonSerDe": {}}},
        "OutputFormatConfiguration": {"Serializer": serializer or {"ParquetSerDe": {"Compression": "SNAPPY"}}},
        "Enabled": True,
    }


def create(name, fail_code=None, **config):
    call = lambda: fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dict(  # noqa: E731
        {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1}}, **config))
    if fail_code:
        code = err(call, name)
        assert code == (fail_code, 400), code
        return
    call()
    for _ in range(100):
        if fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)


def objects(key_prefix, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
        if listed:
            time.sleep(0.5)
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
            return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
        time.sleep(0.2)
    raise AssertionError(f"no objects under {key_prefix} after {timeout} s")


def creation_rules():
    create(f"{prefix}-orc", "InvalidArgumentException", DataFormatConversionConfiguration=conversion(serializer={"OrcSerDe": {}}))
    create(f"{prefix}-gz", "InvalidArgumentException", CompressionFormat="GZIP", DataFormatConversionConfiguration=conversion())
    create(f"{prefix}-small", "InvalidArgumentException", BufferingHints={"SizeInMBs": 63, "IntervalInSeconds": 1},
           DataFormatConversionConfiguration=conversion())
    create(f"{prefix}-two", "InvalidArgumentException",
           DataFormatConversionConfiguration=conversion(deserializer={"OpenXJsonSerDe": {}, "HiveJsonSerDe": {}}))
    # Disabled: the configuration is kept but records are delivered as they are.
    name = f"{prefix}-off"
    create(name, Prefix="off/", DataFormatConversionConfiguration=dict(conversion(), Enabled=False))
    fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"ticker_symbol":"A"}\n'})
    assert list(objects("off/").values()) == [b'{"ticker_symbol":"A"}\n']
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert d["DataFormatConversionConfiguration"]["Enabled"] is False, d


check("creation_rules", creation_rules)


def parquet_delivery_and_errors():
    name = f"{prefix}-ticks"
    create(name, Prefix="parquet/", ErrorOutputPrefix="errors/!{firehose:error-output-type}/", FileExtension=".parquet",
           DataFormatConversionConfiguration=conversion())
    d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert d["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] == "ticks", d
    assert d["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 1}, d
    good, expected = [], []
    for i in range(200):
        record = {"TICKER_SYMBOL": f"T{i % 7}", "sector": "TECH" if i % 2 else None, "price": i + 0.25, "volume": i,
                  "tags": [f"t{i}", "x"] if i % 3 else [], "quote": {"bid": i - 0.5, "ask": i + 0.5},
                  "event_time": f"2026-12-07 10:{i // 60:02d}:{i % 60:02d}.000", "ignored": True}
        good.append(json.dumps(record).encode() + b"\n")
        expected.append({"ticker_symbol": record["TICKER_SYMBOL"], "sector": record["sector"], "price": record["price"], "volume": i,
                         "tags": record["tags"], "bid": i - 0.5, "event_time": record["event_time"][:19]})
    bad = [b"not json at all", b'{"volume": "many"}']
    for i in range(0, 200, 100):
        r = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": x} for x in good[i:i + 100]])
        assert r["FailedPutCount"] == 0, r
    assert fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": x} for x in bad])["FailedPutCount"] == 0

    data = objects("parquet/")
    assert len(data) == 1, list(data)
    key, body = next(iter(data.items()))
    assert key.endswith(".parquet") and body[:4] == b"PAR1" and body[-4:] == b"PAR1", key
    with open(os.path.join(downloads, "data.parquet"), "wb") as f:
        f.write(body)
    with open(os.path.join(downloads, "expected.json"), "w") as f:
        json.dump(expected, f)

    errors = objects("errors/format-conversion-failed/")
    lines = [json.loads(line) for body in errors.values() for line in body.decode().splitlines()]
    assert sorted(base64.b64decode(e["rawData"]) for e in lines) == sorted(bad), lines
    for e in lines:
        assert e["lastErrorCode"] == "DataFormatConversion.MalformedData", e
        assert e["attemptsMade"] >= 1 and e["arrivalTimestamp"] > 0 and e["attemptEndingTimestamp"] >= e["arrivalTimestamp"], e
        assert isinstance(e["sequenceNumber"], str) and e["subSequenceNumber"] == 0, e
        table = e["dataCatalogTable"]
        assert (table["databaseName"], table["tableName"], table["region"]) == (database, "ticks", "us-east-1"), table
        assert table["catalogArn"] == "arn:aws:glue:us-east-1:000000000000:catalog" and table["versionId"] == "1", table


check("parquet_delivery_and_errors", parquet_delivery_and_errors)


def missing_table():
    name = f"{prefix}-missing"
    create(name, Prefix="missing/", ErrorOutputPrefix="missing-errors/", DataFormatConversionConfiguration=conversion(table="nope"))
    fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"volume": 1}'})
    lines = [json.loads(line) for body in objects("missing-errors/").values() for line in body.decode().splitlines()]
    assert [e["lastErrorCode"] for e in lines] == ["DataFormatConversion.EntityNotFound"], lines
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="missing/").get("Contents")


check("missing_table", missing_table)
finish()
