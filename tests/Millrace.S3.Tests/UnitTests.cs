using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Millrace.S3.Tests;

public sealed class AwsChunkedStreamTests
{
    private static byte[] Encode(byte[] data, int[] chunkSizes, bool signed, string? trailer)
    {
        var ms = new MemoryStream();
        void Write(string s) => ms.Write(Encoding.ASCII.GetBytes(s));
        int offset = 0, i = 0;
        while (offset < data.Length)
        {
            int n = Math.Min(Math.Max(1, chunkSizes.Length == 0 ? data.Length : chunkSizes[i++ % chunkSizes.Length]), data.Length - offset);
            Write(n.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + (signed ? ";chunk-signature=" + new string('a', 64) : "") + "\r\n");
            ms.Write(data, offset, n);
            Write("\r\n");
            offset += n;
        }

        Write("0" + (signed ? ";chunk-signature=" + new string('b', 64) : "") + "\r\n");
        if (trailer is not null)
        {
            Write(trailer + "\r\n");
        }

        Write("\r\n");
        return ms.ToArray();
    }

    /// <summary>Hands out at most a few bytes per read, so chunk headers straddle reads.</summary>
    private sealed class TrickleStream(byte[] data, int[] reads) : Stream
    {
        private int _position;
        private int _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int limit = reads.Length == 0 ? count : Math.Max(1, reads[_read++ % reads.Length]);
            int n = Math.Min(Math.Min(count, limit), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static (byte[] Data, Dictionary<string, string> Trailers) Decode(byte[] encoded, int[] reads, int readSize)
    {
        using var stream = new AwsChunkedStream(new TrickleStream(encoded, reads), bufferSize: 64);
        var output = new MemoryStream();
        var buffer = new byte[Math.Max(1, readSize)];
        for (int guard = 0; guard < encoded.Length + 10; guard++)
        {
            int n = stream.ReadAsync(buffer).AsTask().GetAwaiter().GetResult();
            if (n == 0)
            {
                return (output.ToArray(), stream.Trailers);
            }

            output.Write(buffer, 0, n);
        }

        throw new InvalidOperationException("decoder did not finish");
    }

    [Property(MaxTest = 200)]
    public bool Decodes_any_chunking(byte[] data, PositiveInt[] chunks, PositiveInt[] reads, PositiveInt readSize, bool signed, bool withTrailer)
    {
        data ??= [];
        var trailer = withTrailer ? "x-amz-checksum-crc32:" + Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, data)) : null;
        var encoded = Encode(data, [.. (chunks ?? []).Select(c => (c.Get % 50) + 1)], signed, trailer);
        var (decoded, trailers) = Decode(encoded, [.. (reads ?? []).Select(r => (r.Get % 20) + 1)], (readSize.Get % 100) + 1);
        return decoded.AsSpan().SequenceEqual(data)
            && (!withTrailer || trailers["x-amz-checksum-crc32"] == trailer!["x-amz-checksum-crc32:".Length..]);
    }

    [Fact]
    public void Large_random_body_round_trips()
    {
        var data = RandomNumberGenerator.GetBytes(1_000_000);
        var encoded = Encode(data, [65536, 1, 8191], signed: true, trailer: "x-amz-checksum-sha256:abc=");
        var (decoded, trailers) = Decode(encoded, [], 100_000);
        Assert.Equal(data, decoded);
        Assert.Equal("abc=", trailers["x-amz-checksum-sha256"]);
    }

    [Fact]
    public void Truncated_body_is_incomplete()
    {
        var encoded = Encode(new byte[100], [40], signed: false, trailer: null);
        var error = Assert.Throws<S3Exception>(() => Decode(encoded[..60], [], 16));
        Assert.Equal("IncompleteBody", error.Code);
    }

    [Theory]
    [InlineData("zz\r\nabc\r\n0\r\n\r\n")]
    [InlineData("3\r\nabcX\r\n0\r\n\r\n")]
    [InlineData("-1\r\n\r\n")]
    public void Malformed_framing_is_rejected(string body)
    {
        var error = Assert.Throws<S3Exception>(() => Decode(Encoding.ASCII.GetBytes(body), [], 16));
        Assert.Equal(400, error.Status);
    }
}

public sealed class ChecksumTests
{
    [Fact]
    public void Known_vectors()
    {
        var check = "123456789"u8.ToArray();
        Assert.Equal("CBF43926", Convert.ToHexString(Checksums.Compute(ChecksumAlgorithm.Crc32, check)));
        Assert.Equal("E3069283", Convert.ToHexString(Checksums.Compute(ChecksumAlgorithm.Crc32C, check)));
        Assert.Equal("AE8B14860A799888", Convert.ToHexString(Checksums.Compute(ChecksumAlgorithm.Crc64Nvme, check)));
        // S3's documented empty-object values.
        Assert.Equal("AAAAAA==", Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, [])));
        Assert.Equal("AAAAAAAAAAA=", Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc64Nvme, [])));
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(check)), Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Sha256, check)));
    }

    [Fact]
    public void Crc32c_incremental_equals_one_shot()
    {
        var data = RandomNumberGenerator.GetBytes(100_003);
        var incremental = Checksums.Create(ChecksumAlgorithm.Crc32C);
        for (int offset = 0; offset < data.Length; offset += 777)
        {
            incremental.Append(data.AsSpan(offset, Math.Min(777, data.Length - offset)));
        }

        Assert.Equal(Checksums.Compute(ChecksumAlgorithm.Crc32C, data), incremental.GetHashAndReset());
    }

    [Property(MaxTest = 100)]
    public bool Crc_combine_equals_crc_of_concatenation(byte[] a, byte[] b, byte[] c)
    {
        a ??= [];
        b ??= [];
        c ??= [];
        foreach (var algorithm in new[] { ChecksumAlgorithm.Crc32, ChecksumAlgorithm.Crc32C, ChecksumAlgorithm.Crc64Nvme })
        {
            var combined = Checksums.CombineCrc(algorithm, [(Checksums.Compute(algorithm, a), a.Length), (Checksums.Compute(algorithm, b), b.Length), (Checksums.Compute(algorithm, c), c.Length)]);
            if (!combined.AsSpan().SequenceEqual(Checksums.Compute(algorithm, [.. a, .. b, .. c])))
            {
                return false;
            }
        }

        return true;
    }

    [Fact]
    public void Composite_checksum_is_checksum_of_part_checksums()
    {
        var p1 = Checksums.Compute(ChecksumAlgorithm.Sha1, "one"u8);
        var p2 = Checksums.Compute(ChecksumAlgorithm.Sha1, "two"u8);
        Assert.Equal(Convert.ToBase64String(SHA1.HashData([.. p1, .. p2])) + "-2", Checksums.Composite(ChecksumAlgorithm.Sha1, [p1, p2]));
    }
}

public sealed class ParsingTests
{
    [Theory]
    [InlineData("bytes=0-0", 10, 0, 1)]
    [InlineData("bytes=2-4", 10, 2, 3)]
    [InlineData("bytes=5-", 10, 5, 5)]
    [InlineData("bytes=-3", 10, 7, 3)]
    [InlineData("bytes=-30", 10, 0, 10)]
    [InlineData("bytes=8-100", 10, 8, 2)]
    public void Satisfiable_ranges(string header, long size, long offset, long length) =>
        Assert.Equal(new ByteRange(offset, length), ByteRange.Parse(header, size));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("items=0-1")]
    [InlineData("bytes=0-1,4-5")]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=abc")]
    [InlineData("bytes=x-1")]
    public void Ignored_ranges_serve_the_whole_object(string? header) => Assert.Null(ByteRange.Parse(header, 10));

    [Theory]
    [InlineData("bytes=10-", 10)]
    [InlineData("bytes=100-200", 10)]
    [InlineData("bytes=-0", 10)]
    [InlineData("bytes=0-", 0)]
    public void Unsatisfiable_ranges(string header, long size) =>
        Assert.Equal("InvalidRange", Assert.Throws<S3Exception>(() => ByteRange.Parse(header, size)).Code);

    [Theory]
    [InlineData("abc", true)]
    [InlineData("my-bucket.example", true)]
    [InlineData("a1b", true)]
    [InlineData(null, true)]
    [InlineData("ab", false)]
    [InlineData("ABC", false)]
    [InlineData("a_b_c", false)]
    [InlineData(".abc", false)]
    [InlineData("abc-", false)]
    [InlineData("a..b", false)]
    [InlineData("a.-b", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("xn--abc", false)]
    [InlineData("abc-s3alias", false)]
    [InlineData("abc--ol-s3", false)]
    [InlineData("sthree-abc", false)]
    public void Bucket_names(string? name, bool valid) =>
        Assert.Equal(valid, BucketNames.IsValid(name ?? new string('a', 63)));

    [Fact]
    public void Bucket_name_length_limit() => Assert.False(BucketNames.IsValid(new string('a', 64)));

    [Property(MaxTest = 200)]
    public bool Continuation_tokens_round_trip(NonNull<string> key)
    {
        var value = key.Get;
        // Lone surrogates cannot be UTF-8 keys.
        if (value.Any(char.IsSurrogate))
        {
            return true;
        }

        return ContinuationToken.Decode(ContinuationToken.Encode(value)) == value;
    }

    [Theory]
    [InlineData("garbage!")]
    [InlineData("")]
    [InlineData("AAAA")]
    public void Foreign_continuation_tokens_are_rejected(string token) => Assert.Null(ContinuationToken.Decode(token));

    [Fact]
    public void Xml_escapes_specials_and_control_characters()
    {
        var xml = S3Xml.Root("R").Element("Key", "a&b<c>d\"e'f\u0001g\u001fh\ti").ToString();
        Assert.Contains("<Key>a&amp;b&lt;c&gt;d&quot;e'f&#x1;g&#x1F;h&#x9;i</Key>", xml, StringComparison.Ordinal);
        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void Url_encoding_matches_s3()
    {
        Assert.Equal("foo%2B1/bar", S3Service.UrlEncode("foo+1/bar"));
        Assert.Equal("quux%20ab/thud", S3Service.UrlEncode("quux ab/thud"));
        Assert.Equal("%C3%BC%F0%9F%98%80", S3Service.UrlEncode("ü😀"));
        Assert.Equal("a-_.~b%01", S3Service.UrlEncode("a-_.~b\u0001"));
    }

    [Fact]
    public void Copy_source_parsing()
    {
        Assert.Equal(("b", "k/x y"), S3Service.ParseCopySource("/b/k/x%20y"));
        Assert.Equal(("b", "k"), S3Service.ParseCopySource("b/k?versionId=null"));
        Assert.Equal("InvalidArgument", Assert.Throws<S3Exception>(() => S3Service.ParseCopySource("/onlybucket")).Code);
    }

    [Fact]
    public void Metadata_round_trips()
    {
        var meta = new ObjectMetadata { ContentType = "text/plain", User = [new("a", "b")], Tags = [new("t", "v")], ChecksumAlgorithm = "CRC32", ChecksumValue = "AAAAAA==", PartSizes = [1, 2] };
        var back = ObjectMetadata.Decode(meta.Encode());
        Assert.Equal("text/plain", back.ContentType);
        Assert.Equal("b", back.User!.Single().Value);
        Assert.Equal(ChecksumAlgorithm.Crc32, back.Algorithm);
        Assert.Equal([1L, 2L], back.PartSizes!);
        Assert.Null(ObjectMetadata.Decode("not json"u8).ContentType);
    }
}
