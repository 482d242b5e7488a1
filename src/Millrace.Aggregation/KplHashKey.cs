using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Millrace.Aggregation;

/// <summary>
/// The 128-bit hash key Kinesis routes a record by: the explicit hash key when one is given, otherwise the MD5 of
/// the partition key's UTF-8 bytes read as a big-endian unsigned integer (the KPL's <c>user_record.cc</c> rule).
/// </summary>
public static class KplHashKey
{
    /// <summary>Largest 128-bit hash key, 2^128 - 1.</summary>
    public static UInt128 MaxValue => UInt128.MaxValue;

    public static UInt128 FromPartitionKey(string partitionKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        Span<byte> hash = stackalloc byte[16];
        int max = Encoding.UTF8.GetMaxByteCount(partitionKey.Length);
        if (max <= 512)
        {
            Span<byte> utf8 = stackalloc byte[max];
            int n = Encoding.UTF8.GetBytes(partitionKey, utf8);
            Md5.HashData(utf8[..n], hash);
        }
        else
        {
            var rented = ArrayPool<byte>.Shared.Rent(max);
            try
            {
                int n = Encoding.UTF8.GetBytes(partitionKey, rented);
                Md5.HashData(rented.AsSpan(0, n), hash);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return BinaryPrimitives.ReadUInt128BigEndian(hash);
    }

    /// <summary>Parses an ExplicitHashKey: decimal digits only, 0 to 2^128 - 1, as Kinesis accepts it.</summary>
    public static UInt128 Parse(string explicitHashKeyDecimal)
    {
        if (!TryParse(explicitHashKeyDecimal, out var value))
        {
            throw new ArgumentException($"ExplicitHashKey '{explicitHashKeyDecimal}' is not a decimal number between 0 and 2^128 - 1.", nameof(explicitHashKeyDecimal));
        }

        return value;
    }

    public static bool TryParse(string? explicitHashKeyDecimal, out UInt128 value)
    {
        value = default;
        if (string.IsNullOrEmpty(explicitHashKeyDecimal) || explicitHashKeyDecimal.Length > 39)
        {
            return false;
        }

        foreach (char c in explicitHashKeyDecimal)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return UInt128.TryParse(explicitHashKeyDecimal, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The key the record is routed by: the explicit hash key if given, else the partition key's MD5.</summary>
    public static UInt128 Effective(string partitionKey, string? explicitHashKey) =>
        explicitHashKey is null ? FromPartitionKey(partitionKey) : Parse(explicitHashKey);

    public static string ToDecimal(UInt128 value) => value.ToString(CultureInfo.InvariantCulture);
}
