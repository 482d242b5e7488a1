namespace Millrace.Server.Tests.Infrastructure;

/// <summary>One shared `millrace serve` process for a test class whose tests use distinct stream names.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("not started");

    public string Endpoint => Server.Endpoint;

    public KinesisJsonClient NewClient(Version? httpVersion = null) => new(Endpoint, httpVersion);

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 128)];
}
