"""boto3 CloudWatch acceptance over every protocol the model lists (json, smithy-rpc-v2-cbor, query): PutMetricData
visible in ListMetrics and GetMetricStatistics, GetMetricData with SUM/RATE/METRICS(), AWS/Kinesis IncomingRecords after
N records, an alarm on WriteProvisionedThroughputExceeded going to ALARM under throttling (server runs --enforce-limits).

Usage: python3 cloudwatch_boto3.py ENDPOINT PREFIX
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed.
"""
import datetime
import gzip
import json
import os
import sys
import tempfile
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

from acceptance import check, err, finish

endpoint, prefix = sys.argv[1], sys.argv[2]
cfg = Config(retries={"max_attempts": 1})


def client_for(protocol):
    """A cloudwatch client that speaks one protocol: botocore's model rewritten to list only that one."""
    src = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01", "service-2.json.gz")
    model = json.loads(gzip.open(src).read())
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    root = tempfile.mkdtemp(prefix="cw-model-")
    os.makedirs(os.path.join(root, "cloudwatch", "2010-08-01"))
    with open(os.path.join(root, "cloudwatch", "2010-08-01", "service-2.json"), "w") as f:
        json.dump(model, f)
    session = botocore.session.get_session()
    session.set_config_variable("data_path", root)
    return boto3.Session(botocore_session=session).client("cloudwatch", endpoint_url=endpoint, config=cfg)


now = datetime.datetime.now(datetime.timezone.utc)
start, end = now - datetime.timedelta(minutes=10), now + datetime.timedelta(minutes=2)


def custom_metrics(protocol):
    cw = client_for(protocol)
    ns = f"{prefix}/{protocol}"
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Requests", "Dimensions": dims, "Value": 3, "Unit": "Count"},
        {"MetricName": "Requests", "Dimensions": dims, "Values": [1, 2], "Counts": [1, 2], "Unit": "Count"},
        {"MetricName": "Latency", "Dimensions": dims, "StatisticValues": {"SampleCount": 2, "Sum": 30, "Minimum": 10, "Maximum": 20}, "Unit": "Milliseconds"},
    ])
    listed = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Host"}])["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["Latency", "Requests"], listed
    stats = cw.get_metric_statistics(Namespace=ns, MetricName="Requests", Dimensions=dims, StartTime=start, EndTime=end,
                                     Period=60, Statistics=["Sum", "SampleCount", "Maximum", "Average"])
    points = stats["Datapoints"]
    assert sum(p["Sum"] for p in points) == 8 and sum(p["SampleCount"] for p in points) == 4, points
    lat = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=start, EndTime=end,
                                   Period=60, Statistics=["Average", "Minimum", "Maximum"])["Datapoints"]
    assert len(lat) == 1 and lat[0]["Average"] == 15 and lat[0]["Minimum"] == 10 and lat[0]["Unit"] == "Milliseconds", lat
    data = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "req", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Requests", "Dimensions": dims}, "Period": 60, "Stat": "Sum"}},
        {"Id": "lat", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Latency", "Dimensions": dims}, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "total", "Expression": "SUM(METRICS())"},
        {"Id": "twice", "Expression": "req * 2"},
    ])["MetricDataResults"]
    by_id = {r["Id"]: r for r in data}
    assert sum(by_id["req"]["Values"]) == 8, by_id
    assert sum(by_id["total"]["Values"]) == 38, by_id["total"]
    assert sum(by_id["twice"]["Values"]) == 16, by_id["twice"]
    assert "lat" not in by_id, by_id
    assert err(lambda: cw.put_metric_data(Namespace="AWS/Kinesis", MetricData=[{"MetricName": "x", "Value": 1}]))[0] == "InvalidParameterValue"
    assert err(lambda: cw.get_metric_statistics(Namespace=ns, MetricName="Requests", StartTime=start, EndTime=end, Period=7,
                                                Statistics=["Sum"]))[0] == "InvalidParameterValue"


def kinesis_incoming_records():
    kinesis = boto3.client("kinesis", endpoint_url=endpoint, config=cfg)
    cw = client_for("json")
    stream = f"{prefix}-in"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    kinesis.put_records(StreamName=stream, Records=[{"Data": b"r%d" % i, "PartitionKey": str(i)} for i in range(7)])
    before = datetime.datetime.now(datetime.timezone.utc)
    points = cw.get_metric_statistics(Namespace="AWS/Kinesis", MetricName="IncomingRecords", Dimensions=[{"Name": "StreamName", "Value": stream}],
                                      StartTime=start, EndTime=end, Period=60, Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in points) == 7, points
    minute = before.replace(second=0, microsecond=0)
    assert any(p["Timestamp"] in (minute, minute - datetime.timedelta(minutes=1)) for p in points), (points, minute)
    # RATE over the sum: one datapoint gives no rate, so the result has no values (and is still Complete).
    data = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                                              "Dimensions": [{"Name": "StreamName", "Value": stream}]}, "Period": 60, "Stat": "Sum"}},
        {"Id": "r", "Expression": "RATE(m)"},
    ])["MetricDataResults"]
    assert [r["StatusCode"] for r in data] == ["Complete", "Complete"], data


def throttling_alarm():
    kinesis = boto3.client("kinesis", endpoint_url=endpoint, config=cfg)
    cw = client_for("query")
    stream = f"{prefix}-thr"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    alarm = f"{prefix}-throttled"
    cw.put_metric_alarm(AlarmName=alarm, Namespace="AWS/Kinesis", MetricName="WriteProvisionedThroughputExceeded",
                        Dimensions=[{"Name": "StreamName", "Value": stream}], Statistic="Sum", Period=60, EvaluationPeriods=1,
                        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    first = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert first["StateValue"] == "INSUFFICIENT_DATA" and first["AlarmArn"].endswith(":alarm:" + alarm), first
    throttled = 0
    for _ in range(10):
        out = kinesis.put_records(StreamName=stream, Records=[{"Data": b"x" * 10, "PartitionKey": str(i)} for i in range(200)])
        throttled += out["FailedRecordCount"]
    assert throttled > 0, "nothing was throttled: is the server running with --enforce-limits?"
    deadline = time.time() + 30
    state = None
    while time.time() < deadline:
        state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
        if state["StateValue"] == "ALARM":
            break
        time.sleep(0.5)
    assert state["StateValue"] == "ALARM", state
    assert "Threshold Crossed" in state["StateReason"], state
    json.loads(state["StateReasonData"])
    assert [a["AlarmName"] for a in cw.describe_alarms(StateValue="ALARM", AlarmNamePrefix=prefix)["MetricAlarms"]] == [alarm]
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="by hand")
    cw.delete_alarms(AlarmNames=[alarm])
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []
    assert err(lambda: cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="gone"))[0] == "ResourceNotFound"


for protocol in ["json", "smithy-rpc-v2-cbor", "query"]:
    check("custom_metrics_" + protocol.replace("-", "_"), lambda p=protocol: custom_metrics(p))
check("kinesis_incoming_records", kinesis_incoming_records)
check("throttling_alarm", throttling_alarm)
finish()
