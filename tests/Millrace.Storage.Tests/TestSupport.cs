using System.Text;

namespace Millrace.Storage.Tests;

/// <summary>A temporary data directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "millrace-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string LogDir => System.IO.Path.Combine(Path, "log");

    public string[] Segments() => [.. Directory.GetFiles(LogDir, "*.seg").Order(StringComparer.Ordinal)];

    public string[] IndexFiles() => [.. Directory.GetFiles(LogDir, "*.idx").Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A clock the test moves by hand. Timers still use real time (the retention loop is driven directly).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public ManualClock()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public long NowMs => GetUtcNow().ToUnixTimeMilliseconds();

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

internal static class Helpers
{
    public static EmbeddedStoreOptions Options(TempDir dir, TimeProvider? clock = null, long segmentSize = 128L * 1024 * 1024) => new()
    {
        DataDirectory = dir.Path,
        Clock = clock ?? TimeProvider.System,
        SegmentSizeBytes = segmentSize,
        RetentionCheckInterval = TimeSpan.FromHours(1),
    };

    public static Task<EmbeddedStreamStore> Open(TempDir dir, TimeProvider? clock = null, long segmentSize = 128L * 1024 * 1024) =>
        EmbeddedStreamStore.OpenAsync(Options(dir, clock, segmentSize));

    public static StreamDescription NewStream(string name, int shards, long nowMs = 0, int retentionHours = 24) => new()
    {
        StreamName = name,
        Status = "ACTIVE",
        StreamMode = "PROVISIONED",
        CreatedAtMs = nowMs,
        RetentionPeriodHours = retentionHours,
        NextShardIndex = shards,
        Shards = [.. Enumerable.Range(0, shards).Select(i => new ShardDescription
        {
            ShardIndex = i,
            StartingHashKey = "0",
            EndingHashKey = "1",
            StartingPosition = 0,
        })],
    };

    /// <summary>Creates a stream in the catalog and opens its shards in the log.</summary>
    public static async Task<long> CreateStream(IStreamStore store, string name, int shards, int retentionHours = 24, ulong startingPosition = 0)
    {
        var d = await store.Catalog.CreateAsync(NewStream(name, shards, 0, retentionHours));
        for (int i = 0; i < shards; i++)
        {
            await store.Records.OpenShardAsync(new ShardKey(d.StreamId, i), startingPosition);
        }
        return d.StreamId;
    }

    public static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    public static string Str(ReadOnlyMemory<byte> m) => Encoding.UTF8.GetString(m.Span);

    public static async Task<AppendedRecord[]> Append(IStreamStore store, long streamId, params (int Shard, string Data)[] records)
    {
        var entries = records.Select(r => new AppendEntry(r.Shard, Bytes("pk-" + r.Data), Bytes(r.Data))).ToArray();
        var results = new AppendedRecord[entries.Length];
        await store.Records.AppendAsync(streamId, entries, results);
        return results;
    }

    public static async Task<List<StoredRecord>> ReadAll(IStreamStore store, ShardKey shard, long notBeforeMs = 0, ulong from = 0)
    {
        var all = new List<StoredRecord>();
        while (true)
        {
            var r = await store.Records.ReadAsync(shard, from, 7, 1 << 20, notBeforeMs);
            all.AddRange(r.Records);
            if (r.Records.Count == 0)
            {
                return all;
            }
            from = r.NextPosition;
        }
    }
}
