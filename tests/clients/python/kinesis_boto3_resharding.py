#!/usr/bin/env python3
"""boto3 resharding flow against a Millrace endpoint.

    python3 tests/clients/python/kinesis_boto3_resharding.py <endpoint> <stream-name>

A producer thread writes put_records batches (random partition keys, a per-key counter in each payload) while the
main thread runs split_shard, merge_shards and update_shard_count (up and down), waiting for ACTIVE after each.
Then a lineage-aware consumer (like the KCL) reads every shard from TRIM_HORIZON, a child only after all of its
parents ended, following ChildShards: every acknowledged record must be read exactly once, from the shard it was
acknowledged on, and per partition key in write order. Also checks list_shards filters, describe_stream ending
sequence numbers, update_shard_count's response and the resharding error codes.

Prints one JSON line starting with "SUMMARY " and exits 0 only if every check held.
"""

import json
import random
import sys
import threading
import time
import traceback

import boto3
import botocore.config
from botocore.exceptions import ClientError

MAX_HASH = (1 << 128) - 1
CHECKS = 0


class CheckFailed(Exception):
    pass


def check(cond, message):
    global CHECKS
    if not cond:
        raise CheckFailed(message)
    CHECKS += 1


def log(*args):
    print("[boto3-reshard]", *args, flush=True)


def make_client(endpoint, attempts=5):
    cfg = botocore.config.Config(region_name="us-east-1", retries={"max_attempts": attempts, "mode": "standard"},
                                 connect_timeout=5, read_timeout=30)
    return boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="AKIDMILLRACETEST", aws_secret_access_key="millrace-test-secret", config=cfg)


def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response.get("Error", {}).get("Code")
    return None


def wait_active(kinesis, name):
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
    check(status == "ACTIVE", f"{name}: status {status} after the waiter")


def list_all_shards(kinesis, stream, **kwargs):
    shards, token = [], None
    for _ in range(100):
        page = kinesis.list_shards(NextToken=token, MaxResults=3) if token else \
            kinesis.list_shards(StreamName=stream, MaxResults=3, **kwargs)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            return shards
    raise CheckFailed("list_shards did not finish paging")


def key_range(shard):
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def check_tiles(shards, what):
    nxt = 0
    for start, end in sorted(key_range(s) for s in shards):
        check(start == nxt, f"{what}: gap or overlap at {start} (expected {nxt})")
        nxt = end + 1
    check(nxt == MAX_HASH + 1, f"{what}: open shards end at {nxt - 1}")


class Producer(threading.Thread):
    """One writer, so that per partition key the acknowledgement order is the write order."""

    def __init__(self, kinesis, stream):
        super().__init__(daemon=True)
        self.kinesis, self.stream = kinesis, stream
        self.stop = threading.Event()
        self.acked = []  # (shard_id, seq, payload)
        self.error = None
        self.counters = {}

    def run(self):
        rng = random.Random(7)
        keys = [f"pk-{i}" for i in range(40)]
        try:
            for batch in range(2000):
                if self.stop.is_set() and batch >= 3:
                    return
                entries = []
                for _ in range(25):
                    pk = rng.choice(keys)
                    n = self.counters.get(pk, 0)
                    self.counters[pk] = n + 1
                    entries.append({"PartitionKey": pk, "Data": json.dumps({"pk": pk, "n": n}).encode()})
                out = self.kinesis.put_records(StreamName=self.stream, Records=entries)
                if out["FailedRecordCount"] != 0:
                    raise CheckFailed(f"put_records failed entries: {[r for r in out['Records'] if 'ErrorCode' in r][:3]}")
                for e, r in zip(entries, out["Records"]):
                    self.acked.append((r["ShardId"], r["SequenceNumber"], e["Data"].decode()))
        except Exception as e:  # noqa: BLE001 - surfaced by the main thread
            self.error = e


def consume_by_lineage(kinesis, stream):
    """Reads parents before children, following ChildShards, like the KCL. Returns the records in processing order
    and how many times a drained closed shard answered with ChildShards."""
    shards = {s["ShardId"]: s for s in list_all_shards(kinesis, stream)}
    parents = {sid: [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p and p in shards]
               for sid, s in shards.items()}
    done, order, child_answers = set(), [], 0
    for _ in range(len(shards) + 1):
        ready = [sid for sid in sorted(shards) if sid not in done and all(p in done for p in parents[sid])]
        if not ready:
            break
        for sid in ready:
            it = kinesis.get_shard_iterator(StreamName=stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            closed = "EndingSequenceNumber" in shards[sid]["SequenceNumberRange"]
            for _ in range(500):
                out = kinesis.get_records(ShardIterator=it, Limit=200)
                order += [(sid, r["SequenceNumber"], r["Data"].decode()) for r in out["Records"]]
                it = out.get("NextShardIterator")
                if it is None:
                    check(closed, f"{sid} is open but returned no NextShardIterator")
                    children = out.get("ChildShards") or []
                    check(len(children) > 0, f"{sid} ended without ChildShards")
                    check(not out["Records"], f"{sid} ended in a call that returned records")
                    for c in children:
                        check(sid in c["ParentShards"], f"child {c['ShardId']} of {sid} lists parents {c['ParentShards']}")
                        check(c["ShardId"] in shards, f"child {c['ShardId']} of {sid} is not listed")
                    child_answers += 1
                    break
                check(not out.get("ChildShards"), f"{sid} returned ChildShards with a NextShardIterator")
                if not closed and not out["Records"] and out["MillisBehindLatest"] == 0:
                    break
            else:
                raise CheckFailed(f"{sid} did not end within 500 reads")
            done.add(sid)
    check(done == set(shards), f"shards never ready (parents not done): {sorted(set(shards) - done)}")
    return order, child_answers


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    kinesis = make_client(endpoint)
    summary = {}
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    wait_active(kinesis, stream)

    producer = Producer(make_client(endpoint), stream)
    producer.start()
    time.sleep(0.2)

    # split shard 0 in the middle of its range: children 2 and 3
    start, end = key_range(kinesis.list_shards(StreamName=stream)["Shards"][0])
    kinesis.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str((start + end) // 2))
    wait_active(kinesis, stream)
    # merge the upper child of 0 with shard 1: child 4
    kinesis.merge_shards(StreamName=stream, ShardToMerge="shardId-000000000003", AdjacentShardToMerge="shardId-000000000001")
    wait_active(kinesis, stream)
    scaled = []
    for target in (4, 6, 3):
        out = kinesis.update_shard_count(StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
        check(out["TargetShardCount"] == target and out["StreamName"] == stream, f"update_shard_count answered {out}")
        check(out["StreamARN"].endswith(f":stream/{stream}"), f"update_shard_count ARN {out.get('StreamARN')}")
        scaled.append(out["CurrentShardCount"])
        wait_active(kinesis, stream)
        latest = kinesis.list_shards(StreamName=stream, ShardFilter={"Type": "AT_LATEST"})["Shards"]
        check(len(latest) == target, f"{len(latest)} open shards after scaling to {target}")
        check_tiles(latest, f"after scaling to {target}")
    check(scaled == [2, 4, 6], f"CurrentShardCount answers {scaled}")
    time.sleep(0.2)
    producer.stop.set()
    producer.join(timeout=30)
    check(not producer.is_alive(), "producer did not stop")
    if producer.error:
        raise producer.error
    summary["acked"] = len(producer.acked)

    # ---- shard listings --------------------------------------------------------------------------------------------
    all_shards = list_all_shards(kinesis, stream)
    closed = [s for s in all_shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    open_ = [s for s in all_shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    check(len(open_) == 3, f"{len(open_)} open shards listed")
    check_tiles(open_, "final open shards")
    check(all(s.get("ParentShardId") for s in all_shards if s["ShardId"] not in ("shardId-000000000000", "shardId-000000000001")),
          "a resharded child has no ParentShardId")
    described = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
    check({s["ShardId"] for s in described} <= {s["ShardId"] for s in all_shards}, "describe_stream lists unknown shards")
    check(sorted(s["ShardId"] for s in kinesis.list_shards(StreamName=stream, ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"])
          == ["shardId-000000000000", "shardId-000000000001"], "AT_TRIM_HORIZON is not the original shards")
    after = kinesis.list_shards(StreamName=stream, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000003"})["Shards"]
    check(all(s["ShardId"] > "shardId-000000000003" for s in after) and len(after) == len(all_shards) - 4, "AFTER_SHARD_ID")
    summary["shards"] = len(all_shards)
    summary["closed"] = len(closed)

    # ---- lineage-aware consumer --------------------------------------------------------------------------------------
    order, child_answers = consume_by_lineage(kinesis, stream)
    read = {}
    for sid, seq, payload in order:
        check(payload not in read, f"{payload} read twice")
        read[payload] = (sid, seq)
    check(len(read) == len(producer.acked), f"read {len(read)} records, {len(producer.acked)} acknowledged")
    for sid, seq, payload in producer.acked:
        check(read.get(payload) == (sid, seq), f"{payload} acknowledged as {sid} {seq}, read as {read.get(payload)}")
    last = {}
    for _, _, payload in order:
        doc = json.loads(payload)
        check(doc["n"] == last.get(doc["pk"], -1) + 1, f"{doc['pk']}: record {doc['n']} read after {last.get(doc['pk'])}")
        last[doc["pk"]] = doc["n"]
    summary["read"] = len(read)
    summary["child_answers"] = child_answers
    summary["keys_in_order"] = len(last)

    # ---- errors (no retries: botocore retries LimitExceededException as throttling) ---------------------------------------
    kinesis = make_client(endpoint, attempts=1)
    errors = {}
    errors["split_closed"] = error_code(kinesis.split_shard, StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey="12345")
    errors["split_missing"] = error_code(kinesis.split_shard, StreamName=stream, ShardToSplit="shardId-000000009999", NewStartingHashKey="12345")
    first_open = sorted(open_, key=lambda s: key_range(s)[0])
    s0, e0 = key_range(first_open[0])
    errors["split_outside"] = error_code(kinesis.split_shard, StreamName=stream, ShardToSplit=first_open[0]["ShardId"], NewStartingHashKey=str(e0 + 10))
    errors["merge_not_adjacent"] = error_code(kinesis.merge_shards, StreamName=stream, ShardToMerge=first_open[0]["ShardId"], AdjacentShardToMerge=first_open[2]["ShardId"])
    errors["scale_too_far"] = error_code(kinesis.update_shard_count, StreamName=stream, TargetShardCount=100, ScalingType="UNIFORM_SCALING")
    kinesis.create_stream(StreamName=stream + "-od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, stream + "-od")
    errors["on_demand"] = error_code(kinesis.split_shard, StreamName=stream + "-od", ShardToSplit="shardId-000000000000", NewStartingHashKey="12345")
    check(errors == {"split_closed": "InvalidArgumentException", "split_missing": "ResourceNotFoundException",
                     "split_outside": "InvalidArgumentException", "merge_not_adjacent": "InvalidArgumentException",
                     "scale_too_far": "LimitExceededException", "on_demand": "ValidationException"}, f"errors {errors}")
    summary["errors"] = errors

    for name in (stream, stream + "-od"):
        kinesis.delete_stream(StreamName=name)
    summary["checks"] = CHECKS
    summary["ok"] = True
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(f"[boto3-reshard] CHECK FAILED: {e}", file=sys.stderr)
        print(f"[boto3-reshard] {CHECKS} checks passed before the failure", file=sys.stderr)
        sys.exit(1)
    except ClientError as e:
        print(f"[boto3-reshard] UNEXPECTED SERVICE ERROR: {e.response.get('Error')}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print(f"[boto3-reshard] {CHECKS} checks passed before the failure", file=sys.stderr)
        sys.exit(1)
