using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;

namespace Millrace.Aggregation;

/// <summary>What goes to PutRecords for one aggregate: the envelope's keys and data, and how many user records it holds.</summary>
public readonly record struct AggregatedEnvelope(string PartitionKey, string? ExplicitHashKey, byte[] Data, int UserRecordCount);

/// <summary>
/// Accumulates user records into one KPL aggregated record (<c>kinesis_record.cc</c>): partition keys and explicit
/// hash keys are stored once each in the key tables, records point into them by index. The caller decides which
/// records belong together (the KPL only combines records predicted for the same shard). <see cref="Build"/> sends
/// a lone record raw under its own keys, and two or more as magic + protobuf <c>AggregatedRecord</c> + MD5 under
/// partition key "a" and the first record's hash key in decimal. Reusable after <see cref="Clear"/>.
/// </summary>
public sealed class AggregatedRecordBuilder
{
    private readonly record struct Entry(int PartitionKeyIndex, int ExplicitHashKeyIndex, ReadOnlyMemory<byte> Data);

    private readonly List<Entry> _entries = [];
    private readonly List<string> _partitionKeys = [];
    private readonly Dictionary<string, int> _partitionKeyIndex = new(StringComparer.Ordinal);
    private readonly List<string> _explicitHashKeys = [];
    private readonly Dictionary<string, int> _explicitHashKeyIndex = new(StringComparer.Ordinal);
    private long _protobufSize;
    private UInt128 _firstHashKey;
    private string? _firstPartitionKey;
    private string? _firstExplicitHashKey;

    /// <summary>User records added since the last <see cref="Clear"/>.</summary>
    public int Count => _entries.Count;

    /// <summary>Sum of the user records' data lengths.</summary>
    public long DataBytes { get; private set; }

    /// <summary>The exact length of the aggregated form's data (magic + protobuf + MD5), whatever the count.</summary>
    public long AggregatedSize => _protobufSize + KplFormat.Overhead;

    /// <summary>Hash key of the first user record: the envelope's ExplicitHashKey and the shard it is routed to.</summary>
    public UInt128 FirstHashKey => _firstHashKey;

    /// <summary>The exact aggregated size if a record with these keys and this data length were added.</summary>
    public long AggregatedSizeWith(string partitionKey, string? explicitHashKey, int dataLength)
    {
        long size = _protobufSize + KplFormat.Overhead;
        size += RecordSize(partitionKey, explicitHashKey, dataLength, out _, out _);
        return size;
    }

    /// <summary>Adds a user record. <paramref name="hashKey"/> saves recomputing the first record's hash key when the
    /// caller already has it.</summary>
    public void Add(string partitionKey, string? explicitHashKey, ReadOnlyMemory<byte> data, UInt128? hashKey = null)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        long size = RecordSize(partitionKey, explicitHashKey, data.Length, out int pkIndex, out int ehkIndex);
        AddCore(partitionKey, explicitHashKey, data, hashKey, size, pkIndex, ehkIndex);
    }

    /// <summary>Adds the record unless the aggregate would then exceed <paramref name="maxAggregatedSize"/> bytes;
    /// an empty builder always takes it. One key lookup for both the check and the add (the producer's hot path).</summary>
    public bool TryAdd(string partitionKey, string? explicitHashKey, ReadOnlyMemory<byte> data, long maxAggregatedSize, UInt128? hashKey = null)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        long size = RecordSize(partitionKey, explicitHashKey, data.Length, out int pkIndex, out int ehkIndex);
        if (_entries.Count > 0 && _protobufSize + size + KplFormat.Overhead > maxAggregatedSize)
        {
            return false;
        }

        AddCore(partitionKey, explicitHashKey, data, hashKey, size, pkIndex, ehkIndex);
        return true;
    }

    private void AddCore(string partitionKey, string? explicitHashKey, ReadOnlyMemory<byte> data, UInt128? hashKey, long size, int pkIndex, int ehkIndex)
    {
        _protobufSize += size;
        if (pkIndex < 0)
        {
            pkIndex = _partitionKeys.Count;
            _partitionKeys.Add(partitionKey);
            _partitionKeyIndex.Add(partitionKey, pkIndex);
        }

        if (explicitHashKey is not null && ehkIndex < 0)
        {
            ehkIndex = _explicitHashKeys.Count;
            _explicitHashKeys.Add(explicitHashKey);
            _explicitHashKeyIndex.Add(explicitHashKey, ehkIndex);
        }

        if (_entries.Count == 0)
        {
            _firstHashKey = hashKey ?? KplHashKey.Effective(partitionKey, explicitHashKey);
            _firstPartitionKey = partitionKey;
            _firstExplicitHashKey = explicitHashKey;
        }

        _entries.Add(new Entry(pkIndex, explicitHashKey is null ? -1 : ehkIndex, data));
        DataBytes += data.Length;
    }

    /// <summary>Protobuf bytes a record adds: its Record message plus any new key-table entries. Outputs the existing
    /// table indices, or -1 for keys not yet in the tables.</summary>
    private long RecordSize(string partitionKey, string? explicitHashKey, int dataLength, out int pkIndex, out int ehkIndex)
    {
        long size = 0;
        if (!_partitionKeyIndex.TryGetValue(partitionKey, out pkIndex))
        {
            pkIndex = -1;
            size += 1 + CodedOutputStream.ComputeStringSize(partitionKey);
        }

        int pkIndexValue = pkIndex >= 0 ? pkIndex : _partitionKeys.Count;
        int inner = 1 + CodedOutputStream.ComputeUInt64Size((ulong)pkIndexValue)
            + 1 + CodedOutputStream.ComputeLengthSize(dataLength) + dataLength;
        ehkIndex = -1;
        if (explicitHashKey is not null)
        {
            if (!_explicitHashKeyIndex.TryGetValue(explicitHashKey, out ehkIndex))
            {
                ehkIndex = -1;
                size += 1 + CodedOutputStream.ComputeStringSize(explicitHashKey);
            }

            int ehkIndexValue = ehkIndex >= 0 ? ehkIndex : _explicitHashKeys.Count;
            inner += 1 + CodedOutputStream.ComputeUInt64Size((ulong)ehkIndexValue);
        }

        size += 1 + CodedOutputStream.ComputeLengthSize(inner) + inner;
        return size;
    }

    /// <summary>The record to put: raw for one user record, the aggregated form for two or more.</summary>
    public AggregatedEnvelope Build()
    {
        if (_entries.Count == 0)
        {
            throw new InvalidOperationException("No user record was added.");
        }

        if (_entries.Count == 1)
        {
            var only = _entries[0].Data;
            return new AggregatedEnvelope(_firstPartitionKey!, _firstExplicitHashKey, only.ToArray(), 1);
        }

        return new AggregatedEnvelope(KplFormat.AggregatePartitionKey, KplHashKey.ToDecimal(_firstHashKey), BuildAggregated(), _entries.Count);
    }

    /// <summary>The aggregated form (magic + protobuf + MD5), even for a single record.</summary>
    public byte[] BuildAggregated()
    {
        int protobufSize = checked((int)_protobufSize);
        var result = new byte[protobufSize + KplFormat.Overhead];
        KplFormat.Magic.CopyTo(result);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(protobufSize, 1));
        try
        {
            var output = new CodedOutputStream(rented);
            foreach (var pk in _partitionKeys)
            {
                output.WriteTag(KplFormat.PartitionKeyTableTag);
                output.WriteString(pk);
            }

            foreach (var ehk in _explicitHashKeys)
            {
                output.WriteTag(KplFormat.ExplicitHashKeyTableTag);
                output.WriteString(ehk);
            }

            foreach (var e in _entries)
            {
                int inner = 1 + CodedOutputStream.ComputeUInt64Size((ulong)e.PartitionKeyIndex)
                    + 1 + CodedOutputStream.ComputeLengthSize(e.Data.Length) + e.Data.Length;
                if (e.ExplicitHashKeyIndex >= 0)
                {
                    inner += 1 + CodedOutputStream.ComputeUInt64Size((ulong)e.ExplicitHashKeyIndex);
                }

                output.WriteTag(KplFormat.RecordsTag);
                output.WriteLength(inner);
                output.WriteTag(KplFormat.RecordPartitionKeyIndexTag);
                output.WriteUInt64((ulong)e.PartitionKeyIndex);
                if (e.ExplicitHashKeyIndex >= 0)
                {
                    output.WriteTag(KplFormat.RecordExplicitHashKeyIndexTag);
                    output.WriteUInt64((ulong)e.ExplicitHashKeyIndex);
                }

                output.WriteTag(KplFormat.RecordDataTag);
                output.WriteBytes(UnsafeByteOperations.UnsafeWrap(e.Data));
            }

            output.Flush();
            if (output.Position != protobufSize)
            {
                throw new InvalidOperationException($"Aggregated size {output.Position} differs from the computed {protobufSize}.");
            }

            rented.AsSpan(0, protobufSize).CopyTo(result.AsSpan(KplFormat.MagicLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        MD5.HashData(result.AsSpan(KplFormat.MagicLength, protobufSize), result.AsSpan(KplFormat.MagicLength + protobufSize));
        return result;
    }

    /// <summary>Empties the builder for the next aggregate; the key tables' capacity is kept.</summary>
    public void Clear()
    {
        _entries.Clear();
        _partitionKeys.Clear();
        _partitionKeyIndex.Clear();
        _explicitHashKeys.Clear();
        _explicitHashKeyIndex.Clear();
        _protobufSize = 0;
        _firstHashKey = default;
        _firstPartitionKey = null;
        _firstExplicitHashKey = null;
        DataBytes = 0;
    }
}
