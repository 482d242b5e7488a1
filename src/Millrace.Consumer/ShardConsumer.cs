using System.Diagnostics;
using Millrace.Client;
using Millrace.Consumer.Leases;
using Millrace.Consumer.Retrieval;

namespace Millrace.Consumer;

/// <summary>Runs one lease: waits for the parents' SHARD_END, initializes the processor, reads and delivers batches,
/// and ends with exactly one of LeaseLost, ShardEnded (then child leases) or ShutdownRequested (then eviction).</summary>
internal sealed class ShardConsumer(
    HeldLease held,
    IShardRecordProcessor processor,
    LeaseCoordinator coordinator,
    ILeaseRefresher refresher,
    ShardSyncer syncer,
    Func<string, StartPosition, IRecordsFetcher> fetcherFactory,
    ConsumerConfig config,
    ConsumerMetrics metrics,
    CancellationToken shutdownToken)
{
    public string ShardId => held.ShardId;

    private void Log(string message) => config.Log?.Invoke(message);

    public async Task RunAsync()
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(held.LostToken, shutdownToken);
        var token = stop.Token;
        RecordProcessorCheckpointer? checkpointer = null;
        var initialized = false;
        try
        {
            await WaitForParentsAsync(token).ConfigureAwait(false);
            var checkpoint = held.Lease.Checkpoint ?? ExtendedSequenceNumber.TrimHorizon;
            checkpointer = new RecordProcessorCheckpointer(coordinator, held, checkpoint);
            if (checkpoint.IsShardEnd)
            {
                coordinator.Release(held);
                return;
            }
            await processor.InitializeAsync(new InitializationInput(ShardId, checkpoint, held.Lease.PendingCheckpoint)).ConfigureAwait(false);
            initialized = true;
            Log($"shard consumer started: {ShardId} at {checkpoint}");
            await using var fetcher = fetcherFactory(ShardId, StartPosition.From(checkpoint, config));
            // Records at or below a real checkpoint are dropped (an aggregate resumed in the middle, or AT_SEQUENCE_NUMBER).
            ExtendedSequenceNumber? skipThrough = checkpoint.IsSentinel ? null : checkpoint;
            var userRecords = new List<KinesisClientRecord>();
            while (true)
            {
                token.ThrowIfCancellationRequested();
                RecordsBatch batch;
                try
                {
                    batch = await fetcher.GetNextAsync(token).ConfigureAwait(false);
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    Log($"read of {ShardId} failed, retrying: {e.GetType().Name}: {e.Message}");
                    await Task.Delay(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
                    continue;
                }
                var received = DateTime.UtcNow;
                userRecords.Clear();
                RecordDeaggregation.Deaggregate(batch.Records, held.Lease.StartingHashKey, held.Lease.EndingHashKey,
                    config.DropAggregatesOutsideShardHashRange, userRecords, config.Log);
                if (skipThrough is { } skip && userRecords.Count > 0)
                {
                    var kept = userRecords.FindIndex(r => r.Position > skip);
                    if (kept < 0)
                        userRecords.Clear();
                    else
                    {
                        userRecords.RemoveRange(0, kept);
                        skipThrough = null;
                    }
                }
                if (userRecords.Count > 0 || config.CallProcessRecordsEvenForEmptyRecordList)
                {
                    if (userRecords.Count > 0)
                        checkpointer.LargestPermittedCheckpointValue = userRecords[^1].Position;
                    var started = Stopwatch.GetTimestamp();
                    long bytes = 0;
                    foreach (var r in userRecords)
                        bytes += r.Data.Length;
                    try
                    {
                        await processor.ProcessRecordsAsync(new ProcessRecordsInput([.. userRecords], batch.MillisBehindLatest, checkpointer,
                            batch.IsShardEnd, batch.ChildShards, received, DateTime.UtcNow)).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not ShutdownException)
                    {
                        // As the KCL: a failing batch is logged and not retried; the application owns its error handling.
                        Log($"ProcessRecords of {ShardId} threw: {e.GetType().Name}: {e.Message}");
                    }
                    metrics.Processed(ShardId, userRecords.Count, bytes, batch.MillisBehindLatest, Stopwatch.GetElapsedTime(started));
                }
                else
                {
                    metrics.Processed(ShardId, 0, 0, batch.MillisBehindLatest, TimeSpan.Zero);
                }
                if (batch.IsShardEnd)
                {
                    await EndShardAsync(checkpointer, batch.ChildShards ?? [], token).ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ShutdownException)
        {
            if (held.IsLost || e is ShutdownException)
            {
                if (checkpointer is not null)
                    checkpointer.Disabled = true;
                if (initialized)
                    await Guard("LeaseLost", () => processor.LeaseLostAsync(new LeaseLostInput(ShardId))).ConfigureAwait(false);
                return;
            }
            // Graceful shutdown: the processor checkpoints, then the lease is handed back.
            if (initialized && checkpointer is not null)
                await Guard("ShutdownRequested", () => processor.ShutdownRequestedAsync(new ShutdownRequestedInput(checkpointer))).ConfigureAwait(false);
            try
            {
                await coordinator.EvictAsync(held, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception evict)
            {
                Log($"eviction of {ShardId} failed: {evict.GetType().Name}: {evict.Message}");
            }
        }
        catch (Exception e)
        {
            Log($"shard consumer {ShardId} failed: {e}");
            if (initialized)
                await Guard("LeaseLost", () => processor.LeaseLostAsync(new LeaseLostInput(ShardId))).ConfigureAwait(false);
            // Let another attempt (here or elsewhere) pick the lease up after it expires.
            coordinator.Release(held);
        }
    }

    private async Task Guard(string what, Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log($"{what} of {ShardId} threw: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Blocks until every parent's lease is gone or checkpointed at SHARD_END (the KCL's
    /// BlockOnParentShardTask).</summary>
    private async Task WaitForParentsAsync(CancellationToken token)
    {
        foreach (var parent in held.Lease.ParentShardIds)
        {
            while (true)
            {
                Lease? lease;
                try
                {
                    lease = await refresher.GetLeaseAsync(parent, token).ConfigureAwait(false);
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    Log($"reading parent {parent} of {ShardId} failed: {e.Message}");
                    lease = new Lease { LeaseKey = parent };
                }
                if (lease is null || lease.IsShardEnd)
                    break;
                await Task.Delay(config.ParentShardPollInterval, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>ShardEnded must checkpoint SHARD_END; then the children get their leases and this lease is finished.</summary>
    private async Task EndShardAsync(RecordProcessorCheckpointer checkpointer, IReadOnlyList<ChildShard> children, CancellationToken token)
    {
        checkpointer.LargestPermittedCheckpointValue = ExtendedSequenceNumber.ShardEnd;
        while (true)
        {
            try
            {
                await processor.ShardEndedAsync(new ShardEndedInput(checkpointer)).ConfigureAwait(false);
            }
            catch (ShutdownException)
            {
                throw;
            }
            catch (Exception e)
            {
                Log($"ShardEnded of {ShardId} threw: {e.GetType().Name}: {e.Message}");
            }
            if (checkpointer.LastCheckpointValue.IsShardEnd)
                break;
            Log($"Application didn't checkpoint at end of shard {ShardId}; retrying ShardEnded");
            await Task.Delay(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
        }
        if (children.Count > 0)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await syncer.CreateChildLeasesAsync(held.Lease, children, token).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (attempt < 5 && !token.IsCancellationRequested)
                {
                    // The periodic shard sync also creates them once the parents are at SHARD_END.
                    Log($"creating child leases of {ShardId} failed: {e.Message}");
                    await Task.Delay(TimeSpan.FromMilliseconds(500), token).ConfigureAwait(false);
                }
            }
        }
        Log($"shard ended: {ShardId} -> {string.Join(',', children.Select(c => c.ShardId))}");
        coordinator.Release(held);
    }
}
