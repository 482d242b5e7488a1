using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Millrace.Agent.Checkpoints;

/// <summary>Where a flow stands in one file: the byte offset just past the last record the destination acknowledged.</summary>
internal sealed record FileCheckpoint(string Flow, string Path, ulong Device, ulong Inode, byte[] Fingerprint, long Offset, long UpdatedMs);

/// <summary>
/// The agent's checkpoints in SQLite, as the AWS agent keeps them, but one row per flow and file identity (device and
/// inode) rather than per path, because rotation reuses paths: the old file's row must survive the new file's, or a
/// crash between them would lose the old file's unsent tail. The fingerprint recognises a file after a copy or
/// compression too. Each write is a synchronous (fsynced)
/// transaction made after the acknowledgement, so a kill -9 resumes at or before what was sent: never after it.
/// </summary>
internal sealed class CheckpointStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _lock = new();

    private CheckpointStore(SqliteConnection db) => _db = db;

    public static CheckpointStore Open(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        using var setup = db.CreateCommand();
        setup.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE IF NOT EXISTS FILE_CHECKPOINTS(
                flow TEXT NOT NULL, path TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL, fingerprint BLOB NOT NULL,
                offset INTEGER NOT NULL, lastUpdated INTEGER NOT NULL, PRIMARY KEY(flow, device, inode));
            """;
        setup.ExecuteNonQuery();
        return new CheckpointStore(db);
    }

    public IReadOnlyList<FileCheckpoint> ForFlow(string flow)
    {
        lock (_lock)
        {
            using var query = _db.CreateCommand();
            query.CommandText = "SELECT path, device, inode, fingerprint, offset, lastUpdated FROM FILE_CHECKPOINTS WHERE flow = $flow ORDER BY lastUpdated";
            query.Parameters.AddWithValue("$flow", flow);
            using var reader = query.ExecuteReader();
            var list = new List<FileCheckpoint>();
            while (reader.Read())
            {
                list.Add(new FileCheckpoint(flow, reader.GetString(0), (ulong)reader.GetInt64(1), (ulong)reader.GetInt64(2), (byte[])reader[3], reader.GetInt64(4), reader.GetInt64(5)));
            }

            return list;
        }
    }

    /// <summary>Records where flows stand, in one transaction.</summary>
    public void SaveAll(IReadOnlyCollection<FileCheckpoint> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            using var transaction = _db.BeginTransaction();
            foreach (var row in rows)
            {
                Upsert(row, transaction);
            }

            transaction.Commit();
        }
    }

    public void Save(FileCheckpoint checkpoint) => SaveAll([checkpoint]);

    private void Upsert(FileCheckpoint checkpoint, SqliteTransaction transaction)
    {
        using var upsert = _db.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO FILE_CHECKPOINTS(flow, path, device, inode, fingerprint, offset, lastUpdated)
            VALUES ($flow, $path, $device, $inode, $fingerprint, $offset, $updated)
            ON CONFLICT(flow, device, inode) DO UPDATE SET path = excluded.path, fingerprint = excluded.fingerprint,
                offset = excluded.offset, lastUpdated = excluded.lastUpdated
            """;
        upsert.Parameters.AddWithValue("$flow", checkpoint.Flow);
        upsert.Parameters.AddWithValue("$path", checkpoint.Path);
        upsert.Parameters.AddWithValue("$device", (long)checkpoint.Device);
        upsert.Parameters.AddWithValue("$inode", (long)checkpoint.Inode);
        upsert.Parameters.AddWithValue("$fingerprint", checkpoint.Fingerprint);
        upsert.Parameters.AddWithValue("$offset", checkpoint.Offset);
        upsert.Parameters.AddWithValue("$updated", checkpoint.UpdatedMs);
        upsert.ExecuteNonQuery();
    }

    /// <summary>Removes rows not updated for <paramref name="days"/> days (checkpointTimeToLiveDays).</summary>
    public int Expire(int days, long nowMs)
    {
        lock (_lock)
        {
            using var delete = _db.CreateCommand();
            delete.CommandText = "DELETE FROM FILE_CHECKPOINTS WHERE lastUpdated < $before";
            delete.Parameters.AddWithValue("$before", nowMs - (days * 86_400_000L));
            return delete.ExecuteNonQuery();
        }
    }

    public void Dispose() => _db.Dispose();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"CheckpointStore({_db.DataSource})");
}
