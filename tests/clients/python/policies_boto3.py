"""IAM policies enforced through boto3 against `millrace serve --auth sigv4 --tls-port N`.

Usage: AWS_ENDPOINT_URL=http://127.0.0.1:PORT TLS_ENDPOINT=https://127.0.0.1:TLSPORT ROOT_KEY=... ROOT_SECRET=... \
       python3 policies_boto3.py
The root creates users with managed and inline policies; each user's calls are allowed or denied as IAM's
evaluation says (identity policies, explicit deny, resource policies, conditions on aws:SourceIp and
aws:SecureTransport, s3:prefix), with AWS's AccessDenied messages. Prints one line `SUMMARY {json}` on success.
"""
import io
import json
import os
import time
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = os.environ["AWS_ENDPOINT_URL"]
tls_endpoint = os.environ["TLS_ENDPOINT"]
root = (os.environ["ROOT_KEY"], os.environ["ROOT_SECRET"])
cfg = Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30)
ACCOUNT = "000000000000"
summary = {}


def client(service, key=root, url=None):
    return boto3.client(service, endpoint_url=url or endpoint, region_name="us-east-1", aws_access_key_id=key[0],
                        aws_secret_access_key=key[1], config=cfg, verify=False)


def denied(what, call, code, status, message=None):
    try:
        call()
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"{what}: expected {code} {status}, got {got}: {e.response['Error']}"
        if message is not None:
            assert e.response["Error"].get("Message") == message, f"{what}: message {e.response['Error'].get('Message')!r}"
        return
    raise AssertionError(f"{what}: expected {code}, the call was allowed")


iam = client("iam")


def user(name, managed=(), inline=None):
    iam.create_user(UserName=name)
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/" + arn)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return (key["AccessKeyId"], key["SecretAccessKey"])


def wait_active(kinesis, stream):
    for _ in range(100):
        if kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)


# The tutorial's set-up: a user with AmazonKinesisFullAccess and AmazonS3FullAccess runs the producer and consumer.
tutorial = user("tutorial", ["AmazonKinesisFullAccess", "AmazonS3FullAccess"])
k = client("kinesis", tutorial)
k.create_stream(StreamName="orders", ShardCount=1)
wait_active(k, "orders")
k.create_stream(StreamName="audit", ShardCount=1)
wait_active(k, "audit")
for i in range(5):
    k.put_record(StreamName="orders", Data=f"order-{i}".encode(), PartitionKey=str(i))
shard = k.list_shards(StreamName="orders")["Shards"][0]["ShardId"]
it = k.get_shard_iterator(StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = k.get_records(ShardIterator=it)["Records"]
assert [r["Data"] for r in got] == [f"order-{i}".encode() for i in range(5)], got
s3 = client("s3", tutorial)
s3.create_bucket(Bucket="tutorial-bucket")
s3.put_object(Bucket="tutorial-bucket", Key="reports/a.txt", Body=b"a")
s3.put_object(Bucket="tutorial-bucket", Key="private/b.txt", Body=b"b")
assert s3.get_object(Bucket="tutorial-bucket", Key="reports/a.txt")["Body"].read() == b"a"
summary["tutorial"] = len(got)
denied("tutorial user on DynamoDB", lambda: client("dynamodb", tutorial).list_tables(), "AccessDeniedException", 400,
       f"User: arn:aws:iam::{ACCOUNT}:user/tutorial is not authorized to perform: dynamodb:ListTables on resource: * because no identity-based policy allows the dynamodb:ListTables action")

# Without policies, every service denies, in its own protocol.
nobody = user("nobody")
stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders"
denied("nobody PutRecord", lambda: client("kinesis", nobody).put_record(StreamName="orders", Data=b"x", PartitionKey="p"),
       "AccessDeniedException", 400,
       f"User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: kinesis:PutRecord on resource: {stream_arn} because no identity-based policy allows the kinesis:PutRecord action")
denied("nobody S3 GetObject", lambda: client("s3", nobody).get_object(Bucket="tutorial-bucket", Key="reports/a.txt"), "AccessDenied", 403,
       f"User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::tutorial-bucket/reports/a.txt because no identity-based policy allows the s3:GetObject action")
denied("nobody Lambda", lambda: client("lambda", nobody).list_functions(), "AccessDeniedException", 403)
denied("nobody Firehose", lambda: client("firehose", nobody).list_delivery_streams(), "AccessDeniedException", 400)
denied("nobody Logs", lambda: client("logs", nobody).describe_log_groups(), "AccessDeniedException", 400)
denied("nobody Glue", lambda: client("glue", nobody).get_databases(), "AccessDeniedException", 400)
denied("nobody IAM", lambda: client("iam", nobody).list_users(), "AccessDenied", 403)
assert client("sts", nobody).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/nobody"  # needs no permission

# Read-only: describe and read, not write.
reader = user("reader", ["AmazonKinesisReadOnlyAccess", "AmazonS3ReadOnlyAccess"])
client("kinesis", reader).describe_stream_summary(StreamName="orders")
denied("reader PutRecord", lambda: client("kinesis", reader).put_record(StreamName="orders", Data=b"x", PartitionKey="p"), "AccessDeniedException", 400)
assert client("s3", reader).get_object(Bucket="tutorial-bucket", Key="reports/a.txt")["Body"].read() == b"a"
denied("reader PutObject", lambda: client("s3", reader).put_object(Bucket="tutorial-bucket", Key="x", Body=b"x"), "AccessDenied", 403)

# An explicit deny wins over an allow.
denier = user("denier", ["AmazonKinesisFullAccess"], {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "kinesis:PutRecord", "Resource": stream_arn}]})
client("kinesis", denier).put_record(StreamName="audit", Data=b"x", PartitionKey="p")
denied("explicit deny", lambda: client("kinesis", denier).put_record(StreamName="orders", Data=b"x", PartitionKey="p"), "AccessDeniedException", 400,
       f"User: arn:aws:iam::{ACCOUNT}:user/denier is not authorized to perform: kinesis:PutRecord on resource: {stream_arn} with an explicit deny in an identity-based policy")

# Resources with wildcards, and NotAction.
scoped = user("scoped", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["kinesis:Put*", "kinesis:Describe*"], "Resource": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/ord*"},
    {"Effect": "Allow", "NotAction": ["s3:Delete*", "s3:Put*"], "Resource": ["arn:aws:s3:::tutorial-bucket", "arn:aws:s3:::tutorial-bucket/*"]}]})
client("kinesis", scoped).put_record(StreamName="orders", Data=b"x", PartitionKey="p")
# GetRecords names its stream only in the shard iterator: a consumer scoped to one stream reads it.
consumer = user("consumer", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"], "Resource": stream_arn}]})
ck = client("kinesis", consumer)
cit = ck.get_shard_iterator(StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
assert len(ck.get_records(ShardIterator=cit)["Records"]) >= 5
audit_shard = client("kinesis").list_shards(StreamName="audit")["Shards"][0]["ShardId"]
audit_it = client("kinesis").get_shard_iterator(StreamName="audit", ShardId=audit_shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
denied("GetRecords on another stream's iterator", lambda: ck.get_records(ShardIterator=audit_it), "AccessDeniedException", 400)
denied("scoped other stream", lambda: client("kinesis", scoped).put_record(StreamName="audit", Data=b"x", PartitionKey="p"), "AccessDeniedException", 400)
client("s3", scoped).get_object(Bucket="tutorial-bucket", Key="private/b.txt")
denied("NotAction", lambda: client("s3", scoped).delete_object(Bucket="tutorial-bucket", Key="private/b.txt"), "AccessDenied", 403)

# Conditions: aws:SourceIp (the tests run on 127.0.0.1), aws:SecureTransport, s3:prefix.
ip_ok = user("ip-ok", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]})
client("kinesis", ip_ok).list_streams()
ip_no = user("ip-no", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}]})
denied("SourceIp outside", lambda: client("kinesis", ip_no).list_streams(), "AccessDeniedException", 400)
not_ip = user("not-ip", ["AmazonKinesisFullAccess"], {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "kinesis:*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]})
denied("NotIpAddress deny", lambda: client("kinesis", not_ip).list_streams(), "AccessDeniedException", 400)
tls_only = user("tls-only", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]})
denied("SecureTransport over http", lambda: client("kinesis", tls_only).list_streams(), "AccessDeniedException", 400)
client("kinesis", tls_only, tls_endpoint).list_streams()
prefixed = user("prefixed", inline={"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::tutorial-bucket", "Condition": {"StringLike": {"s3:prefix": ["reports/*"]}}},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tutorial-bucket/${aws:username}/*"}]})
assert [o["Key"] for o in client("s3", prefixed).list_objects_v2(Bucket="tutorial-bucket", Prefix="reports/")["Contents"]] == ["reports/a.txt"]
denied("s3:prefix outside", lambda: client("s3", prefixed).list_objects_v2(Bucket="tutorial-bucket", Prefix="private/"), "AccessDenied", 403)
client("s3").put_object(Bucket="tutorial-bucket", Key="prefixed/own.txt", Body=b"mine")
assert client("s3", prefixed).get_object(Bucket="tutorial-bucket", Key="prefixed/own.txt")["Body"].read() == b"mine"  # ${aws:username}
denied("policy variable", lambda: client("s3", prefixed).get_object(Bucket="tutorial-bucket", Key="private/b.txt"), "AccessDenied", 403)

# Resource-based policies: a stream policy and a bucket policy grant a user with no identity policy.
guest = user("guest")
guest_arn = f"arn:aws:iam::{ACCOUNT}:user/guest"
client("kinesis").put_resource_policy(ResourceARN=stream_arn, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": guest_arn}, "Action": ["kinesis:PutRecord", "kinesis:DescribeStreamSummary"], "Resource": stream_arn}]}))
client("kinesis", guest).put_record(StreamName="orders", Data=b"from-guest", PartitionKey="g")
denied("guest on another stream", lambda: client("kinesis", guest).put_record(StreamName="audit", Data=b"x", PartitionKey="p"), "AccessDeniedException", 400)
client("s3").put_bucket_policy(Bucket="tutorial-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": guest_arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tutorial-bucket/reports/*"},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::tutorial-bucket/*"}]}))
assert json.loads(client("s3").get_bucket_policy(Bucket="tutorial-bucket")["Policy"])["Statement"][0]["Principal"]["AWS"] == guest_arn
assert client("s3", guest).get_object(Bucket="tutorial-bucket", Key="reports/a.txt")["Body"].read() == b"a"
denied("bucket policy scope", lambda: client("s3", guest).get_object(Bucket="tutorial-bucket", Key="private/b.txt"), "AccessDenied", 403)
denied("bucket policy deny beats FullAccess", lambda: client("s3", tutorial).delete_object(Bucket="tutorial-bucket", Key="reports/a.txt"), "AccessDenied", 403,
       f"User: arn:aws:iam::{ACCOUNT}:user/tutorial is not authorized to perform: s3:DeleteObject on resource: arn:aws:s3:::tutorial-bucket/reports/a.txt with an explicit deny in a resource-based policy")
denied("bucket policy deny applies to root", lambda: client("s3").delete_object(Bucket="tutorial-bucket", Key="reports/a.txt"), "AccessDenied", 403)
client("s3").delete_bucket_policy(Bucket="tutorial-bucket")
summary["resource_policies"] = "ok"

# Roles: AssumeRole needs the trust policy; the session acts with the role's policies.
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="writer", AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="writer", PolicyName="put", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": stream_arn}]}))
role_arn = f"arn:aws:iam::{ACCOUNT}:role/writer"
denied("account trust without identity allow", lambda: client("sts", nobody).assume_role(RoleArn=role_arn, RoleSessionName="xx"), "AccessDenied", 403)
assumer = user("assumer", inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]})
creds = client("sts", assumer).assume_role(RoleArn=role_arn, RoleSessionName="job")["Credentials"]
session = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"], config=cfg)
session.put_record(StreamName="orders", Data=b"from-role", PartitionKey="r")
denied("role session outside its policy", lambda: session.put_record(StreamName="audit", Data=b"x", PartitionKey="p"), "AccessDeniedException", 400,
       f"User: arn:aws:sts::{ACCOUNT}:assumed-role/writer/job is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/audit because no identity-based policy allows the kinesis:PutRecord action")
denied("root may not assume roles", lambda: client("sts").assume_role(RoleArn=role_arn, RoleSessionName="xx"), "AccessDenied", 403)
summary["roles"] = "ok"

# Lambda: a function's code gets its execution role's temporary credentials, and its calls are authorized as the role.
lambda_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="fn-writer", AssumeRolePolicyDocument=json.dumps(lambda_trust))
iam.attach_role_policy(RoleName="fn-writer", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisFullAccess")
iam.create_role(RoleName="fn-nothing", AssumeRolePolicyDocument=json.dumps(lambda_trust))
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("app.py", "import boto3\n"
               "def handler(event, context):\n"
               "    who = boto3.client('sts').get_caller_identity()['Arn']\n"
               "    boto3.client('kinesis').put_record(StreamName='orders', Data=b'from-lambda', PartitionKey='l')\n"
               "    return who\n")
functions = client("lambda")
for role in ("fn-writer", "fn-nothing"):
    functions.create_function(FunctionName=role, Runtime="python3.11", Handler="app.handler", Code={"ZipFile": code.getvalue()},
                              Role=f"arn:aws:iam::{ACCOUNT}:role/{role}", Timeout=30)
ok = functions.invoke(FunctionName="fn-writer", Payload=b"{}")
assert "FunctionError" not in ok, ok["Payload"].read()
assert json.loads(ok["Payload"].read()) == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-writer/millrace-lambda"
bad = functions.invoke(FunctionName="fn-nothing", Payload=b"{}")
error = bad["Payload"].read().decode()
assert bad.get("FunctionError") == "Unhandled" and "AccessDeniedException" in error, error
summary["lambda_role"] = "ok"

# Firehose delivers as the destination's RoleARN: without s3:PutObject nothing is written (S3.AccessDenied, retried);
# once the role may write, the retried delivery lands.
iam.create_role(RoleName="firehose-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
client("s3").create_bucket(Bucket="firehose-out")
firehose = client("firehose")
firehose.create_delivery_stream(DeliveryStreamName="as-role", DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration={
    "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose-role", "BucketARN": "arn:aws:s3:::firehose-out",
    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
for _ in range(100):
    if firehose.describe_delivery_stream(DeliveryStreamName="as-role")["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
        break
    time.sleep(0.1)
firehose.put_record(DeliveryStreamName="as-role", Record={"Data": b"delivered as the role\n"})
time.sleep(2)
assert "Contents" not in client("s3").list_objects_v2(Bucket="firehose-out"), "written without s3:PutObject"
iam.put_role_policy(RoleName="firehose-role", PolicyName="write", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::firehose-out/*"}]}))
objects = []
for _ in range(300):
    objects = client("s3").list_objects_v2(Bucket="firehose-out").get("Contents", [])
    if objects:
        break
    time.sleep(0.1)
assert objects, "the retried delivery did not land once the role may write"
body = client("s3").get_object(Bucket="firehose-out", Key=objects[0]["Key"])["Body"].read()
assert body == b"delivered as the role\n", body
summary["firehose_role"] = "ok"


def eventually(what, probe, tries=300, pause=0.1):
    for _ in range(tries):
        value = probe()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"{what}: not seen in {tries * pause:.0f} s")


# Event-source mappings read their stream as the function's execution role: a role that may not read the stream is
# refused at creation with Lambda's message; a mapping whose role loses its Kinesis permissions stops reading and says why.
denied("mapping whose role cannot read", lambda: functions.create_event_source_mapping(
    FunctionName="fn-nothing", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/audit", StartingPosition="LATEST"),
    "InvalidParameterValueException", 400,
    f"Cannot access stream arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/audit. Please ensure the role can perform the GetRecords, "
    "GetShardIterator, DescribeStream, ListShards Actions on your stream in IAM.")
mapping = functions.create_event_source_mapping(FunctionName="fn-writer", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/audit",
                                                StartingPosition="TRIM_HORIZON", BatchSize=10)["UUID"]
client("kinesis").put_record(StreamName="audit", Data=b"for the mapping", PartitionKey="m")
eventually("mapping processed as its role",
           lambda: functions.get_event_source_mapping(UUID=mapping)["LastProcessingResult"] == "OK")
iam.detach_role_policy(RoleName="fn-writer", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisFullAccess")
problem = eventually("mapping whose role lost kinesis:GetRecords", lambda: (lambda r: r if r.startswith("PROBLEM: Lambda is unable to read") else None)(
    functions.get_event_source_mapping(UUID=mapping)["LastProcessingResult"]))
assert f"assumed-role/fn-writer/millrace is not authorized to perform: kinesis:" in problem, problem
functions.delete_event_source_mapping(UUID=mapping)

# A batch given up on goes to the on-failure bucket as the execution role: a role that may read the stream but not
# s3:PutObject writes nothing there and says so; once it may, the next failed batch is written.
iam.create_role(RoleName="fn-reader", AssumeRolePolicyDocument=json.dumps(lambda_trust))
iam.attach_role_policy(RoleName="fn-reader", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess")
functions.create_function(FunctionName="fn-reader", Runtime="python3.11", Handler="app.handler", Code={"ZipFile": code.getvalue()},
                          Role=f"arn:aws:iam::{ACCOUNT}:role/fn-reader", Timeout=30)
client("s3").create_bucket(Bucket="mapping-failures")
mapping = functions.create_event_source_mapping(
    FunctionName="fn-reader", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/audit", StartingPosition="LATEST", BatchSize=10,
    MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::mapping-failures"}})["UUID"]
eventually("mapping enabled", lambda: functions.get_event_source_mapping(UUID=mapping)["State"] == "Enabled")
client("kinesis").put_record(StreamName="audit", Data=b"fails: the role may not put", PartitionKey="m")
problem = eventually("on-failure write refused", lambda: (lambda r: r if "on-failure destination" in r else None)(
    functions.get_event_source_mapping(UUID=mapping)["LastProcessingResult"]))
assert "assumed-role/fn-reader/millrace is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::mapping-failures/aws/lambda/" in problem, problem
assert "Contents" not in client("s3").list_objects_v2(Bucket="mapping-failures")
iam.attach_role_policy(RoleName="fn-reader", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
client("kinesis").put_record(StreamName="audit", Data=b"fails again", PartitionKey="m")
written = eventually("on-failure record once the role may write", lambda: client("s3").list_objects_v2(Bucket="mapping-failures").get("Contents"))
invocation = json.loads(client("s3").get_object(Bucket="mapping-failures", Key=written[0]["Key"])["Body"].read())
assert invocation["requestContext"]["condition"] == "RetryAttemptsExhausted", invocation["requestContext"]
functions.delete_event_source_mapping(UUID=mapping)
summary["mapping_role"] = "ok"

# A Kinesis-sourced delivery stream reads its source as the source's RoleARN: without kinesis:GetRecords nothing is read
# (the records wait in the stream); once the role may read, they are delivered.
iam.create_role(RoleName="firehose-reader", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
firehose.create_delivery_stream(DeliveryStreamName="from-stream", DeliveryStreamType="KinesisStreamAsSource",
    KinesisStreamSourceConfiguration={"KinesisStreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders",
                                      "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose-reader"},
    ExtendedS3DestinationConfiguration={"RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose-role", "BucketARN": "arn:aws:s3:::firehose-out",
                                        "Prefix": "from-stream/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
eventually("source stream ACTIVE", lambda: firehose.describe_delivery_stream(DeliveryStreamName="from-stream")[
    "DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE")
client("kinesis").put_record(StreamName="orders", Data=b"read as the source role\n", PartitionKey="f")
time.sleep(2)
assert "Contents" not in client("s3").list_objects_v2(Bucket="firehose-out", Prefix="from-stream/"), "read without kinesis:GetRecords"
iam.attach_role_policy(RoleName="firehose-reader", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess")
landed = eventually("source read once the role may", lambda: client("s3").list_objects_v2(Bucket="firehose-out", Prefix="from-stream/").get("Contents"))
body = client("s3").get_object(Bucket="firehose-out", Key=landed[0]["Key"])["Body"].read()
assert b"read as the source role\n" in body, body
summary["firehose_source_role"] = "ok"

# A Lambda transformation is invoked as the destination's role: without lambda:InvokeFunction the records go to the
# error output as processing-failed with Firehose's Lambda.InvokeAccessDenied.
fn_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn-writer"
firehose.create_delivery_stream(DeliveryStreamName="transform-as-role", DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration={
    "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose-role", "BucketARN": "arn:aws:s3:::firehose-out", "Prefix": "transformed/",
    "ErrorOutputPrefix": "errors/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
    "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": fn_arn}, {"ParameterName": "NumberOfRetries", "ParameterValue": "0"}]}]}})
eventually("transforming stream ACTIVE", lambda: firehose.describe_delivery_stream(DeliveryStreamName="transform-as-role")[
    "DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE")
firehose.put_record(DeliveryStreamName="transform-as-role", Record={"Data": b"not transformed"})
failed = eventually("processing-failed output", lambda: client("s3").list_objects_v2(Bucket="firehose-out", Prefix="errors/").get("Contents"))
error = json.loads(client("s3").get_object(Bucket="firehose-out", Key=failed[0]["Key"])["Body"].read().splitlines()[0])
assert error["errorCode"] == "Lambda.InvokeAccessDenied", error
assert f"not authorized to perform: lambda:InvokeFunction on resource: {fn_arn}" in error["errorMessage"], error
assert "Contents" not in client("s3").list_objects_v2(Bucket="firehose-out", Prefix="transformed/")
summary["firehose_transform_role"] = "ok"

print("SUMMARY " + json.dumps(summary))
