using Millrace.Server.Hosting;
using Millrace.Server.Tests.Infrastructure;
using Millrace.Server.Tests.Limits;

namespace Millrace.Server.Tests.Fidelity;

/// <summary>The servers the fidelity table runs against: a default <c>millrace serve</c>, one with
/// <c>--enforce-limits</c> and the small figures of <see cref="LimitsFixture"/>, and an in-process host on a
/// manual clock.</summary>
public sealed class FidelityFixture : IAsyncLifetime
{
    private readonly string _clockDirectory = Path.Combine(Path.GetTempPath(), "millrace-fidelity-" + Guid.NewGuid().ToString("N"));
    private MillraceProcess? _default;
    private MillraceProcess? _limited;
    private MillraceHost? _clockHost;
    private readonly Dictionary<FidelityServer, KinesisJsonClient> _clients = [];

    public ManualClock Clock { get; } = new(DateTimeOffset.UtcNow);

    public KinesisJsonClient Client(FidelityServer server) => _clients[server];

    public async Task InitializeAsync()
    {
        var defaultServer = MillraceProcess.StartAsync();
        var limitedServer = MillraceProcess.StartAsync(LimitsFixture.LimitedArgs);
        _clockHost = await MillraceHost.StartAsync(new MillraceServerOptions { Port = 0, DataDirectory = _clockDirectory, Clock = Clock });
        _default = await defaultServer;
        _limited = await limitedServer;
        _clients[FidelityServer.Default] = new KinesisJsonClient(_default.Endpoint);
        _clients[FidelityServer.EnforceLimits] = new KinesisJsonClient(_limited.Endpoint);
        _clients[FidelityServer.ManualClock] = new KinesisJsonClient(_clockHost.Endpoint.ToString());
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        if (_default is not null)
        {
            await _default.DisposeAsync();
        }

        if (_limited is not null)
        {
            await _limited.DisposeAsync();
        }

        if (_clockHost is not null)
        {
            await _clockHost.DisposeAsync();
        }

        try { Directory.Delete(_clockDirectory, recursive: true); } catch (IOException) { }
    }
}
