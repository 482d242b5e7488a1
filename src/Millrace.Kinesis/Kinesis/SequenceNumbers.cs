using System.Globalization;

namespace Millrace.Kinesis;

/// <summary>
/// Millrace's sequence-number layout: 32 decimal digits, <c>49</c> + the shard index (10 digits) + the log
/// position (20 digits, zero-padded). The position is the storage log's per-shard unsigned 64-bit counter, so
/// within a shard the numbers compare as integers (and as strings) in write order, and the shard index makes them
/// unique within a stream. See docs/storage.md for how positions are assigned.
/// </summary>
public static class SequenceNumbers
{
    public const int Length = 32;

    public static string Format(int shardIndex, ulong position) =>
        string.Create(Length, (shardIndex, position), static (span, s) =>
        {
            span[0] = '4';
            span[1] = '9';
            s.shardIndex.TryFormat(span.Slice(2, 10), out _, "D10", CultureInfo.InvariantCulture);
            s.position.TryFormat(span.Slice(12, 20), out _, "D20", CultureInfo.InvariantCulture);
        });

    /// <summary>The same text as <see cref="Format"/>, as UTF-8 into <paramref name="utf8"/> (32 bytes): no string
    /// per record on the data plane.</summary>
    public static ReadOnlySpan<byte> FormatUtf8(int shardIndex, ulong position, Span<byte> utf8)
    {
        utf8[0] = (byte)'4';
        utf8[1] = (byte)'9';
        shardIndex.TryFormat(utf8.Slice(2, 10), out _, "D10", CultureInfo.InvariantCulture);
        position.TryFormat(utf8.Slice(12, 20), out _, "D20", CultureInfo.InvariantCulture);
        return utf8[..Length];
    }

    public static bool TryParse(ReadOnlySpan<char> text, out int shardIndex, out ulong position)
    {
        shardIndex = 0;
        position = 0;
        return text.Length == Length && text[0] == '4' && text[1] == '9'
            && int.TryParse(text.Slice(2, 10), NumberStyles.None, CultureInfo.InvariantCulture, out shardIndex)
            && ulong.TryParse(text.Slice(12, 20), NumberStyles.None, CultureInfo.InvariantCulture, out position);
    }
}
