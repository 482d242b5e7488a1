using System.Net;
using System.Text.Json.Nodes;
using Millrace.Protocol.EventStream;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.EnhancedFanOut;

/// <summary>SubscribeToShard over raw HTTP/2 (h2c and TLS), checked frame by frame with the event-stream codec.</summary>
public sealed class SubscribeToShardTests : IClassFixture<SubscribeToShardTests.TlsServerFixture>
{
    private const string ShardZero = "shardId-000000000000";

    // initial-response with headers :event-type, :content-type, :message-type and payload {} (CRCs from zlib).
    private const string InitialResponseHex =
        "00000068000000564e6817240b3a6576656e742d74797065070010696e697469616c2d726573706f6e73650d3a636f6e74656e742d74797065" +
        "0700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b7dd591c62b";

    private readonly TlsServerFixture _fixture;

    public SubscribeToShardTests(TlsServerFixture fixture) => _fixture = fixture;

    /// <summary>One server with the TLS port on (self-signed certificate).</summary>
    public sealed class TlsServerFixture : IAsyncLifetime
    {
        public MillraceProcess Server { get; private set; } = null!;

        public async Task InitializeAsync() => Server = await MillraceProcess.StartAsync("--tls-port", "0");

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    private static CancellationToken Within(int seconds) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private async Task<(KinesisJsonClient Client, string Stream, string ConsumerArn)> StreamWithConsumerAsync(string prefix, int shards = 1)
    {
        var client = new KinesisJsonClient(_fixture.Server.Endpoint);
        var name = ServerFixture.UniqueName(prefix);
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = shards });
        var arn = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!["StreamARN"]!.GetValue<string>();
        var consumer = await client.OkAsync("RegisterStreamConsumer", new { StreamARN = arn, ConsumerName = "efo" });
        return (client, name, consumer["Consumer"]!["ConsumerARN"]!.GetValue<string>());
    }

    [Fact]
    public async Task InitialResponseIsTheFirstFrameByteForByte()
    {
        var (client, _, consumerArn) = await StreamWithConsumerAsync("sub-bytes");
        using var _c = client;
        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(30);
        var (response, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, ct);
        await using var _ = events;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("application/vnd.amazon.eventstream", response.Content.Headers.ContentType!.MediaType);
        var first = await events!.NextAsync(ct);
        Assert.Equal(InitialResponseHex, Convert.ToHexStringLower(first!.Value.Raw));
    }

    [Fact]
    public async Task RecordsWrittenAfterSubscribingArePushedAndResumeWithoutGapsOrDuplicates()
    {
        var (client, stream, consumerArn) = await StreamWithConsumerAsync("sub-push");
        using var _c = client;
        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(40);
        var (_, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, ct);
        var seen = new List<string>();
        string? continuation = null;
        await using (events)
        {
            Assert.Equal("initial-response", (await events!.NextAsync(ct))!.Value.Message.GetString(":event-type"));
            for (int i = 0; i < 5; i++)
            {
                await client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = Convert.ToBase64String([(byte)i]) });
            }

            for (int events_ = 0; seen.Count < 5 && events_ < 20; events_++)
            {
                var e = await events.NextEventAsync(ct);
                foreach (var r in e["Records"]!.AsArray())
                {
                    seen.Add(r!["Data"]!.GetValue<string>());
                    Assert.Equal("k", r["PartitionKey"]!.GetValue<string>());
                    Assert.NotNull(r["SequenceNumber"]);
                    Assert.NotNull(r["ApproximateArrivalTimestamp"]);
                }

                continuation = e["ContinuationSequenceNumber"]!.GetValue<string>();
                Assert.Equal(0, e["MillisBehindLatest"]!.GetValue<long>());
            }
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => Convert.ToBase64String([(byte)i])), seen);

        // More records, then a new subscription after the continuation: exactly the new ones.
        for (int i = 5; i < 8; i++)
        {
            await client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = Convert.ToBase64String([(byte)i]) });
        }

        await Task.Delay(5100); // the 5-second rule (see the ResourceInUse test)
        var (_, resumed) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero,
            new { Type = "AFTER_SEQUENCE_NUMBER", SequenceNumber = continuation }, ct);
        await using (resumed)
        {
            await resumed!.NextAsync(ct);
            var e = await resumed.NextEventAsync(ct);
            Assert.Equal(Enumerable.Range(5, 3).Select(i => Convert.ToBase64String([(byte)i])), e["Records"]!.AsArray().Select(r => r!["Data"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task ASecondSubscriptionWithinFiveSecondsGetsAResourceInUseExceptionEvent()
    {
        var (client, _, consumerArn) = await StreamWithConsumerAsync("sub-riu");
        using var _c = client;
        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(30);
        var (_, first) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, ct);
        await using var _f = first;
        await first!.NextAsync(ct);
        var (response, second) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "TRIM_HORIZON" }, ct);
        await using var _s = second;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var message = (await second!.NextAsync(ct))!.Value.Message;
        Assert.Equal("exception", message.GetString(":message-type"));
        Assert.Equal("ResourceInUseException", message.GetString(":exception-type"));
        Assert.Contains("message", JsonNode.Parse(message.Payload.Span)!.AsObject().Select(p => p.Key));
        Assert.Null(await second.NextAsync(ct)); // and the stream ends
    }

    [Fact]
    public async Task ErrorsBeforeTheStreamStartsAreJsonErrors()
    {
        var (client, _, consumerArn) = await StreamWithConsumerAsync("sub-errors");
        using var _c = client;
        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(30);
        var (noShard, s1) = await EventStreamSubscription.StartAsync(http, consumerArn, "shardId-000000000009", new { Type = "LATEST" }, ct);
        Assert.Null(s1);
        Assert.Equal(HttpStatusCode.BadRequest, noShard.StatusCode);
        Assert.Contains("ResourceNotFoundException", await noShard.Content.ReadAsStringAsync(ct));

        var (noConsumer, s2) = await EventStreamSubscription.StartAsync(http, consumerArn.Replace("/consumer/efo:", "/consumer/nope:", StringComparison.Ordinal), ShardZero, new { Type = "LATEST" }, ct);
        Assert.Null(s2);
        Assert.Contains("ResourceNotFoundException", await noConsumer.Content.ReadAsStringAsync(ct));

        var (noSequence, s3) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "AT_SEQUENCE_NUMBER" }, ct);
        Assert.Null(s3);
        Assert.Contains("InvalidArgumentException", await noSequence.Content.ReadAsStringAsync(ct));
    }

    [Fact]
    public async Task AnEventArrivesWithoutDataAndTheContinuationIsUsable()
    {
        var (client, stream, consumerArn) = await StreamWithConsumerAsync("sub-idle");
        using var _c = client;
        var put = await client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = "AA==" });
        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(30);
        var (_, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, ct);
        await using var _ = events;
        await events!.NextAsync(ct);
        var heartbeat = await events.NextEventAsync(ct); // within the 5-second heartbeat
        Assert.Empty(heartbeat["Records"]!.AsArray());
        Assert.Equal(put["SequenceNumber"]!.GetValue<string>(), heartbeat["ContinuationSequenceNumber"]!.GetValue<string>());
    }

    [Fact]
    public async Task AClosedShardEndsWithChildShards()
    {
        var (client, stream, consumerArn) = await StreamWithConsumerAsync("sub-split");
        using var _c = client;
        await client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = "AQ==" });
        await client.OkAsync("SplitShard", new { StreamName = stream, ShardToSplit = ShardZero, NewStartingHashKey = "170141183460469231731687303715884105728" });
        for (int i = 0; i < 100; i++)
        {
            var status = (await client.OkAsync("DescribeStreamSummary", new { StreamName = stream }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>();
            if (status == "ACTIVE")
            {
                break;
            }

            await Task.Delay(50);
        }

        using var http = EventStreamSubscription.NewHttpClient(_fixture.Server.Endpoint);
        var ct = Within(30);
        var (_, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "TRIM_HORIZON" }, ct);
        await using var _ = events;
        await events!.NextAsync(ct);
        var records = 0;
        JsonNode? last = null;
        for (int i = 0; i < 10; i++)
        {
            last = await events.NextEventAsync(ct);
            records += last["Records"]!.AsArray().Count;
            if (last["ChildShards"] is not null)
            {
                break;
            }
        }

        Assert.Equal(1, records);
        Assert.Equal(["shardId-000000000001", "shardId-000000000002"], last!["ChildShards"]!.AsArray().Select(c => c!["ShardId"]!.GetValue<string>()));
        Assert.Null(last["ContinuationSequenceNumber"]);
        Assert.Null(await events.NextAsync(ct));
    }

    [Fact]
    public async Task TheTlsPortServesH2WithASelfSignedCertificate()
    {
        var (client, stream, consumerArn) = await StreamWithConsumerAsync("sub-tls");
        using var _c = client;
        Assert.NotEqual(0, _fixture.Server.TlsPort);
        Assert.True(File.Exists(Path.Combine(_fixture.Server.DataDirectory, "server", "tls.pfx")));
        using var http = EventStreamSubscription.NewHttpClient($"https://127.0.0.1:{_fixture.Server.TlsPort}", acceptAnyCertificate: true);
        var ct = Within(30);
        var (response, events) = await EventStreamSubscription.StartAsync(http, consumerArn, ShardZero, new { Type = "LATEST" }, ct);
        await using var _ = events;
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(InitialResponseHex, Convert.ToHexStringLower((await events!.NextAsync(ct))!.Value.Raw));
        await client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = "Ag==" });
        var e = await events.NextEventAsync(ct);
        Assert.Equal("Ag==", e["Records"]![0]!["Data"]!.GetValue<string>());

        // HTTP/1.1 over TLS works as well for ordinary calls.
        using var h1 = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"https://127.0.0.1:{_fixture.Server.TlsPort}/")
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent($$"""{"StreamName":"{{stream}}"}""", null, "application/x-amz-json-1.1"),
        };
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary");
        var now = DateTime.UtcNow;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDTEST/{now:yyyyMMdd}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature={new string('0', 64)}");
        using var h1Response = await h1.SendAsync(request, ct);
        Assert.True(h1Response.StatusCode == HttpStatusCode.OK, await h1Response.Content.ReadAsStringAsync(ct));
        Assert.Equal(HttpVersion.Version11, h1Response.Version);
    }
}
