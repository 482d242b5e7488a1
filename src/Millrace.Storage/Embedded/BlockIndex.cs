using System.Runtime.InteropServices;

namespace Millrace.Storage.Embedded;

/// <summary>Where one block of a shard lives: 40 bytes per block.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal readonly record struct BlockEntry(
    ulong FirstPosition,
    long ArrivalMs,
    long SegmentId,
    long Offset,
    int RecordCount,
    int Length)
{
    public ulong LastPosition => FirstPosition + (ulong)RecordCount - 1;
}

/// <summary>
/// Ordered list of a shard's record blocks (by position, hence also by arrival time and by segment id). A plain
/// array with a movable head, so that dropping expired blocks from the front is O(removed). Not thread-safe: the
/// owning <see cref="ShardState"/> guards it with its lock. Allocates nothing until the first block.
/// </summary>
internal sealed class BlockIndex
{
    private BlockEntry[] _items = [];
    private int _head;
    private int _count;

    public int Count => _count;

    public BlockEntry this[int i] => _items[_head + i];

    public void Add(in BlockEntry entry)
    {
        if (_head + _count == _items.Length)
        {
            if (_head > 0 && _head >= _items.Length / 2)
            {
                Array.Copy(_items, _head, _items, 0, _count);
                _head = 0;
            }
            else
            {
                var bigger = new BlockEntry[Math.Max(4, _items.Length * 2)];
                Array.Copy(_items, _head, bigger, 0, _count);
                _items = bigger;
                _head = 0;
            }
        }
        _items[_head + _count] = entry;
        _count++;
    }

    public void RemovePrefix(int n)
    {
        if (n <= 0)
        {
            return;
        }
        if (n >= _count)
        {
            Clear();
            return;
        }
        _head += n;
        _count -= n;
        if (_count < _items.Length / 4 && _items.Length > 64)
        {
            var smaller = new BlockEntry[Math.Max(4, _count * 2)];
            Array.Copy(_items, _head, smaller, 0, _count);
            _items = smaller;
            _head = 0;
        }
    }

    public void Clear()
    {
        _items = [];
        _head = 0;
        _count = 0;
    }

    /// <summary>Index of the first block whose last record has position &gt;= <paramref name="position"/>.</summary>
    public int FirstEndingAtOrAfter(ulong position)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid].LastPosition < position)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>Index of the first block with ArrivalMs &gt;= <paramref name="ms"/> (arrival is monotonic per shard).</summary>
    public int FirstArrivalAtOrAfter(long ms)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid].ArrivalMs < ms)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>Index of the first block in a segment with id greater than <paramref name="segmentId"/>.</summary>
    public int FirstInSegmentAfter(long segmentId)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid].SegmentId <= segmentId)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>Drops the entries of deleted segments. Blocks of one shard sit in non-decreasing segment order and
    /// its older blocks expire first, so everything up to the newest block in a deleted segment is dropped.</summary>
    public void RemoveDeletedSegments(HashSet<long> deleted, long maxDeleted)
    {
        int upper = FirstInSegmentAfter(maxDeleted);
        for (int i = upper - 1; i >= 0; i--)
        {
            if (deleted.Contains(this[i].SegmentId))
            {
                RemovePrefix(i + 1);
                return;
            }
        }
    }
}
