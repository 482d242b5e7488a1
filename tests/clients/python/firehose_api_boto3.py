"""Firehose's API with boto3: every operation, validation and AWS's errors.

Usage: firehose_api_boto3.py <endpoint> <name prefix>
"""
import sys
import time

import boto3

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
kinesis = session.client("kinesis", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
bucket = f"{prefix}-api"
s3.create_bucket(Bucket=bucket)


def s3_config(**extra):
    return dict({"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}, **extra)


def wait_active(name):
    for _ in range(100):
        status = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became ACTIVE")


names = [f"{prefix}-{i}" for i in range(3)]


def create_and_describe():
    arn = fh.create_delivery_stream(
        DeliveryStreamName=names[0],
        ExtendedS3DestinationConfiguration=s3_config(BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60}, CompressionFormat="GZIP"),
        Tags=[{"Key": "team", "Value": "data"}],
    )["DeliveryStreamARN"]
    assert arn == f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{names[0]}", arn
    wait_active(names[0])
    d = fh.describe_delivery_stream(DeliveryStreamName=names[0])["DeliveryStreamDescription"]
    assert d["DeliveryStreamType"] == "DirectPut" and d["VersionId"] == "1", d
    assert d["HasMoreDestinations"] is False and d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED", d
    dest = d["Destinations"][0]
    assert dest["DestinationId"] == "destinationId-000000000001", dest
    ext = dest["ExtendedS3DestinationDescription"]
    assert ext["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60} and ext["CompressionFormat"] == "GZIP", ext
    assert ext["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"} and ext["S3BackupMode"] == "Disabled", ext
    assert dest["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{bucket}", dest
    assert "CreateTimestamp" in d and "Source" in d, d
    assert fh.describe_delivery_stream(DeliveryStreamName=names[0], ExclusiveStartDestinationId="destinationId-000000000001")[
        "DeliveryStreamDescription"]["Destinations"] == []


check("create_and_describe", create_and_describe)


def legacy_s3_destination():
    fh.create_delivery_stream(DeliveryStreamName=names[1], S3DestinationConfiguration=s3_config(Prefix="legacy/"))
    wait_active(names[1])
    dest = fh.describe_delivery_stream(DeliveryStreamName=names[1])["DeliveryStreamDescription"]["Destinations"][0]
    assert dest["S3DestinationDescription"]["Prefix"] == "legacy/", dest
    assert dest["S3DestinationDescription"]["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}, dest


check("legacy_s3_destination", legacy_s3_destination)


def kinesis_source():
    stream = f"{prefix}-source"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    fh.create_delivery_stream(
        DeliveryStreamName=names[2], DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=s3_config())
    wait_active(names[2])
    d = fh.describe_delivery_stream(DeliveryStreamName=names[2])["DeliveryStreamDescription"]
    src = d["Source"]["KinesisStreamSourceDescription"]
    assert src["KinesisStreamARN"] == stream_arn and "DeliveryStartTimestamp" in src, d
    code = err(lambda: fh.put_record(DeliveryStreamName=names[2], Record={"Data": b"x"}))
    assert code == ("InvalidArgumentException", 400), code
    code = err(lambda: fh.create_delivery_stream(
        DeliveryStreamName=f"{prefix}-nosource", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn + "-missing", "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=s3_config()))
    assert code == ("InvalidArgumentException", 400), code


check("kinesis_source", kinesis_source)


def list_with_type_filter_and_paging():
    listed = fh.list_delivery_streams(Limit=10000)
    mine = [n for n in listed["DeliveryStreamNames"] if n.startswith(prefix + "-")]
    assert mine == sorted(names), mine
    page = fh.list_delivery_streams(Limit=1, ExclusiveStartDeliveryStreamName=names[0])
    assert page["DeliveryStreamNames"] == [names[1]] and page["HasMoreDeliveryStreams"] is True, page
    direct = fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource", Limit=10000)["DeliveryStreamNames"]
    assert names[2] in direct and names[0] not in direct, direct


check("list_with_type_filter_and_paging", list_with_type_filter_and_paging)


def put_record_and_batch():
    r = fh.put_record(DeliveryStreamName=names[0], Record={"Data": b"hello\n"})
    assert r["RecordId"] and r["Encrypted"] is False, r
    b = fh.put_record_batch(DeliveryStreamName=names[0], Records=[{"Data": b"%d\n" % i} for i in range(500)])
    assert b["FailedPutCount"] == 0 and len(b["RequestResponses"]) == 500, b["FailedPutCount"]
    ids = {e["RecordId"] for e in b["RequestResponses"]}
    assert len(ids) == 500, len(ids)


check("put_record_and_batch", put_record_and_batch)


def bad_input():
    code = err(lambda: fh.put_record_batch(DeliveryStreamName=names[0], Records=[{"Data": b"x"}] * 501))
    assert code == ("InvalidArgumentException", 400), code
    code = err(lambda: fh.put_record(DeliveryStreamName=names[0], Record={"Data": b"x" * 1_024_001}))
    assert code == ("InvalidArgumentException", 400), code
    big = [{"Data": b"y" * 1_000_000}] * 5
    code = err(lambda: fh.put_record_batch(DeliveryStreamName=names[0], Records=big))
    assert code == ("InvalidArgumentException", 400), code
    code = err(lambda: fh.put_record(DeliveryStreamName=f"{prefix}-missing", Record={"Data": b"x"}))
    assert code == ("ResourceNotFoundException", 400), code
    code = err(lambda: fh.describe_delivery_stream(DeliveryStreamName=f"{prefix}-missing"))
    assert code == ("ResourceNotFoundException", 400), code
    code = err(lambda: fh.create_delivery_stream(DeliveryStreamName=names[0], ExtendedS3DestinationConfiguration=s3_config()))
    assert code == ("ResourceInUseException", 400), code
    code = err(lambda: fh.create_delivery_stream(DeliveryStreamName="bad name!", ExtendedS3DestinationConfiguration=s3_config()))
    assert code == ("InvalidArgumentException", 400), code
    for bad_prefix in ["data/!{timestamp:yyyy}/", "data/!{nope:x}/", "data/!{timestamp:yyyy"]:
        code = err(lambda: fh.create_delivery_stream(
            DeliveryStreamName=f"{prefix}-badprefix", ExtendedS3DestinationConfiguration=s3_config(Prefix=bad_prefix)), bad_prefix)
        assert code == ("InvalidArgumentException", 400), (bad_prefix, code)
    code = err(lambda: fh.create_delivery_stream(
        DeliveryStreamName=f"{prefix}-splunk",
        SplunkDestinationConfiguration={"HECEndpoint": "https://127.0.0.1:8088", "HECEndpointType": "Raw", "HECToken": "t",
                                        "S3Configuration": s3_config()}))
    assert code == ("InvalidArgumentException", 400), code
    code = err(lambda: fh.create_delivery_stream(
        DeliveryStreamName=f"{prefix}-two", ExtendedS3DestinationConfiguration=s3_config(), S3DestinationConfiguration=s3_config()))
    assert code == ("InvalidArgumentException", 400), code
    code = err(lambda: fh.create_delivery_stream(
        DeliveryStreamName=f"{prefix}-hints", ExtendedS3DestinationConfiguration=s3_config(BufferingHints={"SizeInMBs": 129})))
    assert code == ("InvalidArgumentException", 400), code
    assert f"{prefix}-badprefix" not in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]


check("bad_input", bad_input)


def update_destination():
    d = fh.describe_delivery_stream(DeliveryStreamName=names[0])["DeliveryStreamDescription"]
    fh.update_destination(DeliveryStreamName=names[0], CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId="destinationId-000000000001",
                          ExtendedS3DestinationUpdate={"Prefix": "updated/", "BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 30}})
    d2 = fh.describe_delivery_stream(DeliveryStreamName=names[0])["DeliveryStreamDescription"]
    ext = d2["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert d2["VersionId"] == "2" and ext["Prefix"] == "updated/" and ext["CompressionFormat"] == "GZIP", d2
    assert ext["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 30}, ext
    assert "LastUpdateTimestamp" in d2, d2
    code = err(lambda: fh.update_destination(DeliveryStreamName=names[0], CurrentDeliveryStreamVersionId="1",
                                             DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "stale/"}))
    assert code == ("ConcurrentModificationException", 400), code
    code = err(lambda: fh.update_destination(DeliveryStreamName=names[0], CurrentDeliveryStreamVersionId="2",
                                             DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "data/!{timestamp:yyyy}/"}))
    assert code == ("InvalidArgumentException", 400), code


check("update_destination", update_destination)


def encryption():
    fh.start_delivery_stream_encryption(DeliveryStreamName=names[0], DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
    d = fh.describe_delivery_stream(DeliveryStreamName=names[0])["DeliveryStreamDescription"]
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "ENABLED", d["DeliveryStreamEncryptionConfiguration"]
    assert d["DeliveryStreamEncryptionConfiguration"]["KeyType"] == "AWS_OWNED_CMK", d["DeliveryStreamEncryptionConfiguration"]
    assert fh.put_record(DeliveryStreamName=names[0], Record={"Data": b"secret\n"})["Encrypted"] is True
    fh.stop_delivery_stream_encryption(DeliveryStreamName=names[0])
    d = fh.describe_delivery_stream(DeliveryStreamName=names[0])["DeliveryStreamDescription"]
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED", d["DeliveryStreamEncryptionConfiguration"]
    code = err(lambda: fh.start_delivery_stream_encryption(DeliveryStreamName=names[2]))
    assert code == ("InvalidArgumentException", 400), code


check("encryption", encryption)


def tags():
    fh.tag_delivery_stream(DeliveryStreamName=names[0], Tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}])
    t = fh.list_tags_for_delivery_stream(DeliveryStreamName=names[0])
    assert t["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}] and t["HasMoreTags"] is False, t
    page = fh.list_tags_for_delivery_stream(DeliveryStreamName=names[0], Limit=1)
    assert page["Tags"] == [{"Key": "env", "Value": "test"}] and page["HasMoreTags"] is True, page
    after = fh.list_tags_for_delivery_stream(DeliveryStreamName=names[0], ExclusiveStartTagKey="env")
    assert after["Tags"] == [{"Key": "team", "Value": "platform"}], after
    fh.untag_delivery_stream(DeliveryStreamName=names[0], TagKeys=["env"])
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName=names[0])["Tags"] == [{"Key": "team", "Value": "platform"}]
    code = err(lambda: fh.tag_delivery_stream(DeliveryStreamName=names[0], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]))
    assert code == ("LimitExceededException", 400), code


check("tags", tags)


def delete():
    for n in names:
        fh.delete_delivery_stream(DeliveryStreamName=n, AllowForceDelete=True)
    for _ in range(100):
        left = [n for n in fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"] if n in names]
        if not left:
            break
        time.sleep(0.1)
    assert not left, left
    code = err(lambda: fh.delete_delivery_stream(DeliveryStreamName=names[0]))
    assert code == ("ResourceNotFoundException", 400), code


check("delete", delete)
finish()
