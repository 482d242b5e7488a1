using System.Diagnostics;
using System.Text.Json;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Logs;

/// <summary>
/// CloudWatch Logs on the one endpoint with real clients: the boto3 acceptance script (tests/clients/python/logs_boto3.py),
/// and AWS CLI v2 <c>aws logs</c> commands including <c>aws logs tail</c> and <c>aws logs tail --follow</c>, which must
/// print an event put after it started.
/// </summary>
public sealed class LogsClientTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    private string[] AwsArgs(params string[] args) => S3TestSupport.AwsCliArgs(Server, args);

    private Task<string> Aws(params string[] args) => S3TestSupport.AwsCliAsync(Server, args);

    private static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Boto3LogsAcceptance()
    {
        var result = await ExternalTool.RunAsync(
            "python3",
            [S3TestSupport.ClientPath("python", "logs_boto3.py"), Server.Endpoint, "/boto3-" + Guid.NewGuid().ToString("N")[..8]],
            S3TestSupport.PythonEnv,
            timeout: TimeSpan.FromSeconds(120));
        S3TestSupport.RequireChecks(Server, result, "logs_boto3.py", "groups_and_streams", "put_and_get", "filter", "retention_and_tags", "errors");
    }

    [Fact]
    public async Task AwsCliPutFilterAndTail()
    {
        var group = "/aws/lambda/cli-" + Guid.NewGuid().ToString("N")[..8];
        const string stream = "2026/12/06/[$LATEST]0123456789abcdef";
        await Aws("logs", "create-log-group", "--log-group-name", group);
        await Aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", stream);
        var t = NowMs - 2_000;
        var events = JsonSerializer.Serialize(new[]
        {
            new { timestamp = t, message = "START RequestId: 1 Version: $LATEST" },
            new { timestamp = t + 1, message = "decoded: hello from the stream" },
            new { timestamp = t + 2, message = "END RequestId: 1" },
        });
        var put = JsonDocument.Parse(await Aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream, "--log-events", events));
        Assert.True(put.RootElement.TryGetProperty("nextSequenceToken", out _), put.RootElement.ToString());

        var filtered = JsonDocument.Parse(await Aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "\"hello from\""));
        var messages = filtered.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("message").GetString()).ToList();
        Assert.Equal(["decoded: hello from the stream"], messages);

        var streams = JsonDocument.Parse(await Aws("logs", "describe-log-streams", "--log-group-name", group, "--order-by", "LastEventTime", "--descending"));
        Assert.Equal(stream, streams.RootElement.GetProperty("logStreams")[0].GetProperty("logStreamName").GetString());

        // `aws logs tail` prints every event of the group with its stream name; --format short drops the stream.
        var tail = await Aws("logs", "tail", group, "--since", "1h");
        Assert.Contains($"{stream} decoded: hello from the stream", tail, StringComparison.Ordinal);
        Assert.Equal(3, tail.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var shortTail = await Aws("logs", "tail", group, "--since", "1h", "--format", "short", "--filter-pattern", "END");
        Assert.Equal("END RequestId: 1", shortTail.Trim()[(shortTail.Trim().IndexOf(' ', StringComparison.Ordinal) + 1)..]);

        await Aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "14");
        var groups = JsonDocument.Parse(await Aws("logs", "describe-log-groups", "--log-group-name-prefix", group));
        Assert.Equal(14, groups.RootElement.GetProperty("logGroups")[0].GetProperty("retentionInDays").GetInt32());
    }

    [Fact]
    public async Task AwsCliTailFollowPrintsEventsPutAfterItStarted()
    {
        var group = "/aws/lambda/follow-" + Guid.NewGuid().ToString("N")[..8];
        const string stream = "2026/12/06/[$LATEST]feedfacefeedface";
        await Aws("logs", "create-log-group", "--log-group-name", group);
        await Aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", stream);
        await Aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream,
            "--log-events", $"timestamp={NowMs},message=before-follow");

        var lines = new List<string>();
        var psi = ExternalTool.StartInfo(S3TestSupport.AwsPath, AwsArgs("logs", "tail", group, "--follow", "--since", "10m", "--format", "short"));
        using var follow = Process.Start(psi) ?? throw new InvalidOperationException("could not start aws logs tail --follow");
        follow.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (lines) { lines.Add(e.Data); } } };
        follow.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (lines) { lines.Add("stderr: " + e.Data); } } };
        follow.BeginOutputReadLine();
        follow.BeginErrorReadLine();
        try
        {
            Assert.True(await WaitForLineAsync(lines, "before-follow", TimeSpan.FromSeconds(30)), "tail --follow never printed the first event:\n" + Dump(lines));

            // Put events after the follower started: it polls about every 5 s (the CLI's interval), so allow a few polls.
            for (var i = 0; i < 3; i++)
            {
                await Aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream,
                    "--log-events", $"timestamp={NowMs},message=after-follow-{i}");
            }

            foreach (var expected in new[] { "after-follow-0", "after-follow-1", "after-follow-2" })
            {
                Assert.True(await WaitForLineAsync(lines, expected, TimeSpan.FromSeconds(40)), $"tail --follow never printed {expected}:\n" + Dump(lines));
            }

            Assert.False(follow.HasExited, "tail --follow exited by itself:\n" + Dump(lines));
        }
        finally
        {
            follow.Kill(entireProcessTree: true);
            await follow.WaitForExitAsync();
        }

        // Each event printed exactly once.
        lock (lines)
        {
            Assert.Single(lines, l => l.EndsWith(" after-follow-1", StringComparison.Ordinal));
            Assert.Single(lines, l => l.EndsWith(" before-follow", StringComparison.Ordinal));
        }
    }

    private static async Task<bool> WaitForLineAsync(List<string> lines, string ending, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (lines)
            {
                if (lines.Any(l => l.EndsWith(" " + ending, StringComparison.Ordinal)))
                {
                    return true;
                }
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static string Dump(List<string> lines)
    {
        lock (lines)
        {
            return string.Join('\n', lines);
        }
    }
}
