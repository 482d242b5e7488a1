using System.Text.Json;
using Microsoft.Extensions.Logging;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>
/// Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers,
/// DeregisterStreamConsumer, and tags and resource policies addressed by a consumer ARN. Consumers live on their
/// stream's description; CREATING → ACTIVE and DELETING → gone take the stream create and delete delays.
/// </summary>
public sealed class ConsumerOperations(StreamService streams, ILogger<ConsumerOperations> logger)
{
    public const int MaxConsumersPerStream = 20;
    public const int MaxCreatingPerStream = 5;
    private const int ListMax = 100;
    private const string NoPolicy = "{}";
    private const string PageScope = "consumers\n";

    /// <summary>Registers the consumer operations. Call after <see cref="TagOperations"/> and <see cref="PolicyOperations"/>:
    /// their ARN-based operations are wrapped so consumer ARNs are answered here and stream ARNs as before.</summary>
    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["RegisterStreamConsumer"] = RegisterAsync;
        operations["DescribeStreamConsumer"] = DescribeAsync;
        operations["ListStreamConsumers"] = ListAsync;
        operations["DeregisterStreamConsumer"] = DeregisterAsync;

        WrapForConsumerArns(operations, "TagResource", TagAsync);
        WrapForConsumerArns(operations, "UntagResource", UntagAsync);
        WrapForConsumerArns(operations, "ListTagsForResource", ListTagsAsync);
        WrapForConsumerArns(operations, "PutResourcePolicy", PutPolicyAsync);
        WrapForConsumerArns(operations, "GetResourcePolicy", GetPolicyAsync);
        WrapForConsumerArns(operations, "DeleteResourcePolicy", DeletePolicyAsync);
    }

    public static bool IsConsumerArn(string? arn) => arn is not null && arn.Contains("/consumer/", StringComparison.Ordinal);

    /// <summary>AWS's answer when a consumer must be ACTIVE and is not (SubscribeToShard, resource policies).</summary>
    public static KinesisException NotActive(StreamService streams, StreamDescription stream, ConsumerDescription consumer) =>
        KinesisException.ResourceInUse(
            $"Consumer {consumer.ConsumerName} with creation timestamp {consumer.CreatedAtMs / 1000} under stream {stream.StreamName} " +
            $"and account {streams.AccountId} is not in ACTIVE status.");

    /// <summary>DeleteStream's refusal while consumers are registered and EnforceConsumerDeletion is not true.</summary>
    public static KinesisException HasConsumers(StreamService streams, StreamDescription stream) =>
        KinesisException.ResourceInUse(
            $"DeleteStream can't delete {streams.AccountId}:{stream.StreamName} because there are consumers associated with this data stream. " +
            $"To delete {stream.StreamName} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it.");

    /// <summary>Finishes consumer transitions interrupted by a restart, each after what remains of its delay.</summary>
    public async Task ResumeAsync(CancellationToken ct)
    {
        foreach (var stream in await streams.Catalog.ListAsync(ct))
        {
            foreach (var consumer in stream.Consumers)
            {
                var delay = consumer.Status switch
                {
                    ConsumerStatus.Creating => streams.Options.CreateStreamDelay,
                    ConsumerStatus.Deleting => streams.Options.DeleteStreamDelay,
                    _ => (TimeSpan?)null,
                };
                if (delay is { } d)
                {
                    var remaining = d - TimeSpan.FromMilliseconds(streams.NowMs - consumer.StatusChangedAtMs);
                    ScheduleTransition(stream.StreamId, stream.StreamName, consumer, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
                }
            }
        }
    }

    private async ValueTask RegisterAsync(OperationContext ctx)
    {
        var streamName = streams.StreamNameFromArn(ctx.GetString("StreamARN")!);
        var consumerName = ctx.GetString("ConsumerName")!;
        var tags = ReadTagMap(ctx, streamName);
        var delay = streams.Options.CreateStreamDelay;
        ConsumerDescription? created = null;
        var updated = await streams.UpdateAsync(streamName, s =>
        {
            if (s.Status is StreamStatus.Creating or StreamStatus.Deleting)
            {
                throw ControlPlane.NotActive(streams, s);
            }

            int creating = 0;
            foreach (var c in s.Consumers)
            {
                if (c.ConsumerName == consumerName)
                {
                    throw KinesisException.ResourceInUse(
                        $"Consumer {consumerName} under stream {s.StreamName} under account {streams.AccountId} already exists.");
                }

                creating += c.Status == ConsumerStatus.Creating ? 1 : 0;
            }

            if (s.Consumers.Count >= MaxConsumersPerStream)
            {
                throw KinesisException.LimitExceeded(
                    $"Stream {s.StreamName} under account {streams.AccountId} already has the maximum of {MaxConsumersPerStream} registered consumers.");
            }

            if (creating >= MaxCreatingPerStream)
            {
                throw KinesisException.LimitExceeded(
                    $"Stream {s.StreamName} under account {streams.AccountId} already has {MaxCreatingPerStream} consumers in CREATING status.");
            }

            var now = streams.NowMs;
            created = new ConsumerDescription
            {
                ConsumerName = consumerName,
                CreatedAtMs = now,
                Status = delay > TimeSpan.Zero ? ConsumerStatus.Creating : ConsumerStatus.Active,
                StatusChangedAtMs = now,
                Tags = tags,
            };
            return s with { Consumers = [.. s.Consumers, created] };
        }, ctx.CancellationToken) ?? throw streams.StreamNotFound(streamName);

        if (created!.Status == ConsumerStatus.Creating)
        {
            ScheduleTransition(updated.StreamId, streamName, created, delay);
        }

        var w = ctx.Output;
        w.WriteStartObject();
        w.WritePropertyName("Consumer");
        WriteConsumer(w, streamName, created, withStreamArn: false);
        w.WriteEndObject();
    }

    private async ValueTask DescribeAsync(OperationContext ctx)
    {
        var (stream, consumer) = await ResolveAsync(ctx);
        var w = ctx.Output;
        w.WriteStartObject();
        w.WritePropertyName("ConsumerDescription");
        WriteConsumer(w, stream.StreamName, consumer, withStreamArn: true);
        w.WriteEndObject();
    }

    private async ValueTask ListAsync(OperationContext ctx)
    {
        var streamName = streams.StreamNameFromArn(ctx.GetString("StreamARN")!);
        int limit = Math.Min(ctx.GetInt32("MaxResults") ?? ListMax, ListMax);
        string? after = null;
        long? tokenStreamId = null;
        if (ctx.GetString("NextToken") is { } token)
        {
            if (ctx.Input.TryGetProperty("StreamCreationTimestamp", out _))
            {
                throw KinesisException.InvalidArgument("NextToken and StreamCreationTimestamp cannot be provided together.");
            }

            if (!streams.Tokens.TryDecodePageToken(token, out var scope, out var resume, out var issued)
                || !resume.StartsWith(PageScope, StringComparison.Ordinal))
            {
                throw KinesisException.InvalidArgument("Invalid NextToken.");
            }

            if (ctx.NowMs - issued > PageTokens.LifetimeMs)
            {
                throw KinesisException.ExpiredNextToken("The timestamp on the NextToken has expired.");
            }

            tokenStreamId = scope;
            after = resume[PageScope.Length..];
        }

        var stream = await streams.FindAsync(streamName, ctx.CancellationToken) ?? throw streams.StreamNotFound(streamName);
        if (tokenStreamId is { } id && id != stream.StreamId)
        {
            throw KinesisException.InvalidArgument("Invalid NextToken.");
        }

        if (ctx.GetTimestampMs("StreamCreationTimestamp") is { } createdMs && createdMs / 1000 != stream.CreatedAtMs / 1000)
        {
            throw streams.StreamNotFound(streamName);
        }

        var sorted = new List<ConsumerDescription>(stream.Consumers.Count);
        foreach (var c in stream.Consumers)
        {
            if (after is null || string.CompareOrdinal(c.ConsumerName, after) > 0)
            {
                sorted.Add(c);
            }
        }

        sorted.Sort(static (a, b) => string.CompareOrdinal(a.ConsumerName, b.ConsumerName));
        int count = Math.Min(limit, sorted.Count);
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartArray("Consumers");
        for (int i = 0; i < count; i++)
        {
            WriteConsumer(w, streamName, sorted[i], withStreamArn: false);
        }

        w.WriteEndArray();
        if (sorted.Count > count && count > 0)
        {
            w.WriteString("NextToken", streams.Tokens.EncodePageToken(stream.StreamId, PageScope + sorted[count - 1].ConsumerName, ctx.NowMs));
        }

        w.WriteEndObject();
    }

    private async ValueTask DeregisterAsync(OperationContext ctx)
    {
        var (stream, consumer) = await ResolveAsync(ctx);
        var delay = streams.Options.DeleteStreamDelay;
        bool scheduled = false;
        var updated = await streams.UpdateAsync(stream.StreamName, s =>
        {
            scheduled = false;
            var index = IndexOf(s, stream.StreamId, consumer);
            if (index < 0)
            {
                throw ConsumerNotFound(s.StreamName, consumer.ConsumerName);
            }

            var current = s.Consumers[index];
            if (current.Status == ConsumerStatus.Deleting)
            {
                return null; // already going away
            }

            var list = s.Consumers.ToList();
            if (delay > TimeSpan.Zero)
            {
                list[index] = current with { Status = ConsumerStatus.Deleting, StatusChangedAtMs = streams.NowMs };
                scheduled = true;
            }
            else
            {
                list.RemoveAt(index);
            }

            return s with { Consumers = list };
        }, ctx.CancellationToken) ?? throw ConsumerNotFound(stream.StreamName, consumer.ConsumerName);

        if (scheduled)
        {
            ScheduleTransition(updated.StreamId, updated.StreamName, consumer, delay);
        }
    }

    /// <summary>The consumer named by ConsumerARN, or by StreamARN and ConsumerName.</summary>
    private async ValueTask<(StreamDescription Stream, ConsumerDescription Consumer)> ResolveAsync(OperationContext ctx)
    {
        if (ctx.GetString("ConsumerARN") is { } consumerArn)
        {
            return await streams.ResolveConsumerAsync(consumerArn, ctx.CancellationToken);
        }

        var streamArn = ctx.GetString("StreamARN");
        var consumerName = ctx.GetString("ConsumerName");
        if (streamArn is null || consumerName is null)
        {
            throw KinesisException.InvalidArgument("Either ConsumerARN or both ConsumerName and StreamARN must be provided.");
        }

        var streamName = streams.StreamNameFromArn(streamArn);
        var stream = await streams.FindAsync(streamName, ctx.CancellationToken) ?? throw streams.StreamNotFound(streamName);
        foreach (var c in stream.Consumers)
        {
            if (c.ConsumerName == consumerName)
            {
                return (stream, c);
            }
        }

        throw ConsumerNotFound(streamName, consumerName);
    }

    private KinesisException ConsumerNotFound(string streamName, string consumerName) =>
        KinesisException.ResourceNotFound($"Consumer {consumerName} under stream {streamName} under account {streams.AccountId} not found.");

    private static int IndexOf(StreamDescription s, long streamId, ConsumerDescription consumer)
    {
        if (s.StreamId != streamId)
        {
            return -1;
        }

        for (int i = 0; i < s.Consumers.Count; i++)
        {
            if (s.Consumers[i].ConsumerName == consumer.ConsumerName && s.Consumers[i].CreatedAtMs == consumer.CreatedAtMs)
            {
                return i;
            }
        }

        return -1;
    }

    private void WriteConsumer(Utf8JsonWriter w, string streamName, ConsumerDescription consumer, bool withStreamArn)
    {
        w.WriteStartObject();
        w.WriteString("ConsumerName", consumer.ConsumerName);
        w.WriteString("ConsumerARN", streams.ConsumerArn(streamName, consumer));
        w.WriteString("ConsumerStatus", consumer.Status);
        JsonTimestamps.WriteEpochSeconds(w, "ConsumerCreationTimestamp", consumer.CreatedAtMs);
        if (withStreamArn)
        {
            w.WriteString("StreamARN", streams.StreamArn(streamName));
        }

        w.WriteEndObject();
    }

    /// <summary>CREATING becomes ACTIVE, DELETING goes away; a consumer registered again meanwhile is left alone.</summary>
    private void ScheduleTransition(long streamId, string streamName, ConsumerDescription consumer, TimeSpan delay)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, streams.Options.Clock);
                }

                await streams.UpdateAsync(streamName, s =>
                {
                    var index = IndexOf(s, streamId, consumer);
                    if (index < 0)
                    {
                        return null;
                    }

                    var current = s.Consumers[index];
                    var list = s.Consumers.ToList();
                    if (current.Status == ConsumerStatus.Creating)
                    {
                        list[index] = current with { Status = ConsumerStatus.Active, StatusChangedAtMs = streams.NowMs };
                    }
                    else if (current.Status == ConsumerStatus.Deleting)
                    {
                        list.RemoveAt(index);
                    }
                    else
                    {
                        return null;
                    }

                    return s with { Consumers = list };
                }, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "Status transition of consumer {Consumer} of stream {Stream} failed", consumer.ConsumerName, streamName);
            }
        });
    }

    private static void WrapForConsumerArns(IDictionary<string, KinesisOperation> operations, string name, KinesisOperation forConsumer)
    {
        var forStream = operations[name];
        operations[name] = ctx => IsConsumerArn(ctx.GetString("ResourceARN")) ? forConsumer(ctx) : forStream(ctx);
    }

    private Dictionary<string, string> ReadTagMap(OperationContext ctx, string streamName)
    {
        var tags = ctx.GetObject("Tags") is { } t ? TagOperations.ReadTags(t) : [];
        TagOperations.CheckTags(tags.Select(x => x.Key), tags.Select(x => x.Value), "add tags to", streamName, streams.AccountId);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            map[key] = value;
        }

        if (map.Count > TagOperations.MaxTagsPerStream)
        {
            throw TagOperations.TooManyTags("add tags to", streamName, streams.AccountId);
        }

        return map;
    }

    /// <summary>Applies <paramref name="change"/> to the consumer a ResourceARN names (null leaves it as it is).</summary>
    private async ValueTask ChangeConsumerAsync(OperationContext ctx, Func<StreamDescription, ConsumerDescription, ConsumerDescription?> change)
    {
        var (stream, consumer) = await streams.ResolveConsumerAsync(ctx.GetString("ResourceARN")!, ctx.CancellationToken);
        await streams.UpdateAsync(stream.StreamName, s =>
        {
            var index = IndexOf(s, stream.StreamId, consumer);
            if (index < 0)
            {
                throw KinesisException.ResourceNotFound($"Consumer {ctx.GetString("ResourceARN")} under account {streams.AccountId} not found.");
            }

            var changed = change(s, s.Consumers[index]);
            if (changed is null)
            {
                return null;
            }

            var list = s.Consumers.ToList();
            list[index] = changed;
            return s with { Consumers = list };
        }, ctx.CancellationToken);
    }

    private ValueTask TagAsync(OperationContext ctx)
    {
        var tags = TagOperations.ReadTags(ctx.Input.GetProperty("Tags"));
        return ChangeConsumerAsync(ctx, (s, c) =>
        {
            TagOperations.CheckTags(tags.Select(t => t.Key), tags.Select(t => t.Value), "add tags to", s.StreamName, streams.AccountId);
            var merged = new Dictionary<string, string>(c.Tags, StringComparer.Ordinal);
            foreach (var (key, value) in tags)
            {
                merged[key] = value;
            }

            if (merged.Count > TagOperations.MaxTagsPerStream)
            {
                throw TagOperations.TooManyTags("add tags to", s.StreamName, streams.AccountId);
            }

            return c with { Tags = merged };
        });
    }

    private ValueTask UntagAsync(OperationContext ctx)
    {
        var keys = new List<string>();
        foreach (var k in ctx.Input.GetProperty("TagKeys").EnumerateArray())
        {
            keys.Add(k.GetString()!);
        }

        return ChangeConsumerAsync(ctx, (s, c) =>
        {
            TagOperations.CheckTags(keys, [], "remove tags from", s.StreamName, streams.AccountId);
            var remaining = new Dictionary<string, string>(c.Tags, StringComparer.Ordinal);
            bool changed = false;
            foreach (var key in keys)
            {
                changed |= remaining.Remove(key);
            }

            return changed ? c with { Tags = remaining } : null;
        });
    }

    private async ValueTask ListTagsAsync(OperationContext ctx)
    {
        var (_, consumer) = await streams.ResolveConsumerAsync(ctx.GetString("ResourceARN")!, ctx.CancellationToken);
        var sorted = consumer.Tags.ToList();
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartArray("Tags");
        foreach (var (key, value) in sorted)
        {
            w.WriteStartObject();
            w.WriteString("Key", key);
            w.WriteString("Value", value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private ValueTask PutPolicyAsync(OperationContext ctx)
    {
        var policy = ctx.GetString("Policy")!;
        return ChangeConsumerAsync(ctx, (s, c) =>
        {
            if (c.Status != ConsumerStatus.Active)
            {
                throw NotActive(streams, s, c);
            }

            if (!IsJsonObject(policy))
            {
                throw KinesisException.InvalidArgument("Policy is not a valid JSON document.");
            }

            return c with { ResourcePolicy = policy };
        });
    }

    private async ValueTask GetPolicyAsync(OperationContext ctx)
    {
        var (_, consumer) = await streams.ResolveConsumerAsync(ctx.GetString("ResourceARN")!, ctx.CancellationToken);
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("Policy", consumer.ResourcePolicy ?? NoPolicy);
        w.WriteEndObject();
    }

    private ValueTask DeletePolicyAsync(OperationContext ctx) =>
        ChangeConsumerAsync(ctx, (s, c) =>
        {
            if (c.Status != ConsumerStatus.Active)
            {
                throw NotActive(streams, s, c);
            }

            return c.ResourcePolicy is null ? null : c with { ResourcePolicy = null };
        });

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>Consumer status names as Kinesis spells them.</summary>
public static class ConsumerStatus
{
    public const string Creating = "CREATING";
    public const string Active = "ACTIVE";
    public const string Deleting = "DELETING";
}
