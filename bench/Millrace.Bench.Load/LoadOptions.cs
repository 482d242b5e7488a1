using System.Globalization;

namespace Millrace.Bench.Load;

/// <summary>Command-line settings. Every scenario is bounded by both a request count and a duration.</summary>
public sealed record LoadOptions
{
    public static readonly string[] AllScenarios = ["put-record", "put-records", "put-records-10k", "get-catchup", "latency"];

    public const string Usage = """
        usage: millrace-load --endpoint http://127.0.0.1:PORT [options]
          --scenarios a,b,...     put-record, put-records, put-records-10k, get-catchup, latency (default: all)
          --concurrency N         concurrent clients, one keep-alive HTTP/1.1 connection each (default 16)
          --shards N              shards of each scenario's stream (default 4)
          --seconds S             measured duration of each scenario (default 10)
          --warmup-seconds S      unmeasured warm-up before each scenario (default 2)
          --max-requests N        request bound of each scenario (default 1000000)
          --catchup-records N     records written before the catch-up read (default 500000; bounded by --seconds x 3 too)
          --poll-ms N             consumer poll interval in the latency scenario (default 10)
          --label NAME            server name written into every result (default: the endpoint)
          --server-pid PID        sample this process's CPU seconds and peak RSS (Linux /proc)
          --markdown PATH         write the Markdown table here (default: stderr)
        JSON lines, one per scenario, go to stdout. Only 127.0.0.1 / localhost endpoints are accepted.
        """;

    public required Uri Endpoint { get; init; }
    public string[] Scenarios { get; init; } = AllScenarios;
    public int Concurrency { get; init; } = 16;
    public int Shards { get; init; } = 4;
    public double Seconds { get; init; } = 10;
    public double WarmupSeconds { get; init; } = 2;
    public long MaxRequests { get; init; } = 1_000_000;
    public long CatchupRecords { get; init; } = 500_000;
    public int PollMs { get; init; } = 10;
    public string? Label { get; init; }
    public int? ServerPid { get; init; }
    public string? MarkdownPath { get; init; }

    public static LoadOptions? Parse(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                return null;
            }

            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"unexpected argument {args[i]}");
            }

            map[args[i][2..]] = args[++i];
        }

        if (!map.Remove("endpoint", out var endpoint))
        {
            throw new ArgumentException("--endpoint is required");
        }

        var uri = new Uri(endpoint);
        if (!uri.IsLoopback)
        {
            throw new ArgumentException("only loopback endpoints are allowed");
        }

        var o = new LoadOptions { Endpoint = uri };
        foreach (var (k, v) in map)
        {
            o = k switch
            {
                "scenarios" => o with { Scenarios = v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "concurrency" => o with { Concurrency = Int(v, k) },
                "shards" => o with { Shards = Int(v, k) },
                "seconds" => o with { Seconds = Double(v, k) },
                "warmup-seconds" => o with { WarmupSeconds = Double(v, k) },
                "max-requests" => o with { MaxRequests = Int(v, k) },
                "catchup-records" => o with { CatchupRecords = Int(v, k) },
                "poll-ms" => o with { PollMs = Int(v, k) },
                "label" => o with { Label = v },
                "server-pid" => o with { ServerPid = Int(v, k) },
                "markdown" => o with { MarkdownPath = v },
                _ => throw new ArgumentException($"unknown option --{k}"),
            };
        }

        foreach (var s in o.Scenarios)
        {
            if (!AllScenarios.Contains(s))
            {
                throw new ArgumentException($"unknown scenario {s}");
            }
        }

        return o;
    }

    private static int Int(string v, string name) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"--{name} must be a positive integer");

    private static double Double(string v, string name) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new ArgumentException($"--{name} must be a number");
}
