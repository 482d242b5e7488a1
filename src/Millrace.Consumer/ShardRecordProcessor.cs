using Millrace.Client;

namespace Millrace.Consumer;

/// <summary>The application's code for one shard, as in the KCL's ShardRecordProcessor. Calls for one shard are
/// never concurrent: InitializeAsync, then ProcessRecordsAsync any number of times, then exactly one of
/// LeaseLostAsync, ShardEndedAsync or ShutdownRequestedAsync.</summary>
public interface IShardRecordProcessor
{
    Task InitializeAsync(InitializationInput input);

    Task ProcessRecordsAsync(ProcessRecordsInput input);

    /// <summary>Another worker took the lease: do not checkpoint (the checkpointer is gone).</summary>
    Task LeaseLostAsync(LeaseLostInput input);

    /// <summary>The shard is closed and read to its end. Must call <c>input.Checkpointer.CheckpointAsync()</c>,
    /// which writes SHARD_END; until then the child shards are not processed.</summary>
    Task ShardEndedAsync(ShardEndedInput input);

    /// <summary>The worker is shutting down gracefully: checkpoint what has been processed.</summary>
    Task ShutdownRequestedAsync(ShutdownRequestedInput input);
}

/// <summary>Creates one processor per shard lease.</summary>
public interface IShardRecordProcessorFactory
{
    IShardRecordProcessor CreateProcessor();
}

public sealed record InitializationInput(string ShardId, ExtendedSequenceNumber ExtendedSequenceNumber,
    ExtendedSequenceNumber? PendingCheckpointSequenceNumber);

public sealed record ProcessRecordsInput(
    IReadOnlyList<KinesisClientRecord> Records,
    long? MillisBehindLatest,
    RecordProcessorCheckpointer Checkpointer,
    bool IsAtShardEnd,
    IReadOnlyList<ChildShard>? ChildShards,
    DateTime CacheEntryTime,
    DateTime CacheExitTime);

public sealed record LeaseLostInput(string ShardId);

public sealed record ShardEndedInput(RecordProcessorCheckpointer Checkpointer);

public sealed record ShutdownRequestedInput(RecordProcessorCheckpointer Checkpointer);
