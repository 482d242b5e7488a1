using Millrace.Server.Hosting;

namespace Millrace.Server.Tests.Infrastructure;

/// <summary>
/// A Millrace host in the test process on a clock the test moves (<see cref="Clock"/>), with its own data
/// directory and a raw client: for behaviour that depends on time (expiry, retention, commitment periods).
/// </summary>
public sealed class InProcessServer : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "millrace-inproc-" + Guid.NewGuid().ToString("N"));
    private MillraceHost? _host;
    private KinesisJsonClient? _client;

    public ManualClock Clock { get; } = new(DateTimeOffset.UtcNow);

    public KinesisJsonClient Client => _client ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _host = await MillraceHost.StartAsync(new MillraceServerOptions { Port = 0, DataDirectory = _dataDirectory, Clock = Clock });
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
}
