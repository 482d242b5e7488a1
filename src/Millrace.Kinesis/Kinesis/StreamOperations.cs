using System.Text.Json;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary, ListStreams.</summary>
public sealed class StreamOperations(StreamService streams)
{
    private const int OnDemandShardCount = 4;
    private const int ListStreamsMax = 100;
    private const int DescribeStreamDefaultLimit = 100;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["CreateStream"] = CreateStreamAsync;
        operations["DeleteStream"] = DeleteStreamAsync;
        operations["DescribeStream"] = DescribeStreamAsync;
        operations["DescribeStreamSummary"] = DescribeStreamSummaryAsync;
        operations["ListStreams"] = ListStreamsAsync;
    }

    private async ValueTask CreateStreamAsync(OperationContext ctx)
    {
        var name = ctx.GetString("StreamName")!;
        var shardCount = ctx.GetInt32("ShardCount");
        var mode = ctx.GetObject("StreamModeDetails") is { } details && details.TryGetProperty("StreamMode", out var m)
            ? m.GetString()!
            : shardCount is null ? "ON_DEMAND" : "PROVISIONED";

        int shards;
        if (mode == "ON_DEMAND")
        {
            if (shardCount is not null)
            {
                throw KinesisException.InvalidArgument("ShardCount must not be specified for streams in ON_DEMAND mode.");
            }

            shards = OnDemandShardCount;
        }
        else
        {
            shards = shardCount ?? throw KinesisException.InvalidArgument("ShardCount is required for streams in PROVISIONED mode.");
        }

        await ControlPlane.CheckShardLimitAsync(streams, shards, ctx.CancellationToken);
        var configure = await CreateSettingsAsync(ctx, name, mode);
        await streams.CreateStreamAsync(name, mode, shards, ctx.CancellationToken, configure);
    }

    /// <summary>CreateStream's optional settings, checked like the operations that change them later.</summary>
    private async ValueTask<Func<StreamDescription, StreamDescription>> CreateSettingsAsync(OperationContext ctx, string name, string mode)
    {
        var tags = ctx.GetObject("Tags") is { } t ? TagOperations.ReadTags(t) : [];
        TagOperations.CheckTags(tags.Select(x => x.Key), tags.Select(x => x.Value), "create", name, streams.AccountId);
        if (tags.Count > TagOperations.MaxTagsPerStream)
        {
            throw TagOperations.TooManyTags("create", name, streams.AccountId);
        }

        var strategy = ctx.GetString("RecordDistributionStrategy") ?? StreamSettingsOperations.UserPartitionKey;
        if (strategy == StreamSettingsOperations.Auto && mode != "ON_DEMAND")
        {
            throw StreamSettingsOperations.AutoNeedsOnDemand(streams, name);
        }

        var warm = ctx.GetInt32("WarmThroughputMiBps");
        if (warm is not null && mode != "ON_DEMAND")
        {
            throw KinesisException.InvalidArgument("WarmThroughputMiBps can only be specified when the stream mode is ON_DEMAND.");
        }

        if (warm > 0 && !await AccountOperations.IsCommitmentEnabledAsync(streams, ctx.NowMs, ctx.CancellationToken))
        {
            throw KinesisException.InvalidArgument(
                $"Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account {streams.AccountId}. Enable it with UpdateAccountSettings.");
        }

        if (mode == "ON_DEMAND")
        {
            await ControlPlane.CheckOnDemandStreamLimitAsync(streams, ctx.CancellationToken);
        }

        var tagMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            tagMap[key] = value;
        }

        int maxRecordKiB = ctx.GetInt32("MaxRecordSizeInKiB") ?? 1024;
        return s => s with { Tags = tagMap, RecordDistributionStrategy = strategy, WarmThroughputMiBps = warm, MaxRecordSizeInKiB = maxRecordKiB };
    }

    private async ValueTask DeleteStreamAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        if (stream.Status == StreamStatus.Creating)
        {
            throw KinesisException.ResourceInUse(
                $"Stream {stream.StreamName} under account {streams.AccountId} not ACTIVE, instead in state {stream.Status}");
        }

        if (stream.Consumers.Count > 0 && ctx.GetBoolean("EnforceConsumerDeletion") != true)
        {
            throw ConsumerOperations.HasConsumers(streams, stream);
        }

        await streams.DeleteStreamAsync(stream, ctx.CancellationToken);
    }

    private async ValueTask DescribeStreamAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        int limit = ctx.GetInt32("Limit") ?? DescribeStreamDefaultLimit;
        int after = -1;
        if (ctx.GetString("ExclusiveStartShardId") is { } exclusiveStart)
        {
            after = ShardIds.TryParse(exclusiveStart, out var ix) ? ix : int.MaxValue;
        }

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartObject("StreamDescription");
        WriteIdentity(w, stream);
        w.WriteStartArray("Shards");
        int written = 0;
        bool more = false;
        foreach (var shard in stream.Shards)
        {
            if (shard.ShardIndex <= after || !streams.IsShardVisible(stream, shard, ctx.NowMs))
            {
                continue;
            }

            if (written == limit)
            {
                more = true;
                break;
            }

            ShardJson.WriteShard(w, shard);
            written++;
        }

        w.WriteEndArray();
        w.WriteBoolean("HasMoreShards", more);
        WriteRetentionAndEncryption(w, stream);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private async ValueTask DescribeStreamSummaryAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartObject("StreamDescriptionSummary");
        WriteIdentity(w, stream);
        WriteRetentionAndEncryption(w, stream);
        w.WriteNumber("OpenShardCount", streams.OpenShards(stream).Length);
        w.WriteNumber("ConsumerCount", stream.Consumers.Count);
        StreamSettingsOperations.WriteWarmThroughput(w, stream);
        w.WriteNumber("MaxRecordSizeInKiB", stream.MaxRecordSizeInKiB);
        if (stream.StreamMode == "ON_DEMAND")
        {
            // The newest model documents the strategy as present only for on-demand streams.
            w.WriteString("RecordDistributionStrategy", stream.RecordDistributionStrategy);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteIdentity(Utf8JsonWriter w, StreamDescription stream)
    {
        w.WriteString("StreamName", stream.StreamName);
        w.WriteString("StreamARN", streams.StreamArn(stream.StreamName));
        w.WriteString("StreamStatus", stream.Status);
        ShardJson.WriteStreamModeDetails(w, stream);
    }

    private static void WriteRetentionAndEncryption(Utf8JsonWriter w, StreamDescription stream)
    {
        w.WriteNumber("RetentionPeriodHours", stream.RetentionPeriodHours);
        JsonTimestamps.WriteEpochSeconds(w, "StreamCreationTimestamp", stream.CreatedAtMs);
        ShardJson.WriteEnhancedMonitoring(w, stream);
        w.WriteString("EncryptionType", stream.EncryptionType);
        if (stream.KeyId is not null)
        {
            w.WriteString("KeyId", stream.KeyId);
        }
    }

    private async ValueTask ListStreamsAsync(OperationContext ctx)
    {
        int limit = Math.Min(ctx.GetInt32("Limit") ?? ListStreamsMax, ListStreamsMax);
        string? after = ctx.GetString("ExclusiveStartStreamName");
        if (ctx.GetString("NextToken") is { } token)
        {
            if (after is not null)
            {
                throw KinesisException.InvalidArgument("NextToken and ExclusiveStartStreamName cannot be provided together.");
            }

            if (!streams.Tokens.TryDecodePageToken(token, out var scope, out var resume, out var issued) || scope != 0)
            {
                throw KinesisException.InvalidArgument("Invalid NextToken.");
            }

            if (ctx.NowMs - issued > PageTokens.LifetimeMs)
            {
                throw KinesisException.ExpiredNextToken("The timestamp on the NextToken has expired.");
            }

            after = resume;
        }

        var all = await streams.Catalog.ListAsync(ctx.CancellationToken);
        var sorted = new List<StreamDescription>(all.Count);
        foreach (var s in all)
        {
            if (after is null || string.CompareOrdinal(s.StreamName, after) > 0)
            {
                sorted.Add(s);
            }
        }

        sorted.Sort(static (a, b) => string.CompareOrdinal(a.StreamName, b.StreamName));
        int count = Math.Min(limit, sorted.Count);
        bool more = sorted.Count > count;

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartArray("StreamNames");
        for (int i = 0; i < count; i++)
        {
            w.WriteStringValue(sorted[i].StreamName);
        }

        w.WriteEndArray();
        w.WriteBoolean("HasMoreStreams", more);
        if (more && count > 0)
        {
            w.WriteString("NextToken", streams.Tokens.EncodePageToken(0, sorted[count - 1].StreamName, ctx.NowMs));
        }

        w.WriteStartArray("StreamSummaries");
        for (int i = 0; i < count; i++)
        {
            var s = sorted[i];
            w.WriteStartObject();
            w.WriteString("StreamName", s.StreamName);
            w.WriteString("StreamARN", streams.StreamArn(s.StreamName));
            w.WriteString("StreamStatus", s.Status);
            ShardJson.WriteStreamModeDetails(w, s);
            JsonTimestamps.WriteEpochSeconds(w, "StreamCreationTimestamp", s.CreatedAtMs);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>Paging tokens expire like AWS's (ListShards documents 300 seconds).</summary>
internal static class PageTokens
{
    public const long LifetimeMs = 300_000;
}
