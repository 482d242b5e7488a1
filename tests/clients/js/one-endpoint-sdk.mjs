// One endpoint: Kinesis, DynamoDB and S3 through the AWS SDK for JavaScript v3 with only AWS_ENDPOINT_URL set
// (no `endpoint` option on any client). Usage: AWS_ENDPOINT_URL=http://127.0.0.1:PORT node one-endpoint-sdk.mjs NAME
// Prints one line `SUMMARY {json}` on success; any failed check throws (non-zero exit).
import { createHash, randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand } from "@aws-sdk/client-kinesis";
import { DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListBucketsCommand } from "@aws-sdk/client-s3";

const name = process.argv[2];
assert.ok(process.env.AWS_ENDPOINT_URL, "AWS_ENDPOINT_URL must be set");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const summary = { endpoint: process.env.AWS_ENDPOINT_URL };

const kinesis = new KinesisClient({ maxAttempts: 2 });
await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
for (let i = 0; i < 100; i++) {
  const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  if (s.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
  await sleep(100);
}
const sent = [0, 1, 2, 3, 4].map((i) => `record-${i}`);
for (const d of sent) await kinesis.send(new PutRecordCommand({ StreamName: name, Data: Buffer.from(d), PartitionKey: "pk" }));
const shard = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards[0].ShardId;
let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
const got = [];
for (let i = 0; i < 20 && got.length < sent.length; i++) {
  const r = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 100 }));
  for (const rec of r.Records) got.push(Buffer.from(rec.Data).toString());
  it = r.NextShardIterator;
}
assert.deepEqual(got, sent);
summary.kinesis_records = got.length;

const ddb = new DynamoDBClient({ maxAttempts: 2 });
await ddb.send(new CreateTableCommand({
  TableName: name,
  AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
  KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
  BillingMode: "PAY_PER_REQUEST",
}));
for (let i = 0; i < 100; i++) {
  if ((await ddb.send(new DescribeTableCommand({ TableName: name }))).Table.TableStatus === "ACTIVE") break;
  await sleep(100);
}
await ddb.send(new PutItemCommand({ TableName: name, Item: { pk: { S: "k1" }, v: { N: "42" } } }));
const item = (await ddb.send(new GetItemCommand({ TableName: name, Key: { pk: { S: "k1" } }, ConsistentRead: true }))).Item;
assert.deepEqual(item, { pk: { S: "k1" }, v: { N: "42" } });
summary.dynamodb_item = true;

// S3 needs path style: the endpoint is an IP address (virtual-hosted style is covered by the raw HTTP test).
const s3 = new S3Client({ forcePathStyle: true, maxAttempts: 2 });
await s3.send(new CreateBucketCommand({ Bucket: name }));
const body = randomBytes(100_000);
const put = await s3.send(new PutObjectCommand({ Bucket: name, Key: "dir/obj.bin", Body: body }));
assert.equal(put.ETag, `"${createHash("md5").update(body).digest("hex")}"`);
const obj = await s3.send(new GetObjectCommand({ Bucket: name, Key: "dir/obj.bin" }));
const data = Buffer.from(await obj.Body.transformToByteArray());
assert.ok(data.equals(body), "S3 bytes differ");
const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets.map((b) => b.Name);
assert.ok(buckets.includes(name), JSON.stringify(buckets));
summary.s3_object = true;
summary.ok = true;
console.log("SUMMARY " + JSON.stringify(summary));
