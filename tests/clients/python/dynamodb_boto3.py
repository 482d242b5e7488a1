#!/usr/bin/env python3
"""boto3 DynamoDB checks against Millrace's DynamoDB endpoint: a KCL-style lease table flow and the API around it.

    python3 tests/clients/python/dynamodb_boto3.py <dynamodb-endpoint> <table-prefix>

Lease flow (as the KCL writes it, see ecosystem-specs 2.1-2.2): create the lease table (HASH leaseKey, GSI
LeaseOwnerToLeaseKeyIndex), create leases with attribute_not_exists(leaseKey), take them with a condition on
leaseCounter (SET counter + 1, SET leaseOwner, ADD ownerSwitchesSinceCheckpoint, REMOVE checkpointOwner), renew,
lose a race (ConditionalCheckFailedException, HTTP 400), evict (REMOVE leaseOwner, ADD leaseCounter), checkpoint,
and the same take with the legacy Expected/AttributeUpdates parameters the Java KCL uses. Then: scan and query
paging (Limit/ExclusiveStartKey), the GSI, a composite-key table, ReturnValues, Select COUNT, projections, batches and the
error codes and messages.

Prints one JSON line starting with "SUMMARY " and exits 0 only if every check held.
"""

import json
import sys
import traceback

import boto3
import botocore.config
from botocore.exceptions import ClientError

CHECKS = 0


class CheckFailed(Exception):
    pass


def check(cond, message):
    global CHECKS
    if not cond:
        raise CheckFailed(message)
    CHECKS += 1


def log(*args):
    print("[dynamodb-boto3]", *args, flush=True)


def client_for(endpoint):
    cfg = botocore.config.Config(region_name="us-east-1", retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("dynamodb", endpoint_url=endpoint, config=cfg)


def expect_error(fn, code, message_part=None, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        msg = e.response["Error"].get("Message", "")
        check(got == code, f"expected {code}, got {got}: {msg}")
        check(status == 400, f"{code} should be HTTP 400, got {status}")
        if message_part is not None:
            check(message_part in msg, f"{code} message {msg!r} should contain {message_part!r}")
        return {"code": got, "message": msg}
    raise CheckFailed(f"expected {code}, the call succeeded")


def all_pages(fn, **kwargs):
    """Follows LastEvaluatedKey; returns (items, pages)."""
    items, pages, start = [], 0, None
    while True:
        args = dict(kwargs)
        if start is not None:
            args["ExclusiveStartKey"] = start
        page = fn(**args)
        pages += 1
        items.extend(page.get("Items", []))
        check(page["Count"] == len(page.get("Items", [])), "Count equals the number of items")
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items, pages
        check(pages < 1000, "paging terminates")


def lease_flow(ddb, table, summary):
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "leaseKey", "AttributeType": "S"},
            {"AttributeName": "leaseOwner", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{
            "IndexName": "LeaseOwnerToLeaseKeyIndex",
            "KeySchema": [
                {"AttributeName": "leaseOwner", "KeyType": "HASH"},
                {"AttributeName": "leaseKey", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    desc = ddb.describe_table(TableName=table)["Table"]
    check(desc["TableStatus"] == "ACTIVE", "table ACTIVE")
    check(desc["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}], "key schema")
    check(desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", "billing mode")
    check(desc["GlobalSecondaryIndexes"][0]["IndexName"] == "LeaseOwnerToLeaseKeyIndex", "GSI described")
    check(desc["TableArn"].endswith(":table/" + table), "table ARN")
    expect_error(ddb.create_table, "ResourceInUseException", "Table already exists", TableName=table,
                 AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")

    n = 30
    keys = [f"shardId-{i:012d}" for i in range(n)]
    for i, key in enumerate(keys):
        item = {
            "leaseKey": {"S": key},
            "leaseCounter": {"N": "0"},
            "checkpoint": {"S": "TRIM_HORIZON"},
            "checkpointSubSequenceNumber": {"N": "0"},
            "ownerSwitchesSinceCheckpoint": {"N": "0"},
            "startingHashKey": {"S": str(i * 1000)},
            "endingHashKey": {"S": str(i * 1000 + 999)},
        }
        if i > 0:
            item["parentShardId"] = {"SS": [keys[i - 1]]}
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(leaseKey)")
    dup = expect_error(ddb.put_item, "ConditionalCheckFailedException", "The conditional request failed", TableName=table,
                       Item={"leaseKey": {"S": keys[0]}, "leaseCounter": {"N": "0"}},
                       ConditionExpression="attribute_not_exists(leaseKey)")
    summary["errors"]["duplicate_lease"] = dup["code"]

    # Take: the KCL's conditional write on leaseCounter.
    owners = ["worker-a", "worker-b", "worker-c"]
    for i, key in enumerate(keys):
        out = ddb.update_item(
            TableName=table, Key={"leaseKey": {"S": key}},
            UpdateExpression="SET leaseCounter = leaseCounter + :one, leaseOwner = :owner ADD ownerSwitchesSinceCheckpoint :one REMOVE checkpointOwner",
            ConditionExpression="leaseCounter = :expected",
            ExpressionAttributeValues={":one": {"N": "1"}, ":owner": {"S": owners[i % 3]}, ":expected": {"N": "0"}},
            ReturnValues="ALL_NEW")
        attrs = out["Attributes"]
        check(attrs["leaseCounter"] == {"N": "1"}, "take bumps leaseCounter")
        check(attrs["leaseOwner"] == {"S": owners[i % 3]}, "take sets leaseOwner")
        check(attrs["ownerSwitchesSinceCheckpoint"] == {"N": "1"}, "ADD on a number")
        check(attrs["checkpoint"] == {"S": "TRIM_HORIZON"}, "untouched attributes kept")

    # A second worker racing on the old counter loses.
    lost = expect_error(ddb.update_item, "ConditionalCheckFailedException", None, TableName=table, Key={"leaseKey": {"S": keys[0]}},
                        UpdateExpression="SET leaseCounter = leaseCounter + :one, leaseOwner = :owner",
                        ConditionExpression="leaseCounter = :expected",
                        ExpressionAttributeValues={":one": {"N": "1"}, ":owner": {"S": "thief"}, ":expected": {"N": "0"}})
    summary["errors"]["lost_race"] = lost["code"]
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[0]}}, ConsistentRead=True)["Item"]
    check(item["leaseOwner"] == {"S": "worker-a"} and item["leaseCounter"] == {"N": "1"}, "a failed condition writes nothing")

    # ReturnValuesOnConditionCheckFailure gives the item that failed the check.
    try:
        ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET leaseCounter = :x",
                        ConditionExpression="leaseCounter = :expected", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                        ExpressionAttributeValues={":x": {"N": "9"}, ":expected": {"N": "7"}})
        raise CheckFailed("condition should have failed")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "ConditionalCheckFailedException", "CCF with ALL_OLD")
        check(e.response.get("Item", {}).get("leaseCounter") == {"N": "1"}, "CCF carries the item")

    # Renew: counter + 1 under the expected counter, 5 times.
    for expected in range(1, 6):
        ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[1]}},
                        UpdateExpression="SET leaseCounter = leaseCounter + :one",
                        ConditionExpression="leaseCounter = :c AND leaseOwner = :owner",
                        ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"N": str(expected)}, ":owner": {"S": "worker-b"}})
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[1]}})["Item"]
    check(item["leaseCounter"] == {"N": "6"}, f"renewed counter is 6: {item['leaseCounter']}")

    # Evict: expect the owner; REMOVE leaseOwner; ADD 1 to leaseCounter.
    out = ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[2]}},
                          UpdateExpression="REMOVE leaseOwner ADD leaseCounter :one",
                          ConditionExpression="leaseOwner = :owner",
                          ExpressionAttributeValues={":one": {"N": "1"}, ":owner": {"S": "worker-c"}},
                          ReturnValues="UPDATED_NEW")
    check(out["Attributes"] == {"leaseCounter": {"N": "2"}}, f"UPDATED_NEW after evict: {out['Attributes']}")
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[2]}})["Item"]
    check("leaseOwner" not in item, "evicted lease has no owner")
    expect_error(ddb.update_item, "ConditionalCheckFailedException", None, TableName=table, Key={"leaseKey": {"S": keys[2]}},
                 UpdateExpression="REMOVE leaseOwner", ConditionExpression="leaseOwner = :owner",
                 ExpressionAttributeValues={":owner": {"S": "worker-c"}})

    # Checkpoint: pending fields with a binary state, then cleared.
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[3]}},
                    UpdateExpression="SET checkpoint = :seq, checkpointSubSequenceNumber = :zero, ownerSwitchesSinceCheckpoint = :zero, "
                                     "pendingCheckpoint = :pseq, pendingCheckpointState = :state, leaseCounter = leaseCounter + :one",
                    ConditionExpression="leaseCounter = :c",
                    ExpressionAttributeValues={":seq": {"S": "49590338271490256608559692538361571095921575989136588898"},
                                               ":pseq": {"S": "49590338271490256608559692538361571095921575989136588899"},
                                               ":state": {"B": b"\x00\x01state\xff"}, ":zero": {"N": "0"}, ":one": {"N": "1"},
                                               ":c": {"N": "1"}})
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[3]}})["Item"]
    check(item["pendingCheckpointState"] == {"B": b"\x00\x01state\xff"}, "binary attribute round trip")
    check(item["ownerSwitchesSinceCheckpoint"] == {"N": "0"}, "checkpoint resets owner switches")
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[3]}}, UpdateExpression="REMOVE pendingCheckpoint, pendingCheckpointState")
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[3]}})["Item"]
    check("pendingCheckpoint" not in item and "pendingCheckpointState" not in item, "REMOVE of two attributes")

    # Child shards as a string set: ADD then DELETE elements.
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[4]}}, UpdateExpression="ADD childShardIds :kids",
                    ExpressionAttributeValues={":kids": {"SS": ["shardId-a", "shardId-b"]}})
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[4]}}, UpdateExpression="ADD childShardIds :kids",
                    ExpressionAttributeValues={":kids": {"SS": ["shardId-b", "shardId-c"]}})
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[4]}}, UpdateExpression="DELETE childShardIds :gone",
                    ExpressionAttributeValues={":gone": {"SS": ["shardId-a"]}})
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[4]}})["Item"]
    check(sorted(item["childShardIds"]["SS"]) == ["shardId-b", "shardId-c"], f"set ADD/DELETE: {item['childShardIds']}")

    # The Java KCL's legacy form: Expected + AttributeUpdates.
    ddb.update_item(TableName=table, Key={"leaseKey": {"S": keys[5]}},
                    Expected={"leaseCounter": {"Value": {"N": "1"}, "Exists": True}},
                    AttributeUpdates={"leaseCounter": {"Value": {"N": "2"}, "Action": "PUT"},
                                      "leaseOwner": {"Value": {"S": "worker-legacy"}, "Action": "PUT"},
                                      "ownerSwitchesSinceCheckpoint": {"Value": {"N": "1"}, "Action": "ADD"},
                                      "checkpointOwner": {"Action": "DELETE"}})
    item = ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[5]}})["Item"]
    check(item["leaseOwner"] == {"S": "worker-legacy"} and item["ownerSwitchesSinceCheckpoint"] == {"N": "2"}, "legacy take")
    expect_error(ddb.update_item, "ConditionalCheckFailedException", None, TableName=table, Key={"leaseKey": {"S": keys[5]}},
                 Expected={"leaseCounter": {"Value": {"N": "1"}, "Exists": True}},
                 AttributeUpdates={"leaseCounter": {"Value": {"N": "3"}, "Action": "PUT"}})
    ddb.put_item(TableName=table, Item={"leaseKey": {"S": "legacy-new"}, "leaseCounter": {"N": "0"}},
                 Expected={"leaseKey": {"Exists": False}})
    expect_error(ddb.put_item, "ConditionalCheckFailedException", None, TableName=table,
                 Item={"leaseKey": {"S": "legacy-new"}}, Expected={"leaseKey": {"Exists": False}})
    ddb.delete_item(TableName=table, Key={"leaseKey": {"S": "legacy-new"}})

    # Scan paging: every lease exactly once over pages of 7.
    items, pages = all_pages(ddb.scan, TableName=table, Limit=7)
    got = sorted(i["leaseKey"]["S"] for i in items)
    check(got == sorted(keys), f"scan pages hold every lease once ({len(got)})")
    check(pages >= 5, f"scan paged ({pages} pages)")
    summary["scan_pages"] = pages
    owned, _ = all_pages(ddb.scan, TableName=table, FilterExpression="attribute_exists(leaseOwner)", Limit=4)
    check(len(owned) == n - 1, f"filtered scan: {len(owned)}")
    count = ddb.scan(TableName=table, Select="COUNT")
    check(count["Count"] == n and "Items" not in count, "Select COUNT")
    proj = ddb.scan(TableName=table, ProjectionExpression="leaseKey, #o", ExpressionAttributeNames={"#o": "leaseOwner"})
    check(all(set(i) <= {"leaseKey", "leaseOwner"} for i in proj["Items"]), "ProjectionExpression")

    # GSI: each owner's leases (KEYS_ONLY projection), paged.
    per_owner = {}
    for owner in owners + ["worker-legacy"]:
        got, pages = all_pages(ddb.query, TableName=table, IndexName="LeaseOwnerToLeaseKeyIndex",
                               KeyConditionExpression="leaseOwner = :o", ExpressionAttributeValues={":o": {"S": owner}}, Limit=3)
        check(all(set(i) == {"leaseKey", "leaseOwner"} for i in got), "KEYS_ONLY projection")
        lk = [i["leaseKey"]["S"] for i in got]
        check(lk == sorted(lk), "GSI query is ordered by its range key")
        per_owner[owner] = len(got)
    check(sum(per_owner.values()) == n - 1, f"GSI holds every owned lease: {per_owner}")
    summary["gsi"] = per_owner
    got = ddb.query(TableName=table, IndexName="LeaseOwnerToLeaseKeyIndex",
                    KeyConditionExpression="leaseOwner = :o AND begins_with(leaseKey, :p)",
                    ExpressionAttributeValues={":o": {"S": "worker-a"}, ":p": {"S": "shardId-00000000000"}})
    check(got["Count"] == len([k for i, k in enumerate(keys[:10]) if i % 3 == 0 and i != 5]), f"GSI begins_with: {got['Count']}")

    # Errors.
    summary["errors"]["missing_table"] = expect_error(ddb.get_item, "ResourceNotFoundException", "Requested resource not found",
                                                      TableName=table + "-missing", Key={"leaseKey": {"S": "x"}})["code"]
    expect_error(ddb.describe_table, "ResourceNotFoundException", "not found", TableName=table + "-missing")
    summary["errors"]["syntax"] = expect_error(ddb.update_item, "ValidationException", "Invalid UpdateExpression: Syntax error",
                                               TableName=table, Key={"leaseKey": {"S": keys[0]}},
                                               UpdateExpression="SET leaseCounter = = :one", ExpressionAttributeValues={":one": {"N": "1"}})["code"]
    expect_error(ddb.update_item, "ValidationException", "An expression attribute value used in expression is not defined",
                 TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET leaseCounter = :nope")
    expect_error(ddb.update_item, "ValidationException", "Value provided in ExpressionAttributeValues unused in expressions",
                 TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET leaseCounter = :one",
                 ExpressionAttributeValues={":one": {"N": "1"}, ":two": {"N": "2"}})
    expect_error(ddb.update_item, "ValidationException", "reserved keyword: status",
                 TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET status = :one",
                 ExpressionAttributeValues={":one": {"N": "1"}})
    expect_error(ddb.update_item, "ValidationException", "Cannot update attribute leaseKey. This attribute is part of the key",
                 TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET leaseKey = :k",
                 ExpressionAttributeValues={":k": {"S": "other"}})
    expect_error(ddb.update_item, "ValidationException", "An operand in the update expression has an incorrect data type",
                 TableName=table, Key={"leaseKey": {"S": keys[0]}}, UpdateExpression="SET checkpoint = checkpoint + :one",
                 ExpressionAttributeValues={":one": {"N": "1"}})
    expect_error(ddb.get_item, "ValidationException", "The provided key element does not match the schema",
                 TableName=table, Key={"leaseKey": {"N": "1"}})
    expect_error(ddb.put_item, "ValidationException", "Missing the key leaseKey in the item",
                 TableName=table, Item={"leaseOwner": {"S": "x"}})
    expect_error(ddb.query, "ValidationException", "Query condition missed key schema element",
                 TableName=table, KeyConditionExpression="leaseCounter = :c", ExpressionAttributeValues={":c": {"N": "1"}})

    # Delete with ALL_OLD, then the table.
    old = ddb.delete_item(TableName=table, Key={"leaseKey": {"S": keys[-1]}}, ReturnValues="ALL_OLD")["Attributes"]
    check(old["leaseKey"] == {"S": keys[-1]}, "DeleteItem ALL_OLD")
    check("Item" not in ddb.get_item(TableName=table, Key={"leaseKey": {"S": keys[-1]}}), "deleted item is gone")
    check(ddb.scan(TableName=table, Select="COUNT")["Count"] == n - 1, "count after delete")


def composite_table(ddb, table, summary):
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    values = [-1000, -2.5, -1, 0, 0.5, 1, 2, 9, 10, 11, 100, 1e20, 123456789012345678901234567890]
    for v in values:
        for pk in ("p1", "p2"):
            ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"N": repr(v) if isinstance(v, float) else str(v)}, "v": {"N": "1"}})
    got, pages = all_pages(ddb.query, TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}}, Limit=4)
    nums = [float(i["sk"]["N"]) for i in got]
    check(nums == sorted(float(v) for v in values), f"range keys in numeric order: {nums}")
    check(pages >= 3, "query paged")
    back, _ = all_pages(ddb.query, TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}},
                        ScanIndexForward=False, Limit=5)
    check([float(i["sk"]["N"]) for i in back] == list(reversed(nums)), "ScanIndexForward=False")
    between = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
                        ExpressionAttributeValues={":p": {"S": "p2"}, ":lo": {"N": "-1"}, ":hi": {"N": "10"}})
    check([float(i["sk"]["N"]) for i in between["Items"]] == [-1, 0, 0.5, 1, 2, 9, 10], "BETWEEN on N")
    gt = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk > :x", ExpressionAttributeValues={":p": {"S": "p2"}, ":x": {"N": "9"}},
                   Select="COUNT")
    check(gt["Count"] == 5, f"sk > 9: {gt['Count']}")
    filt = ddb.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression="sk IN (:a, :b) OR size(pk) > :big",
                     ExpressionAttributeValues={":p": {"S": "p1"}, ":a": {"N": "2"}, ":b": {"N": "10.0"}, ":big": {"N": "5"}})
    check(filt["Count"] == 2 and filt["ScannedCount"] == len(values), "FilterExpression with IN and size()")
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "1E1"}})["Item"]
    check(item["sk"] == {"N": "10"}, f"numbers are canonical: {item['sk']}")
    # Nested documents and list_append / if_not_exists.
    ddb.update_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "0"}},
                    UpdateExpression="SET doc = :doc, tags = list_append(if_not_exists(tags, :empty), :t)",
                    ExpressionAttributeValues={":doc": {"M": {"a": {"M": {"b": {"N": "1"}}}, "l": {"L": [{"S": "x"}]}}},
                                               ":empty": {"L": []}, ":t": {"L": [{"S": "one"}]}})
    out = ddb.update_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "0"}},
                          UpdateExpression="SET doc.a.b = doc.a.b + :one, tags = list_append(tags, :t), doc.l[1] = :y REMOVE v",
                          ConditionExpression="attribute_type(doc, :m) AND contains(tags, :first) AND NOT begins_with(pk, :zz)",
                          ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"L": [{"S": "two"}]}, ":y": {"S": "y"},
                                                     ":m": {"S": "M"}, ":first": {"S": "one"}, ":zz": {"S": "zz"}},
                          ReturnValues="ALL_NEW")["Attributes"]
    check(out["doc"]["M"]["a"]["M"]["b"] == {"N": "2"}, "nested SET with arithmetic")
    check(out["doc"]["M"]["l"]["L"] == [{"S": "x"}, {"S": "y"}], "SET past the end of a list appends")
    check(out["tags"]["L"] == [{"S": "one"}, {"S": "two"}], "list_append")
    check("v" not in out, "REMOVE")
    proj = ddb.get_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "0"}}, ProjectionExpression="doc.a.b, tags[1]")["Item"]
    check(proj == {"doc": {"M": {"a": {"M": {"b": {"N": "2"}}}}}, "tags": {"L": [{"S": "two"}]}}, f"nested projection: {proj}")
    # Batches: puts and a delete in one BatchWriteItem, then BatchGetItem (a missing key is simply absent).
    out = ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {"pk": {"S": "batch"}, "sk": {"N": str(i)}, "v": {"S": f"b{i}"}}}} for i in range(5)
    ] + [{"DeleteRequest": {"Key": {"pk": {"S": "p2"}, "sk": {"N": "0"}}}}]})
    check(out["UnprocessedItems"] == {}, "BatchWriteItem processed everything")
    got = ddb.batch_get_item(RequestItems={table: {
        "Keys": [{"pk": {"S": "batch"}, "sk": {"N": "3"}}, {"pk": {"S": "batch"}, "sk": {"N": "99"}}, {"pk": {"S": "p2"}, "sk": {"N": "0"}}],
        "ProjectionExpression": "v"}})
    check(got["Responses"][table] == [{"v": {"S": "b3"}}] and got["UnprocessedKeys"] == {}, f"BatchGetItem: {got['Responses']}")
    summary["composite_pages"] = pages


def list_and_delete(ddb, prefix, summary):
    names, start, pages = [], None, 0
    while True:
        args = {"Limit": 1}
        if start:
            args["ExclusiveStartTableName"] = start
        page = ddb.list_tables(**args)
        pages += 1
        names.extend(page["TableNames"])
        start = page.get("LastEvaluatedTableName")
        if not start:
            break
    mine = [n for n in names if n.startswith(prefix)]
    check(len(mine) == 2, f"list_tables paging finds both tables: {mine}")
    for name in mine:
        out = ddb.delete_table(TableName=name)
        check(out["TableDescription"]["TableStatus"] == "DELETING", "DeleteTable answers DELETING")
    ddb.get_waiter("table_not_exists").wait(TableName=mine[0], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    expect_error(ddb.delete_table, "ResourceNotFoundException", None, TableName=mine[0])
    summary["list_pages"] = pages


def main():
    endpoint, prefix = sys.argv[1], sys.argv[2]
    ddb = client_for(endpoint)
    summary = {"ok": False, "errors": {}}
    try:
        lease_flow(ddb, prefix + "-leases", summary)
        composite_table(ddb, prefix + "-events", summary)
        list_and_delete(ddb, prefix, summary)
        summary["ok"] = True
    except Exception as e:  # noqa: BLE001 - report everything as a failed summary
        traceback.print_exc()
        summary["failure"] = f"{type(e).__name__}: {e}"
    summary["checks"] = CHECKS
    print("SUMMARY " + json.dumps(summary), flush=True)
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
