using System.Text.Json;

namespace Millrace.Server.Tests.Security;

/// <summary>
/// One <c>millrace serve --auth sigv4</c> (with a TLS port) whose root key is the test environment's credentials
/// (AKIDMILLRACETEST / millrace-test-secret), so the existing client scripts run against it unchanged.
/// </summary>
public sealed class SigV4ServerFixture : IAsyncLifetime
{
    public const string RootKey = "AKIDMILLRACETEST";
    public const string RootSecret = "millrace-test-secret";

    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    public string TlsEndpoint => $"https://127.0.0.1:{Server.TlsPort}";

    public async Task InitializeAsync() =>
        _server = await MillraceProcess.StartAsync("--auth", "sigv4", "--root-access-key-id", RootKey, "--root-secret-access-key", RootSecret, "--tls-port", "0");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Runs a client and fails with its output and the server's log unless it printed exactly one <c>SUMMARY {json}</c> and exited 0.</summary>
    public async Task<JsonElement> RunAsync(string fileName, string[] args, IDictionary<string, string>? env = null, string? workingDirectory = null)
    {
        var result = await ExternalTool.RunAsync(fileName, args, env, workingDirectory, TimeSpan.FromSeconds(120));
        var lines = result.StdOut.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.StartsWith("SUMMARY ", StringComparison.Ordinal)).ToList();
        if (result.ExitCode != 0 || lines.Count != 1)
        {
            Assert.Fail($"{fileName} {string.Join(' ', args)}\n{result}\nserver output (last 60 lines):\n{string.Join('\n', Server.Output.TakeLast(60))}");
        }

        using var doc = JsonDocument.Parse(lines[0]["SUMMARY ".Length..]);
        return doc.RootElement.Clone();
    }

    /// <summary>The repository path of a client script, failing clearly when the test tools are not installed.</summary>
    public static string ClientPath(params string[] parts)
    {
        var path = Path.Combine([ExternalTool.RepositoryRoot, "tests", "clients", .. parts]);
        Assert.True(File.Exists(path) || Directory.Exists(path), $"{path} is missing; run scripts/install-test-tools.sh (./test does it)");
        return path;
    }
}
