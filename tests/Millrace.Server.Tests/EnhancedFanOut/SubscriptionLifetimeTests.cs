using Millrace.Server.Hosting;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.EnhancedFanOut;

/// <summary>The time rules of SubscribeToShard (5-minute subscriptions, takeover after 5 s), with the server
/// in-process on a clock the test moves.</summary>
public sealed class SubscriptionLifetimeTests : IAsyncLifetime
{
    private const string ShardZero = "shardId-000000000000";
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "millrace-efo-clock-" + Guid.NewGuid().ToString("N"));
    private MillraceHost? _host;
    private KinesisJsonClient? _client;

    private KinesisJsonClient Client => _client!;

    public async Task InitializeAsync()
    {
        _host = await MillraceHost.StartAsync(new MillraceServerOptions { Port = 0, DataDirectory = _dataDirectory, Clock = _clock });
        _client = new KinesisJsonClient(_host.Endpoint.ToString());
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Directory.Delete(_dataDirectory, recursive: true);
    }

    private async Task<(string Stream, string ConsumerArn)> StreamWithConsumerAsync(string name)
    {
        await Client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var arn = (await Client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!["StreamARN"]!.GetValue<string>();
        var consumer = await Client.OkAsync("RegisterStreamConsumer", new { StreamARN = arn, ConsumerName = "efo" });
        return (name, consumer["Consumer"]!["ConsumerARN"]!.GetValue<string>());
    }

    [Fact]
    public async Task ASubscriptionEndsAfterFiveMinutes()
    {
        var (stream, consumerArn) = await StreamWithConsumerAsync("lifetime");
        using var http = EventStreamSubscription.NewHttpClient(_host!.Endpoint.ToString());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (_, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, cts.Token);
        await using var _ = events;
        await events!.NextAsync(cts.Token);

        _clock.Advance(TimeSpan.FromMinutes(5));
        await Client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = "AA==" }); // wakes it
        int messages = 0;
        while (await events.NextAsync(cts.Token) is not null)
        {
            Assert.True(++messages < 5, "the subscription did not end");
        }

        // The slot is free again: a new subscription starts at once.
        var (_, again) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "TRIM_HORIZON" }, cts.Token);
        await using var _a = again;
        Assert.Equal("initial-response", (await again!.NextAsync(cts.Token))!.Value.Message.GetString(":event-type"));
    }

    [Fact]
    public async Task AfterFiveSecondsTheNewSubscriptionTakesOver()
    {
        var (stream, consumerArn) = await StreamWithConsumerAsync("takeover");
        using var http = EventStreamSubscription.NewHttpClient(_host!.Endpoint.ToString());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (_, first) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, cts.Token);
        await using var _f = first;
        await first!.NextAsync(cts.Token);

        _clock.Advance(TimeSpan.FromSeconds(5));
        var (_, second) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, cts.Token);
        await using var _s = second;
        Assert.Equal("initial-response", (await second!.NextAsync(cts.Token))!.Value.Message.GetString(":event-type"));
        Assert.Null(await first.NextAsync(cts.Token)); // the old one was ended

        await Client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = "AQ==" });
        var e = await second.NextEventAsync(cts.Token);
        Assert.Equal("AQ==", e["Records"]![0]!["Data"]!.GetValue<string>());
    }
}
