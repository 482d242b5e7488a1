using System.Text.Json;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// Base for tests that drive a real AWS client (CLI, boto3, JS SDK) against a fresh <c>millrace serve</c> process.
/// xUnit creates one instance per test, so every test gets its own server and data directory.
/// </summary>
public abstract class ClientTestBase : IAsyncLifetime
{
    private MillraceProcess? _server;

    protected MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    /// <summary>Extra <c>millrace serve</c> arguments for the test's server.</summary>
    protected virtual string[] ServerArgs => [];

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync(ServerArgs);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A stream name no other test uses (letters, digits and dashes only).</summary>
    protected static string UniqueStreamName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>What a client printed plus the tail of the server log, for failure messages.</summary>
    protected string Describe(ExternalTool.Result result, string what) =>
        $"{what}\n{result}\nserver output (last 60 lines):\n{string.Join('\n', Server.Output.TakeLast(60))}";

    /// <summary>Fails with everything the client printed unless it exited 0.</summary>
    protected void RequireSuccess(ExternalTool.Result result, string what)
    {
        if (result.ExitCode != 0)
        {
            Assert.Fail(Describe(result, $"{what} failed"));
        }
    }

    /// <summary>Parses the single <c>SUMMARY {json}</c> line a client script prints on success.</summary>
    protected JsonElement Summary(ExternalTool.Result result, string what)
    {
        var lines = result.StdOut.Split('\n', StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("SUMMARY ", StringComparison.Ordinal))
            .ToList();
        if (lines.Count != 1)
        {
            Assert.Fail(Describe(result, $"{what}: expected exactly one SUMMARY line, found {lines.Count}"));
        }

        using var doc = JsonDocument.Parse(lines[0]["SUMMARY ".Length..]);
        return doc.RootElement.Clone();
    }

    /// <summary>The repository-relative path of a client script, failing clearly when the tools are not installed.</summary>
    protected static string ClientPath(params string[] parts)
    {
        var path = Path.Combine([ExternalTool.RepositoryRoot, "tests", "clients", .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            Assert.Fail($"{path} is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        return path;
    }

    /// <summary>The Debian AWS CLI v2 (an older v1 may come first on PATH).</summary>
    protected const string AwsPath = "/usr/bin/aws";

    /// <summary>Runs <c>aws kinesis …</c> against the test's server and returns its JSON output, failing on an error.</summary>
    protected async Task<JsonElement> Aws(params string[] args)
    {
        var result = await AwsRaw(args);
        RequireSuccess(result, "aws " + string.Join(' ', args));
        if (string.IsNullOrWhiteSpace(result.StdOut))
        {
            return JsonDocument.Parse("{}").RootElement.Clone();
        }

        using var doc = JsonDocument.Parse(result.StdOut);
        return doc.RootElement.Clone();
    }

    /// <summary>Runs <c>aws kinesis …</c> against the test's server and returns what it printed, error or not.</summary>
    protected async Task<ExternalTool.Result> AwsRaw(params string[] args)
    {
        if (!File.Exists(AwsPath))
        {
            Assert.Fail($"{AwsPath} (AWS CLI v2) is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        string[] common = ["--endpoint-url", Server.Endpoint, "--region", "us-east-1", "--no-cli-pager", "--output", "json", "kinesis"];
        return await ExternalTool.RunAsync(AwsPath, [.. common, .. args], timeout: TimeSpan.FromSeconds(60));
    }
}
