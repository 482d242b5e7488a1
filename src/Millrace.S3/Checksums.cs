using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;

namespace Millrace.S3;

/// <summary>The flexible checksums of S3 (x-amz-checksum-*).</summary>
public enum ChecksumAlgorithm
{
    None,
    Crc32,
    Crc32C,
    Crc64Nvme,
    Sha1,
    Sha256,
}

internal static class Checksums
{
    public static readonly ChecksumAlgorithm[] All =
        [ChecksumAlgorithm.Crc32, ChecksumAlgorithm.Crc32C, ChecksumAlgorithm.Crc64Nvme, ChecksumAlgorithm.Sha1, ChecksumAlgorithm.Sha256];

    /// <summary>The algorithm's name in S3's API: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.</summary>
    public static string Name(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Crc32 => "CRC32",
        ChecksumAlgorithm.Crc32C => "CRC32C",
        ChecksumAlgorithm.Crc64Nvme => "CRC64NVME",
        ChecksumAlgorithm.Sha1 => "SHA1",
        ChecksumAlgorithm.Sha256 => "SHA256",
        _ => "",
    };

    public static ChecksumAlgorithm? Parse(string? name) => name?.ToUpperInvariant() switch
    {
        "CRC32" => ChecksumAlgorithm.Crc32,
        "CRC32C" => ChecksumAlgorithm.Crc32C,
        "CRC64NVME" => ChecksumAlgorithm.Crc64Nvme,
        "SHA1" => ChecksumAlgorithm.Sha1,
        "SHA256" => ChecksumAlgorithm.Sha256,
        _ => null,
    };

    /// <summary>x-amz-checksum-crc32 and so on.</summary>
    public static string HeaderName(ChecksumAlgorithm algorithm) => "x-amz-checksum-" + Name(algorithm).ToLowerInvariant();

    /// <summary>ChecksumCRC32 and so on (XML element names).</summary>
    public static string ElementName(ChecksumAlgorithm algorithm) => "Checksum" + Name(algorithm);

    public static int ByteLength(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Crc32 or ChecksumAlgorithm.Crc32C => 4,
        ChecksumAlgorithm.Crc64Nvme => 8,
        ChecksumAlgorithm.Sha1 => 20,
        ChecksumAlgorithm.Sha256 => 32,
        _ => 0,
    };

    public static bool IsCrc(ChecksumAlgorithm algorithm) =>
        algorithm is ChecksumAlgorithm.Crc32 or ChecksumAlgorithm.Crc32C or ChecksumAlgorithm.Crc64Nvme;

    public static IncrementalChecksum Create(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Crc32 => new Crc32Checksum(Crc32ParameterSet.Crc32),
        ChecksumAlgorithm.Crc32C => new Crc32Checksum(Crc32ParameterSet.Crc32C),
        ChecksumAlgorithm.Crc64Nvme => new Crc64Checksum(),
        ChecksumAlgorithm.Sha1 => new ShaChecksum(HashAlgorithmName.SHA1),
        ChecksumAlgorithm.Sha256 => new ShaChecksum(HashAlgorithmName.SHA256),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>The checksum of a whole buffer, big-endian bytes.</summary>
    public static byte[] Compute(ChecksumAlgorithm algorithm, ReadOnlySpan<byte> data)
    {
        var checksum = Create(algorithm);
        checksum.Append(data);
        return checksum.GetHashAndReset();
    }

    /// <summary>Decodes a base64 checksum value of the right length, or null.</summary>
    public static byte[]? Decode(ChecksumAlgorithm algorithm, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var bytes = new byte[ByteLength(algorithm)];
        return Convert.TryFromBase64String(value.Trim(), bytes, out int written) && written == bytes.Length ? bytes : null;
    }

    /// <summary>
    /// The composite checksum of a multipart object: the checksum of the concatenated part checksums, as S3 shows
    /// it, <c>base64-N</c>.
    /// </summary>
    public static string Composite(ChecksumAlgorithm algorithm, IReadOnlyList<byte[]> partChecksums)
    {
        var checksum = Create(algorithm);
        foreach (var part in partChecksums)
        {
            checksum.Append(part);
        }

        return Convert.ToBase64String(checksum.GetHashAndReset()) + "-" + partChecksums.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The full-object CRC of a multipart object out of its parts' CRCs and sizes (zlib's crc32_combine, for any
    /// reflected CRC whose initial value and final xor are all ones).
    /// </summary>
    public static byte[] CombineCrc(ChecksumAlgorithm algorithm, IReadOnlyList<(byte[] Crc, long Size)> parts)
    {
        var (poly, width) = algorithm switch
        {
            ChecksumAlgorithm.Crc32 => (0xEDB88320UL, 32),
            ChecksumAlgorithm.Crc32C => (0x82F63B78UL, 32),
            ChecksumAlgorithm.Crc64Nvme => (0x9A6C9329AC4BC9B5UL, 64),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };

        ulong crc = 0;
        bool first = true;
        foreach (var (bytes, size) in parts)
        {
            ulong value = width == 32 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt64BigEndian(bytes);
            crc = first ? value : Combine(crc, value, size, poly, width);
            first = false;
        }

        if (first)
        {
            return Compute(algorithm, []);
        }

        var result = new byte[width / 8];
        if (width == 32)
        {
            BinaryPrimitives.WriteUInt32BigEndian(result, (uint)crc);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(result, crc);
        }

        return result;
    }

    internal static ulong Combine(ulong crc1, ulong crc2, long len2, ulong poly, int width)
    {
        if (len2 <= 0)
        {
            return crc1;
        }

        var even = new ulong[width];
        var odd = new ulong[width];
        odd[0] = poly;
        ulong row = 1;
        for (int n = 1; n < width; n++)
        {
            odd[n] = row;
            row <<= 1;
        }

        Square(even, odd, width);
        Square(odd, even, width);
        do
        {
            Square(even, odd, width);
            if ((len2 & 1) != 0)
            {
                crc1 = Times(even, crc1);
            }

            len2 >>= 1;
            if (len2 == 0)
            {
                break;
            }

            Square(odd, even, width);
            if ((len2 & 1) != 0)
            {
                crc1 = Times(odd, crc1);
            }

            len2 >>= 1;
        }
        while (len2 != 0);

        return crc1 ^ crc2;
    }

    private static ulong Times(ulong[] matrix, ulong vector)
    {
        ulong sum = 0;
        for (int i = 0; vector != 0; i++, vector >>= 1)
        {
            if ((vector & 1) != 0)
            {
                sum ^= matrix[i];
            }
        }

        return sum;
    }

    private static void Square(ulong[] square, ulong[] matrix, int width)
    {
        for (int n = 0; n < width; n++)
        {
            square[n] = Times(matrix, matrix[n]);
        }
    }
}

/// <summary>A checksum computed over streamed bytes; the hash is big-endian, as S3 encodes it.</summary>
internal abstract class IncrementalChecksum
{
    public abstract void Append(ReadOnlySpan<byte> data);

    public abstract byte[] GetHashAndReset();
}

internal sealed class Crc32Checksum(Crc32ParameterSet parameters) : IncrementalChecksum
{
    private readonly Crc32 _crc = new(parameters);

    public override void Append(ReadOnlySpan<byte> data) => _crc.Append(data);

    public override byte[] GetHashAndReset()
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, _crc.GetCurrentHashAsUInt32());
        _crc.Reset();
        return bytes;
    }
}

internal sealed class Crc64Checksum : IncrementalChecksum
{
    private readonly Crc64 _crc = new(Crc64ParameterSet.Nvme);

    public override void Append(ReadOnlySpan<byte> data) => _crc.Append(data);

    public override byte[] GetHashAndReset()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, _crc.GetCurrentHashAsUInt64());
        _crc.Reset();
        return bytes;
    }
}

internal sealed class ShaChecksum(HashAlgorithmName name) : IncrementalChecksum
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(name);

    public override void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);

    public override byte[] GetHashAndReset() => _hash.GetHashAndReset();
}
