using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Millrace.Kinesis;
using Millrace.Storage;

namespace Millrace.Bench.Micro;

/// <summary>The steps of a PutRecords call of 500 x 100-byte records: parse, route, append.</summary>
[MemoryDiagnoser]
public class PutRecordsBenchmarks
{
    private const int Records = 500;
    private byte[] _body = [];
    private string[] _partitionKeys = [];
    private OpenShardRange[] _open = [];
    private AppendEntry[] _entries = [];
    private AppendedRecord[] _results = [];
    private EmbeddedStreamStore? _store;
    private string _dir = "";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var data = Convert.ToBase64String(new byte[100]);
        var sb = new StringBuilder("""{"StreamName":"bench","Records":[""");
        for (int i = 0; i < Records; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append($$"""{"PartitionKey":"pk-{{i}}","Data":"{{data}}"}""");
        }

        _body = Encoding.UTF8.GetBytes(sb.Append("]}").ToString());
        _partitionKeys = [.. Enumerable.Range(0, Records).Select(i => $"pk-{i}")];
        _open = [.. Enumerable.Range(0, 4).Select(i => { var (s, e) = HashKeys.EvenRange(i, 4); return new OpenShardRange(i, s, e); })];

        _dir = Path.Combine(Path.GetTempPath(), "millrace-micro-" + Guid.NewGuid().ToString("N"));
        _store = await EmbeddedStreamStore.OpenAsync(new EmbeddedStoreOptions { DataDirectory = _dir });
        for (int i = 0; i < 4; i++)
        {
            await _store.Records.OpenShardAsync(new ShardKey(1, i), 0);
        }

        _entries = [.. Enumerable.Range(0, Records).Select(i => new AppendEntry(i % 4, Encoding.UTF8.GetBytes(_partitionKeys[i]), new byte[100]))];
        _results = new AppendedRecord[Records];
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>What PutRecords does today: a JsonDocument, then a byte[] per record's data.</summary>
    [Benchmark]
    public long ParseWithJsonDocument()
    {
        using var doc = JsonDocument.Parse(_body);
        long total = 0;
        foreach (var r in doc.RootElement.GetProperty("Records").EnumerateArray())
        {
            total += r.GetProperty("Data").GetBytesFromBase64().Length + r.GetProperty("PartitionKey").GetString()!.Length;
        }

        return total;
    }

    [Benchmark]
    public int Route()
    {
        int sum = 0;
        foreach (var pk in _partitionKeys)
        {
            sum += StreamService.RouteToShard(_open, HashKeys.FromPartitionKey(pk));
        }

        return sum;
    }

    /// <summary>One durable append of 500 records (includes the fsync).</summary>
    [Benchmark]
    public async Task<ulong> Append()
    {
        await _store!.Records.AppendAsync(1, _entries, _results);
        return _results[^1].Position;
    }
}
