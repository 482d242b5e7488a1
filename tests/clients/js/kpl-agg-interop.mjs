// Interoperability of Millrace's KPL aggregation with npm aws-kinesis-agg (driven by tests/Millrace.Aggregation.Tests).
//
//   node tests/clients/js/kpl-agg-interop.mjs deaggregate   < [{sequenceNumber, partitionKey, data(base64)}]
//     -> [{sequenceNumber, subSequenceNumber, partitionKey, explicitHashKey, data(base64)}], checksums verified
//   node tests/clients/js/kpl-agg-interop.mjs aggregate     < [[{partitionKey, explicitHashKey?, data(base64)}], ...]
//     -> [{partitionKey, explicitHashKey, data(base64)}], one aggregated record per input group (RecordAggregator)
//
// Reads JSON on stdin, writes JSON on stdout; exits non-zero on any error from the library.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const agg = require('aws-kinesis-agg');

const readStdin = async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
};

const mode = process.argv[2];
const input = await readStdin();
const out = [];

if (mode === 'deaggregate') {
  for (const record of input) {
    agg.deaggregateSync(record, true, (err, userRecords) => {
      if (err) throw err;
      for (const u of userRecords) {
        out.push({
          sequenceNumber: u.sequenceNumber,
          subSequenceNumber: u.subSequenceNumber ?? 0,
          partitionKey: u.partitionKey,
          explicitHashKey: u.explicitPartitionKey ?? null,
          data: u.data,
        });
      }
    });
  }
} else if (mode === 'aggregate') {
  for (const group of input) {
    const aggregator = new agg.RecordAggregator();
    for (const u of group) {
      const record = { partitionKey: u.partitionKey, data: Buffer.from(u.data, 'base64') };
      if (u.explicitHashKey) record.explicitHashKey = u.explicitHashKey;
      aggregator.addUserRecord(record);
    }
    const encoded = aggregator.build();
    out.push({
      partitionKey: encoded.partitionKey,
      explicitHashKey: encoded.ExplicitHashKey ?? null,
      data: encoded.data.toString('base64'),
    });
  }
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

process.stdout.write(JSON.stringify(out));
