using System.Text.Json.Serialization;

namespace Millrace.Bench.Load;

/// <summary>One scenario against one server: a JSON line, and a row of the Markdown table.</summary>
public sealed record ScenarioResult
{
    public required string Server { get; init; }
    public required string Scenario { get; init; }
    public int Concurrency { get; init; }
    public int Shards { get; init; }
    public double Seconds { get; init; }
    public long Requests { get; init; }
    public long Records { get; init; }
    public long FailedRecords { get; init; }
    public long ErrorResponses { get; init; }
    public double RecordsPerSecond { get; init; }
    public double MegabytesPerSecond { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LatencyP50Ms { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LatencyP99Ms { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LatencyMaxMs { get; init; }

    /// <summary>CPU seconds the server process (and its children) spent during the measured part.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ServerCpuSeconds { get; init; }

    /// <summary>The server's peak resident set so far (VmHWM), in MiB.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ServerPeakRssMiB { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }
}
