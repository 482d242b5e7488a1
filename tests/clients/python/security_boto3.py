"""SigV4 verification through boto3, service by service, against `millrace serve --auth sigv4`.

Usage: AWS_ENDPOINT_URL=http://127.0.0.1:PORT ROOT_KEY=AKIA... ROOT_SECRET=... python3 security_boto3.py MODE
  MODE "matrix": for every service a right key works, and an unknown key, a wrong secret, a tampered body, a
    request signed 20 minutes ago and an inactive IAM key each get the service's own error code and status;
    S3 presigned URLs work until they expire.
  MODE "assume": creates a role and prints `CREDS {json}` of an AssumeRole session (900 s).
  MODE "session": with SESSION_* env and CLOCK_OFFSET seconds, expects the session's key to be expired.
Prints one line `SUMMARY {json}` on success; any failed check raises (non-zero exit).
"""
import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

mode = sys.argv[1]
endpoint = os.environ["AWS_ENDPOINT_URL"]
root = (os.environ["ROOT_KEY"], os.environ["ROOT_SECRET"])
cfg = Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30)
real_now = botocore.auth.get_current_datetime
offset = datetime.timedelta(seconds=int(os.environ.get("CLOCK_OFFSET", "0")))
botocore.auth.get_current_datetime = lambda: real_now() + offset
summary = {"mode": mode}


def client(service, key=root, token=None, config=cfg):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key[0],
                        aws_secret_access_key=key[1], aws_session_token=token, config=config)


def expect_error(what, call, code, status, message_start=None):
    try:
        call()
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"{what}: expected {code} {status}, got {got}: {e.response['Error']}"
        if message_start is not None:
            message = e.response["Error"].get("Message", "")
            assert message.startswith(message_start), f"{what}: message {message!r}"
        return e.response
    raise AssertionError(f"{what}: expected {code}, the call succeeded")


# A cheap call per service, and the codes its front end answers with (JSON services 400, Lambda 403, query 403, S3 403).
SERVICES = {
    "kinesis": (lambda c: c.list_streams(), "UnrecognizedClientException", "InvalidSignatureException", 400),
    "firehose": (lambda c: c.list_delivery_streams(), "UnrecognizedClientException", "InvalidSignatureException", 400),
    "dynamodb": (lambda c: c.list_tables(), "UnrecognizedClientException", "InvalidSignatureException", 400),
    "logs": (lambda c: c.describe_log_groups(), "UnrecognizedClientException", "InvalidSignatureException", 400),
    "glue": (lambda c: c.get_databases(), "UnrecognizedClientException", "InvalidSignatureException", 400),
    "lambda": (lambda c: c.list_functions(), "UnrecognizedClientException", "InvalidSignatureException", 403),
    "iam": (lambda c: c.list_users(), "InvalidClientTokenId", "SignatureDoesNotMatch", 403),
    "sts": (lambda c: c.get_caller_identity(), "InvalidClientTokenId", "SignatureDoesNotMatch", 403),
    "s3": (lambda c: c.list_buckets(), "InvalidAccessKeyId", "SignatureDoesNotMatch", 403),
}

# Calls with a body to tamper with after signing.
TAMPER = {
    "kinesis": lambda c: c.describe_stream_summary(StreamName="nothing-here"),
    "firehose": lambda c: c.describe_delivery_stream(DeliveryStreamName="nothing-here"),
    "dynamodb": lambda c: c.describe_table(TableName="nothing-here"),
    "logs": lambda c: c.describe_log_streams(logGroupName="nothing-here"),
    "glue": lambda c: c.get_database(Name="nothing-here"),
    "lambda": lambda c: c.invoke(FunctionName="nothing-here", Payload=b"{}"),
    "iam": lambda c: c.get_user(UserName="nothing-here"),
    "sts": lambda c: c.get_caller_identity(),
}


def tamper(request, **_):
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    if body:
        request.body = body + b" "  # still valid JSON / form: only the signature can tell
        request.headers["Content-Length"] = str(len(request.body))


if mode == "matrix":
    iam = client("iam")
    iam.create_user(UserName="matrix")
    inactive = iam.create_access_key(UserName="matrix")["AccessKey"]
    iam.update_access_key(UserName="matrix", AccessKeyId=inactive["AccessKeyId"], Status="Inactive")
    inactive_key = (inactive["AccessKeyId"], inactive["SecretAccessKey"])
    checked = {}
    for service, (call, unknown, bad, status) in SERVICES.items():
        call(client(service))  # the root key works
        expect_error(f"{service} unknown key", lambda: call(client(service, ("AKIAMILLRACEUNKNOWN1", root[1]))), unknown, status)
        expect_error(f"{service} wrong secret", lambda: call(client(service, (root[0], root[1][:-1] + "x"))), bad, status)
        expect_error(f"{service} inactive key", lambda: call(client(service, inactive_key)), unknown, status)
        botocore.auth.get_current_datetime = lambda: real_now() - datetime.timedelta(minutes=20)
        try:
            if service == "s3":
                expect_error("s3 20 minutes old", lambda: call(client(service)), "RequestTimeTooSkewed", 403)
            else:
                expect_error(f"{service} 20 minutes old", lambda: call(client(service)), bad, status, "Signature expired:")
        finally:
            botocore.auth.get_current_datetime = lambda: real_now() + offset
        if service in TAMPER:
            c = client(service)
            c.meta.events.register("before-send", tamper)
            expect_error(f"{service} tampered body", lambda: TAMPER[service](c), bad, status)
        checked[service] = "ok"
    summary["services"] = checked

    # S3: a tampered object body is caught by its signed x-amz-content-sha256.
    s3 = client("s3")
    s3.create_bucket(Bucket="matrix-bucket")
    s3.put_object(Bucket="matrix-bucket", Key="a.txt", Body=b"hello")
    tampered = client("s3")

    def tamper_object(request, **_):
        if request.method == "PUT" and request.body:
            request.body = b"HELLO"
    tampered.meta.events.register("before-send", tamper_object)
    expect_error("s3 tampered object", lambda: tampered.put_object(Bucket="matrix-bucket", Key="b.txt", Body=b"hello"),
                 "XAmzContentSHA256Mismatch", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket="matrix-bucket", Prefix="b.txt"), "the tampered object was stored"

    # Presigned URLs (SigV4): good until X-Amz-Expires, then AccessDenied "Request has expired".
    presigner = client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": "matrix-bucket", "Key": "a.txt"}, ExpiresIn=60)
    assert urllib.request.urlopen(url).read() == b"hello"
    broken = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    try:
        urllib.request.urlopen(broken)
        raise AssertionError("a tampered presigned URL worked")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 403 and "<Code>SignatureDoesNotMatch</Code>" in body and "<CanonicalRequest>" in body, body
    short = presigner.generate_presigned_url("get_object", Params={"Bucket": "matrix-bucket", "Key": "a.txt"}, ExpiresIn=1)
    time.sleep(2.2)
    try:
        urllib.request.urlopen(short)
        raise AssertionError("an expired presigned URL worked")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 403 and "<Code>AccessDenied</Code>" in body and "Request has expired" in body, body
    summary["presign"] = "ok"
    ident = client("sts").get_caller_identity()
    summary["root_arn"] = ident["Arn"]

elif mode == "assume":
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/assumer"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="short", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="short", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisFullAccess")
    iam.create_user(UserName="assumer")
    key = iam.create_access_key(UserName="assumer")["AccessKey"]
    user = (key["AccessKeyId"], key["SecretAccessKey"])
    creds = client("sts", user).assume_role(RoleArn="arn:aws:iam::000000000000:role/short", RoleSessionName="s1", DurationSeconds=900)["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"])
    ident = client("sts", session, creds["SessionToken"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/short/s1", ident
    client("kinesis", session, creds["SessionToken"]).list_streams()  # the role's policy allows Kinesis
    expect_error("session without its token", lambda: client("kinesis", session).list_streams(), "UnrecognizedClientException", 400)
    expect_error("session key, S3 denied", lambda: client("s3", session, creds["SessionToken"]).list_buckets(), "AccessDenied", 403)
    print("CREDS " + json.dumps({"id": session[0], "secret": session[1], "token": creds["SessionToken"]}))
    summary["assumed"] = ident["Arn"]

elif mode == "session":
    session = (os.environ["SESSION_ID"], os.environ["SESSION_SECRET"])
    token = os.environ["SESSION_TOKEN"]
    expect_error("expired session, kinesis", lambda: client("kinesis", session, token).list_streams(), "ExpiredTokenException", 400)
    expect_error("expired session, s3", lambda: client("s3", session, token).list_buckets(), "ExpiredToken", 400)
    expect_error("expired session, sts", lambda: client("sts", session, token).get_caller_identity(), "ExpiredToken", 403)
    summary["expired"] = "ok"

print("SUMMARY " + json.dumps(summary))
