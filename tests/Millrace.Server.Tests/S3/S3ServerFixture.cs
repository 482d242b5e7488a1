using System.Text.Json;

namespace Millrace.Server.Tests.S3;

/// <summary>One <c>millrace serve</c> process shared by every test of a class (each test uses its own buckets).</summary>
public sealed class S3ServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Helpers for the S3 client tests: client paths, output parsing, failure messages with the server log.</summary>
public static class S3TestSupport
{
    public const string AwsPath = "/usr/bin/aws";

    public static readonly Dictionary<string, string> PythonEnv = new() { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" };

    /// <summary>A bucket name no other test uses (lowercase letters, digits and dashes).</summary>
    public static string UniqueBucket(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static string ClientPath(params string[] parts)
    {
        var path = Path.Combine([ExternalTool.RepositoryRoot, "tests", "clients", .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            Assert.Fail($"{path} is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        return path;
    }

    public static string Describe(MillraceProcess server, ExternalTool.Result result, string what) =>
        $"{what}\n{result}\nserver output (last 60 lines):\n{string.Join('\n', server.Output.TakeLast(60))}";

    public static void RequireSuccess(MillraceProcess server, ExternalTool.Result result, string what)
    {
        if (result.ExitCode != 0)
        {
            Assert.Fail(Describe(server, result, $"{what} failed"));
        }
    }

    /// <summary>Parses the single <c>SUMMARY {json}</c> line a client script prints.</summary>
    public static JsonElement Summary(MillraceProcess server, ExternalTool.Result result, string what)
    {
        var lines = result.StdOut.Split('\n', StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("SUMMARY ", StringComparison.Ordinal))
            .ToList();
        if (lines.Count != 1)
        {
            Assert.Fail(Describe(server, result, $"{what}: expected exactly one SUMMARY line, found {lines.Count}"));
        }

        using var doc = JsonDocument.Parse(lines[0]["SUMMARY ".Length..]);
        return doc.RootElement.Clone();
    }

    /// <summary>AWS CLI v2 arguments against <paramref name="server"/>: endpoint, region, JSON output, no pager.</summary>
    public static string[] AwsCliArgs(MillraceProcess server, params string[] args) =>
        ["--endpoint-url", server.Endpoint, "--region", "us-east-1", "--no-cli-pager", "--output", "json", .. args];

    /// <summary>Runs <c>aws</c> against <paramref name="server"/> and returns its standard output; fails the test if it fails.</summary>
    public static async Task<string> AwsCliAsync(MillraceProcess server, params string[] args)
    {
        if (!File.Exists(AwsPath))
        {
            Assert.Fail($"{AwsPath} (AWS CLI v2) is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        var result = await ExternalTool.RunAsync(AwsPath, AwsCliArgs(server, args), timeout: TimeSpan.FromSeconds(90));
        RequireSuccess(server, result, "aws " + string.Join(' ', args));
        return result.StdOut;
    }

    /// <summary>Asserts that an acceptance script (tests/clients/python/acceptance.py) ran every expected check and all passed.</summary>
    public static void RequireChecks(MillraceProcess server, ExternalTool.Result result, string what, params string[] expected)
    {
        var summary = Summary(server, result, what);
        var checks = summary.GetProperty("checks").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.True(expected.All(checks.ContainsKey), Describe(server, result, $"{what}: missing checks"));
        var failed = checks.Where(c => c.Value != "ok").Select(c => $"{c.Key}: {c.Value}").ToList();
        Assert.True(failed.Count == 0, Describe(server, result, $"{what}: failed checks:\n" + string.Join('\n', failed)));
        Assert.True(result.ExitCode == 0, Describe(server, result, $"{what}: exit code"));
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));

    public static string Sha256File(string path) => Sha256(File.ReadAllBytes(path));

    /// <summary>A scratch directory removed with the returned handle.</summary>
    public static TempDir NewTempDir() => new(Path.Combine(Path.GetTempPath(), "millrace-s3-test-" + Guid.NewGuid().ToString("N")));

    public sealed class TempDir : IDisposable
    {
        public TempDir(string path)
        {
            Path = path;
            Directory.CreateDirectory(path);
        }

        public string Path { get; }

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }
}
