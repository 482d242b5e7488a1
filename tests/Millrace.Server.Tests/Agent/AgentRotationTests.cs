using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Testing;
using Xunit.Abstractions;

namespace Millrace.Server.Tests.Agent;

/// <summary>
/// <c>millrace agent</c> against Debian's logrotate while a writer appends numbered lines: every line logrotate kept
/// on disk arrives in the stream, in order, across create, copytruncate and dateext + compress rotations, and across
/// kill -9 of the agent and of the server.
/// </summary>
public sealed class AgentRotationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private MillraceProcess _server = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-agent-").FullName;

    private string LogPath => Path.Combine(_dir, "logs", "app.log");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "logs"));
        _server = await MillraceProcess.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string Config(string stream, int? bufferAge = 1000) => AgentTestSupport.WriteConfig(_dir, new JsonObject
    {
        ["checkpointFile"] = Path.Combine(_dir, "checkpoints.db"),
        ["kinesis.endpoint"] = _server.Endpoint,
        ["kinesis.region"] = "us-east-1",
        ["log.statusReportingPeriodSeconds"] = 5,
        ["flows"] = new JsonArray(new JsonObject
        {
            ["filePattern"] = LogPath + "*",
            ["kinesisStream"] = stream,
            ["initialPosition"] = "START_OF_FILE",
            ["maxBufferAgeMillis"] = bufferAge,
            ["minTimeBetweenFilePollsMillis"] = 50,
        }),
    });

    /// <summary>Appends numbered lines in bursts (open, append, close, as a logger that reopens), until told to stop or the count is reached.</summary>
    private sealed class Writer(string path, int total, int pauseMillis = 1)
    {
        private int _written;

        public int Written => Volatile.Read(ref _written);

        public Task RunAsync(CancellationToken stop) => Task.Run(async () =>
        {
            var pad = new string('x', 60);
            while (_written < total && !stop.IsCancellationRequested)
            {
                var burst = new StringBuilder();
                for (var i = 0; i < 200 && _written + i < total; i++)
                {
                    burst.Append(CultureInfo.InvariantCulture, $"{_written + i + 1:D8} {pad}\n");
                }

                var bytes = Encoding.ASCII.GetBytes(burst.ToString());
                using (var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
                {
                    file.Write(bytes);
                }

                Interlocked.Add(ref _written, bytes.Length / 70);
                await Task.Delay(pauseMillis);
            }
        });
    }

    private async Task RotateAsync(string name, string directives)
    {
        var conf = Path.Combine(_dir, name + ".conf");
        await File.WriteAllTextAsync(conf, $"{LogPath} {{\n  rotate 50\n  missingok\n  notifempty\n{directives}\n}}\n");
        var logrotate = File.Exists("/usr/sbin/logrotate") ? "/usr/sbin/logrotate" : "logrotate";
        var result = await ExternalTool.RunAsync(logrotate, ["-f", "-s", Path.Combine(_dir, "logrotate.state"), conf]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>The line numbers on disk now: what logrotate kept (copytruncate loses what is written between its copy and its truncate).</summary>
    private HashSet<int> LinesOnDisk() => [.. WhereOnDisk().Keys];

    /// <summary>Each line number on disk and the file holding it.</summary>
    private Dictionary<int, string> WhereOnDisk()
    {
        var lines = new Dictionary<int, string>();
        foreach (var path in Directory.GetFiles(Path.GetDirectoryName(LogPath)!, "app.log*"))
        {
            using Stream file = File.OpenRead(path);
            using var reader = new StreamReader(path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file);
            while (reader.ReadLine() is { } line)
            {
                if (line.Length > 8 && int.TryParse(line.AsSpan(0, 8), CultureInfo.InvariantCulture, out var n))
                {
                    lines[n] = Path.GetFileName(path);
                }
            }
        }

        return lines;
    }

    /// <summary>Waits until every expected line arrived; the per-shard line numbers as they are in the stream.</summary>
    private async Task<Dictionary<string, List<int>>> ReceiveAsync(string stream, HashSet<int> expected, TimeSpan within)
    {
        using var client = AgentTestSupport.Client(_server);
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var shards = (await AgentTestSupport.ReadAllAsync(client, stream))
                .ToDictionary(s => s.Key, s => s.Value.Select(l => int.Parse(l.AsSpan(0, 8), CultureInfo.InvariantCulture)).ToList());
            var got = shards.Values.SelectMany(v => v).ToHashSet();
            if (expected.IsSubsetOf(got) || DateTime.UtcNow > deadline)
            {
                return shards;
            }

            await Task.Delay(500);
        }
    }

    private readonly List<string> _agentLog = [];

    private void Report(string what, HashSet<int> expected, Dictionary<string, List<int>> shards, int written, bool strictOrder)
    {
        var all = shards.Values.SelectMany(v => v).ToList();
        var missing = expected.Except(all).Order().ToList();
        var duplicates = all.Count - all.Distinct().Count();
        output.WriteLine($"{what}: written {written}, kept on disk by logrotate {expected.Count}, received {all.Count}, missing {missing.Count}, duplicates {duplicates}");
        if (missing.Count > 0)
        {
            var where = WhereOnDisk();
            foreach (var line in _agentLog.Where(l => l.Contains("resuming", StringComparison.Ordinal) || l.Contains("following", StringComparison.Ordinal) || l.Contains("truncated", StringComparison.Ordinal)))
            {
                output.WriteLine(line);
            }

            output.WriteLine($"missing lines by file: {string.Join(", ", missing.GroupBy(m => where.GetValueOrDefault(m, "?")).Select(g => $"{g.Key}: {g.Min()}-{g.Max()} ({g.Count()})"))}");
        }

        Assert.True(missing.Count == 0, $"{missing.Count} lines never arrived, e.g. {string.Join(", ", missing.Take(10))}");
        if (strictOrder)
        {
            Assert.Equal(0, duplicates);
            foreach (var (shard, numbers) in shards)
            {
                var outOfOrder = numbers.Zip(numbers.Skip(1)).FirstOrDefault(p => p.Second <= p.First);
                Assert.True(outOfOrder == default, $"{shard}: line {outOfOrder.Second} after {outOfOrder.First}");
            }
        }
    }

    /// <summary>
    /// Waits until the agent has made its flows' first start. Files that exist before a flow's very first start are
    /// history by design (only the newest is read), so a rotation before it would be a different test.
    /// </summary>
    private static async Task StartedAsync(AgentProcess agent)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!agent.Output.ToList().Any(l => l.Contains("started ", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the agent did not start: " + string.Join("\n", agent.Output));
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Logrotate_create_copytruncate_and_dateext_compress_lose_nothing()
    {
        using (var client = AgentTestSupport.Client(_server))
        {
            await AgentTestSupport.CreateStreamAsync(client, "rotation", 2);
        }

        await using var agent = AgentProcess.Start(Config("rotation"));
        await StartedAsync(agent);
        var writer = new Writer(LogPath, 120_000);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var writing = writer.RunAsync(stop.Token);
        async Task AtAsync(int lines)
        {
            while (writer.Written < lines && !writing.IsCompleted)
            {
                await Task.Delay(20);
            }
        }

        await AtAsync(20_000);
        await RotateAsync("create", "  create\n  nocompress");
        await AtAsync(45_000);
        await RotateAsync("copytruncate", "  copytruncate\n  nocompress");
        await AtAsync(70_000);
        await RotateAsync("dateext", "  create\n  dateext\n  dateformat -%Y%m%d-%s\n  compress");
        await AtAsync(95_000);
        await RotateAsync("copytruncate-compress", "  copytruncate\n  compress");
        await writing;

        var expected = LinesOnDisk();
        var shards = await ReceiveAsync("rotation", expected, TimeSpan.FromSeconds(90));
        Assert.Equal(0, await agent.StopAsync());
        Report("rotation", expected, shards, writer.Written, strictOrder: true);
        Assert.Contains(agent.Output, l => l.Contains("stopped;", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kill_9_of_the_agent_and_of_the_server_loses_nothing()
    {
        using (var client = AgentTestSupport.Client(_server))
        {
            await AgentTestSupport.CreateStreamAsync(client, "crashes", 2);
        }

        var config = Config("crashes");
        var writer = new Writer(LogPath, 150_000, pauseMillis: 8);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var writing = writer.RunAsync(stop.Token);
        var random = new Random(7);
        async Task RotateIn(int style)
        {
            switch (style)
            {
                case 0:
                    await RotateAsync("create", "  create\n  nocompress");
                    break;
                case 1:
                    await RotateAsync("copytruncate", "  copytruncate\n  nocompress");
                    break;
            }
        }

        var agent = AgentProcess.Start(config);
        await StartedAsync(agent);
        try
        {
            for (var round = 0; round < 10; round++)
            {
                await Task.Delay(random.Next(200, 1200));
                agent.Kill();
                _agentLog.AddRange(agent.Output);
                _agentLog.Add($"---- round {round}");
                await agent.DisposeAsync();

                // Rotations while the agent is down, then while the restarted agent runs, in both styles.
                await RotateIn(round % 3);
                agent = AgentProcess.Start(config);
                await Task.Delay(random.Next(100, 600));
                await RotateIn((round + 1) % 3);

                if (round == 5)
                {
                    // The server dies under the agent and comes back on its address.
                    _server.Kill();
                    await Task.Delay(1000);
                    await _server.RestartOnSamePortAsync();
                }
            }

            await writing;
            var expected = LinesOnDisk();
            var shards = await ReceiveAsync("crashes", expected, TimeSpan.FromSeconds(90));
            _agentLog.AddRange(agent.Output);
            Report("kill -9 x10 and a server kill", expected, shards, writer.Written, strictOrder: false);
            Assert.Equal(0, await agent.StopAsync());
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }
}
