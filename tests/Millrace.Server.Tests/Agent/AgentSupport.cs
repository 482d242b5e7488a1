using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Client;
using Millrace.Client.Auth;

namespace Millrace.Server.Tests.Agent;

/// <summary>A real <c>millrace agent</c> process: SIGKILL for crashes, SIGTERM for a clean stop.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private AgentProcess(Process process) => _process = process;

    public IReadOnlyList<string> Output { get { lock (_output) { return [.. _output]; } } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static AgentProcess Start(string configPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(MillraceProcess.CliPath);
        psi.ArgumentList.Add("agent");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configPath);
        psi.Environment["AWS_ACCESS_KEY_ID"] = "test";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "test";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }
        var agent = new AgentProcess(Process.Start(psi)!);
        agent._process.OutputDataReceived += (_, e) => agent.Add(e.Data);
        agent._process.ErrorDataReceived += (_, e) => agent.Add(e.Data);
        agent._process.BeginOutputReadLine();
        agent._process.BeginErrorReadLine();
        return agent;
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Add(line);
            }
        }
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            Signals.Terminate(_process);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Task.CompletedTask;
        _process.Dispose();
    }

}

/// <summary>Streams, agent.json files and reading everything back, for the agent's tests.</summary>
public static class AgentTestSupport
{
    public static KinesisClient Client(MillraceProcess server) => new(new AwsClientOptions
    {
        Region = "us-east-1",
        ServiceUrl = new Uri(server.Endpoint),
        Credentials = new StaticCredentialsProvider(new AwsCredentials("test", "test")),
    });

    public static async Task CreateStreamAsync(KinesisClient client, string stream, int shards)
    {
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = shards });
        for (var i = 0; i < 100; i++)
        {
            var d = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = stream });
            if (d.StreamDescriptionSummary!.StreamStatus == "ACTIVE")
            {
                return;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Every record's data, per shard in sequence order.</summary>
    public static async Task<Dictionary<string, List<string>>> ReadAllAsync(KinesisClient client, string stream)
    {
        var result = new Dictionary<string, List<string>>();
        var shards = await client.ListShardsAsync(new ListShardsRequest { StreamName = stream });
        foreach (var shard in shards.Shards!)
        {
            var list = result[shard.ShardId!] = [];
            var iterator = (await client.GetShardIteratorAsync(new GetShardIteratorRequest
            {
                StreamName = stream, ShardId = shard.ShardId, ShardIteratorType = "TRIM_HORIZON",
            })).ShardIterator;
            while (iterator is not null)
            {
                var page = await client.GetRecordsAsync(new GetRecordsRequest { ShardIterator = iterator, Limit = 10_000 });
                list.AddRange(page.Records!.Select(r => Encoding.UTF8.GetString(r.Data!)));
                if (page.Records!.Count == 0 && page.MillisBehindLatest is null or 0)
                {
                    break;
                }

                iterator = page.NextShardIterator;
            }
        }

        return result;
    }

    public static string WriteConfig(string directory, JsonObject config)
    {
        var path = Path.Combine(directory, "agent.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }
}
