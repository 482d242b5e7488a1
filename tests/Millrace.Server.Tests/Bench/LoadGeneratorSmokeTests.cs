using Millrace.Bench.Load;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Bench;

/// <summary>
/// The load generator works end to end against a real <c>millrace serve</c>: every scenario reports numbers.
/// No figure is asserted beyond "something was measured" (no wall-clock thresholds).
/// </summary>
public sealed class LoadGeneratorSmokeTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Every_scenario_reports_numbers_and_a_table()
    {
        var options = LoadOptions.Parse([
            "--endpoint", fixture.Endpoint, "--seconds", "0.3", "--warmup-seconds", "0", "--concurrency", "2", "--shards", "2",
            "--max-requests", "20", "--catchup-records", "1000", "--poll-ms", "5", "--label", "millrace",
            "--server-pid", fixture.Server.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        var lines = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var results = await LoadRunner.RunAsync(options, lines, timeout.Token);

        Assert.Equal(LoadOptions.AllScenarios, results.Select(r => r.Scenario));
        Assert.All(results, r =>
        {
            Assert.Null(r.Error);
            Assert.True(r.Records > 0, $"{r.Scenario} measured no records");
            Assert.Equal(0, r.ErrorResponses);
        });
        Assert.NotNull(results.Single(r => r.Scenario == "latency").LatencyP50Ms);
        Assert.Equal(results.Count, lines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("| millrace | put-records |", MarkdownTable.Format(results), StringComparison.Ordinal);
    }

    [Fact]
    public void Only_loopback_endpoints_are_accepted() =>
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--endpoint", "http://192.0.2.1:4567"]));
}
