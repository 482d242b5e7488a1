using System.Diagnostics;
using System.Runtime.InteropServices;
using Millrace.Aggregation;

namespace Millrace.Producer;

/// <summary>One user record on its way: the task its caller awaits (the record is its own completion source, which
/// saves an allocation per record), its keys and data, and its clock (Stopwatch timestamps).</summary>
internal sealed class UserRecord(string stream, string partitionKey, string? explicitHashKey, ReadOnlyMemory<byte> data, UInt128 hashKey, long arrival, long deadline, long expiration)
    : TaskCompletionSource<UserRecordResult>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public string Stream { get; } = stream;
    public string PartitionKey { get; } = partitionKey;
    public string? ExplicitHashKey { get; } = explicitHashKey;
    public ReadOnlyMemory<byte> Data { get; } = data;
    public UInt128 HashKey { get; } = hashKey;
    public long Arrival { get; } = arrival;
    public long Expiration { get; } = expiration;

    /// <summary>When it should be sent at the latest: arrival + RecordMaxBufferedTime, or the end of a retry's backoff.</summary>
    public long Deadline { get; set; } = deadline;

    /// <summary>Arrival, then the end of the last attempt: the start of the next attempt's Delay.</summary>
    public long LastTime { get; set; } = arrival;

    public string? PredictedShard { get; set; }

    public int Retries { get; set; }

    public List<Attempt>? FailedAttempts { get; set; }

    /// <summary>What it holds against MaxBufferedBytes.</summary>
    public long Size => Data.Length + PartitionKey.Length;

    public IReadOnlyList<Attempt> AttemptsWith(Attempt last)
    {
        if (FailedAttempts is null)
        {
            return [last];
        }

        FailedAttempts.Add(last);
        return FailedAttempts;
    }
}

/// <summary>One record of a PutRecords call: an aggregate of user records for one predicted shard, or one raw user record.</summary>
internal sealed class KinesisRecord
{
    public KinesisRecord(string partitionKey, string? explicitHashKey, byte[] data, List<UserRecord> records, bool aggregated, string? predictedShard)
    {
        PartitionKey = partitionKey;
        ExplicitHashKey = explicitHashKey;
        Data = data;
        Records = records;
        Aggregated = aggregated;
        PredictedShard = predictedShard;
        long deadline = long.MaxValue, expiration = long.MaxValue, userBytes = 0;
        foreach (var r in records)
        {
            deadline = Math.Min(deadline, r.Deadline);
            expiration = Math.Min(expiration, r.Expiration);
            userBytes += r.Data.Length;
        }

        Deadline = deadline;
        Expiration = expiration;
        UserDataBytes = userBytes;
    }

    public static KinesisRecord Single(UserRecord r)
    {
        // The caller's array is used as it is when the memory covers it whole: no copy for a raw record.
        var data = MemoryMarshal.TryGetArray(r.Data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : r.Data.ToArray();
        return new KinesisRecord(r.PartitionKey, r.ExplicitHashKey, data, [r], aggregated: false, r.PredictedShard);
    }

    public string PartitionKey { get; }
    public string? ExplicitHashKey { get; }
    public byte[] Data { get; }
    public List<UserRecord> Records { get; }
    public bool Aggregated { get; }
    public string? PredictedShard { get; }
    public long Deadline { get; }
    public long Expiration { get; }
    public long UserDataBytes { get; }

    /// <summary>What counts against the 1 MiB record and 5 MiB call limits: data plus partition key.</summary>
    public long Size => Data.Length + PartitionKey.Length;
}

/// <summary>Per predicted shard: the aggregate being filled, sealed records waiting for the call, the limiter, and
/// whether a call for this shard is in flight (one at a time keeps a partition key's records in order).</summary>
internal sealed class ShardState(string shardId, long rateLimit)
{
    public string ShardId { get; } = shardId;
    public AggregatedRecordBuilder Builder { get; } = new();
    public List<UserRecord> Open { get; set; } = [];
    public long OpenDeadline { get; set; } = long.MaxValue;
    public Queue<KinesisRecord> Ready { get; } = new();
    public long ReadyBytes { get; set; }
    public TokenBucket Bucket { get; } = new(rateLimit);
    public bool InFlight { get; set; }

    /// <summary>The shard left the map (resharding): what is still here goes to the new shards.</summary>
    public bool Retired { get; set; }
}

/// <summary>Per stream: the shard map, the shard states, records waiting for a map, and retries waiting for their backoff.</summary>
internal sealed class StreamState(string name)
{
    public string Name { get; } = name;
    public Lock Lock { get; } = new();
    public ShardMap? Map { get; set; }
    public Dictionary<string, ShardState> Shards { get; } = new(StringComparer.Ordinal);
    public List<UserRecord> Unmapped { get; } = [];
    public PriorityQueue<UserRecord, long> Retries { get; } = new();
    public Task? Refresh { get; set; }
    public long LastRefresh { get; set; }
    public KeyValuePair<string, object?> Tag { get; } = new("StreamName", name);
}

internal sealed record Batch(StreamState Stream, ShardState? Shard, List<KinesisRecord> Records);

internal static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static long Ticks(TimeSpan t) => t == TimeSpan.MaxValue ? long.MaxValue / 4 : (long)(t.TotalSeconds * Stopwatch.Frequency);

    public static TimeSpan Span(long ticks) => TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);

    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
