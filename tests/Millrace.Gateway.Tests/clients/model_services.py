"""Real boto3 calls against the model-driven test services. Usage: model_services.py <endpoint> <scenario> [protocol].

Prints one JSON document with what the calls returned (datetimes as ISO text, bytes as text) or the error code and
message. The optional protocol forces CloudWatch onto query, json or smithy-rpc-v2-cbor by loading a copy of
botocore's model that lists only that protocol (AWS_DATA_PATH), so each wire format is exercised by botocore's own
serializers and parsers.
"""

import datetime
import gzip
import json
import os
import sys
import tempfile

endpoint, scenario = sys.argv[1], sys.argv[2]
protocol = sys.argv[3] if len(sys.argv) > 3 else None

if protocol:
    import botocore

    source = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01", "service-2.json.gz")
    with gzip.open(source, "rt", encoding="utf-8") as f:
        model = json.load(f)
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    root = tempfile.mkdtemp(prefix="millrace-models-")
    os.makedirs(os.path.join(root, "cloudwatch", "2010-08-01"))
    with open(os.path.join(root, "cloudwatch", "2010-08-01", "service-2.json"), "w", encoding="utf-8") as f:
        json.dump(model, f)
    os.environ["AWS_DATA_PATH"] = root

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

config = Config(parameter_validation=False, retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(name):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1", config=config)


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "read"):
        return value.read().decode("utf-8")
    return value


def call(fn, **kwargs):
    try:
        response = fn(**kwargs)
        return {"ok": plain(response), "status": response["ResponseMetadata"]["HTTPStatusCode"],
                "requestId": response["ResponseMetadata"].get("RequestId")}
    except ClientError as e:
        return {"error": e.response["Error"].get("Code"), "message": e.response["Error"].get("Message"),
                "type": e.response["Error"].get("Type"), "status": e.response["ResponseMetadata"].get("HTTPStatusCode")}


results = {}
if scenario == "sts":
    sts = client("sts")
    results["identity"] = call(sts.get_caller_identity)
    results["assumeRole"] = call(sts.assume_role, RoleArn="arn:aws:iam::123456789012:role/demo", RoleSessionName="session-1",
                                 DurationSeconds=900)
    results["invalid"] = call(sts.assume_role, RoleArn="arn", RoleSessionName="s")
    results["missing"] = call(sts.assume_role, RoleArn="arn:aws:iam::123456789012:role/demo")
    results["unimplemented"] = call(sts.get_session_token)
elif scenario == "cloudwatch":
    cw = client("cloudwatch")
    t = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    results["put"] = call(cw.put_metric_data, Namespace="Millrace/Test", MetricData=[
        {"MetricName": "Latency", "Dimensions": [{"Name": "Stream", "Value": "a"}, {"Name": "Shard", "Value": "0"}],
         "Timestamp": t, "Value": 12.5, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Stream", "Value": "a"}, {"Name": "Shard", "Value": "0"}],
         "Timestamp": t, "Value": 7.5, "Unit": "Milliseconds"},
        {"MetricName": "Count", "Value": 3, "Timestamp": t},
    ])
    results["list"] = call(cw.list_metrics, Namespace="Millrace/Test")
    results["filtered"] = call(cw.list_metrics, Namespace="Millrace/Test", Dimensions=[{"Name": "Stream", "Value": "a"}])
    results["stats"] = call(cw.get_metric_statistics, Namespace="Millrace/Test", MetricName="Latency",
                            Dimensions=[{"Name": "Stream", "Value": "a"}, {"Name": "Shard", "Value": "0"}],
                            StartTime=t - datetime.timedelta(hours=1), EndTime=t + datetime.timedelta(hours=1), Period=60,
                            Statistics=["Average", "Sum", "SampleCount", "Maximum"])
    results["invalid"] = call(cw.put_metric_data, Namespace=":bad", MetricData=[{"Value": 1.0, "Unit": "Parsecs"}])
    results["handlerError"] = call(cw.get_metric_statistics, Namespace="Millrace/Test", MetricName="Latency", StartTime=t,
                                   EndTime=t - datetime.timedelta(hours=1), Period=60, Statistics=["Average"])
    results["unimplemented"] = call(cw.describe_alarms)
elif scenario == "lambda":
    lam = client("lambda")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    results["get"] = call(lam.get_function, FunctionName="echo")
    results["missing"] = call(lam.get_function, FunctionName="nope")
    results["invoke"] = call(lam.invoke, FunctionName="echo", Payload=b'{"hello":"world"}', LogType="Tail")
    results["invokeAsync"] = call(lam.invoke, FunctionName="echo", InvocationType="Event", Payload=b"{}")
    results["tag"] = call(lam.tag_resource, Resource=arn, Tags={"team": "streams", "env": "test"})
    results["tags"] = call(lam.list_tags, Resource=arn)
    results["invalid"] = call(lam.get_function, FunctionName="bad name!")
elif scenario == "s3":
    s3 = client("s3")
    results["putTagging"] = call(s3.put_bucket_tagging, Bucket="bucket-1",
                                 Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]})
    results["getTagging"] = call(s3.get_bucket_tagging, Bucket="bucket-1")
    results["list"] = call(s3.list_objects_v2, Bucket="bucket-1", Prefix="logs/")
    results["missing"] = call(s3.get_bucket_tagging, Bucket="other-bucket")
else:
    raise SystemExit(f"unknown scenario {scenario}")

print(json.dumps(results, sort_keys=True))
