using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Client.DynamoDb;

namespace Millrace.Consumer.Tests;

/// <summary>One real `millrace serve` (Kinesis + DynamoDB endpoint) per test class, and clients pointed at it.</summary>
public sealed class ConsumerServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("not started");

    private static readonly StaticCredentialsProvider Credentials = new(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret"));

    public KinesisClient NewKinesis() => new(new AwsClientOptions
    {
        Region = "us-east-1", ServiceUrl = new Uri(Server.Endpoint), Credentials = Credentials,
    });

    public DynamoDbClient NewDynamoDb() => new(new AwsClientOptions
    {
        Region = "us-east-1", ServiceUrl = new Uri(Server.DynamoDbEndpoint), Credentials = Credentials,
    });

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
}
