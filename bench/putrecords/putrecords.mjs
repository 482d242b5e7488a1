// Sends pre-built PutRecords requests (500 records of 100 bytes) over keep-alive HTTP/1.1 and reports
// acknowledged records per second. Bounded by a request count and a time limit; loopback only.
// usage: node putrecords.mjs <port> [requests=200] [concurrency=1] [shards=4] [seconds=60]
import http from 'node:http';

const [port, requests = '200', concurrency = '1', shards = '4', seconds = '60'] = process.argv.slice(2);
const total = Number(requests), parallel = Number(concurrency), deadline = Date.now() + Number(seconds) * 1000;
const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
const stream = `bench-${Date.now()}`;

function call(op, body) {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: Number(port), method: 'POST', path: '/', agent,
      headers: {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${op}`, 'Content-Length': payload.length,
        'X-Amz-Date': '20261123T000000Z',
        Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261123/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new Error(`${op}: ${res.statusCode} ${text}`)); else resolve(text ? JSON.parse(text) : {});
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

await call('CreateStream', { StreamName: stream, ShardCount: Number(shards) });
for (let i = 0; i < 100; i++) {
  const d = await call('DescribeStream', { StreamName: stream });
  if (d.StreamDescription.StreamStatus === 'ACTIVE') break;
  await new Promise((r) => setTimeout(r, 100));
}

const data = Buffer.alloc(100, 'x').toString('base64');
const body = Buffer.from(JSON.stringify({
  StreamName: stream,
  Records: Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `pk-${i}`, Data: data })),
}));

let sent = 0, acked = 0, failed = 0;
const started = process.hrtime.bigint();
async function worker() {
  while (sent < total && Date.now() < deadline) {
    sent++;
    const r = await call('PutRecords', body);
    failed += r.FailedRecordCount;
    acked += r.Records.length - r.FailedRecordCount;
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
const secs = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ records: acked, failed, seconds: Number(secs.toFixed(3)), recordsPerSecond: Math.round(acked / secs), concurrency: parallel }));
agent.destroy();
