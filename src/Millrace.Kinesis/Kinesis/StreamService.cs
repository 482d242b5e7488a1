using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>An open shard's hash range, parsed once per stream version for routing.</summary>
public readonly record struct OpenShardRange(int ShardIndex, UInt128 Start, UInt128 End);

/// <summary>
/// Stream-level semantics shared by the operation families: naming and ARNs, resolving StreamName/StreamARN,
/// the CREATING/DELETING lifecycle, shard routing by hash key, and retention cut-offs. Holds no state of its own
/// beyond caches: the catalog and the record log are the truth.
/// </summary>
public sealed class StreamService(IStreamStore store, KinesisOptions options, OpaqueTokens tokens, ILogger<StreamService> logger)
{
    private readonly ConditionalWeakTable<StreamDescription, OpenShardRange[]> _routing = new();

    public IStreamCatalog Catalog => store.Catalog;

    public IRecordLog Records => store.Records;

    public OpaqueTokens Tokens => tokens;

    public KinesisOptions Options => options;

    /// <summary>Where the data plane records its AWS/Kinesis metrics; null records none.</summary>
    public KinesisMetrics? Metrics { get; init; }

    public string AccountId => options.AccountId;

    public long NowMs => options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public string StreamArn(string streamName) => $"arn:aws:kinesis:{options.Region}:{options.AccountId}:stream/{streamName}";

    public KinesisException StreamNotFound(string streamName) =>
        KinesisException.ResourceNotFound($"Stream {streamName} under account {options.AccountId} not found.");

    /// <summary>The stream named by StreamName or StreamARN in <paramref name="input"/>.</summary>
    public async ValueTask<StreamDescription> ResolveAsync(JsonElement input, CancellationToken ct)
    {
        var name = StreamNameFrom(input);
        return await FindAsync(name, ct) ?? throw StreamNotFound(name);
    }

    /// <summary>The ARN of a consumer: <c>arn:aws:kinesis:region:account:stream/name/consumer/consumerName:epochSeconds</c>.</summary>
    public string ConsumerArn(string streamName, ConsumerDescription consumer) =>
        $"{StreamArn(streamName)}/consumer/{consumer.ConsumerName}:{consumer.CreatedAtMs / 1000}";

    /// <summary>The stream and consumer a consumer ARN names; ResourceNotFoundException when either is gone (a consumer
    /// registered again under the same name has a new creation time, so the old ARN names nothing).</summary>
    public async ValueTask<(StreamDescription Stream, ConsumerDescription Consumer)> ResolveConsumerAsync(string consumerArn, CancellationToken ct)
    {
        var marker = consumerArn.IndexOf("/consumer/", StringComparison.Ordinal);
        var colon = consumerArn.LastIndexOf(':');
        if (marker < 0 || colon < marker)
        {
            throw KinesisException.InvalidArgument($"Invalid ConsumerARN {consumerArn}.");
        }

        var streamName = StreamNameFromArn(consumerArn[..marker]);
        var consumerName = consumerArn[(marker + "/consumer/".Length)..colon];
        var stream = await FindAsync(streamName, ct);
        foreach (var consumer in stream?.Consumers ?? [])
        {
            if (consumer.ConsumerName == consumerName && ConsumerArn(streamName, consumer) == consumerArn)
            {
                return (stream!, consumer);
            }
        }

        throw KinesisException.ResourceNotFound($"Consumer {consumerArn} under account {options.AccountId} not found.");
    }

    /// <summary>Reads StreamName or StreamARN (both must agree when both are given).</summary>
    public string StreamNameFrom(JsonElement input)
    {
        string? name = input.TryGetProperty("StreamName", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        string? arn = input.TryGetProperty("StreamARN", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        if (arn is not null)
        {
            var fromArn = StreamNameFromArn(arn);
            if (name is not null && name != fromArn)
            {
                throw KinesisException.InvalidArgument($"StreamARN {arn} does not match StreamName {name}.");
            }

            return fromArn;
        }

        return name ?? throw KinesisException.InvalidArgument("Either StreamName or StreamARN must be provided.");
    }

    /// <summary>The stream name of an ARN of this server's region and account; other ARNs name nothing here.</summary>
    public string StreamNameFromArn(string arn)
    {
        // arn:aws:kinesis:<region>:<account>:stream/<name>
        var parts = arn.Split(':', 6);
        if (parts.Length != 6 || !parts[5].StartsWith("stream/", StringComparison.Ordinal))
        {
            throw KinesisException.InvalidArgument($"Invalid StreamARN {arn}.");
        }

        var name = parts[5]["stream/".Length..];
        if (parts[3] != options.Region || parts[4] != options.AccountId || name.Contains('/', StringComparison.Ordinal))
        {
            throw KinesisException.ResourceNotFound($"Stream {name} under account {parts[4]} not found.");
        }

        return name;
    }

    public async ValueTask<StreamDescription?> FindAsync(string streamName, CancellationToken ct)
    {
        var stream = await store.Catalog.FindAsync(streamName, ct);
        return stream;
    }

    /// <summary>Streams that accept reads and writes: ACTIVE, UPDATING, and DELETING until it is gone.</summary>
    public async ValueTask<StreamDescription> ResolveForDataAsync(JsonElement input, CancellationToken ct)
    {
        var stream = await ResolveAsync(input, ct);
        if (stream.Status == StreamStatus.Creating)
        {
            throw StreamNotFound(stream.StreamName);
        }

        return stream;
    }

    /// <summary>Records older than this (epoch ms) are past the stream's retention.</summary>
    public long RetentionCutoffMs(StreamDescription stream, long nowMs) =>
        Math.Max(nowMs - (stream.RetentionPeriodHours * 3_600_000L), stream.ExpiredBeforeMs);

    /// <summary>A shard is listed until it is closed and its records have all expired.</summary>
    public bool IsShardVisible(StreamDescription stream, ShardDescription shard, long nowMs) =>
        !shard.Closed || shard.ClosedAtMs is null || shard.ClosedAtMs.Value >= RetentionCutoffMs(stream, nowMs);

    /// <summary>Open shards sorted by starting hash key, parsed once per stream version.</summary>
    public OpenShardRange[] OpenShards(StreamDescription stream) =>
        _routing.GetValue(stream, static s =>
        {
            var open = new List<OpenShardRange>(s.Shards.Count);
            foreach (var shard in s.Shards)
            {
                if (!shard.Closed)
                {
                    HashKeys.TryParse(shard.StartingHashKey, out var start);
                    HashKeys.TryParse(shard.EndingHashKey, out var end);
                    open.Add(new OpenShardRange(shard.ShardIndex, start, end));
                }
            }

            open.Sort(static (a, b) => a.Start.CompareTo(b.Start));
            return [.. open];
        });

    /// <summary>The open shard owning <paramref name="hashKey"/> (the open shards tile the whole key space).</summary>
    public static int RouteToShard(OpenShardRange[] open, UInt128 hashKey)
    {
        int lo = 0, hi = open.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (open[mid].Start <= hashKey)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return open[lo].ShardIndex;
    }

    public static ShardDescription? FindShard(StreamDescription stream, int shardIndex)
    {
        foreach (var shard in stream.Shards)
        {
            if (shard.ShardIndex == shardIndex)
            {
                return shard;
            }
        }

        return null;
    }

    /// <summary>Creates a stream with evenly split shards; it is ACTIVE at once when the create delay is zero.
    /// <paramref name="configure"/> sets CreateStream's optional settings (tags, record size, ...) on the new description.</summary>
    public async ValueTask CreateStreamAsync(string name, string mode, int shardCount, CancellationToken ct, Func<StreamDescription, StreamDescription>? configure = null)
    {
        var now = NowMs;
        var startingPosition = (ulong)now << 20;
        var shards = new ShardDescription[shardCount];
        for (int i = 0; i < shardCount; i++)
        {
            var (start, end) = HashKeys.EvenRange(i, shardCount);
            shards[i] = new ShardDescription
            {
                ShardIndex = i,
                StartingHashKey = HashKeys.Format(start),
                EndingHashKey = HashKeys.Format(end),
                StartingPosition = startingPosition,
                CreatedAtMs = now,
            };
        }

        var delayed = options.CreateStreamDelay > TimeSpan.Zero;
        StreamDescription created;
        try
        {
            var description = new StreamDescription
            {
                StreamName = name,
                Status = delayed ? StreamStatus.Creating : StreamStatus.Active,
                StreamMode = mode,
                CreatedAtMs = now,
                StatusChangedAtMs = now,
                Shards = shards,
                NextShardIndex = shardCount,
            };
            created = await store.Catalog.CreateAsync(configure is null ? description : configure(description), ct);
        }
        catch (CatalogConflictException)
        {
            throw KinesisException.ResourceInUse($"Stream {name} under account {options.AccountId} already exists.");
        }

        foreach (var shard in created.Shards)
        {
            await store.Records.OpenShardAsync(new ShardKey(created.StreamId, shard.ShardIndex), shard.StartingPosition, ct);
        }

        if (delayed)
        {
            ScheduleTransition(created.StreamId, name, options.CreateStreamDelay);
        }
    }

    public async ValueTask DeleteStreamAsync(StreamDescription stream, CancellationToken ct)
    {
        if (options.DeleteStreamDelay <= TimeSpan.Zero)
        {
            await RemoveAsync(stream, ct);
            return;
        }

        await UpdateAsync(stream.StreamName, s => s.Status == StreamStatus.Deleting ? null : s with
        {
            Status = StreamStatus.Deleting,
            StatusChangedAtMs = NowMs,
            Consumers = [.. s.Consumers.Select(c => c with { Status = ConsumerStatus.Deleting, StatusChangedAtMs = NowMs })], // they go with the stream
        }, ct);
        ScheduleTransition(stream.StreamId, stream.StreamName, options.DeleteStreamDelay);
    }

    /// <summary>Finishes transitions interrupted by a restart: CREATING becomes ACTIVE, DELETING goes away
    /// (each after what remains of its delay).</summary>
    public async Task ResumeLifecycleAsync(CancellationToken ct)
    {
        foreach (var stream in await store.Catalog.ListAsync(ct))
        {
            foreach (var shard in stream.Shards)
            {
                if (!shard.Closed)
                {
                    await store.Records.OpenShardAsync(new ShardKey(stream.StreamId, shard.ShardIndex), shard.StartingPosition, ct);
                }
            }

            var delay = stream.Status switch
            {
                StreamStatus.Creating => options.CreateStreamDelay,
                StreamStatus.Deleting => options.DeleteStreamDelay,
                _ => (TimeSpan?)null,
            };
            if (delay is { } d)
            {
                var remaining = d - TimeSpan.FromMilliseconds(NowMs - stream.StatusChangedAtMs);
                ScheduleTransition(stream.StreamId, stream.StreamName, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
            }
            else if (stream.Status == StreamStatus.Updating && stream.PendingShardChange is null)
            {
                // An update without a pending shard change (e.g. encryption) was cut off between its two catalog
                // writes; its change is already stored, so the stream is ACTIVE again. Resharding resumes its own.
                await UpdateAsync(stream.StreamName, s => s.StreamId == stream.StreamId && s.Status == StreamStatus.Updating && s.PendingShardChange is null
                    ? s with { Status = StreamStatus.Active, StatusChangedAtMs = NowMs }
                    : null, ct);
            }
        }
    }

    /// <summary>Applies <paramref name="change"/> to the current description, retrying on version races.
    /// The change returns null to leave the stream as it is.</summary>
    public async ValueTask<StreamDescription?> UpdateAsync(string streamName, Func<StreamDescription, StreamDescription?> change, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            var current = await store.Catalog.FindAsync(streamName, ct);
            if (current is null)
            {
                return null;
            }

            var changed = change(current);
            if (changed is null)
            {
                return current;
            }

            try
            {
                return await store.Catalog.UpdateAsync(changed, ct);
            }
            catch (CatalogConflictException) when (attempt < 100)
            {
                // Someone else changed the stream meanwhile: re-read and apply again.
            }
        }
    }

    private async ValueTask RemoveAsync(StreamDescription stream, CancellationToken ct)
    {
        await store.Catalog.DeleteAsync(stream.StreamId, ct);
        await store.Records.DropStreamAsync(stream.StreamId, ct);
    }

    private void ScheduleTransition(long streamId, string streamName, TimeSpan delay)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, options.Clock);
                }

                var current = await store.Catalog.FindAsync(streamName);
                if (current is null || current.StreamId != streamId)
                {
                    return;
                }

                if (current.Status == StreamStatus.Deleting)
                {
                    await RemoveAsync(current, CancellationToken.None);
                }
                else if (current.Status == StreamStatus.Creating)
                {
                    await UpdateAsync(streamName, s => s.StreamId == streamId && s.Status == StreamStatus.Creating
                        ? s with { Status = StreamStatus.Active, StatusChangedAtMs = NowMs }
                        : null, CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "Status transition of stream {Stream} failed", streamName);
            }
        });
    }
}

/// <summary>Stream status names as Kinesis spells them.</summary>
public static class StreamStatus
{
    public const string Creating = "CREATING";
    public const string Active = "ACTIVE";
    public const string Updating = "UPDATING";
    public const string Deleting = "DELETING";
}
