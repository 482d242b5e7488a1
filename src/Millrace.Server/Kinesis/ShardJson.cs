using System.Text.Json;
using Millrace.Storage;

namespace Millrace.Server.Kinesis;

/// <summary>Writes shard descriptions the way DescribeStream, ListShards and ChildShards show them.</summary>
internal static class ShardJson
{
    public static void WriteShard(Utf8JsonWriter w, ShardDescription shard)
    {
        w.WriteStartObject();
        w.WriteString("ShardId", ShardIds.Format(shard.ShardIndex));
        if (shard.ParentShardIndex is { } parent)
        {
            w.WriteString("ParentShardId", ShardIds.Format(parent));
        }

        if (shard.AdjacentParentShardIndex is { } adjacent)
        {
            w.WriteString("AdjacentParentShardId", ShardIds.Format(adjacent));
        }

        WriteHashKeyRange(w, shard);
        w.WriteStartObject("SequenceNumberRange");
        w.WriteString("StartingSequenceNumber", SequenceNumbers.Format(shard.ShardIndex, shard.StartingPosition));
        if (shard.Closed && shard.EndingPosition is { } end)
        {
            // A closing shard (children already routed to, seal not yet recorded) has no ending yet.
            w.WriteString("EndingSequenceNumber", SequenceNumbers.Format(shard.ShardIndex, end));
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>A ChildShards entry: ShardId, ParentShards, HashKeyRange.</summary>
    public static void WriteChildShard(Utf8JsonWriter w, ShardDescription child)
    {
        w.WriteStartObject();
        w.WriteString("ShardId", ShardIds.Format(child.ShardIndex));
        w.WriteStartArray("ParentShards");
        if (child.ParentShardIndex is { } parent)
        {
            w.WriteStringValue(ShardIds.Format(parent));
        }

        if (child.AdjacentParentShardIndex is { } adjacent)
        {
            w.WriteStringValue(ShardIds.Format(adjacent));
        }

        w.WriteEndArray();
        WriteHashKeyRange(w, child);
        w.WriteEndObject();
    }

    private static void WriteHashKeyRange(Utf8JsonWriter w, ShardDescription shard)
    {
        w.WriteStartObject("HashKeyRange");
        w.WriteString("StartingHashKey", shard.StartingHashKey);
        w.WriteString("EndingHashKey", shard.EndingHashKey);
        w.WriteEndObject();
    }

    public static void WriteStreamModeDetails(Utf8JsonWriter w, StreamDescription stream)
    {
        w.WriteStartObject("StreamModeDetails");
        w.WriteString("StreamMode", stream.StreamMode);
        w.WriteEndObject();
    }

    public static void WriteEnhancedMonitoring(Utf8JsonWriter w, StreamDescription stream)
    {
        w.WriteStartArray("EnhancedMonitoring");
        w.WriteStartObject();
        w.WriteStartArray("ShardLevelMetrics");
        foreach (var metric in stream.ShardLevelMetrics)
        {
            w.WriteStringValue(metric);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
    }
}
