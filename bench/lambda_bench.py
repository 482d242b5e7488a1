"""Lambda figures against a running Millrace: warm synchronous Invoke round trip, cold start, a Kinesis mapping's
delivery rate, and put-to-invoke latency. Prints one JSON line per scenario.

Usage: python3 bench/lambda_bench.py ENDPOINT WORKDIR [--invokes 2000] [--colds 20] [--records 1000000] [--warmup-records 200000] [--latency-samples 200]
Invoke timings use one keep-alive HTTP/1.1 connection (no SDK in the measured path); setup uses boto3.
"""
import argparse
import base64
import http.client
import io
import json
import os
import statistics
import time
import urllib.parse
import zipfile

import boto3
from botocore.config import Config

p = argparse.ArgumentParser()
p.add_argument("endpoint")
p.add_argument("workdir")
p.add_argument("--invokes", type=int, default=2000)
p.add_argument("--colds", type=int, default=20)
p.add_argument("--records", type=int, default=1_000_000)
p.add_argument("--warmup-records", type=int, default=200_000)
p.add_argument("--latency-samples", type=int, default=200)
a = p.parse_args()
cfg = Config(retries={"max_attempts": 2}, read_timeout=300)
lam = boto3.client("lambda", endpoint_url=a.endpoint, config=cfg)
kinesis = boto3.client("kinesis", endpoint_url=a.endpoint, config=cfg)
ROLE = "arn:aws:iam::000000000000:role/bench"
url = urllib.parse.urlparse(a.endpoint)


def zip_of(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("app.py", text)
    return buffer.getvalue()


def create(name, code, env=None, timeout=30):
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Timeout=timeout,
                        Code={"ZipFile": zip_of(code)}, Environment={"Variables": env or {}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def pct(values, q):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def emit(row):
    print(json.dumps(row), flush=True)


conn = http.client.HTTPConnection(url.hostname, url.port)
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
        "X-Amz-Date": "20260101T000000Z"}


def invoke_raw(name, body=b"{}"):
    start = time.perf_counter()
    conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=body,
                 headers={"Content-Type": "application/json", "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"})
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status == 200 and response.getheader("X-Amz-Function-Error") is None, response.status
    return elapsed


# 1. Warm synchronous invoke of a trivial function.
create("bench-trivial", "def handler(event, context):\n    return {}\n")
for _ in range(50):
    invoke_raw("bench-trivial")
samples = [invoke_raw("bench-trivial") for _ in range(a.invokes)]
emit({"scenario": "warm-invoke", "invokes": a.invokes, "p50Ms": pct(samples, 0.5), "p99Ms": pct(samples, 0.99), "meanMs": round(statistics.mean(samples), 3)})

# 2. Cold start: a configuration change retires the warm environment, so the next invoke starts a new process.
colds, inits = [], []
for i in range(a.colds):
    lam.update_function_configuration(FunctionName="bench-trivial", Description=f"cold {i}")
    colds.append(invoke_raw("bench-trivial"))
    out = lam.invoke(FunctionName="bench-trivial", LogType="Tail")
    inits += [float(x.split(":")[1].strip().split(" ")[0]) for x in base64.b64decode(out["LogResult"]).decode().split("\t") if x.startswith("Init Duration")]
emit({"scenario": "cold-start", "starts": a.colds, "p50Ms": pct(colds, 0.5), "maxMs": pct(colds, 1.0)})

# 3. A mapping on a 4-shard stream, BatchSize 1,000, 100-byte records, to a function that only counts.
out_dir = os.path.join(a.workdir, "counts")
os.makedirs(out_dir, exist_ok=True)
create("bench-counter", """
import os
def handler(event, context):
    with open(os.path.join(os.environ["OUT"], "%d" % os.getpid()), "a") as f:
        f.write("%d\\n" % len(event["Records"]))
    return {}
""", {"OUT": out_dir})
payload = base64.b64encode(b"x" * 100).decode()


def filled_stream(name, records):
    kinesis.create_stream(StreamName=name, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    for start in range(0, records, 500):
        body = json.dumps({"StreamName": name, "Records": [{"Data": payload, "PartitionKey": f"k{start + i}"} for i in range(500)]})
        conn.request("POST", "/", body=body, headers={"X-Amz-Target": "Kinesis_20131202.PutRecords", "Content-Type": "application/x-amz-json-1.1", **AUTH})
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["FailedRecordCount"] == 0
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def delivered():
    total = 0
    for name in os.listdir(out_dir):
        with open(os.path.join(out_dir, name)) as f:
            total += sum(int(line) for line in f.read().split("\n")[:-1])
    return total


def drain(arn, until):
    started = time.perf_counter()
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="bench-counter", StartingPosition="TRIM_HORIZON", BatchSize=1000)
    deadline = started + 300
    while delivered() < until and time.perf_counter() < deadline:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return elapsed


# A first mapping warms the server's read and event path up (the JIT's tiers), as the warm-invoke figure is warm.
drain(filled_stream("bench-mapping-warmup", a.warmup_records), a.warmup_records)
arn = filled_stream("bench-mapping", a.records)
base = delivered()
elapsed = drain(arn, base + a.records)
emit({"scenario": "mapping-throughput", "records": a.records, "warmupRecords": a.warmup_records, "delivered": delivered() - base,
      "seconds": round(elapsed, 3), "recordsPerSecond": round((delivered() - base) / elapsed)})

# 4. Put-to-invoke latency: BatchSize 1, no batching window; the function notes when it saw each record.
seen_dir = os.path.join(a.workdir, "seen")
os.makedirs(seen_dir, exist_ok=True)
create("bench-latency", """
import base64, os, time
def handler(event, context):
    now = time.time()
    with open(os.path.join(os.environ["OUT"], "%d" % os.getpid()), "a") as f:
        for r in event["Records"]:
            f.write("%s %.6f\\n" % (base64.b64decode(r["kinesis"]["data"]).decode(), now))
    return {}
""", {"OUT": seen_dir})
kinesis.create_stream(StreamName="bench-latency", ShardCount=1)
kinesis.get_waiter("stream_exists").wait(StreamName="bench-latency", WaiterConfig={"Delay": 1})
arn = kinesis.describe_stream_summary(StreamName="bench-latency")["StreamDescriptionSummary"]["StreamARN"]
lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="bench-latency", StartingPosition="LATEST", BatchSize=1, MaximumBatchingWindowInSeconds=0)
time.sleep(2)
sent = {}
for i in range(a.latency_samples):
    sent[str(i)] = time.time()
    body = json.dumps({"StreamName": "bench-latency", "PartitionKey": "k", "Data": base64.b64encode(str(i).encode()).decode()})
    conn.request("POST", "/", body=body, headers={"X-Amz-Target": "Kinesis_20131202.PutRecord", "Content-Type": "application/x-amz-json-1.1", **AUTH})
    conn.getresponse().read()
    time.sleep(0.02)
time.sleep(3)
latencies = []
for name in os.listdir(seen_dir):
    with open(os.path.join(seen_dir, name)) as f:
        for line in f.read().split("\n")[:-1]:
            key, at = line.split(" ")
            latencies.append((float(at) - sent[key]) * 1000)
emit({"scenario": "put-to-invoke", "samples": len(latencies), "p50Ms": pct(latencies, 0.5), "p99Ms": pct(latencies, 0.99)})
