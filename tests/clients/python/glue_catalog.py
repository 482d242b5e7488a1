"""boto3 Glue Data Catalog acceptance: databases with paginators, tables with their StorageDescriptor kept verbatim,
GetTables' Expression filter and paging, UpdateTable versions, GetTableVersion(s), AWS's errors.

Usage: python3 glue_catalog.py ENDPOINT NAME_PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import sys

import boto3
from botocore.config import Config

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2].lower()
glue = boto3.client("glue", endpoint_url=endpoint, config=Config(retries={"max_attempts": 2}))
db = f"{prefix}_lake"

COLUMNS = [
    {"Name": "event_id", "Type": "string", "Comment": "the id"},
    {"Name": "ts", "Type": "timestamp"},
    {"Name": "amount", "Type": "decimal(10,2)"},
    {"Name": "tags", "Type": "array<string>"},
    {"Name": "device", "Type": "struct<os:string,version:int>"},
]


def table_input(name, columns=COLUMNS, **extra):
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet"},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": columns,
            "Location": f"s3://{prefix}-bucket/{name}/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "Parameters": {"serialization.format": "1"}},
        },
        **extra,
    }


def databases():
    for i in range(5):
        glue.create_database(DatabaseInput={"Name": f"{prefix}_many_{i}", "Description": f"number {i}"})
    pages = glue.get_paginator("get_databases").paginate(PaginationConfig={"PageSize": 2})
    names = [d["Name"] for page in pages for d in page["DatabaseList"] if d["Name"].startswith(f"{prefix}_many_")]
    assert names == [f"{prefix}_many_{i}" for i in range(5)], names
    glue.create_database(DatabaseInput={"Name": db.upper(), "Description": "the lake", "Parameters": {"owner": "data"}})
    got = glue.get_database(Name=db)["Database"]
    assert got["Name"] == db and got["Description"] == "the lake" and got["Parameters"] == {"owner": "data"}, got
    assert got["CreateTime"].year >= 2024, got
    glue.update_database(Name=db, DatabaseInput={"Name": db, "Description": "still the lake"})
    assert glue.get_database(Name=db)["Database"]["Description"] == "still the lake"
    glue.delete_database(Name=f"{prefix}_many_4")
    assert err(lambda: glue.get_database(Name=f"{prefix}_many_4")) == ("EntityNotFoundException", 400)


def tables():
    glue.create_table(DatabaseName=db, TableInput=table_input("Events"))
    t = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert t["Name"] == "events" and t["DatabaseName"] == db and t["VersionId"] == "1", t
    assert t["StorageDescriptor"]["Columns"] == COLUMNS, t["StorageDescriptor"]["Columns"]
    assert t["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"serialization.format": "1"}, t
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}] and t["TableType"] == "EXTERNAL_TABLE", t
    assert t["CreateTime"].year >= 2024 and t["UpdateTime"] >= t["CreateTime"], t


def get_tables():
    for name in ["clicks_web", "clicks_app", "orders"]:
        glue.create_table(DatabaseName=db, TableInput=table_input(name))
    pages = glue.get_paginator("get_tables").paginate(DatabaseName=db, PaginationConfig={"PageSize": 1})
    names = [t["Name"] for page in pages for t in page["TableList"]]
    assert names == ["clicks_app", "clicks_web", "events", "orders"], names
    filtered = [t["Name"] for t in glue.get_tables(DatabaseName=db, Expression="clicks*")["TableList"]]
    assert filtered == ["clicks_app", "clicks_web"], filtered
    alternation = [t["Name"] for t in glue.get_tables(DatabaseName=db, Expression="orders|events")["TableList"]]
    assert alternation == ["events", "orders"], alternation


def versions():
    columns = COLUMNS + [{"Name": "score", "Type": "double"}]
    glue.update_table(DatabaseName=db, TableInput=table_input("events", columns))
    t = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert t["VersionId"] == "2" and t["StorageDescriptor"]["Columns"][-1] == {"Name": "score", "Type": "double"}, t
    listed = glue.get_table_versions(DatabaseName=db, TableName="events")["TableVersions"]
    assert [v["VersionId"] for v in listed] == ["2", "1"], listed
    v1 = glue.get_table_version(DatabaseName=db, TableName="events", VersionId="1")["TableVersion"]
    assert v1["Table"]["StorageDescriptor"]["Columns"] == COLUMNS, v1
    assert err(lambda: glue.update_table(DatabaseName=db, VersionId="1", TableInput=table_input("events"))) == ("ConcurrentModificationException", 400)
    glue.delete_table(DatabaseName=db, Name="orders")
    assert err(lambda: glue.get_table(DatabaseName=db, Name="orders")) == ("EntityNotFoundException", 400)


def errors():
    def message(fn):
        try:
            fn()
        except glue.exceptions.ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"]["Message"]
        raise AssertionError("no error")

    assert message(lambda: glue.get_database(Name=f"{prefix}_nope")) == ("EntityNotFoundException", f"Database {prefix}_nope not found.")
    assert message(lambda: glue.create_database(DatabaseInput={"Name": db})) == ("AlreadyExistsException", "Database already exists.")
    assert message(lambda: glue.create_table(DatabaseName=db, TableInput=table_input("events"))) == ("AlreadyExistsException", "Table already exists.")
    assert message(lambda: glue.get_table(DatabaseName=db, Name="nope")) == ("EntityNotFoundException", "Table nope not found.")
    assert message(lambda: glue.get_tables(DatabaseName=f"{prefix}_nope")) == ("EntityNotFoundException", f"Database {prefix}_nope not found.")
    assert message(lambda: glue.get_table_version(DatabaseName=db, TableName="events", VersionId="99")) == ("EntityNotFoundException", "Version not found.")
    assert err(lambda: glue.create_database(DatabaseInput={"Name": "x" * 256})) == ("InvalidInputException", 400)  # boto3 checks only the minimum length
    glue.delete_database(Name=db)
    assert err(lambda: glue.get_table(DatabaseName=db, Name="events")) == ("EntityNotFoundException", 400)


check("databases", databases)
check("tables", tables)
check("get_tables", get_tables)
check("versions", versions)
check("errors", errors)
finish()
