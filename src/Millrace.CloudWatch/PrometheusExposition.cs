using System.Text;
using Microsoft.AspNetCore.Http;
using Millrace.Storage.Metrics;
using Prometheus;

namespace Millrace.CloudWatch;

/// <summary>
/// <c>GET /metrics</c>: the metrics the services record, in the Prometheus text format under CloudWatch's names made
/// Prometheus-shaped (<c>AWS/Kinesis</c> <c>IncomingRecords</c> by <c>StreamName</c> is
/// <c>aws_kinesis_incoming_records_total{stream_name="…"}</c>), followed by prometheus-net's process and runtime metrics.
/// Counts and bytes are counters (totals since start), latencies a <c>_sum</c>/<c>_count</c> pair, ages and
/// concurrency gauges of the last value.
/// </summary>
public sealed class PrometheusExposition(MetricRecorder recorder)
{
    private static readonly string[] GaugeWords = ["IteratorAge", "MillisBehindLatest", "DataFreshness", "ConcurrentExecutions"];

    public async Task WriteAsync(HttpContext http)
    {
        var registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(registry);
        foreach (var family in recorder.Cells.GroupBy(c => (c.Metric.Namespace, c.Metric.MetricName)).OrderBy(g => g.Key))
        {
            var cells = family.ToList();
            var labels = cells.SelectMany(c => c.Metric.Dimensions.Select(d => d.Key)).Distinct().Order(StringComparer.Ordinal).ToArray();
            var labelNames = labels.Select(Snake).ToArray();
            var name = Snake(family.Key.Namespace) + "_" + Snake(family.Key.MetricName);
            var help = $"CloudWatch {family.Key.Namespace} {family.Key.MetricName}";
            if (GaugeWords.Any(w => family.Key.MetricName.Contains(w, StringComparison.Ordinal)))
            {
                var gauge = factory.CreateGauge(Suffixed(name, cells[0].Unit), help + " (last value)", labelNames);
                foreach (var c in cells)
                {
                    gauge.WithLabels(LabelValues(c, labels)).Set(c.Totals.Last);
                }
            }
            else if (cells[0].Unit is "Milliseconds" or "Microseconds" or "Seconds")
            {
                var sum = factory.CreateCounter(Suffixed(name, cells[0].Unit) + "_sum", help + " (sum of samples)", labelNames);
                var count = factory.CreateCounter(Suffixed(name, cells[0].Unit) + "_count", help + " (number of samples)", labelNames);
                foreach (var c in cells)
                {
                    var (total, samples, _) = c.Totals;
                    sum.WithLabels(LabelValues(c, labels)).IncTo(total);
                    count.WithLabels(LabelValues(c, labels)).IncTo(samples);
                }
            }
            else
            {
                var counter = factory.CreateCounter(name + "_total", help, labelNames);
                foreach (var c in cells)
                {
                    counter.WithLabels(LabelValues(c, labels)).IncTo(c.Totals.Sum);
                }
            }
        }

        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await registry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted);
        await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted);
    }

    private static string Suffixed(string name, string unit)
    {
        var suffix = UnitSuffix(unit);
        return name.EndsWith(suffix, StringComparison.Ordinal) ? name : name + suffix;
    }

    private static string UnitSuffix(string unit) => unit switch
    {
        "Milliseconds" => "_milliseconds",
        "Seconds" => "_seconds",
        "Microseconds" => "_microseconds",
        _ => "",
    };

    private static string[] LabelValues(MetricCell cell, string[] labels) =>
        [.. labels.Select(l => cell.Metric.Dimensions.FirstOrDefault(d => d.Key == l).Value ?? "")];

    /// <summary><c>PutRecords.SuccessfulRecords</c> → <c>put_records_successful_records</c>; <c>AWS/Kinesis</c> → <c>aws_kinesis</c>.</summary>
    internal static string Snake(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                bool boundary = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1])));
                if (boundary && sb.Length > 0 && sb[^1] != '_')
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else if (char.IsLetterOrDigit(c))
            {
                sb.Append(c);
            }
            else if (sb.Length > 0 && sb[^1] != '_')
            {
                sb.Append('_');
            }
        }

        return sb.ToString().TrimEnd('_');
    }
}
