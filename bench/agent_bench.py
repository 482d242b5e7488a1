"""millrace agent throughput: one file of 200-byte lines shipped to a 4-shard stream, with and without KPL aggregation,
beside a naive `tail -F file | PutRecords` (boto3, 500 lines a call) measured in the same run, and the agent's memory
while the server is down.

Usage: agent_bench.py <millrace.dll> <endpoint> <work dir> [--lines 2000000]   prints JSON lines
The server at <endpoint> must be running (bench/agent.sh starts it); this script creates the streams.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("dll")
parser.add_argument("endpoint")
parser.add_argument("work")
parser.add_argument("--lines", type=int, default=2_000_000)
args = parser.parse_args()
os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
kinesis = boto3.client("kinesis", endpoint_url=args.endpoint)
TICKS = os.sysconf("SC_CLK_TCK")
# As ./millrace runs the agent: workstation GC, a small footprint for a process that sits beside applications.
AGENT_ENV = dict(os.environ, DOTNET_gcServer=os.environ.get("DOTNET_gcServer", "0"))

log = os.path.join(args.work, "app.log")
with open(log, "w") as f:
    pad = "x" * 186
    for i in range(args.lines):
        f.write(f"{i:012d} {pad}\n")  # 12 + 1 + 186 + 1 = 200 bytes


def create_stream(name):
    kinesis.create_stream(StreamName=name, ShardCount=4)
    while kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.1)


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return cpu, int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024


def agent(name, aggregation, endpoint=None, timeout=120):
    """Runs the agent from the file's start; (lines/s in steady state, CPU µs per line, peak RSS MiB, seconds)."""
    config = os.path.join(args.work, f"{name}.json")
    with open(config, "w") as f:
        json.dump({"checkpointFile": os.path.join(args.work, f"{name}.db"), "kinesis.endpoint": endpoint or args.endpoint,
                   "kinesis.region": "us-east-1", "log.statusReportingPeriodSeconds": 1,
                   "flows": [{"filePattern": log, "kinesisStream": name, "initialPosition": "START_OF_FILE",
                              "maxBufferAgeMillis": 1000, "millrace.aggregation": aggregation}]}, f)
    start = time.time()
    p = subprocess.Popen(["dotnet", args.dll, "agent", "--config", config], stdout=subprocess.PIPE, text=True, env=AGENT_ENV)
    samples = []  # (time, sent)
    pattern = re.compile(r" (\d+) sent ")
    deadline = start + timeout
    for line in p.stdout:
        m = pattern.search(line)
        if m:
            samples.append((time.time(), int(m.group(1))))
            if samples[-1][1] >= args.lines or time.time() > deadline:
                break
    cpu, peak, _ = proc_stats(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    done = [s for s in samples if s[1] >= args.lines]
    if not done:
        return {"error": f"only {samples[-1][1] if samples else 0} of {args.lines} lines sent in {timeout} s"}
    moving = [s for s in samples if 0 < s[1] < args.lines]
    first, last = (moving[0], moving[-1]) if len(moving) >= 2 else (samples[0], done[0])
    steady = (last[1] - first[1]) / max(0.001, last[0] - first[0])
    return {"lines_per_s": round(steady), "cpu_us_per_line": round(cpu * 1e6 / args.lines, 2), "peak_rss_mib": peak,
            "seconds_to_last_line": round(done[0][0] - start, 1)}


def naive(name):
    """tail -F piped into a boto3 loop that sends 500 lines a PutRecords call."""
    sender = r"""
import os, sys, boto3
k = boto3.client("kinesis", endpoint_url=sys.argv[1]); n = int(sys.argv[2]); batch = []; sent = 0
for line in sys.stdin.buffer:
    batch.append({"Data": line, "PartitionKey": str(sent + len(batch))})
    if len(batch) == 500 or sent + len(batch) == n:
        r = k.put_records(StreamName=sys.argv[3], Records=batch)
        assert r["FailedRecordCount"] == 0
        sent += len(batch); batch = []
        if sent == n:
            print("done", flush=True); os._exit(0)
"""
    start = time.time()
    tail = subprocess.Popen(["tail", "-n", "+1", "-F", log], stdout=subprocess.PIPE)
    py = subprocess.run([sys.executable, "-c", sender, args.endpoint, str(args.lines), name], stdin=tail.stdout, capture_output=True, text=True, timeout=900)
    elapsed = time.time() - start
    tail.kill()
    if "done" not in py.stdout:
        return {"error": py.stderr[-300:]}
    return {"lines_per_s": round(args.lines / elapsed), "seconds_to_last_line": round(elapsed, 1)}


def server_down():
    """The agent pointed at a closed port for 15 s: it reads until its bounded queue is full, then waits."""
    config = os.path.join(args.work, "down.json")
    with open(config, "w") as f:
        json.dump({"checkpointFile": os.path.join(args.work, "down.db"), "kinesis.endpoint": "http://127.0.0.1:9", "kinesis.region": "us-east-1",
                   "flows": [{"filePattern": log, "kinesisStream": "down", "initialPosition": "START_OF_FILE",
                              "retryMaxBackoffMillis": 1000}]}, f)
    p = subprocess.Popen(["dotnet", args.dll, "agent", "--config", config], stdout=subprocess.DEVNULL, env=AGENT_ENV)
    rss = []
    for _ in range(15):
        time.sleep(1)
        rss.append(proc_stats(p.pid)[2])
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    return {"rss_mib_each_second": rss, "file_mib": os.path.getsize(log) // (1024 * 1024)}


for name, stream, run in [("agent-aggregated", "agentagg", lambda: agent("agentagg", True)),
                          ("agent", "agentplain", lambda: agent("agentplain", False)),
                          ("tail-F-PutRecords", "naive", lambda: naive("naive")),
                          ("agent-server-down", None, server_down)]:
    if stream:
        create_stream(stream)
    result = dict(run(), name=name, lines=args.lines)
    print(json.dumps(result), flush=True)
