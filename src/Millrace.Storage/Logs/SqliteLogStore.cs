using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Logs;

/// <summary>
/// The embedded <see cref="ILogStore"/>: one SQLite database (WAL, synchronous=FULL, so an acknowledged PutLogEvents
/// survives kill -9 and power loss) under &lt;data-dir&gt;/logs/logs.db. One connection serialised by a semaphore
/// keeps every append atomic with its stream's counters.
/// </summary>
public sealed class SqliteLogStore : ILogStore
{
    private const long DayMs = 86_400_000;

    private readonly SerializedSqlite _sql;

    private SqliteLogStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteLogStore Open(string directory) => new(SerializedSqlite.Open(directory, "logs.db", """
                CREATE TABLE IF NOT EXISTS log_groups (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    created_ms INTEGER NOT NULL,
                    retention_days INTEGER,
                    kms_key_id TEXT,
                    class TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    stored_bytes INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS log_streams (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    group_id INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    first_event_ms INTEGER,
                    last_event_ms INTEGER,
                    last_ingestion_ms INTEGER,
                    stored_bytes INTEGER NOT NULL DEFAULT 0,
                    upload_sequence INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (group_id, name));
                CREATE TABLE IF NOT EXISTS log_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    group_id INTEGER NOT NULL,
                    stream_id INTEGER NOT NULL,
                    ts INTEGER NOT NULL,
                    ingestion_ms INTEGER NOT NULL,
                    message TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, ts, id);
                CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_id, ts, id);
                """));

    public void Dispose() => _sql.Dispose();

    /// <summary>The group's id and the oldest timestamp its retention keeps at <paramref name="now"/>.</summary>
    private (long Id, long Cutoff)? GroupOf(string name, long now, SqliteTransaction? tx = null)
    {
        using var command = _sql.Command("SELECT id, retention_days FROM log_groups WHERE name = $n", tx, ("$n", name));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var cutoff = reader.IsDBNull(1) ? long.MinValue : now - (reader.GetInt64(1) * DayMs);
        return (reader.GetInt64(0), cutoff);
    }

    private long? StreamId(long groupId, string stream, SqliteTransaction? tx = null)
    {
        using var command = _sql.Command("SELECT id FROM log_streams WHERE group_id = $g AND name = $n", tx, ("$g", groupId), ("$n", stream));
        return command.ExecuteScalar() is long id ? id : null;
    }

    private static string EncodeTags(IReadOnlyDictionary<string, string> tags) => JsonSerializer.Serialize(tags);

    private static Dictionary<string, string> DecodeTags(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];

    private const string GroupColumns = "name, created_ms, retention_days, kms_key_id, class, tags, stored_bytes";

    private static LogGroupRecord ReadGroup(SqliteDataReader r) => new(
        r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetInt32(2), r.IsDBNull(3) ? null : r.GetString(3),
        r.GetString(4), DecodeTags(r.GetString(5)), r.GetInt64(6));

    public ValueTask<bool> CreateGroupAsync(string name, long creationTime, string? kmsKeyId, string logGroupClass,
        IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command(
                "INSERT OR IGNORE INTO log_groups (name, created_ms, kms_key_id, class, tags) VALUES ($n, $c, $k, $cl, $t)", null,
                ("$n", name), ("$c", creationTime), ("$k", kmsKeyId), ("$cl", logGroupClass), ("$t", EncodeTags(tags)));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<bool> DeleteGroupAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (GroupOf(name, 0, tx) is not { } group)
            {
                return false;
            }

            foreach (var sql in new[]
                     {
                         "DELETE FROM log_events WHERE group_id = $g", "DELETE FROM log_streams WHERE group_id = $g",
                         "DELETE FROM log_groups WHERE id = $g",
                     })
            {
                using var command = _sql.Command(sql, tx, ("$g", group.Id));
                command.ExecuteNonQuery();
            }

            tx.Commit();
            return true;
        }, cancellationToken);

    public ValueTask<LogGroupRecord?> GetGroupAsync(string name, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command($"SELECT {GroupColumns} FROM log_groups WHERE name = $n", null, ("$n", name));
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadGroup(reader) : null;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<LogGroupRecord>> ListGroupsAsync(string? afterName, string? prefix, string? contains, int limit,
        CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<IReadOnlyList<LogGroupRecord>>(() =>
        {
            // substr/instr rather than LIKE: group names may hold '_' and LIKE is case-insensitive for ASCII only.
            using var command = _sql.Command($"""
                SELECT {GroupColumns} FROM log_groups
                WHERE ($a IS NULL OR name > $a)
                  AND ($p IS NULL OR substr(name, 1, length($p)) = $p)
                  AND ($s IS NULL OR instr(lower(name), lower($s)) > 0)
                ORDER BY name LIMIT $l
                """, null, ("$a", afterName), ("$p", prefix), ("$s", contains), ("$l", limit));
            using var reader = command.ExecuteReader();
            var groups = new List<LogGroupRecord>();
            while (reader.Read())
            {
                groups.Add(ReadGroup(reader));
            }

            return groups;
        }, cancellationToken);

    public ValueTask<bool> SetRetentionAsync(string name, int? retentionInDays, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE log_groups SET retention_days = $r WHERE name = $n", null, ("$n", name), ("$r", retentionInDays));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<bool> TagGroupAsync(string name, IReadOnlyDictionary<string, string> add, IReadOnlyCollection<string> remove,
        CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var read = _sql.Command("SELECT tags FROM log_groups WHERE name = $n", tx, ("$n", name));
            if (read.ExecuteScalar() is not string json)
            {
                return false;
            }

            var tags = DecodeTags(json);
            foreach (var key in remove)
            {
                tags.Remove(key);
            }

            foreach (var (key, value) in add)
            {
                tags[key] = value;
            }

            using var write = _sql.Command("UPDATE log_groups SET tags = $t WHERE name = $n", tx, ("$n", name), ("$t", EncodeTags(tags)));
            write.ExecuteNonQuery();
            tx.Commit();
            return true;
        }, cancellationToken);

    public ValueTask<LogStoreOutcome> CreateStreamAsync(string group, string stream, long creationTime, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            if (GroupOf(group, 0) is not { } g)
            {
                return LogStoreOutcome.NoSuchGroup;
            }

            using var command = _sql.Command("INSERT OR IGNORE INTO log_streams (group_id, name, created_ms) VALUES ($g, $n, $c)", null,
                ("$g", g.Id), ("$n", stream), ("$c", creationTime));
            return command.ExecuteNonQuery() == 1 ? LogStoreOutcome.Done : LogStoreOutcome.AlreadyExists;
        }, cancellationToken);

    public ValueTask<LogStoreOutcome> DeleteStreamAsync(string group, string stream, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (GroupOf(group, 0, tx) is not { } g)
            {
                return LogStoreOutcome.NoSuchGroup;
            }

            if (StreamId(g.Id, stream, tx) is not { } streamId)
            {
                return LogStoreOutcome.NoSuchStream;
            }

            using (var bytes = _sql.Command("SELECT stored_bytes FROM log_streams WHERE id = $s", tx, ("$s", streamId)))
            using (var shrink = _sql.Command("UPDATE log_groups SET stored_bytes = max(0, stored_bytes - $b) WHERE id = $g", tx,
                       ("$g", g.Id), ("$b", (long)bytes.ExecuteScalar()!)))
            {
                shrink.ExecuteNonQuery();
            }

            foreach (var sql in new[] { "DELETE FROM log_events WHERE stream_id = $s", "DELETE FROM log_streams WHERE id = $s" })
            {
                using var command = _sql.Command(sql, tx, ("$s", streamId));
                command.ExecuteNonQuery();
            }

            tx.Commit();
            return LogStoreOutcome.Done;
        }, cancellationToken);

    public ValueTask<IReadOnlyList<LogStreamRecord>?> ListStreamsAsync(string group, string? prefix, bool orderByLastEventTime, bool descending,
        int offset, int limit, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<IReadOnlyList<LogStreamRecord>?>(() =>
        {
            if (GroupOf(group, 0) is not { } g)
            {
                return null;
            }

            var direction = descending ? "DESC" : "ASC";
            var order = orderByLastEventTime ? $"coalesce(last_event_ms, -1) {direction}, name {direction}" : $"name {direction}";
            using var command = _sql.Command($"""
                SELECT name, created_ms, first_event_ms, last_event_ms, last_ingestion_ms, stored_bytes, upload_sequence
                FROM log_streams WHERE group_id = $g AND ($p IS NULL OR substr(name, 1, length($p)) = $p)
                ORDER BY {order} LIMIT $l OFFSET $o
                """, null, ("$g", g.Id), ("$p", prefix), ("$l", limit), ("$o", offset));
            using var reader = command.ExecuteReader();
            var streams = new List<LogStreamRecord>();
            while (reader.Read())
            {
                streams.Add(new LogStreamRecord(reader.GetString(0), reader.GetInt64(1), NullableLong(reader, 2), NullableLong(reader, 3),
                    NullableLong(reader, 4), reader.GetInt64(5), reader.GetInt64(6)));
            }

            return streams;
        }, cancellationToken);

    private static long? NullableLong(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    public ValueTask<(LogStoreOutcome Outcome, long UploadSequence)> AppendAsync(string group, string stream, IReadOnlyList<NewLogEvent> events,
        long ingestionTime, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            if (GroupOf(group, 0, tx) is not { } g)
            {
                return (LogStoreOutcome.NoSuchGroup, 0L);
            }

            if (StreamId(g.Id, stream, tx) is not { } streamId)
            {
                return (LogStoreOutcome.NoSuchStream, 0L);
            }

            long bytes = 0, first = long.MaxValue, last = long.MinValue;
            using (var insert = _sql.Command("INSERT INTO log_events (group_id, stream_id, ts, ingestion_ms, message) VALUES ($g, $s, $t, $i, $m)", tx,
                       ("$g", g.Id), ("$s", streamId), ("$t", 0L), ("$i", ingestionTime), ("$m", string.Empty)))
            {
                insert.Prepare();
                foreach (var e in events)
                {
                    insert.Parameters["$t"].Value = e.Timestamp;
                    insert.Parameters["$m"].Value = e.Message;
                    insert.ExecuteNonQuery();
                    bytes += System.Text.Encoding.UTF8.GetByteCount(e.Message);
                    first = Math.Min(first, e.Timestamp);
                    last = Math.Max(last, e.Timestamp);
                }
            }

            using (var update = _sql.Command("""
                       UPDATE log_streams SET
                           first_event_ms = CASE WHEN $n = 0 THEN first_event_ms ELSE min(coalesce(first_event_ms, $f), $f) END,
                           last_event_ms = CASE WHEN $n = 0 THEN last_event_ms ELSE max(coalesce(last_event_ms, $l), $l) END,
                           last_ingestion_ms = $i,
                           stored_bytes = stored_bytes + $b,
                           upload_sequence = upload_sequence + 1
                       WHERE id = $s
                       """, tx, ("$s", streamId), ("$n", events.Count), ("$f", first), ("$l", last), ("$i", ingestionTime), ("$b", bytes)))
            {
                update.ExecuteNonQuery();
            }

            using (var grow = _sql.Command("UPDATE log_groups SET stored_bytes = stored_bytes + $b WHERE id = $g", tx, ("$g", g.Id), ("$b", bytes)))
            {
                grow.ExecuteNonQuery();
            }

            using var sequence = _sql.Command("SELECT upload_sequence FROM log_streams WHERE id = $s", tx, ("$s", streamId));
            var uploadSequence = (long)sequence.ExecuteScalar()!;
            tx.Commit();
            return (LogStoreOutcome.Done, uploadSequence);
        }, cancellationToken);

    public ValueTask<(LogStoreOutcome Outcome, IReadOnlyList<LogEventRecord> Events)> ReadStreamAsync(string group, string stream,
        long startTime, long endTimeExclusive, LogPosition from, bool forward, int limit, long now, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<(LogStoreOutcome, IReadOnlyList<LogEventRecord>)>(() =>
        {
            if (GroupOf(group, now) is not { } g)
            {
                return (LogStoreOutcome.NoSuchGroup, []);
            }

            if (StreamId(g.Id, stream) is not { } streamId)
            {
                return (LogStoreOutcome.NoSuchStream, []);
            }

            var after = forward ? "(ts > $pt OR (ts = $pt AND id > $pi))" : "(ts < $pt OR (ts = $pt AND id < $pi))";
            var order = forward ? "ts ASC, id ASC" : "ts DESC, id DESC";
            using var command = _sql.Command($"""
                SELECT id, ts, ingestion_ms, message FROM log_events
                WHERE stream_id = $s AND ts >= $start AND ts < $end AND ts >= $cutoff AND {after}
                ORDER BY {order} LIMIT $l
                """, null, ("$s", streamId), ("$start", startTime), ("$end", endTimeExclusive), ("$cutoff", g.Cutoff),
                ("$pt", from.Timestamp), ("$pi", from.Id), ("$l", limit));
            using var reader = command.ExecuteReader();
            var events = new List<LogEventRecord>();
            while (reader.Read())
            {
                events.Add(new LogEventRecord(reader.GetInt64(0), stream, reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3)));
            }

            if (!forward)
            {
                events.Reverse();
            }

            return (LogStoreOutcome.Done, events);
        }, cancellationToken);

    public ValueTask<(LogStoreOutcome Outcome, IReadOnlyList<LogEventRecord> Events)> ScanGroupAsync(string group, LogScan scan,
        LogPosition after, int limit, long now, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<(LogStoreOutcome, IReadOnlyList<LogEventRecord>)>(() =>
        {
            if (GroupOf(group, now) is not { } g)
            {
                return (LogStoreOutcome.NoSuchGroup, []);
            }

            var names = scan.StreamNames is null ? null : JsonSerializer.Serialize(scan.StreamNames);
            using var command = _sql.Command("""
                SELECT e.id, s.name, e.ts, e.ingestion_ms, e.message
                FROM log_events e JOIN log_streams s ON s.id = e.stream_id
                WHERE e.group_id = $g AND e.ts >= $start AND e.ts <= $end AND e.ts >= $cutoff
                  AND (e.ts > $pt OR (e.ts = $pt AND e.id > $pi))
                  AND ($names IS NULL OR s.name IN (SELECT value FROM json_each($names)))
                  AND ($p IS NULL OR substr(s.name, 1, length($p)) = $p)
                ORDER BY e.ts, e.id LIMIT $l
                """, null, ("$g", g.Id), ("$start", scan.StartTime), ("$end", scan.EndTime), ("$cutoff", g.Cutoff),
                ("$pt", after.Timestamp), ("$pi", after.Id), ("$names", names), ("$p", scan.StreamNamePrefix), ("$l", limit));
            using var reader = command.ExecuteReader();
            var events = new List<LogEventRecord>();
            while (reader.Read())
            {
                events.Add(new LogEventRecord(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4)));
            }

            return (LogStoreOutcome.Done, events);
        }, cancellationToken);

    public ValueTask<long> ExpireAsync(long now, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var delete = _sql.Command("""
                DELETE FROM log_events WHERE id IN (
                    SELECT e.id FROM log_events e JOIN log_groups g ON g.id = e.group_id
                    WHERE g.retention_days IS NOT NULL AND e.ts < $now - g.retention_days * $day)
                """, tx, ("$now", now), ("$day", DayMs));
            var deleted = (long)delete.ExecuteNonQuery();
            if (deleted > 0)
            {
                // Stored bytes follow what is left; a rare sweep can afford the recount.
                using var streams = _sql.Command("""
                    UPDATE log_streams SET stored_bytes = coalesce((SELECT sum(length(CAST(message AS BLOB))) FROM log_events WHERE stream_id = log_streams.id), 0),
                        first_event_ms = (SELECT min(ts) FROM log_events WHERE stream_id = log_streams.id)
                    """, tx);
                streams.ExecuteNonQuery();
                using var groups = _sql.Command(
                    "UPDATE log_groups SET stored_bytes = coalesce((SELECT sum(stored_bytes) FROM log_streams WHERE group_id = log_groups.id), 0)", tx);
                groups.ExecuteNonQuery();
            }

            tx.Commit();
            return deleted;
        }, cancellationToken);
}
