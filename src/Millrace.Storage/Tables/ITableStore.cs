namespace Millrace.Storage.Tables;

/// <summary>A table as the store keeps it: its name and an opaque description owned by the layer above.</summary>
public sealed record StoredTable(string Name, ReadOnlyMemory<byte> Metadata, long CreatedMs);

/// <summary>
/// The primary key of one item as comparable bytes. The layer above encodes key attributes so that an ordinal byte
/// comparison gives the order it wants (hash keys only need equality; range keys are read in byte order).
/// An absent range key is the empty array.
/// </summary>
public readonly record struct ItemKey(ReadOnlyMemory<byte> HashKey, ReadOnlyMemory<byte> RangeKey);

/// <summary>One stored item: its key and its opaque body.</summary>
public sealed record StoredItem(ItemKey Key, ReadOnlyMemory<byte> Body);

/// <summary>What a read-modify-write decided: keep the item as it is, store a new body, or delete it.</summary>
public readonly record struct ItemMutation(ItemMutationKind Kind, ReadOnlyMemory<byte> Body)
{
    public static ItemMutation Keep => new(ItemMutationKind.Keep, default);

    public static ItemMutation Delete => new(ItemMutationKind.Delete, default);

    public static ItemMutation Put(ReadOnlyMemory<byte> body) => new(ItemMutationKind.Put, body);
}

public enum ItemMutationKind
{
    Keep,
    Put,
    Delete,
}

/// <summary>Item count and total body bytes of a table.</summary>
public readonly record struct TableStatistics(long ItemCount, long SizeBytes);

/// <summary>Thrown when an item operation names a table the store does not hold.</summary>
public sealed class TableNotFoundException(string table) : Exception($"Table {table} does not exist")
{
    public string Table { get; } = table;
}

/// <summary>
/// Durable tables of items keyed by (hash key, range key) bytes. Every write is on stable storage when its call
/// completes. Knows nothing of the DynamoDB wire or of expressions: item bodies and table metadata are opaque, and
/// conditions are evaluated by the caller inside <see cref="MutateItemAsync"/>, which runs atomically with respect
/// to every other write of the same item (a PostgreSQL backend would do it in one transaction with SELECT … FOR UPDATE).
/// </summary>
public interface ITableStore : IAsyncDisposable
{
    /// <summary>Creates a table; false when one of that name already exists (nothing changed).</summary>
    ValueTask<bool> CreateTableAsync(string name, ReadOnlyMemory<byte> metadata, long createdMs, CancellationToken cancellationToken = default);

    /// <summary>Replaces the opaque metadata of an existing table; false when there is no such table.</summary>
    ValueTask<bool> UpdateTableAsync(string name, ReadOnlyMemory<byte> metadata, CancellationToken cancellationToken = default);

    ValueTask<StoredTable?> GetTableAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>All tables, ordered by name (ordinal).</summary>
    ValueTask<IReadOnlyList<StoredTable>> ListTablesAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a table and all its items; false when there is no such table.</summary>
    ValueTask<bool> DeleteTableAsync(string name, CancellationToken cancellationToken = default);

    ValueTask<TableStatistics> GetStatisticsAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>The item with this key, or null. Throws <see cref="TableNotFoundException"/>.</summary>
    ValueTask<StoredItem?> GetItemAsync(string table, ItemKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomic read-modify-write of one item: <paramref name="decide"/> sees the current body (null when absent) and
    /// returns what to do; no other write to the item happens in between, and the result is durable on return.
    /// Exceptions thrown by <paramref name="decide"/> leave the item unchanged and propagate. Returns the body the
    /// item had before (null when absent). Throws <see cref="TableNotFoundException"/>.
    /// </summary>
    ValueTask<ReadOnlyMemory<byte>?> MutateItemAsync(string table, ItemKey key, Func<ReadOnlyMemory<byte>?, ItemMutation> decide, CancellationToken cancellationToken = default);

    /// <summary>
    /// Items in (hash key, range key) byte order starting strictly after <paramref name="exclusiveStart"/> (from the
    /// beginning when null), at most <paramref name="limit"/>. When <paramref name="hashKey"/> is given only that
    /// hash key's items are returned (in range key order; descending when <paramref name="descending"/>).
    /// Throws <see cref="TableNotFoundException"/>.
    /// </summary>
    ValueTask<IReadOnlyList<StoredItem>> ReadItemsAsync(string table, ReadOnlyMemory<byte>? hashKey, ItemKey? exclusiveStart, int limit, bool descending = false, CancellationToken cancellationToken = default);
}
