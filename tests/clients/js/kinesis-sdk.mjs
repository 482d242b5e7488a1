// AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis) against a Millrace endpoint.
//
//   node tests/clients/js/kinesis-sdk.mjs <endpoint> <stream-name> <h2|h1>
//
// h2: the client's DEFAULT request handler (NodeHttp2Handler: HTTP/2 cleartext with prior knowledge on http://),
//     plus a raw node:http2 request to prove the server itself answers HTTP/2.
// h1: an explicit NodeHttpHandler (HTTP/1.1).
//
// Flow: CreateStream(2 shards) -> waitUntilStreamExists -> DescribeStreamSummary -> PutRecord x N -> PutRecords
// (incl. ExplicitHashKey at both ends of the key space) -> ListShards (exact hash ranges) -> GetShardIterator
// TRIM_HORIZON + GetRecords per shard until caught up -> byte-for-byte comparison in per-shard order ->
// ResourceNotFoundException class check -> DeleteStream -> waitUntilStreamNotExists.
// Prints one JSON summary line starting with "SUMMARY " and exits 0 only if every check held.

import crypto from 'node:crypto';
import http2 from 'node:http2';
import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordCommand,
  PutRecordsCommand,
  ListShardsCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
  DeleteStreamCommand,
  ResourceNotFoundException,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler, NodeHttp2Handler } from '@smithy/node-http-handler';

const [endpoint, streamName, mode] = process.argv.slice(2);
if (!endpoint || !streamName || !['h1', 'h2'].includes(mode)) {
  console.error('usage: node kinesis-sdk.mjs <endpoint> <stream-name> <h2|h1>');
  process.exit(2);
}

const deadline = Date.now() + 50_000; // whole script budget
const region = 'us-east-1';
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKID', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'secret' };
const MAX_HASH = (1n << 128n) - 1n;

class CheckFailed extends Error {}
let checks = 0;
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
  checks++;
}
function log(...args) {
  console.log(`[js ${mode}]`, ...args);
}
function remaining() {
  return deadline - Date.now();
}

const clientConfig = { endpoint, region, credentials, maxAttempts: 3 };
if (mode === 'h1') {
  clientConfig.requestHandler = new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 30000 });
}
const client = new KinesisClient(clientConfig);

// Count every request that goes through the configured handler, so we know which handler carried the traffic.
const handler = client.config.requestHandler;
let handledRequests = 0;
{
  const original = handler.handle.bind(handler);
  handler.handle = (request, options) => {
    handledRequests++;
    return original(request, options);
  };
}

function sha256(data, encoding) {
  return crypto.createHash('sha256').update(data).digest(encoding);
}
function hmac(key, data, encoding) {
  return crypto.createHmac('sha256', key).update(data).digest(encoding);
}

// A raw HTTP/2 (h2c, prior knowledge) POST signed with SigV4 by hand, independent of the SDK.
async function rawHttp2Call(target, body) {
  const url = new URL(endpoint);
  const payload = JSON.stringify(body);
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const dateStamp = amzDate.slice(0, 8);
  const host = url.host;
  const contentType = 'application/x-amz-json-1.1';
  const signedHeaders = 'content-type;host;x-amz-date;x-amz-target';
  const canonicalHeaders = `content-type:${contentType}\nhost:${host}\nx-amz-date:${amzDate}\nx-amz-target:${target}\n`;
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, sha256(payload, 'hex')].join('\n');
  const scope = `${dateStamp}/${region}/kinesis/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest, 'hex')].join('\n');
  let key = hmac('AWS4' + credentials.secretAccessKey, dateStamp);
  key = hmac(key, region);
  key = hmac(key, 'kinesis');
  key = hmac(key, 'aws4_request');
  const signature = hmac(key, stringToSign, 'hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;

  return await new Promise((resolve, reject) => {
    const session = http2.connect(url.origin);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('raw HTTP/2 request timed out after 10 s'));
    }, 10_000);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const req = session.request({
      ':method': 'POST',
      ':path': '/',
      'content-type': contentType,
      'x-amz-date': amzDate,
      'x-amz-target': target,
      authorization,
    });
    let status = 0;
    const chunks = [];
    req.on('response', (headers) => {
      status = headers[':status'];
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    req.end(payload);
  });
}

function randomBytes(n) {
  return new Uint8Array(crypto.randomBytes(n));
}
function sameBytes(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

async function main() {
  const handlerClass = handler.constructor.name;
  const handlerProtocol = handler.metadata?.handlerProtocol;
  if (mode === 'h2') {
    check(handler instanceof NodeHttp2Handler, `default request handler is ${handlerClass}, expected NodeHttp2Handler`);
    check(handlerProtocol === 'h2', `default handler protocol is ${handlerProtocol}, expected h2`);
  } else {
    check(handler instanceof NodeHttpHandler, `request handler is ${handlerClass}, expected NodeHttpHandler`);
    check(handlerProtocol === 'http/1.1', `handler protocol is ${handlerProtocol}, expected http/1.1`);
  }
  log(`handler ${handlerClass} (${handlerProtocol})`);

  // 1. create + wait
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
  const waited = await waitUntilStreamExists(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
    { StreamName: streamName },
  );
  check(waited.state === 'SUCCESS', `waitUntilStreamExists ended in state ${waited.state}`);

  const summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }))).StreamDescriptionSummary;
  check(summary.StreamStatus === 'ACTIVE', `StreamStatus ${summary.StreamStatus}, expected ACTIVE`);
  check(summary.OpenShardCount === 2, `OpenShardCount ${summary.OpenShardCount}, expected 2`);
  check(summary.StreamName === streamName, `StreamName ${summary.StreamName}`);
  check(summary.StreamARN === `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`, `StreamARN ${summary.StreamARN}`);

  // 2. writes: expected[] in send order, each { data, pk, shardId, seq }
  const expected = [];
  const allBytes = new Uint8Array(256).map((_, i) => i);
  const singles = [
    { data: allBytes, pk: 'all-byte-values' },
    { data: new TextEncoder().encode('héllo wörld — 日本語 ✓'), pk: 'unicode-ключ-🔑' },
    { data: new Uint8Array([0]), pk: 'single-zero-byte' },
    { data: randomBytes(64 * 1024), pk: 'sixty-four-kib' },
  ];
  for (let i = 0; i < 10; i++) singles.push({ data: randomBytes(1 + (i * 37) % 500), pk: crypto.randomUUID() });
  for (const s of singles) {
    const r = await client.send(new PutRecordCommand({ StreamName: streamName, Data: s.data, PartitionKey: s.pk }));
    check(/^shardId-\d{12}$/.test(r.ShardId ?? ''), `PutRecord ShardId ${r.ShardId}`);
    check(/^\d+$/.test(r.SequenceNumber ?? ''), `PutRecord SequenceNumber ${r.SequenceNumber}`);
    expected.push({ ...s, shardId: r.ShardId, seq: r.SequenceNumber });
  }

  const batch = [];
  batch.push({ Data: new TextEncoder().encode('explicit-hash-key-max'), PartitionKey: 'ehk-max', ExplicitHashKey: MAX_HASH.toString() });
  batch.push({ Data: new TextEncoder().encode('explicit-hash-key-zero'), PartitionKey: 'ehk-zero', ExplicitHashKey: '0' });
  for (let i = 0; i < 60; i++) batch.push({ Data: randomBytes(1 + (i * 131) % 3000), PartitionKey: `pk-${i}-${crypto.randomUUID()}` });
  const pr = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: batch }));
  check((pr.FailedRecordCount ?? 0) === 0, `PutRecords FailedRecordCount ${pr.FailedRecordCount}: ${JSON.stringify(pr.Records?.find((x) => x.ErrorCode))}`);
  check(pr.Records?.length === batch.length, `PutRecords returned ${pr.Records?.length} entries for ${batch.length}`);
  pr.Records.forEach((res, i) => {
    check(!res.ErrorCode && /^shardId-\d{12}$/.test(res.ShardId ?? '') && /^\d+$/.test(res.SequenceNumber ?? ''),
      `PutRecords entry ${i}: ${JSON.stringify(res)}`);
    expected.push({ data: batch[i].Data, pk: batch[i].PartitionKey, shardId: res.ShardId, seq: res.SequenceNumber });
  });

  // 3. shards
  const shards = (await client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  check(shards.length === 2, `ListShards returned ${shards.length} shards, expected 2`);
  const ranges = shards.map((s) => [s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]);
  const wantRanges = [
    ['0', '170141183460469231731687303715884105727'],
    ['170141183460469231731687303715884105728', '340282366920938463463374607431768211455'],
  ];
  check(JSON.stringify(ranges) === JSON.stringify(wantRanges), `hash ranges ${JSON.stringify(ranges)}`);
  check(shards[0].ShardId === 'shardId-000000000000' && shards[1].ShardId === 'shardId-000000000001',
    `shard ids ${shards.map((s) => s.ShardId)}`);
  const ehkMax = expected.find((e) => e.pk === 'ehk-max');
  const ehkZero = expected.find((e) => e.pk === 'ehk-zero');
  check(ehkMax.shardId === shards[1].ShardId, `ExplicitHashKey 2^128-1 went to ${ehkMax.shardId}`);
  check(ehkZero.shardId === shards[0].ShardId, `ExplicitHashKey 0 went to ${ehkZero.shardId}`);

  // per-shard sequence numbers must increase in send order
  for (const s of shards) {
    const seqs = expected.filter((e) => e.shardId === s.ShardId).map((e) => BigInt(e.seq));
    for (let i = 1; i < seqs.length; i++) {
      check(seqs[i] > seqs[i - 1], `${s.ShardId}: sequence numbers not increasing in send order at ${i}`);
    }
  }

  // 4. read everything back
  let received = 0;
  let getRecordsCalls = 0;
  for (const s of shards) {
    const want = expected.filter((e) => e.shardId === s.ShardId);
    let iterator = (await client.send(new GetShardIteratorCommand({
      StreamName: streamName, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON',
    }))).ShardIterator;
    check(typeof iterator === 'string' && iterator.length > 0, `no iterator for ${s.ShardId}`);
    const got = [];
    for (let call = 0; call < 200; call++) {
      check(remaining() > 0, `${s.ShardId}: time budget exhausted after ${got.length}/${want.length} records`);
      const r = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      getRecordsCalls++;
      got.push(...(r.Records ?? []));
      check(typeof r.NextShardIterator === 'string', `${s.ShardId}: no NextShardIterator on an open shard`);
      iterator = r.NextShardIterator;
      if (got.length >= want.length && (r.Records ?? []).length === 0) break;
      if ((r.Records ?? []).length === 0 && r.MillisBehindLatest === 0) break; // caught up: the count check below decides
      if ((r.Records ?? []).length === 0) await new Promise((res) => setTimeout(res, 200));
    }
    check(got.length === want.length, `${s.ShardId}: read ${got.length} records, wrote ${want.length}`);
    for (let i = 0; i < want.length; i++) {
      const g = got[i];
      const w = want[i];
      check(g.SequenceNumber === w.seq, `${s.ShardId}[${i}]: SequenceNumber ${g.SequenceNumber}, expected ${w.seq}`);
      check(g.PartitionKey === w.pk, `${s.ShardId}[${i}]: PartitionKey ${g.PartitionKey}, expected ${w.pk}`);
      check(sameBytes(g.Data, w.data), `${s.ShardId}[${i}]: Data differs (${g.Data?.length} vs ${w.data.length} bytes)`);
      check(g.ApproximateArrivalTimestamp instanceof Date && !isNaN(g.ApproximateArrivalTimestamp),
        `${s.ShardId}[${i}]: ApproximateArrivalTimestamp ${g.ApproximateArrivalTimestamp}`);
    }
    received += got.length;
  }
  check(received === expected.length, `received ${received} of ${expected.length}`);

  // 5. error class
  let errName = null;
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: `${streamName}-missing` }));
  } catch (err) {
    check(err instanceof ResourceNotFoundException, `missing stream raised ${err?.name} (${err?.constructor?.name}): ${err?.message}`);
    check(err.$metadata?.httpStatusCode === 400, `ResourceNotFoundException HTTP status ${err.$metadata?.httpStatusCode}`);
    errName = err.name;
  }
  check(errName === 'ResourceNotFoundException', 'DescribeStreamSummary on a missing stream did not fail');

  // 6. raw HTTP/2 request, independent of the SDK (h2 mode only)
  let rawH2Status = null;
  if (mode === 'h2') {
    const raw = await rawHttp2Call('Kinesis_20131202.DescribeStreamSummary', { StreamName: streamName });
    rawH2Status = raw.status;
    check(raw.status === 200, `raw HTTP/2 DescribeStreamSummary gave ${raw.status}: ${raw.body}`);
    const parsed = JSON.parse(raw.body);
    check(parsed.StreamDescriptionSummary?.StreamName === streamName, `raw HTTP/2 body ${raw.body}`);
  }

  // 7. delete
  await client.send(new DeleteStreamCommand({ StreamName: streamName }));
  const gone = await waitUntilStreamNotExists(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
    { StreamName: streamName },
  );
  check(gone.state === 'SUCCESS', `waitUntilStreamNotExists ended in state ${gone.state}`);

  check(handledRequests > 0, 'no request went through the configured handler');
  const out = {
    client: 'js-v3',
    mode,
    handler: handlerClass,
    protocol: handlerProtocol,
    handledRequests,
    sent: expected.length,
    received,
    shards: shards.length,
    getRecordsCalls,
    rawH2Status,
    error: errName,
    checks,
    ok: true,
  };
  console.log('SUMMARY ' + JSON.stringify(out));
}

try {
  await main();
  handler.destroy?.();
  process.exit(0);
} catch (err) {
  if (err instanceof CheckFailed) {
    console.error(`[js ${mode}] CHECK FAILED: ${err.message}`);
  } else {
    console.error(`[js ${mode}] ERROR: ${err?.name}: ${err?.message}`);
    if (err?.$metadata) console.error(`  $metadata: ${JSON.stringify(err.$metadata)}`);
    console.error(err?.stack);
  }
  console.error(`[js ${mode}] ${checks} checks passed before the failure; ${handledRequests} requests via ${handler.constructor.name}`);
  process.exit(1);
}
