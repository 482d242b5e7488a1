using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage;
using Millrace.Storage.Delivery;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// A KinesisStreamAsSource delivery stream's reader: copies every shard of the source stream into the delivery
/// stream's buffer, from the delivery start time (LATEST when it was created), parents before children, with a
/// durable per-shard checkpoint written after each page is in the buffer (so a crash re-reads, never skips).
/// </summary>
internal sealed class KinesisSourceReader(LiveStream live, string streamArn, long startMs, IKinesisCalls kinesis, IDeliveryStreamStore store, IStreamStore buffers, FirehoseOptions options)
{
    private const string ShardPrefix = "shard/";
    private const string DonePrefix = "done/";
    private static readonly TimeSpan ShardSyncInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(200);

    private readonly Dictionary<string, Task> _readers = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _done = new(StringComparer.Ordinal);

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            var checkpoints = await store.GetCheckpointsAsync(live.Name, ct);
            foreach (var key in checkpoints.Keys.Where(k => k.StartsWith(DonePrefix, StringComparison.Ordinal)))
            {
                _done[key[DonePrefix.Length..]] = true;
            }

            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await SyncShardsAsync(checkpoints, ct);
                }
                catch (ServiceException)
                {
                    // The stream is being resharded or was deleted: try again at the next sync.
                }

                var finished = _readers.Where(r => r.Value.IsCompleted).Select(r => r.Key).ToList();
                foreach (var shard in finished)
                {
                    _readers.Remove(shard);
                }

                if (finished.Count == 0)
                {
                    await Task.WhenAny(Task.Delay(ShardSyncInterval, options.Clock, ct), Task.WhenAny(_readers.Values.DefaultIfEmpty(Task.Delay(-1, ct))));
                }

                checkpoints = await store.GetCheckpointsAsync(live.Name, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            await Task.WhenAll(_readers.Values).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task SyncShardsAsync(IReadOnlyDictionary<string, string> checkpoints, CancellationToken ct)
    {
        var shards = new List<JsonObject>();
        string? token = null;
        do
        {
            var input = token is null ? new JsonObject { ["StreamARN"] = streamArn } : new JsonObject { ["NextToken"] = token };
            var page = await kinesis.CallAsync("ListShards", input, ct);
            shards.AddRange((page["Shards"] as JsonArray ?? []).Select(s => s!.AsObject()));
            token = page["NextToken"]?.GetValue<string>();
        }
        while (token is not null);

        var present = shards.Select(s => s["ShardId"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        foreach (var shard in shards)
        {
            var id = shard["ShardId"]!.GetValue<string>();
            if (_done.ContainsKey(id) || _readers.ContainsKey(id))
            {
                continue;
            }

            // Parents first: a child starts once each parent still listed was read to its end.
            var parents = new[] { shard["ParentShardId"]?.GetValue<string>(), shard["AdjacentParentShardId"]?.GetValue<string>() };
            if (parents.Any(p => p is not null && present.Contains(p) && !_done.ContainsKey(p)))
            {
                continue;
            }

            checkpoints.TryGetValue(ShardPrefix + id, out var sequence);
            _readers[id] = Task.Run(() => ReadShardAsync(id, sequence, ct), ct);
        }
    }

    private async Task ReadShardAsync(string shardId, string? sequence, CancellationToken ct)
    {
        try
        {
            var iterator = await IteratorAsync(shardId, sequence, ct);
            while (!ct.IsCancellationRequested)
            {
                JsonObject page;
                try
                {
                    page = await kinesis.CallAsync("GetRecords", new JsonObject { ["ShardIterator"] = iterator, ["Limit"] = 10_000, ["StreamARN"] = streamArn }, ct);
                }
                catch (ServiceException e) when (e.Code is "ExpiredIteratorException")
                {
                    iterator = await IteratorAsync(shardId, sequence, ct);
                    continue;
                }
                catch (ServiceException e) when (e.Code is "ProvisionedThroughputExceededException" or "KMSThrottlingException")
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), options.Clock, ct);
                    continue;
                }

                var records = page["Records"] as JsonArray ?? [];
                if (records.Count > 0)
                {
                    sequence = await BufferAsync(shardId, records, ct);
                }

                if (page["NextShardIterator"]?.GetValue<string>() is not { } next)
                {
                    await store.PutCheckpointsAsync(live.Name, [new(DonePrefix + shardId, "1")], ct);
                    _done[shardId] = true;
                    return;
                }

                iterator = next;
                if (records.Count == 0)
                {
                    await Task.Delay(IdlePoll, options.Clock, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ServiceException)
        {
            // Shard gone (stream deleted, trimmed): the next sync decides.
        }
    }

    private async Task<string> IteratorAsync(string shardId, string? sequence, CancellationToken ct)
    {
        var input = new JsonObject { ["StreamARN"] = streamArn, ["ShardId"] = shardId };
        if (sequence is not null)
        {
            input["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER";
            input["StartingSequenceNumber"] = sequence;
        }
        else
        {
            input["ShardIteratorType"] = "AT_TIMESTAMP";
            input["Timestamp"] = startMs / 1000.0;
        }

        return (await kinesis.CallAsync("GetShardIterator", input, ct))["ShardIterator"]!.GetValue<string>();
    }

    /// <summary>Appends a page to the buffer with each record's origin, then checkpoints its last sequence number.</summary>
    private async Task<string> BufferAsync(string shardId, JsonArray records, CancellationToken ct)
    {
        var entries = new AppendEntry[records.Count];
        string last = "";
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i]!.AsObject();
            last = r["SequenceNumber"]!.GetValue<string>();
            var arrival = (long)((ModelDocument.GetDouble(r["ApproximateArrivalTimestamp"]) ?? 0) * 1000);
            var metadata = new KinesisMetadata(shardId, r["PartitionKey"]!.GetValue<string>(), last, 0, arrival);
            entries[i] = new AppendEntry(0, metadata.Encode(), Convert.FromBase64String(r["Data"]!.GetValue<string>()));
        }

        await buffers.Records.AppendAsync(live.BufferId, entries, new AppendedRecord[entries.Length], ct);
        await store.PutCheckpointsAsync(live.Name, [new(ShardPrefix + shardId, last)], ct);
        return last;
    }
}
