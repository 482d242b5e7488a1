using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Millrace.Aggregation;
using Millrace.Client;

namespace Millrace.Agent.Sending;

/// <summary>Where a flow's records go. A call sends one batch and answers which records failed (to send again).</summary>
internal interface IRecordDestination : IDisposable
{
    /// <summary>"KinesisStream:&lt;name&gt;" or "DeliveryStream:&lt;name&gt;", the AWS agent's metric dimension.</summary>
    string Name { get; }

    /// <summary>Sends <paramref name="records"/>; the indexes of those that failed (throttled, internal errors).</summary>
    Task<IReadOnlyList<int>> SendAsync(IReadOnlyList<byte[]> records, CancellationToken ct);
}

/// <summary>
/// PutRecords to a Kinesis stream. Partition keys as the AWS agent makes them: RANDOM (a random double below
/// 1,000,000 as text) or DETERMINISTIC (hex MD5 of the data). With Millrace's <c>millrace.aggregation</c>, lines
/// are packed into KPL aggregated records (up to 1 MiB each) first, as the KPL does.
/// </summary>
internal sealed class KinesisDestination(KinesisClient client, string stream, bool deterministic, bool aggregate) : IRecordDestination
{
    /// <summary>An aggregated record stays below Kinesis's 1 MiB record limit with room for its partition key.</summary>
    private const long MaxAggregatedBytes = 1024 * 1024 - 512;

    public string Name => "KinesisStream:" + stream;

    public async Task<IReadOnlyList<int>> SendAsync(IReadOnlyList<byte[]> records, CancellationToken ct)
    {
        var entries = new List<PutRecordsRequestEntry>(records.Count);
        var members = new List<(int First, int Count)>(records.Count);
        if (aggregate)
        {
            var builder = new AggregatedRecordBuilder();
            var first = 0;

            // RANDOM keys mean nothing but spread: one per aggregated record spreads as well and keeps the key table at
            // one entry. DETERMINISTIC keys are the data's, so each user record keeps its own.
            var shared = deterministic ? null : PartitionKey([]);
            for (var i = 0; i < records.Count; i++)
            {
                var key = shared ?? PartitionKey(records[i]);
                if (!builder.TryAdd(key, null, records[i], MaxAggregatedBytes))
                {
                    Flush(builder, entries, members, ref first, i);
                    if (shared is not null)
                    {
                        shared = key = PartitionKey([]);
                    }

                    builder.Add(key, null, records[i]);
                }
            }

            Flush(builder, entries, members, ref first, records.Count);
        }
        else
        {
            for (var i = 0; i < records.Count; i++)
            {
                entries.Add(new PutRecordsRequestEntry { Data = records[i], PartitionKey = PartitionKey(records[i]) });
                members.Add((i, 1));
            }
        }

        var response = await client.PutRecordsAsync(new PutRecordsRequest { StreamName = stream, Records = entries }, ct);
        if (response.FailedRecordCount is null or 0)
        {
            return [];
        }

        var failed = new List<int>();
        for (var i = 0; i < response.Records!.Count; i++)
        {
            if (response.Records[i].ErrorCode is not null)
            {
                failed.AddRange(Enumerable.Range(members[i].First, members[i].Count));
            }
        }

        return failed;
    }

    private static void Flush(AggregatedRecordBuilder builder, List<PutRecordsRequestEntry> entries, List<(int First, int Count)> members, ref int first, int next)
    {
        if (builder.Count == 0)
        {
            return;
        }

        var envelope = builder.Build();
        entries.Add(new PutRecordsRequestEntry { Data = envelope.Data, PartitionKey = envelope.PartitionKey, ExplicitHashKey = envelope.ExplicitHashKey });
        members.Add((first, next - first));
        first = next;
        builder.Clear();
    }

    private string PartitionKey(byte[] data) => deterministic
        ? Convert.ToHexStringLower(MD5.HashData(data))
        : (Random.Shared.NextDouble() * 1_000_000).ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => client.Dispose();
}

/// <summary>
/// PutRecordBatch to a Firehose delivery stream over the client library's signed JSON transport. With
/// <c>aggregatedRecordSizeBytes</c>, consecutive lines are packed into one Firehose record up to that size, as the
/// AWS agent does.
/// </summary>
internal sealed class FirehoseDestination(AwsJsonTransport transport, string deliveryStream, int aggregatedRecordSizeBytes) : IRecordDestination
{
    public string Name => "DeliveryStream:" + deliveryStream;

    public async Task<IReadOnlyList<int>> SendAsync(IReadOnlyList<byte[]> records, CancellationToken ct)
    {
        var entries = new List<FirehoseJson.Record>(records.Count);
        var members = new List<(int First, int Count)>(records.Count);
        if (aggregatedRecordSizeBytes > 0)
        {
            var packed = new MemoryStream();
            var first = 0;
            for (var i = 0; i < records.Count; i++)
            {
                if (packed.Length > 0 && packed.Length + records[i].Length > aggregatedRecordSizeBytes)
                {
                    entries.Add(new FirehoseJson.Record { Data = packed.ToArray() });
                    members.Add((first, i - first));
                    packed.SetLength(0);
                    first = i;
                }

                packed.Write(records[i]);
            }

            if (packed.Length > 0)
            {
                entries.Add(new FirehoseJson.Record { Data = packed.ToArray() });
                members.Add((first, records.Count - first));
            }
        }
        else
        {
            for (var i = 0; i < records.Count; i++)
            {
                entries.Add(new FirehoseJson.Record { Data = records[i] });
                members.Add((i, 1));
            }
        }

        var response = await transport.InvokeAsync("PutRecordBatch", new FirehoseJson.PutRecordBatchRequest { DeliveryStreamName = deliveryStream, Records = entries },
            FirehoseJson.Context.Default.PutRecordBatchRequest, FirehoseJson.Context.Default.PutRecordBatchResponse, ct);
        if (response.FailedPutCount == 0)
        {
            return [];
        }

        var failed = new List<int>();
        for (var i = 0; i < response.RequestResponses.Count; i++)
        {
            if (response.RequestResponses[i].ErrorCode is not null)
            {
                failed.AddRange(Enumerable.Range(members[i].First, members[i].Count));
            }
        }

        return failed;
    }

    public void Dispose() => transport.Dispose();
}

/// <summary>The two Firehose shapes the agent sends and reads, for the source-generated serializer.</summary>
internal static partial class FirehoseJson
{
    public sealed class Record
    {
        public byte[] Data { get; set; } = [];
    }

    public sealed class PutRecordBatchRequest
    {
        public string DeliveryStreamName { get; set; } = "";

        public List<Record> Records { get; set; } = [];
    }

    public sealed class RecordResult
    {
        public string? RecordId { get; set; }

        public string? ErrorCode { get; set; }

        public string? ErrorMessage { get; set; }
    }

    public sealed class PutRecordBatchResponse
    {
        public int FailedPutCount { get; set; }

        public List<RecordResult> RequestResponses { get; set; } = [];
    }

    [JsonSerializable(typeof(PutRecordBatchRequest))]
    [JsonSerializable(typeof(PutRecordBatchResponse))]
    internal sealed partial class Context : JsonSerializerContext;
}
