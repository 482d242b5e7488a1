"""boto3 Lambda acceptance: Python functions from zips, Invoke (RequestResponse, Event, DryRun, Tail logs), function
errors, timeouts and crashes, versions and aliases, permissions, reserved concurrency, paging, AWS's errors, and the
functions' CloudWatch log groups. Function code calls Millrace's Kinesis and S3 through boto3 unchanged.

Usage: python3 lambda_boto3.py ENDPOINT PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import base64
import io
import json
import sys
import time
import zipfile

import boto3
from botocore.config import Config

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
cfg = Config(retries={"max_attempts": 1}, read_timeout=120)
lam = boto3.client("lambda", endpoint_url=endpoint, config=cfg)
logs = boto3.client("logs", endpoint_url=endpoint, config=cfg)
kinesis = boto3.client("kinesis", endpoint_url=endpoint, config=cfg)
s3 = boto3.client("s3", endpoint_url=endpoint, config=cfg)
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
stream = f"{prefix}-stream"
bucket = f"{prefix}-bucket"

# A producer in the tutorial's shape: reads an S3 object and puts its text into a stream, with the SDK's defaults.
PRODUCER = '''
import boto3, json, os
s3 = boto3.client("s3")
kinesis = boto3.client("kinesis")

def handler(event, context):
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode()
    out = kinesis.put_record(StreamName=event["stream"], Data=body.encode(), PartitionKey=event["key"])
    print("put", event["key"], "as", out["SequenceNumber"])
    return {"shard": out["ShardId"], "sequence": out["SequenceNumber"], "function": context.function_name,
            "version": context.function_version, "memory": context.memory_limit_in_mb,
            "group": context.log_group_name, "remaining": context.get_remaining_time_in_millis(),
            "region": os.environ["AWS_REGION"], "handler": os.environ["_HANDLER"], "custom": os.environ.get("GREETING")}
'''

BEHAVIOURS = '''
import json, os, sys, time
def handler(event, context):
    action = event.get("action")
    print("action", action)
    if action == "fail":
        raise KeyError("no such thing")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        sys.stdout.flush()
        os._exit(3)
    if action == "echo":
        return event
    return {"version": context.function_version, "marker": MARKER}
'''


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buffer.getvalue()


def create(name, code, handler="app.handler", runtime="python3.11", **kw):
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Code={"ZipFile": code}, **kw)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def invoke(name, payload, **kw):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kw)
    body = out["Payload"].read()
    return out, (json.loads(body) if body else None)


def producer():
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/hello.txt", Body=b"hello from s3")
    name = f"{prefix}-producer"
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Timeout=30,
                                  Code={"ZipFile": zip_of({"app.py": PRODUCER})}, Environment={"Variables": {"GREETING": "hi"}})
    assert created["State"] == "Pending" and created["Version"] == "$LATEST", created
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert lam.get_function_configuration(FunctionName=name)["State"] == "Active"
    out, result = invoke(name, {"bucket": bucket, "key": "notes/hello.txt", "stream": stream}, LogType="Tail")
    assert out["StatusCode"] == 200 and "FunctionError" not in out, (out, result)
    assert out["ExecutedVersion"] == "$LATEST"
    assert result["function"] == name and result["version"] == "$LATEST" and result["memory"] == "128", result
    assert result["group"] == f"/aws/lambda/{name}" and result["region"] == "us-east-1" and result["custom"] == "hi", result
    assert 0 < result["remaining"] <= 30_000, result
    tail = base64.b64decode(out["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "put notes/hello.txt as" in tail and "\nREPORT RequestId: " in tail, tail
    assert "Init Duration:" in tail and "Max Memory Used:" in tail, tail
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=result["shard"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["Data"] for r in records] == [b"hello from s3"], records
    # The second invocation reuses the warm environment: no Init Duration.
    out, _ = invoke(name, {"bucket": bucket, "key": "notes/hello.txt", "stream": stream}, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(out["LogResult"]).decode()


def errors_timeouts_crashes():
    name = f"{prefix}-behaviours"
    create(name, zip_of({"app.py": BEHAVIOURS.replace("MARKER", "'v1'")}), Timeout=2)
    out, body = invoke(name, {"action": "fail"})
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled", out
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'no such thing'", body
    assert any("raise KeyError" in frame for frame in body["stackTrace"]), body
    assert not any("bootstrap" in frame for frame in body["stackTrace"]), body
    out, body = invoke(name, {"action": "sleep", "seconds": 5})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout", body
    assert body["errorMessage"].endswith("Task timed out after 2.00 seconds"), body
    out, body = invoke(name, {"action": "exit"})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError", body
    assert "exit status 3" in body["errorMessage"], body
    # A fresh environment takes over after each of those.
    out, body = invoke(name, {"action": "echo", "n": 1})
    assert "FunctionError" not in out and body == {"action": "echo", "n": 1}, (out, body)
    bad = {"errorType": "ValueError"}
    code, status = err(lambda: lam.invoke(FunctionName=name, Payload=b"{not json"))
    assert (code, status) == ("InvalidRequestContentException", 400), (code, status, bad)
    code = err(lambda: lam.invoke(FunctionName=name, Payload=json.dumps({"x": "y" * (7 * 1024 * 1024)}).encode()))
    assert code == ("RequestTooLargeException", 413), code


def invocation_types():
    name = f"{prefix}-async"
    writer = '''
import boto3
def handler(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=b"written asynchronously")
    return "done"
'''
    create(name, zip_of({"app.py": writer}), Timeout=30)
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204, dry
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket, "key": "async/out.txt"}).encode())
    assert out["StatusCode"] == 202, out
    for _ in range(100):
        try:
            body = s3.get_object(Bucket=bucket, Key="async/out.txt")["Body"].read()
            assert body == b"written asynchronously", body
            return
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    raise AssertionError("the asynchronous invocation never wrote its object")


def versions_and_aliases():
    name = f"{prefix}-versions"
    create(name, zip_of({"app.py": BEHAVIOURS.replace("MARKER", "'v1'")}))
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f":function:{name}:1"), v1
    assert lam.publish_version(FunctionName=name)["Version"] == "1", "publishing an unchanged $LATEST answers the same version"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f":function:{name}:live"), alias
    assert err(lambda: lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")) == ("ResourceConflictException", 409)
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": BEHAVIOURS.replace("MARKER", "'v2'")}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    out, body = invoke(name, {})
    assert body == {"version": "$LATEST", "marker": "v2"} and out["ExecutedVersion"] == "$LATEST", body
    out, body = invoke(name, {}, Qualifier="live")
    assert body == {"version": "1", "marker": "v1"} and out["ExecutedVersion"] == "1", (out, body)
    _, body = invoke(f"arn:aws:lambda:us-east-1:000000000000:function:{name}:1", {})
    assert body["marker"] == "v1", body
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2", v2
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    _, body = invoke(name, {}, Qualifier="live")
    assert body == {"version": "2", "marker": "v2"}, body
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"], versions
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    assert err(lambda: invoke(name, {}, Qualifier="nope")) == ("ResourceNotFoundException", 404)
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]


def permissions_concurrency_tags():
    name = f"{prefix}-policy"
    create(name, zip_of({"app.py": BEHAVIOURS.replace("MARKER", "'p'")}), Tags={"team": "streams"})
    assert err(lambda: lam.get_policy(FunctionName=name)) == ("ResourceNotFoundException", 404)
    statement = json.loads(lam.add_permission(FunctionName=name, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                                              Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Sid"] == "s3-invoke", statement
    assert err(lambda: lam.add_permission(FunctionName=name, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                                          Principal="s3.amazonaws.com")) == ("ResourceConflictException", 409)
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"], policy
    lam.remove_permission(FunctionName=name, StatementId="s3-invoke")
    assert err(lambda: lam.remove_permission(FunctionName=name, StatementId="s3-invoke")) == ("ResourceNotFoundException", 404)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    assert err(lambda: invoke(name, {})) == ("TooManyRequestsException", 429)
    lam.delete_function_concurrency(FunctionName=name)
    _, body = invoke(name, {})
    assert body["marker"] == "p", body
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"env": "ci"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "streams", "env": "ci"}
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.get_function(FunctionName=name)["Tags"] == {"env": "ci"}


def listing_and_errors():
    for i in range(5):
        lam.create_function(FunctionName=f"{prefix}-list-{i}", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_of({"app.py": BEHAVIOURS})})
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
             for f in page["Functions"] if f["FunctionName"].startswith(f"{prefix}-list-")]
    assert names == [f"{prefix}-list-{i}" for i in range(5)], names
    code = zip_of({"app.py": BEHAVIOURS})
    assert err(lambda: lam.create_function(FunctionName=f"{prefix}-list-0", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                           Code={"ZipFile": code})) == ("ResourceConflictException", 409)
    assert err(lambda: lam.get_function(FunctionName=f"{prefix}-none")) == ("ResourceNotFoundException", 404)
    assert err(lambda: lam.create_function(FunctionName=f"{prefix}-bad-env", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                           Code={"ZipFile": code}, Environment={"Variables": {"AWS_REGION": "x"}})) == ("InvalidParameterValueException", 400)
    assert err(lambda: lam.create_function(FunctionName=f"{prefix}-bad-zip", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                           Code={"ZipFile": b"not a zip"})) == ("InvalidParameterValueException", 400)
    assert err(lambda: lam.create_function(FunctionName=f"{prefix}-bad-timeout", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                           Code={"ZipFile": code}, Timeout=901)) == ("ValidationException", 400)
    lam.delete_function(FunctionName=f"{prefix}-list-4")
    assert err(lambda: lam.delete_function(FunctionName=f"{prefix}-list-4")) == ("ResourceNotFoundException", 404)


def s3_notifications():
    source = f"{prefix}-uploads"
    sink = f"{prefix}-events"
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=sink)
    recorder = '''
import boto3, json, os, urllib.parse
def handler(event, context):
    record = event["Records"][0]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    boto3.client("s3").put_object(Bucket=os.environ["SINK"], Key=record["eventName"] + "/" + key, Body=json.dumps(event).encode())
'''
    name = f"{prefix}-recorder"
    create(name, zip_of({"app.py": recorder}), Timeout=30, Environment={"Variables": {"SINK": sink}})
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(Bucket=source, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}},
        {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
    put = s3.put_object(Bucket=source, Key="in/a b+c.txt", Body=b"twelve bytes")
    s3.put_object(Bucket=source, Key="out/ignored.txt", Body=b"x")
    s3.copy_object(Bucket=source, Key="in/copy.txt", CopySource={"Bucket": source, "Key": "in/a b+c.txt"})
    s3.delete_object(Bucket=source, Key="out/ignored.txt")

    def recorded(key):
        try:
            return json.loads(s3.get_object(Bucket=sink, Key=key)["Body"].read())["Records"][0]
        except s3.exceptions.NoSuchKey:
            return None

    for key in ["ObjectCreated:Put/in/a b+c.txt", "ObjectCreated:Copy/in/copy.txt", "ObjectRemoved:Delete/out/ignored.txt"]:
        deadline = time.time() + 30
        while recorded(key) is None and time.time() < deadline:
            time.sleep(0.2)
        assert recorded(key) is not None, f"no notification for {key}"
    event = recorded("ObjectCreated:Put/in/a b+c.txt")
    assert event["eventVersion"] == "2.1" and event["eventSource"] == "aws:s3" and event["awsRegion"] == "us-east-1", event
    assert event["s3"]["bucket"]["name"] == source and event["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{source}", event
    obj = event["s3"]["object"]
    assert obj["key"] == "in/a+b%2Bc.txt" and obj["size"] == 12 and obj["eTag"] == put["ETag"].strip('"'), obj
    assert event["s3"]["configurationId"] == "created" and len(obj["sequencer"]) == 16, event
    removed = recorded("ObjectRemoved:Delete/out/ignored.txt")
    assert removed["s3"]["configurationId"] == "removed" and "size" not in removed["s3"]["object"], removed
    assert recorded("ObjectCreated:Put/out/ignored.txt") is None, "the prefix filter let out/ignored.txt through"


def log_groups():
    name = f"{prefix}-behaviours"
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and all("/[$LATEST]" in s["logStreamName"] for s in streams), streams
    events = logs.filter_log_events(logGroupName=group, filterPattern='"Task timed out"')["events"]
    assert len(events) == 1 and events[0]["message"].endswith("Task timed out after 2.00 seconds"), events
    reports = logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
    assert len(reports) >= 4 and all("Billed Duration" in e["message"] for e in reports), reports
    errors = logs.filter_log_events(logGroupName=group, filterPattern='"[ERROR] KeyError"')["events"]
    assert len(errors) == 1 and "Traceback (most recent call last):\n" in errors[0]["message"], errors


for name, fn in [("producer", producer), ("errors_timeouts_crashes", errors_timeouts_crashes), ("invocation_types", invocation_types),
                 ("versions_and_aliases", versions_and_aliases), ("permissions_concurrency_tags", permissions_concurrency_tags),
                 ("listing_and_errors", listing_and_errors), ("s3_notifications", s3_notifications), ("log_groups", log_groups)]:
    check(name, fn)

finish()
