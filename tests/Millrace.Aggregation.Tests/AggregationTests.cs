using System.Security.Cryptography;
using System.Text;
using FsCheck.Xunit;
using Record = Millrace.Client.Record;

namespace Millrace.Aggregation.Tests;

public class KplHashKeyTests
{
    [Fact]
    public void PartitionKeyHashIsTheBigEndianMd5()
    {
        Assert.Equal("16955237001963240173058271559858726497", KplHashKey.ToDecimal(KplHashKey.FromPartitionKey("a")));
        Assert.Equal("171922231538597478840392253176536055210", KplHashKey.ToDecimal(KplHashKey.FromPartitionKey("partition-key")));
    }

    [Fact]
    public void ExplicitHashKeyWinsAndParsesTheWholeRange()
    {
        Assert.Equal(UInt128.Zero, KplHashKey.Effective("a", "0"));
        Assert.Equal(UInt128.MaxValue, KplHashKey.Parse("340282366920938463463374607431768211455"));
        Assert.Equal(KplHashKey.FromPartitionKey("x"), KplHashKey.Effective("x", null));
        Assert.Throws<ArgumentException>(() => KplHashKey.Parse("340282366920938463463374607431768211456"));
        Assert.Throws<ArgumentException>(() => KplHashKey.Parse("-1"));
        Assert.Throws<ArgumentException>(() => KplHashKey.Parse("1e5"));
        Assert.Throws<ArgumentException>(() => KplHashKey.Parse(""));
    }

    [Fact]
    public void LongPartitionKeysHashLikeShortOnes()
    {
        var key = new string('é', 300);
        var expected = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(MD5.HashData(Encoding.UTF8.GetBytes(key)));
        Assert.Equal(expected, KplHashKey.FromPartitionKey(key));
    }
}

public class AggregatedRecordBuilderTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void OneRecordGoesRawUnderItsOwnKeys()
    {
        var b = new AggregatedRecordBuilder();
        b.Add("pk", "42", B("hello"));
        var env = b.Build();
        Assert.Equal("pk", env.PartitionKey);
        Assert.Equal("42", env.ExplicitHashKey);
        Assert.Equal(B("hello"), env.Data);
        Assert.Equal(1, env.UserRecordCount);
        Assert.False(Deaggregator.IsAggregated(env.Data));
    }

    [Fact]
    public void TwoRecordsMakeTheKplWireFormatByteForByte()
    {
        var b = new AggregatedRecordBuilder();
        b.Add("a", null, B("x"));
        b.Add("b", null, B("y"));
        var env = b.Build();
        Assert.Equal("a", env.PartitionKey);
        Assert.Equal("16955237001963240173058271559858726497", env.ExplicitHashKey); // MD5("a"), the first record's key
        byte[] protobuf =
        [
            0x0A, 0x01, (byte)'a', // partition_key_table
            0x0A, 0x01, (byte)'b',
            0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, (byte)'x', // records { partition_key_index: 0, data: "x" }
            0x1A, 0x05, 0x08, 0x01, 0x1A, 0x01, (byte)'y',
        ];
        byte[] expected = [0xF3, 0x89, 0x9A, 0xC2, .. protobuf, .. MD5.HashData(protobuf)];
        Assert.Equal(expected, env.Data);
        Assert.Equal(expected.Length, b.AggregatedSize);
    }

    [Fact]
    public void KeysAreStoredOnceAndExplicitHashKeysOnlyWhenGiven()
    {
        var b = new AggregatedRecordBuilder();
        b.Add("same", null, B("1"));
        long withNew = b.AggregatedSizeWith("other", null, 1);
        long withSame = b.AggregatedSizeWith("same", null, 1);
        Assert.Equal(withSame + 2 + "other".Length, withNew);
        b.Add("same", null, B("2"));
        b.Add("same", "7", B("3"));
        b.Add("other", "7", B("4"));
        var env = b.Build();
        Assert.Equal(env.Data.Length, b.AggregatedSize);
        var records = Deaggregator.Deaggregate(new Record { SequenceNumber = "49", PartitionKey = env.PartitionKey, Data = env.Data }).ToList();
        Assert.Equal(["same", "same", "same", "other"], records.Select(r => r.PartitionKey));
        Assert.Equal([null, null, "7", "7"], records.Select(r => r.ExplicitHashKey));
        Assert.Equal([0L, 1, 2, 3], records.Select(r => r.SubSequenceNumber));
        Assert.All(records, r => Assert.True(r.Aggregated));
        Assert.All(records, r => Assert.Equal("49", r.SequenceNumber));
        // "same" appears once in the partition key table.
        Assert.Equal(1, CountOccurrences(env.Data, B("same")));
    }

    [Fact]
    public void ClearMakesTheBuilderReusable()
    {
        var b = new AggregatedRecordBuilder();
        b.Add("a", null, B("x"));
        b.Add("b", null, B("y"));
        _ = b.Build();
        b.Clear();
        Assert.Equal(0, b.Count);
        b.Add("c", null, B("z"));
        Assert.Equal("c", b.Build().PartitionKey);
        b.Clear();
        Assert.Throws<InvalidOperationException>(() => b.Build());
    }

    private static int CountOccurrences(byte[] haystack, byte[] needle)
    {
        int count = 0;
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                count++;
            }
        }

        return count;
    }
}

public class DeaggregatorTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Aggregate()
    {
        var b = new AggregatedRecordBuilder();
        b.Add("k1", null, B("one"));
        b.Add("k2", null, B("two"));
        return b.Build().Data;
    }

    private static DeaggregatedRecord Single(byte[] data)
    {
        var time = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var all = Deaggregator.Deaggregate([new Record { SequenceNumber = "7", PartitionKey = "env", Data = data, ApproximateArrivalTimestamp = time, EncryptionType = "NONE" }]);
        var r = Assert.Single(all);
        Assert.Equal(time, r.ApproximateArrivalTimestamp);
        Assert.Equal("NONE", r.EncryptionType);
        return r;
    }

    [Fact]
    public void PlainRecordPassesThrough()
    {
        var r = Single(B("plain"));
        Assert.False(r.Aggregated);
        Assert.Equal(0, r.SubSequenceNumber);
        Assert.Equal("env", r.PartitionKey);
        Assert.Null(r.ExplicitHashKey);
        Assert.Equal(B("plain"), r.Data.ToArray());
    }

    [Fact]
    public void BadDigestMeansAPlainRecord()
    {
        var data = Aggregate();
        data[^1] ^= 0xFF;
        Assert.False(Deaggregator.IsAggregated(data));
        var r = Single(data);
        Assert.False(r.Aggregated);
        Assert.Equal(data, r.Data.ToArray());
    }

    [Fact]
    public void SixteenBytesAfterTheMagicIsNotEnough()
    {
        // Magic + the MD5 of an empty protobuf: exactly 16 bytes follow the magic.
        byte[] data = [0xF3, 0x89, 0x9A, 0xC2, .. MD5.HashData(Array.Empty<byte>())];
        Assert.False(Deaggregator.IsAggregated(data));
        Assert.False(Single(data).Aggregated);
    }

    [Fact]
    public void MatchingDigestOverGarbageMeansAPlainRecord()
    {
        byte[] garbage = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        byte[] data = [0xF3, 0x89, 0x9A, 0xC2, .. garbage, .. MD5.HashData(garbage)];
        Assert.False(Deaggregator.IsAggregated(data));
        Assert.False(Single(data).Aggregated);
    }

    [Fact]
    public void RecordWithoutRequiredDataOrWithABadIndexIsPlain()
    {
        byte[] noData = [0x0A, 0x01, (byte)'a', 0x1A, 0x02, 0x08, 0x00];
        byte[] badIndex = [0x0A, 0x01, (byte)'a', 0x1A, 0x05, 0x08, 0x03, 0x1A, 0x01, (byte)'x'];
        foreach (var protobuf in new[] { noData, badIndex })
        {
            byte[] data = [0xF3, 0x89, 0x9A, 0xC2, .. protobuf, .. MD5.HashData(protobuf)];
            Assert.False(Deaggregator.IsAggregated(data));
            Assert.False(Single(data).Aggregated);
        }
    }

    [Fact]
    public void UnknownFieldsAndTagsAreSkipped()
    {
        // partition_key_table "a", a record with tags { key: "t" }, and an unknown field 9 (varint).
        byte[] protobuf = [0x0A, 0x01, (byte)'a', 0x1A, 0x0A, 0x08, 0x00, 0x1A, 0x01, (byte)'x', 0x22, 0x03, 0x0A, 0x01, (byte)'t', 0x48, 0x05];
        byte[] data = [0xF3, 0x89, 0x9A, 0xC2, .. protobuf, .. MD5.HashData(protobuf)];
        Assert.True(Deaggregator.IsAggregated(data));
        var r = Single(data);
        Assert.True(r.Aggregated);
        Assert.Equal("a", r.PartitionKey);
        Assert.Equal(B("x"), r.Data.ToArray());
    }

    [Fact]
    public void MixedBatchKeepsOrderAndSubSequenceNumbers()
    {
        var records = Deaggregator.Deaggregate(
        [
            new Record { SequenceNumber = "1", PartitionKey = "p", Data = B("raw") },
            new Record { SequenceNumber = "2", PartitionKey = "a", Data = Aggregate() },
        ]);
        Assert.Equal([("1", 0L), ("2", 0L), ("2", 1L)], records.Select(r => (r.SequenceNumber, r.SubSequenceNumber)));
        Assert.Equal(["raw", "one", "two"], records.Select(r => Encoding.UTF8.GetString(r.Data.Span)));
    }

    /// <summary>Whatever user records go in, building and deaggregating gives them back, in order, with their keys.</summary>
    [Property(MaxTest = 200)]
    public bool BuildThenDeaggregateReturnsTheUserRecords((string, byte[], bool, ulong)[] input)
    {
        if (input is null || input.Length == 0)
        {
            return true;
        }

        // Keys as UTF-8 carries them (lone surrogates become U+FFFD in any encoder).
        static string Utf8(string? s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s ?? ""));
        var expected = input.Select(t => (Pk: Utf8(t.Item1), Ehk: t.Item3 ? t.Item4.ToString(System.Globalization.CultureInfo.InvariantCulture) : null, Data: t.Item2 ?? [])).ToList();
        var b = new AggregatedRecordBuilder();
        foreach (var e in expected)
        {
            b.Add(e.Pk, e.Ehk, e.Data);
        }

        var env = b.Build();
        var records = Deaggregator.Deaggregate(new Record { SequenceNumber = "5", PartitionKey = env.PartitionKey, Data = env.Data }).ToList();
        if (expected.Count == 1)
        {
            // A lone record goes raw: the envelope is the record.
            return env.PartitionKey == expected[0].Pk && env.ExplicitHashKey == expected[0].Ehk && env.Data.SequenceEqual(expected[0].Data)
                && records.Count == 1 && !records[0].Aggregated;
        }

        return env.PartitionKey == "a"
            && env.ExplicitHashKey == KplHashKey.ToDecimal(KplHashKey.Effective(expected[0].Pk, expected[0].Ehk))
            && env.Data.Length == b.AggregatedSize
            && records.Count == expected.Count
            && records.Select((r, i) => r.Aggregated && r.SubSequenceNumber == i && r.PartitionKey == expected[i].Pk
                && r.ExplicitHashKey == expected[i].Ehk && r.Data.Span.SequenceEqual(expected[i].Data)).All(x => x);
    }
}

public class Md5Tests
{
    /// <summary>The managed MD5 the hash keys use agrees with the platform's for every length around the block edges.</summary>
    [Fact]
    public void AgreesWithThePlatformForLengthsAcrossBlockBoundaries()
    {
        var random = new Random(5);
        Span<byte> digest = stackalloc byte[16];
        for (int length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Md5.HashData(data, digest);
            Assert.Equal(MD5.HashData(data), digest.ToArray());
        }

        Md5.HashData("abc"u8, digest);
        Assert.Equal("900150983cd24fb0d6963f7d28e17f72", Convert.ToHexStringLower(digest));
    }

    [Property(MaxTest = 300)]
    public bool AgreesWithThePlatform(byte[] data)
    {
        data ??= [];
        var digest = new byte[16];
        Md5.HashData(data, digest);
        return digest.AsSpan().SequenceEqual(MD5.HashData(data));
    }
}
