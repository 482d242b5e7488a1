using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Millrace.Storage.Embedded;

namespace Millrace.Storage.Objects;

/// <summary>Options of the embedded object store.</summary>
public sealed class ObjectStoreOptions
{
    /// <summary>Root of the store, e.g. &lt;data-dir&gt;/s3.</summary>
    public required string DataDirectory { get; init; }

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>
/// The embedded <see cref="IObjectStore"/>. Object bytes live in content files named by random ids
/// (<c>blobs/&lt;2 hex&gt;/&lt;id&gt;</c>), never by key, so no key can reach outside the directory; the index is one
/// SQLite database (<c>index.db</c>, WAL, synchronous=FULL) keyed by (bucket, UTF-8 key bytes), whose memcmp order is
/// S3's binary order. A write fsyncs its file and the file's directory before its index row is committed, and
/// concurrent commits share one transaction (group commit), so an acknowledged object survives <c>kill -9</c> and an
/// unacknowledged one is never visible: files no row references are swept at open. A multipart object is the list
/// of its part files, so completing an upload copies nothing.
/// </summary>
public sealed class FileObjectStore : IObjectStore
{
    private const int MaxBatch = 256;
    // Unbuffered: callers write in large pooled chunks, and a per-object buffer would be a large-object-heap allocation.
    private const int WriteBufferBytes = 1;

    // Objects up to this size live in their index row: a 4 KiB PUT then costs one shared WAL fsync, not a file's
    // create, fsync, directory fsync and unlink.
    private const int InlineLimitBytes = 64 * 1024;

    private readonly string _blobRoot;
    private readonly SqliteConnection _writer;
    private readonly string _connectionString;
    private readonly ConcurrentBag<SqliteConnection> _readers = [];
    private readonly ConcurrentDictionary<string, BucketRecord> _buckets = new(StringComparer.Ordinal);
    private readonly Channel<PendingCommit> _commits = Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _committer;
    private int _disposed;

    private FileObjectStore(string root, SqliteConnection writer, string connectionString)
    {
        _blobRoot = Path.Combine(root, "blobs");
        _writer = writer;
        _connectionString = connectionString;
        _committer = Task.Run(CommitLoopAsync);
    }

    public static async ValueTask<IObjectStore> OpenAsync(ObjectStoreOptions options, CancellationToken ct = default)
    {
        var root = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(root);
        var blobs = Path.Combine(root, "blobs");
        Directory.CreateDirectory(blobs);
        DirectorySync.Fsync(root);
        DirectorySync.Fsync(blobs);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(root, "index.db"),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString();
        var writer = new SqliteConnection(connectionString);
        writer.Open();
        try
        {
            Execute(writer, "PRAGMA journal_mode=WAL;");
            Execute(writer, "PRAGMA synchronous=FULL;");
            Execute(writer, """
                CREATE TABLE IF NOT EXISTS buckets (
                    name TEXT NOT NULL PRIMARY KEY,
                    region TEXT NOT NULL,
                    created_ms INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS bucket_config (
                    bucket TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value BLOB NOT NULL,
                    PRIMARY KEY (bucket, name)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS objects (
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    size INTEGER NOT NULL,
                    etag TEXT NOT NULL,
                    modified_ms INTEGER NOT NULL,
                    metadata BLOB NOT NULL,
                    part_count INTEGER NOT NULL,
                    blobs TEXT NOT NULL,
                    inline BLOB,
                    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS uploads (
                    upload_id TEXT NOT NULL PRIMARY KEY,
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    initiated_ms INTEGER NOT NULL,
                    metadata BLOB NOT NULL) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
                CREATE TABLE IF NOT EXISTS parts (
                    upload_id TEXT NOT NULL,
                    part_number INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    etag TEXT NOT NULL,
                    modified_ms INTEGER NOT NULL,
                    metadata BLOB NOT NULL,
                    blob TEXT NOT NULL,
                    PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
                """);
        }
        catch
        {
            writer.Dispose();
            throw;
        }

        var store = new FileObjectStore(root, writer, connectionString);
        store.LoadBuckets();
        await Task.Run(store.SweepOrphans, ct);
        return store;
    }

    private static void Execute(SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection db, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = db.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private void LoadBuckets()
    {
        using var command = Command(_writer, "SELECT name, region, created_ms FROM buckets");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var bucket = new BucketRecord(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));
            _buckets[bucket.Name] = bucket;
        }
    }

    /// <summary>Deletes content files no committed object or part references (writes cut off by a crash).</summary>
    private void SweepOrphans()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        using (var command = Command(_writer, "SELECT blobs FROM objects WHERE blobs <> ''"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                foreach (var blob in BlobList.Parse(reader.GetString(0)))
                {
                    referenced.Add(blob.Id);
                }
            }
        }

        using (var command = Command(_writer, "SELECT blob FROM parts WHERE blob <> ''"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                referenced.Add(reader.GetString(0));
            }
        }

        foreach (var file in Directory.EnumerateFiles(_blobRoot, "*", SearchOption.AllDirectories))
        {
            if (!referenced.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
    }

    // ---- connections -------------------------------------------------------------------------------------------

    private T Read<T>(Func<SqliteConnection, T> work)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_readers.TryTake(out var db))
        {
            db = new SqliteConnection(_connectionString);
            db.Open();
        }

        try
        {
            return work(db);
        }
        finally
        {
            _readers.Add(db);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the next group-commit transaction and returns once it is durable;
    /// <paramref name="syncDirectory"/>, a directory holding a new content file, is fsynced (once per batch) first.
    /// </summary>
    private Task<T> WriteAsync<T>(Func<SqliteConnection, T> work, CancellationToken ct, string? syncDirectory = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var pending = new PendingCommit<T>(work) { SyncDirectory = syncDirectory };
        if (!_commits.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(FileObjectStore));
        }

        return pending.Task.WaitAsync(ct);
    }

    private async Task CommitLoopAsync()
    {
        var batch = new List<PendingCommit>(MaxBatch);
        while (await _commits.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && _commits.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            try
            {
                // New files' directory entries are made durable before any row names them: one fsync per directory
                // per batch (concurrent writes share a directory, see NewId).
                foreach (var directory in batch.Select(b => b.SyncDirectory).OfType<string>().Distinct(StringComparer.Ordinal))
                {
                    DirectorySync.Fsync(directory);
                }

                using var tx = _writer.BeginTransaction();
                int savepoint = 0;
                foreach (var item in batch)
                {
                    var name = "s" + savepoint++;
                    Execute(_writer, "SAVEPOINT " + name);
                    try
                    {
                        item.Run(_writer);
                        Execute(_writer, "RELEASE " + name);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        Execute(_writer, "ROLLBACK TO " + name);
                        Execute(_writer, "RELEASE " + name);
                        item.Fail(ex);
                    }
                }

                tx.Commit();
                foreach (var item in batch)
                {
                    item.Complete();
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                foreach (var item in batch)
                {
                    item.Fail(ex);
                }
            }

            batch.Clear();
        }
    }

    private abstract class PendingCommit
    {
        public string? SyncDirectory { get; init; }

        public abstract void Run(SqliteConnection db);

        /// <summary>Releases the caller once the transaction is committed (a failed item keeps its exception).</summary>
        public abstract void Complete();

        public abstract void Fail(Exception ex);
    }

    private sealed class PendingCommit<T>(Func<SqliteConnection, T> work) : PendingCommit
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public Task<T> Task => _done.Task;

        public override void Run(SqliteConnection db) => _result = work(db);

        public override void Complete()
        {
            if (_error is not null)
            {
                _done.TrySetException(_error);
            }
            else
            {
                _done.TrySetResult(_result!);
            }
        }

        public override void Fail(Exception ex)
        {
            _error = ex;
            _done.TrySetException(ex);
        }
    }

    // ---- buckets -----------------------------------------------------------------------------------------------

    private void RequireBucket(string bucket)
    {
        if (!_buckets.ContainsKey(bucket))
        {
            throw new NoSuchBucketException(bucket);
        }
    }

    public async ValueTask<bool> CreateBucketAsync(string bucket, string region, DateTimeOffset createdAt, CancellationToken ct = default)
    {
        var record = new BucketRecord(bucket, region, DateTimeOffset.FromUnixTimeMilliseconds(createdAt.ToUnixTimeMilliseconds()));
        bool created = await WriteAsync(db =>
        {
            using var command = Command(db, "INSERT OR IGNORE INTO buckets (name, region, created_ms) VALUES ($n, $r, $c)",
                ("$n", bucket), ("$r", region), ("$c", record.CreatedAt.ToUnixTimeMilliseconds()));
            return command.ExecuteNonQuery() == 1;
        }, ct);
        if (created)
        {
            _buckets[bucket] = record;
        }

        return created;
    }

    public ValueTask<BucketRecord?> GetBucketAsync(string bucket, CancellationToken ct = default) =>
        ValueTask.FromResult(_buckets.TryGetValue(bucket, out var record) ? record : null);

    public ValueTask<IReadOnlyList<BucketRecord>> ListBucketsAsync(CancellationToken ct = default) =>
        ValueTask.FromResult<IReadOnlyList<BucketRecord>>([.. _buckets.Values.OrderBy(b => b.Name, StringComparer.Ordinal)]);

    public async ValueTask<DeleteBucketOutcome> DeleteBucketAsync(string bucket, CancellationToken ct = default)
    {
        var outcome = await WriteAsync(db =>
        {
            using (var exists = Command(db, "SELECT 1 FROM buckets WHERE name = $b", ("$b", bucket)))
            {
                if (exists.ExecuteScalar() is null)
                {
                    return DeleteBucketOutcome.NoSuchBucket;
                }
            }

            using (var used = Command(db, "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = $b) OR EXISTS (SELECT 1 FROM uploads WHERE bucket = $b)", ("$b", bucket)))
            {
                if (Convert.ToInt64(used.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0)
                {
                    return DeleteBucketOutcome.NotEmpty;
                }
            }

            using var delete = Command(db, "DELETE FROM bucket_config WHERE bucket = $b; DELETE FROM buckets WHERE name = $b;", ("$b", bucket));
            delete.ExecuteNonQuery();
            return DeleteBucketOutcome.Deleted;
        }, ct);
        if (outcome == DeleteBucketOutcome.Deleted)
        {
            _buckets.TryRemove(bucket, out _);
        }

        return outcome;
    }

    public async ValueTask<bool> SetBucketConfigAsync(string bucket, string name, ReadOnlyMemory<byte>? value, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var bytes = value?.ToArray();
        return await WriteAsync(db =>
        {
            using var command = bytes is null
                ? Command(db, "DELETE FROM bucket_config WHERE bucket = $b AND name = $n", ("$b", bucket), ("$n", name))
                : Command(db, "INSERT OR REPLACE INTO bucket_config (bucket, name, value) VALUES ($b, $n, $v)", ("$b", bucket), ("$n", name), ("$v", bytes));
            return command.ExecuteNonQuery() > 0;
        }, ct);
    }

    public ValueTask<byte[]?> GetBucketConfigAsync(string bucket, string name, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        return ValueTask.FromResult(Read(db =>
        {
            using var command = Command(db, "SELECT value FROM bucket_config WHERE bucket = $b AND name = $n", ("$b", bucket), ("$n", name));
            return command.ExecuteScalar() as byte[];
        }));
    }

    // ---- objects -----------------------------------------------------------------------------------------------

    private static byte[] KeyBytes(string key) => Encoding.UTF8.GetBytes(key);

    /// <summary>
    /// A content file id: the hour it was written, then random hex. Files of one hour share a directory, so a batch of
    /// concurrent commits fsyncs one directory, not one per file.
    /// </summary>
    private static string NewId() =>
        DateTime.UtcNow.ToString("yyyyMMddHH", System.Globalization.CultureInfo.InvariantCulture) + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    private string BlobPath(string id) => Path.Combine(_blobRoot, id[..10], id);

    private string? _lastDirectory;

    /// <summary>The directory of a new content file, created (and its creation made durable) the first time.</summary>
    private string EnsureDirectory(string id)
    {
        var directory = Path.Combine(_blobRoot, id[..10]);
        if (!string.Equals(Volatile.Read(ref _lastDirectory), directory, StringComparison.Ordinal))
        {
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
                DirectorySync.Fsync(_blobRoot);
            }

            Volatile.Write(ref _lastDirectory, directory);
        }

        return directory;
    }

    private void DeleteBlobs(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            try
            {
                File.Delete(BlobPath(id)); // open readers keep their handles; the bytes go when they close
            }
            catch (IOException)
            {
                // Swept at the next open.
            }
        }
    }

    public ValueTask<IObjectWriter> BeginObjectAsync(string bucket, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        return ValueTask.FromResult<IObjectWriter>(new Writer(this, bucket, uploadId: null, partNumber: 0));
    }

    private const string ObjectColumns = "key, size, etag, modified_ms, metadata, part_count, blobs";

    private static (ObjectRecord Record, string Blobs) ReadObject(SqliteDataReader reader)
    {
        var key = Encoding.UTF8.GetString((byte[])reader.GetValue(0));
        var record = new ObjectRecord(key, reader.GetInt64(1), reader.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
            (byte[])reader.GetValue(4), reader.GetInt32(5));
        return (record, reader.GetString(6));
    }

    private (ObjectRecord Record, string Blobs, byte[]? Inline)? FindObject(string bucket, string key, bool withInline = false)
    {
        RequireBucket(bucket);
        return Read<(ObjectRecord, string, byte[]?)?>(db =>
        {
            using var command = Command(db, $"SELECT {ObjectColumns}{(withInline ? ", inline" : "")} FROM objects WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", KeyBytes(key)));
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            var (record, blobs) = ReadObject(reader);
            return (record, blobs, withInline && !reader.IsDBNull(7) ? (byte[])reader.GetValue(7) : null);
        });
    }

    public ValueTask<ObjectRecord?> GetObjectAsync(string bucket, string key, CancellationToken ct = default) =>
        ValueTask.FromResult(FindObject(bucket, key)?.Record);

    public ValueTask<IObjectReader?> OpenObjectAsync(string bucket, string key, CancellationToken ct = default)
    {
        // A concurrent overwrite may delete the files between the index read and the opens: read the index again.
        for (int attempt = 0; ; attempt++)
        {
            var found = FindObject(bucket, key, withInline: true);
            if (found is null)
            {
                return ValueTask.FromResult<IObjectReader?>(null);
            }

            if (found.Value.Inline is { } inline)
            {
                return ValueTask.FromResult<IObjectReader?>(new Reader(found.Value.Record, [], inline));
            }

            var blobs = BlobList.Parse(found.Value.Blobs);
            var handles = new List<(FileStream Stream, long Size)>(blobs.Count);
            try
            {
                foreach (var blob in blobs)
                {
                    handles.Add((new FileStream(BlobPath(blob.Id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous), blob.Size));
                }

                return ValueTask.FromResult<IObjectReader?>(new Reader(found.Value.Record, handles, null));
            }
            catch (FileNotFoundException) when (attempt < 5)
            {
                foreach (var (stream, _) in handles)
                {
                    stream.Dispose();
                }
            }
        }
    }

    public async ValueTask<bool> UpdateObjectMetadataAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var bytes = metadata.ToArray();
        return await WriteAsync(db =>
        {
            using var command = Command(db, "UPDATE objects SET metadata = $m WHERE bucket = $b AND key = $k", ("$m", bytes), ("$b", bucket), ("$k", KeyBytes(key)));
            return command.ExecuteNonQuery() == 1;
        }, ct);
    }

    public async ValueTask<bool> DeleteObjectAsync(string bucket, string key, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var old = await WriteAsync(db => RemoveObject(db, bucket, KeyBytes(key)), ct);
        if (old is null)
        {
            return false;
        }

        DeleteBlobs(old);
        return true;
    }

    /// <summary>Deletes an object row and returns its content file ids (null when there was none).</summary>
    private static List<string>? RemoveObject(SqliteConnection db, string bucket, byte[] key)
    {
        string? blobs;
        using (var select = Command(db, "SELECT blobs FROM objects WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", key)))
        {
            blobs = select.ExecuteScalar() as string;
        }

        if (blobs is null)
        {
            return null;
        }

        using var delete = Command(db, "DELETE FROM objects WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", key));
        delete.ExecuteNonQuery();
        return [.. BlobList.Parse(blobs).Select(b => b.Id)];
    }

    private static void RequireBucketRow(SqliteConnection db, string bucket)
    {
        using var exists = Command(db, "SELECT 1 FROM buckets WHERE name = $b", ("$b", bucket));
        if (exists.ExecuteScalar() is null)
        {
            throw new NoSuchBucketException(bucket);
        }
    }

    private async ValueTask<ObjectRecord?> CommitObjectAsync(string bucket, string key, long size, string blobs, ReadOnlyMemory<byte> metadata, string etag,
        DateTimeOffset lastModified, int partCount, bool onlyIfAbsent, IReadOnlyList<string> alsoDelete, Func<SqliteConnection, bool>? precondition, CancellationToken ct, string? syncDirectory = null, byte[]? inline = null)
    {
        var keyBytes = KeyBytes(key);
        var meta = metadata.ToArray();
        var modified = lastModified.ToUnixTimeMilliseconds();
        var record = new ObjectRecord(key, size, etag, DateTimeOffset.FromUnixTimeMilliseconds(modified), meta, partCount);
        var replaced = await WriteAsync<List<string>?>(db =>
        {
            RequireBucketRow(db, bucket);
            if (precondition is not null && !precondition(db))
            {
                throw new InvalidOperationException("precondition failed");
            }

            if (onlyIfAbsent)
            {
                using var exists = Command(db, "SELECT 1 FROM objects WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", keyBytes));
                if (exists.ExecuteScalar() is not null)
                {
                    return null;
                }
            }

            var old = RemoveObject(db, bucket, keyBytes) ?? [];
            using var insert = Command(db,
                "INSERT INTO objects (bucket, key, size, etag, modified_ms, metadata, part_count, blobs, inline) VALUES ($b, $k, $s, $e, $t, $m, $p, $l, $i)",
                ("$b", bucket), ("$k", keyBytes), ("$s", size), ("$e", etag), ("$t", modified), ("$m", meta), ("$p", partCount), ("$l", blobs), ("$i", inline));
            insert.ExecuteNonQuery();
            return old;
        }, ct, syncDirectory);
        if (replaced is null)
        {
            return null;
        }

        DeleteBlobs(replaced.Concat(alsoDelete));
        return record;
    }

    public ValueTask<ListObjectsPage> ListObjectsAsync(string bucket, ListObjectsQuery query, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        return ValueTask.FromResult(Read(db => List(db, bucket, query)));
    }

    /// <summary>
    /// Walks the index from the start position; a key that rolls up into a common prefix moves the cursor past
    /// everything under that prefix in one seek.
    /// </summary>
    private static ListObjectsPage List(SqliteConnection db, string bucket, ListObjectsQuery query)
    {
        var prefix = KeyBytes(query.Prefix ?? "");
        var prefixEnd = Successor(prefix);
        var delimiter = string.IsNullOrEmpty(query.Delimiter) ? null : KeyBytes(query.Delimiter);
        byte[] cursor = prefix;
        bool inclusive = true;
        if (query.StartAfter is { Length: > 0 } startAfter)
        {
            var after = KeyBytes(startAfter);
            if (after.AsSpan().SequenceCompareTo(prefix) >= 0)
            {
                cursor = after;
                inclusive = false;
                // A marker that is itself a common prefix (a NextMarker) skips everything under it.
                if (delimiter is not null && after.AsSpan().StartsWith(prefix) && CommonPrefix(after, prefix.Length, delimiter) is { } own && own.Length == after.Length)
                {
                    if (Successor(after) is not { } past)
                    {
                        return new ListObjectsPage([], [], false, null);
                    }

                    cursor = past;
                    inclusive = true;
                }
            }
        }

        var contents = new List<ObjectRecord>();
        var prefixes = new List<string>();
        int max = Math.Max(0, query.MaxKeys);
        if (max == 0)
        {
            return new ListObjectsPage(contents, prefixes, false, null);
        }

        string? lastReturned = null;
        while (true)
        {
            // One row more than there is room for tells whether the page is truncated.
            int batch = Math.Min(max - contents.Count - prefixes.Count + 1, 1001);
            using var command = Command(db,
                $"SELECT {ObjectColumns} FROM objects WHERE bucket = $b AND key {(inclusive ? ">=" : ">")} $c" + (prefixEnd is null ? "" : " AND key < $e") + " ORDER BY key LIMIT $n",
                ("$b", bucket), ("$c", cursor), ("$e", prefixEnd), ("$n", batch));
            using var reader = command.ExecuteReader();
            int rows = 0;
            bool seeked = false;
            while (reader.Read())
            {
                rows++;
                if (contents.Count + prefixes.Count == max)
                {
                    return new ListObjectsPage(contents, prefixes, true, lastReturned);
                }

                var keyBytes = (byte[])reader.GetValue(0);
                if (delimiter is not null && CommonPrefix(keyBytes, prefix.Length, delimiter) is { } common)
                {
                    var text = Encoding.UTF8.GetString(common);
                    prefixes.Add(text);
                    lastReturned = text;
                    if (Successor(common) is not { } past)
                    {
                        return new ListObjectsPage(contents, prefixes, false, null);
                    }

                    cursor = past;
                    inclusive = true;
                    seeked = true;
                    break;
                }

                var (record, _) = ReadObject(reader);
                contents.Add(record);
                lastReturned = record.Key;
                cursor = keyBytes;
                inclusive = false;
            }

            if (!seeked && rows < batch)
            {
                return new ListObjectsPage(contents, prefixes, false, null); // the range is exhausted
            }
        }
    }

    /// <summary>The key's common prefix: up to and including the first delimiter after the listing prefix, or null.</summary>
    private static byte[]? CommonPrefix(byte[] key, int prefixLength, byte[] delimiter)
    {
        int at = key.AsSpan(prefixLength).IndexOf(delimiter);
        return at < 0 ? null : key[..(prefixLength + at + delimiter.Length)];
    }

    /// <summary>The smallest byte string greater than every string that starts with <paramref name="prefix"/>; null when none is.</summary>
    private static byte[]? Successor(byte[] prefix)
    {
        int end = prefix.Length;
        while (end > 0 && prefix[end - 1] == 0xFF)
        {
            end--;
        }

        if (end == 0)
        {
            return null;
        }

        var next = prefix[..end];
        next[end - 1]++;
        return next;
    }

    // ---- multipart ---------------------------------------------------------------------------------------------

    public async ValueTask<string> CreateMultipartUploadAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, DateTimeOffset initiated, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        // Time first, so that ids of one key sort in initiation order.
        var uploadId = initiated.UtcTicks.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + NewId();
        var meta = metadata.ToArray();
        await WriteAsync(db =>
        {
            RequireBucketRow(db, bucket);
            using var insert = Command(db, "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, metadata) VALUES ($u, $b, $k, $t, $m)",
                ("$u", uploadId), ("$b", bucket), ("$k", KeyBytes(key)), ("$t", initiated.ToUnixTimeMilliseconds()), ("$m", meta));
            return insert.ExecuteNonQuery();
        }, ct);
        return uploadId;
    }

    public ValueTask<MultipartUploadRecord?> GetMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        return ValueTask.FromResult(Read(db => FindUpload(db, bucket, uploadId)));
    }

    private static MultipartUploadRecord? FindUpload(SqliteConnection db, string bucket, string uploadId)
    {
        using var command = Command(db, "SELECT upload_id, key, initiated_ms, metadata FROM uploads WHERE upload_id = $u AND bucket = $b", ("$u", uploadId), ("$b", bucket));
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadUpload(reader) : null;
    }

    private static MultipartUploadRecord ReadUpload(SqliteDataReader reader) =>
        new(reader.GetString(0), Encoding.UTF8.GetString((byte[])reader.GetValue(1)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), (byte[])reader.GetValue(3));

    public ValueTask<IObjectWriter> BeginPartAsync(string bucket, string uploadId, int partNumber, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        if (Read(db => FindUpload(db, bucket, uploadId)) is null)
        {
            throw new NoSuchUploadException(uploadId);
        }

        return ValueTask.FromResult<IObjectWriter>(new Writer(this, bucket, uploadId, partNumber));
    }

    public ValueTask<IReadOnlyList<PartRecord>> ListPartsAsync(string bucket, string uploadId, int partNumberMarker = 0, int maxParts = 10_000, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        return ValueTask.FromResult(Read<IReadOnlyList<PartRecord>>(db =>
        {
            if (FindUpload(db, bucket, uploadId) is null)
            {
                throw new NoSuchUploadException(uploadId);
            }

            return ReadParts(db, uploadId, partNumberMarker, maxParts).Select(p => p.Record).ToList();
        }));
    }

    private static List<(PartRecord Record, string Blob)> ReadParts(SqliteConnection db, string uploadId, int marker, int max)
    {
        using var command = Command(db,
            "SELECT part_number, size, etag, modified_ms, metadata, blob FROM parts WHERE upload_id = $u AND part_number > $m ORDER BY part_number LIMIT $n",
            ("$u", uploadId), ("$m", marker), ("$n", max));
        using var reader = command.ExecuteReader();
        var parts = new List<(PartRecord, string)>();
        while (reader.Read())
        {
            parts.Add((new PartRecord(reader.GetInt32(0), reader.GetInt64(1), reader.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), (byte[])reader.GetValue(4)),
                reader.GetString(5)));
        }

        return parts;
    }

    public ValueTask<IReadOnlyList<MultipartUploadRecord>> ListMultipartUploadsAsync(string bucket, string? prefix, string? keyMarker, string? uploadIdMarker, int maxUploads, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var prefixBytes = KeyBytes(prefix ?? "");
        var prefixEnd = Successor(prefixBytes);
        var marker = KeyBytes(keyMarker ?? "");
        return ValueTask.FromResult(Read<IReadOnlyList<MultipartUploadRecord>>(db =>
        {
            var sql = "SELECT upload_id, key, initiated_ms, metadata FROM uploads WHERE bucket = $b AND key >= $p"
                + (prefixEnd is null ? "" : " AND key < $e")
                + (keyMarker is null ? "" : uploadIdMarker is null ? " AND key > $km" : " AND (key > $km OR (key = $km AND upload_id > $um))")
                + " ORDER BY key, upload_id LIMIT $n";
            using var command = Command(db, sql, ("$b", bucket), ("$p", prefixBytes), ("$e", prefixEnd), ("$km", marker), ("$um", uploadIdMarker), ("$n", maxUploads));
            using var reader = command.ExecuteReader();
            var uploads = new List<MultipartUploadRecord>();
            while (reader.Read())
            {
                uploads.Add(ReadUpload(reader));
            }

            return uploads;
        }));
    }

    public async ValueTask<bool> AbortMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var blobs = await WriteAsync<List<string>?>(db =>
        {
            if (FindUpload(db, bucket, uploadId) is null)
            {
                return null;
            }

            var parts = ReadParts(db, uploadId, 0, int.MaxValue).Select(p => p.Blob).ToList();
            using var delete = Command(db, "DELETE FROM parts WHERE upload_id = $u; DELETE FROM uploads WHERE upload_id = $u;", ("$u", uploadId));
            delete.ExecuteNonQuery();
            return parts;
        }, ct);
        if (blobs is null)
        {
            return false;
        }

        DeleteBlobs(blobs.Where(b => b.Length > 0));
        return true;
    }

    public async ValueTask<ObjectRecord> CompleteMultipartUploadAsync(string bucket, string uploadId, IReadOnlyList<int> partNumbers, ReadOnlyMemory<byte> metadata, string etag,
        DateTimeOffset lastModified, CancellationToken ct = default)
    {
        RequireBucket(bucket);
        var keyAndParts = Read(db =>
        {
            var upload = FindUpload(db, bucket, uploadId) ?? throw new NoSuchUploadException(uploadId);
            return (upload.Key, Parts: ReadParts(db, uploadId, 0, int.MaxValue));
        });
        var byNumber = keyAndParts.Parts.ToDictionary(p => p.Record.PartNumber);
        var chosen = new List<BlobList.Entry>(partNumbers.Count);
        long size = 0;
        foreach (var number in partNumbers)
        {
            if (!byNumber.TryGetValue(number, out var part))
            {
                throw new ArgumentException($"part {number} of upload {uploadId} does not exist", nameof(partNumbers));
            }

            size += part.Record.Size;
            if (part.Blob.Length > 0)
            {
                chosen.Add(new BlobList.Entry(part.Blob, part.Record.Size));
            }
        }

        var used = chosen.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var unused = keyAndParts.Parts.Select(p => p.Blob).Where(b => b.Length > 0 && !used.Contains(b)).ToList();
        var snapshot = keyAndParts.Parts.ToDictionary(p => p.Record.PartNumber, p => p.Blob);
        var record = await CommitObjectAsync(bucket, keyAndParts.Key, size, BlobList.Format(chosen), metadata, etag, lastModified, partNumbers.Count, onlyIfAbsent: false,
            unused, db =>
            {
                // The upload and its parts must be as read above (no concurrent abort, complete or part replacement).
                var now = ReadParts(db, uploadId, 0, int.MaxValue);
                if (FindUpload(db, bucket, uploadId) is null || now.Count != snapshot.Count || now.Any(p => !snapshot.TryGetValue(p.Record.PartNumber, out var b) || b != p.Blob))
                {
                    throw new NoSuchUploadException(uploadId);
                }

                using var delete = Command(db, "DELETE FROM parts WHERE upload_id = $u; DELETE FROM uploads WHERE upload_id = $u;", ("$u", uploadId));
                delete.ExecuteNonQuery();
                return true;
            }, ct);
        return record!;
    }

    private async ValueTask<PartRecord> CommitPartAsync(string bucket, string uploadId, int partNumber, long size, string blob, ReadOnlyMemory<byte> metadata, string etag,
        DateTimeOffset lastModified, CancellationToken ct, string? syncDirectory)
    {
        var meta = metadata.ToArray();
        var modified = lastModified.ToUnixTimeMilliseconds();
        var old = await WriteAsync(db =>
        {
            if (FindUpload(db, bucket, uploadId) is null)
            {
                throw new NoSuchUploadException(uploadId);
            }

            string? previous;
            using (var select = Command(db, "SELECT blob FROM parts WHERE upload_id = $u AND part_number = $p", ("$u", uploadId), ("$p", partNumber)))
            {
                previous = select.ExecuteScalar() as string;
            }

            using var upsert = Command(db,
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, modified_ms, metadata, blob) VALUES ($u, $p, $s, $e, $t, $m, $l)",
                ("$u", uploadId), ("$p", partNumber), ("$s", size), ("$e", etag), ("$t", modified), ("$m", meta), ("$l", blob));
            upsert.ExecuteNonQuery();
            return previous;
        }, ct, syncDirectory);
        if (!string.IsNullOrEmpty(old))
        {
            DeleteBlobs([old]);
        }

        return new PartRecord(partNumber, size, etag, DateTimeOffset.FromUnixTimeMilliseconds(modified), meta);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _commits.Writer.TryComplete();
        await _committer;
        _writer.Dispose();
        while (_readers.TryTake(out var reader))
        {
            reader.Dispose();
        }
    }

    // ---- content files -----------------------------------------------------------------------------------------

    /// <summary>
    /// Writes an object's or a part's bytes. A small object stays in memory and is committed inside its index row
    /// (no file, no file fsync: the group commit's one WAL fsync covers it); anything larger, and every part, goes
    /// to a new content file that commit fsyncs before the row is written.
    /// </summary>
    private sealed class Writer : IObjectWriter
    {
        private readonly FileObjectStore _store;
        private readonly string _bucket;
        private readonly string? _uploadId;
        private readonly int _partNumber;
        private readonly SpillStream _content;
        private bool _committed;

        public Writer(FileObjectStore store, string bucket, string? uploadId, int partNumber)
        {
            _store = store;
            _bucket = bucket;
            _uploadId = uploadId;
            _partNumber = partNumber;
            _content = new SpillStream(store, uploadId is null ? InlineLimitBytes : 0);
        }

        public Stream Content => _content;

        public long Length => _content.Length;

        public async ValueTask<ObjectRecord?> CommitAsync(string key, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, bool onlyIfAbsent = false, CancellationToken ct = default)
        {
            if (_uploadId is not null)
            {
                throw new InvalidOperationException("a part writer commits with CommitPartAsync");
            }

            ObjectDisposedException.ThrowIf(_committed, this);
            var (id, inline) = await _content.SealAsync(ct);
            long length = _content.Length;
            var blobs = id is null ? "" : BlobList.Format([new BlobList.Entry(id, length)]);
            var record = await _store.CommitObjectAsync(_bucket, key, length, blobs, metadata, etag, lastModified, 0, onlyIfAbsent, [], null, ct, _content.Directory, inline);
            _committed = record is not null;
            return record;
        }

        public async ValueTask<PartRecord> CommitPartAsync(string etag, ReadOnlyMemory<byte> metadata, DateTimeOffset lastModified, CancellationToken ct = default)
        {
            if (_uploadId is null)
            {
                throw new InvalidOperationException("an object writer commits with CommitAsync");
            }

            ObjectDisposedException.ThrowIf(_committed, this);
            var (id, _) = await _content.SealAsync(ct);
            var part = await _store.CommitPartAsync(_bucket, _uploadId, _partNumber, _content.Length, id ?? "", metadata, etag, lastModified, ct, _content.Directory);
            _committed = true;
            return part;
        }

        public async ValueTask DisposeAsync() => await _content.DiscardAsync(keepFile: _committed);
    }

    /// <summary>Bytes kept in a pooled buffer up to a limit, then in a new content file (unbuffered).</summary>
    private sealed class SpillStream(FileObjectStore store, int inlineLimit) : Stream
    {
        private byte[]? _buffer = inlineLimit > 0 ? System.Buffers.ArrayPool<byte>.Shared.Rent(inlineLimit) : null;
        private int _buffered;
        private FileStream? _file;
        private string? _id;
        private string? _path;
        private long _length;
        private bool _sealed;

        /// <summary>The directory of the content file, if the bytes went to one.</summary>
        public string? Directory { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => !_sealed;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        private void Spill()
        {
            _id = NewId();
            Directory = store.EnsureDirectory(_id);
            _path = store.BlobPath(_id);
            _file = new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.None, WriteBufferBytes, FileOptions.Asynchronous);
            if (_buffered > 0)
            {
                _file.Write(_buffer!, 0, _buffered);
            }

            ReturnBuffer();
        }

        private void ReturnBuffer()
        {
            if (_buffer is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> data)
        {
            ObjectDisposedException.ThrowIf(_sealed, this);
            if (_file is null && _buffer is not null && _buffered + data.Length <= inlineLimit)
            {
                data.CopyTo(_buffer.AsSpan(_buffered));
                _buffered += data.Length;
            }
            else
            {
                if (_file is null)
                {
                    Spill();
                }

                _file!.Write(data);
            }

            _length += data.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_sealed, this);
            if (_file is null && _buffer is not null && _buffered + data.Length <= inlineLimit)
            {
                data.Span.CopyTo(_buffer.AsSpan(_buffered));
                _buffered += data.Length;
            }
            else
            {
                if (_file is null)
                {
                    Spill();
                }

                await _file!.WriteAsync(data, cancellationToken);
            }

            _length += data.Length;
        }

        /// <summary>Ends the writes: a file is fsynced (its id returned), small content is returned as the inline bytes.</summary>
        public async Task<(string? Id, byte[]? Inline)> SealAsync(CancellationToken ct)
        {
            ObjectDisposedException.ThrowIf(_sealed, this);
            _sealed = true;
            if (_file is null)
            {
                var inline = _buffer is null ? [] : _buffer.AsSpan(0, _buffered).ToArray();
                ReturnBuffer();
                return (null, inline);
            }

            await _file.FlushAsync(ct);
            _file.Flush(flushToDisk: true);
            await _file.DisposeAsync();
            _file = null;
            return (_id, null);
        }

        /// <summary>Releases the buffer and the file handle; an uncommitted file is deleted (or swept at the next open).</summary>
        public async ValueTask DiscardAsync(bool keepFile)
        {
            _sealed = true;
            ReturnBuffer();
            if (_file is not null)
            {
                await _file.DisposeAsync();
                _file = null;
            }

            if (!keepFile && _path is not null)
            {
                try
                {
                    File.Delete(_path);
                }
                catch (IOException)
                {
                    // Swept at the next open.
                }
            }
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>An object's content files, all opened up front, read as one byte range.</summary>
    private sealed class Reader(ObjectRecord record, List<(FileStream Stream, long Size)> parts, byte[]? inline) : IObjectReader
    {
        public ObjectRecord Object => record;

        public async Task CopyToAsync(Stream destination, long offset, long length, CancellationToken ct = default)
        {
            await using var range = OpenRange(offset, length);
            await range.CopyToAsync(destination, 128 * 1024, ct);
        }

        public Stream OpenRange(long offset, long length)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            if (offset + length > record.Size)
            {
                throw new ArgumentOutOfRangeException(nameof(length), "the range ends after the object");
            }

            return inline is not null ? new MemoryStream(inline, (int)offset, (int)length, writable: false) : new RangeStream(parts, offset, length);
        }

        public ValueTask DisposeAsync()
        {
            foreach (var (stream, _) in parts)
            {
                stream.Dispose();
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A read-only stream over a range of concatenated files, read with positional reads (no shared position).</summary>
    private sealed class RangeStream(List<(FileStream Stream, long Size)> parts, long offset, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!Locate(buffer.Length, out var handle, out var at, out var take))
            {
                return 0;
            }

            int read = RandomAccess.Read(handle, buffer[..take], at);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!Locate(buffer.Length, out var handle, out var at, out var take))
            {
                return 0;
            }

            int read = await RandomAccess.ReadAsync(handle, buffer[..take], at, cancellationToken);
            if (read == 0)
            {
                throw new IOException("an object's content file is shorter than its index says");
            }

            _position += read;
            return read;
        }

        private bool Locate(int count, out Microsoft.Win32.SafeHandles.SafeFileHandle handle, out long at, out int take)
        {
            handle = null!;
            at = 0;
            take = 0;
            long remaining = length - _position;
            if (remaining <= 0 || count == 0)
            {
                return false;
            }

            long absolute = offset + _position;
            foreach (var (stream, size) in parts)
            {
                if (absolute < size)
                {
                    handle = stream.SafeFileHandle;
                    at = absolute;
                    take = (int)Math.Min(Math.Min(count, remaining), size - absolute);
                    return true;
                }

                absolute -= size;
            }

            return false;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>An object's content files in order, stored as <c>id:size,id:size</c>.</summary>
    private static class BlobList
    {
        public readonly record struct Entry(string Id, long Size);

        public static List<Entry> Parse(string text)
        {
            var entries = new List<Entry>();
            if (text.Length == 0)
            {
                return entries;
            }

            foreach (var item in text.Split(','))
            {
                int colon = item.IndexOf(':', StringComparison.Ordinal);
                entries.Add(new Entry(item[..colon], long.Parse(item.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture)));
            }

            return entries;
        }

        public static string Format(IEnumerable<Entry> entries) =>
            string.Join(',', entries.Select(e => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{e.Id}:{e.Size}")));
    }
}
