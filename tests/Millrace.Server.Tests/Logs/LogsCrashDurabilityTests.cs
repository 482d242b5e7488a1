using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Millrace.Server.Tests.Logs;

/// <summary>
/// Crash durability of PutLogEvents: four writers, each on its own log stream, put batches of 50 events over raw JSON 1.1
/// until the server is killed with SIGKILL; after a restart on the same data directory every acknowledged batch is read
/// back by GetLogEvents in the order it was put, and an unacknowledged batch is stored whole or not at all.
/// </summary>
public sealed class LogsCrashDurabilityTests
{
    private const int Writers = 4;
    private const int BatchSize = 50;
    private const int MaxBatchesPerWriter = 2_000;
    private const string Group = "/crash/logs";

    [Fact]
    public async Task AcknowledgedBatchesSurviveSigkillInOrder()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await CallAsync(http, server.Endpoint, "CreateLogGroup", new JsonObject { ["logGroupName"] = Group });
        for (var w = 0; w < Writers; w++)
        {
            await CallAsync(http, server.Endpoint, "CreateLogStream", new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = $"writer-{w}" });
        }

        var acknowledged = new int[Writers];
        var total = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var batch = 0; batch < MaxBatchesPerWriter && !stop.IsCancellationRequested; batch++)
            {
                var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var events = new JsonArray();
                for (var i = 0; i < BatchSize; i++)
                {
                    events.Add(new JsonObject { ["timestamp"] = ts, ["message"] = $"w{w}-b{batch:D5}-e{i:D2}" });
                }

                try
                {
                    await CallAsync(http, server.Endpoint, "PutLogEvents",
                        new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = $"writer-{w}", ["logEvents"] = events }, stop.Token);
                }
                catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
                {
                    return; // cut off by the kill: not acknowledged
                }

                acknowledged[w] = batch + 1;
                Interlocked.Increment(ref total);
            }
        })).ToList();

        // Kill once a good number of batches were acknowledged while the writers are still putting (bounded wait).
        for (var i = 0; i < 1_500 && Volatile.Read(ref total) < 200 && !writers.All(t => t.IsCompleted); i++)
        {
            await Task.Delay(20);
        }

        server.Kill();
        await Task.WhenAll(writers);
        Assert.True(acknowledged.Sum() > 0, "no batch was acknowledged before the kill");

        await server.RestartAsync();
        for (var w = 0; w < Writers; w++)
        {
            var messages = await ReadStreamAsync(http, server.Endpoint, $"writer-{w}");
            Assert.True(messages.Count % BatchSize == 0, $"writer-{w}: {messages.Count} events, not whole batches");
            var batches = messages.Count / BatchSize;
            Assert.True(batches >= acknowledged[w], $"writer-{w}: {acknowledged[w]} batches acknowledged, {batches} stored");
            Assert.True(batches <= acknowledged[w] + 1, $"writer-{w}: {batches} batches stored, only {acknowledged[w]} acknowledged (+1 in flight)");
            for (var i = 0; i < messages.Count; i++)
            {
                var expected = $"w{w}-b{i / BatchSize:D5}-e{i % BatchSize:D2}";
                Assert.True(messages[i] == expected, $"writer-{w} event {i}: {messages[i]}, expected {expected}");
            }
        }

        // The restarted server still takes writes after the acknowledged ones.
        await CallAsync(http, server.Endpoint, "PutLogEvents", new JsonObject
        {
            ["logGroupName"] = Group,
            ["logStreamName"] = "writer-0",
            ["logEvents"] = new JsonArray(new JsonObject { ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ["message"] = "after restart" }),
        });
        var after = await ReadStreamAsync(http, server.Endpoint, "writer-0");
        Assert.Equal("after restart", after[^1]);
    }

    private static async Task<List<string>> ReadStreamAsync(HttpClient http, string endpoint, string stream)
    {
        var messages = new List<string>();
        string? token = null;
        for (var page = 0; page < 10_000; page++)
        {
            var input = new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = stream, ["startFromHead"] = true };
            if (token is not null)
            {
                input["nextToken"] = token;
            }

            var output = await CallAsync(http, endpoint, "GetLogEvents", input);
            messages.AddRange(output["events"]!.AsArray().Select(e => e!["message"]!.GetValue<string>()));
            var next = output["nextForwardToken"]!.GetValue<string>();
            if (next == token)
            {
                return messages;
            }

            token = next;
        }

        throw new InvalidOperationException("GetLogEvents never reached the end of " + stream);
    }

    private static async Task<JsonObject> CallAsync(HttpClient http, string endpoint, string operation, JsonObject input, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint + "/");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Logs_20140328." + operation);
        request.Content = new StringContent(input.ToJsonString(), Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{operation} answered {(int)response.StatusCode}: {text}");
        }

        return JsonNode.Parse(text)!.AsObject();
    }
}
