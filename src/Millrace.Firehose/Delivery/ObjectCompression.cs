using System.Buffers.Binary;
using System.IO.Compression;
using Snappier;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// The S3 CompressionFormats, each in the container its standard tool reads: GZIP (gunzip), ZIP (unzip; one entry),
/// Snappy (the framing format of snappy's reference tools and python-snappy), and HADOOP_SNAPPY (Hadoop's block
/// format, as <c>hadoop fs -text</c> reads .snappy files).
/// </summary>
internal static class ObjectCompression
{
    /// <summary>Hadoop's SnappyCodec compresses blocks of at most this many input bytes.</summary>
    private const int HadoopBlockSize = 256 * 1024;

    /// <summary>The extension Firehose gives objects of a format when no FileExtension is configured.</summary>
    public static string Extension(string format) => format switch
    {
        "GZIP" => ".gz",
        "ZIP" => ".zip",
        "Snappy" or "HADOOP_SNAPPY" => ".snappy",
        _ => "",
    };

    public static string ContentType(string format) => format switch
    {
        "GZIP" => "application/gzip",
        "ZIP" => "application/zip",
        _ => "application/octet-stream",
    };

    public static byte[] Compress(string format, IReadOnlyList<ReadOnlyMemory<byte>> parts, string entryName)
    {
        using var output = new MemoryStream();
        switch (format)
        {
            case "GZIP":
                using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
                {
                    WriteAll(gzip, parts);
                }

                break;
            case "ZIP":
                using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
                {
                    using var entry = zip.CreateEntry(entryName, CompressionLevel.Fastest).Open();
                    WriteAll(entry, parts);
                }

                break;
            case "Snappy":
                using (var snappy = new SnappyStream(output, CompressionMode.Compress, leaveOpen: true))
                {
                    WriteAll(snappy, parts);
                }

                break;
            case "HADOOP_SNAPPY":
                WriteHadoopSnappy(output, Concat(parts));
                break;
            default:
                WriteAll(output, parts);
                break;
        }

        return output.ToArray();
    }

    private static void WriteAll(Stream stream, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        foreach (var part in parts)
        {
            stream.Write(part.Span);
        }
    }

    private static byte[] Concat(IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(all.AsMemory(offset));
            offset += part.Length;
        }

        return all;
    }

    /// <summary>Hadoop's BlockCompressorStream: per block, the uncompressed length then one (length, raw snappy) chunk, big-endian.</summary>
    private static void WriteHadoopSnappy(Stream output, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[4];
        var scratch = new byte[Snappy.GetMaxCompressedLength(HadoopBlockSize)];
        for (var offset = 0; offset < data.Length; offset += HadoopBlockSize)
        {
            var block = data.Slice(offset, Math.Min(HadoopBlockSize, data.Length - offset));
            var length = Snappy.Compress(block, scratch);
            BinaryPrimitives.WriteInt32BigEndian(header, block.Length);
            output.Write(header);
            BinaryPrimitives.WriteInt32BigEndian(header, length);
            output.Write(header);
            output.Write(scratch, 0, length);
        }
    }

    /// <summary>Reads Hadoop's block format back (tests and error replays).</summary>
    public static byte[] ReadHadoopSnappy(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream();
        var offset = 0;
        while (offset < data.Length)
        {
            var expected = BinaryPrimitives.ReadInt32BigEndian(data[offset..]);
            offset += 4;
            var produced = 0;
            while (produced < expected)
            {
                var length = BinaryPrimitives.ReadInt32BigEndian(data[offset..]);
                offset += 4;
                var plain = Snappy.DecompressToArray(data.Slice(offset, length));
                output.Write(plain);
                produced += plain.Length;
                offset += length;
            }
        }

        return output.ToArray();
    }
}
