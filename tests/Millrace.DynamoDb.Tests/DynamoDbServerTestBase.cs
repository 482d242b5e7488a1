using System.Text.Json;

namespace Millrace.DynamoDb.Tests;

/// <summary>
/// A fresh <c>millrace serve</c> per test (xUnit makes one instance per test) and helpers to run real clients
/// (boto3, the AWS CLI) against its DynamoDB endpoint.
/// </summary>
public abstract class DynamoDbServerTestBase : IAsyncLifetime
{
    private MillraceProcess? _server;

    protected MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    protected const string AwsPath = "/usr/bin/aws";

    protected static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    protected string Describe(ExternalTool.Result result, string what) =>
        $"{what}\n{result}\nserver output (last 40 lines):\n{string.Join('\n', Server.Output.TakeLast(40))}";

    protected void RequireSuccess(ExternalTool.Result result, string what)
    {
        if (result.ExitCode != 0)
        {
            Assert.Fail(Describe(result, $"{what} failed"));
        }
    }

    /// <summary>Runs <c>aws dynamodb …</c> against the test's server, whatever it answers.</summary>
    protected async Task<ExternalTool.Result> AwsRaw(params string[] args)
    {
        if (!File.Exists(AwsPath))
        {
            Assert.Fail($"{AwsPath} (AWS CLI v2) is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        string[] common = ["--endpoint-url", Server.DynamoDbEndpoint, "--region", "us-east-1", "--no-cli-pager", "--output", "json", "dynamodb"];
        return await ExternalTool.RunAsync(AwsPath, [.. common, .. args], timeout: TimeSpan.FromSeconds(60));
    }

    /// <summary>Runs <c>aws dynamodb …</c> and returns its JSON output, failing on an error.</summary>
    protected async Task<JsonElement> Aws(params string[] args)
    {
        var result = await AwsRaw(args);
        RequireSuccess(result, "aws dynamodb " + string.Join(' ', args));
        if (string.IsNullOrWhiteSpace(result.StdOut))
        {
            return JsonDocument.Parse("{}").RootElement.Clone();
        }

        using var doc = JsonDocument.Parse(result.StdOut);
        return doc.RootElement.Clone();
    }

    protected static string ClientPath(params string[] parts)
    {
        var path = Path.Combine([ExternalTool.RepositoryRoot, "tests", "clients", .. parts]);
        if (!File.Exists(path))
        {
            Assert.Fail($"{path} is missing");
        }

        return path;
    }

    protected JsonElement Summary(ExternalTool.Result result, string what)
    {
        var lines = result.StdOut.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("SUMMARY ", StringComparison.Ordinal)).ToList();
        if (lines.Count != 1)
        {
            Assert.Fail(Describe(result, $"{what}: expected exactly one SUMMARY line, found {lines.Count}"));
        }

        using var doc = JsonDocument.Parse(lines[0]["SUMMARY ".Length..]);
        return doc.RootElement.Clone();
    }
}
