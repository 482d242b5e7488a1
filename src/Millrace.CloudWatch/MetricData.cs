using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;

namespace Millrace.CloudWatch;

/// <summary>GetMetricData: metric queries and metric-math expressions over one time range.</summary>
public sealed partial class CloudWatchService
{
    private const int MaxQueries = 500;

    /// <summary>One returned series of a query.</summary>
    internal sealed record QueryResult(string Id, string Label, Series Series);

    private async Task<JsonObject?> GetMetricDataAsync(JsonObject input, OperationContext ctx)
    {
        long start = ModelDocument.GetTimestamp(input["StartTime"])!.Value.ToUnixTimeMilliseconds();
        long end = ModelDocument.GetTimestamp(input["EndTime"])!.Value.ToUnixTimeMilliseconds();
        if (start >= end)
        {
            throw Invalid("The parameter StartTime must be less than the parameter EndTime.");
        }

        var results = await EvaluateAsync(input["MetricDataQueries"] as JsonArray ?? [], start, end, ctx.Cancellation);
        bool ascending = Text(input, "ScanBy") == "TimestampAscending";
        long budget = ModelDocument.GetInt64(input["MaxDatapoints"]) ?? 100_800;
        var output = new JsonArray();
        foreach (var r in results)
        {
            var points = ascending ? r.Series.Points.ToList() : r.Series.Points.Reverse().ToList();
            var kept = points.Where(p => double.IsFinite(p.Value)).Take((int)Math.Min(budget, int.MaxValue)).ToList();
            budget -= kept.Count;
            output.Add(new JsonObject
            {
                ["Id"] = r.Id,
                ["Label"] = r.Label,
                ["Timestamps"] = new JsonArray([.. kept.Select(p => (JsonNode)ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(p.Key)))]),
                ["Values"] = new JsonArray([.. kept.Select(p => (JsonNode)p.Value)]),
                ["StatusCode"] = kept.Count < points.Count(p => double.IsFinite(p.Value)) ? "PartialData" : "Complete",
            });
        }

        return new JsonObject { ["MetricDataResults"] = output, ["Messages"] = new JsonArray() };
    }

    /// <summary>Evaluates every query (metric queries first, then expressions on demand) and returns those with ReturnData.</summary>
    internal async Task<List<QueryResult>> EvaluateAsync(JsonArray queries, long start, long end, CancellationToken ct)
    {
        if (queries.Count > MaxQueries)
        {
            throw Invalid($"The collection MetricDataQueries must not have a size greater than {MaxQueries}.");
        }

        var byId = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        int index = 0;
        foreach (var node in queries)
        {
            index++;
            var q = (JsonObject)node!;
            var id = Text(q, "Id")!;
            if (id.Length == 0 || !char.IsLower(id[0]) || !id.All(c => char.IsLetterOrDigit(c) || c == '_'))
            {
                throw Invalid($"The value {id} for parameter MetricDataQueries.member.{index}.Id is invalid. It must start with a lowercase letter and contain only letters, numbers and underscores.");
            }

            if (!byId.TryAdd(id, q))
            {
                throw Invalid($"The value {id} for parameter MetricDataQueries.member.{index}.Id is not unique.");
            }

            if ((q["MetricStat"] is null) == (Text(q, "Expression") is null))
            {
                throw Invalid($"Exactly one element of MetricStat and Expression must be specified for MetricDataQueries.member.{index}.");
            }
        }

        await _recorder.FlushAsync(ct);
        var values = new Dictionary<string, MathValue>(StringComparer.Ordinal);
        var stats = new List<(string Id, Series Series)>();
        foreach (var (id, q) in byId)
        {
            if (q["MetricStat"] is JsonObject stat)
            {
                var series = await MetricStatAsync(stat, Text(q, "Label"), start, end, ct);
                values[id] = new MathValue.One(series);
                stats.Add((id, series));
            }
        }

        var evaluating = new HashSet<string>(StringComparer.Ordinal);
        MathValue Resolve(string id)
        {
            if (values.TryGetValue(id, out var known))
            {
                return known;
            }

            if (!byId.TryGetValue(id, out var q) || !evaluating.Add(id))
            {
                throw new ServiceException("ValidationError", byId.ContainsKey(id)
                    ? $"The expression of {id} refers to itself."
                    : $"Unknown metric or expression id: {id}");
            }

            MathValue value;
            try
            {
                value = MetricMath.Evaluate(Text(q, "Expression")!, Resolve,
                    filter => [.. stats.Where(s => filter is null || s.Id.Contains(filter, StringComparison.Ordinal)).Select(s => s.Series)]);
            }
            catch (MetricMathException e)
            {
                throw new ServiceException("ValidationError", $"Error in expression '{id}': {e.Message}");
            }

            evaluating.Remove(id);
            values[id] = value;
            return value;
        }

        var results = new List<QueryResult>();
        foreach (var (id, q) in byId)
        {
            if (ModelDocument.GetBoolean(q["ReturnData"]) == false)
            {
                continue;
            }

            var label = Text(q, "Label");
            switch (Resolve(id))
            {
                case MathValue.One one:
                    results.Add(new QueryResult(id, label ?? (q["MetricStat"] is null ? id : one.Series.Label), one.Series));
                    break;
                case MathValue.Many many:
                    results.AddRange(many.Series.Select(s => new QueryResult(id, label is null ? s.Label : $"{label} {s.Label}", s)));
                    break;
                case MathValue.Number n:
                    // A number is shown at every period of the range, as the console graphs it.
                    int period = (int)(ModelDocument.GetInt64(q["Period"]) ?? (stats.Count > 0 ? stats.Min(s => s.Series.PeriodSeconds) : 60));
                    var points = new SortedDictionary<long, double>();
                    for (long ts = Statistics.AlignDown(start, period); ts < end; ts += period * 1000L)
                    {
                        points[ts] = n.Value;
                    }

                    results.Add(new QueryResult(id, label ?? id, new Series(label ?? id, points, period)));
                    break;
                default:
                    throw new ServiceException("ValidationError", $"The expression of {id} does not evaluate to a time series.");
            }
        }

        return results;
    }

    private async Task<Series> MetricStatAsync(JsonObject stat, string? label, long start, long end, CancellationToken ct)
    {
        var metric = MetricOf((JsonObject)stat["Metric"]!);
        int period = (int)ModelDocument.GetInt64(stat["Period"])!.Value;
        CheckPeriod(period, "MetricStat.Period");
        var name = Text(stat, "Stat")!;
        var points = new SortedDictionary<long, double>();
        var stored = await Store.ReadAsync(metric, Statistics.AlignDown(start, period), end, ct);
        foreach (var a in Statistics.Aggregate(stored, period, Text(stat, "Unit")))
        {
            if (a.Statistic(name) is { } value)
            {
                points[a.StartMs] = points.TryGetValue(a.StartMs, out var other) ? other + value : value;
            }
        }

        return new Series(label ?? metric.MetricName, points, period);
    }
}
