using Millrace.Client.Auth;

namespace Millrace.Client.Tests;

/// <summary>One real `millrace serve` per test class, and clients pointed at it.</summary>
public sealed class ClientServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("not started");

    public static AwsClientOptions OptionsFor(MillraceProcess server, Version? httpVersion = null) => new()
    {
        Region = "us-east-1",
        ServiceUrl = new Uri(server.Endpoint),
        Credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret")),
        HttpVersion = httpVersion ?? System.Net.HttpVersion.Version11,
    };

    public KinesisClient NewClient(Version? httpVersion = null) => new(OptionsFor(Server, httpVersion));

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 128)];
}
