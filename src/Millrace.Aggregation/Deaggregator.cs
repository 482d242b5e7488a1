using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using Millrace.Client;

namespace Millrace.Aggregation;

/// <summary>
/// Splits KPL aggregated records into user records, with the KCL's detection rules (<c>AggregatorUtil.java</c>): a
/// record counts as aggregated only if it starts with the magic, more than 16 bytes follow it, the MD5 of the middle
/// matches the last 16 bytes and the protobuf parses. Anything else comes through unchanged (sub-sequence 0,
/// not aggregated), so a corrupt aggregate is delivered raw rather than dropped.
/// </summary>
public static class Deaggregator
{
    private readonly record struct ParsedRecord(int PartitionKeyIndex, int ExplicitHashKeyIndex, ReadOnlyMemory<byte> Data);

    public static IEnumerable<DeaggregatedRecord> Deaggregate(Record record)
    {
        var list = new List<DeaggregatedRecord>();
        DeaggregateInto(record, list);
        return list;
    }

    public static IReadOnlyList<DeaggregatedRecord> Deaggregate(IEnumerable<Record> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = new List<DeaggregatedRecord>();
        foreach (var r in records)
        {
            DeaggregateInto(r, list);
        }

        return list;
    }

    /// <summary>True when the data is a valid aggregate by the KCL's rules (magic, length, MD5, protobuf).</summary>
    public static bool IsAggregated(ReadOnlySpan<byte> data)
    {
        if (!HasValidFrame(data))
        {
            return false;
        }

        var copy = ArrayPool<byte>.Shared.Rent(data.Length);
        try
        {
            data.CopyTo(copy);
            return TryParse(copy, data.Length, out _, out _, out _);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private static void DeaggregateInto(Record record, List<DeaggregatedRecord> output)
    {
        ArgumentNullException.ThrowIfNull(record);
        var data = record.Data ?? [];
        string sequenceNumber = record.SequenceNumber ?? "";
        if (HasValidFrame(data) && TryParse(data, data.Length, out var partitionKeys, out var explicitHashKeys, out var records))
        {
            for (int i = 0; i < records.Count; i++)
            {
                var r = records[i];
                output.Add(new DeaggregatedRecord(sequenceNumber, i, partitionKeys[r.PartitionKeyIndex],
                    r.ExplicitHashKeyIndex >= 0 ? explicitHashKeys[r.ExplicitHashKeyIndex] : null, r.Data,
                    record.ApproximateArrivalTimestamp, Aggregated: true, record.EncryptionType));
            }

            return;
        }

        output.Add(new DeaggregatedRecord(sequenceNumber, 0, record.PartitionKey ?? "", null, data,
            record.ApproximateArrivalTimestamp, Aggregated: false, record.EncryptionType));
    }

    private static bool HasValidFrame(ReadOnlySpan<byte> data)
    {
        if (data.Length <= KplFormat.Overhead || !data.StartsWith(KplFormat.Magic))
        {
            return false;
        }

        Span<byte> digest = stackalloc byte[KplFormat.DigestLength];
        MD5.HashData(data[KplFormat.MagicLength..^KplFormat.DigestLength], digest);
        return digest.SequenceEqual(data[^KplFormat.DigestLength..]);
    }

    /// <summary>Parses the protobuf between magic and MD5. Fails (rather than throws) on malformed input, a missing
    /// required field or an index outside its key table, which makes the record a plain one.</summary>
    private static bool TryParse(byte[] data, int length, out List<string> partitionKeys, out List<string> explicitHashKeys, out List<ParsedRecord> records)
    {
        partitionKeys = [];
        explicitHashKeys = [];
        records = [];
        try
        {
            var input = new CodedInputStream(data, KplFormat.MagicLength, length - KplFormat.Overhead);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (tag)
                {
                    case KplFormat.PartitionKeyTableTag:
                        partitionKeys.Add(input.ReadString());
                        break;
                    case KplFormat.ExplicitHashKeyTableTag:
                        explicitHashKeys.Add(input.ReadString());
                        break;
                    case KplFormat.RecordsTag:
                        if (!TryParseRecord(input.ReadBytes(), out var parsed))
                        {
                            return false;
                        }

                        records.Add(parsed);
                        break;
                    default:
                        input.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }

        foreach (var r in records)
        {
            if (r.PartitionKeyIndex >= partitionKeys.Count || r.ExplicitHashKeyIndex >= explicitHashKeys.Count)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseRecord(ByteString message, out ParsedRecord record)
    {
        record = default;
        ulong? pkIndex = null;
        ulong? ehkIndex = null;
        ReadOnlyMemory<byte>? data = null;
        var input = message.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case KplFormat.RecordPartitionKeyIndexTag:
                    pkIndex = input.ReadUInt64();
                    break;
                case KplFormat.RecordExplicitHashKeyIndexTag:
                    ehkIndex = input.ReadUInt64();
                    break;
                case KplFormat.RecordDataTag:
                    data = input.ReadBytes().Memory;
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        // proto2 required fields: partition_key_index and data.
        if (pkIndex is not { } pk || data is not { } d || pk > int.MaxValue || ehkIndex > int.MaxValue)
        {
            return false;
        }

        record = new ParsedRecord((int)pk, ehkIndex is { } e ? (int)e : -1, d);
        return true;
    }
}
