using System.Diagnostics;
using Millrace.Client;

namespace Millrace.Consumer.Retrieval;

/// <summary>One read of a shard: its records (still aggregated), how far behind the tip the read was, and at the end
/// of a closed shard the child shards.</summary>
internal sealed record RecordsBatch(IReadOnlyList<Record> Records, long? MillisBehindLatest, IReadOnlyList<ChildShard>? ChildShards, bool IsShardEnd);

/// <summary>Reads one shard from a starting checkpoint, batch after batch.</summary>
internal interface IRecordsFetcher : IAsyncDisposable
{
    Task<RecordsBatch> GetNextAsync(CancellationToken cancellationToken);
}

/// <summary>Where to start reading a lease: after a sentinel checkpoint, the matching iterator type; after a real one,
/// AT_SEQUENCE_NUMBER (the processor drops what is at or below the checkpoint, so a partly checkpointed aggregate is
/// resumed inside).</summary>
internal readonly record struct StartPosition(string Type, string? SequenceNumber, DateTime? Timestamp)
{
    public static StartPosition From(ExtendedSequenceNumber checkpoint, ConsumerConfig config) => checkpoint.SequenceNumber switch
    {
        ExtendedSequenceNumber.TrimHorizonValue => new(ShardIteratorType.TRIM_HORIZON, null, null),
        ExtendedSequenceNumber.LatestValue => new(ShardIteratorType.LATEST, null, null),
        ExtendedSequenceNumber.AtTimestampValue => new(ShardIteratorType.AT_TIMESTAMP, null,
            config.InitialPositionTimestamp ?? throw new InvalidOperationException("AT_TIMESTAMP needs InitialPositionTimestamp")),
        _ => new(ShardIteratorType.AT_SEQUENCE_NUMBER, checkpoint.SequenceNumber, null),
    };
}

/// <summary>GetRecords polling: up to MaxRecords per call, IdleTimeBetweenReads between calls, a fresh iterator after
/// the last record read when one expires.</summary>
internal sealed class PollingRecordsFetcher(IKinesisClient kinesis, ConsumerConfig config, string shardId, StartPosition start) : IRecordsFetcher
{
    private string? _iterator;
    private string? _lastSequenceNumber;
    private long _lastCall;

    public async Task<RecordsBatch> GetNextAsync(CancellationToken cancellationToken)
    {
        if (_lastCall != 0)
        {
            var wait = config.IdleTimeBetweenReads - Stopwatch.GetElapsedTime(_lastCall);
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
        _iterator ??= await NewIteratorAsync(cancellationToken).ConfigureAwait(false);
        GetRecordsResponse response;
        try
        {
            _lastCall = Stopwatch.GetTimestamp();
            response = await kinesis.GetRecordsAsync(new GetRecordsRequest { ShardIterator = _iterator, Limit = config.MaxRecords }, cancellationToken).ConfigureAwait(false);
        }
        catch (ExpiredIteratorException)
        {
            _iterator = null;
            return new RecordsBatch([], null, null, false);
        }
        var records = response.Records ?? [];
        if (records.Count > 0)
            _lastSequenceNumber = records[^1].SequenceNumber;
        _iterator = response.NextShardIterator;
        var end = _iterator is null;
        return new RecordsBatch(records, response.MillisBehindLatest, response.ChildShards, end);
    }

    private async Task<string?> NewIteratorAsync(CancellationToken cancellationToken)
    {
        var request = new GetShardIteratorRequest { StreamName = config.StreamName, ShardId = shardId };
        if (_lastSequenceNumber is not null)
        {
            request.ShardIteratorType = ShardIteratorType.AFTER_SEQUENCE_NUMBER;
            request.StartingSequenceNumber = _lastSequenceNumber;
        }
        else
        {
            request.ShardIteratorType = start.Type;
            request.StartingSequenceNumber = start.SequenceNumber;
            request.Timestamp = start.Timestamp;
        }
        return (await kinesis.GetShardIteratorAsync(request, cancellationToken).ConfigureAwait(false)).ShardIterator;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
