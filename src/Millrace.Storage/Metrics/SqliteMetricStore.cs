using Microsoft.Data.Sqlite;

namespace Millrace.Storage.Metrics;

/// <summary>
/// The embedded <see cref="IMetricStore"/>: one SQLite database under &lt;data-dir&gt;/cloudwatch/metrics.db. A
/// metric's datapoints are keyed (metric, timestamp, unit) without a rowid, so a day of one metric is one short range
/// scan of 1,440 rows.
/// </summary>
public sealed class SqliteMetricStore : IMetricStore
{
    private readonly SerializedSqlite _sql;
    private readonly Dictionary<MetricIdentity, long> _ids = [];

    private SqliteMetricStore(SerializedSqlite sql) => _sql = sql;

    public static SqliteMetricStore Open(string directory) => new(SerializedSqlite.Open(directory, "metrics.db", """
                CREATE TABLE IF NOT EXISTS metrics (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    dimensions TEXT NOT NULL,
                    last_ms INTEGER NOT NULL,
                    UNIQUE (namespace, name, dimensions));
                CREATE TABLE IF NOT EXISTS datapoints (
                    metric_id INTEGER NOT NULL,
                    ts INTEGER NOT NULL,
                    unit TEXT NOT NULL,
                    resolution INTEGER NOT NULL,
                    sum REAL NOT NULL,
                    count REAL NOT NULL,
                    min REAL NOT NULL,
                    max REAL NOT NULL,
                    PRIMARY KEY (metric_id, ts, unit)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS alarms (
                    name TEXT PRIMARY KEY,
                    definition TEXT NOT NULL,
                    state TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    reason_data TEXT,
                    state_ms INTEGER NOT NULL,
                    config_ms INTEGER NOT NULL,
                    actions_enabled INTEGER NOT NULL);
                """));

    public void Dispose() => _sql.Dispose();

    public ValueTask MergeAsync(IReadOnlyList<MetricDatapoint> datapoints, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var tx = _sql.BeginTransaction();
            using var upsert = _sql.Command("""
                INSERT INTO datapoints (metric_id, ts, unit, resolution, sum, count, min, max) VALUES ($m, $t, $u, $r, $s, $c, $lo, $hi)
                ON CONFLICT (metric_id, ts, unit) DO UPDATE SET
                    sum = sum + excluded.sum, count = count + excluded.count,
                    min = MIN(min, excluded.min), max = MAX(max, excluded.max), resolution = MIN(resolution, excluded.resolution)
                """, tx, ("$m", 0L), ("$t", 0L), ("$u", ""), ("$r", 60), ("$s", 0.0), ("$c", 0.0), ("$lo", 0.0), ("$hi", 0.0));
            using var touch = _sql.Command("UPDATE metrics SET last_ms = MAX(last_ms, $t) WHERE id = $m", tx, ("$m", 0L), ("$t", 0L));
            try
            {
                Merge(datapoints, upsert, touch, tx);
                tx.Commit();
            }
            catch
            {
                _ids.Clear(); // ids made by the rolled-back transaction are gone
                throw;
            }
        }, cancellationToken);

    private void Merge(IReadOnlyList<MetricDatapoint> datapoints, SqliteCommand upsert, SqliteCommand touch, SqliteTransaction tx)
    {
            foreach (var point in datapoints)
            {
                long id = IdOf(point.Metric, point.TimestampMs, tx);
                upsert.Parameters["$m"].Value = id;
                upsert.Parameters["$t"].Value = point.TimestampMs;
                upsert.Parameters["$u"].Value = point.Unit;
                upsert.Parameters["$r"].Value = point.ResolutionSeconds;
                upsert.Parameters["$s"].Value = point.Sum;
                upsert.Parameters["$c"].Value = point.SampleCount;
                upsert.Parameters["$lo"].Value = point.Minimum;
                upsert.Parameters["$hi"].Value = point.Maximum;
                upsert.ExecuteNonQuery();
                touch.Parameters["$m"].Value = id;
                touch.Parameters["$t"].Value = point.TimestampMs;
                touch.ExecuteNonQuery();
            }
    }

    /// <summary>The metric's id, created on first use (ids are cached: metrics are never deleted, only their data expires).</summary>
    private long IdOf(MetricIdentity metric, long timestampMs, SqliteTransaction tx)
    {
        if (_ids.TryGetValue(metric, out var id))
        {
            return id;
        }

        using (var insert = _sql.Command(
                   "INSERT OR IGNORE INTO metrics (namespace, name, dimensions, last_ms) VALUES ($n, $m, $d, $t)", tx,
                   ("$n", metric.Namespace), ("$m", metric.MetricName), ("$d", metric.DimensionsKey), ("$t", timestampMs)))
        {
            insert.ExecuteNonQuery();
        }

        using var select = _sql.Command("SELECT id FROM metrics WHERE namespace = $n AND name = $m AND dimensions = $d", tx,
            ("$n", metric.Namespace), ("$m", metric.MetricName), ("$d", metric.DimensionsKey));
        id = (long)select.ExecuteScalar()!;
        _ids[metric] = id;
        return id;
    }

    public ValueTask<IReadOnlyList<StoredDatapoint>> ReadAsync(MetricIdentity metric, long startMs, long endMs, CancellationToken cancellationToken = default) =>
        _sql.QueryAsync(
            """
            SELECT d.ts, d.unit, d.sum, d.count, d.min, d.max FROM metrics m JOIN datapoints d ON d.metric_id = m.id
            WHERE m.namespace = $n AND m.name = $m AND m.dimensions = $d AND d.ts >= $s AND d.ts < $e ORDER BY d.ts
            """,
            r => new StoredDatapoint(r.GetInt64(0), r.GetString(1), r.GetDouble(2), r.GetDouble(3), r.GetDouble(4), r.GetDouble(5)),
            cancellationToken, ("$n", metric.Namespace), ("$m", metric.MetricName), ("$d", metric.DimensionsKey), ("$s", startMs), ("$e", endMs));

    public ValueTask<IReadOnlyList<StoredMetric>> ListAsync(string? @namespace, string? metricName, long activeSinceMs, long afterId, int limit,
        CancellationToken cancellationToken = default) =>
        _sql.QueryAsync(
            """
            SELECT id, namespace, name, dimensions, last_ms FROM metrics
            WHERE id > $after AND ($n IS NULL OR namespace = $n) AND ($m IS NULL OR name = $m) AND last_ms >= $since
            ORDER BY id LIMIT $limit
            """,
            r => new StoredMetric(r.GetInt64(0), new MetricIdentity(r.GetString(1), r.GetString(2), MetricIdentity.ParseDimensions(r.GetString(3))), r.GetInt64(4)),
            cancellationToken, ("$after", afterId), ("$n", @namespace), ("$m", metricName), ("$since", activeSinceMs), ("$limit", limit));

    public ValueTask<long> ExpireAsync(long minuteCutoffMs, long secondCutoffMs, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command(
                "DELETE FROM datapoints WHERE ts < $minute OR (resolution < 60 AND ts < $second)", null,
                ("$minute", minuteCutoffMs), ("$second", secondCutoffMs));
            return (long)command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask PutAlarmAsync(StoredAlarm alarm, CancellationToken cancellationToken = default) =>
        _sql.WriteAsync(() =>
        {
            using var command = _sql.Command("""
                INSERT INTO alarms (name, definition, state, reason, reason_data, state_ms, config_ms, actions_enabled)
                VALUES ($n, $d, $s, $r, $rd, $sm, $cm, $a)
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, config_ms = excluded.config_ms, actions_enabled = excluded.actions_enabled
                """, null, ("$n", alarm.Name), ("$d", alarm.Definition), ("$s", alarm.State), ("$r", alarm.StateReason), ("$rd", alarm.StateReasonData),
                ("$sm", alarm.StateUpdatedMs), ("$cm", alarm.ConfigurationUpdatedMs), ("$a", alarm.ActionsEnabled ? 1 : 0));
            command.ExecuteNonQuery();
        }, cancellationToken);

    public ValueTask<IReadOnlyList<StoredAlarm>> ListAlarmsAsync(CancellationToken cancellationToken = default) =>
        _sql.QueryAsync(
            "SELECT name, definition, state, reason, reason_data, state_ms, config_ms, actions_enabled FROM alarms ORDER BY name",
            r => new StoredAlarm(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.GetInt64(5), r.GetInt64(6), r.GetInt64(7) != 0),
            cancellationToken);

    public ValueTask<IReadOnlyList<string>> DeleteAlarmsAsync(IReadOnlyList<string> names, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync<IReadOnlyList<string>>(() =>
        {
            using var tx = _sql.BeginTransaction();
            var missing = new List<string>();
            using var command = _sql.Command("DELETE FROM alarms WHERE name = $n", tx, ("$n", ""));
            foreach (var name in names)
            {
                command.Parameters["$n"].Value = name;
                if (command.ExecuteNonQuery() == 0)
                {
                    missing.Add(name);
                }
            }

            tx.Commit();
            return missing;
        }, cancellationToken);

    public ValueTask<bool> SetAlarmStateAsync(string name, string state, string reason, string? reasonData, long nowMs, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command(
                "UPDATE alarms SET state = $s, reason = $r, reason_data = $rd, state_ms = $t WHERE name = $n", null,
                ("$n", name), ("$s", state), ("$r", reason), ("$rd", reasonData), ("$t", nowMs));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public ValueTask<bool> SetAlarmActionsAsync(string name, bool enabled, CancellationToken cancellationToken = default) =>
        _sql.LockedAsync(() =>
        {
            using var command = _sql.Command("UPDATE alarms SET actions_enabled = $a WHERE name = $n", null, ("$n", name), ("$a", enabled ? 1 : 0));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
}
