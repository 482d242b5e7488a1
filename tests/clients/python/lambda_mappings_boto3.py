"""boto3 Lambda event-source mappings from Kinesis: the tutorial's two consumer functions on one stream, AWS's
event shape, every record delivered in order per shard, ReportBatchItemFailures, bisecting with retries and the
S3 on-failure destination, tumbling windows with their state, a mapping on an enhanced fan-out consumer (records
by SubscribeToShard), MaximumRecordAgeInSeconds, and the mapping API's states and errors.

Usage: python3 lambda_mappings_boto3.py ENDPOINT PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import base64
import calendar
import io
import json
import sys
import threading
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
ROLE = "arn:aws:iam::000000000000:role/lambda-kinesis-role"
bucket = f"{prefix}-out"
s3.create_bucket(Bucket=bucket)

# Each batch is written to S3 as it was received, so the test can check the event and the order.
CONSUMER = '''
import base64, json, os, uuid, boto3
s3 = boto3.client("s3")

def handler(event, context):
    records = event["Records"]
    for record in records:
        print("Decoded payload: " + base64.b64decode(record["kinesis"]["data"]).decode())
    first = records[0]
    key = "%s/%s/%s/%s" % (os.environ["TAG"], first["eventID"].split(":")[0], first["kinesis"]["sequenceNumber"], uuid.uuid4())
    s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(event).encode())
    poison = [r["kinesis"]["sequenceNumber"] for r in records if b"poison" in base64.b64decode(r["kinesis"]["data"])]
    if poison and os.environ.get("MODE") == "report":
        return {"batchItemFailures": [{"itemIdentifier": s} for s in poison]}
    if poison and os.environ.get("MODE") == "raise":
        raise ValueError("poison record in batch")
    return {"batchItemFailures": []}
'''


def zip_of(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("lambda_function.py", text)
    return buffer.getvalue()


def function(name, variables):
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler", Timeout=30,
                        Code={"ZipFile": zip_of(CONSUMER)}, Environment={"Variables": variables})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def stream(name, shards):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def batches(tag):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=tag + "/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def wait_for(predicate, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def tutorial():
    arn = stream(f"{prefix}-tutorial", 2)
    mappings = []
    for tag in ["consumer-a", "consumer-b"]:
        fn = function(f"{prefix}-{tag}", {"TAG": tag, "BUCKET": bucket})
        created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=25)
        assert created["State"] == "Creating" and created["BatchSize"] == 25 and created["FunctionArn"] == fn, created
        assert created["MaximumRetryAttempts"] == -1 and created["MaximumRecordAgeInSeconds"] == -1, created
        mappings.append(created["UUID"])
    sent = {}
    for i in range(200):
        key = f"user-{i % 7}"
        out = kinesis.put_record(StreamName=f"{prefix}-tutorial", Data=f"message {i:03d} for {key}".encode(), PartitionKey=key)
        sent[out["SequenceNumber"]] = (out["ShardId"], key, f"message {i:03d} for {key}")
    for tag in ["consumer-a", "consumer-b"]:
        wait_for(lambda: sum(len(b["Records"]) for b in batches(tag)) >= 200, f"{tag} to receive 200 records")
        got = [r for b in batches(tag) for r in b["Records"]]
        assert sorted(r["kinesis"]["sequenceNumber"] for r in got) == sorted(sent), f"{tag}: {len(got)} records, expected exactly the 200 sent"
        for b in batches(tag):
            shard_ids = {r["eventID"].split(":")[0] for r in b["Records"]}
            assert len(shard_ids) == 1 and len(b["Records"]) <= 25, "one shard per batch, at most BatchSize"
        for shard in {s for s, _, _ in sent.values()}:
            seqs = [int(r["kinesis"]["sequenceNumber"]) for b in sorted(batches(tag), key=lambda b: int(b["Records"][0]["kinesis"]["sequenceNumber"]))
                    for r in b["Records"] if r["eventID"].startswith(shard + ":")]
            assert seqs == sorted(seqs), f"{tag}: shard {shard} out of order"
    record = batches("consumer-a")[0]["Records"][0]
    assert list(record) == ["kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion", "eventSourceARN"], list(record)
    assert record["eventSource"] == "aws:kinesis" and record["eventVersion"] == "1.0" and record["eventName"] == "aws:kinesis:record", record
    assert record["eventSourceARN"] == arn and record["awsRegion"] == "us-east-1", record
    k = record["kinesis"]
    assert list(k) == ["kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp"], list(k)
    assert k["kinesisSchemaVersion"] == "1.0" and isinstance(k["approximateArrivalTimestamp"], float), k
    assert abs(k["approximateArrivalTimestamp"] - time.time()) < 600, k
    shard, key, text = sent[k["sequenceNumber"]]
    assert record["eventID"] == f"{shard}:{k['sequenceNumber']}" and k["partitionKey"] == key, record
    assert base64.b64decode(k["data"]).decode() == text
    # What the functions printed is in their log groups.
    group = f"/aws/lambda/{prefix}-consumer-b"
    wait_for(lambda: logs.filter_log_events(logGroupName=group, filterPattern='"message 199"')["events"], "the decoded text in the log group")
    described = lam.get_event_source_mapping(UUID=mappings[0])
    assert described["State"] == "Enabled" and described["LastProcessingResult"] == "OK", described
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert sorted(m["UUID"] for m in listed) == sorted(mappings), listed


def report_batch_item_failures():
    arn = stream(f"{prefix}-report", 1)
    fn = function(f"{prefix}-reporter", {"TAG": "report", "BUCKET": bucket, "MODE": "report"})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=10,
                                    MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"],
                                    DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    entries = [{"Data": (b"poison" if i == 6 else b"good %d" % i), "PartitionKey": "k"} for i in range(10)]
    put = kinesis.put_records(StreamName=f"{prefix}-report", Records=entries)["Records"]
    seqs = [r["SequenceNumber"] for r in put]
    # First batch: all 10; the function reports record 6; Lambda resumes from record 6, retries it twice, then discards it.
    wait_for(lambda: failures(f"{prefix}-report"), "the on-failure record")
    firsts = sorted((b["Records"][0]["kinesis"]["sequenceNumber"], len(b["Records"])) for b in batches("report"))
    assert firsts == [(seqs[0], 10), (seqs[6], 4), (seqs[6], 4)], firsts
    record = failures(f"{prefix}-report")[0]
    info = record["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == seqs[6] and info["endSequenceNumber"] == seqs[9] and info["batchSize"] == 4, info
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted" and record["requestContext"]["approximateInvokeCount"] == 3, record
    assert any(base64.b64decode(r["kinesis"]["data"]) == b"poison" for r in json.loads(record["payload"])["Records"]), record


def failures(stream_name):
    arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="aws/lambda/"):
        for o in page.get("Contents", []):
            doc = json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
            if doc["KinesisBatchInfo"]["streamArn"] == arn:
                out.append(doc)
    return out


def bisect_and_retries():
    name = f"{prefix}-bisect"
    arn = stream(name, 1)
    fn = function(f"{prefix}-raiser", {"TAG": "bisect", "BUCKET": bucket, "MODE": "raise"})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=8,
                                    MaximumRetryAttempts=0, BisectBatchOnFunctionError=True,
                                    DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    entries = [{"Data": (b"poison" if i == 5 else b"fine %d" % i), "PartitionKey": "k"} for i in range(8)]
    seqs = [r["SequenceNumber"] for r in kinesis.put_records(StreamName=name, Records=entries)["Records"]]
    # 8 fails -> halves 0-3 (ok) and 4-7 (fails) -> 4-5 (fails) and 6-7 (ok) -> 4 (ok) and 5 (fails, discarded).
    wait_for(lambda: failures(name), "the on-failure record of the poison record")
    info = failures(name)[0]["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == seqs[5] and info["endSequenceNumber"] == seqs[5] and info["batchSize"] == 1, info
    wait_for(lambda: {r["kinesis"]["sequenceNumber"] for b in batches("bisect") for r in b["Records"]} >= set(seqs), "every record invoked")
    sizes = sorted(len(b["Records"]) for b in batches("bisect"))
    assert sizes == [1, 1, 2, 2, 4, 4, 8], sizes
    # Processing went on after the discarded batch.
    kinesis.put_record(StreamName=name, Data=b"after", PartitionKey="k")
    wait_for(lambda: any(base64.b64decode(r["kinesis"]["data"]) == b"after" for b in batches("bisect") for r in b["Records"]), "the record after")


def filter_criteria():
    name = f"{prefix}-filtered"
    arn = stream(name, 1)
    fn = function(f"{prefix}-filtered-fn", {"TAG": "filtered", "BUCKET": bucket})
    pattern = json.dumps({"data": {"kind": ["keep"], "n": [{"numeric": [">=", 2]}]}})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=100,
                                        FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}, m
    datas = [json.dumps({"kind": "keep", "n": 1}), json.dumps({"kind": "keep", "n": 2}), "not json at all",
             json.dumps({"kind": "drop", "n": 5}), json.dumps({"kind": "keep", "n": 3})]
    kinesis.put_records(StreamName=name, Records=[{"Data": d.encode(), "PartitionKey": "k"} for d in datas])
    wait_for(lambda: sum(len(b["Records"]) for b in batches("filtered")) >= 2, "the matching records")
    time.sleep(1)
    got = [json.loads(base64.b64decode(r["kinesis"]["data"])) for b in batches("filtered") for r in b["Records"]]
    assert got == [{"kind": "keep", "n": 2}, {"kind": "keep", "n": 3}], got
    bad = err(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
                                                      FilterCriteria={"Filters": [{"Pattern": "{not json"}]}))
    assert bad == ("InvalidParameterValueException", 400), bad


def parallelization():
    name = f"{prefix}-parallel"
    arn = stream(name, 1)
    slow = CONSUMER.replace('    records = event["Records"]\n', '    records = event["Records"]\n    import time\n    started = time.time()\n    time.sleep(0.3)\n')
    slow = slow.replace('s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(event).encode())',
                        's3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(dict(event, started=started, ended=time.time())).encode())')
    lam.create_function(FunctionName=f"{prefix}-parallel-fn", Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler", Timeout=30,
                        Code={"ZipFile": zip_of(slow)}, Environment={"Variables": {"TAG": "parallel", "BUCKET": bucket}})
    lam.get_waiter("function_active_v2").wait(FunctionName=f"{prefix}-parallel-fn", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    entries = [{"Data": f"{k}:{i}".encode(), "PartitionKey": f"key-{k}"} for i in range(25) for k in range(8)]
    kinesis.put_records(StreamName=name, Records=entries)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{prefix}-parallel-fn", StartingPosition="TRIM_HORIZON",
                                    BatchSize=10, ParallelizationFactor=4)
    wait_for(lambda: sum(len(b["Records"]) for b in batches("parallel")) >= 200, "all 200 records", seconds=90)
    runs = sorted(batches("parallel"), key=lambda b: b["started"])
    assert sum(len(b["Records"]) for b in runs) == 200, "every record exactly once"
    overlapping = max(sum(1 for o in runs if o["started"] < b["ended"] and b["started"] < o["ended"]) for b in runs)
    assert overlapping >= 2, f"batches of one shard never ran concurrently (max overlap {overlapping})"
    for k in range(8):
        seen = [int(base64.b64decode(r["kinesis"]["data"]).decode().split(":")[1]) for b in runs for r in b["Records"]
                if r["kinesis"]["partitionKey"] == f"key-{k}"]
        assert seen == list(range(25)), f"key-{k} out of order: {seen}"


def mapping_api():
    arn = stream(f"{prefix}-api", 1)
    fn = function(f"{prefix}-api-fn", {"TAG": "api", "BUCKET": bucket})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{prefix}-api-fn", StartingPosition="LATEST", Enabled=False)
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    kinesis.put_record(StreamName=f"{prefix}-api", Data=b"while disabled", PartitionKey="k")
    updated = lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True, BatchSize=50)
    assert updated["State"] == "Updating" and updated["BatchSize"] == 50, updated
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled", "Enabled")
    time.sleep(0.5)
    kinesis.put_record(StreamName=f"{prefix}-api", Data=b"after enabling", PartitionKey="k")
    wait_for(lambda: batches("api"), "the record put after enabling")
    deleted = lam.delete_event_source_mapping(UUID=m["UUID"])
    assert deleted["State"] == "Deleting", deleted
    assert err(lambda: lam.get_event_source_mapping(UUID=m["UUID"])) == ("ResourceNotFoundException", 404)
    assert err(lambda: lam.create_event_source_mapping(EventSourceArn=arn + "-missing", FunctionName=fn, StartingPosition="LATEST")) == ("InvalidParameterValueException", 400)
    assert err(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{prefix}-nope", StartingPosition="LATEST")) == ("ResourceNotFoundException", 404)
    assert err(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
                                                       DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}})) == ("InvalidParameterValueException", 400)
    assert err(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST", BatchSize=10001)) == ("ValidationException", 400)


# Tumbling windows: the function counts records per key into the window's state and writes each event to S3.
WINDOWED = '''
import json, os, uuid, boto3
s3 = boto3.client("s3")

def handler(event, context):
    state = event["state"]
    kind = "final" if event["isFinalInvokeForWindow"] else "aggregate"
    s3.put_object(Bucket=os.environ["BUCKET"], Key="%s/%s/%s/%s" % (os.environ["TAG"], kind, event["window"]["start"], uuid.uuid4()),
                  Body=json.dumps(event).encode())
    if os.environ.get("MODE") == "stateless":
        return {"batchItemFailures": []}
    for record in event["Records"]:
        key = record["kinesis"]["partitionKey"]
        state[key] = state.get(key, 0) + 1
    return {"state": state}
'''


def tumbling_windows():
    name = f"{prefix}-windows"
    arn = stream(name, 1)
    lam.create_function(FunctionName=f"{prefix}-windowed", Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler", Timeout=30,
                        Code={"ZipFile": zip_of(WINDOWED)}, Environment={"Variables": {"TAG": "windows", "BUCKET": bucket}})
    lam.get_waiter("function_active_v2").wait(FunctionName=f"{prefix}-windowed", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{prefix}-windowed", StartingPosition="TRIM_HORIZON",
                                        BatchSize=7, TumblingWindowInSeconds=2)
    assert m["TumblingWindowInSeconds"] == 2, m
    counts = {}
    for i in range(60):
        key = "abc"[i % 3]
        counts[key] = counts.get(key, 0) + 1
        kinesis.put_record(StreamName=name, Data=b"%d" % i, PartitionKey=key)
        time.sleep(0.05)

    def finals():
        return [e for e in batches("windows/final")]
    wait_for(lambda: sum(sum(e["state"].values()) for e in finals()) >= 60, "the final invocations of every window", seconds=60)
    totals = {}
    for e in finals():
        assert e["Records"] == [] and e["isWindowTerminatedEarly"] is False and e["shardId"] == "shardId-000000000000", e
        assert e["eventSourceARN"] == arn and list(e["window"]) == ["start", "end"], e
        for k, v in e["state"].items():
            totals[k] = totals.get(k, 0) + v
    assert totals == counts, (totals, counts)
    starts = sorted(e["window"]["start"] for e in finals())
    assert len(starts) == len(set(starts)) and len(starts) >= 2, f"one final invocation per window: {starts}"
    for e in batches("windows/aggregate"):
        start = calendar.timegm(time.strptime(e["window"]["start"], "%Y-%m-%dT%H:%M:%SZ"))
        end = calendar.timegm(time.strptime(e["window"]["end"], "%Y-%m-%dT%H:%M:%SZ"))
        assert end - start == 2 and start % 2 == 0, e["window"]
        assert 1 <= len(e["Records"]) <= 7 and e["isFinalInvokeForWindow"] is False, e
        assert all(start <= r["kinesis"]["approximateArrivalTimestamp"] < end for r in e["Records"]), "records by arrival time"
    # A function that does not return the state fails each invocation: the batch is retried, then discarded.
    lam.create_function(FunctionName=f"{prefix}-stateless", Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler", Timeout=30,
                        Code={"ZipFile": zip_of(WINDOWED)}, Environment={"Variables": {"TAG": "stateless", "BUCKET": bucket, "MODE": "stateless"}})
    lam.get_waiter("function_active_v2").wait(FunctionName=f"{prefix}-stateless", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{prefix}-stateless", StartingPosition="TRIM_HORIZON",
                                    BatchSize=100, TumblingWindowInSeconds=60, MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    wait_for(lambda: any(f["requestContext"]["condition"] == "RetryAttemptsExhausted" for f in failures(name)), "the batch without state discarded")
    assert len([e for e in batches("stateless/aggregate") if e["Records"]]) >= 2, "the batch was retried"


def consumer_subscription():
    name = f"{prefix}-efo"
    arn = stream(name, 2)
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="lambda-efo")["Consumer"]["ConsumerARN"]
    wait_for(lambda: kinesis.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", "the consumer")
    fn = function(f"{prefix}-efo-fn", {"TAG": "efo", "BUCKET": bucket})
    m = lam.create_event_source_mapping(EventSourceArn=consumer, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=20)
    assert m["EventSourceArn"] == consumer, m
    early = kinesis.put_records(StreamName=name, Records=[{"Data": b"early %d" % i, "PartitionKey": f"k{i % 5}"} for i in range(40)])["Records"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled", "Enabled")
    # Records put while the subscriptions are open are pushed to them.
    late = []
    for i in range(40):
        late.append(kinesis.put_record(StreamName=name, Data=b"late %d" % i, PartitionKey=f"k{i % 5}"))
    sent = {r["SequenceNumber"]: r["ShardId"] for r in early + late}
    wait_for(lambda: sum(len(b["Records"]) for b in batches("efo")) >= 80, "80 records by SubscribeToShard")
    got = [r for b in batches("efo") for r in b["Records"]]
    assert sorted(r["kinesis"]["sequenceNumber"] for r in got) == sorted(sent), "every record exactly once"
    assert all(r["eventSourceARN"] == arn for r in got), "eventSourceARN is the stream's"
    for shard in set(sent.values()):
        seqs = [int(r["kinesis"]["sequenceNumber"]) for b in sorted(batches("efo"), key=lambda b: int(b["Records"][0]["kinesis"]["sequenceNumber"]))
                for r in b["Records"] if r["eventID"].startswith(shard + ":")]
        assert seqs == sorted(seqs), f"shard {shard} out of order"
    unknown = err(lambda: lam.create_event_source_mapping(EventSourceArn=arn + "/consumer/nobody:1", FunctionName=fn, StartingPosition="LATEST"))
    assert unknown == ("InvalidParameterValueException", 400), unknown


# MaximumRecordAgeInSeconds (60 s at least): a function that always fails has its records discarded once they are
# older than that, with the RecordAgeExceeded condition. It runs beside the other checks, since it takes a minute.
def record_age_setup():
    name = f"{prefix}-aged"
    arn = stream(name, 1)
    fn = function(f"{prefix}-aged-fn", {"TAG": "aged", "BUCKET": bucket, "MODE": "raise"})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON", BatchSize=10,
                                    MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    put = kinesis.put_records(StreamName=name, Records=[{"Data": b"poison %d" % i, "PartitionKey": "k"} for i in range(3)])["Records"]
    return name, [r["SequenceNumber"] for r in put], time.time()


aged = {}
ager = threading.Thread(target=lambda: aged.update(zip(("name", "seqs", "put"), record_age_setup())))
ager.start()


def maximum_record_age():
    ager.join()
    name, seqs, put = aged["name"], aged["seqs"], aged["put"]
    wait_for(lambda: failures(name), "the batch discarded for its age", seconds=120)
    record = failures(name)[0]
    assert time.time() - put >= 59, "discarded before the records were 60 s old"
    assert record["requestContext"]["condition"] == "RecordAgeExceeded", record
    info = record["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == seqs[0] and info["endSequenceNumber"] == seqs[-1] and info["batchSize"] == 3, info
    invokes = len(batches("aged"))
    assert invokes >= 5 and record["requestContext"]["approximateInvokeCount"] >= 5, f"retried while young: {invokes}"
    kinesis.put_record(StreamName=name, Data=b"fresh", PartitionKey="k")
    wait_for(lambda: any(base64.b64decode(r["kinesis"]["data"]) == b"fresh" for b in batches("aged") for r in b["Records"]), "the next record")


for name, fn in [("tutorial", tutorial), ("report_batch_item_failures", report_batch_item_failures),
                 ("bisect_and_retries", bisect_and_retries), ("filter_criteria", filter_criteria),
                 ("parallelization", parallelization), ("mapping_api", mapping_api), ("tumbling_windows", tumbling_windows),
                 ("consumer_subscription", consumer_subscription), ("maximum_record_age", maximum_record_age)]:
    check(name, fn)

finish()
