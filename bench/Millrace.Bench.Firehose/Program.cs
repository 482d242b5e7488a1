using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Millrace.Bench.Load;

// millrace-firehose-load: PutRecordBatch load on a Firehose endpoint (Millrace or a peer), 500 x 1 KiB JSON records a
// call from --connections loops, until --batches calls are done or --seconds pass. Each record starts with its put
// time ({"t":  <epoch ms>,...}) so the reader of the destination can measure data freshness. The rate is measured
// after --warmup seconds (the JIT's tiers and the pools settle first); every acknowledged record counts as put.
// Prints one JSON line.
//   millrace-firehose-load <endpoint> <delivery stream> [--connections 8] [--batches 2000] [--seconds 20] [--warmup 3]
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: millrace-firehose-load <endpoint> <delivery stream> [--connections 8] [--batches 2000] [--seconds 20] [--warmup 3]");
    return 2;
}

var endpoint = new Uri(args[0]);
var stream = args[1];
int connections = 8, batches = 2000, seconds = 20, warmup = 3;
for (var i = 2; i + 1 < args.Length; i += 2)
{
    var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
    switch (args[i])
    {
        case "--connections": connections = value; break;
        case "--batches": batches = value; break;
        case "--seconds": seconds = value; break;
        case "--warmup": warmup = value; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

const int RecordsPerBatch = 500;
const int RecordBytes = 1024;

// The time prefix is 21 bytes (a multiple of 3), so its base64 is 28 characters that can be rewritten in place.
const int PrefixBytes = 21;
const int PrefixChars = 28;

using var wire = new KinesisWire(endpoint, connections, "Firehose_20150804", "firehose");
using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(warmup + seconds));
var issued = 0;
long acknowledged = 0, failed = 0;
var clock = Stopwatch.StartNew();

async Task LoopAsync(int loop)
{
    var (body, offsets) = BuildBody(loop);
    var response = new ResponseBuffer();
    var prefix = new byte[PrefixBytes];
    var encoded = new byte[PrefixChars];
    while (!deadline.IsCancellationRequested && Interlocked.Increment(ref issued) <= batches)
    {
        Encoding.ASCII.GetBytes($"{{\"t\":  {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},", prefix);
        System.Buffers.Text.Base64.EncodeToUtf8(prefix, encoded, out _, out _);
        foreach (var offset in offsets)
        {
            encoded.CopyTo(body, offset);
        }

        var (status, length) = await wire.SendAsync("PutRecordBatch", body, response, CancellationToken.None);
        if (status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"PutRecordBatch: HTTP {(int)status} {Encoding.UTF8.GetString(response.Span(length))}");
        }

        using var answer = JsonDocument.Parse(response.Memory(length));
        var failedPuts = answer.RootElement.GetProperty("FailedPutCount").GetInt32();
        Interlocked.Add(ref failed, failedPuts);
        Interlocked.Add(ref acknowledged, RecordsPerBatch - failedPuts);
    }
}

(byte[] Body, int[] Offsets) BuildBody(int loop)
{
    var record = new StringBuilder($"{{\"t\":  {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},\"loop\":{loop,4},\"p\":\"");
    record.Append('x', RecordBytes - record.Length - 3).Append("\"}\n");
    var data = Convert.ToBase64String(Encoding.ASCII.GetBytes(record.ToString()));
    var text = new StringBuilder("{\"DeliveryStreamName\":").Append(JsonSerializer.Serialize(stream)).Append(",\"Records\":[");
    var offsets = new int[RecordsPerBatch];
    for (var r = 0; r < RecordsPerBatch; r++)
    {
        text.Append(r == 0 ? "" : ",").Append("{\"Data\":\"");
        offsets[r] = text.Length;
        text.Append(data).Append("\"}");
    }

    return (Encoding.ASCII.GetBytes(text.Append("]}").ToString()), offsets);
}

var load = Task.WhenAll(Enumerable.Range(0, connections).Select(LoopAsync));
await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(warmup)));
var (warmRecords, warmTime) = (Interlocked.Read(ref acknowledged), clock.Elapsed.TotalSeconds);
await load;
var elapsed = clock.Elapsed.TotalSeconds - warmTime;
Console.WriteLine(JsonSerializer.Serialize(new
{
    records = acknowledged,
    failed,
    seconds = Math.Round(elapsed, 2),
    records_per_s = elapsed > 0 ? (long)((acknowledged - warmRecords) / elapsed) : 0,
}));
return 0;
