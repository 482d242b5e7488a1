using System.Text;
using Millrace.Client.Auth;

namespace Millrace.Client.Tests;

/// <summary>https: ordinary calls and SubscribeToShard over h2 negotiated by ALPN; the default AWS endpoints.</summary>
public sealed class TlsAndEndpointTests
{
    [Fact]
    public async Task Over_https_calls_work_and_SubscribeToShard_negotiates_h2()
    {
        await using var server = await MillraceProcess.StartAsync("--tls-port", "0");
        using var handler = new SocketsHttpHandler
        {
            // The server's self-signed loopback certificate; only this test trusts it.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        using var client = new KinesisClient(new AwsClientOptions
        {
            Region = "us-east-1",
            ServiceUrl = new Uri($"https://127.0.0.1:{server.TlsPort}"),
            Credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret")),
            HttpHandler = handler,
        });
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = ClientServerFixture.UniqueName("tls");
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = 1 }, bound.Token);
        var arn = (await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = stream }, bound.Token)).StreamDescriptionSummary!.StreamARN;
        var consumer = await client.RegisterStreamConsumerAsync(new RegisterStreamConsumerRequest { StreamARN = arn, ConsumerName = "tls" }, bound.Token);

        await using var subscription = await client.SubscribeToShardAsync(new SubscribeToShardRequest
        {
            ConsumerARN = consumer.Consumer!.ConsumerARN, ShardId = "shardId-000000000000",
            StartingPosition = new StartingPosition { Type = ShardIteratorType.LATEST },
        }, bound.Token);
        Assert.Equal(System.Net.HttpVersion.Version20, subscription.ProtocolVersion);
        await client.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = "secure"u8.ToArray() }, bound.Token);
        await foreach (var e in subscription.Events.WithCancellation(bound.Token))
        {
            if (e.Records!.Count > 0)
            {
                Assert.Equal("secure", Encoding.UTF8.GetString(e.Records[0].Data!));
                return;
            }
        }
        Assert.Fail("the subscription ended without the record");
    }

    [Theory]
    [InlineData("us-east-1", "https://kinesis.us-east-1.amazonaws.com/")]
    [InlineData("eu-central-1", "https://kinesis.eu-central-1.amazonaws.com/")]
    [InlineData("cn-north-1", "https://kinesis.cn-north-1.amazonaws.com.cn/")]
    public void Without_ServiceUrl_the_client_targets_the_regional_aws_endpoint(string region, string endpoint)
    {
        using var client = new KinesisClient(new AwsClientOptions
        {
            Region = region, Credentials = new StaticCredentialsProvider(new AwsCredentials("a", "b")),
        });
        Assert.Equal(new Uri(endpoint), client.Transport.Endpoint);
        Assert.Equal(region, client.Transport.Region);
    }
}
