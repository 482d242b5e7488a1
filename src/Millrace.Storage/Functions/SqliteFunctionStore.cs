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
        CREATE TABLE IF NOT EXISTS aliases (
            function TEXT NOT NULL,
            name TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (function, name)) WITHOUT ROWID;
        """));

    public void Dispose() => _sql.Dispose();

    // $LATEST sorts first, then the published versions by number.
    private static long Ordinal(string version) => version == "$LATEST" ? 0 : long.Parse(version, System.Globalization.CultureInfo.InvariantCulture);

    private static StoredFunctionVersion ReadVersion(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));

    private const string VersionColumns = "name, version, configuration, code_sha256";

    public ValueTask PutCodeAsync(string sha256, ReadOnlyMemory<byte> archive, CancellationToken cancellationToken = default) =>
        Write(() =>
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
        Write(() => UpsertVersion(version, null), cancellationToken);

    public ValueTask<StoredFunctionVersion?> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command($"SELECT {VersionColumns} FROM versions WHERE name = $n AND version = $v", null, ("$n", name), ("$v", version));
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadVersion(reader) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredFunctionVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default) =>
        Query($"SELECT {VersionColumns} FROM versions WHERE name = $n ORDER BY ordinal", ReadVersion, cancellationToken, ("$n", name));

    public ValueTask<IReadOnlyList<StoredFunctionVersion>> ListFunctionsAsync(string? after, int limit, CancellationToken cancellationToken = default) =>
        Query($"SELECT {VersionColumns} FROM versions WHERE version = '$LATEST' AND name > $a ORDER BY name LIMIT $l", ReadVersion, cancellationToken,
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
        Write(() =>
        {
            using var command = _sql.Command("UPDATE functions SET settings = $s WHERE name = $n", null, ("$n", name), ("$s", settings));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask PutAliasAsync(StoredAlias alias, CancellationToken cancellationToken = default) =>
        Write(() =>
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
        Query("SELECT function, name, document FROM aliases WHERE function = $f ORDER BY name",
            r => new StoredAlias(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("$f", function));

    public ValueTask<bool> DeleteAliasAsync(string function, string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("DELETE FROM aliases WHERE function = $f AND name = $n", null, ("$f", function), ("$n", name));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    private async ValueTask Write(Action work, CancellationToken ct) => await _sql.LockedAsync(() => { work(); return 0; }, ct);

    private ValueTask<IReadOnlyList<T>> Query<T>(string sql, Func<SqliteDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] parameters) =>
        _sql.LockedAsync<IReadOnlyList<T>>(() =>
        {
            using var command = _sql.Command(sql, null, parameters);
            using var reader = command.ExecuteReader();
            var list = new List<T>();
            while (reader.Read())
            {
                list.Add(read(reader));
            }

            return list;
        }, ct);
}
