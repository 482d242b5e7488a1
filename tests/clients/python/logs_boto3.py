"""boto3 CloudWatch Logs acceptance: groups and streams with paginators, PutLogEvents batches, GetLogEvents paging
both ways, FilterLogEvents with term, phrase, alternative and JSON patterns across streams, retention, tags, errors.

Usage: python3 logs_boto3.py ENDPOINT GROUP_PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import json
import sys
import time

import boto3
from botocore.config import Config

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
logs = boto3.client("logs", endpoint_url=endpoint, config=Config(retries={"max_attempts": 2}))
now = int(time.time() * 1000)
group = f"{prefix}/app"


def groups_and_streams():
    for i in range(12):
        logs.create_log_group(logGroupName=f"{prefix}/many/{i:02d}")
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=f"{prefix}/many/", PaginationConfig={"PageSize": 5})
    names = [g["logGroupName"] for page in pages for g in page["logGroups"]]
    assert names == [f"{prefix}/many/{i:02d}" for i in range(12)], names
    logs.create_log_group(logGroupName=group, tags={"team": "streams"})
    for s in ["web-2", "web-1", "worker"]:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert streams == ["web-1", "web-2", "worker"], streams
    by_prefix = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web")["logStreams"]
    assert [s["logStreamName"] for s in by_prefix] == ["web-1", "web-2"], by_prefix
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"]
    assert arn.endswith(f":log-group:{group}:*"), arn


def put_and_get():
    # Three batches of 100 events into web-1, one event per millisecond.
    for b in range(3):
        events = [{"timestamp": now - 10_000 + (b * 100) + i, "message": f"line {b * 100 + i:03d} GET /index.html 200"} for i in range(100)]
        out = logs.put_log_events(logGroupName=group, logStreamName="web-1", logEvents=events)
        assert "rejectedLogEventsInfo" not in out, out
    # Forward from the head, 40 per page, until the token repeats (as the CLI and SDK paginators do).
    seen, token = [], None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName="web-1", limit=40, **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"line {i:03d} GET /index.html 200" for i in range(300)], (len(seen), seen[:3])
    # Backward from the tail: the newest page comes first.
    last = logs.get_log_events(logGroupName=group, logStreamName="web-1", limit=10)
    assert [e["message"][:8] for e in last["events"]] == [f"line {i:03d}" for i in range(290, 300)], last["events"]
    back = logs.get_log_events(logGroupName=group, logStreamName="web-1", limit=10, nextToken=last["nextBackwardToken"])
    assert [e["message"][:8] for e in back["events"]] == [f"line {i:03d}" for i in range(280, 290)], back["events"]
    stream = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web-1")["logStreams"][0]
    assert stream["firstEventTimestamp"] == now - 10_000 and stream["lastEventTimestamp"] == now - 10_000 + 299, stream


def filter_events():
    logs.put_log_events(logGroupName=group, logStreamName="web-2", logEvents=[
        {"timestamp": now - 5_000, "message": "ERROR disk full on /var"},
        {"timestamp": now - 4_000, "message": "WARN slow request took 900 ms"},
        {"timestamp": now - 3_000, "message": "INFO user logged in"},
    ])
    logs.put_log_events(logGroupName=group, logStreamName="worker", logEvents=[
        {"timestamp": now - 4_500, "message": json.dumps({"level": "error", "latency": 1200, "user": {"id": 7}})},
        {"timestamp": now - 3_500, "message": json.dumps({"level": "info", "latency": 30, "user": {"id": 8}})},
    ])

    def messages(**kw):
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kw)
        return [e["message"] for page in pages for e in page["events"]]

    assert messages(filterPattern="ERROR") == ["ERROR disk full on /var"]
    assert messages(filterPattern='"slow request"') == ["WARN slow request took 900 ms"]
    assert messages(filterPattern="?ERROR ?WARN") == ["ERROR disk full on /var", "WARN slow request took 900 ms"]
    assert [json.loads(m)["user"]["id"] for m in messages(filterPattern="{ $.latency > 100 }")] == [7]
    assert [json.loads(m)["level"] for m in messages(filterPattern='{ $.level = "info" && $.user.id = 8 }')] == ["info"]
    # Every stream, interleaved by time; the 300 web-1 lines match "GET", paged 50 at a time by the paginator.
    assert len(messages(filterPattern="GET", PaginationConfig={"PageSize": 50})) == 300
    # FilterLogEvents' endTime is inclusive ("events with a timestamp later than this time are not returned").
    assert messages(logStreamNames=["web-2"], startTime=now - 4_500, endTime=now - 3_000) == ["WARN slow request took 900 ms", "INFO user logged in"]
    assert messages(logStreamNames=["web-2"], startTime=now - 4_500, endTime=now - 3_001) == ["WARN slow request took 900 ms"]
    both = logs.filter_log_events(logGroupName=group, filterPattern="?disk ?latency")["events"]
    assert [e["logStreamName"] for e in both] == ["web-2", "worker", "worker"], both


def retention_and_tags():
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 7, described
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"].removesuffix(":*")
    logs.tag_resource(resourceArn=arn, tags={"env": "ci"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "streams", "env": "ci"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "ci"}


def errors():
    assert err(lambda: logs.create_log_group(logGroupName=group)) == ("ResourceAlreadyExistsException", 400)
    assert err(lambda: logs.create_log_stream(logGroupName=group, logStreamName="web-1")) == ("ResourceAlreadyExistsException", 400)
    assert err(lambda: logs.describe_log_streams(logGroupName=f"{prefix}/none")) == ("ResourceNotFoundException", 400)
    assert err(lambda: logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": now, "message": "x"}])) == ("ResourceNotFoundException", 400)
    assert err(lambda: logs.put_retention_policy(logGroupName=group, retentionInDays=2)) == ("InvalidParameterException", 400)
    unordered = [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]
    assert err(lambda: logs.put_log_events(logGroupName=group, logStreamName="web-1", logEvents=unordered)) == ("InvalidParameterException", 400)
    assert err(lambda: logs.filter_log_events(logGroupName=group, filterPattern="{ $.latency > }")) == ("InvalidParameterException", 400)
    logs.delete_log_stream(logGroupName=group, logStreamName="worker")
    assert err(lambda: logs.get_log_events(logGroupName=group, logStreamName="worker")) == ("ResourceNotFoundException", 400)
    logs.delete_log_group(logGroupName=group)
    assert err(lambda: logs.delete_log_group(logGroupName=group)) == ("ResourceNotFoundException", 400)


for name, fn in [("groups_and_streams", groups_and_streams), ("put_and_get", put_and_get), ("filter", filter_events),
                 ("retention_and_tags", retention_and_tags), ("errors", errors)]:
    check(name, fn)

finish()
