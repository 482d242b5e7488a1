#!/usr/bin/env python3
"""boto3 tagging and retention flows against a Millrace endpoint.

    python3 tests/clients/python/control_plane_boto3.py <endpoint> <stream-name>

Creates a stream with tags, then add_tags_to_stream / list_tags_for_stream (paged) / remove_tags_from_stream,
tag_resource / untag_resource / list_tags_for_resource by ARN, increase/decrease_stream_retention_period and the
errors boto3 surfaces for each (error codes as ClientError). Prints one JSON line starting with "SUMMARY " and
exits 0 only if every check held.
"""

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
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
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
    client.create_stream(StreamName=stream, ShardCount=1, Tags={"created": "yes"})
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]

    # Stream tagging: add (with an overwrite), page through, remove.
    client.add_tags_to_stream(StreamName=stream, Tags={f"key-{i:02d}": f"value-{i}" for i in range(14)})
    client.add_tags_to_stream(StreamARN=arn, Tags={"created": "overwritten", "ünïcode": "välue"})
    tags, start, pages = [], None, 0
    while True:
        kwargs = {"StreamName": stream, "Limit": 5}
        if start:
            kwargs["ExclusiveStartTagKey"] = start
        page = client.list_tags_for_stream(**kwargs)
        pages += 1
        tags += page["Tags"]
        if not page["HasMoreTags"]:
            break
        start = page["Tags"][-1]["Key"]
        check(pages < 10, "too many ListTagsForStream pages")
    keys = [t["Key"] for t in tags]
    check(len(tags) == 16 and pages == 4, f"paged tags: {len(tags)} in {pages} pages")
    check(keys == sorted(keys), f"tags not ordered by key: {keys}")
    as_map = {t["Key"]: t["Value"] for t in tags}
    check(as_map["created"] == "overwritten" and as_map["ünïcode"] == "välue", f"tag values: {as_map}")

    client.remove_tags_from_stream(StreamName=stream, TagKeys=["created", "key-00", "no-such-key"])
    left = client.list_tags_for_stream(StreamName=stream, Limit=50)
    check(len(left["Tags"]) == 14 and not left["HasMoreTags"], f"after remove: {left}")

    # Resource tagging by ARN.
    client.tag_resource(ResourceARN=arn, Tags={"owner": "boto3"})
    client.untag_resource(ResourceARN=arn, TagKeys=["key-01"])
    by_arn = {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    check(len(by_arn) == 14 and by_arn["owner"] == "boto3" and "key-01" not in by_arn, f"by ARN: {by_arn}")

    errors = {}
    errors["too_many"] = error_code(client.add_tags_to_stream, StreamName=stream, Tags={f"x{i}": "v" for i in range(40)})[0]
    errors["reserved"] = error_code(client.tag_resource, ResourceARN=arn, Tags={"aws:name": "v"})[0]
    errors["bad_chars"] = error_code(client.add_tags_to_stream, StreamName=stream, Tags={"a*b": "v"})[0]
    errors["missing_stream"] = error_code(client.list_tags_for_stream, StreamName=stream + "-missing")[0]

    # Retention flow.
    client.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=168)
    check(client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 168, "retention 168")
    client.decrease_stream_retention_period(StreamARN=arn, RetentionPeriodHours=72)
    check(client.describe_stream(StreamName=stream)["StreamDescription"]["RetentionPeriodHours"] == 72, "retention 72")
    code, message = error_code(client.increase_stream_retention_period, StreamName=stream, RetentionPeriodHours=9000)
    errors["retention_too_long"] = code
    check("Maximum allowed retention period is 8760 hours" in message, message)
    errors["retention_wrong_way"] = error_code(client.decrease_stream_retention_period, StreamName=stream, RetentionPeriodHours=100)[0]

    print("SUMMARY " + json.dumps({"ok": True, "checks": CHECKS, "tag_pages": pages, "errors": errors}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report everything as a failed summary
        traceback.print_exc()
        print("SUMMARY " + json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "checks": CHECKS}), flush=True)
        sys.exit(1)
