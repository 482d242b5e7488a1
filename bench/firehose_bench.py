"""Firehose load: PutRecordBatch of 500 x 1 KiB records into a delivery stream writing GZIP to the server's own S3
(1 s buffer interval), then measures delivery: every record found in S3, and the data freshness (object LastModified
minus the put time, embedded at the start of each record, of its oldest record).

The load comes from --procs boto3 processes (--driver boto3), or from the .NET driver bench/Millrace.Bench.Firehose
(--driver DLL: its path) with --connections keep-alive connections, which needs far less CPU per record.

Usage: firehose_bench.py <endpoint> <name> [--procs 4] [--batches 200] [--driver boto3|DLL] [--connections 8] [--seconds 20]
prints one JSON line
"""
import argparse
import gzip
import json
import multiprocessing
import subprocess
import time

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("endpoint")
parser.add_argument("name")
parser.add_argument("--procs", type=int, default=4)
parser.add_argument("--batches", type=int, default=200)
parser.add_argument("--driver", default="boto3")
parser.add_argument("--connections", type=int, default=8)
parser.add_argument("--seconds", type=int, default=20)
parser.add_argument("--warmup", type=int, default=3)
args = parser.parse_args()
ROLE = "arn:aws:iam::000000000000:role/firehose"


def client(service):
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        service, endpoint_url=args.endpoint)


def writer(index):
    fh = client("firehose")
    pad = "x" * 960
    for b in range(args.batches):
        now = int(time.time() * 1000)
        records = [{"Data": (json.dumps({"t": now, "id": f"{index}-{b}-{i}", "p": pad})[:1022] + "}\n").encode()} for i in range(500)]
        r = fh.put_record_batch(DeliveryStreamName="bench", Records=records)
        assert r["FailedPutCount"] == 0
    return args.batches * 500


if __name__ == "__main__":
    s3, fh = client("s3"), client("firehose")
    s3.create_bucket(Bucket="firehose-bench")
    fh.create_delivery_stream(DeliveryStreamName="bench", ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::firehose-bench", "CompressionFormat": "GZIP",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1}})
    time.sleep(1)
    start = time.time()
    if args.driver == "boto3":
        with multiprocessing.Pool(args.procs) as pool:
            total = sum(pool.map(writer, range(args.procs)))
        elapsed = time.time() - start
        driver = f"boto3 x {args.procs}"
    else:
        out = subprocess.run(["dotnet", args.driver, args.endpoint, "bench", "--connections", str(args.connections),
                              "--batches", str(args.batches), "--seconds", str(args.seconds), "--warmup", str(args.warmup)], check=True, capture_output=True, text=True)
        put = json.loads(out.stdout.strip().splitlines()[-1])
        total, elapsed = put["records"], put["seconds"]
        driver = f".NET x {args.connections}"
    deadline, found, freshness, seen = time.time() + 180, 0, 0.0, set()
    while time.time() < deadline and found < total:
        time.sleep(1)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="firehose-bench"):
            for o in page.get("Contents", []):
                if o["Key"] in seen:
                    continue
                seen.add(o["Key"])
                body = s3.get_object(Bucket="firehose-bench", Key=o["Key"])["Body"].read()
                lines = gzip.decompress(body).splitlines() if o["Key"].endswith(".gz") else body.splitlines()
                found += len(lines)
                oldest = min(json.loads(line[:line.index(b",")] + b"}")["t"] for line in lines) / 1000
                freshness = max(freshness, o["LastModified"].timestamp() - oldest)
    rate = put["records_per_s"] if args.driver != "boto3" else round(total / elapsed)
    print(json.dumps({"server": args.name, "driver": driver, "records": total, "seconds": round(elapsed, 2), "records_per_s": rate,
                      "delivered": found, "max_freshness_s": round(freshness, 2)}))
