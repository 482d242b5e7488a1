using System.Numerics;
using FsCheck.Xunit;
using Millrace.Server.Hosting;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.Resharding.ReshardingSupport;

namespace Millrace.Server.Tests.Resharding;

/// <summary>
/// For any sequence of SplitShard, MergeShards and UpdateShardCount calls, each racing a PutRecords batch, against a
/// real in-process server: after every step the open shards tile 0..2^128-1 exactly, and at the end every
/// acknowledged record is read exactly once, from the shard it was acknowledged on, whose range holds its hash key.
/// </summary>
public sealed class ReshardingPropertyTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "millrace-reshard-prop-" + Guid.NewGuid().ToString("N"));
    private MillraceHost? _host;
    private KinesisJsonClient? _client;
    private int _case;

    public async Task InitializeAsync()
    {
        _host = await MillraceHost.StartAsync(new MillraceServerOptions { Port = 0, DataDirectory = _dataDirectory, ShardLimit = 0 });
        _client = new KinesisJsonClient(_host.Endpoint.ToString());
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Property(MaxTest = 25)]
    public void OpenShardsTileTheKeySpaceAndEveryAcknowledgedRecordIsReadOnce(int[] ops)
    {
        Task.Run(() => RunAsync(ops ?? [])).GetAwaiter().GetResult();
    }

    private async Task RunAsync(int[] ops)
    {
        var client = _client!;
        var name = $"prop-{Interlocked.Increment(ref _case)}";
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 + (ops.Length > 0 ? (int)((uint)ops[0] % 4) : 0) });
        var acked = new List<Acked>();
        int scalings = 0;
        int written = 0;
        foreach (uint u in ops.Take(12).Select(o => (uint)o))
        {
            var open = (await ListShardsAsync(client, name, new { Type = "AT_LATEST" })).Select(s => s!).OrderBy(s => Range(s).Start).ToList();
            int n = open.Count;
            var records = Enumerable.Range(0, 8).Select(i => (Key(u, i), $"{name}-{written++}")).ToList();
            var writes = PutAsync(client, name, records);
            Task change = Task.CompletedTask;
            switch (u % 4)
            {
                case 0:
                    var shard = open[(int)((u >> 2) % (uint)n)];
                    var (start, end) = Range(shard);
                    if (end - start >= 4)
                    {
                        var key = start + 2 + ((end - start - 3) * ((u >> 8) % 1000) / 1000);
                        change = client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = shard["ShardId"]!.GetValue<string>(), NewStartingHashKey = key.ToString() });
                    }

                    break;
                case 1 when n >= 2:
                    int i = (int)((u >> 2) % (uint)(n - 1));
                    var (a, b) = (u & 0x100) == 0 ? (open[i], open[i + 1]) : (open[i + 1], open[i]);
                    change = client.OkAsync("MergeShards", new { StreamName = name, ShardToMerge = a["ShardId"]!.GetValue<string>(), AdjacentShardToMerge = b["ShardId"]!.GetValue<string>() });
                    break;
                case 2 when scalings < 10:
                    scalings++;
                    int lo = (n + 1) / 2, hi = Math.Min(2 * n, Math.Max(lo, 16));
                    int target = lo + (int)((u >> 2) % (uint)(hi - lo + 1));
                    change = client.OkAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = target, ScalingType = "UNIFORM_SCALING" });
                    break;
            }

            await Task.WhenAll(writes, change);
            acked.AddRange(await writes);

            var listed = await ListShardsAsync(client, name);
            var latest = await ListShardsAsync(client, name, new { Type = "AT_LATEST" });
            AssertTiles(latest.Select(s => s!));
            Assert.Equal(Ids(latest), listed.Where(s => IsOpen(s!)).Select(s => s!["ShardId"]!.GetValue<string>()));
        }

        await ReshardingTests.AssertEveryRecordOnceAsync(client, name, acked);
        var ranges = (await ListShardsAsync(client, name)).ToDictionary(s => s!["ShardId"]!.GetValue<string>(), s => Range(s!));
        foreach (var a in acked)
        {
            var (start, end) = ranges[a.ShardId];
            Assert.True(start <= a.HashKey && a.HashKey <= end, $"{a.Data} with key {a.HashKey} went to {a.ShardId} [{start}, {end}]");
        }

        await client.OkAsync("DeleteStream", new { StreamName = name });
    }

    /// <summary>A hash key per (case step, entry): the two ends of the key space, then pseudo-random ones.</summary>
    private static BigInteger Key(uint u, int i)
    {
        if (i < 2)
        {
            return i == 0 ? BigInteger.Zero : TwoTo128 - 1;
        }

        var bytes = new byte[17];
        new Random(unchecked((int)((u * 31) + (uint)i))).NextBytes(bytes.AsSpan(0, 16));
        return new BigInteger(bytes);
    }
}
