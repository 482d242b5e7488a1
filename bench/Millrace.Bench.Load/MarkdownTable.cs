using System.Globalization;
using System.Text;

namespace Millrace.Bench.Load;

public static class MarkdownTable
{
    public static string Format(IEnumerable<ScenarioResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| server | scenario | clients | shards | records/s | MB/s | p50 ms | p99 ms | failed | errors | server CPU s | peak RSS MiB |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"| {r.Server} | {r.Scenario} | {r.Concurrency} | {r.Shards} | {r.RecordsPerSecond:N0} | {r.MegabytesPerSecond:N1} | {N(r.LatencyP50Ms)} | {N(r.LatencyP99Ms)} | {r.FailedRecords} | {r.ErrorResponses} | {N(r.ServerCpuSeconds)} | {N(r.ServerPeakRssMiB)} |");
            if (r.Error is not null)
            {
                sb.Append(" error: ").Append(r.Error.ReplaceLineEndings(" ")[..Math.Min(200, r.Error.Length)]);
            }

            sb.AppendLine();
        }

        return sb.ToString();
    }

    private static string N(double? v) => v is null ? "" : v.Value.ToString("0.0", CultureInfo.InvariantCulture);
}
