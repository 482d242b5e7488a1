using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Millrace.Storage.Embedded;
using static Millrace.Storage.Tests.Helpers;

namespace Millrace.Storage.Tests;

/// <summary>Keys held in memory, as the server's key store would hand them out.</summary>
internal sealed class TestKeys : IEncryptionKeyProvider
{
    public ConcurrentDictionary<string, byte[]> Keys { get; } = new(StringComparer.Ordinal);

    public string Add(string keyId)
    {
        Keys[keyId] = RandomNumberGenerator.GetBytes(32);
        return keyId;
    }

    public bool TryGetKey(string keyId, Span<byte> key)
    {
        if (!Keys.TryGetValue(keyId, out var bytes))
        {
            return false;
        }
        bytes.CopyTo(key);
        return true;
    }
}

public sealed class EncryptionTests
{
    private const string Marker = "PLAINTEXT-MARKER-7f3a";

    private static Task<EmbeddedStreamStore> OpenWithKeys(TempDir dir, TestKeys keys, long segmentSize = 128L * 1024 * 1024) =>
        EmbeddedStreamStore.OpenAsync(Options(dir, segmentSize: segmentSize) with { EncryptionKeys = keys });

    private static async Task<AppendedRecord[]> AppendEncrypted(IStreamStore store, long streamId, string? keyId, params (int Shard, string Data)[] records)
    {
        var entries = records.Select(r => new AppendEntry(r.Shard, Bytes("pk-" + r.Data), Bytes(r.Data))).ToArray();
        var results = new AppendedRecord[entries.Length];
        await store.Records.AppendAsync(streamId, entries, results, keyId);
        return results;
    }

    private static bool DirectoryContains(string root, string text)
    {
        byte[] needle = Encoding.UTF8.GetBytes(text);
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Any(f => File.ReadAllBytes(f).AsSpan().IndexOf(needle) >= 0);
    }

    [Fact]
    public async Task EncryptedRecordsRoundTripAndLeaveNoPlaintextOnDisk()
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("11111111-1111-1111-1111-111111111111");
        long id;
        await using (var store = await OpenWithKeys(dir, keys))
        {
            id = await CreateStream(store, "s", 2);
            await AppendEncrypted(store, id, null, (0, "plain-before"));
            await AppendEncrypted(store, id, k1, (0, Marker + "-a"), (1, Marker + "-b"), (0, Marker + "-c"));
            await AppendEncrypted(store, id, k1, (0, Marker + new string('z', 5000)));

            var shard0 = await ReadAll(store, new ShardKey(id, 0));
            Assert.Equal(["plain-before", Marker + "-a", Marker + "-c", Marker + new string('z', 5000)], shard0.Select(r => Str(r.Data)));
            Assert.Equal("pk-" + Marker + "-a", Str(shard0[1].PartitionKey));
            Assert.Equal([null, k1, k1, k1], shard0.Select(r => r.EncryptionKeyId));
            var shard1 = await ReadAll(store, new ShardKey(id, 1));
            Assert.Equal([Marker + "-b"], shard1.Select(r => Str(r.Data)));
        }

        Assert.False(DirectoryContains(dir.Path, Marker)); // neither data nor partition keys
        Assert.True(DirectoryContains(dir.Path, "plain-before")); // the control: unencrypted blocks are plaintext
    }

    [Fact]
    public async Task BlocksKeepTheirKeyAcrossKeyChangesAndRestarts()
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("key-one");
        string k2 = keys.Add("key-two");
        long id;
        await using (var store = await OpenWithKeys(dir, keys, segmentSize: 4096))
        {
            id = await CreateStream(store, "s", 1);
            for (int i = 0; i < 30; i++)
            {
                string? key = (i % 3) switch { 0 => k1, 1 => k2, _ => null };
                await AppendEncrypted(store, id, key, (0, $"r{i}-" + new string('x', 200)));
            }
        }
        Assert.True(dir.Segments().Length > 1); // sealed segments with .idx files as well as the active one

        foreach (var idx in dir.IndexFiles().Take(1))
        {
            File.Delete(idx); // forces a rebuild by scanning encrypted blocks
        }
        await using (var store = await OpenWithKeys(dir, keys, segmentSize: 4096))
        {
            var all = await ReadAll(store, new ShardKey(id, 0));
            Assert.Equal(30, all.Count);
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal($"r{i}-" + new string('x', 200), Str(all[i].Data));
                Assert.Equal((i % 3) switch { 0 => k1, 1 => k2, _ => null }, all[i].EncryptionKeyId);
            }
            var more = await AppendEncrypted(store, id, k1, (0, "after-restart"));
            Assert.True(more[0].Position > all[^1].Position);
        }
    }

    [Fact]
    public async Task WrongKeyFailsAuthentication()
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("k1");
        long id;
        await using (var store = await OpenWithKeys(dir, keys))
        {
            id = await CreateStream(store, "s", 1);
            await AppendEncrypted(store, id, k1, (0, "secret"));
        }
        keys.Keys[k1] = RandomNumberGenerator.GetBytes(32); // same id, different key material
        await using (var store = await OpenWithKeys(dir, keys))
        {
            var ex = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAll(store, new ShardKey(id, 0)));
            Assert.IsAssignableFrom<CryptographicException>(ex.InnerException);
        }
    }

    [Fact]
    public async Task MissingKeyRefusesAppendsAndReads()
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("k1");
        await using var store = await OpenWithKeys(dir, keys);
        long id = await CreateStream(store, "s", 1);
        var ex = await Assert.ThrowsAsync<EncryptionKeyUnavailableException>(() => AppendEncrypted(store, id, "nope", (0, "x")));
        Assert.Equal("nope", ex.KeyId);
        Assert.Empty(await ReadAll(store, new ShardKey(id, 0))); // nothing of the call was written

        await AppendEncrypted(store, id, k1, (0, "y"));
        keys.Keys.TryRemove(k1, out _);
        var readEx = await Assert.ThrowsAsync<EncryptionKeyUnavailableException>(() => ReadAll(store, new ShardKey(id, 0)));
        Assert.Equal(k1, readEx.KeyId);
    }

    [Fact]
    public async Task EncryptedAppendWithoutProviderFails()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        long id = await CreateStream(store, "s", 1);
        await Assert.ThrowsAsync<EncryptionKeyUnavailableException>(() => AppendEncrypted(store, id, "k", (0, "x")));
        await Assert.ThrowsAsync<ArgumentException>(() => AppendEncrypted(store, id, new string('k', 256), (0, "x")));
    }

    [Theory]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    [InlineData("nonce")]
    [InlineData("arrival")]
    public async Task TamperingWithACrcValidBlockIsDetected(string where)
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("k1");
        long id;
        long blockStart;
        await using (var store = await OpenWithKeys(dir, keys))
        {
            id = await CreateStream(store, "s", 1);
            blockStart = new FileInfo(dir.Segments().Single()).Length;
            await AppendEncrypted(store, id, k1, (0, "tamper-me-" + new string('q', 100)));
        }
        string seg = dir.Segments().Single();
        byte[] bytes = File.ReadAllBytes(seg);
        var block = bytes.AsSpan((int)blockStart);
        int length = BinaryPrimitives.ReadInt32LittleEndian(block);
        block = block[..length];
        int keyIdLength = block[LogFormat.BlockHeaderSize];
        int offset = where switch
        {
            "ciphertext" => LogFormat.BlockHeaderSize + 1 + keyIdLength + BlockCipher.NonceSize + 10,
            "tag" => length - 3,
            "nonce" => LogFormat.BlockHeaderSize + 1 + keyIdLength + 2,
            _ => 32, // arrivalMs in the header: associated data
        };
        block[offset] ^= 0x01;
        // Recompute the CRC so that only the cipher can notice.
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], Crc32C.Compute(block[8..]));
        File.WriteAllBytes(seg, bytes);

        await using (var store = await OpenWithKeys(dir, keys))
        {
            var ex = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAll(store, new ShardKey(id, 0)));
            Assert.IsAssignableFrom<CryptographicException>(ex.InnerException);
        }
    }

    [Fact]
    public async Task TornEncryptedTailIsCut()
    {
        using var dir = new TempDir();
        var keys = new TestKeys();
        string k1 = keys.Add("k1");
        long id;
        long goodLength;
        await using (var store = await OpenWithKeys(dir, keys))
        {
            id = await CreateStream(store, "s", 1);
            await AppendEncrypted(store, id, k1, (0, "kept"));
            goodLength = new FileInfo(dir.Segments().Single()).Length;
            await AppendEncrypted(store, id, k1, (0, "torn-" + new string('t', 300)));
        }
        string seg = dir.Segments().Single();
        using (var fs = new FileStream(seg, FileMode.Open))
        {
            fs.SetLength(fs.Length - 20); // cuts into the tag of the last block
        }
        await using (var store = await OpenWithKeys(dir, keys))
        {
            Assert.Equal(["kept"], (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
            Assert.Equal(goodLength, new FileInfo(seg).Length);
            await AppendEncrypted(store, id, k1, (0, "next"));
            Assert.Equal(["kept", "next"], (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
        }
    }
}
