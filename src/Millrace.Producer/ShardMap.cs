using Millrace.Aggregation;
using Millrace.Client;

namespace Millrace.Producer;

/// <summary>The open shards of a stream by hash range (from ListShards), to predict the shard of a hash key.</summary>
internal sealed class ShardMap
{
    private readonly UInt128[] _starts;
    private readonly UInt128[] _ends;
    private readonly string[] _shardIds;
    private readonly Dictionary<string, int> _byId;

    private ShardMap(List<(UInt128 Start, UInt128 End, string Id)> shards)
    {
        shards.Sort((a, b) => a.Start.CompareTo(b.Start));
        _starts = [.. shards.Select(s => s.Start)];
        _ends = [.. shards.Select(s => s.End)];
        _shardIds = [.. shards.Select(s => s.Id)];
        _byId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _shardIds.Length; i++)
        {
            _byId[_shardIds[i]] = i;
        }
    }

    public int Count => _shardIds.Length;

    public IReadOnlyList<string> ShardIds => _shardIds;

    /// <summary>Open shards only: a closed parent no longer takes writes.</summary>
    public static ShardMap FromShards(IEnumerable<Shard> shards)
    {
        var open = new List<(UInt128, UInt128, string)>();
        foreach (var s in shards)
        {
            if (s.SequenceNumberRange?.EndingSequenceNumber is not null || s.HashKeyRange is null || s.ShardId is null)
            {
                continue;
            }

            open.Add((KplHashKey.Parse(s.HashKeyRange.StartingHashKey!), KplHashKey.Parse(s.HashKeyRange.EndingHashKey!), s.ShardId));
        }

        return new ShardMap(open);
    }

    /// <summary>The shard whose range holds the hash key, or null when none does (a map caught mid-reshard).</summary>
    public string? Predict(UInt128 hashKey)
    {
        int lo = 0, hi = _starts.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_starts[mid] > hashKey)
            {
                hi = mid - 1;
            }
            else if (_ends[mid] < hashKey)
            {
                lo = mid + 1;
            }
            else
            {
                return _shardIds[mid];
            }
        }

        return null;
    }

    public bool Contains(string shardId) => _byId.ContainsKey(shardId);

    /// <summary>True when the shard is in the map and its range holds the key; null when the shard is unknown.</summary>
    public bool? InRange(string shardId, UInt128 hashKey) =>
        _byId.TryGetValue(shardId, out int i) ? hashKey >= _starts[i] && hashKey <= _ends[i] : null;
}
