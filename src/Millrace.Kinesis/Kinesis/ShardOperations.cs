using System.Globalization;
using System.Text.Json;
using Millrace.Protocol;
using Millrace.Kinesis.Limits;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>ListShards and GetShardIterator.</summary>
public sealed class ShardOperations(StreamService streams, ShardThroughputLimiter? limits = null)
{
    private const int ListShardsMax = 1000;
    private const string IteratorTypeMessage =
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or " +
        "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {0} and {1} StartingSequenceNumber.";

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["ListShards"] = ListShardsAsync;
        operations["GetShardIterator"] = GetShardIteratorAsync;
    }

    private sealed record ShardFilter(string Type, int? ShardIndex, long? TimestampMs);

    private async ValueTask ListShardsAsync(OperationContext ctx)
    {
        var input = ctx.Input;
        bool hasName = input.TryGetProperty("StreamName", out _) || input.TryGetProperty("StreamARN", out _);
        string? token = ctx.GetString("NextToken");
        int limit = Math.Min(ctx.GetInt32("MaxResults") ?? ListShardsMax, ListShardsMax);
        StreamDescription stream;
        int after = -1;
        ShardFilter? filter = ReadFilter(ctx);

        if (token is not null)
        {
            if (hasName)
            {
                throw KinesisException.InvalidArgument("NextToken and StreamName cannot be provided together.");
            }

            if (ctx.GetString("ExclusiveStartShardId") is not null || input.TryGetProperty("StreamCreationTimestamp", out _))
            {
                throw KinesisException.InvalidArgument("NextToken cannot be provided together with ExclusiveStartShardId or StreamCreationTimestamp.");
            }

            if (!streams.Tokens.TryDecodePageToken(token, out var streamId, out var resume, out var issued))
            {
                throw KinesisException.InvalidArgument("Invalid NextToken.");
            }

            if (ctx.NowMs - issued > PageTokens.LifetimeMs)
            {
                throw KinesisException.ExpiredNextToken("The timestamp on the NextToken has expired.");
            }

            var parts = resume.Split('\n');
            stream = await streams.FindAsync(parts[0], ctx.CancellationToken) ?? throw streams.StreamNotFound(parts[0]);
            if (stream.StreamId != streamId)
            {
                throw streams.StreamNotFound(parts[0]);
            }

            after = int.Parse(parts[1], CultureInfo.InvariantCulture);
            filter ??= parts.Length > 2 && parts[2].Length > 0
                ? new ShardFilter(parts[2], parts[3].Length > 0 ? int.Parse(parts[3], CultureInfo.InvariantCulture) : null, parts[4].Length > 0 ? long.Parse(parts[4], CultureInfo.InvariantCulture) : null)
                : null;
        }
        else
        {
            if (!hasName)
            {
                throw KinesisException.InvalidArgument("Either NextToken or StreamName should be provided.");
            }

            stream = await streams.ResolveAsync(input, ctx.CancellationToken);
            if (ctx.GetString("ExclusiveStartShardId") is { } exclusiveStart)
            {
                after = ShardIds.TryParse(exclusiveStart, out var ix) ? ix : int.MaxValue;
            }

            if (ctx.GetTimestampMs("StreamCreationTimestamp") is { } created && created / 1000 != stream.CreatedAtMs / 1000)
            {
                throw streams.StreamNotFound(stream.StreamName);
            }
        }

        if (filter is { Type: "AFTER_SHARD_ID", ShardIndex: { } afterShard })
        {
            after = Math.Max(after, afterShard);
        }

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartArray("Shards");
        int written = 0;
        int last = -1;
        bool more = false;
        foreach (var shard in stream.Shards)
        {
            if (shard.ShardIndex <= after || !streams.IsShardVisible(stream, shard, ctx.NowMs) || !Matches(stream, shard, filter, ctx.NowMs))
            {
                continue;
            }

            if (written == limit)
            {
                more = true;
                break;
            }

            ShardJson.WriteShard(w, shard);
            last = shard.ShardIndex;
            written++;
        }

        w.WriteEndArray();
        if (more)
        {
            var resume = string.Join('\n', stream.StreamName, last.ToString(CultureInfo.InvariantCulture), filter?.Type ?? "",
                filter?.ShardIndex?.ToString(CultureInfo.InvariantCulture) ?? "", filter?.TimestampMs?.ToString(CultureInfo.InvariantCulture) ?? "");
            w.WriteString("NextToken", streams.Tokens.EncodePageToken(stream.StreamId, resume, ctx.NowMs));
        }

        w.WriteEndObject();
    }

    private static ShardFilter? ReadFilter(OperationContext ctx)
    {
        if (ctx.GetObject("ShardFilter") is not { } f)
        {
            return null;
        }

        var type = f.GetProperty("Type").GetString()!;
        int? shardIndex = null;
        if (f.TryGetProperty("ShardId", out var sid) && sid.ValueKind == JsonValueKind.String)
        {
            shardIndex = ShardIds.TryParse(sid.GetString()!, out var ix) ? ix : int.MaxValue;
        }

        var timestamp = OperationContext.GetTimestampMs(f, "Timestamp");
        switch (type)
        {
            case "AFTER_SHARD_ID" when shardIndex is null:
                throw KinesisException.InvalidArgument("ShardId must be specified when ShardFilter type is AFTER_SHARD_ID.");
            case "AT_TIMESTAMP" or "FROM_TIMESTAMP" when timestamp is null:
                throw KinesisException.InvalidArgument($"Timestamp must be specified when ShardFilter type is {type}.");
            case not ("AFTER_SHARD_ID") when shardIndex is not null:
                throw KinesisException.InvalidArgument($"ShardId must not be specified when ShardFilter type is {type}.");
            case not ("AT_TIMESTAMP" or "FROM_TIMESTAMP") when timestamp is not null:
                throw KinesisException.InvalidArgument($"Timestamp must not be specified when ShardFilter type is {type}.");
        }

        return new ShardFilter(type, shardIndex, timestamp);
    }

    /// <summary>ShardFilter semantics, as the API reference defines them: a shard lives from its creation to its
    /// closing, both ends inclusive; times before the trim horizon (or the stream's creation) mean the trim horizon.</summary>
    private bool Matches(StreamDescription stream, ShardDescription shard, ShardFilter? filter, long nowMs)
    {
        bool OpenAt(long t) => shard.CreatedAtMs <= t && OpenAtOrAfter(t);
        bool OpenAtOrAfter(long t) => !shard.Closed || (shard.ClosedAtMs ?? long.MaxValue) >= t;
        long Corrected(long t) => Math.Max(t, Math.Max(streams.RetentionCutoffMs(stream, nowMs), stream.CreatedAtMs));
        return filter?.Type switch
        {
            null or "FROM_TRIM_HORIZON" or "AFTER_SHARD_ID" => true,
            "AT_TRIM_HORIZON" => OpenAt(Corrected(long.MinValue)),
            "AT_LATEST" => !shard.Closed,
            "AT_TIMESTAMP" => OpenAt(Corrected(filter.TimestampMs!.Value)),
            "FROM_TIMESTAMP" => OpenAtOrAfter(Corrected(filter.TimestampMs!.Value)),
            _ => true,
        };
    }

    private async ValueTask GetShardIteratorAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveForDataAsync(ctx.Input, ctx.CancellationToken);
        var shardIdText = ctx.GetString("ShardId")!;
        var type = ctx.GetString("ShardIteratorType")!;
        var startingSequence = ctx.GetString("StartingSequenceNumber");
        var timestampMs = ctx.GetTimestampMs("Timestamp");
        var acct = streams.AccountId;

        if (!ShardIds.TryParse(shardIdText, out var shardIndex) ||
            StreamService.FindShard(stream, shardIndex) is not { } shard ||
            !streams.IsShardVisible(stream, shard, ctx.NowMs))
        {
            throw KinesisException.ResourceNotFound($"Shard {shardIdText} in stream {stream.StreamName} under account {acct} does not exist");
        }

        limits?.AdmitGetShardIterator(stream, shardIndex, ctx.NowMs);
        var shardId = ShardIds.Format(shardIndex);
        var key = new ShardKey(stream.StreamId, shardIndex);
        var cutoff = streams.RetentionCutoffMs(stream, ctx.NowMs);
        if (timestampMs is not null && type != "AT_TIMESTAMP")
        {
            throw KinesisException.InvalidArgument(
                $"Must specify timestampInMillis parameter only for iterator of type AT_TIMESTAMP. Current request has iterator type {type}.");
        }

        ulong position;
        switch (type)
        {
            case "AT_SEQUENCE_NUMBER" or "AFTER_SEQUENCE_NUMBER":
                if (startingSequence is null)
                {
                    throw KinesisException.InvalidArgument(string.Format(CultureInfo.InvariantCulture, IteratorTypeMessage, type, "no"));
                }

                position = ParseStartingSequence(stream, shard, shardId, startingSequence);
                if (type == "AFTER_SEQUENCE_NUMBER")
                {
                    position++;
                }

                break;
            case "TRIM_HORIZON" or "LATEST":
                if (startingSequence is not null)
                {
                    throw KinesisException.InvalidArgument(string.Format(CultureInfo.InvariantCulture, IteratorTypeMessage, type, "also a"));
                }

                var positions = await streams.Records.GetPositionsAsync(key, cutoff, ctx.CancellationToken);
                position = type == "TRIM_HORIZON" ? positions.TrimHorizon : positions.TipPosition;
                break;
            default: // AT_TIMESTAMP
                if (timestampMs is null)
                {
                    throw KinesisException.InvalidArgument(
                        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.");
                }

                position = await streams.Records.FindPositionByTimestampAsync(key, timestampMs.Value, cutoff, ctx.CancellationToken);
                break;
        }

        var iterator = streams.Tokens.EncodeIterator(new ShardIteratorState(stream.StreamName, stream.StreamId, shardIndex, position, ctx.NowMs));
        ctx.Output.WriteStartObject();
        ctx.Output.WriteString("ShardIterator", iterator);
        ctx.Output.WriteEndObject();
    }

    private ulong ParseStartingSequence(StreamDescription stream, ShardDescription shard, string shardId, string sequence)
    {
        var acct = streams.AccountId;
        if (!SequenceNumbers.TryParse(sequence, out var encodedShard, out var position))
        {
            throw KinesisException.InvalidArgument(
                $"StartingSequenceNumber {sequence} used in GetShardIterator on shard {shardId} in stream {stream.StreamName} under account {acct} is invalid.");
        }

        if (encodedShard != shard.ShardIndex)
        {
            throw KinesisException.InvalidArgument(
                $"Invalid StartingSequenceNumber. It encodes {ShardIds.Format(encodedShard)}, while it was used in a call to a shard with {shardId}");
        }

        if (position < shard.StartingPosition || (shard.EndingPosition is { } end && shard.Closed && position > end + 1))
        {
            throw KinesisException.InvalidArgument(
                $"StartingSequenceNumber {sequence} used in GetShardIterator on shard {shardId} in stream {stream.StreamName} under account {acct} is invalid because it did not come from this stream.");
        }

        return position;
    }
}
