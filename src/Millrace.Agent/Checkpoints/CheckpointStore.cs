using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Millrace.Agent.Checkpoints;

/// <summary>
/// Where a flow stands in one file's content: the byte offset just past the last record the destination acknowledged.
/// <paramref name="Content"/> names the content (the bytes a file was created with and appended to), not a path or an
/// inode: a rename keeps both, copytruncate moves the content to a new inode and gives the old inode new content.
/// Path, device, inode and fingerprint say where the content was last seen and how to recognise it.
/// </summary>
internal sealed record FileCheckpoint(string Flow, long Content, string Path, ulong Device, ulong Inode, byte[] Fingerprint, long Offset, long UpdatedMs);

/// <summary>
/// The agent's checkpoints in SQLite, as the AWS agent keeps them, but one row per flow and file content rather than
/// per path, because rotation reuses paths and copytruncate reuses inodes: the old content's row must survive the new
/// content's, or a crash between them would lose the old content's unsent tail. Each write is a synchronous (fsynced)
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
            CREATE TABLE IF NOT EXISTS CONTENT_CHECKPOINTS(
                flow TEXT NOT NULL, content INTEGER NOT NULL, path TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
                fingerprint BLOB NOT NULL, offset INTEGER NOT NULL, lastUpdated INTEGER NOT NULL, PRIMARY KEY(flow, content));
            CREATE TABLE IF NOT EXISTS FLOWS(flow TEXT PRIMARY KEY, firstStarted INTEGER NOT NULL);
            """;
        setup.ExecuteNonQuery();

        return new CheckpointStore(db);
    }

    public IReadOnlyList<FileCheckpoint> ForFlow(string flow)
    {
        lock (_lock)
        {
            using var query = _db.CreateCommand();
            query.CommandText = "SELECT content, path, device, inode, fingerprint, offset, lastUpdated FROM CONTENT_CHECKPOINTS WHERE flow = $flow ORDER BY lastUpdated";
            query.Parameters.AddWithValue("$flow", flow);
            using var reader = query.ExecuteReader();
            var list = new List<FileCheckpoint>();
            while (reader.Read())
            {
                list.Add(new FileCheckpoint(flow, reader.GetInt64(0), reader.GetString(1), (ulong)reader.GetInt64(2), (ulong)reader.GetInt64(3), (byte[])reader[4], reader.GetInt64(5), reader.GetInt64(6)));
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

    /// <summary>Forgets contents no file holds any more.</summary>
    public void Delete(string flow, IEnumerable<long> contents)
    {
        lock (_lock)
        {
            using var transaction = _db.BeginTransaction();
            foreach (var content in contents)
            {
                using var delete = _db.CreateCommand();
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM CONTENT_CHECKPOINTS WHERE flow = $flow AND content = $content";
                delete.Parameters.AddWithValue("$flow", flow);
                delete.Parameters.AddWithValue("$content", content);
                delete.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    /// <summary>
    /// Notes that the flow has started; false the first time. After its first start, a flow reads every file it has no
    /// checkpoint for from its first byte: such a file appeared while the agent was down.
    /// </summary>
    public bool MarkStarted(string flow, long nowMs)
    {
        lock (_lock)
        {
            using var insert = _db.CreateCommand();
            insert.CommandText = "INSERT OR IGNORE INTO FLOWS(flow, firstStarted) VALUES ($flow, $now)";
            insert.Parameters.AddWithValue("$flow", flow);
            insert.Parameters.AddWithValue("$now", nowMs);
            return insert.ExecuteNonQuery() == 0;
        }
    }

    private void Upsert(FileCheckpoint checkpoint, SqliteTransaction transaction)
    {
        using var upsert = _db.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO CONTENT_CHECKPOINTS(flow, content, path, device, inode, fingerprint, offset, lastUpdated)
            VALUES ($flow, $content, $path, $device, $inode, $fingerprint, $offset, $updated)
            ON CONFLICT(flow, content) DO UPDATE SET path = excluded.path, device = excluded.device, inode = excluded.inode,
                fingerprint = excluded.fingerprint, offset = excluded.offset, lastUpdated = excluded.lastUpdated
            """;
        upsert.Parameters.AddWithValue("$flow", checkpoint.Flow);
        upsert.Parameters.AddWithValue("$content", checkpoint.Content);
        upsert.Parameters.AddWithValue("$path", checkpoint.Path);
        upsert.Parameters.AddWithValue("$device", (long)checkpoint.Device);
        upsert.Parameters.AddWithValue("$inode", (long)checkpoint.Inode);
        upsert.Parameters.AddWithValue("$fingerprint", checkpoint.Fingerprint);
        upsert.Parameters.AddWithValue("$offset", checkpoint.Offset);
        upsert.Parameters.AddWithValue("$updated", checkpoint.UpdatedMs);
        upsert.ExecuteNonQuery();
    }

    /// <summary>Removes rows not updated for <paramref name="days"/> days (checkpointTimeToLiveDays). Flows touch the rows of
    /// files still on disk when they start, so only rows of files gone or of flows no longer configured expire.</summary>
    public int Expire(int days, long nowMs)
    {
        lock (_lock)
        {
            using var delete = _db.CreateCommand();
            delete.CommandText = "DELETE FROM CONTENT_CHECKPOINTS WHERE lastUpdated < $before";
            delete.Parameters.AddWithValue("$before", nowMs - (days * 86_400_000L));
            return delete.ExecuteNonQuery();
        }
    }

    public void Dispose() => _db.Dispose();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"CheckpointStore({_db.DataSource})");
}
