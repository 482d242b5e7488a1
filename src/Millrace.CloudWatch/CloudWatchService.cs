using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage.Metrics;

namespace Millrace.CloudWatch;

/// <summary>
/// CloudWatch metrics and alarms (<c>monitoring</c>, 2010-08-01) over a <see cref="MetricRecorder"/> and its store:
/// PutMetricData, GetMetricStatistics, GetMetricData (with metric math), ListMetrics and the metric-alarm operations,
/// with alarms evaluated over the stored data. Every protocol the model lists is served (rpc-v2-cbor, JSON 1.0 with
/// query-compatible errors, and the query protocol); parsing, validation and serialization come from the model.
/// </summary>
public sealed partial class CloudWatchService
{
    private const int MaxDatapointsPerCall = 1_440;
    private const int MaxListMetrics = 500;
    private const long RecentlyActiveMs = 3 * 3_600_000L;
    private const long TwoWeeksMs = 14 * 86_400_000L;
    private const long TwoHoursMs = 2 * 3_600_000L;

    private readonly MetricRecorder _recorder;
    private readonly CloudWatchOptions _options;

    public CloudWatchService(MetricRecorder recorder, CloudWatchOptions? options = null)
    {
        _recorder = recorder;
        _options = options ?? new CloudWatchOptions();
        Endpoint = new ModelService("cloudwatch", null, new ModelServiceOptions { ValidationErrorCode = "ValidationError" })
            .OnAsync("PutMetricData", PutMetricDataAsync)
            .OnAsync("GetMetricStatistics", GetMetricStatisticsAsync)
            .OnAsync("GetMetricData", GetMetricDataAsync)
            .OnAsync("ListMetrics", ListMetricsAsync)
            .OnAsync("PutMetricAlarm", PutMetricAlarmAsync)
            .OnAsync("DescribeAlarms", DescribeAlarmsAsync)
            .OnAsync("DescribeAlarmsForMetric", DescribeAlarmsForMetricAsync)
            .OnAsync("DeleteAlarms", DeleteAlarmsAsync)
            .OnAsync("SetAlarmState", SetAlarmStateAsync)
            .OnAsync("EnableAlarmActions", (input, ctx) => SetActionsAsync(input, true, ctx))
            .OnAsync("DisableAlarmActions", (input, ctx) => SetActionsAsync(input, false, ctx));
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    public MetricRecorder Recorder => _recorder;

    private IMetricStore Store => _recorder.Store;

    private long Now => _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Deletes data older than the retention now and then every <paramref name="period"/> until cancelled.</summary>
    public async Task RunRetentionSweepAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, _options.Clock);
        do
        {
            try
            {
                await Store.ExpireAsync(Now - (long)_options.Retention.TotalMilliseconds, Now - (long)_options.HighResolutionRetention.TotalMilliseconds, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Retried at the next tick; reads are not affected by data left a little longer.
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    // ---- PutMetricData ----

    private async Task<JsonObject?> PutMetricDataAsync(JsonObject input, OperationContext ctx)
    {
        var ns = Text(input, "Namespace")!;
        if (ns.StartsWith("AWS/", StringComparison.Ordinal))
        {
            throw Invalid($"The value {ns} for parameter Namespace is invalid.");
        }

        var data = input["MetricData"] as JsonArray ?? [];
        long now = Now;
        var points = new List<MetricDatapoint>();
        int index = 0;
        foreach (var node in data)
        {
            index++;
            var datum = (JsonObject)node!;
            var path = $"MetricData.member.{index}";
            var metric = new MetricIdentity(ns, Text(datum, "MetricName")!, DimensionsOf(datum["Dimensions"]));
            int resolution = (int)(ModelDocument.GetInt64(datum["StorageResolution"]) ?? 60);
            if (resolution is not (1 or 60))
            {
                throw Invalid($"The value {resolution} for parameter {path}.StorageResolution is invalid.");
            }

            long ts = ModelDocument.GetTimestamp(datum["Timestamp"])?.ToUnixTimeMilliseconds() ?? now;
            if (ts > now + TwoHoursMs)
            {
                throw Invalid($"The parameter {path}.Timestamp must specify a time no more than two hours in the future.");
            }

            if (ts < now - TwoWeeksMs)
            {
                throw Invalid($"The parameter {path}.Timestamp must specify a time within the past two weeks.");
            }

            long periodMs = resolution * 1000L;
            ts = Math.DivRem(ts, periodMs, out _) * periodMs;
            var unit = Text(datum, "Unit") ?? "None";
            var value = ModelDocument.GetDouble(datum["Value"]);
            var statistics = datum["StatisticValues"] as JsonObject;
            var values = datum["Values"] as JsonArray;
            var counts = datum["Counts"] as JsonArray;
            if (value is not null && statistics is not null)
            {
                throw Combination($"The parameters {path}.Value and {path}.StatisticValues are mutually exclusive and you have specified both.");
            }

            if ((value is not null || statistics is not null) && values is not null)
            {
                throw Combination($"The parameters {path}.Values and {path}.{(value is not null ? "Value" : "StatisticValues")} are mutually exclusive and you have specified both.");
            }

            if (statistics is not null)
            {
                double count = ModelDocument.GetDouble(statistics["SampleCount"]) ?? 0;
                if (count <= 0)
                {
                    throw Invalid($"The value {count.ToString(CultureInfo.InvariantCulture)} for parameter {path}.StatisticValues.SampleCount is invalid.");
                }

                double min = ModelDocument.GetDouble(statistics["Minimum"]) ?? 0, max = ModelDocument.GetDouble(statistics["Maximum"]) ?? 0;
                if (min > max)
                {
                    throw Invalid($"The parameters {path}.StatisticValues.Maximum must be greater than {path}.StatisticValues.Minimum.");
                }

                points.Add(new MetricDatapoint(metric, ts, resolution, unit, ModelDocument.GetDouble(statistics["Sum"]) ?? 0, count, min, max));
            }
            else if (values is not null)
            {
                if (counts is not null && counts.Count != values.Count)
                {
                    throw Invalid($"The parameters {path}.Values and {path}.Counts must be of the same size.");
                }

                if (values.Count == 0)
                {
                    continue;
                }

                double sum = 0, total = 0, lo = double.MaxValue, hi = double.MinValue;
                for (int i = 0; i < values.Count; i++)
                {
                    double v = ModelDocument.GetDouble(values[i]) ?? 0;
                    double c = counts is null ? 1 : ModelDocument.GetDouble(counts[i]) ?? 1;
                    sum += v * c;
                    total += c;
                    lo = Math.Min(lo, v);
                    hi = Math.Max(hi, v);
                }

                points.Add(new MetricDatapoint(metric, ts, resolution, unit, sum, total, lo, hi));
            }
            else if (value is { } v)
            {
                points.Add(new MetricDatapoint(metric, ts, resolution, unit, v, 1, v, v));
            }
            else
            {
                throw new ServiceException("MissingRequiredParameterException", $"The parameter {path}.Value is required.");
            }
        }

        // Acknowledged data is on disk: PutMetricData writes through, unlike the server's own per-minute counters.
        await Store.MergeAsync(points, ctx.Cancellation);
        return null;
    }

    // ---- GetMetricStatistics ----

    private async Task<JsonObject?> GetMetricStatisticsAsync(JsonObject input, OperationContext ctx)
    {
        var metric = new MetricIdentity(Text(input, "Namespace")!, Text(input, "MetricName")!, DimensionsOf(input["Dimensions"]));
        int period = (int)ModelDocument.GetInt64(input["Period"])!.Value;
        long start = ModelDocument.GetTimestamp(input["StartTime"])!.Value.ToUnixTimeMilliseconds();
        long end = ModelDocument.GetTimestamp(input["EndTime"])!.Value.ToUnixTimeMilliseconds();
        var statistics = Strings(input["Statistics"]);
        var extended = Strings(input["ExtendedStatistics"]);
        if (statistics.Count == 0 && extended.Count == 0)
        {
            throw new ServiceException("MissingRequiredParameterException", "Must specify either Statistics or ExtendedStatistics.");
        }

        if (statistics.Count > 0 && extended.Count > 0)
        {
            throw Combination("The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.");
        }

        foreach (var e in extended)
        {
            if (!Statistics.IsPercentile(e))
            {
                throw Invalid($"The value {e} for parameter ExtendedStatistics is not supported.");
            }
        }

        CheckPeriod(period, "Period");
        CheckRange(start, end, period);
        var unit = Text(input, "Unit");

        await _recorder.FlushAsync(ctx.Cancellation);
        var points = await Store.ReadAsync(metric, Statistics.AlignDown(start, period), end, ctx.Cancellation);
        var datapoints = new JsonArray();
        foreach (var a in Statistics.Aggregate(points, period, unit))
        {
            var d = new JsonObject { ["Timestamp"] = ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(a.StartMs)) };
            foreach (var s in statistics)
            {
                d[s] = a.Statistic(s);
            }

            if (extended.Count > 0)
            {
                d["ExtendedStatistics"] = new JsonObject(); // no distributions are kept: percentiles have no values
            }

            d["Unit"] = a.Unit;
            datapoints.Add(d);
        }

        return new JsonObject { ["Label"] = metric.MetricName, ["Datapoints"] = datapoints };
    }

    private static void CheckPeriod(int period, string parameter)
    {
        if (period <= 0 || (period % 60 != 0 && period is not (1 or 5 or 10 or 30)))
        {
            throw Invalid($"The parameter {parameter} must be 1, 5, 10, 30, or a multiple of 60.");
        }
    }

    private static void CheckRange(long start, long end, int period)
    {
        if (start >= end)
        {
            throw Invalid("The parameter StartTime must be less than the parameter EndTime.");
        }

        long requested = (end - Statistics.AlignDown(start, period) + period * 1000L - 1) / (period * 1000L);
        if (requested > MaxDatapointsPerCall)
        {
            throw Combination($"You have requested up to {requested:N0} datapoints, which exceeds the limit of {MaxDatapointsPerCall:N0}. " +
                              "You may reduce the datapoints requested by increasing Period, or decreasing the time range.");
        }
    }

    // ---- ListMetrics ----

    private async Task<JsonObject?> ListMetricsAsync(JsonObject input, OperationContext ctx)
    {
        await _recorder.FlushAsync(ctx.Cancellation);
        var filters = (input["Dimensions"] as JsonArray ?? []).Select(f => (Name: Text((JsonObject)f!, "Name")!, Value: Text((JsonObject)f!, "Value"))).ToList();
        long after = 0;
        if (Text(input, "NextToken") is { } token && !long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            throw new ServiceException("InvalidNextToken", "The service couldn't process your request because the next token is invalid.");
        }

        long since = Text(input, "RecentlyActive") == "PT3H" ? Now - RecentlyActiveMs : long.MinValue;
        var metrics = new JsonArray();
        string? next = null;
        while (metrics.Count < MaxListMetrics)
        {
            var page = await Store.ListAsync(Text(input, "Namespace"), Text(input, "MetricName"), since, after, MaxListMetrics, ctx.Cancellation);
            if (page.Count == 0)
            {
                break;
            }

            foreach (var m in page)
            {
                after = m.Id;
                if (filters.All(f => m.Metric.Dimensions.Any(d => d.Key == f.Name && (f.Value is null || d.Value == f.Value))))
                {
                    metrics.Add(MetricNode(m.Metric));
                    if (metrics.Count == MaxListMetrics)
                    {
                        next = after.ToString(CultureInfo.InvariantCulture);
                        break;
                    }
                }
            }
        }

        var output = new JsonObject { ["Metrics"] = metrics };
        if (next is not null)
        {
            output["NextToken"] = next;
        }

        return output;
    }

    // ---- helpers ----

    internal static JsonObject MetricNode(MetricIdentity metric) => new()
    {
        ["Namespace"] = metric.Namespace,
        ["MetricName"] = metric.MetricName,
        ["Dimensions"] = DimensionsNode(metric.Dimensions),
    };

    internal static JsonArray DimensionsNode(IReadOnlyList<KeyValuePair<string, string>> dimensions) =>
        [.. dimensions.Select(d => (JsonNode)new JsonObject { ["Name"] = d.Key, ["Value"] = d.Value })];

    internal static IEnumerable<KeyValuePair<string, string>> DimensionsOf(JsonNode? node) =>
        (node as JsonArray ?? []).Select(d => KeyValuePair.Create(Text((JsonObject)d!, "Name")!, Text((JsonObject)d!, "Value") ?? ""));

    internal static MetricIdentity MetricOf(JsonObject metric) =>
        new(Text(metric, "Namespace") ?? "", Text(metric, "MetricName") ?? "", DimensionsOf(metric["Dimensions"]));

    internal static string? Text(JsonObject o, string name) => ModelDocument.GetString(o[name]);

    private static List<string> Strings(JsonNode? node) => (node as JsonArray ?? []).Select(n => ModelDocument.GetString(n)!).ToList();

    internal static ServiceException Invalid(string message) => new("InvalidParameterValueException", message);

    internal static ServiceException Combination(string message) => new("InvalidParameterCombinationException", message);

    internal static string FormatNumber(double value) => value.ToString("0.0###############", CultureInfo.InvariantCulture);

    internal static string Utc(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("dd/MM/yy HH:mm:ss", CultureInfo.InvariantCulture);

}
