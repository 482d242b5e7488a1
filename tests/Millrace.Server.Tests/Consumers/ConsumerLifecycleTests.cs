using System.Text.Json.Nodes;
using Millrace.Server.Hosting;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Consumers;

/// <summary>Consumer status over time and restarts, with the server in-process: CREATING and DELETING take the
/// stream create and delete delays, a restart keeps the registry and finishes interrupted transitions.</summary>
public sealed class ConsumerLifecycleTests : IAsyncLifetime
{
    private static readonly TimeSpan Long = TimeSpan.FromHours(1);
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "millrace-efo-" + Guid.NewGuid().ToString("N"));
    private MillraceHost? _host;
    private KinesisJsonClient? _client;

    private KinesisJsonClient Client => _client!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private static string Arn(string stream) => $"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}";

    private async Task StartAsync(TimeSpan? createDelay = null, TimeSpan? deleteDelay = null)
    {
        await StopAsync();
        _host = await MillraceHost.StartAsync(new MillraceServerOptions
        {
            Port = 0,
            DataDirectory = _dataDirectory,
            Clock = _clock,
            CreateStreamDelay = createDelay ?? TimeSpan.Zero,
            DeleteStreamDelay = deleteDelay ?? TimeSpan.Zero,
        });
        _client = new KinesisJsonClient(_host.Endpoint.ToString());
    }

    private async Task StopAsync()
    {
        _client?.Dispose();
        _client = null;
        if (_host is not null)
        {
            await _host.DisposeAsync();
            _host = null;
        }
    }

    private async Task<JsonNode> RegisterAsync(string stream, string consumer, object? tags = null) =>
        (await Client.OkAsync("RegisterStreamConsumer", tags is null
            ? new { StreamARN = Arn(stream), ConsumerName = consumer }
            : new { StreamARN = Arn(stream), ConsumerName = consumer, Tags = tags }))["Consumer"]!;

    private async Task<string?> StatusAsync(string stream, string consumer)
    {
        var response = await Client.CallAsync("DescribeStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = consumer });
        return response.ErrorType == "ResourceNotFoundException" ? null : response.Json!["ConsumerDescription"]!["ConsumerStatus"]!.GetValue<string>();
    }

    /// <summary>Polls (at most 100 times, 50 ms apart) until the condition holds.</summary>
    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"timed out waiting for {what}");
    }

    /// <summary>Streams are created without delays, then the server restarts with long ones (the stream create
    /// delay would otherwise keep the streams themselves CREATING).</summary>
    private async Task StartWithLongDelaysAsync(params string[] streams)
    {
        await StartAsync();
        foreach (var s in streams)
        {
            await Client.OkAsync("CreateStream", new { StreamName = s, ShardCount = 1 });
        }

        await StartAsync(Long, Long);
    }

    [Fact]
    public async Task AtMostFiveCreatingAndPoliciesWaitForActive()
    {
        await StartWithLongDelaysAsync("busy");
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("CREATING", (await RegisterAsync("busy", $"c{i}"))["ConsumerStatus"]!.GetValue<string>());
        }

        var sixth = await Client.CallAsync("RegisterStreamConsumer", new { StreamARN = Arn("busy"), ConsumerName = "c5" });
        Assert.Equal("LimitExceededException", sixth.ErrorType);
        Assert.Equal("Stream busy under account 000000000000 already has 5 consumers in CREATING status.", sixth.ErrorMessage);

        var c0 = (await Client.OkAsync("DescribeStreamConsumer", new { StreamARN = Arn("busy"), ConsumerName = "c0" }))["ConsumerDescription"]!;
        var arn = c0["ConsumerARN"]!.GetValue<string>();
        var created = (long)c0["ConsumerCreationTimestamp"]!.GetValue<double>();
        var policy = await Client.CallAsync("PutResourcePolicy", new { ResourceARN = arn, Policy = "{}" });
        Assert.Equal("ResourceInUseException", policy.ErrorType);
        Assert.Equal($"Consumer c0 with creation timestamp {created} under stream busy and account 000000000000 is not in ACTIVE status.", policy.ErrorMessage);

        // Tags take effect from CREATING.
        await Client.OkAsync("TagResource", new { ResourceARN = arn, Tags = new Dictionary<string, string> { ["t"] = "1" } });
        Assert.Equal("""[{"Key":"t","Value":"1"}]""", (await Client.OkAsync("ListTagsForResource", new { ResourceARN = arn }))["Tags"]!.ToJsonString());
    }

    [Fact]
    public async Task DeregisterGoesThroughDeletingAndARestartFinishesTheTransitions()
    {
        await StartWithLongDelaysAsync("life", "doomed");
        await RegisterAsync("life", "starting");
        await RegisterAsync("life", "leaving");
        await Client.OkAsync("DeregisterStreamConsumer", new { StreamARN = Arn("life"), ConsumerName = "leaving" });
        Assert.Equal("DELETING", await StatusAsync("life", "leaving"));
        await Client.OkAsync("DeregisterStreamConsumer", new { StreamARN = Arn("life"), ConsumerName = "leaving" }); // already going: no change
        Assert.Equal("DELETING", await StatusAsync("life", "leaving"));
        Assert.Equal(2, (await Client.OkAsync("DescribeStreamSummary", new { StreamName = "life" }))["StreamDescriptionSummary"]!["ConsumerCount"]!.GetValue<int>());

        // A stream deleted with its consumers: they are DELETING with it.
        await RegisterAsync("doomed", "along");
        await Client.OkAsync("DeleteStream", new { StreamName = "doomed", EnforceConsumerDeletion = true });
        Assert.Equal("DELETING", await StatusAsync("doomed", "along"));

        // The same delays after a restart: nothing has finished yet.
        await StartAsync(Long, Long);
        Assert.Equal("CREATING", await StatusAsync("life", "starting"));
        Assert.Equal("DELETING", await StatusAsync("life", "leaving"));

        // Past the delays (the clock moved while the server was down): the restart finishes both transitions.
        await StopAsync();
        _clock.Advance(Long + TimeSpan.FromMinutes(1));
        await StartAsync(Long, Long);
        await WaitForAsync(async () => await StatusAsync("life", "starting") == "ACTIVE", "CREATING to become ACTIVE");
        await WaitForAsync(async () => await StatusAsync("life", "leaving") is null, "DELETING to go away");
        await WaitForAsync(async () => (await Client.CallAsync("DescribeStreamSummary", new { StreamName = "doomed" })).ErrorType == "ResourceNotFoundException", "the deleted stream to go away");
    }

    [Fact]
    public async Task ShortDelaysEndOnTheirOwn()
    {
        var delay = TimeSpan.FromMilliseconds(200);
        await StartAsync(delay, delay);
        await Client.OkAsync("CreateStream", new { StreamName = "quick", ShardCount = 1 });
        await WaitForAsync(async () => (await Client.OkAsync("DescribeStreamSummary", new { StreamName = "quick" }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>() == "ACTIVE", "the stream");

        Assert.Equal("CREATING", (await RegisterAsync("quick", "app"))["ConsumerStatus"]!.GetValue<string>());
        await WaitForAsync(async () => await StatusAsync("quick", "app") == "ACTIVE", "the consumer to become ACTIVE");
        await Client.OkAsync("DeregisterStreamConsumer", new { StreamARN = Arn("quick"), ConsumerName = "app" });
        await WaitForAsync(async () => await StatusAsync("quick", "app") is null, "the consumer to go away");
    }

    [Fact]
    public async Task TheRegistrySurvivesARestart()
    {
        await StartAsync();
        await Client.OkAsync("CreateStream", new { StreamName = "kept", ShardCount = 1 });
        var arn = (await RegisterAsync("kept", "app", new Dictionary<string, string> { ["team"] = "blue" }))["ConsumerARN"]!.GetValue<string>();
        await RegisterAsync("kept", "other");
        const string policy = """{"Version":"2012-10-17","Statement":[]}""";
        await Client.OkAsync("PutResourcePolicy", new { ResourceARN = arn, Policy = policy });
        var before = (await Client.OkAsync("DescribeStreamConsumer", new { ConsumerARN = arn }))["ConsumerDescription"]!.ToJsonString();

        await StartAsync();
        Assert.Equal(before, (await Client.OkAsync("DescribeStreamConsumer", new { ConsumerARN = arn }))["ConsumerDescription"]!.ToJsonString());
        Assert.Equal("""[{"Key":"team","Value":"blue"}]""", (await Client.OkAsync("ListTagsForResource", new { ResourceARN = arn }))["Tags"]!.ToJsonString());
        Assert.Equal(policy, (await Client.OkAsync("GetResourcePolicy", new { ResourceARN = arn }))["Policy"]!.GetValue<string>());
        Assert.Equal(2, (await Client.OkAsync("ListStreamConsumers", new { StreamARN = Arn("kept") }))["Consumers"]!.AsArray().Count);
        Assert.Equal("ResourceInUseException", (await Client.CallAsync("DeleteStream", new { StreamName = "kept" })).ErrorType);
    }
}
