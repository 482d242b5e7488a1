using System.Text.Json;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.CloudWatch;

/// <summary>A server with --enforce-limits and alarms evaluated every second, shared by the CloudWatch tests.</summary>
public sealed class CloudWatchServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync("--enforce-limits", "--alarm-evaluation-seconds", "1");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// CloudWatch metrics with real clients: boto3 over JSON, rpc-v2-cbor and query (tests/clients/python/cloudwatch_boto3.py),
/// the AWS CLI's get-metric-statistics for a stream's IncomingRecords, and a Prometheus scrape of /metrics.
/// </summary>
public sealed class CloudWatchClientTests(CloudWatchServerFixture fixture) : IClassFixture<CloudWatchServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    [Fact]
    public async Task Boto3_every_protocol_metrics_math_and_alarms()
    {
        var result = await ExternalTool.RunAsync(
            "python3",
            [S3TestSupport.ClientPath("python", "cloudwatch_boto3.py"), Server.Endpoint, "cw" + Guid.NewGuid().ToString("N")[..8]],
            S3TestSupport.PythonEnv,
            timeout: TimeSpan.FromSeconds(120));
        S3TestSupport.RequireChecks(Server, result, "cloudwatch_boto3.py", "custom_metrics_json", "custom_metrics_smithy_rpc_v2_cbor",
            "custom_metrics_query", "kinesis_incoming_records", "throttling_alarm");
    }

    [Fact]
    public async Task AwsCli_get_metric_statistics_counts_the_records_put_and_prometheus_shows_them()
    {
        var stream = "cli-" + Guid.NewGuid().ToString("N")[..8];
        await S3TestSupport.AwsCliAsync(Server, "kinesis", "create-stream", "--stream-name", stream, "--shard-count", "1");
        await S3TestSupport.AwsCliAsync(Server, "kinesis", "wait", "stream-exists", "--stream-name", stream);
        const int n = 5;
        for (int i = 0; i < n; i++)
        {
            await S3TestSupport.AwsCliAsync(Server, "kinesis", "put-record", "--stream-name", stream, "--partition-key", $"k{i}", "--data", "aGVsbG8=");
        }

        var now = DateTimeOffset.UtcNow;
        var json = await S3TestSupport.AwsCliAsync(Server, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Kinesis",
            "--metric-name", "IncomingRecords", "--dimensions", $"Name=StreamName,Value={stream}",
            "--start-time", now.AddMinutes(-10).ToString("yyyy-MM-ddTHH:mm:ssZ"), "--end-time", now.AddMinutes(2).ToString("yyyy-MM-ddTHH:mm:ssZ"),
            "--period", "60", "--statistics", "Sum");
        var points = JsonDocument.Parse(json).RootElement.GetProperty("Datapoints").EnumerateArray().ToList();
        Assert.Equal(n, points.Sum(p => p.GetProperty("Sum").GetDouble()));

        using var http = new HttpClient();
        var text = await http.GetStringAsync(Server.Endpoint + "/metrics");
        var line = text.Split('\n').Single(l => l.StartsWith($"aws_kinesis_incoming_records_total{{stream_name=\"{stream}\"}}", StringComparison.Ordinal));
        Assert.Equal(n, double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("# TYPE aws_kinesis_put_record_latency_milliseconds_sum counter", text, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", text, StringComparison.Ordinal);
    }
}
