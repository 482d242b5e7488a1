using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Functions;

/// <summary>
/// The embedded <see cref="IFunctionStore"/>: one SQLite database (WAL, synchronous=FULL) under
/// &lt;data-dir&gt;/lambda/functions.db. Code archives are rows too: Lambda caps a direct upload at 50 MB and an
/// unpacked function at 250 MB, and keeping them in the database makes a function's creation one transaction.
/// </summary>
public sealed class SqliteFunctionStore : IFunctionStore
{
    private readonly SerializedSqlite _sql;

    private SqliteFunctionStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteFunctionStore Open(string directory) => new(SerializedSqlite.Open(directory, "functions.db", """
        CREATE TABLE IF NOT EXISTS code (
            sha256 TEXT NOT NULL PRIMARY KEY,
            archive BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS functions (
            name TEXT NOT NULL PRIMARY KEY,
            settings TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS versions (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            configuration TEXT NOT NULL,
            code_sha256 TEXT NOT NULL,
            PRIMARY KEY (name, version)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS mappings (
            id TEXT NOT NULL PRIMARY KEY,
            document TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS checkpoints (
            mapping_id TEXT NOT NULL,
            shard_id TEXT NOT NULL,
            sequence_number TEXT,
            finished INTEGER NOT NULL,
            PRIMARY KEY (mapping_id, shard_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS invocations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            function TEXT NOT NULL,
            qualifier TEXT,
            payload BLOB NOT NULL,
            attempts INTEGER NOT NULL,
            not_before_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS aliases (
            function TEXT NOT NULL,
            name TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (function, name)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS layers (
            name TEXT NOT NULL PRIMARY KEY,
            last_version INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS layer_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            document TEXT NOT NULL,
            code_sha256 TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (name, version)) WITHOUT ROWID;
        """));

    public void Dispose() => _sql.Dispose();

    // $LATEST sorts first, then the published versions by number.
    private static long Ordinal(string version) => version == "$LATEST" ? 0 : long.Parse(version, System.Globalization.CultureInfo.InvariantCulture);

    private static StoredFunctionVersion ReadVersion(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));

    private const string VersionColumns = "name, version, configuration, code_sha256";

    public ValueTask PutCodeAsync(string sha256, ReadOnlyMemory<byte> archive, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("INSERT OR IGNORE INTO code (sha256, archive) VALUES ($s, $a)", null, ("$s", sha256), ("$a", archive.ToArray()));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask<byte[]?> GetCodeAsync(string sha256, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("SELECT archive FROM code WHERE sha256 = $s", null, ("$s", sha256));
            return command.ExecuteScalar() as byte[];
        }, cancellationToken);

    public ValueTask<bool> CreateFunctionAsync(StoredFunctionVersion latest, string settings, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using (var insert = _sql.Command("INSERT OR IGNORE INTO functions (name, settings) VALUES ($n, $s)", tx, ("$n", latest.Name), ("$s", settings)))
            {
                if (insert.ExecuteNonQuery() == 0)
                {
                    return false;
                }
            }

            UpsertVersion(latest, tx);
            tx.Commit();
            return true;
        }, cancellationToken);

    private void UpsertVersion(StoredFunctionVersion v, SqliteTransaction? tx)
    {
        using var command = _sql.Command(
            "INSERT OR REPLACE INTO versions (name, version, ordinal, configuration, code_sha256) VALUES ($n, $v, $o, $c, $s)", tx,
            ("$n", v.Name), ("$v", v.Version), ("$o", Ordinal(v.Version)), ("$c", v.Configuration), ("$s", v.CodeSha256));
        command.ExecuteNonQuery();
    }

    public ValueTask PutVersionAsync(StoredFunctionVersion version, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() => UpsertVersion(version, null), cancellationToken);

    public ValueTask<StoredFunctionVersion?> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command($"SELECT {VersionColumns} FROM versions WHERE name = $n AND version = $v", null, ("$n", name), ("$v", version));
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadVersion(reader) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredFunctionVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync($"SELECT {VersionColumns} FROM versions WHERE name = $n ORDER BY ordinal", ReadVersion, cancellationToken, ("$n", name));

    public ValueTask<IReadOnlyList<StoredFunctionVersion>> ListFunctionsAsync(string? after, int limit, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync($"SELECT {VersionColumns} FROM versions WHERE version = '$LATEST' AND name > $a ORDER BY name LIMIT $l", ReadVersion, cancellationToken,
            ("$a", after ?? ""), ("$l", limit));

    public ValueTask<bool> DeleteFunctionAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var delete = _sql.Command("DELETE FROM functions WHERE name = $n", tx, ("$n", name));
            if (delete.ExecuteNonQuery() == 0)
            {
                return false;
            }

            foreach (var sql in new[] { "DELETE FROM versions WHERE name = $n", "DELETE FROM aliases WHERE function = $n" })
            {
                using var command = _sql.Command(sql, tx, ("$n", name));
                command.ExecuteNonQuery();
            }

            // Code no version refers to any more goes with it.
            using (var orphans = _sql.Command("DELETE FROM code WHERE sha256 NOT IN (SELECT code_sha256 FROM versions)", tx))
            {
                orphans.ExecuteNonQuery();
            }

            tx.Commit();
            return true;
        }, cancellationToken);

    public ValueTask<bool> DeleteVersionAsync(string name, string version, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("DELETE FROM versions WHERE name = $n AND version = $v", null, ("$n", name), ("$v", version));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<string?> GetSettingsAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("SELECT settings FROM functions WHERE name = $n", null, ("$n", name));
            return command.ExecuteScalar() as string;
        }, cancellationToken);

    public ValueTask PutSettingsAsync(string name, string settings, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("UPDATE functions SET settings = $s WHERE name = $n", null, ("$n", name), ("$s", settings));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask PutAliasAsync(StoredAlias alias, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("INSERT OR REPLACE INTO aliases (function, name, document) VALUES ($f, $n, $d)", null,
                ("$f", alias.Function), ("$n", alias.Name), ("$d", alias.Document));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask<StoredAlias?> GetAliasAsync(string function, string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("SELECT function, name, document FROM aliases WHERE function = $f AND name = $n", null, ("$f", function), ("$n", name));
            using var reader = command.ExecuteReader();
            return reader.Read() ? new StoredAlias(reader.GetString(0), reader.GetString(1), reader.GetString(2)) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredAlias>> ListAliasesAsync(string function, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync("SELECT function, name, document FROM aliases WHERE function = $f ORDER BY name",
            r => new StoredAlias(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("$f", function));

    public ValueTask<bool> DeleteAliasAsync(string function, string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("DELETE FROM aliases WHERE function = $f AND name = $n", null, ("$f", function), ("$n", name));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    private const string LayerColumns = "name, version, document, code_sha256";

    private static StoredLayerVersion ReadLayer(SqliteDataReader r) => new(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3));

    public ValueTask<StoredLayerVersion> AddLayerVersionAsync(string name, string codeSha256, Func<long, string> document, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            long version;
            using (var next = _sql.Command(
                "INSERT INTO layers (name, last_version) VALUES ($n, 1) ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1 RETURNING last_version",
                tx, ("$n", name)))
            {
                version = (long)next.ExecuteScalar()!;
            }

            var stored = new StoredLayerVersion(name, version, document(version), codeSha256);
            using (var insert = _sql.Command($"INSERT INTO layer_versions ({LayerColumns}) VALUES ($n, $v, $d, $s)", tx,
                ("$n", name), ("$v", version), ("$d", stored.Document), ("$s", codeSha256)))
            {
                insert.ExecuteNonQuery();
            }

            tx.Commit();
            return stored;
        }, cancellationToken);

    public ValueTask<StoredLayerVersion?> GetLayerVersionAsync(string name, long version, bool includeDeleted = false, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command($"SELECT {LayerColumns} FROM layer_versions WHERE name = $n AND version = $v AND deleted <= $d", null,
                ("$n", name), ("$v", version), ("$d", includeDeleted ? 1 : 0));
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadLayer(reader) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredLayerVersion>> ListLayerVersionsAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync($"SELECT {LayerColumns} FROM layer_versions WHERE name = $n AND deleted = 0 ORDER BY version DESC", ReadLayer, cancellationToken, ("$n", name));

    public ValueTask<IReadOnlyList<StoredLayerVersion>> ListAllLayerVersionsAsync(CancellationToken cancellationToken = default) =>
        _sql.QueryAsync($"SELECT {LayerColumns} FROM layer_versions WHERE deleted = 0 ORDER BY name, version DESC", ReadLayer, cancellationToken);

    public ValueTask<bool> DeleteLayerVersionAsync(string name, long version, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE layer_versions SET deleted = 1 WHERE name = $n AND version = $v AND deleted = 0", null, ("$n", name), ("$v", version));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask PutMappingAsync(string id, string document, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("INSERT OR REPLACE INTO mappings (id, document) VALUES ($i, $d)", null, ("$i", id), ("$d", document));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask<string?> GetMappingAsync(string id, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("SELECT document FROM mappings WHERE id = $i", null, ("$i", id));
            return command.ExecuteScalar() as string;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<(string Id, string Document)>> ListMappingsAsync(CancellationToken cancellationToken = default) =>
        _sql.QueryAsync("SELECT id, document FROM mappings ORDER BY id", r => (r.GetString(0), r.GetString(1)), cancellationToken);

    public ValueTask<bool> DeleteMappingAsync(string id, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var delete = _sql.Command("DELETE FROM mappings WHERE id = $i", tx, ("$i", id));
            var deleted = delete.ExecuteNonQuery() == 1;
            using var checkpoints = _sql.Command("DELETE FROM checkpoints WHERE mapping_id = $i", tx, ("$i", id));
            checkpoints.ExecuteNonQuery();
            tx.Commit();
            return deleted;
        }, cancellationToken);

    public ValueTask PutCheckpointAsync(StoredCheckpoint checkpoint, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command(
                "INSERT OR REPLACE INTO checkpoints (mapping_id, shard_id, sequence_number, finished) VALUES ($m, $s, $q, $f)", null,
                ("$m", checkpoint.MappingId), ("$s", checkpoint.ShardId), ("$q", checkpoint.SequenceNumber), ("$f", checkpoint.Finished ? 1 : 0));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredCheckpoint>> ListCheckpointsAsync(string mappingId, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync("SELECT mapping_id, shard_id, sequence_number, finished FROM checkpoints WHERE mapping_id = $m ORDER BY shard_id",
            r => new StoredCheckpoint(r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetInt64(3) == 1), cancellationToken, ("$m", mappingId));

    public ValueTask<long> EnqueueInvocationAsync(string function, string? qualifier, ReadOnlyMemory<byte> payload, long notBeforeMs, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command(
                "INSERT INTO invocations (function, qualifier, payload, attempts, not_before_ms) VALUES ($f, $q, $p, 0, $n) RETURNING id", null,
                ("$f", function), ("$q", qualifier), ("$p", payload.ToArray()), ("$n", notBeforeMs));
            return (long)command.ExecuteScalar()!;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredInvocation>> DueInvocationsAsync(long nowMs, int limit, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync("SELECT id, function, qualifier, payload, attempts, not_before_ms FROM invocations WHERE not_before_ms <= $n ORDER BY id LIMIT $l",
            r => new StoredInvocation(r.GetInt64(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), (byte[])r[3], (int)r.GetInt64(4), r.GetInt64(5)),
            cancellationToken, ("$n", nowMs), ("$l", limit));

    public ValueTask RescheduleInvocationAsync(long id, int attempts, long notBeforeMs, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("UPDATE invocations SET attempts = $a, not_before_ms = $n WHERE id = $i", null, ("$i", id), ("$a", attempts), ("$n", notBeforeMs));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask CompleteInvocationAsync(long id, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("DELETE FROM invocations WHERE id = $i", null, ("$i", id));
            command.ExecuteNonQuery();
        }, cancellationToken);
}
