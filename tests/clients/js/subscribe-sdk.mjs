// Enhanced fan-out with the AWS SDK for JavaScript v3's DEFAULT client (NodeHttp2Handler, h2c prior knowledge).
//
//   node tests/clients/js/subscribe-sdk.mjs <endpoint> <stream-name>
//
// Flow: CreateStream(1 shard) -> RegisterStreamConsumer x2 -> SubscribeToShard LATEST, PutRecord x 10 after the
// subscription began, receive exactly those -> a second subscription at once gets ResourceInUseException ->
// PutRecord x 5, resubscribe (after the 5 s rule) AFTER_SEQUENCE_NUMBER ContinuationSequenceNumber: exactly the 5
// new ones -> SplitShard -> the second consumer reads the parent from TRIM_HORIZON: all 15, then ChildShards.
// Prints one JSON summary line starting with "SUMMARY " and exits 0 only if every check held.

import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  SubscribeToShardCommand,
  PutRecordCommand,
  SplitShardCommand,
  DeleteStreamCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';

const [endpoint, streamName] = process.argv.slice(2);
if (!endpoint || !streamName) {
  console.error('usage: node subscribe-sdk.mjs <endpoint> <stream-name>');
  process.exit(2);
}

const deadline = Date.now() + 60_000;
const client = new KinesisClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKID', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'secret' }, maxAttempts: 1 });
const handlerName = client.config.requestHandler?.constructor?.name;

class CheckFailed extends Error {}
let checks = 0;
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
  checks++;
}
const log = (...args) => console.log('[js efo]', ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitConsumerActive(arn) {
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }));
    if (d.ConsumerDescription.ConsumerStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new CheckFailed(`consumer ${arn} never became ACTIVE`);
}

async function waitStreamActive() {
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new CheckFailed('stream never became ACTIVE after SplitShard');
}

async function put(i) {
  const r = await client.send(new PutRecordCommand({ StreamName: streamName, PartitionKey: 'k', Data: Buffer.from(`record-${i}`) }));
  return r.SequenceNumber;
}

// Reads events until `enough(state)` holds or the stream ends; bounded by count and time.
async function subscribe(consumerArn, startingPosition, onEvent) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(1000, Math.min(20_000, deadline - Date.now())));
  try {
    const response = await client.send(
      new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: 'shardId-000000000000', StartingPosition: startingPosition }),
      { abortSignal: abort.signal });
    let events = 0;
    for await (const event of response.EventStream) {
      if (++events > 200) throw new CheckFailed('too many events');
      if (event.SubscribeToShardEvent) {
        if (await onEvent(event.SubscribeToShardEvent)) break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1 }, { StreamName: streamName });
  const streamArn = (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }))).StreamDescriptionSummary.StreamARN;
  const consumers = [];
  for (const name of ['efo-a', 'efo-b']) {
    const r = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }));
    await waitConsumerActive(r.Consumer.ConsumerARN);
    consumers.push(r.Consumer.ConsumerARN);
  }

  // 1. Records written after the subscription began are pushed.
  const sent = [];
  const received = [];
  let continuation;
  let putting;
  await subscribe(consumers[0], { Type: 'LATEST' }, async (e) => {
    putting ??= (async () => { for (let i = 0; i < 10; i++) sent.push(await put(i)); })();
    for (const r of e.Records) {
      received.push(r.SequenceNumber);
      check(Buffer.from(r.Data).toString() === `record-${received.length - 1}`, `data of record ${received.length - 1}`);
      check(r.PartitionKey === 'k', 'partition key');
      check(r.ApproximateArrivalTimestamp instanceof Date, 'arrival timestamp is a Date');
    }
    check(typeof e.ContinuationSequenceNumber === 'string', 'ContinuationSequenceNumber present');
    check(typeof e.MillisBehindLatest === 'number', 'MillisBehindLatest present');
    continuation = e.ContinuationSequenceNumber;
    return received.length >= 10;
  });
  await putting;
  check(JSON.stringify(received) === JSON.stringify(sent), `pushed records ${received} != sent ${sent}`);
  check(continuation === sent[9], 'continuation is the last delivered record');
  log('pushed', received.length);

  // 2. A second subscription for the same consumer and shard within 5 s: ResourceInUseException.
  const started = Date.now();
  let riu;
  const holder = subscribe(consumers[0], { Type: 'LATEST' }, async () => Date.now() - started > 1500);
  await sleep(300);
  try {
    await subscribe(consumers[0], { Type: 'LATEST' }, async () => true);
  } catch (err) {
    riu = err.name;
  }
  await holder;
  check(riu === 'ResourceInUseException', `second subscription got ${riu}`);

  // 3. Resume after the continuation: exactly the new records, no gap, no duplicate.
  const more = [];
  for (let i = 10; i < 15; i++) more.push(await put(i));
  await sleep(Math.max(0, 5200 - (Date.now() - started)));
  const resumed = [];
  await subscribe(consumers[0], { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation }, async (e) => {
    for (const r of e.Records) resumed.push(r.SequenceNumber);
    return resumed.length >= 5;
  });
  check(JSON.stringify(resumed) === JSON.stringify(more), `resumed ${resumed} != ${more}`);
  log('resumed', resumed.length);

  // 4. After SplitShard, the parent's subscription ends with ChildShards.
  await client.send(new SplitShardCommand({ StreamName: streamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
  await waitStreamActive();
  const all = [];
  let children;
  await subscribe(consumers[1], { Type: 'TRIM_HORIZON' }, async (e) => {
    for (const r of e.Records) all.push(r.SequenceNumber);
    if (e.ChildShards && e.ChildShards.length > 0) {
      children = e.ChildShards.map((c) => c.ShardId).sort();
      return true;
    }
    return false;
  });
  check(JSON.stringify(all) === JSON.stringify([...sent, ...more]), 'the parent delivered all 15 records in order');
  check(JSON.stringify(children) === JSON.stringify(['shardId-000000000001', 'shardId-000000000002']), `ChildShards ${children}`);

  await client.send(new DeleteStreamCommand({ StreamName: streamName, EnforceConsumerDeletion: true }));
  console.log('SUMMARY ' + JSON.stringify({ ok: true, handler: handlerName, pushed: received.length, resumed: resumed.length, riu, children, checks }));
}

try {
  await main();
  client.destroy();
  process.exit(0);
} catch (err) {
  console.error(err instanceof CheckFailed ? `[js efo] CHECK FAILED: ${err.message}` : `[js efo] ERROR: ${err?.name}: ${err?.message}\n${err?.stack}`);
  console.log('SUMMARY ' + JSON.stringify({ ok: false, handler: handlerName, error: String(err?.message), checks }));
  process.exit(1);
}
