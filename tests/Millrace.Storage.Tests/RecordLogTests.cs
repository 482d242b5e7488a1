using Millrace.Storage.Embedded;
using static Millrace.Storage.Tests.Helpers;

namespace Millrace.Storage.Tests;

public sealed class RecordLogTests
{
    [Fact]
    public async Task AppendThenReadBackInOrder()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        long id = await CreateStream(store, "s", 2);
        var results = await Append(store, id, (0, "a"), (1, "b"), (0, "c"), (0, "d"), (1, "e"));
        var more = await Append(store, id, (0, "f"));

        Assert.True(results[0].Position < results[2].Position && results[2].Position < results[3].Position);
        Assert.Equal(results[0].Position + 1, results[2].Position); // consecutive inside one block
        Assert.True(more[0].Position > results[3].Position);

        var shard0 = await ReadAll(store, new ShardKey(id, 0));
        Assert.Equal(["a", "c", "d", "f"], shard0.Select(r => Str(r.Data)));
        Assert.Equal(["pk-a", "pk-c", "pk-d", "pk-f"], shard0.Select(r => Str(r.PartitionKey)));
        Assert.Equal([results[0].Position, results[2].Position, results[3].Position, more[0].Position], shard0.Select(r => r.Position));
        var shard1 = await ReadAll(store, new ShardKey(id, 1));
        Assert.Equal(["b", "e"], shard1.Select(r => Str(r.Data)));

        var read = await store.Records.ReadAsync(new ShardKey(id, 0), results[2].Position, 2, 1 << 20, 0);
        Assert.Equal(["c", "d"], read.Records.Select(r => Str(r.Data)));
        Assert.Equal(results[3].Position + 1, read.NextPosition);
        Assert.Equal(more[0].Position + 1, read.TipPosition);
        Assert.False(read.ShardEnded);

        var pos = await store.Records.GetPositionsAsync(new ShardKey(id, 0), 0);
        Assert.Equal(results[0].Position, pos.TrimHorizon);
        Assert.Equal(more[0].Position, pos.LastPosition);
        Assert.Equal(more[0].Position + 1, pos.TipPosition);
    }

    [Fact]
    public async Task PositionsFollowArrivalTimeAndStartingPosition()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        await using var store = await Open(dir, clock);
        var d = await store.Catalog.CreateAsync(NewStream("s", 2));
        ulong start = ((ulong)clock.NowMs << 20) + 5_000_000;
        await store.Records.OpenShardAsync(new ShardKey(d.StreamId, 0), 0);
        await store.Records.OpenShardAsync(new ShardKey(d.StreamId, 1), start);
        var r = await Append(store, d.StreamId, (0, "x"), (1, "y"));
        Assert.Equal((ulong)clock.NowMs << 20, r[0].Position);
        Assert.Equal(clock.NowMs, r[0].ArrivalMs);
        Assert.Equal(start + 1, r[1].Position);

        var empty = await store.Records.GetPositionsAsync(new ShardKey(d.StreamId, 1), 0);
        Assert.Equal(start + 1, empty.TrimHorizon);

        clock.Advance(TimeSpan.FromSeconds(-10)); // clock going backwards must not make arrival go backwards
        var r2 = await Append(store, d.StreamId, (0, "z"));
        Assert.Equal(r[0].ArrivalMs, r2[0].ArrivalMs);
        Assert.Equal(r[0].Position + 1, r2[0].Position);
    }

    [Fact]
    public async Task ConcurrentAppendsShareFsyncs()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        long id = await CreateStream(store, "s", 4);
        long before = store.Log.FsyncCount;
        const int Appends = 400;
        var tasks = new List<Task<AppendedRecord[]>>();
        for (int i = 0; i < Appends; i++)
        {
            int n = i;
            tasks.Add(Task.Run(() => Append(store, id, (n % 4, $"r{n}"), ((n + 1) % 4, $"q{n}"))));
        }
        await Task.WhenAll(tasks);
        long fsyncs = store.Log.FsyncCount - before;
        Assert.True(fsyncs < Appends, $"{fsyncs} fsyncs for {Appends} appends");

        int total = 0;
        for (int s = 0; s < 4; s++)
        {
            var recs = await ReadAll(store, new ShardKey(id, s));
            total += recs.Count;
            for (int i = 1; i < recs.Count; i++)
            {
                Assert.True(recs[i].Position > recs[i - 1].Position);
            }
        }
        Assert.Equal(Appends * 2, total);
    }

    [Fact]
    public async Task AppendToUnknownOrSealedShardFailsWholeCall()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        long id = await CreateStream(store, "s", 2);
        await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, id, (0, "a"), (5, "b")));
        Assert.Empty(await ReadAll(store, new ShardKey(id, 0)));

        var a = await Append(store, id, (0, "a"));
        ulong? last = await store.Records.SealShardAsync(new ShardKey(id, 0));
        Assert.Equal(a[0].Position, last);
        Assert.Equal(last, await store.Records.SealShardAsync(new ShardKey(id, 0))); // idempotent
        var ex = await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, id, (1, "x"), (0, "b")));
        Assert.Equal(new ShardKey(id, 0), ex.Shard);
        Assert.Empty(await ReadAll(store, new ShardKey(id, 1)));
        Assert.Null(await store.Records.SealShardAsync(new ShardKey(id, 1)));

        var read = await store.Records.ReadAsync(new ShardKey(id, 0), 0, 10, 1 << 20, 0);
        Assert.Single(read.Records);
        Assert.True(read.ShardEnded);
        Assert.True((await store.Records.GetPositionsAsync(new ShardKey(id, 0), 0)).Sealed);
        await store.Records.WaitForDataAsync(new ShardKey(id, 0), ulong.MaxValue, CancellationToken.None); // sealed: returns
    }

    [Fact]
    public async Task SealSurvivesRestart()
    {
        using var dir = new TempDir();
        long id;
        ulong last;
        await using (var store = await Open(dir))
        {
            id = await CreateStream(store, "s", 2);
            last = (await Append(store, id, (0, "a")))[0].Position;
            await store.Records.SealShardAsync(new ShardKey(id, 0));
        }
        await using (var store = await Open(dir))
        {
            var pos = await store.Records.GetPositionsAsync(new ShardKey(id, 0), 0);
            Assert.True(pos.Sealed);
            Assert.Equal(last, pos.LastPosition);
            Assert.False((await store.Records.GetPositionsAsync(new ShardKey(id, 1), 0)).Sealed);
            await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, id, (0, "b")));
        }
    }

    [Fact]
    public async Task WaitForDataWakesOnAppendAndHonoursCancellation()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        long id = await CreateStream(store, "s", 1);
        var shard = new ShardKey(id, 0);
        var tip = (await store.Records.GetPositionsAsync(shard, 0)).TipPosition;

        using (var cts = new CancellationTokenSource())
        {
            var cancelled = store.Records.WaitForDataAsync(shard, tip, cts.Token).AsTask();
            Assert.False(cancelled.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        }

        var waiting = store.Records.WaitForDataAsync(shard, tip, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        await Append(store, id, (0, "a"));
        await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(waiting.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task RestartRecoversAndContinuesAbovePositions()
    {
        using var dir = new TempDir();
        long id;
        AppendedRecord[] first;
        await using (var store = await Open(dir))
        {
            id = await CreateStream(store, "s", 3);
            first = await Append(store, id, (0, "a"), (1, "b"), (2, "c"), (0, "d"));
        }
        await using (var store = await Open(dir))
        {
            Assert.Equal(["a", "d"], (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
            Assert.Equal(["b"], (await ReadAll(store, new ShardKey(id, 1))).Select(r => Str(r.Data)));
            var next = await Append(store, id, (0, "e"));
            Assert.True(next[0].Position > first[3].Position);
            Assert.Equal(0, store.Log.TruncatedBytes);
        }
    }

    [Fact]
    public async Task SecondOpenOfSameDirectoryFails()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        await Assert.ThrowsAsync<IOException>(() => Open(dir));
    }

    [Fact]
    public async Task TornTailIsCutAndEarlierBlocksSurvive()
    {
        using var template = new TempDir();
        long id;
        var boundaries = new List<long>(); // segment length after each acknowledged single-record append
        await using (var store = await Open(template))
        {
            id = await CreateStream(store, "s", 1);
            string seg = template.Segments().Single();
            boundaries.Add(new FileInfo(seg).Length);
            for (int i = 0; i < 12; i++)
            {
                await Append(store, id, (0, $"record-{i}-" + new string('x', i * 37)));
                boundaries.Add(new FileInfo(seg).Length);
            }
        }

        var rng = new Random(1234);
        var cuts = new List<long> { boundaries[^1] - 1, boundaries[0] + 1, boundaries[5], boundaries[5] + 3 };
        for (int i = 0; i < 8; i++)
        {
            cuts.Add(rng.NextInt64(boundaries[0], boundaries[^1]));
        }
        foreach (long cut in cuts)
        {
            using var dir = new TempDir();
            CopyDirectory(template.Path, dir.Path);
            string seg = dir.Segments().Single();
            using (var fs = new FileStream(seg, FileMode.Open))
            {
                fs.SetLength(cut);
            }
            int expected = boundaries.Count(b => b <= cut) - 1;
            await using var store = await Open(dir);
            var recs = await ReadAll(store, new ShardKey(id, 0));
            Assert.Equal(expected, recs.Count);
            Assert.Equal(boundaries[expected], new FileInfo(seg).Length);
            // Still appendable after the cut, above every surviving position.
            var next = await Append(store, id, (0, "after"));
            Assert.True(recs.Count == 0 || next[0].Position > recs[^1].Position);
        }

        using (var dir = new TempDir())
        {
            CopyDirectory(template.Path, dir.Path);
            string seg = dir.Segments().Single();
            using (var fs = new FileStream(seg, FileMode.Append))
            {
                fs.Write(new byte[] { 200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7 });
                fs.Write(new byte[100]);
            }
            await using var store = await Open(dir);
            Assert.Equal(12, (await ReadAll(store, new ShardKey(id, 0))).Count);
            Assert.Equal(111, store.Log.TruncatedBytes);
        }
    }

    [Fact]
    public async Task CorruptByteInLastBlockIsDetectedByCrc()
    {
        using var dir = new TempDir();
        long id;
        long lastBlockStart;
        await using (var store = await Open(dir))
        {
            id = await CreateStream(store, "s", 1);
            await Append(store, id, (0, "one"));
            await Append(store, id, (0, "two"));
            lastBlockStart = new FileInfo(dir.Segments().Single()).Length;
            await Append(store, id, (0, "three-is-a-longer-record"));
        }
        string seg = dir.Segments().Single();
        long end = new FileInfo(seg).Length;
        using (var fs = new FileStream(seg, FileMode.Open))
        {
            long middle = lastBlockStart + ((end - lastBlockStart) / 2) + 5;
            fs.Position = middle;
            int b = fs.ReadByte();
            fs.Position = middle;
            fs.WriteByte((byte)(b ^ 0x5A));
        }
        await using (var store = await Open(dir))
        {
            Assert.Equal(["one", "two"], (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
            Assert.Equal(end - lastBlockStart, store.Log.TruncatedBytes);
        }
    }

    [Fact]
    public async Task SealedSegmentsGetIndexFilesThatAreUsedAndRebuilt()
    {
        using var dir = new TempDir();
        long id;
        var expected = new List<string>();
        await using (var store = await Open(dir, segmentSize: 4096))
        {
            id = await CreateStream(store, "s", 2);
            for (int i = 0; i < 60; i++)
            {
                expected.Add($"v{i}-" + new string('y', 100));
                await Append(store, id, (0, expected[^1]), (1, "other"));
            }
        }
        Assert.True(dir.Segments().Length > 3);
        Assert.Equal(dir.Segments().Length - 1, dir.IndexFiles().Length);

        await using (var store = await Open(dir, segmentSize: 4096))
        {
            Assert.Equal(0, store.Log.RebuiltIndexFiles);
            Assert.Equal(expected, (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
        }

        File.Delete(dir.IndexFiles()[0]);
        var second = dir.IndexFiles()[1];
        var bytes = File.ReadAllBytes(second);
        bytes[40] ^= 0xFF;
        File.WriteAllBytes(second, bytes);
        await using (var store = await Open(dir, segmentSize: 4096))
        {
            Assert.Equal(2, store.Log.RebuiltIndexFiles);
            Assert.Equal(expected, (await ReadAll(store, new ShardKey(id, 0))).Select(r => Str(r.Data)));
            Assert.Equal(60, (await ReadAll(store, new ShardKey(id, 1))).Count);
            var next = await Append(store, id, (0, "z"));
            Assert.True(next[0].Position > (await store.Records.GetPositionsAsync(new ShardKey(id, 1), 0)).LastPosition - (1UL << 40));
        }
        Assert.Equal(dir.Segments().Length - 1, dir.IndexFiles().Length);
    }

    [Fact]
    public async Task ReadByTimestamp()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        await using var store = await Open(dir, clock);
        long id = await CreateStream(store, "s", 1);
        var shard = new ShardKey(id, 0);
        long t0 = clock.NowMs;
        var a = await Append(store, id, (0, "a"), (0, "b"));
        clock.Advance(TimeSpan.FromSeconds(10));
        var c = await Append(store, id, (0, "c"));
        clock.Advance(TimeSpan.FromSeconds(10));
        var d = await Append(store, id, (0, "d"));

        Assert.Equal(a[0].Position, await store.Records.FindPositionByTimestampAsync(shard, t0 - 1000, 0));
        Assert.Equal(c[0].Position, await store.Records.FindPositionByTimestampAsync(shard, t0 + 1, 0));
        Assert.Equal(c[0].Position, await store.Records.FindPositionByTimestampAsync(shard, t0 + 10_000, 0));
        Assert.Equal(d[0].Position, await store.Records.FindPositionByTimestampAsync(shard, t0 + 15_000, 0));
        Assert.Equal(d[0].Position + 1, await store.Records.FindPositionByTimestampAsync(shard, t0 + 60_000, 0));
        // The retention cut-off wins over an older timestamp.
        Assert.Equal(d[0].Position, await store.Records.FindPositionByTimestampAsync(shard, t0, t0 + 20_000));
    }

    [Fact]
    public async Task RetentionHidesOldRecordsAndReclaimsSegments()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        await using var store = await Open(dir, clock, segmentSize: 4096);
        long id = await CreateStream(store, "s", 1, retentionHours: 24);
        var shard = new ShardKey(id, 0);
        for (int i = 0; i < 40; i++)
        {
            await Append(store, id, (0, $"old{i}" + new string('o', 200)));
        }
        int oldSegments = dir.Segments().Length;
        Assert.True(oldSegments > 2);

        clock.Advance(TimeSpan.FromHours(25));
        var fresh = new List<AppendedRecord>();
        for (int i = 0; i < 40; i++)
        {
            fresh.AddRange(await Append(store, id, (0, $"new{i}" + new string('n', 200))));
        }
        long cutoff = clock.NowMs - (24 * 3_600_000L);

        var pos = await store.Records.GetPositionsAsync(shard, cutoff);
        Assert.Equal(fresh[0].Position, pos.TrimHorizon);
        var visible = await ReadAll(store, shard, cutoff);
        Assert.Equal(40, visible.Count);
        Assert.All(visible, r => Assert.StartsWith("new", Str(r.Data)));
        var fromZero = await store.Records.ReadAsync(shard, 0, 5, 1 << 20, cutoff);
        Assert.Equal(fresh[0].Position, fromZero.Records[0].Position);

        int deleted = await store.Log.RunRetentionAsync();
        Assert.True(deleted >= oldSegments - 1, $"deleted {deleted} of {oldSegments}");
        Assert.True(dir.Segments().Length < oldSegments + 3);
        Assert.Equal(40, (await ReadAll(store, shard, cutoff)).Count);
        // Even without the cut-off, records of deleted segments are gone from the index.
        Assert.True((await ReadAll(store, shard, 0)).Count < 80);

        await store.DisposeAsync();
        await using var reopened = await Open(dir, clock, segmentSize: 4096);
        Assert.Equal(40, (await ReadAll(reopened, shard, cutoff)).Count);
        var next = await Append(reopened, id, (0, "later"));
        Assert.True(next[0].Position > fresh[^1].Position);
    }

    [Fact]
    public async Task DropStreamHidesRecordsAndFreesSpace()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        long keep, drop;
        await using (var store = await Open(dir, clock, segmentSize: 4096))
        {
            keep = await CreateStream(store, "keep", 1);
            await Append(store, keep, (0, "k"));
            drop = await CreateStream(store, "drop", 2);
            for (int i = 0; i < 60; i++)
            {
                await Append(store, drop, (i % 2, new string('d', 200)));
            }
            await Append(store, keep, (0, "k2"));
            int before = dir.Segments().Length;

            await store.Records.DropStreamAsync(drop);
            await Assert.ThrowsAsync<ShardUnavailableException>(() => store.Records.ReadAsync(new ShardKey(drop, 0), 0, 10, 1 << 20, 0).AsTask());
            await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, drop, (0, "x")));

            int deleted = await store.Log.RunRetentionAsync();
            Assert.True(deleted > 0);
            Assert.True(dir.Segments().Length < before);
            Assert.Equal(["k", "k2"], (await ReadAll(store, new ShardKey(keep, 0))).Select(r => Str(r.Data)));
        }
        await using (var store = await Open(dir, clock, segmentSize: 4096))
        {
            // Still listed in the catalog (the server deletes the description separately), but its records stay gone.
            Assert.NotNull(await store.Catalog.FindAsync("drop"));
            await Assert.ThrowsAsync<ShardUnavailableException>(() => store.Records.GetPositionsAsync(new ShardKey(drop, 1), 0).AsTask());
            Assert.Equal(["k", "k2"], (await ReadAll(store, new ShardKey(keep, 0))).Select(r => Str(r.Data)));
        }
    }

    [Fact]
    public async Task DroppedStreamIdIsForgottenOnceItsBlocksAreGone()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        await using var store = await Open(dir, clock, segmentSize: 4096);
        long gone = await CreateStream(store, "gone", 1);
        await Append(store, gone, (0, "x"));
        long keep = await CreateStream(store, "keep", 1);
        await store.Catalog.DeleteAsync(gone);
        await store.Records.DropStreamAsync(gone);
        string catalogPath = Path.Combine(dir.Path, "catalog.json");
        Assert.Contains($"\"droppedStreamIds\": [\n    {gone}", (await File.ReadAllTextAsync(catalogPath)).ReplaceLineEndings("\n"));

        for (int i = 0; i < 20; i++)
        {
            await Append(store, keep, (0, new string('o', 300)));
        }
        clock.Advance(TimeSpan.FromHours(25));
        for (int i = 0; i < 40; i++)
        {
            await Append(store, keep, (0, new string('k', 300)));
        }
        Assert.True(await store.Log.RunRetentionAsync() >= 1);
        Assert.Contains("\"droppedStreamIds\": []", await File.ReadAllTextAsync(catalogPath));
        Assert.Equal(40, (await ReadAll(store, new ShardKey(keep, 0), clock.NowMs - (24 * 3_600_000L))).Count);
    }

    [Fact]
    public async Task DeletedStreamIsIgnoredAfterRestartAndIdIsNotReused()
    {
        using var dir = new TempDir();
        long oldId;
        await using (var store = await Open(dir))
        {
            oldId = await CreateStream(store, "s", 1);
            await Append(store, oldId, (0, "old"));
            await store.Catalog.DeleteAsync(oldId);
        }
        await using (var store = await Open(dir))
        {
            await Assert.ThrowsAsync<ShardUnavailableException>(() => store.Records.GetPositionsAsync(new ShardKey(oldId, 0), 0).AsTask());
            long newId = await CreateStream(store, "s", 1);
            Assert.True(newId > oldId);
            Assert.Empty(await ReadAll(store, new ShardKey(newId, 0)));
        }
    }

    /// <summary>Copies the data directory while appends are running (an image of a crash at a random moment, torn
    /// blocks included) and checks that the copy recovers every record acknowledged before the copy started.</summary>
    [Fact]
    public async Task CrashImageTakenDuringAppendsRecoversAcknowledgedRecords()
    {
        using var dir = new TempDir();
        using var image = new TempDir();
        long id;
        var acked = new System.Collections.Concurrent.ConcurrentDictionary<string, ulong>();
        KeyValuePair<string, ulong>[] ackedBeforeCopy;
        await using (var store = await Open(dir, segmentSize: 64 * 1024))
        {
            id = await CreateStream(store, "s", 2);
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
            {
                for (int n = 0; !stop.IsCancellationRequested; n++)
                {
                    string data = $"t{t}-{n}-" + new string('w', n % 200);
                    var r = await Append(store, id, (n % 2, data));
                    acked[data] = r[0].Position;
                }
            })).ToArray();
            while (acked.Count < 500)
            {
                await Task.Delay(5);
            }
            ackedBeforeCopy = acked.ToArray(); // atomic snapshot of a ConcurrentDictionary
            CopyDirectory(dir.Path, image.Path);
            stop.Cancel();
            await Task.WhenAll(writers);
        }
        await using (var store = await Open(image, segmentSize: 64 * 1024))
        {
            var found = new Dictionary<string, ulong>();
            for (int s = 0; s < 2; s++)
            {
                var recs = await ReadAll(store, new ShardKey(id, s));
                for (int i = 1; i < recs.Count; i++)
                {
                    Assert.True(recs[i].Position > recs[i - 1].Position);
                }
                foreach (var r in recs)
                {
                    found.Add(Str(r.Data), r.Position); // throws on a duplicate
                }
            }
            foreach (var (data, position) in ackedBeforeCopy)
            {
                Assert.True(found.TryGetValue(data, out ulong p), $"lost acknowledged record {data}");
                Assert.Equal(position, p);
            }
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        }
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(file) != EmbeddedStreamStore.LockFileName)
            {
                File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
            }
        }
    }
}
