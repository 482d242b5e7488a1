// AWS SDK for JavaScript v3 against `millrace serve --auth sigv4`: Kinesis, DynamoDB and S3 with the right key work;
// an unknown key, a wrong secret and a clock 20 minutes slow get each service's own error code and status.
// Usage: node security-sdk.mjs ENDPOINT KEY SECRET. Prints one line `SUMMARY {json}`; a failed check throws.
import assert from "node:assert/strict";
import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { S3Client, ListBucketsCommand, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";

const [endpoint, key, secret] = process.argv.slice(2);
const summary = {};
const make = (Client, accessKeyId, secretAccessKey, extra = {}) =>
  new Client({ endpoint, region: "us-east-1", maxAttempts: 1, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, ...extra });

async function expectError(what, promise, code, status) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, code, `${what}: ${e.name} ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status, `${what}: status`);
    return;
  }
  assert.fail(`${what}: expected ${code}, the call succeeded`);
}

const services = [
  ["kinesis", KinesisClient, () => new ListStreamsCommand({}), "UnrecognizedClientException", "InvalidSignatureException", 400],
  ["dynamodb", DynamoDBClient, () => new ListTablesCommand({}), "UnrecognizedClientException", "InvalidSignatureException", 400],
  ["s3", S3Client, () => new ListBucketsCommand({}), "InvalidAccessKeyId", "SignatureDoesNotMatch", 403],
];
for (const [name, Client, command, unknown, bad, status] of services) {
  await make(Client, key, secret).send(command());
  await expectError(`${name} unknown key`, make(Client, "AKIAMILLRACEUNKNOWN1", secret).send(command()), unknown, status);
  await expectError(`${name} wrong secret`, make(Client, key, secret + "x").send(command()), bad, status);
  await expectError(`${name} slow clock`, make(Client, key, secret, { systemClockOffset: -20 * 60 * 1000 }).send(command()),
    name === "s3" ? "RequestTimeTooSkewed" : bad, name === "s3" ? 403 : status);
  summary[name] = "ok";
}

// An object through the SDK's default aws-chunked upload, verified end to end.
const s3 = make(S3Client, key, secret);
await s3.send(new CreateBucketCommand({ Bucket: "js-security" }));
await s3.send(new PutObjectCommand({ Bucket: "js-security", Key: "a.txt", Body: "signed" }));
const got = await s3.send(new GetObjectCommand({ Bucket: "js-security", Key: "a.txt" }));
assert.equal(await got.Body.transformToString(), "signed");
summary.object = "ok";
console.log("SUMMARY " + JSON.stringify(summary));
