using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Xunit;
using Millrace.Storage.Objects;

namespace Millrace.Storage.Tests.Objects;

public sealed class FileObjectStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 4, 0, 0, TimeSpan.Zero);

    private static async Task<IObjectStore> OpenAsync(TempDir dir) =>
        await FileObjectStore.OpenAsync(new ObjectStoreOptions { DataDirectory = Path.Combine(dir.Path, "s3") });

    private static async Task<ObjectRecord> PutAsync(IObjectStore store, string bucket, string key, byte[] data, string? meta = null)
    {
        await using var writer = await store.BeginObjectAsync(bucket);
        await writer.Content.WriteAsync(data);
        return (await writer.CommitAsync(key, Encoding.UTF8.GetBytes(meta ?? ""), Convert.ToHexStringLower(MD5.HashData(data)), Now))!;
    }

    private static async Task<byte[]> ReadAsync(IObjectStore store, string bucket, string key, long offset = 0, long? length = null)
    {
        await using var reader = await store.OpenObjectAsync(bucket, key) ?? throw new KeyNotFoundException(key);
        using var output = new MemoryStream();
        await reader.CopyToAsync(output, offset, length ?? reader.Object.Size - offset);
        return output.ToArray();
    }

    private static async Task PartAsync(IObjectStore store, string bucket, string uploadId, int number, byte[] data)
    {
        await using var writer = await store.BeginPartAsync(bucket, uploadId, number);
        await writer.Content.WriteAsync(data);
        await writer.CommitPartAsync(Convert.ToHexStringLower(MD5.HashData(data)), ReadOnlyMemory<byte>.Empty, Now);
    }

    private static string[] BlobFiles(TempDir dir) => Directory.GetFiles(Path.Combine(dir.Path, "s3", "blobs"), "*", SearchOption.AllDirectories);

    [Fact]
    public async Task ObjectsRoundTripOverwriteAndDelete()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        Assert.True(await store.CreateBucketAsync("b", "us-east-1", Now));
        Assert.False(await store.CreateBucketAsync("b", "us-east-1", Now));

        var first = RandomNumberGenerator.GetBytes(300_000);
        var record = await PutAsync(store, "b", "dir/key", first, "v1");
        Assert.Equal(first.Length, record.Size);
        Assert.Equal(first, await ReadAsync(store, "b", "dir/key"));
        Assert.Equal(first.AsSpan(1000, 5000).ToArray(), await ReadAsync(store, "b", "dir/key", 1000, 5000));

        var second = RandomNumberGenerator.GetBytes(100_000);
        await PutAsync(store, "b", "dir/key", second, "v2");
        Assert.Equal(second, await ReadAsync(store, "b", "dir/key"));
        Assert.Equal("v2", Encoding.UTF8.GetString((await store.GetObjectAsync("b", "dir/key"))!.Metadata));
        Assert.Single(BlobFiles(dir)); // the replaced object's file is gone

        Assert.True(await store.UpdateObjectMetadataAsync("b", "dir/key", "tagged"u8.ToArray()));
        Assert.Equal("tagged", Encoding.UTF8.GetString((await store.GetObjectAsync("b", "dir/key"))!.Metadata));

        Assert.Equal(DeleteBucketOutcome.NotEmpty, await store.DeleteBucketAsync("b"));
        Assert.True(await store.DeleteObjectAsync("b", "dir/key"));
        Assert.False(await store.DeleteObjectAsync("b", "dir/key"));
        Assert.Null(await store.GetObjectAsync("b", "dir/key"));
        Assert.Empty(BlobFiles(dir));
        Assert.Equal(DeleteBucketOutcome.Deleted, await store.DeleteBucketAsync("b"));
        Assert.Equal(DeleteBucketOutcome.NoSuchBucket, await store.DeleteBucketAsync("b"));
        await Assert.ThrowsAsync<NoSuchBucketException>(async () => await store.GetObjectAsync("b", "dir/key"));
    }

    [Fact]
    public async Task EmptyObjectsAndIfAbsentCommits()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        await PutAsync(store, "b", "empty", []);
        Assert.Empty(await ReadAsync(store, "b", "empty"));
        Assert.Empty(BlobFiles(dir));

        await using var writer = await store.BeginObjectAsync("b");
        await writer.Content.WriteAsync("new"u8.ToArray());
        Assert.Null(await writer.CommitAsync("empty", ReadOnlyMemory<byte>.Empty, "x", Now, onlyIfAbsent: true));
        Assert.Equal(0, (await store.GetObjectAsync("b", "empty"))!.Size);
    }

    [Fact]
    public async Task SmallObjectsLiveInTheIndexLargerOnesInFiles()
    {
        using var dir = new TempDir();
        var small = RandomNumberGenerator.GetBytes(64 * 1024);
        var large = RandomNumberGenerator.GetBytes(64 * 1024 + 1);
        await using (var store = await OpenAsync(dir))
        {
            await store.CreateBucketAsync("b", "us-east-1", Now);
            await PutAsync(store, "b", "small", small);
            Assert.Empty(BlobFiles(dir));
            await PutAsync(store, "b", "large", large);
            Assert.Single(BlobFiles(dir));
            await PutAsync(store, "b", "large", small); // replaced by a small one: the file goes
            Assert.Empty(BlobFiles(dir));
        }

        await using (var store = await OpenAsync(dir))
        {
            Assert.Equal(small, await ReadAsync(store, "b", "small"));
            Assert.Equal(small.AsSpan(100, 1000).ToArray(), await ReadAsync(store, "b", "large", 100, 1000));
        }
    }

    [Fact]
    public async Task KeysNeverBecomePaths()
    {
        using var dir = new TempDir();
        await using (var store = await OpenAsync(dir))
        {
            await store.CreateBucketAsync("b", "us-east-1", Now);
            string[] keys = ["../../../../etc/passwd", "a/../../b", "/abs", "..", "nul\u0001ctl", new string('é', 512), "\U0001F600/x"];
            foreach (var key in keys)
            {
                await PutAsync(store, "b", key, Encoding.UTF8.GetBytes(key));
            }

            foreach (var key in keys)
            {
                Assert.Equal(Encoding.UTF8.GetBytes(key), await ReadAsync(store, "b", key));
            }
        }

        // Only the index and content files named by random ids exist, all under s3/.
        var all = Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories);
        Assert.All(all, f => Assert.StartsWith(Path.Combine(dir.Path, "s3") + Path.DirectorySeparatorChar, f, StringComparison.Ordinal));
        Assert.All(BlobFiles(dir), f => Assert.Matches("^[0-9a-f]{34}$", Path.GetFileName(f)));
    }

    [Fact]
    public async Task UncommittedWritesLeaveNothingAfterDisposeOrCrash()
    {
        using var dir = new TempDir();
        var kept = RandomNumberGenerator.GetBytes(100_000);
        await using (var store = await OpenAsync(dir))
        {
            await store.CreateBucketAsync("b", "us-east-1", Now);
            await PutAsync(store, "b", "kept", kept);
            var abandoned = await store.BeginObjectAsync("b");
            await abandoned.Content.WriteAsync(new byte[100_000]);
            await abandoned.DisposeAsync();
            Assert.Single(BlobFiles(dir));

            // A crash mid-write leaves a file no row names.
            Directory.CreateDirectory(Path.Combine(dir.Path, "s3", "blobs", "2026120604"));
            var orphan = Path.Combine(dir.Path, "s3", "blobs", "2026120604", "2026120604" + new string('0', 24));
            await File.WriteAllBytesAsync(orphan, new byte[123]);
        }

        await using (var store = await OpenAsync(dir))
        {
            Assert.Single(BlobFiles(dir));
            Assert.Equal(kept, await ReadAsync(store, "b", "kept"));
            Assert.Single((await store.ListObjectsAsync("b", new ListObjectsQuery(null, null, null, 1000))).Contents);
        }
    }

    [Fact]
    public async Task MultipartUploadsCompleteWithoutCopying()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        var id = await store.CreateMultipartUploadAsync("b", "big", "meta"u8.ToArray(), Now);
        Assert.Equal("big", (await store.GetMultipartUploadAsync("b", id))!.Key);
        var parts = Enumerable.Range(1, 4).Select(i => RandomNumberGenerator.GetBytes(70_000 + i)).ToArray();
        await PartAsync(store, "b", id, 3, parts[2]);
        await PartAsync(store, "b", id, 1, new byte[5]); // replaced below
        await PartAsync(store, "b", id, 2, parts[1]);
        await PartAsync(store, "b", id, 1, parts[0]);
        await PartAsync(store, "b", id, 4, parts[3]);
        var listed = await store.ListPartsAsync("b", id);
        Assert.Equal([1, 2, 3, 4], listed.Select(p => p.PartNumber));
        Assert.Equal(parts[0].Length, listed[0].Size);
        Assert.Equal([3, 4], (await store.ListPartsAsync("b", id, partNumberMarker: 2)).Select(p => p.PartNumber));
        Assert.Equal(DeleteBucketOutcome.NotEmpty, await store.DeleteBucketAsync("b"));

        var record = await store.CompleteMultipartUploadAsync("b", id, [1, 2, 3], "done"u8.ToArray(), "etag-3", Now);
        Assert.Equal(3, record.PartCount);
        var whole = parts[0].Concat(parts[1]).Concat(parts[2]).ToArray();
        Assert.Equal(whole, await ReadAsync(store, "b", "big"));
        // A range across part boundaries.
        Assert.Equal(whole.AsSpan(69_000, 3_000).ToArray(), await ReadAsync(store, "b", "big", 69_000, 3_000));
        Assert.Equal(3, BlobFiles(dir).Length); // part 4 was not used and is gone
        Assert.Null(await store.GetMultipartUploadAsync("b", id));
        Assert.False(await store.AbortMultipartUploadAsync("b", id));
        await Assert.ThrowsAsync<NoSuchUploadException>(async () => await store.BeginPartAsync("b", id, 1));
    }

    [Fact]
    public async Task AbortedUploadsAndUploadListing()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        var a1 = await store.CreateMultipartUploadAsync("b", "a", ReadOnlyMemory<byte>.Empty, Now);
        var a2 = await store.CreateMultipartUploadAsync("b", "a", ReadOnlyMemory<byte>.Empty, Now.AddSeconds(1));
        var c = await store.CreateMultipartUploadAsync("b", "c", ReadOnlyMemory<byte>.Empty, Now);
        await PartAsync(store, "b", a1, 1, new byte[100]);
        Assert.Equal([a1, a2, c], (await store.ListMultipartUploadsAsync("b", null, null, null, 100)).Select(u => u.UploadId));
        Assert.Equal([a2, c], (await store.ListMultipartUploadsAsync("b", null, "a", a1, 100)).Select(u => u.UploadId));
        Assert.Equal([c], (await store.ListMultipartUploadsAsync("b", null, "a", null, 100)).Select(u => u.UploadId));
        Assert.Equal([c], (await store.ListMultipartUploadsAsync("b", "c", null, null, 100)).Select(u => u.UploadId));
        Assert.True(await store.AbortMultipartUploadAsync("b", a1));
        Assert.Empty(BlobFiles(dir));
    }

    [Fact]
    public async Task AReaderSurvivesAConcurrentDeleteAndOverwrite()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        var data = RandomNumberGenerator.GetBytes(200_000);
        await PutAsync(store, "b", "k", data);
        await using var reader = (await store.OpenObjectAsync("b", "k"))!;
        await PutAsync(store, "b", "k", "other"u8.ToArray());
        await store.DeleteObjectAsync("b", "k");
        using var output = new MemoryStream();
        await reader.CopyToAsync(output, 0, data.Length);
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public async Task BucketsAndSettingsSurviveReopen()
    {
        using var dir = new TempDir();
        await using (var store = await OpenAsync(dir))
        {
            await store.CreateBucketAsync("zeta", "eu-west-1", Now);
            await store.CreateBucketAsync("alpha", "us-east-1", Now);
            await store.SetBucketConfigAsync("alpha", "tagging", "<Tagging/>"u8.ToArray());
            await store.SetBucketConfigAsync("alpha", "notification", "n"u8.ToArray());
            await store.SetBucketConfigAsync("alpha", "notification", null);
        }

        await using (var store = await OpenAsync(dir))
        {
            Assert.Equal(["alpha", "zeta"], (await store.ListBucketsAsync()).Select(b => b.Name));
            Assert.Equal("eu-west-1", (await store.GetBucketAsync("zeta"))!.Region);
            Assert.Equal("<Tagging/>"u8.ToArray(), await store.GetBucketConfigAsync("alpha", "tagging"));
            Assert.Null(await store.GetBucketConfigAsync("alpha", "notification"));
            await Assert.ThrowsAsync<NoSuchBucketException>(async () => await store.GetBucketConfigAsync("nope", "tagging"));
        }
    }

    [Fact]
    public async Task ConcurrentWritersAllLand()
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        var tasks = Enumerable.Range(0, 64).Select(i => Task.Run(() => PutAsync(store, "b", $"k{i:D3}", Encoding.UTF8.GetBytes($"value {i}"))));
        await Task.WhenAll(tasks);
        var page = await store.ListObjectsAsync("b", new ListObjectsQuery(null, null, null, 1000));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"k{i:D3}"), page.Contents.Select(c => c.Key));
    }

    private static readonly string[] Alphabet = ["a", "b", "/", "-", "é", "Z", "\U0001F600", "\u00FF", "0"];

    /// <summary>
    /// Listing pages, followed by NextMarker to the end, return exactly what S3's rules give over a naive model:
    /// UTF-8 binary order, prefix filter, delimiter roll-up into common prefixes, Contents + CommonPrefixes ≤ MaxKeys.
    /// </summary>
    [Property(MaxTest = 40)]
    public void ListingPagesMatchTheModel(int[] keySeeds, int prefixSeed, bool useDelimiter, PositiveInt pageSize)
    {
        Task.Run(() => CheckListing(keySeeds ?? [], prefixSeed, useDelimiter, 1 + (pageSize.Get % 7))).GetAwaiter().GetResult();
    }

    private static string KeyOf(int seed)
    {
        var builder = new StringBuilder();
        uint u = (uint)seed;
        int length = 1 + (int)(u % 6);
        for (int i = 0; i < length; i++)
        {
            builder.Append(Alphabet[(int)((u / 7 + (uint)i * 2654435761u) >> 3) % Alphabet.Length]);
            u = u * 1103515245u + 12345u;
        }

        return builder.ToString();
    }

    private static async Task CheckListing(int[] keySeeds, int prefixSeed, bool useDelimiter, int pageSize)
    {
        using var dir = new TempDir();
        await using var store = await OpenAsync(dir);
        await store.CreateBucketAsync("b", "us-east-1", Now);
        var keys = keySeeds.Take(30).Select(KeyOf).Distinct().ToList();
        foreach (var key in keys)
        {
            await PutAsync(store, "b", key, []);
        }

        var prefix = prefixSeed % 3 == 0 ? "" : KeyOf(prefixSeed)[..1];
        var delimiter = useDelimiter ? "/" : null;
        var expected = new List<string>();
        foreach (var key in keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(k => Encoding.UTF8.GetBytes(k), ByteOrder.Instance))
        {
            int at = delimiter is null ? -1 : key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
            var entry = at < 0 ? key : "P:" + key[..(at + 1)];
            if (!expected.Contains(entry))
            {
                expected.Add(entry);
            }
        }

        var got = new List<string>();
        string? marker = null;
        for (int page = 0; page < 100; page++)
        {
            var result = await store.ListObjectsAsync("b", new ListObjectsQuery(prefix, delimiter, marker, pageSize));
            Assert.True(result.Contents.Count + result.CommonPrefixes.Count <= pageSize);
            var entries = result.Contents.Select(c => c.Key).Concat(result.CommonPrefixes.Select(p => "P:" + p))
                .OrderBy(e => Encoding.UTF8.GetBytes(e.StartsWith("P:", StringComparison.Ordinal) ? e[2..] : e), ByteOrder.Instance);
            got.AddRange(entries);
            if (!result.IsTruncated)
            {
                break;
            }

            Assert.NotNull(result.NextMarker);
            marker = result.NextMarker;
        }

        Assert.Equal(expected, got);
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
