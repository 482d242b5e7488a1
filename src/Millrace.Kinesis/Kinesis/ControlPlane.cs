using System.Text.Json;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>What the control-plane operation families share: changing a stream that must be ACTIVE, resolving
/// a ResourceARN, and the account-wide counts behind DescribeLimits and the on-demand stream quota.</summary>
internal static class ControlPlane
{
    public const string OnDemand = "ON_DEMAND";
    public const string Provisioned = "PROVISIONED";

    public static KinesisException NotActive(StreamService streams, StreamDescription stream) =>
        KinesisException.ResourceInUse(
            $"Stream {stream.StreamName} under account {streams.AccountId} not ACTIVE, instead in state {stream.Status}");

    /// <summary>Applies <paramref name="change"/> to the stream named in the input, which must be ACTIVE when the
    /// change is applied (checked against the stored copy, so a concurrent status change is seen). The change may
    /// throw to reject the request, or return null to leave the stream as it is.</summary>
    public static ValueTask<StreamDescription> ChangeActiveStreamAsync(
        StreamService streams, OperationContext ctx, Func<StreamDescription, StreamDescription?> change) =>
        ChangeActiveStreamAsync(streams, streams.StreamNameFrom(ctx.Input), ctx.CancellationToken, change);

    public static async ValueTask<StreamDescription> ChangeActiveStreamAsync(
        StreamService streams, string streamName, CancellationToken ct, Func<StreamDescription, StreamDescription?> change)
    {
        var updated = await streams.UpdateAsync(streamName, current =>
        {
            if (current.Status != StreamStatus.Active)
            {
                throw NotActive(streams, current);
            }

            return change(current);
        }, ct);
        return updated ?? throw streams.StreamNotFound(streamName);
    }

    /// <summary>The stream a ResourceARN names. Consumer ARNs (…/consumer/name:epoch) name nothing yet.</summary>
    public static string StreamNameFromResourceArn(StreamService streams, string arn)
    {
        if (arn.Contains("/consumer/", StringComparison.Ordinal))
        {
            throw KinesisException.ResourceNotFound($"Consumer {arn} not found.");
        }

        return streams.StreamNameFromArn(arn);
    }

    public static async ValueTask<int> CountOpenShardsAsync(StreamService streams, CancellationToken ct)
    {
        int open = 0;
        foreach (var s in await streams.Catalog.ListAsync(ct))
        {
            open += streams.OpenShards(s).Length;
        }

        return open;
    }

    /// <summary>The account's shard quota (<see cref="KinesisOptions.ShardLimit"/>, 0 = none): throws
    /// LimitExceededException when <paramref name="additional"/> more open shards would exceed it.</summary>
    public static async ValueTask CheckShardLimitAsync(StreamService streams, int additional, CancellationToken ct)
    {
        var limit = streams.Options.ShardLimit;
        if (limit <= 0 || additional <= 0)
        {
            return;
        }

        int open = await CountOpenShardsAsync(streams, ct);
        if (open + additional > limit)
        {
            throw KinesisException.LimitExceeded(
                $"This request would exceed the shard limit for the account {streams.AccountId} in {streams.Options.Region}. " +
                $"Current shard count for the account: {open}. Limit: {limit}. " +
                $"Number of additional shards that would have resulted from this request: {additional}.");
        }
    }

    public static async ValueTask<int> CountOnDemandStreamsAsync(StreamService streams, CancellationToken ct)
    {
        int count = 0;
        foreach (var s in await streams.Catalog.ListAsync(ct))
        {
            if (s.StreamMode == OnDemand)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>LimitExceededException when one more on-demand stream would pass the account's quota.</summary>
    public static async ValueTask CheckOnDemandStreamLimitAsync(StreamService streams, CancellationToken ct)
    {
        int limit = streams.Options.OnDemandStreamCountLimit;
        if (limit <= 0)
        {
            return;
        }

        int current = await CountOnDemandStreamsAsync(streams, ct);
        if (current + 1 > limit)
        {
            throw KinesisException.LimitExceeded(
                $"This request would exceed the on-demand stream count limit for the account {streams.AccountId} in {streams.Options.Region}. " +
                $"Current on-demand stream count for the account: {current}. Limit: {limit}.");
        }
    }

    /// <summary>Writes a string array member.</summary>
    public static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }
}
