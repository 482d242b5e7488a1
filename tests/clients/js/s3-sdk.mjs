// AWS SDK for JavaScript v3 @aws-sdk/client-s3 against an S3 endpoint, with the SDK's default checksum behaviour
// (CRC32, aws-chunked bodies with a trailer for streams). Usage: node s3-sdk.mjs ENDPOINT BUCKET
// Prints one line `SUMMARY {json}` on success; any failed check throws (non-zero exit).
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import assert from "node:assert/strict";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  DeleteObjectsCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, DeleteBucketCommand,
} from "@aws-sdk/client-s3";

const [endpoint, bucket] = process.argv.slice(2);
const s3 = new S3Client({ endpoint, forcePathStyle: true, maxAttempts: 2 });
const md5 = (b) => createHash("md5").update(b).digest("hex");
const summary = { checks: 0 };
const wire = [];
// Record what the SDK actually sent, to show the aws-chunked trailer path was exercised.
s3.middlewareStack.add((next) => async (args) => {
  const h = args.request.headers ?? {};
  wire.push({ method: args.request.method, path: args.request.path, encoding: h["content-encoding"] ?? "", sha: h["x-amz-content-sha256"] ?? "", trailer: h["x-amz-trailer"] ?? "" });
  return next(args);
}, { step: "finalizeRequest", name: "recordWire" });

await s3.send(new CreateBucketCommand({ Bucket: bucket }));

async function roundTrip(key, body, bytes, extra = {}) {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
  assert.equal(put.ETag, `"${md5(bytes)}"`, `${key} ETag`);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  const data = Buffer.from(await got.Body.transformToByteArray());
  assert.ok(data.equals(bytes), `${key} bytes differ (${data.length} vs ${bytes.length})`);
  assert.equal(got.ETag, put.ETag);
  summary.checks++;
  return { put, got };
}

const text = "hello, S3 from the JS SDK — ünïcödé\n".repeat(100);
const r1 = await roundTrip("put/string.txt", text, Buffer.from(text), { ContentType: "text/plain; charset=utf-8" });
assert.equal(r1.got.ContentType, "text/plain; charset=utf-8");
summary.string_crc32 = r1.put.ChecksumCRC32 ?? null;
const buf = randomBytes(300_000);
const r2 = await roundTrip("put/buffer.bin", buf, buf);
summary.buffer_crc32 = r2.put.ChecksumCRC32 ?? null;
// A stream body: aws-chunked with a CRC32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER); ContentLength is required.
const streamed = randomBytes(2 * 1024 * 1024 + 17);
const chunks = [];
for (let i = 0; i < streamed.length; i += 65536) chunks.push(streamed.subarray(i, i + 65536));
const r3 = await roundTrip("put/stream.bin", Readable.from(chunks), streamed, { ContentLength: streamed.length });
summary.stream_crc32 = r3.put.ChecksumCRC32 ?? null;
if (r3.got.ChecksumCRC32) assert.equal(r3.got.ChecksumCRC32, r3.put.ChecksumCRC32);
const streamPut = wire.find((w) => w.method === "PUT" && w.path.endsWith("/put/stream.bin"));
summary.stream_wire = streamPut;

// Multipart: 2 x 5 MiB + 1 KiB.
const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1024)];
const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "mp/object.bin" }));
const done = [];
for (let i = 0; i < parts.length; i++) {
  const p = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "mp/object.bin", UploadId, PartNumber: i + 1, Body: parts[i] }));
  assert.equal(p.ETag, `"${md5(parts[i])}"`);
  done.push({ PartNumber: i + 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 });
}
const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "mp/object.bin", UploadId, MultipartUpload: { Parts: done } }));
const expectedEtag = `"${createHash("md5").update(Buffer.concat(parts.map((p) => createHash("md5").update(p).digest()))).digest("hex")}-3"`;
assert.equal(completed.ETag, expectedEtag);
const whole = Buffer.concat(parts);
const mp = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp/object.bin" }));
assert.ok(Buffer.from(await mp.Body.transformToByteArray()).equals(whole), "multipart bytes differ");
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "mp/object.bin" }));
assert.equal(head.ContentLength, whole.length);
assert.equal(head.ETag, expectedEtag);
summary.checks++;

// ListObjectsV2 with a delimiter and paging.
const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
assert.deepEqual((listed.CommonPrefixes ?? []).map((p) => p.Prefix), ["mp/", "put/"]);
const keys = [];
let token;
do {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }));
  keys.push(...(page.Contents ?? []).map((c) => c.Key));
  token = page.NextContinuationToken;
} while (token);
assert.deepEqual(keys, ["mp/object.bin", "put/buffer.bin", "put/stream.bin", "put/string.txt"]);
summary.checks++;

// DeleteObjects (the SDK sends a checksum of the XML body), then the bucket is empty and can go.
const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
assert.deepEqual((del.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort());
assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0);
await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
summary.checks++;
summary.ok = true;
console.log("SUMMARY " + JSON.stringify(summary));
