namespace Millrace.Storage.Delivery;

/// <summary>One delivery stream's durable state: its document (the service owns its JSON) and the id of the record-log stream that buffers it.</summary>
public sealed record StoredDeliveryStream(string Name, string Document, long BufferStreamId);

/// <summary>
/// Durable metadata of Firehose delivery streams: one document per stream and named checkpoints (how far delivery
/// got in the buffer, how far a Kinesis source was read in each shard). The buffered records themselves live in a
/// record log (<see cref="IRecordLog"/>), not here.
/// </summary>
public interface IDeliveryStreamStore : IDisposable
{
    /// <summary>Stores a new delivery stream; false when one of that name exists.</summary>
    ValueTask<bool> CreateAsync(StoredDeliveryStream stream, CancellationToken cancellationToken = default);

    ValueTask<StoredDeliveryStream?> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every delivery stream, in name order.</summary>
    ValueTask<IReadOnlyList<StoredDeliveryStream>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Replaces a stream's document; false when the stream is gone.</summary>
    ValueTask<bool> UpdateAsync(string name, string document, CancellationToken cancellationToken = default);

    /// <summary>Deletes a stream and its checkpoints; false when there is none.</summary>
    ValueTask<bool> DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every checkpoint of a stream, by key.</summary>
    ValueTask<IReadOnlyDictionary<string, string>> GetCheckpointsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Writes checkpoints of a stream in one transaction (durable when it returns).</summary>
    ValueTask PutCheckpointsAsync(string name, IReadOnlyList<KeyValuePair<string, string>> checkpoints, CancellationToken cancellationToken = default);
}

/// <summary>The embedded <see cref="IDeliveryStreamStore"/>: SQLite (WAL, synchronous=FULL) under &lt;data-dir&gt;/firehose/firehose.db.</summary>
public sealed class SqliteDeliveryStreamStore : IDeliveryStreamStore
{
    private readonly SerializedSqlite _sql;

    private SqliteDeliveryStreamStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteDeliveryStreamStore Open(string directory) => new(SerializedSqlite.Open(directory, "firehose.db", """
        CREATE TABLE IF NOT EXISTS delivery_streams (
            name TEXT NOT NULL PRIMARY KEY,
            document TEXT NOT NULL,
            buffer_stream_id INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS checkpoints (
            stream TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (stream, key)) WITHOUT ROWID;
        """));

    public void Dispose() => _sql.Dispose();

    public ValueTask<bool> CreateAsync(StoredDeliveryStream stream, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("INSERT OR IGNORE INTO delivery_streams (name, document, buffer_stream_id) VALUES ($n, $d, $b)", null,
                ("$n", stream.Name), ("$d", stream.Document), ("$b", stream.BufferStreamId));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public async ValueTask<StoredDeliveryStream?> GetAsync(string name, CancellationToken cancellationToken = default) =>
        (await _sql.QueryAsync("SELECT name, document, buffer_stream_id FROM delivery_streams WHERE name = $n", Read, cancellationToken, ("$n", name)))
            .FirstOrDefault();

    public ValueTask<IReadOnlyList<StoredDeliveryStream>> ListAsync(CancellationToken cancellationToken = default) =>
        _sql.QueryAsync("SELECT name, document, buffer_stream_id FROM delivery_streams ORDER BY name", Read, cancellationToken);

    public ValueTask<bool> UpdateAsync(string name, string document, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE delivery_streams SET document = $d WHERE name = $n", null, ("$n", name), ("$d", document));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<bool> DeleteAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var checkpoints = _sql.Command("DELETE FROM checkpoints WHERE stream = $n", tx, ("$n", name));
            checkpoints.ExecuteNonQuery();
            using var command = _sql.Command("DELETE FROM delivery_streams WHERE name = $n", tx, ("$n", name));
            var deleted = command.ExecuteNonQuery() == 1;
            tx.Commit();
            return deleted;
        }, cancellationToken);

    public async ValueTask<IReadOnlyDictionary<string, string>> GetCheckpointsAsync(string name, CancellationToken cancellationToken = default) =>
        (await _sql.QueryAsync("SELECT key, value FROM checkpoints WHERE stream = $n", r => (r.GetString(0), r.GetString(1)), cancellationToken, ("$n", name)))
            .ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);

    public ValueTask PutCheckpointsAsync(string name, IReadOnlyList<KeyValuePair<string, string>> checkpoints, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            foreach (var (key, value) in checkpoints)
            {
                using var command = _sql.Command("INSERT INTO checkpoints (stream, key, value) VALUES ($n, $k, $v) ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value",
                    tx, ("$n", name), ("$k", key), ("$v", value));
                command.ExecuteNonQuery();
            }

            tx.Commit();
        }, cancellationToken);

    private static StoredDeliveryStream Read(Microsoft.Data.Sqlite.SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2));
}
