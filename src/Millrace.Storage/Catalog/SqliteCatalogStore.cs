using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Catalog;

/// <summary>A Glue database: its input document as the client sent it (JSON) and when it was created.</summary>
public sealed record CatalogDatabaseRecord(string CatalogId, string Name, string InputJson, long CreateTimeMs);

/// <summary>A Glue table (or one archived version of it): its TableInput kept verbatim as JSON, times and version.</summary>
public sealed record CatalogTableRecord(
    string CatalogId, string Database, string Name, string InputJson, long CreateTimeMs, long UpdateTimeMs, long VersionId);

/// <summary>What a catalog write found.</summary>
public enum CatalogOutcome
{
    Done,
    NoSuchDatabase,
    NoSuchTable,
    AlreadyExists,
    VersionMismatch,
}

/// <summary>
/// The Glue Data Catalog's store: one SQLite database (WAL, synchronous=FULL) under &lt;data-dir&gt;/glue/catalog.db.
/// Names arrive already folded to lower case; documents are opaque JSON text, so the store knows nothing of the wire.
/// Every table version is kept (the current one too) so GetTableVersion can answer any of them.
/// </summary>
public sealed class SqliteCatalogStore : IDisposable
{
    private readonly SerializedSqlite _sql;

    private SqliteCatalogStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteCatalogStore Open(string directory) => new(SerializedSqlite.Open(directory, "catalog.db", """
        CREATE TABLE IF NOT EXISTS databases (
            catalog TEXT NOT NULL,
            name TEXT NOT NULL,
            input TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            PRIMARY KEY (catalog, name));
        CREATE TABLE IF NOT EXISTS tables (
            catalog TEXT NOT NULL,
            db TEXT NOT NULL,
            name TEXT NOT NULL,
            input TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (catalog, db, name));
        CREATE TABLE IF NOT EXISTS table_versions (
            catalog TEXT NOT NULL,
            db TEXT NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            input TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (catalog, db, name, version));
        """));

    public void Dispose() => _sql.Dispose();

    // ---- databases ----

    public ValueTask<bool> CreateDatabaseAsync(string catalog, string name, string inputJson, long nowMs, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("INSERT OR IGNORE INTO databases (catalog, name, input, created_ms) VALUES ($c, $n, $i, $t)", null,
                ("$c", catalog), ("$n", name), ("$i", inputJson), ("$t", nowMs));
            return command.ExecuteNonQuery() == 1;
        }, ct);

    public ValueTask<CatalogDatabaseRecord?> GetDatabaseAsync(string catalog, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() => DatabaseOf(catalog, name, null), ct);

    /// <summary>Up to <paramref name="limit"/> databases after <paramref name="afterName"/>, in name order.</summary>
    public ValueTask<IReadOnlyList<CatalogDatabaseRecord>> ListDatabasesAsync(string catalog, string? afterName, int limit, CancellationToken ct = default) =>
        _sql.QueryAsync(
            "SELECT catalog, name, input, created_ms FROM databases WHERE catalog = $c AND ($a IS NULL OR name > $a) ORDER BY name LIMIT $l",
            ReadDatabase, ct, ("$c", catalog), ("$a", afterName), ("$l", limit));

    public ValueTask<bool> UpdateDatabaseAsync(string catalog, string name, string inputJson, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE databases SET input = $i WHERE catalog = $c AND name = $n", null,
                ("$c", catalog), ("$n", name), ("$i", inputJson));
            return command.ExecuteNonQuery() == 1;
        }, ct);

    /// <summary>Deletes the database with its tables and their versions, as Glue does.</summary>
    public ValueTask<bool> DeleteDatabaseAsync(string catalog, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var delete = _sql.Command("DELETE FROM databases WHERE catalog = $c AND name = $n", tx, ("$c", catalog), ("$n", name));
            if (delete.ExecuteNonQuery() == 0)
            {
                return false;
            }

            foreach (var sql in new[] { "DELETE FROM tables WHERE catalog = $c AND db = $n", "DELETE FROM table_versions WHERE catalog = $c AND db = $n" })
            {
                using var command = _sql.Command(sql, tx, ("$c", catalog), ("$n", name));
                command.ExecuteNonQuery();
            }

            tx.Commit();
            return true;
        }, ct);

    // ---- tables ----

    public ValueTask<CatalogOutcome> CreateTableAsync(string catalog, string database, string name, string inputJson, long nowMs, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (DatabaseOf(catalog, database, tx) is null)
            {
                return CatalogOutcome.NoSuchDatabase;
            }

            using var insert = _sql.Command(
                "INSERT OR IGNORE INTO tables (catalog, db, name, input, created_ms, updated_ms, version) VALUES ($c, $d, $n, $i, $t, $t, 1)", tx,
                ("$c", catalog), ("$d", database), ("$n", name), ("$i", inputJson), ("$t", nowMs));
            if (insert.ExecuteNonQuery() == 0)
            {
                return CatalogOutcome.AlreadyExists;
            }

            // A table re-created after a delete starts its history afresh.
            using var clear = _sql.Command("DELETE FROM table_versions WHERE catalog = $c AND db = $d AND name = $n", tx,
                ("$c", catalog), ("$d", database), ("$n", name));
            clear.ExecuteNonQuery();
            ArchiveVersion(catalog, database, name, 1, inputJson, nowMs, nowMs, tx);
            tx.Commit();
            return CatalogOutcome.Done;
        }, ct);

    public ValueTask<(CatalogOutcome Outcome, CatalogTableRecord? Table)> GetTableAsync(string catalog, string database, string name, CancellationToken ct = default) =>
        _sql.LockedAsync<(CatalogOutcome, CatalogTableRecord?)>(() =>
        {
            if (DatabaseOf(catalog, database, null) is null)
            {
                return (CatalogOutcome.NoSuchDatabase, null);
            }

            var table = TableOf(catalog, database, name, null);
            return table is null ? (CatalogOutcome.NoSuchTable, null) : (CatalogOutcome.Done, table);
        }, ct);

    /// <summary>Every table of the database in name order; null when the database does not exist.</summary>
    public ValueTask<IReadOnlyList<CatalogTableRecord>?> ListTablesAsync(string catalog, string database, CancellationToken ct = default) =>
        _sql.LockedAsync<IReadOnlyList<CatalogTableRecord>?>(() =>
        {
            if (DatabaseOf(catalog, database, null) is null)
            {
                return null;
            }

            using var command = _sql.Command($"SELECT {TableColumns} FROM tables WHERE catalog = $c AND db = $d ORDER BY name", null,
                ("$c", catalog), ("$d", database));
            return ReadTables(command);
        }, ct);

    /// <summary>
    /// Replaces the table's input and bumps its version; <paramref name="expectedVersion"/> (when given) must be the
    /// current one. With <paramref name="archive"/> false the previous version is not kept (Glue's SkipArchive).
    /// </summary>
    public ValueTask<CatalogOutcome> UpdateTableAsync(string catalog, string database, string name, string inputJson, long nowMs,
        long? expectedVersion, bool archive, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (DatabaseOf(catalog, database, tx) is null)
            {
                return CatalogOutcome.NoSuchDatabase;
            }

            if (TableOf(catalog, database, name, tx) is not { } current)
            {
                return CatalogOutcome.NoSuchTable;
            }

            if (expectedVersion is { } expected && expected != current.VersionId)
            {
                return CatalogOutcome.VersionMismatch;
            }

            var version = current.VersionId + 1;
            using var update = _sql.Command(
                "UPDATE tables SET input = $i, updated_ms = $t, version = $v WHERE catalog = $c AND db = $d AND name = $n", tx,
                ("$c", catalog), ("$d", database), ("$n", name), ("$i", inputJson), ("$t", nowMs), ("$v", version));
            update.ExecuteNonQuery();
            if (!archive)
            {
                using var drop = _sql.Command("DELETE FROM table_versions WHERE catalog = $c AND db = $d AND name = $n AND version = $v", tx,
                    ("$c", catalog), ("$d", database), ("$n", name), ("$v", current.VersionId));
                drop.ExecuteNonQuery();
            }

            ArchiveVersion(catalog, database, name, version, inputJson, current.CreateTimeMs, nowMs, tx);
            tx.Commit();
            return CatalogOutcome.Done;
        }, ct);

    public ValueTask<CatalogOutcome> DeleteTableAsync(string catalog, string database, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (DatabaseOf(catalog, database, tx) is null)
            {
                return CatalogOutcome.NoSuchDatabase;
            }

            using var delete = _sql.Command("DELETE FROM tables WHERE catalog = $c AND db = $d AND name = $n", tx,
                ("$c", catalog), ("$d", database), ("$n", name));
            if (delete.ExecuteNonQuery() == 0)
            {
                return CatalogOutcome.NoSuchTable;
            }

            using var versions = _sql.Command("DELETE FROM table_versions WHERE catalog = $c AND db = $d AND name = $n", tx,
                ("$c", catalog), ("$d", database), ("$n", name));
            versions.ExecuteNonQuery();
            tx.Commit();
            return CatalogOutcome.Done;
        }, ct);

    /// <summary>The table's kept versions, newest first; Outcome says whether the database and table exist.</summary>
    public ValueTask<(CatalogOutcome Outcome, IReadOnlyList<CatalogTableRecord> Versions)> ListTableVersionsAsync(
        string catalog, string database, string name, CancellationToken ct = default) =>
        _sql.LockedAsync<(CatalogOutcome, IReadOnlyList<CatalogTableRecord>)>(() =>
        {
            if (DatabaseOf(catalog, database, null) is null)
            {
                return (CatalogOutcome.NoSuchDatabase, []);
            }

            if (TableOf(catalog, database, name, null) is null)
            {
                return (CatalogOutcome.NoSuchTable, []);
            }

            using var command = _sql.Command(
                "SELECT catalog, db, name, input, created_ms, updated_ms, version FROM table_versions " +
                "WHERE catalog = $c AND db = $d AND name = $n ORDER BY version DESC", null,
                ("$c", catalog), ("$d", database), ("$n", name));
            return (CatalogOutcome.Done, ReadTables(command));
        }, ct);

    // ---- helpers ----

    private const string TableColumns = "catalog, db, name, input, created_ms, updated_ms, version";

    private void ArchiveVersion(string catalog, string database, string name, long version, string inputJson, long createdMs, long updatedMs, SqliteTransaction tx)
    {
        using var command = _sql.Command(
            "INSERT OR REPLACE INTO table_versions (catalog, db, name, version, input, created_ms, updated_ms) VALUES ($c, $d, $n, $v, $i, $cr, $u)", tx,
            ("$c", catalog), ("$d", database), ("$n", name), ("$v", version), ("$i", inputJson), ("$cr", createdMs), ("$u", updatedMs));
        command.ExecuteNonQuery();
    }

    private CatalogDatabaseRecord? DatabaseOf(string catalog, string name, SqliteTransaction? tx)
    {
        using var command = _sql.Command("SELECT catalog, name, input, created_ms FROM databases WHERE catalog = $c AND name = $n", tx,
            ("$c", catalog), ("$n", name));
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadDatabase(reader) : null;
    }

    private CatalogTableRecord? TableOf(string catalog, string database, string name, SqliteTransaction? tx)
    {
        using var command = _sql.Command($"SELECT {TableColumns} FROM tables WHERE catalog = $c AND db = $d AND name = $n", tx,
            ("$c", catalog), ("$d", database), ("$n", name));
        return ReadTables(command).FirstOrDefault();
    }

    private static List<CatalogTableRecord> ReadTables(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var list = new List<CatalogTableRecord>();
        while (reader.Read())
        {
            list.Add(new CatalogTableRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)));
        }

        return list;
    }

    private static CatalogDatabaseRecord ReadDatabase(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3));
}
