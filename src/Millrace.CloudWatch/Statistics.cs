using System.Globalization;
using Millrace.Storage.Metrics;

namespace Millrace.CloudWatch;

/// <summary>One period's aggregate of one unit: what every statistic is computed from.</summary>
internal readonly record struct PeriodAggregate(long StartMs, string Unit, double Sum, double SampleCount, double Minimum, double Maximum)
{
    public double? Statistic(string name) => name switch
    {
        "SampleCount" => SampleCount,
        "Sum" => Sum,
        "Average" => Sum / SampleCount,
        "Minimum" => Minimum,
        "Maximum" => Maximum,
        _ => null, // percentiles and trimmed statistics need distributions Millrace does not keep
    };
}

internal static class Statistics
{
    public static readonly string[] Simple = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

    /// <summary>The periods (aligned to multiples of <paramref name="periodSeconds"/>) of the stored datapoints, per unit, in time order.</summary>
    public static List<PeriodAggregate> Aggregate(IReadOnlyList<StoredDatapoint> points, int periodSeconds, string? unit)
    {
        long periodMs = periodSeconds * 1000L;
        var periods = new SortedDictionary<(long, string), PeriodAggregate>();
        foreach (var p in points)
        {
            if (unit is not null && p.Unit != unit)
            {
                continue;
            }

            long start = Math.DivRem(p.TimestampMs, periodMs, out long rem) * periodMs - (rem < 0 ? periodMs : 0);
            var key = (start, p.Unit);
            periods[key] = periods.TryGetValue(key, out var a)
                ? a with
                {
                    Sum = a.Sum + p.Sum,
                    SampleCount = a.SampleCount + p.SampleCount,
                    Minimum = Math.Min(a.Minimum, p.Minimum),
                    Maximum = Math.Max(a.Maximum, p.Maximum),
                }
                : new PeriodAggregate(start, p.Unit, p.Sum, p.SampleCount, p.Minimum, p.Maximum);
        }

        return [.. periods.Values];
    }

    /// <summary>Rounds a start time down to its period, as CloudWatch does.</summary>
    public static long AlignDown(long ms, int periodSeconds)
    {
        long periodMs = periodSeconds * 1000L;
        return Math.DivRem(ms, periodMs, out long rem) * periodMs - (rem < 0 ? periodMs : 0);
    }

    public static bool IsPercentile(string stat) =>
        stat.Length > 1 && stat[0] == 'p' && double.TryParse(stat.AsSpan(1), NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
