using Microsoft.Data.Sqlite;

namespace Millrace.Storage;

/// <summary>
/// One SQLite connection opened for durability (WAL, synchronous=FULL: a committed transaction survives kill -9 and
/// power loss) and serialised by a semaphore, so every read-modify-write of a small metadata store is atomic.
/// The table store and the log store are built on it.
/// </summary>
internal sealed class SerializedSqlite : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SerializedSqlite(SqliteConnection connection) => Connection = connection;

    public SqliteConnection Connection { get; }

    /// <summary>Opens (creating if needed) <paramref name="fileName"/> in <paramref name="directory"/> and applies <paramref name="schema"/>.</summary>
    public static SerializedSqlite Open(string directory, string fileName, string schema)
    {
        Directory.CreateDirectory(directory);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(directory, fileName),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        };
        var db = new SqliteConnection(builder.ToString());
        db.Open();
        try
        {
            Execute(db, "PRAGMA journal_mode=WAL;");
            Execute(db, "PRAGMA synchronous=FULL;");
            Execute(db, schema);
        }
        catch
        {
            db.Dispose();
            throw;
        }

        return new SerializedSqlite(db);
    }

    public async ValueTask<T> LockedAsync<T>(Func<T> work, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return work();
        }
        finally
        {
            _gate.Release();
        }
    }

    public SqliteCommand Command(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        var command = Connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    /// <summary>Runs a write under the gate.</summary>
    public async ValueTask WriteAsync(Action work, CancellationToken ct) => await LockedAsync(() => { work(); return 0; }, ct);

    /// <summary>Reads every row of a query under the gate.</summary>
    public ValueTask<IReadOnlyList<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] parameters) =>
        LockedAsync<IReadOnlyList<T>>(() =>
        {
            using var command = Command(sql, null, parameters);
            using var reader = command.ExecuteReader();
            var list = new List<T>();
            while (reader.Read())
            {
                list.Add(read(reader));
            }

            return list;
        }, ct);

    public SqliteTransaction BeginTransaction() => Connection.BeginTransaction();

    public void Dispose()
    {
        Connection.Dispose();
        _gate.Dispose();
    }

    private static void Execute(SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
