using FsCheck;
using FsCheck.Xunit;
using static Millrace.Storage.Tests.Helpers;

namespace Millrace.Storage.Tests;

public sealed class PropertyTests
{
    /// <summary>For random sequences of appends over three shards, with restarts (and occasionally a torn tail of
    /// garbage) in between, every acknowledged record reads back exactly once, in order, with increasing positions.</summary>
    [Property(MaxTest = 25)]
    public void AcknowledgedRecordsReadBackExactlyOnceInOrder(int[] ops, bool smallSegments)
    {
        Task.Run(() => Run(ops ?? [], smallSegments)).GetAwaiter().GetResult();
    }

    private static async Task Run(int[] ops, bool smallSegments)
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        long segmentSize = smallSegments ? 4096 : 1 << 20;
        var expected = new List<(ulong Position, string Data)>[3];
        for (int i = 0; i < 3; i++)
        {
            expected[i] = [];
        }
        var store = await Open(dir, clock, segmentSize);
        long id = await CreateStream(store, "p", 3);
        int seq = 0;
        try
        {
            foreach (int op in ops.Take(40))
            {
                uint u = (uint)op;
                switch (u % 8)
                {
                    case 0:
                        await store.DisposeAsync();
                        if (u % 16 == 8 && dir.Segments().Length > 0)
                        {
                            await File.AppendAllTextAsync(dir.Segments()[^1], "garbage tail");
                        }
                        store = await Open(dir, clock, segmentSize);
                        break;
                    case 1:
                        clock.Advance(TimeSpan.FromMilliseconds(u % 5000));
                        break;
                    default:
                        int count = (int)((u >> 3) % 6) + 1;
                        var recs = new (int Shard, string Data)[count];
                        for (int k = 0; k < count; k++)
                        {
                            recs[k] = ((int)((u >> (6 + k)) % 3), $"r{seq++}-" + new string('x', (int)(u >> 10) % 300));
                        }
                        var results = await Append(store, id, recs);
                        for (int k = 0; k < count; k++)
                        {
                            expected[recs[k].Shard].Add((results[k].Position, recs[k].Data));
                        }
                        break;
                }
            }
            await store.DisposeAsync();
            store = await Open(dir, clock, segmentSize);
            for (int s = 0; s < 3; s++)
            {
                var actual = await ReadAll(store, new ShardKey(id, s));
                Assert.Equal(expected[s].Select(e => e.Position), actual.Select(r => r.Position));
                Assert.Equal(expected[s].Select(e => e.Data), actual.Select(r => Str(r.Data)));
                for (int i = 1; i < actual.Count; i++)
                {
                    Assert.True(actual[i].Position > actual[i - 1].Position);
                }
            }
        }
        finally
        {
            await store.DisposeAsync();
        }
    }
}
