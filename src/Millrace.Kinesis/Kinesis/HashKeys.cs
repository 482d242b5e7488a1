using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.Kinesis;

/// <summary>Kinesis hash keys: unsigned 128-bit integers, from the MD5 of a partition key or given explicitly.</summary>
public static class HashKeys
{
    /// <summary>MD5 of the UTF-8 partition key, read as an unsigned big-endian 128-bit integer. No allocation for
    /// keys up to 256 characters (the model's limit).</summary>
    public static UInt128 FromPartitionKey(ReadOnlySpan<char> partitionKey)
    {
        int max = Encoding.UTF8.GetMaxByteCount(partitionKey.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 1024 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int n = Encoding.UTF8.GetBytes(partitionKey, utf8);
            return FromUtf8PartitionKey(utf8[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static UInt128 FromUtf8PartitionKey(ReadOnlySpan<byte> utf8)
    {
        Span<byte> digest = stackalloc byte[16];
        MD5.HashData(utf8, digest);
        return BinaryPrimitives.ReadUInt128BigEndian(digest);
    }

    /// <summary>Parses a decimal hash key; false when it is not a decimal integer in [0, 2^128-1].</summary>
    public static bool TryParse(string text, out UInt128 value) =>
        UInt128.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    public static string Format(UInt128 value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The inclusive hash range of shard <paramref name="index"/> of <paramref name="count"/> evenly split
    /// shards: step = floor(2^128 / count), shard i covers [i*step, (i+1)*step - 1], the last ends at 2^128-1.</summary>
    public static (UInt128 Start, UInt128 End) EvenRange(int index, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var n = (UInt128)count;
        var step = UInt128.MaxValue / n;
        if (UInt128.MaxValue % n == n - 1)
        {
            step += 1; // count divides 2^128 exactly
        }

        var start = step * (UInt128)index;
        var end = index == count - 1 ? UInt128.MaxValue : start + step - 1;
        return (start, end);
    }
}
