using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Identity;

/// <summary>One identity entity: its kind (user, role, access key, inline policy, attachment…), the entity it belongs
/// to (<see cref="Parent"/>, empty for top-level ones), its name and its document (opaque JSON).</summary>
public sealed record IdentityEntity(string Kind, string Parent, string Name, string Document);

/// <summary>
/// IAM's and STS's state: users, roles, access keys, inline and attached policies, role sessions, each an entity
/// with an opaque JSON document (secrets arrive already sealed), in one SQLite database (WAL, synchronous=FULL) under
/// &lt;data-dir&gt;/iam/identities.db. The store knows no IAM rules.
/// </summary>
public sealed class SqliteIdentityStore : IDisposable
{
    private readonly SerializedSqlite _sql;

    private long _version;

    private SqliteIdentityStore(SerializedSqlite sql) => _sql = sql;

    /// <summary>Grows with every write, so callers can cache what they read (identity policies) until it changes.</summary>
    public long Version => Interlocked.Read(ref _version);

    public static SqliteIdentityStore Open(string directory) => new(SerializedSqlite.Open(directory, "identities.db", """
        CREATE TABLE IF NOT EXISTS entities (
            kind TEXT NOT NULL,
            parent TEXT NOT NULL,
            name TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (kind, parent, name));
        CREATE INDEX IF NOT EXISTS entities_by_name ON entities (kind, name);
        """));

    public void Dispose() => _sql.Dispose();

    /// <summary>Inserts the entity; false when one of that kind, parent and name exists.</summary>
    public ValueTask<bool> CreateAsync(IdentityEntity entity, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("INSERT OR IGNORE INTO entities (kind, parent, name, doc) VALUES ($k, $p, $n, $d)", null,
                ("$k", entity.Kind), ("$p", entity.Parent), ("$n", entity.Name), ("$d", entity.Document));
            Interlocked.Increment(ref _version);
            return command.ExecuteNonQuery() == 1;
        }, ct);

    /// <summary>Inserts or replaces the entity.</summary>
    public ValueTask PutAsync(IdentityEntity entity, CancellationToken ct = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("INSERT OR REPLACE INTO entities (kind, parent, name, doc) VALUES ($k, $p, $n, $d)", null,
                ("$k", entity.Kind), ("$p", entity.Parent), ("$n", entity.Name), ("$d", entity.Document));
            command.ExecuteNonQuery();
            Interlocked.Increment(ref _version);
        }, ct);

    public ValueTask<IdentityEntity?> GetAsync(string kind, string parent, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() => First("SELECT kind, parent, name, doc FROM entities WHERE kind = $k AND parent = $p AND name = $n",
            ("$k", kind), ("$p", parent), ("$n", name)), ct);

    /// <summary>The entity of a kind whose names are unique across parents (access keys), whatever its parent.</summary>
    public ValueTask<IdentityEntity?> FindAsync(string kind, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() => First("SELECT kind, parent, name, doc FROM entities WHERE kind = $k AND name = $n LIMIT 1",
            ("$k", kind), ("$n", name)), ct);

    /// <summary>Every entity of a kind under <paramref name="parent"/> (null: under any parent), by name.</summary>
    public ValueTask<IReadOnlyList<IdentityEntity>> ListAsync(string kind, string? parent, CancellationToken ct = default) =>
        _sql.QueryAsync("SELECT kind, parent, name, doc FROM entities WHERE kind = $k AND ($p IS NULL OR parent = $p) ORDER BY name",
            Read, ct, ("$k", kind), ("$p", parent));

    /// <summary>Deletes one entity; false when it did not exist.</summary>
    public ValueTask<bool> DeleteAsync(string kind, string parent, string name, CancellationToken ct = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("DELETE FROM entities WHERE kind = $k AND parent = $p AND name = $n", null,
                ("$k", kind), ("$p", parent), ("$n", name));
            Interlocked.Increment(ref _version);
            return command.ExecuteNonQuery() == 1;
        }, ct);

    private IdentityEntity? First(string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = _sql.Command(sql, null, parameters);
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    private static IdentityEntity Read(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));
}
