using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Tables;

/// <summary>
/// The embedded <see cref="ITableStore"/>: one SQLite database (WAL, synchronous=FULL, so a committed write survives
/// a crash or power loss) under &lt;data-dir&gt;/dynamodb/tables.db. Lease tables see a few writes per second per
/// lease, so one connection serialised by a semaphore is plenty and makes every read-modify-write atomic.
/// </summary>
public sealed class SqliteTableStore : ITableStore
{
    private readonly SerializedSqlite _sql;

    private SqliteTableStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteTableStore Open(string directory) => new(SerializedSqlite.Open(directory, "tables.db", """
                CREATE TABLE IF NOT EXISTS tables (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    metadata BLOB NOT NULL,
                    created_ms INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS items (
                    table_id INTEGER NOT NULL,
                    hash BLOB NOT NULL,
                    range BLOB NOT NULL,
                    body BLOB NOT NULL,
                    PRIMARY KEY (table_id, hash, range)) WITHOUT ROWID;
                """));

    private long? TableId(string table, SqliteTransaction? tx = null)
    {
        using var command = _sql.Command("SELECT id FROM tables WHERE name = $n", tx, ("$n", table));
        return command.ExecuteScalar() is long id ? id : null;
    }

    private long RequireTableId(string table, SqliteTransaction? tx = null) => TableId(table, tx) ?? throw new TableNotFoundException(table);

    public ValueTask<bool> CreateTableAsync(string name, ReadOnlyMemory<byte> metadata, long createdMs, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("INSERT OR IGNORE INTO tables (name, metadata, created_ms) VALUES ($n, $m, $c)", null,
                ("$n", name), ("$m", metadata.ToArray()), ("$c", createdMs));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<bool> UpdateTableAsync(string name, ReadOnlyMemory<byte> metadata, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE tables SET metadata = $m WHERE name = $n", null, ("$n", name), ("$m", metadata.ToArray()));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<StoredTable?> GetTableAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("SELECT name, metadata, created_ms FROM tables WHERE name = $n", null, ("$n", name));
            using var reader = command.ExecuteReader();
            return reader.Read() ? new StoredTable(reader.GetString(0), (byte[])reader[1], reader.GetInt64(2)) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredTable>> ListTablesAsync(CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<IReadOnlyList<StoredTable>>(() =>
        {
            using var command = _sql.Command("SELECT name, metadata, created_ms FROM tables ORDER BY name");
            using var reader = command.ExecuteReader();
            var tables = new List<StoredTable>();
            while (reader.Read())
            {
                tables.Add(new StoredTable(reader.GetString(0), (byte[])reader[1], reader.GetInt64(2)));
            }

            tables.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return tables;
        }, cancellationToken);

    public ValueTask<bool> DeleteTableAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (TableId(name, tx) is not { } id)
            {
                return false;
            }

            using (var items = _sql.Command("DELETE FROM items WHERE table_id = $t", tx, ("$t", id)))
            {
                items.ExecuteNonQuery();
            }

            using (var table = _sql.Command("DELETE FROM tables WHERE id = $t", tx, ("$t", id)))
            {
                table.ExecuteNonQuery();
            }

            tx.Commit();
            return true;
        }, cancellationToken);

    public ValueTask<TableStatistics> GetStatisticsAsync(string table, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            long id = RequireTableId(table);
            using var command = _sql.Command("SELECT COUNT(*), COALESCE(SUM(length(body)), 0) FROM items WHERE table_id = $t", null, ("$t", id));
            using var reader = command.ExecuteReader();
            reader.Read();
            return new TableStatistics(reader.GetInt64(0), reader.GetInt64(1));
        }, cancellationToken);

    public ValueTask<StoredItem?> GetItemAsync(string table, ItemKey key, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            long id = RequireTableId(table);
            return ReadBody(id, key, null) is { } body ? new StoredItem(key, body) : null;
        }, cancellationToken);

    private byte[]? ReadBody(long tableId, ItemKey key, SqliteTransaction? tx)
    {
        using var command = _sql.Command("SELECT body FROM items WHERE table_id = $t AND hash = $h AND range = $r", tx,
            ("$t", tableId), ("$h", key.HashKey.ToArray()), ("$r", key.RangeKey.ToArray()));
        return command.ExecuteScalar() as byte[];
    }

    public ValueTask<ReadOnlyMemory<byte>?> MutateItemAsync(string table, ItemKey key, Func<ReadOnlyMemory<byte>?, ItemMutation> decide, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<ReadOnlyMemory<byte>?>(() =>
        {
            using var tx = _sql.BeginTransaction();
            long id = RequireTableId(table, tx);
            var before = ReadBody(id, key, tx);
            // Not `before is null ? null : before`: null would convert to an empty ReadOnlyMemory through byte[].
            ReadOnlyMemory<byte>? existing = before is null ? default(ReadOnlyMemory<byte>?) : before;
            var mutation = decide(existing);
            switch (mutation.Kind)
            {
                case ItemMutationKind.Put:
                    using (var put = _sql.Command("INSERT OR REPLACE INTO items (table_id, hash, range, body) VALUES ($t, $h, $r, $b)", tx,
                        ("$t", id), ("$h", key.HashKey.ToArray()), ("$r", key.RangeKey.ToArray()), ("$b", mutation.Body.ToArray())))
                    {
                        put.ExecuteNonQuery();
                    }

                    break;
                case ItemMutationKind.Delete when before is not null:
                    using (var delete = _sql.Command("DELETE FROM items WHERE table_id = $t AND hash = $h AND range = $r", tx,
                        ("$t", id), ("$h", key.HashKey.ToArray()), ("$r", key.RangeKey.ToArray())))
                    {
                        delete.ExecuteNonQuery();
                    }

                    break;
                default:
                    break;
            }

            tx.Commit();
            return existing;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredItem>> ReadItemsAsync(string table, ReadOnlyMemory<byte>? hashKey, ItemKey? exclusiveStart, int limit, bool descending = false, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<IReadOnlyList<StoredItem>>(() =>
        {
            long id = RequireTableId(table);
            var parameters = new List<(string, object)> { ("$t", id), ("$l", limit) };
            string where = "table_id = $t";
            string order;
            if (hashKey is { } hash)
            {
                where += " AND hash = $h";
                parameters.Add(("$h", hash.ToArray()));
                if (exclusiveStart is { } start)
                {
                    where += descending ? " AND range < $r" : " AND range > $r";
                    parameters.Add(("$r", start.RangeKey.ToArray()));
                }

                order = descending ? "range DESC" : "range";
            }
            else
            {
                if (exclusiveStart is { } start)
                {
                    where += " AND (hash > $sh OR (hash = $sh AND range > $sr))";
                    parameters.Add(("$sh", start.HashKey.ToArray()));
                    parameters.Add(("$sr", start.RangeKey.ToArray()));
                }

                order = "hash, range";
            }

            using var command = _sql.Command($"SELECT hash, range, body FROM items WHERE {where} ORDER BY {order} LIMIT $l", null, [.. parameters]);
            using var reader = command.ExecuteReader();
            var items = new List<StoredItem>();
            while (reader.Read())
            {
                items.Add(new StoredItem(new ItemKey((byte[])reader[0], (byte[])reader[1]), (byte[])reader[2]));
            }

            return items;
        }, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _sql.Dispose();
        return ValueTask.CompletedTask;
    }
}
