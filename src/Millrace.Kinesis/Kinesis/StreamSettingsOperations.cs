using System.Text.Json;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>Per-stream settings: EnableEnhancedMonitoring, DisableEnhancedMonitoring, UpdateStreamMode,
/// UpdateMaxRecordSize, UpdateStreamWarmThroughput and UpdateStreamRecordDistributionStrategy. Each takes effect
/// at once: the stream stays ACTIVE (there is no capacity to move).</summary>
public sealed class StreamSettingsOperations(StreamService streams)
{
    public const string UserPartitionKey = "USER_PARTITION_KEY";
    public const string Auto = "AUTO";

    /// <summary>The shard-level metrics in the model's order; "ALL" stands for all of them.</summary>
    public static readonly string[] ShardLevelMetrics =
    [
        "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
        "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
    ];

    /// <summary>The default on-demand ceiling (10 GiB/s) that warm throughput may not pass.</summary>
    private const int MaxWarmThroughputMiBps = 10_240;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["EnableEnhancedMonitoring"] = ctx => ChangeMonitoringAsync(ctx, enable: true);
        operations["DisableEnhancedMonitoring"] = ctx => ChangeMonitoringAsync(ctx, enable: false);
        operations["UpdateStreamMode"] = UpdateStreamModeAsync;
        operations["UpdateMaxRecordSize"] = UpdateMaxRecordSizeAsync;
        operations["UpdateStreamWarmThroughput"] = UpdateStreamWarmThroughputAsync;
        operations["UpdateStreamRecordDistributionStrategy"] = UpdateRecordDistributionStrategyAsync;
    }

    /// <summary>DescribeStreamSummary's WarmThroughput: only on-demand streams that have one set.</summary>
    public static void WriteWarmThroughput(Utf8JsonWriter w, StreamDescription stream)
    {
        if (stream.StreamMode == ControlPlane.OnDemand && stream.WarmThroughputMiBps is { } mibps)
        {
            w.WriteStartObject("WarmThroughput");
            w.WriteNumber("TargetMiBps", mibps);
            w.WriteNumber("CurrentMiBps", mibps); // scaling is instant here
            w.WriteEndObject();
        }
    }

    private async ValueTask ChangeMonitoringAsync(OperationContext ctx, bool enable)
    {
        var requested = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in ctx.Input.GetProperty("ShardLevelMetrics").EnumerateArray())
        {
            var name = m.GetString()!;
            if (name == "ALL")
            {
                requested.UnionWith(ShardLevelMetrics);
            }
            else
            {
                requested.Add(name);
            }
        }

        IReadOnlyList<string> before = [];
        var updated = await ControlPlane.ChangeActiveStreamAsync(streams, ctx, s =>
        {
            before = s.ShardLevelMetrics;
            var desired = ShardLevelMetrics
                .Where(m => enable ? requested.Contains(m) || s.ShardLevelMetrics.Contains(m) : !requested.Contains(m) && s.ShardLevelMetrics.Contains(m))
                .ToArray();
            return desired.SequenceEqual(s.ShardLevelMetrics) ? null : s with { ShardLevelMetrics = desired };
        });

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("StreamName", updated.StreamName);
        w.WriteString("StreamARN", streams.StreamArn(updated.StreamName));
        ControlPlane.WriteStrings(w, "CurrentShardLevelMetrics", before);
        ControlPlane.WriteStrings(w, "DesiredShardLevelMetrics", updated.ShardLevelMetrics);
        w.WriteEndObject();
    }

    private async ValueTask UpdateStreamModeAsync(OperationContext ctx)
    {
        var target = ctx.GetObject("StreamModeDetails")!.Value.GetProperty("StreamMode").GetString()!;
        var warm = ctx.GetInt32("WarmThroughputMiBps");
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        if (stream.Status != StreamStatus.Active)
        {
            throw ControlPlane.NotActive(streams, stream);
        }

        if (warm is not null)
        {
            if (target != ControlPlane.OnDemand)
            {
                throw KinesisException.InvalidArgument("WarmThroughputMiBps can only be specified when the stream mode is ON_DEMAND.");
            }

            await CheckWarmThroughputAsync(warm.Value, ctx);
        }

        if (target == ControlPlane.OnDemand && stream.StreamMode != ControlPlane.OnDemand)
        {
            await ControlPlane.CheckOnDemandStreamLimitAsync(streams, ctx.CancellationToken);
        }

        await ControlPlane.ChangeActiveStreamAsync(streams, stream.StreamName, ctx.CancellationToken, s =>
        {
            if (s.StreamMode == target && warm is null)
            {
                return null;
            }

            return target == ControlPlane.OnDemand
                ? s with { StreamMode = target, WarmThroughputMiBps = warm ?? s.WarmThroughputMiBps }
                // Warm throughput and the AUTO strategy exist only in on-demand mode.
                : s with { StreamMode = target, WarmThroughputMiBps = null, RecordDistributionStrategy = UserPartitionKey };
        });
    }

    private async ValueTask UpdateMaxRecordSizeAsync(OperationContext ctx)
    {
        int kib = ctx.GetInt32("MaxRecordSizeInKiB")!.Value;
        await ControlPlane.ChangeActiveStreamAsync(streams, ctx,
            s => s.MaxRecordSizeInKiB == kib ? null : s with { MaxRecordSizeInKiB = kib });
    }

    private async ValueTask UpdateStreamWarmThroughputAsync(OperationContext ctx)
    {
        int mibps = ctx.GetInt32("WarmThroughputMiBps")!.Value;
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        if (stream.StreamMode != ControlPlane.OnDemand)
        {
            throw KinesisException.InvalidArgument(
                $"Warm throughput is only supported for streams in ON_DEMAND mode. Stream {stream.StreamName} under account {streams.AccountId} is in {stream.StreamMode} mode.");
        }

        await CheckWarmThroughputAsync(mibps, ctx);
        var updated = await ControlPlane.ChangeActiveStreamAsync(streams, stream.StreamName, ctx.CancellationToken, s =>
        {
            if (s.StreamMode != ControlPlane.OnDemand)
            {
                throw KinesisException.InvalidArgument(
                    $"Warm throughput is only supported for streams in ON_DEMAND mode. Stream {s.StreamName} under account {streams.AccountId} is in {s.StreamMode} mode.");
            }

            return s.WarmThroughputMiBps == mibps ? null : s with { WarmThroughputMiBps = mibps };
        });

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("StreamARN", streams.StreamArn(updated.StreamName));
        w.WriteString("StreamName", updated.StreamName);
        WriteWarmThroughput(w, updated);
        w.WriteEndObject();
    }

    private async ValueTask CheckWarmThroughputAsync(int mibps, OperationContext ctx)
    {
        if (mibps > 0 && !await AccountOperations.IsCommitmentEnabledAsync(streams, ctx.NowMs, ctx.CancellationToken))
        {
            throw KinesisException.InvalidArgument(
                $"Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account {streams.AccountId}. Enable it with UpdateAccountSettings.");
        }

        if (mibps > MaxWarmThroughputMiBps)
        {
            throw KinesisException.LimitExceeded(
                $"Requested warm throughput of {mibps} MiBps exceeds the limit of {MaxWarmThroughputMiBps} MiBps for an on-demand stream.");
        }
    }

    private async ValueTask UpdateRecordDistributionStrategyAsync(OperationContext ctx)
    {
        var strategy = ctx.GetString("RecordDistributionStrategy")!;
        await ControlPlane.ChangeActiveStreamAsync(streams, ctx, s =>
        {
            if (strategy == Auto && s.StreamMode != ControlPlane.OnDemand)
            {
                throw AutoNeedsOnDemand(streams, s.StreamName);
            }

            return s.RecordDistributionStrategy == strategy ? null : s with { RecordDistributionStrategy = strategy };
        });
    }

    public static KinesisException AutoNeedsOnDemand(StreamService streams, string streamName) =>
        KinesisException.InvalidArgument(
            $"The AUTO record distribution strategy is only supported for streams in ON_DEMAND mode. Stream {streamName} under account {streams.AccountId} is in PROVISIONED mode.");
}
