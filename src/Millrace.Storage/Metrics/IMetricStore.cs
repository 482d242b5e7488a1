namespace Millrace.Storage.Metrics;

/// <summary>
/// What names a CloudWatch metric: its namespace, name and dimensions. Dimensions are kept sorted by name (ordinal),
/// so two identities with the same dimensions in another order are equal and share one stored metric.
/// </summary>
public sealed class MetricIdentity : IEquatable<MetricIdentity>
{
    public MetricIdentity(string @namespace, string metricName, IEnumerable<KeyValuePair<string, string>>? dimensions = null)
    {
        Namespace = @namespace;
        MetricName = metricName;
        Dimensions = (dimensions ?? []).OrderBy(d => d.Key, StringComparer.Ordinal).ToArray();
        DimensionsKey = string.Join('\n', Dimensions.Select(d => d.Key + "\u0001" + d.Value));
    }

    public string Namespace { get; }

    public string MetricName { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Dimensions { get; }

    /// <summary>The sorted dimensions as one string (control characters as separators), the stored metric's key.</summary>
    public string DimensionsKey { get; }

    public static IReadOnlyList<KeyValuePair<string, string>> ParseDimensions(string key) =>
        key.Length == 0
            ? []
            : key.Split('\n').Select(part => part.Split('\u0001', 2)).Select(p => KeyValuePair.Create(p[0], p.Length > 1 ? p[1] : "")).ToArray();

    public bool Equals(MetricIdentity? other) =>
        other is not null && Namespace == other.Namespace && MetricName == other.MetricName && DimensionsKey == other.DimensionsKey;

    public override bool Equals(object? obj) => Equals(obj as MetricIdentity);

    public override int GetHashCode() => HashCode.Combine(Namespace, MetricName, DimensionsKey);

    public override string ToString() => $"{Namespace}/{MetricName}[{string.Join(",", Dimensions.Select(d => d.Key + "=" + d.Value))}]";
}

/// <summary>
/// One aggregated datapoint: every value recorded for a metric and unit in the period starting at
/// <see cref="TimestampMs"/> (a whole minute, or a whole second for high-resolution metrics).
/// </summary>
public sealed record MetricDatapoint(
    MetricIdentity Metric,
    long TimestampMs,
    int ResolutionSeconds,
    string Unit,
    double Sum,
    double SampleCount,
    double Minimum,
    double Maximum);

/// <summary>A stored datapoint of one metric, read back for aggregation.</summary>
public readonly record struct StoredDatapoint(long TimestampMs, string Unit, double Sum, double SampleCount, double Minimum, double Maximum);

/// <summary>A stored metric as ListMetrics shows it.</summary>
public sealed record StoredMetric(long Id, MetricIdentity Metric, long LastTimestampMs);

/// <summary>An alarm as stored: its definition (the PutMetricAlarm input, as JSON) and its state.</summary>
public sealed record StoredAlarm(
    string Name,
    string Definition,
    string State,
    string StateReason,
    string? StateReasonData,
    long StateUpdatedMs,
    long ConfigurationUpdatedMs,
    bool ActionsEnabled);

/// <summary>
/// Durable CloudWatch metric data and alarms. Datapoints merge: writing a second datapoint for the same metric, unit
/// and period adds its sum and count and widens its minimum and maximum. Data older than the retention is removed by
/// <see cref="ExpireAsync"/>.
/// </summary>
public interface IMetricStore : IDisposable
{
    ValueTask MergeAsync(IReadOnlyList<MetricDatapoint> datapoints, CancellationToken cancellationToken = default);

    /// <summary>Datapoints of one metric with startMs &lt;= timestamp &lt; endMs, in timestamp order.</summary>
    ValueTask<IReadOnlyList<StoredDatapoint>> ReadAsync(MetricIdentity metric, long startMs, long endMs, CancellationToken cancellationToken = default);

    /// <summary>Metrics in id order after <paramref name="afterId"/>, optionally of one namespace and name, active since a time.</summary>
    ValueTask<IReadOnlyList<StoredMetric>> ListAsync(string? @namespace, string? metricName, long activeSinceMs, long afterId, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes minute datapoints before <paramref name="minuteCutoffMs"/> and second datapoints before <paramref name="secondCutoffMs"/>.</summary>
    ValueTask<long> ExpireAsync(long minuteCutoffMs, long secondCutoffMs, CancellationToken cancellationToken = default);

    ValueTask PutAlarmAsync(StoredAlarm alarm, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<StoredAlarm>> ListAlarmsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the named alarms; returns the names that did not exist.</summary>
    ValueTask<IReadOnlyList<string>> DeleteAlarmsAsync(IReadOnlyList<string> names, CancellationToken cancellationToken = default);

    /// <summary>Changes an alarm's state (if it still exists); returns whether it did.</summary>
    ValueTask<bool> SetAlarmStateAsync(string name, string state, string reason, string? reasonData, long nowMs, CancellationToken cancellationToken = default);

    ValueTask<bool> SetAlarmActionsAsync(string name, bool enabled, CancellationToken cancellationToken = default);
}
