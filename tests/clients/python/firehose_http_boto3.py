"""Firehose's HTTP endpoint destination with boto3 against an HTTP server in this script (127.0.0.1) that fails, times out
and recovers; failed data after the retry duration lands in S3 as http-endpoint-failed error records.

Usage: firehose_http_boto3.py <endpoint> <name prefix>
The server under test must run with --firehose-http-timeout-seconds 2 so that a hanging endpoint times out quickly.
"""
import base64
import gzip
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

from acceptance import check, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
fh = session.client("firehose", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint)
ROLE = "arn:aws:iam::000000000000:role/firehose"
bucket = f"{prefix}-http"
s3.create_bucket(Bucket=bucket)

# Behaviour of the next requests, popped in order; when empty the endpoint answers 200 ("ok"), or "fail" forever in broken mode.
script = []
broken = {"on": False}
received = []
lock = threading.Lock()


class Endpoint(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = json.loads(body)
        with lock:
            action = script.pop(0) if script else ("fail" if broken["on"] else "ok")
            received.append({"headers": dict(self.headers), "body": request, "action": action})
        if action == "hang":
            time.sleep(4)  # longer than the server's response timeout
        status = {"ok": 200, "fail": 500, "hang": 200}[action]
        reply = {"requestId": request["requestId"], "timestamp": int(time.time() * 1000)}
        if status != 200:
            reply["errorMessage"] = "endpoint is having a bad day"
        data = json.dumps(reply).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/ingest"


def create(name, retry_seconds, backup="FailedDataOnly"):
    fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration={
        "EndpointConfiguration": {"Url": url, "Name": "test endpoint", "AccessKey": "secret-key-123"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
        "RequestConfiguration": {"ContentEncoding": "GZIP", "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "test"}]},
        "RetryOptions": {"DurationInSeconds": retry_seconds},
        "S3BackupMode": backup,
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": f"{name}/",
                            "ErrorOutputPrefix": f"{name}-errors/!{{firehose:error-output-type}}/",
                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}},
    })


def wait(predicate, timeout=60, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def fails_times_out_and_recovers():
    name = f"{prefix}-recover"
    with lock:
        script.extend(["fail", "hang", "fail"])
    create(name, retry_seconds=120)
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"event-%d" % i} for i in range(5)])
    wait(lambda: any(r["action"] == "ok" for r in received), what="a successful delivery")
    attempts = [r for r in received]
    assert [r["action"] for r in attempts] == ["fail", "hang", "fail", "ok"], [r["action"] for r in attempts]
    ids = {r["body"]["requestId"] for r in attempts}
    assert len(ids) == 1, ids  # one request id across retries
    ok = attempts[-1]
    headers = {k.lower(): v for k, v in ok["headers"].items()}
    assert headers["x-amz-firehose-protocol-version"] == "1.0", headers
    assert headers["x-amz-firehose-request-id"] == ok["body"]["requestId"], headers
    assert headers["x-amz-firehose-access-key"] == "secret-key-123", headers
    assert json.loads(headers["x-amz-firehose-common-attributes"]) == {"commonAttributes": {"env": "test"}}, headers
    assert headers["x-amz-firehose-source-arn"].endswith(f":deliverystream/{name}"), headers
    assert headers["content-encoding"] == "gzip" and headers["content-type"] == "application/json", headers
    assert [base64.b64decode(r["data"]) for r in ok["body"]["records"]] == [b"event-%d" % i for i in range(5)], ok["body"]
    assert isinstance(ok["body"]["timestamp"], int), ok["body"]
    desc = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["Destinations"][0]["HttpEndpointDestinationDescription"]
    assert "AccessKey" not in desc["EndpointConfiguration"] and desc["EndpointConfiguration"]["Url"] == url, desc


check("fails_times_out_and_recovers", fails_times_out_and_recovers)


def failed_data_goes_to_s3_after_retry_duration():
    name = f"{prefix}-broken"
    received.clear()
    broken["on"] = True
    try:
        create(name, retry_seconds=3)
        fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"lost-%d" % i} for i in range(3)])
        objects = []
        wait(lambda: objects.extend(s3.list_objects_v2(Bucket=bucket, Prefix=f"{name}-errors/").get("Contents", [])) or objects,
             what="error output")
        key = objects[0]["Key"]
        assert key.startswith(f"{name}-errors/http-endpoint-failed/"), key
        lines = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]
        assert sorted(base64.b64decode(r["rawData"]) for r in lines) == [b"lost-0", b"lost-1", b"lost-2"], lines
        r = lines[0]
        assert r["errorCode"].startswith("HttpEndpoint.") and r["attemptsMade"] >= 2, r
        assert {"arrivalTimestamp", "attemptEndingTimestamp", "errorMessage"} <= r.keys(), r
        assert len(received) >= 2, len(received)
    finally:
        broken["on"] = False


check("failed_data_goes_to_s3_after_retry_duration", failed_data_goes_to_s3_after_retry_duration)


def all_data_backup():
    name = f"{prefix}-alldata"
    create(name, retry_seconds=10, backup="AllData")
    fh.put_record(DeliveryStreamName=name, Record={"Data": b"kept twice\n"})
    found = []
    wait(lambda: found.extend(s3.list_objects_v2(Bucket=bucket, Prefix=f"{name}/").get("Contents", [])) or found, what="backup object")
    assert s3.get_object(Bucket=bucket, Key=found[0]["Key"])["Body"].read() == b"kept twice\n"


check("all_data_backup", all_data_backup)
server.shutdown()
finish()
