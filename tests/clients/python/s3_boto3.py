"""boto3 S3 acceptance: multipart upload_file/download_file, delimiter paging over ~2,500 keys, presigned URLs,
copy_object COPY/REPLACE, metadata, conditional and ranged GET, error codes.

Usage: python3 s3_boto3.py ENDPOINT BUCKET_PREFIX WORKDIR
Prints `CHECK name ok|FAIL detail` lines and one `SUMMARY {json}` line; exits 1 if any check failed (so the same
script can be run against moto_server and its deviations read from the CHECK lines).
"""
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from acceptance import check, err, finish

endpoint, prefix, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 2}, max_pool_connections=16))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


bucket = f"{prefix}-main"
s3.create_bucket(Bucket=bucket)


def multipart():
    src = os.path.join(workdir, "big.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(23 * 1024 * 1024))
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(src, bucket, "big/file.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == 23 * 1024 * 1024, head["ContentLength"]
    assert head["ETag"].strip('"').endswith("-5"), head["ETag"]
    dst = os.path.join(workdir, "big.out")
    s3.download_file(bucket, "big/file.bin", dst, Config=cfg)
    assert sha(src) == sha(dst)


def paging():
    b = f"{prefix}-paging"
    s3.create_bucket(Bucket=b)
    keys = []
    for top in range(5):
        for mid in range(10):
            for leaf in range(48):
                keys.append(f"top{top}/mid{mid}/leaf{leaf:02}.txt")
    keys += [f"root{i}.txt" for i in range(50)]  # 2,450 keys
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=b, Key=k, Body=k.encode()), keys))
    pag = s3.get_paginator("list_objects_v2")
    # Root level: 5 prefixes + 50 keys, pages of 7.
    prefixes, contents, pages = [], [], 0
    for page in pag.paginate(Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 7}):
        pages += 1
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        contents += [c["Key"] for c in page.get("Contents", [])]
    assert prefixes == [f"top{t}/" for t in range(5)], prefixes
    assert contents == sorted(f"root{i}.txt" for i in range(50)), contents
    assert pages == 8, pages
    # One level down.
    prefixes = []
    for page in pag.paginate(Bucket=b, Prefix="top3/", Delimiter="/", PaginationConfig={"PageSize": 3}):
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert not page.get("Contents"), page.get("Contents")
    assert prefixes == [f"top3/mid{m}/" for m in range(10)], prefixes
    # Everything, no delimiter, default page size (1000).
    allkeys = []
    for page in pag.paginate(Bucket=b):
        allkeys += [c["Key"] for c in page.get("Contents", [])]
    assert allkeys == sorted(keys), (len(allkeys), len(keys))
    # list_objects (v1) with a marker, same model.
    v1 = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=b, Prefix="top1/mid2/", PaginationConfig={"PageSize": 10}):
        v1 += [c["Key"] for c in page.get("Contents", [])]
    assert v1 == sorted(k for k in keys if k.startswith("top1/mid2/")), v1


def presigned(signer=None):
    url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/put.txt"}, ExpiresIn=300)
    # No Content-Type: a SigV2 URL signs it (as empty here), and urllib would add a form type of its own.
    req = urllib.request.Request(url, data=b"presigned body", method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, r.status
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/put.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=30) as r:
        got = r.read()
        assert got == b"presigned body", f"presigned GET returned {got[:200]!r}"
    expired = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/put.txt"}, ExpiresIn=1)
    time.sleep(2.5)
    try:
        urllib.request.urlopen(expired, timeout=30)
        raise AssertionError("expired URL accepted")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 403, e.code
        assert "<Code>AccessDenied</Code>" in body, body


def copy():
    s3.put_object(Bucket=bucket, Key="c/src", Body=b"copy me", ContentType="text/x-src", Metadata={"color": "blue"})
    s3.copy_object(Bucket=bucket, Key="c/copy", CopySource={"Bucket": bucket, "Key": "c/src"}, MetadataDirective="COPY")
    h = s3.head_object(Bucket=bucket, Key="c/copy")
    assert h["Metadata"] == {"color": "blue"} and h["ContentType"] == "text/x-src", (h["Metadata"], h["ContentType"])
    s3.copy_object(Bucket=bucket, Key="c/repl", CopySource={"Bucket": bucket, "Key": "c/src"}, MetadataDirective="REPLACE",
                   Metadata={"shape": "round"}, ContentType="text/x-new")
    h = s3.head_object(Bucket=bucket, Key="c/repl")
    assert h["Metadata"] == {"shape": "round"} and h["ContentType"] == "text/x-new", (h["Metadata"], h["ContentType"])
    assert s3.get_object(Bucket=bucket, Key="c/repl")["Body"].read() == b"copy me"


def metadata():
    s3.put_object(Bucket=bucket, Key="m/obj", Body=b"x", ContentType="application/json; charset=utf-8",
                  Metadata={"a-b": "Value 1", "n": "42"}, CacheControl="max-age=60", ContentDisposition="inline",
                  ContentLanguage="en")
    g = s3.get_object(Bucket=bucket, Key="m/obj")
    assert g["ContentType"] == "application/json; charset=utf-8", g["ContentType"]
    assert g["Metadata"] == {"a-b": "Value 1", "n": "42"}, g["Metadata"]
    assert g["CacheControl"] == "max-age=60" and g["ContentDisposition"] == "inline" and g["ContentLanguage"] == "en"


def conditional_and_range():
    body = bytes(range(256)) * 40
    etag = s3.put_object(Bucket=bucket, Key="r/obj", Body=body)["ETag"]
    assert err(lambda: s3.get_object(Bucket=bucket, Key="r/obj", IfNoneMatch=etag)) == ("304", 304)
    assert err(lambda: s3.get_object(Bucket=bucket, Key="r/obj", IfMatch='"0000"')) == ("PreconditionFailed", 412)
    g = s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=100-299")
    assert g["Body"].read() == body[100:300] and g["ContentRange"] == f"bytes 100-299/{len(body)}", g["ContentRange"]
    assert s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=-10")["Body"].read() == body[-10:]
    assert s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=10000-")["Body"].read() == body[10000:]
    assert err(lambda: s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=20000-20010")) == ("InvalidRange", 416)


def errors():
    assert err(lambda: s3.get_object(Bucket=f"{prefix}-nope", Key="k")) == ("NoSuchBucket", 404)
    assert err(lambda: s3.get_object(Bucket=bucket, Key="no/such/key")) == ("NoSuchKey", 404)
    assert err(lambda: s3.delete_bucket(Bucket=bucket)) == ("BucketNotEmpty", 409)
    # Re-creating an owned bucket is 200 in us-east-1 (AWS's legacy answer) and 409 in every other region.
    s3.create_bucket(Bucket=bucket)
    eu = f"{prefix}-eu"
    s3.create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert err(lambda: s3.create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}),
               "create existing bucket") == ("BucketAlreadyOwnedByYou", 409)
    s3.delete_bucket(Bucket=eu)
    assert err(lambda: s3.create_bucket(Bucket="Invalid_Name"), "Invalid_Name") == ("InvalidBucketName", 400)
    assert err(lambda: s3.head_object(Bucket=bucket, Key="no/such/key")) == ("404", 404)


# boto3 presigns with SigV4 when asked (s3v4) and, for a custom endpoint without a signature_version, with the
# legacy SigV2 query form (AWSAccessKeyId, Signature, Expires=epoch seconds); S3 honours the expiry of both.
v4 = boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
for name, fn in [("multipart", multipart), ("paging", paging), ("presigned_v4", lambda: presigned(v4)),
                 ("presigned_v2", lambda: presigned(s3)), ("copy", copy),
                 ("metadata", metadata), ("conditional_and_range", conditional_and_range), ("errors", errors)]:
    check(name, fn)

finish()
