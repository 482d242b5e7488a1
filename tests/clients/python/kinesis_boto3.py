#!/usr/bin/env python3
"""boto3 producer/consumer and API-semantics checks against a Millrace endpoint.

    python3 tests/clients/python/kinesis_boto3.py <endpoint> <stream-name>

Producer: gzip-compressed JSON documents (varying size up to ~20 KB, some non-ASCII) with uuid4 partition keys,
written with put_record and put_records (batches up to 500) into a 2-shard stream. Consumer: polls every shard from
TRIM_HORIZON following NextShardIterator until caught up. Every payload must decompress to exactly what was sent,
exactly once, in send order per shard. Then: AT/AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP, LATEST iterators; list_shards,
list_streams and describe_stream paging; error codes; GetRecords Limit.

Prints one JSON line starting with "SUMMARY " and exits 0 only if every check held.
"""

import datetime
import gzip
import json
import random
import sys
import time
import traceback
import uuid

import boto3
import botocore.config
from botocore.exceptions import ClientError

MAX_HASH = (1 << 128) - 1
SCRIPT_BUDGET_S = 50.0


class CheckFailed(Exception):
    pass


CHECKS = 0


def check(cond, message):
    global CHECKS
    if not cond:
        raise CheckFailed(message)
    CHECKS += 1


def log(*args):
    print("[boto3]", *args, flush=True)


START = time.monotonic()


def remaining():
    return SCRIPT_BUDGET_S - (time.monotonic() - START)


def make_client(endpoint):
    cfg = botocore.config.Config(
        region_name="us-east-1",
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        tcp_keepalive=True,
    )
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDMILLRACETEST",
        aws_secret_access_key="millrace-test-secret",
        config=cfg,
    )


def error_code(fn, **kwargs):
    """Calls fn and returns the ClientError code (None if it succeeded)."""
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response.get("Error", {}).get("Code"), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None, None


def wait_active(kinesis, name):
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    check(summary["StreamStatus"] == "ACTIVE", f"{name}: status {summary['StreamStatus']} after the waiter")
    return summary


# ---------------------------------------------------------------------------------------------------------------
# documents

WORDS_ASCII = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".split()
WORDS_UNICODE = ["café", "naïve", "Zürich", "日本語", "Ελληνικά", "русский", "עברית", "emoji😀", "中文字符", "ünïcödé", "ß"]


def make_doc(rng, i, max_size):
    unicode_doc = i % 3 == 0
    words = WORDS_ASCII + (WORDS_UNICODE if unicode_doc else [])
    target = rng.randint(20, max_size)
    body = []
    size = 0
    while size < target:
        w = rng.choice(words) + str(rng.randint(0, 99999))
        body.append(w)
        size += len(w.encode("utf-8")) + 1
    doc = {"id": i, "unicode": unicode_doc, "tags": [rng.choice(words) for _ in range(3)], "text": " ".join(body)}
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return raw


# ---------------------------------------------------------------------------------------------------------------
# reading helpers

def read_shard(kinesis, iterator, want=None, max_calls=300, limit=None, stop_when_caught_up=True):
    """Follows NextShardIterator; stops at want records (if given) or when caught up with no records."""
    out = []
    calls = 0
    next_it = iterator
    while calls < max_calls:
        check(remaining() > 0, f"time budget exhausted while reading ({len(out)} records so far)")
        kwargs = {"ShardIterator": next_it}
        if limit is not None:
            kwargs["Limit"] = limit
        try:
            r = kinesis.get_records(**kwargs)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ProvisionedThroughputExceededException":
                time.sleep(0.3)
                continue
            raise
        calls += 1
        recs = r.get("Records", [])
        out.extend(recs)
        next_it = r.get("NextShardIterator")
        check(next_it, "GetRecords on an open shard returned no NextShardIterator")
        if want is not None and len(out) >= want:
            break
        if not recs and r.get("MillisBehindLatest") == 0 and stop_when_caught_up and want is None:
            break
        if not recs:
            time.sleep(0.1)
    return out, next_it, calls


def iterator(kinesis, stream, shard_id, kind, **kwargs):
    return kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=kind, **kwargs)["ShardIterator"]


# ---------------------------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print("usage: kinesis_boto3.py <endpoint> <stream-name>", file=sys.stderr)
        return 2
    endpoint, stream = sys.argv[1], sys.argv[2]
    kinesis = make_client(endpoint)
    rng = random.Random(20261123)
    summary = {"client": "boto3"}

    # ---- create -------------------------------------------------------------------------------------------------
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    s = wait_active(kinesis, stream)
    check(s["OpenShardCount"] == 2, f"OpenShardCount {s['OpenShardCount']}")
    check(s["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}", f"StreamARN {s['StreamARN']}")

    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    shard_ids = [x["ShardId"] for x in shards]
    check(shard_ids == ["shardId-000000000000", "shardId-000000000001"], f"shard ids {shard_ids}")

    # ---- produce ------------------------------------------------------------------------------------------------
    docs = [make_doc(rng, i, 20_000) for i in range(300)]
    docs += [make_doc(rng, 300 + i, 200) for i in range(500)]  # small ones for a full 500-entry batch
    # sent[i] = {"doc": raw bytes, "pk": str, "shard": str, "seq": str, "order": acceptance order}
    sent = []

    def accepted(i, pk, shard_id, seq):
        check(shard_id in shard_ids, f"record {i} went to unknown shard {shard_id}")
        check(seq and seq.isdigit(), f"record {i}: bad sequence number {seq!r}")
        sent.append({"doc": docs[i], "pk": pk, "shard": shard_id, "seq": seq, "id": i})

    pks = [str(uuid.uuid4()) for _ in docs]
    put_record_count = 0
    for i in range(60):
        r = kinesis.put_record(StreamName=stream, Data=gzip.compress(docs[i]), PartitionKey=pks[i])
        accepted(i, pks[i], r["ShardId"], r["SequenceNumber"])
        put_record_count += 1

    def put_batch(indices):
        pending = list(indices)
        for _attempt in range(8):
            entries = [{"Data": gzip.compress(docs[i]), "PartitionKey": pks[i]} for i in pending]
            r = kinesis.put_records(StreamName=stream, Records=entries)
            check(len(r["Records"]) == len(pending), f"put_records returned {len(r['Records'])} entries for {len(pending)}")
            failed = []
            for i, res in zip(pending, r["Records"]):
                if "ErrorCode" in res:
                    check(res["ErrorCode"] in ("ProvisionedThroughputExceededException", "InternalFailure"),
                          f"unexpected per-record ErrorCode {res}")
                    failed.append(i)
                else:
                    accepted(i, pks[i], res["ShardId"], res["SequenceNumber"])
            check(r.get("FailedRecordCount", 0) == len(failed), f"FailedRecordCount {r.get('FailedRecordCount')} vs {len(failed)}")
            if not failed:
                return
            pending = failed
            time.sleep(0.5)
        raise CheckFailed(f"{len(pending)} records still failing after retries")

    batches = [range(60, 100), range(100, 200), range(200, 300), range(300, 800)]
    for b in batches:
        put_batch(b)
    check(len(sent) == len(docs), f"accepted {len(sent)} of {len(docs)}")
    check(len({x["seq"] for x in sent}) == len(sent), "duplicate sequence numbers returned by puts")
    by_shard_sent = {sid: [x for x in sent if x["shard"] == sid] for sid in shard_ids}
    for sid, lst in by_shard_sent.items():
        check(len(lst) > 0, f"no record went to {sid} (uuid4 keys should spread)")
        seqs = [int(x["seq"]) for x in lst]
        check(all(a < b for a, b in zip(seqs, seqs[1:])), f"{sid}: sequence numbers not increasing in send order")
    log(f"produced {len(sent)} records ({put_record_count} put_record, rest put_records), "
        f"per shard {[len(v) for v in by_shard_sent.values()]}")

    # ---- consume ------------------------------------------------------------------------------------------------
    per_shard = {}
    for sid in shard_ids:
        it = iterator(kinesis, stream, sid, "TRIM_HORIZON")
        check(isinstance(it, str) and 0 < len(it) <= 512, f"{sid}: iterator {it!r}")
        per_shard[sid] = {"it": it, "recs": [], "done": False}
    polls = 0
    while not all(v["done"] for v in per_shard.values()):
        check(polls < 1000, "too many GetRecords calls")
        check(remaining() > 0, "time budget exhausted while consuming: "
              + ", ".join(f"{k}={len(v['recs'])}" for k, v in per_shard.items()))
        for sid, st in per_shard.items():
            if st["done"]:
                continue
            try:
                r = kinesis.get_records(ShardIterator=st["it"])
            except ClientError as e:
                if e.response["Error"]["Code"] == "ProvisionedThroughputExceededException":
                    time.sleep(0.3)
                    continue
                raise
            polls += 1
            recs = r.get("Records", [])
            st["recs"].extend(recs)
            st["it"] = r.get("NextShardIterator")
            check(st["it"], f"{sid}: no NextShardIterator on an open shard")
            check(isinstance(r.get("MillisBehindLatest"), int), f"{sid}: MillisBehindLatest {r.get('MillisBehindLatest')!r}")
            if not recs and r["MillisBehindLatest"] == 0:
                st["done"] = True

    received = 0
    seen_ids = set()
    for sid in shard_ids:
        got = per_shard[sid]["recs"]
        want = by_shard_sent[sid]
        check(len(got) == len(want), f"{sid}: read {len(got)} records, sent {len(want)}")
        for k, (g, w) in enumerate(zip(got, want)):
            check(g["SequenceNumber"] == w["seq"], f"{sid}[{k}]: SequenceNumber {g['SequenceNumber']} expected {w['seq']} (order differs)")
            check(g["PartitionKey"] == w["pk"], f"{sid}[{k}]: PartitionKey {g['PartitionKey']} expected {w['pk']}")
            data = gzip.decompress(g["Data"])
            check(data == w["doc"], f"{sid}[{k}]: payload differs after gunzip ({len(data)} vs {len(w['doc'])} bytes)")
            doc_id = json.loads(data.decode("utf-8"))["id"]
            check(doc_id == w["id"] and doc_id not in seen_ids, f"{sid}[{k}]: document {doc_id} duplicated or misplaced")
            seen_ids.add(doc_id)
            check(isinstance(g.get("ApproximateArrivalTimestamp"), datetime.datetime), f"{sid}[{k}]: no ApproximateArrivalTimestamp")
        received += len(got)
    check(seen_ids == set(range(len(docs))), f"documents missing: {sorted(set(range(len(docs))) - seen_ids)[:10]}")
    summary.update(sent=len(sent), received=received, unicode_docs=sum(1 for i in range(len(docs)) if i % 3 == 0),
                   shards={sid: len(by_shard_sent[sid]) for sid in shard_ids}, polls=polls)
    log(f"consumed {received} records in {polls} GetRecords calls")

    # ---- iterators ----------------------------------------------------------------------------------------------
    iterator_checks = 0
    sid0 = shard_ids[0]
    recs0 = per_shard[sid0]["recs"]
    check(len(recs0) >= 5, f"{sid0} has only {len(recs0)} records")
    k = len(recs0) // 2
    got, _, _ = read_shard(kinesis, iterator(kinesis, stream, sid0, "AT_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=recs0[k]["SequenceNumber"]), want=2)
    check(got and got[0]["SequenceNumber"] == recs0[k]["SequenceNumber"], "AT_SEQUENCE_NUMBER did not start at that record")
    check(got[1]["SequenceNumber"] == recs0[k + 1]["SequenceNumber"], "AT_SEQUENCE_NUMBER second record wrong")
    iterator_checks += 1
    got, _, _ = read_shard(kinesis, iterator(kinesis, stream, sid0, "AFTER_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=recs0[k]["SequenceNumber"]), want=1)
    check(got and got[0]["SequenceNumber"] == recs0[k + 1]["SequenceNumber"], "AFTER_SEQUENCE_NUMBER did not start after that record")
    iterator_checks += 1
    got, _, _ = read_shard(kinesis, iterator(kinesis, stream, sid0, "AFTER_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=recs0[-1]["SequenceNumber"]))
    check(got == [], f"AFTER_SEQUENCE_NUMBER of the last record returned {len(got)} records")
    iterator_checks += 1

    # LATEST iterators taken now; AT_TIMESTAMP marks a point after everything written so far.
    latest = {sid: iterator(kinesis, stream, sid, "LATEST") for sid in shard_ids}
    for sid in shard_ids:
        got, latest[sid], _ = read_shard(kinesis, latest[sid], max_calls=3)
        check(got == [], f"{sid}: LATEST returned {len(got)} old records")
    time.sleep(1.1)
    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.1)
    late = {shard_ids[0]: [], shard_ids[1]: []}
    for j in range(3):
        for sid, ehk in ((shard_ids[0], "0"), (shard_ids[1], str(MAX_HASH))):
            data = f"late-{sid}-{j}-ñ".encode("utf-8")
            r = kinesis.put_record(StreamName=stream, Data=data, PartitionKey=f"late-{j}", ExplicitHashKey=ehk)
            check(r["ShardId"] == sid, f"ExplicitHashKey {ehk} went to {r['ShardId']}, expected {sid}")
            late[sid].append((r["SequenceNumber"], data))
    for sid in shard_ids:
        got, _, _ = read_shard(kinesis, latest[sid], want=3)
        check([(g["SequenceNumber"], g["Data"]) for g in got] == late[sid],
              f"{sid}: LATEST iterator read {[g['SequenceNumber'] for g in got]}, expected the 3 records written after it")
        iterator_checks += 1
        got, _, _ = read_shard(kinesis, iterator(kinesis, stream, sid, "AT_TIMESTAMP", Timestamp=mark), want=3)
        check([(g["SequenceNumber"], g["Data"]) for g in got[:3]] == late[sid],
              f"{sid}: AT_TIMESTAMP returned {[g['SequenceNumber'] for g in got]}, expected only the late records")
        check(len(got) == 3, f"{sid}: AT_TIMESTAMP returned {len(got)} records, expected 3")
        check(all(g["ApproximateArrivalTimestamp"] >= mark for g in got), f"{sid}: AT_TIMESTAMP returned a record older than the mark")
        iterator_checks += 1
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        got, _, _ = read_shard(kinesis, iterator(kinesis, stream, sid, "AT_TIMESTAMP", Timestamp=past), want=1)
        check(got and got[0]["SequenceNumber"] == by_shard_sent[sid][0]["seq"], f"{sid}: AT_TIMESTAMP in the past did not start at the oldest record")
        iterator_checks += 1
    summary["iterator_checks"] = iterator_checks

    # ---- GetRecords Limit ---------------------------------------------------------------------------------------
    r = kinesis.get_records(ShardIterator=iterator(kinesis, stream, sid0, "TRIM_HORIZON"), Limit=3)
    got = r["Records"]
    for _ in range(20):
        if got:
            break
        r = kinesis.get_records(ShardIterator=r["NextShardIterator"], Limit=3)
        got = r["Records"]
    check(len(got) == 3, f"GetRecords Limit=3 returned {len(got)} records")
    check([g["SequenceNumber"] for g in got] == [x["seq"] for x in by_shard_sent[sid0][:3]], "GetRecords Limit=3 returned the wrong records")
    r2 = kinesis.get_records(ShardIterator=r["NextShardIterator"], Limit=2)
    check([g["SequenceNumber"] for g in r2["Records"]] == [x["seq"] for x in by_shard_sent[sid0][3:5]],
          "GetRecords Limit=2 after Limit=3 did not continue with records 4 and 5")
    check(r2["MillisBehindLatest"] >= 0, "MillisBehindLatest negative")

    # ---- list_shards paging -------------------------------------------------------------------------------------
    page = kinesis.list_shards(StreamName=stream, MaxResults=1)
    check(len(page["Shards"]) == 1 and page["Shards"][0]["ShardId"] == shard_ids[0], f"list_shards MaxResults=1 first page {page['Shards']}")
    check(page.get("NextToken"), "list_shards MaxResults=1 gave no NextToken")
    listed = [page["Shards"][0]["ShardId"]]
    pages = 1
    while page.get("NextToken"):
        check(pages < 10, "list_shards paging did not end")
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=1)
        listed += [x["ShardId"] for x in page["Shards"]]
        pages += 1
    check(listed == shard_ids, f"list_shards paging listed {listed}")
    page = kinesis.list_shards(StreamName=stream, ExclusiveStartShardId=shard_ids[0])
    check([x["ShardId"] for x in page["Shards"]] == shard_ids[1:], f"list_shards ExclusiveStartShardId gave {page['Shards']}")
    summary["list_shards_pages"] = pages

    # ---- describe_stream paging ---------------------------------------------------------------------------------
    d = kinesis.describe_stream(StreamName=stream, Limit=1)["StreamDescription"]
    check([x["ShardId"] for x in d["Shards"]] == shard_ids[:1] and d["HasMoreShards"] is True,
          f"describe_stream Limit=1: {[x['ShardId'] for x in d['Shards']]} HasMoreShards={d['HasMoreShards']}")
    check(d["StreamStatus"] == "ACTIVE" and d["StreamARN"] == s["StreamARN"], f"describe_stream {d['StreamStatus']} {d['StreamARN']}")
    d = kinesis.describe_stream(StreamName=stream, Limit=1, ExclusiveStartShardId=shard_ids[0])["StreamDescription"]
    check([x["ShardId"] for x in d["Shards"]] == shard_ids[1:] and d["HasMoreShards"] is False,
          f"describe_stream ExclusiveStartShardId: {[x['ShardId'] for x in d['Shards']]} HasMoreShards={d['HasMoreShards']}")
    check(d["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"].isdigit(), "describe_stream shard has no StartingSequenceNumber")

    # ---- list_streams paging ------------------------------------------------------------------------------------
    extra = [f"{stream}-x{i}" for i in range(3)]
    for name in extra:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    for name in extra:
        wait_active(kinesis, name)
    all_names = sorted([stream] + extra)
    names = []
    page = kinesis.list_streams(Limit=1)
    check(len(page["StreamNames"]) == 1 and page["HasMoreStreams"] is True, f"list_streams Limit=1: {page}")
    check(page.get("NextToken"), "list_streams Limit=1 returned no NextToken")
    check(len(page.get("StreamSummaries", [])) == 1, f"list_streams StreamSummaries {page.get('StreamSummaries')}")
    names += page["StreamNames"]
    pages = 1
    while page["HasMoreStreams"]:
        check(pages < 20, "list_streams paging did not end")
        check(page.get("NextToken"), "HasMoreStreams without NextToken")
        page = kinesis.list_streams(NextToken=page["NextToken"], Limit=1)
        names += page["StreamNames"]
        pages += 1
    check(names == sorted(names), f"list_streams not in name order: {names}")
    check([n for n in names if n.startswith(stream)] == all_names, f"list_streams paging listed {names}, expected {all_names}")
    check(len(names) == len(set(names)), f"list_streams paging repeated names: {names}")
    page = kinesis.list_streams(ExclusiveStartStreamName=all_names[0], Limit=2)
    check(page["StreamNames"][:2] == [n for n in names if n > all_names[0]][:2], f"ExclusiveStartStreamName gave {page['StreamNames']}")
    summary["list_streams_pages"] = pages

    # ---- errors -------------------------------------------------------------------------------------------------
    errors = {}
    code, status = error_code(kinesis.describe_stream_summary, StreamName=f"{stream}-does-not-exist")
    check(code == "ResourceNotFoundException" and status == 400, f"missing stream gave {code} {status}")
    errors["missing"] = code
    code, status = error_code(kinesis.create_stream, StreamName=stream, ShardCount=1)
    check(code == "ResourceInUseException" and status == 400, f"duplicate create gave {code} {status}")
    errors["duplicate"] = code
    code, status = error_code(kinesis.get_records, ShardIterator="bm90LWEtcmVhbC1pdGVyYXRvcg" * 4)
    check(code == "InvalidArgumentException" and status == 400, f"garbage shard iterator gave {code} {status}")
    errors["garbage_iterator"] = code
    code, status = error_code(kinesis.get_shard_iterator, StreamName=stream, ShardId="shardId-000000000009",
                              ShardIteratorType="TRIM_HORIZON")
    check(code == "ResourceNotFoundException", f"missing shard gave {code} {status}")
    errors["missing_shard"] = code
    summary["errors"] = errors

    # ---- cleanup ------------------------------------------------------------------------------------------------
    for name in extra + [stream]:
        kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    code, _ = error_code(kinesis.describe_stream_summary, StreamName=stream)
    check(code == "ResourceNotFoundException", f"deleted stream still described ({code})")

    summary["checks"] = CHECKS
    summary["ok"] = True
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(f"[boto3] CHECK FAILED: {e}", file=sys.stderr)
        print(f"[boto3] {CHECKS} checks passed before the failure", file=sys.stderr)
        sys.exit(1)
    except ClientError as e:
        print(f"[boto3] UNEXPECTED SERVICE ERROR: {e.response.get('Error')} "
              f"HTTP {e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}", file=sys.stderr)
        traceback.print_exc()
        print(f"[boto3] {CHECKS} checks passed before the failure", file=sys.stderr)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - report anything else with its traceback
        traceback.print_exc()
        print(f"[boto3] {CHECKS} checks passed before the failure", file=sys.stderr)
        sys.exit(1)
