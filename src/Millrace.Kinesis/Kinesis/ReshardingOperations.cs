using Microsoft.Extensions.Logging;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>
/// SplitShard, MergeShards and UpdateShardCount. A request is validated and stored as the stream's
/// <see cref="StreamDescription.PendingShardChange"/> (the stream turns UPDATING and keeps routing by its current
/// shards); after <see cref="KinesisOptions.UpdateStreamDelay"/> the change is applied in steps that never lose
/// or misroute an acknowledged record:
/// <list type="number">
/// <item>open the new shards in the record log (idempotent);</item>
/// <item>store the new shard map: parents Closed without EndingPosition ("closing"), children open, so writers route
/// to the children from now on;</item>
/// <item>seal the parents in the log: ordered after every append acknowledged to them, and later appends fail with
/// <see cref="ShardUnavailableException"/>, which the data plane answers by routing again by the stored map;</item>
/// <item>store each parent's EndingPosition and set the stream ACTIVE.</item>
/// </list>
/// A restart (<see cref="ResumeAsync"/>) finishes whatever step was interrupted: every step is idempotent and the
/// stored state says which ones remain.
/// </summary>
public sealed class ReshardingOperations(StreamService streams, ILogger<ReshardingOperations> logger)
{
    private const int MaxShardsPerStream = 10_000;
    private const int MaxScalingsPerDay = 10;
    private const long DayMs = 86_400_000;
    private const int MaxAttempts = 20;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["SplitShard"] = SplitShardAsync;
        operations["MergeShards"] = MergeShardsAsync;
        operations["UpdateShardCount"] = UpdateShardCountAsync;
    }

    private string Account => streams.AccountId;

    private async ValueTask SplitShardAsync(OperationContext ctx)
    {
        var shardToSplit = ctx.GetString("ShardToSplit")!;
        var keyText = ctx.GetString("NewStartingHashKey")!;
        await SubmitAsync(ctx, "SplitShard", (stream, now) =>
        {
            var parent = FindOpenShard(stream, shardToSplit);
            if (!HashKeys.TryParse(keyText, out var key) || key <= parent.Start || key - parent.Start < 2 || key >= parent.End)
            {
                throw KinesisException.InvalidArgument(
                    $"NewStartingHashKey {keyText} used in SplitShard() on shard {ShardIds.Format(parent.Index)} in stream {stream.StreamName} " +
                    $"under account {Account} is not both greater than one plus the shard's StartingHashKey {HashKeys.Format(parent.Start)} " +
                    $"and less than the shard's EndingHashKey {HashKeys.Format(parent.End)}.");
            }

            var plan = new ChangePlan(stream, now);
            plan.Split(parent, key);
            return plan;
        });
    }

    private async ValueTask MergeShardsAsync(OperationContext ctx)
    {
        var shardToMerge = ctx.GetString("ShardToMerge")!;
        var adjacentShardToMerge = ctx.GetString("AdjacentShardToMerge")!;
        await SubmitAsync(ctx, "MergeShards", (stream, now) =>
        {
            var first = FindOpenShard(stream, shardToMerge);
            var second = FindOpenShard(stream, adjacentShardToMerge);
            bool adjacent = first.Index != second.Index &&
                ((first.End != UInt128.MaxValue && first.End + 1 == second.Start) || (second.End != UInt128.MaxValue && second.End + 1 == first.Start));
            if (!adjacent)
            {
                throw KinesisException.InvalidArgument(
                    $"Shards {ShardIds.Format(first.Index)} and {ShardIds.Format(second.Index)} in stream {stream.StreamName} under account {Account} " +
                    "are not an adjacent pair of shards eligible for merging");
            }

            var plan = new ChangePlan(stream, now);
            plan.Merge(first, second);
            return plan;
        });
    }

    private async ValueTask UpdateShardCountAsync(OperationContext ctx)
    {
        int target = ctx.GetInt32("TargetShardCount")!.Value;
        int current = 0;
        var stream = await SubmitAsync(ctx, "UpdateShardCount", (stream, now) =>
        {
            current = streams.OpenShards(stream).Length;
            int recent = 0;
            foreach (var t in stream.ScalingHistoryMs)
            {
                if (t > now - DayMs)
                {
                    recent++;
                }
            }

            if (recent >= MaxScalingsPerDay)
            {
                throw KinesisException.LimitExceeded(
                    $"Stream {stream.StreamName} under account {Account} has already been scaled {recent} times in the last 24 hours; " +
                    $"UpdateShardCount allows at most {MaxScalingsPerDay} scaling operations per rolling 24-hour period.");
            }

            if (target > MaxShardsPerStream)
            {
                throw KinesisException.LimitExceeded(
                    $"Target shard count or number of open shards cannot be greater than {MaxShardsPerStream}. " +
                    $"Current open shard count: {current}, Target shard count: {target}");
            }

            if (target > current * 2L)
            {
                throw KinesisException.LimitExceeded(
                    "UpdateShardCount cannot scale up over double your current open shard count. " +
                    $"Current open shard count: {current}, Target shard count: {target}");
            }

            if (target * 2L < current)
            {
                throw KinesisException.LimitExceeded(
                    "UpdateShardCount cannot scale down below half your current open shard count. " +
                    $"Current open shard count: {current}, Target shard count: {target}");
            }

            var plan = new ChangePlan(stream, now) { ScalingAtMs = now };
            plan.Rescale(streams.OpenShards(stream), target);
            return plan;
        });

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("StreamName", stream.StreamName);
        w.WriteNumber("CurrentShardCount", current);
        w.WriteNumber("TargetShardCount", target);
        w.WriteString("StreamARN", streams.StreamArn(stream.StreamName));
        w.WriteEndObject();
    }

    /// <summary>Validates and stores a change (retrying the whole validation when the stream changed meanwhile), then
    /// applies it now or after the update delay. Returns the stream as it was when the change was accepted.</summary>
    private async ValueTask<StreamDescription> SubmitAsync(OperationContext ctx, string operation, Func<StreamDescription, long, ChangePlan> plan)
    {
        var ct = ctx.CancellationToken;
        for (int attempt = 0; ; attempt++)
        {
            var stream = await streams.ResolveAsync(ctx.Input, ct);
            if (stream.StreamMode != "PROVISIONED")
            {
                throw KinesisException.Validation(
                    $"{operation} is not supported for stream {stream.StreamName} under account {Account} because it is in {stream.StreamMode} " +
                    "capacity mode. This API is only supported for data streams with the PROVISIONED capacity mode.");
            }

            if (stream.Status != StreamStatus.Active)
            {
                throw KinesisException.ResourceInUse($"Stream {stream.StreamName} under account {Account} not ACTIVE, instead in state {stream.Status}");
            }

            var now = streams.NowMs;
            var change = plan(stream, now);
            await ControlPlane.CheckShardLimitAsync(streams, change.AddedOpenShards, ct);
            var history = change.ScalingAtMs is { } at
                ? [.. stream.ScalingHistoryMs.Where(t => t > now - DayMs), at]
                : stream.ScalingHistoryMs;
            try
            {
                await streams.Catalog.UpdateAsync(
                    stream with
                    {
                        Status = StreamStatus.Updating,
                        StatusChangedAtMs = now,
                        PendingShardChange = change.Build(),
                        ScalingHistoryMs = history,
                    },
                    ct);
            }
            catch (CatalogConflictException) when (attempt < MaxAttempts)
            {
                continue; // the stream changed between reading and writing: validate again
            }

            if (streams.Options.UpdateStreamDelay > TimeSpan.Zero)
            {
                Schedule(stream.StreamId, stream.StreamName, streams.Options.UpdateStreamDelay);
            }
            else
            {
                // Not the request's token: once stored, the change must be carried out even if the client goes away.
                await ApplyAsync(stream.StreamId, stream.StreamName, CancellationToken.None);
            }

            return stream;
        }
    }

    /// <summary>The open shard named by <paramref name="shardId"/>, as AWS words its absence or closure.</summary>
    private Piece FindOpenShard(StreamDescription stream, string shardId)
    {
        if (!ShardIds.TryParse(shardId, out var index) || StreamService.FindShard(stream, index) is not { } shard ||
            !streams.IsShardVisible(stream, shard, streams.NowMs))
        {
            throw KinesisException.ResourceNotFound($"Could not find shard {shardId} in stream {stream.StreamName} under account {Account}.");
        }

        if (shard.Closed)
        {
            throw KinesisException.InvalidArgument(
                $"Shard {ShardIds.Format(index)} in stream {stream.StreamName} under account {Account} has already been merged or split, " +
                "and thus is not eligible for merging or splitting.");
        }

        HashKeys.TryParse(shard.StartingHashKey, out var start);
        HashKeys.TryParse(shard.EndingHashKey, out var end);
        return new Piece(index, start, end);
    }

    /// <summary>Carries out pending changes and half-done ones after a restart, before requests are served.</summary>
    public async Task ResumeAsync(CancellationToken ct)
    {
        foreach (var stream in await streams.Catalog.ListAsync(ct))
        {
            if (stream.Status == StreamStatus.Updating && stream.PendingShardChange is not null)
            {
                var remaining = streams.Options.UpdateStreamDelay - TimeSpan.FromMilliseconds(streams.NowMs - stream.StatusChangedAtMs);
                if (remaining > TimeSpan.Zero)
                {
                    // Shards the change creates are opened when it is applied.
                    Schedule(stream.StreamId, stream.StreamName, remaining);
                    continue;
                }

                await ApplyAsync(stream.StreamId, stream.StreamName, ct);
            }
            else if (stream.Shards.Any(IsClosing))
            {
                await FinishClosingAsync(stream.StreamId, stream.StreamName, ct);
            }
        }
    }

    private static bool IsClosing(ShardDescription shard) => shard.Closed && shard.EndingPosition is null;

    private void Schedule(long streamId, string streamName, TimeSpan delay)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(delay, streams.Options.Clock);
                await ApplyAsync(streamId, streamName, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "Resharding of stream {Stream} failed; it is finished at the next start", streamName);
            }
        });
    }

    /// <summary>Steps 1-4 (see the class summary); each one is safe to repeat.</summary>
    private async Task ApplyAsync(long streamId, string streamName, CancellationToken ct)
    {
        var stream = await streams.Catalog.FindAsync(streamName, ct);
        if (stream is null || stream.StreamId != streamId)
        {
            return;
        }

        if (stream.Status == StreamStatus.Updating && stream.PendingShardChange is { } change)
        {
            // 1. Children exist in the log before any writer can route to them.
            await Task.WhenAll(change.NewShards.Select(s =>
                streams.Records.OpenShardAsync(new ShardKey(streamId, s.ShardIndex), s.StartingPosition, ct).AsTask()));

            // 2. Switch routing to the children.
            await streams.UpdateAsync(streamName, s => s.StreamId == streamId && s.Status == StreamStatus.Updating && s.PendingShardChange is not null
                ? Materialize(s, streams.NowMs)
                : null, ct);
        }

        // 3 and 4.
        await FinishClosingAsync(streamId, streamName, ct);
    }

    /// <summary>The stream with its pending change turned into shards: parents closing, children open.</summary>
    private static StreamDescription Materialize(StreamDescription stream, long now)
    {
        var change = stream.PendingShardChange!;
        var closing = change.ClosingShardIndexes.ToHashSet();
        var shards = new List<ShardDescription>(stream.Shards.Count + change.NewShards.Count);
        foreach (var shard in stream.Shards)
        {
            shards.Add(closing.Contains(shard.ShardIndex) && !shard.Closed ? shard with { Closed = true, ClosedAtMs = now, EndingPosition = null } : shard);
        }

        int next = stream.NextShardIndex;
        foreach (var shard in change.NewShards)
        {
            shards.Add(shard with { CreatedAtMs = now, ClosedAtMs = shard.Closed ? now : null, EndingPosition = null });
            next = Math.Max(next, shard.ShardIndex + 1);
        }

        bool anyClosing = shards.Exists(IsClosing);
        return stream with
        {
            Shards = shards,
            NextShardIndex = next,
            PendingShardChange = null,
            Status = anyClosing ? StreamStatus.Updating : StreamStatus.Active,
            StatusChangedAtMs = anyClosing ? stream.StatusChangedAtMs : now,
        };
    }

    /// <summary>Seals every closing shard and records where it ended; the stream then becomes ACTIVE.</summary>
    private async Task FinishClosingAsync(long streamId, string streamName, CancellationToken ct)
    {
        var stream = await streams.Catalog.FindAsync(streamName, ct);
        if (stream is null || stream.StreamId != streamId)
        {
            return;
        }

        var closing = stream.Shards.Where(IsClosing).ToList();
        var ends = await Task.WhenAll(closing.Select(async shard =>
        {
            ulong? last;
            try
            {
                // 3. Ordered after every acknowledged append to the shard; later ones fail and are routed again.
                last = await streams.Records.SealShardAsync(new ShardKey(streamId, shard.ShardIndex), ct);
            }
            catch (ShardUnavailableException)
            {
                last = null; // the log no longer knows the shard (all of it expired before a restart): it ends empty
            }

            return (shard.ShardIndex, End: last ?? shard.StartingPosition);
        }));
        var endOf = ends.ToDictionary(e => e.ShardIndex, e => e.End);

        // 4.
        await streams.UpdateAsync(streamName, s =>
        {
            if (s.StreamId != streamId)
            {
                return null;
            }

            bool changed = false;
            var shards = new List<ShardDescription>(s.Shards.Count);
            foreach (var shard in s.Shards)
            {
                if (IsClosing(shard) && endOf.TryGetValue(shard.ShardIndex, out var end))
                {
                    shards.Add(shard with { EndingPosition = end });
                    changed = true;
                }
                else
                {
                    shards.Add(shard);
                }
            }

            bool done = s.Status == StreamStatus.Updating && s.PendingShardChange is null && !shards.Exists(IsClosing);
            if (!changed && !done)
            {
                return null;
            }

            return s with
            {
                Shards = shards,
                Status = done ? StreamStatus.Active : s.Status,
                StatusChangedAtMs = done ? streams.NowMs : s.StatusChangedAtMs,
            };
        }, ct);
    }

    /// <summary>An open shard's index and inclusive hash range while a change is planned.</summary>
    private readonly record struct Piece(int Index, UInt128 Start, UInt128 End);

    /// <summary>Builds a <see cref="ShardMapChange"/> out of splits and merges, numbering new shards from
    /// NextShardIndex. New shards start at the request's time, so every record they receive comes after it.</summary>
    private sealed class ChangePlan(StreamDescription stream, long nowMs)
    {
        private readonly List<int> _closing = [];
        private readonly List<ShardDescription> _new = [];
        private readonly Dictionary<int, int> _newAt = []; // shard index -> position in _new
        private readonly ulong _startingPosition = (ulong)nowMs << 20;
        private int _next = stream.NextShardIndex;

        public long? ScalingAtMs { get; init; }

        /// <summary>How many more open shards the stream has after the change.</summary>
        public int AddedOpenShards => _new.Count(s => !s.Closed) - _closing.Count;

        public (Piece Left, Piece Right) Split(Piece parent, UInt128 key)
        {
            Close(parent);
            var left = Add(parent.Start, key - 1, parent.Index, null);
            var right = Add(key, parent.End, parent.Index, null);
            return (left, right);
        }

        public Piece Merge(Piece shard, Piece adjacent)
        {
            Close(shard);
            Close(adjacent);
            return Add(UInt128.Min(shard.Start, adjacent.Start), UInt128.Max(shard.End, adjacent.End), shard.Index, adjacent.Index);
        }

        /// <summary>UNIFORM_SCALING: split the open shards at every boundary of the even layout of
        /// <paramref name="target"/> shards (as CreateStream draws it), then merge the pieces between two boundaries.
        /// Shards that already match a target range are left alone.</summary>
        public void Rescale(OpenShardRange[] open, int target)
        {
            var starts = new UInt128[target];
            for (int i = 0; i < target; i++)
            {
                starts[i] = HashKeys.EvenRange(i, target).Start;
            }

            var pieces = new List<Piece>(open.Length + target);
            int b = 1;
            foreach (var o in open)
            {
                var piece = new Piece(o.ShardIndex, o.Start, o.End);
                for (; b < target && starts[b] <= piece.End; b++)
                {
                    if (starts[b] > piece.Start)
                    {
                        var (left, right) = Split(piece, starts[b]);
                        pieces.Add(left);
                        piece = right;
                    }
                }

                pieces.Add(piece);
            }

            int k = 0;
            for (int i = 0; i < target; i++)
            {
                var end = i == target - 1 ? UInt128.MaxValue : starts[i + 1] - 1;
                var acc = pieces[k++];
                while (acc.End < end)
                {
                    acc = Merge(acc, pieces[k++]);
                }
            }
        }

        public ShardMapChange Build() => new() { ClosingShardIndexes = [.. _closing], NewShards = [.. _new] };

        private void Close(Piece piece)
        {
            if (_newAt.TryGetValue(piece.Index, out var i))
            {
                _new[i] = _new[i] with { Closed = true }; // short-lived: created and closed by the same change
            }
            else
            {
                _closing.Add(piece.Index);
            }
        }

        private Piece Add(UInt128 start, UInt128 end, int parent, int? adjacentParent)
        {
            int index = _next++;
            _newAt[index] = _new.Count;
            _new.Add(new ShardDescription
            {
                ShardIndex = index,
                StartingHashKey = HashKeys.Format(start),
                EndingHashKey = HashKeys.Format(end),
                StartingPosition = _startingPosition,
                CreatedAtMs = nowMs,
                ParentShardIndex = parent,
                AdjacentParentShardIndex = adjacentParent,
            });
            return new Piece(index, start, end);
        }
    }
}
