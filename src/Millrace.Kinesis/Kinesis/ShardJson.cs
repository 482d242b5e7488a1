using System.Text.Json;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>Writes shard descriptions the way DescribeStream, ListShards and ChildShards show them.</summary>
internal static class ShardJson
{
    private static readonly JsonEncodedText SequenceNumberName = JsonEncodedText.Encode("SequenceNumber");

    /// <summary>A record as GetRecords and SubscribeToShard events show it. <paramref name="sequenceNumber"/> is a
    /// scratch buffer of <see cref="SequenceNumbers.Length"/> bytes, reused across records.</summary>
    public static void WriteRecord(Utf8JsonWriter w, StreamDescription stream, int shardIndex, in StoredRecord r, Span<byte> sequenceNumber)
    {
        w.WriteStartObject();
        w.WriteString(SequenceNumberName, SequenceNumbers.FormatUtf8(shardIndex, r.Position, sequenceNumber));
        JsonTimestamps.WriteEpochSeconds(w, "ApproximateArrivalTimestamp", r.ArrivalMs);
        w.WriteBase64String("Data", r.Data.Span);
        if (!r.PartitionKey.IsEmpty)
        {
            w.WriteString("PartitionKey", r.PartitionKey.Span); // absent when an AUTO producer sent none
        }

        // Per record: how it is stored. Records written before encryption started stay plaintext and say NONE;
        // on a stream that was never encrypted the member is left out.
        if (r.EncryptionKeyId is not null)
        {
            w.WriteString("EncryptionType", "KMS");
        }
        else if (stream.EncryptionType != "NONE" || stream.EncryptionChangesMs.Count > 0)
        {
            w.WriteString("EncryptionType", "NONE");
        }

        w.WriteEndObject();
    }

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
