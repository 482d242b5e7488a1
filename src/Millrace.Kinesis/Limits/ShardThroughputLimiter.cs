using System.Collections.Concurrent;
using Millrace.Protocol;
using Millrace.Kinesis;
using Millrace.Storage;

namespace Millrace.Kinesis.Limits;

/// <summary>
/// Data-plane budgets for <c>--enforce-limits</c>: write bytes and records, read bytes, GetRecords and
/// GetShardIterator calls, and the read penalty after a large response. Provisioned streams are budgeted per
/// shard; an on-demand stream's write and read bytes come from one pool for the whole stream, while call rates
/// stay per shard. Checks take one dictionary lookup and one short lock, and allocate nothing once a shard has
/// been seen.
/// </summary>
public sealed class ShardThroughputLimiter(ThroughputLimits limits, string accountId)
{
    private const int WholeStream = -1;
    private const string ThroughputExceeded = "ProvisionedThroughputExceededException";

    private readonly ConcurrentDictionary<ShardKey, WriteBudget> _writes = new();
    private readonly ConcurrentDictionary<ShardKey, ReadBudget> _reads = new();
    private readonly ConcurrentDictionary<ShardKey, CallBudget> _calls = new();

    public ThroughputLimits Limits => limits;

    /// <summary>PutRecord: takes the record from its shard's write budget or throws AWS's PTE.</summary>
    public void AdmitWrite(StreamDescription stream, int shardIndex, long bytes, long nowMs)
    {
        if (!Write(stream, shardIndex, nowMs).TryTake(bytes, nowMs))
        {
            throw new KinesisException(ThroughputExceeded, WriteRejectedMessage(stream, shardIndex));
        }
    }

    /// <summary>PutRecords: admits entries in request order while their shard has budget; marks the others in
    /// <paramref name="rejected"/> and returns how many there are.</summary>
    public int AdmitWrites(StreamDescription stream, ReadOnlySpan<AppendEntry> entries, Span<bool> rejected, long nowMs)
    {
        int count = 0;
        WriteBudget? budget = null;
        int budgetShard = int.MinValue;
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            if (entry.ShardIndex != budgetShard || budget is null)
            {
                budget = Write(stream, entry.ShardIndex, nowMs);
                budgetShard = entry.ShardIndex;
            }

            rejected[i] = !budget.TryTake(entry.Data.Length + entry.PartitionKey.Length, nowMs);
            count += rejected[i] ? 1 : 0;
        }

        return count;
    }

    /// <summary>AWS's per-entry and PutRecord message for a write over the shard's budget.</summary>
    public string WriteRejectedMessage(StreamDescription stream, int shardIndex) =>
        $"Rate exceeded for shard {ShardIds.Format(shardIndex)} in stream {stream.StreamName} under account {accountId}.";

    /// <summary>GetRecords, before reading: the shard's call rate, the read penalty and the read-bytes budget.</summary>
    public void BeforeGetRecords(StreamDescription stream, int shardIndex, long nowMs)
    {
        var calls = Calls(stream, shardIndex, nowMs);
        bool admitted = calls.TryTakeGetRecords(nowMs) && Read(stream, shardIndex, nowMs).HasCredit(nowMs);
        if (!admitted)
        {
            throw new KinesisException(ThroughputExceeded, $"Rate exceeded for Shard - {accountId}/{stream.StreamName}/{ShardIds.Format(shardIndex)}");
        }
    }

    /// <summary>GetRecords, after reading: charges the response to the read budget (it may go into debt) and
    /// starts the penalty window after a response of <see cref="ThroughputLimits.ReadPenaltyBytes"/> or more.</summary>
    public void AfterGetRecords(StreamDescription stream, int shardIndex, long responseBytes, long nowMs)
    {
        Read(stream, shardIndex, nowMs).Take(responseBytes, nowMs);
        if (responseBytes >= limits.ReadPenaltyBytes)
        {
            Calls(stream, shardIndex, nowMs).Penalize(nowMs + (long)limits.ReadPenalty.TotalMilliseconds);
        }
    }

    /// <summary>GetShardIterator: 5 calls per second per shard.</summary>
    public void AdmitGetShardIterator(StreamDescription stream, int shardIndex, long nowMs)
    {
        if (!Calls(stream, shardIndex, nowMs).TryTakeIterator(nowMs))
        {
            throw new KinesisException(ThroughputExceeded, WriteRejectedMessage(stream, shardIndex));
        }
    }

    private static bool IsOnDemand(StreamDescription stream) => stream.StreamMode == "ON_DEMAND";

    private WriteBudget Write(StreamDescription stream, int shardIndex, long nowMs)
    {
        bool pooled = IsOnDemand(stream);
        var key = new ShardKey(stream.StreamId, pooled ? WholeStream : shardIndex);
        return _writes.GetOrAdd(key, static (_, a) => new WriteBudget(
            a.Limits.ShardWriteBytesPerSecond * a.Multiple, a.Limits.ShardWriteRecordsPerSecond * a.Multiple, a.NowMs),
            (Limits: limits, Multiple: pooled ? limits.OnDemandShardMultiple : 1, NowMs: nowMs));
    }

    private ReadBudget Read(StreamDescription stream, int shardIndex, long nowMs)
    {
        bool pooled = IsOnDemand(stream);
        var key = new ShardKey(stream.StreamId, pooled ? WholeStream : shardIndex);
        return _reads.GetOrAdd(key, static (_, a) => new ReadBudget(a.Rate, a.NowMs),
            (Rate: limits.ShardReadBytesPerSecond * (pooled ? limits.OnDemandShardMultiple : 1), NowMs: nowMs));
    }

    private CallBudget Calls(StreamDescription stream, int shardIndex, long nowMs) =>
        _calls.GetOrAdd(new ShardKey(stream.StreamId, shardIndex), static (_, a) => new CallBudget(a.Limits, a.NowMs), (Limits: limits, NowMs: nowMs));

    private sealed class WriteBudget(long bytesPerSecond, long recordsPerSecond, long nowMs)
    {
        private readonly Lock _lock = new();
        private TokenBucket _bytes = new(bytesPerSecond, nowMs);
        private TokenBucket _records = new(recordsPerSecond, nowMs);

        public bool TryTake(long bytes, long nowMs)
        {
            lock (_lock)
            {
                _bytes.Refill(nowMs);
                _records.Refill(nowMs);
                if (!_bytes.CanTake(bytes) || !_records.CanTake(1))
                {
                    return false;
                }

                _bytes.Take(bytes);
                _records.Take(1);
                return true;
            }
        }
    }

    private sealed class ReadBudget(long bytesPerSecond, long nowMs)
    {
        private readonly Lock _lock = new();
        private TokenBucket _bytes = new(bytesPerSecond, nowMs);

        public bool HasCredit(long nowMs)
        {
            lock (_lock)
            {
                _bytes.Refill(nowMs);
                return _bytes.HasCredit;
            }
        }

        public void Take(long bytes, long nowMs)
        {
            lock (_lock)
            {
                _bytes.Refill(nowMs);
                _bytes.Take(bytes);
            }
        }
    }

    private sealed class CallBudget(ThroughputLimits limits, long nowMs)
    {
        private readonly Lock _lock = new();
        private TokenBucket _getRecords = new(limits.ShardGetRecordsPerSecond, nowMs);
        private TokenBucket _iterators = new(limits.ShardGetShardIteratorPerSecond, nowMs);
        private long _penaltyUntilMs;

        public bool TryTakeGetRecords(long nowMs)
        {
            lock (_lock)
            {
                _getRecords.Refill(nowMs);
                if (nowMs < _penaltyUntilMs || !_getRecords.CanTake(1))
                {
                    return false;
                }

                _getRecords.Take(1);
                return true;
            }
        }

        public bool TryTakeIterator(long nowMs)
        {
            lock (_lock)
            {
                _iterators.Refill(nowMs);
                if (!_iterators.CanTake(1))
                {
                    return false;
                }

                _iterators.Take(1);
                return true;
            }
        }

        public void Penalize(long untilMs)
        {
            lock (_lock)
            {
                _penaltyUntilMs = Math.Max(_penaltyUntilMs, untilMs);
            }
        }
    }
}
