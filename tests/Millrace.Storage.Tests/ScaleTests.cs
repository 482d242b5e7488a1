using static Millrace.Storage.Tests.Helpers;

namespace Millrace.Storage.Tests;

public sealed class ScaleTests
{
    /// <summary>10,000 shards on one node: opens share fsyncs, one append call spans every shard, segment rolls carry a
    /// snapshot of all shard states, and a restart restores each shard's last position.</summary>
    [Fact]
    public async Task TenThousandShards()
    {
        const int Shards = 10_000;
        using var dir = new TempDir();
        long id;
        var last = new ulong[Shards];
        await using (var store = await Open(dir, segmentSize: 256 * 1024))
        {
            var d = await store.Catalog.CreateAsync(NewStream("big", Shards));
            id = d.StreamId;
            var opens = new Task[Shards];
            for (int i = 0; i < Shards; i++)
            {
                opens[i] = store.Records.OpenShardAsync(new ShardKey(id, i), 0).AsTask();
            }
            await Task.WhenAll(opens);
            Assert.True(store.Log.FsyncCount < Shards / 10);

            for (int round = 0; round < 3; round++)
            {
                var entries = Enumerable.Range(0, Shards)
                    .Select(i => new AppendEntry(i, Bytes("k"), Bytes($"{round}:{i}")))
                    .ToArray();
                var results = new AppendedRecord[Shards];
                await store.Records.AppendAsync(id, entries, results);
                for (int i = 0; i < Shards; i++)
                {
                    last[i] = results[i].Position;
                }
            }
            await store.Records.SealShardAsync(new ShardKey(id, 42));
        }
        Assert.True(dir.Segments().Length > 1);
        await using (var store = await Open(dir, segmentSize: 256 * 1024))
        {
            for (int i = 0; i < Shards; i += 997)
            {
                var pos = await store.Records.GetPositionsAsync(new ShardKey(id, i), 0);
                Assert.Equal(last[i], pos.LastPosition);
                var recs = await ReadAll(store, new ShardKey(id, i));
                Assert.Equal(["0:" + i, "1:" + i, "2:" + i], recs.Select(r => Str(r.Data)));
            }
            Assert.True((await store.Records.GetPositionsAsync(new ShardKey(id, 42), 0)).Sealed);
            Assert.False((await store.Records.GetPositionsAsync(new ShardKey(id, 43), 0)).Sealed);
        }
    }

    [Fact]
    public async Task StreamsOutsideTheCatalogAreRejected()
    {
        using var dir = new TempDir();
        await using var store = await Open(dir);
        await Assert.ThrowsAsync<ShardUnavailableException>(() => store.Records.OpenShardAsync(new ShardKey(77, 0), 0).AsTask());
        await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, 77, (0, "x")));
        long id = await CreateStream(store, "s", 1);
        await store.Catalog.DeleteAsync(id);
        await Assert.ThrowsAsync<ShardUnavailableException>(() => Append(store, id, (0, "x")));
    }
}
