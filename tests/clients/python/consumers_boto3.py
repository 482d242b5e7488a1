#!/usr/bin/env python3
"""boto3 enhanced fan-out consumer registry flow against a Millrace endpoint.

    python3 tests/clients/python/consumers_boto3.py <endpoint> <stream-name>

register_stream_consumer (with tags) -> describe_stream_consumer (by ARN and by stream ARN + name) ->
list_stream_consumers (paged with the boto3 paginator) -> tags by consumer ARN -> delete_stream refused while
consumers exist -> deregister_stream_consumer -> describe gives ResourceNotFoundException -> delete_stream.
Prints one JSON line starting with "SUMMARY " and exits 0 only if every check held.
"""

import datetime
import json
import sys
import traceback

import boto3
import botocore.config
from botocore.exceptions import ClientError


class CheckFailed(Exception):
    pass


CHECKS = 0


def check(cond, message):
    global CHECKS
    if not cond:
        raise CheckFailed(message)
    CHECKS += 1


def error_code(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise CheckFailed(f"{call.__name__} {kwargs} did not fail")


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    client = boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDMILLRACETEST",
        aws_secret_access_key="millrace-test-secret",
        config=botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"}),
    )
    client.create_stream(StreamName=stream, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    stream_arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]

    consumer = client.register_stream_consumer(StreamARN=stream_arn, ConsumerName="app", Tags={"team": "blue"})["Consumer"]
    arn = consumer["ConsumerARN"]
    created = consumer["ConsumerCreationTimestamp"]
    check(isinstance(created, datetime.datetime), f"creation timestamp type: {created!r}")
    check(arn == f"{stream_arn}/consumer/app:{int(created.timestamp())}", f"consumer ARN: {arn}")
    check(consumer["ConsumerStatus"] in ("CREATING", "ACTIVE"), f"status: {consumer}")

    by_arn = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
    by_name = client.describe_stream_consumer(StreamARN=stream_arn, ConsumerName="app")["ConsumerDescription"]
    check(by_arn == by_name, f"describe by ARN {by_arn} != by name {by_name}")
    check(by_arn["StreamARN"] == stream_arn and by_arn["ConsumerStatus"] == "ACTIVE", f"description: {by_arn}")

    for name in ["d", "b", "c"]:
        client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)
    pages = list(client.get_paginator("list_stream_consumers").paginate(StreamARN=stream_arn, PaginationConfig={"PageSize": 2}))
    names = [c["ConsumerName"] for p in pages for c in p["Consumers"]]
    check(len(pages) == 2 and names == ["app", "b", "c", "d"], f"paged list: {len(pages)} pages, {names}")
    check(client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["ConsumerCount"] == 4, "ConsumerCount")

    client.tag_resource(ResourceARN=arn, Tags={"env": "test"})
    tags = {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    check(tags == {"team": "blue", "env": "test"}, f"consumer tags: {tags}")

    errors = {}
    errors["duplicate"] = error_code(client.register_stream_consumer, StreamARN=stream_arn, ConsumerName="app")
    errors["delete_with_consumers"] = error_code(client.delete_stream, StreamName=stream)

    client.deregister_stream_consumer(ConsumerARN=arn)
    errors["describe_deregistered"] = error_code(client.describe_stream_consumer, ConsumerARN=arn)
    client.deregister_stream_consumer(StreamARN=stream_arn, ConsumerName="b")
    left = [c["ConsumerName"] for c in client.list_stream_consumers(StreamARN=stream_arn)["Consumers"]]
    check(left == ["c", "d"], f"after deregister: {left}")

    client.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    client.get_waiter("stream_not_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 20})

    print("SUMMARY " + json.dumps({"ok": True, "checks": CHECKS, "errors": errors}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report everything as a failed summary
        traceback.print_exc()
        print("SUMMARY " + json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "checks": CHECKS}), flush=True)
        sys.exit(1)
