using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Server.Encryption;
using Millrace.Server.Kinesis;
using Millrace.Server.Limits;
using Millrace.DynamoDb;
using Millrace.Storage;
using Millrace.Storage.Tables;

namespace Millrace.Server.Hosting;

/// <summary>
/// A running Millrace server: the embedded store, the Kinesis operations and Kestrel listening on one port for
/// HTTP/1.1 and h2c. Start with <see cref="StartAsync"/>; <see cref="DisposeAsync"/> stops accepting requests,
/// lets in-flight ones finish and flushes the store.
/// </summary>
public sealed class MillraceHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IStreamStore _store;
    private readonly WebApplication? _dynamoApp;
    private readonly ITableStore? _tables;

    private MillraceHost(WebApplication app, IStreamStore store, Uri endpoint, Uri? tlsEndpoint, WebApplication? dynamoApp, ITableStore? tables, Uri? dynamoEndpoint)
    {
        _app = app;
        _store = store;
        Endpoint = endpoint;
        TlsEndpoint = tlsEndpoint;
        _dynamoApp = dynamoApp;
        _tables = tables;
        DynamoDbEndpoint = dynamoEndpoint;
    }

    /// <summary>The DynamoDB endpoint, e.g. http://127.0.0.1:4568, when <see cref="MillraceServerOptions.DynamoDbPort"/> is set.</summary>
    public Uri? DynamoDbEndpoint { get; }

    /// <summary>The address clients use, e.g. http://127.0.0.1:4567.</summary>
    public Uri Endpoint { get; }

    /// <summary>The TLS address (https://…) when <see cref="MillraceServerOptions.TlsPort"/> is set.</summary>
    public Uri? TlsEndpoint { get; }

    public static async Task<MillraceHost> StartAsync(MillraceServerOptions options, CancellationToken ct = default)
    {
        if (!IPAddress.TryParse(options.Host, out var address))
        {
            address = options.Host == "localhost" ? IPAddress.Loopback : throw new ArgumentException($"--host must be an IP address, not {options.Host}");
        }

        Directory.CreateDirectory(options.DataDirectory);
        var keys = new KmsKeyStore(options.KmsKeyDirectory ?? Path.Combine(options.DataDirectory, "keys"), options.Region, options.AccountId);
        var store = await EmbeddedStreamStore.OpenAsync(
            new EmbeddedStoreOptions
            {
                DataDirectory = Path.Combine(options.DataDirectory, "streams"),
                SegmentSizeBytes = options.SegmentSizeBytes,
                Clock = options.Clock,
                EncryptionKeys = keys,
            },
            ct);
        try
        {
            var tokens = OpaqueTokens.LoadOrCreate(Path.Combine(options.DataDirectory, "server", "token.key"));
            var port = new SharedPort(new IPEndPoint(address, options.Port));
            var builder = QuietBuilder();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = null; // the endpoint enforces its own cap and answers 413
                kestrel.Limits.MinRequestBodyDataRate = null;
                kestrel.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
                kestrel.Limits.Http2.InitialStreamWindowSize = 8 * 1024 * 1024;
                kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
                kestrel.Listen(new SniffedEndPoint(port, http2: false), listen => listen.Protocols = HttpProtocols.Http1);
                kestrel.Listen(new SniffedEndPoint(port, http2: true), listen => listen.Protocols = HttpProtocols.Http2);
                if (options.TlsPort is { } tlsPort)
                {
                    var certificate = TlsCertificates.Load(options);
                    kestrel.Listen(address, tlsPort, listen =>
                    {
                        listen.Protocols = HttpProtocols.Http1AndHttp2; // h2 by ALPN
                        listen.UseHttps(certificate);
                    });
                }
            });
            builder.Services.AddSingleton<IConnectionListenerFactory, ProtocolSniffingTransportFactory>();
            var app = builder.Build();

            var streams = new StreamService(store, options, tokens, app.Services.GetRequiredService<ILogger<StreamService>>());
            await streams.ResumeLifecycleAsync(ct);
            var resharding = new ReshardingOperations(streams, app.Services.GetRequiredService<ILogger<ReshardingOperations>>());
            await resharding.ResumeAsync(ct);
            var consumers = new ConsumerOperations(streams, app.Services.GetRequiredService<ILogger<ConsumerOperations>>());
            await consumers.ResumeAsync(ct);
            var operations = new Dictionary<string, KinesisOperation>(StringComparer.Ordinal);
            new StreamOperations(streams).Register(operations);
            var throughput = options.EnforceLimits ? new ShardThroughputLimiter(options.Limits, options.AccountId) : null;
            new ShardOperations(streams, throughput).Register(operations);
            new RecordOperations(streams, keys, throughput).Register(operations);
            new EncryptionOperations(streams, keys).Register(operations);
            new RetentionOperations(streams).Register(operations);
            new TagOperations(streams).Register(operations);
            new StreamSettingsOperations(streams).Register(operations);
            new AccountOperations(streams).Register(operations);
            new PolicyOperations(streams).Register(operations);
            consumers.Register(operations); // after tags and policies: it routes their consumer ARNs
            resharding.Register(operations);
            new SubscribeToShardOperations(streams, keys, app.Services.GetRequiredService<ILogger<SubscribeToShardOperations>>(), app.Lifetime.ApplicationStopping)
                .Register(operations);
            var endpoint = new KinesisEndpoint(operations, options.Clock, app.Services.GetRequiredService<ILogger<KinesisEndpoint>>(),
                options.EnforceLimits ? new ControlPlaneLimiter(options.AccountId) : null);
            app.Run(endpoint.HandleAsync);

            await app.StartAsync(ct);
            Uri? tlsEndpoint = null;
            if (options.TlsPort is not null)
            {
                var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                    .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
                var https = new Uri(addresses.First(a => a.StartsWith("https://", StringComparison.Ordinal)));
                tlsEndpoint = new Uri($"https://{options.Host}:{https.Port}");
            }

            var kinesisEndpoint = new Uri($"http://{options.Host}:{port.Bound!.Port}");
            if (options.DynamoDbPort is not { } requestedPort)
            {
                return new MillraceHost(app, store, kinesisEndpoint, tlsEndpoint, null, null, null);
            }

            WebApplication? dynamoApp = null;
            SqliteTableStore? tables = null;
            try
            {
                tables = SqliteTableStore.Open(Path.Combine(options.DataDirectory, "dynamodb"));
                (dynamoApp, var dynamoPort) = await StartDynamoDbAsync(options, address, requestedPort, tables, ct);
                return new MillraceHost(app, store, kinesisEndpoint, tlsEndpoint, dynamoApp, tables, new Uri($"http://{options.Host}:{dynamoPort}"));
            }
            catch
            {
                if (dynamoApp is not null)
                {
                    await dynamoApp.DisposeAsync();
                }

                if (tables is not null)
                {
                    await tables.DisposeAsync();
                }

                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>A slim ASP.NET builder that logs warnings and errors only, one line each.</summary>
    private static WebApplicationBuilder QuietBuilder()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        return builder;
    }

    /// <summary>The DynamoDB endpoint: its own Kestrel on its own port (HTTP/1.1, as the SDKs talk to DynamoDB).</summary>
    private static async Task<(WebApplication App, int Port)> StartDynamoDbAsync(MillraceServerOptions options, IPAddress address, int port, ITableStore tables, CancellationToken ct)
    {
        var builder = QuietBuilder();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        var service = new DynamoDbService(tables, options.Region, options.AccountId, options.Clock);
        var endpoint = new DynamoDbEndpoint(service, app.Services.GetRequiredService<ILogger<DynamoDbEndpoint>>());
        app.Run(endpoint.HandleAsync);
        await app.StartAsync(ct);
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        return (app, new Uri(addresses.First()).Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_dynamoApp is not null)
        {
            await _dynamoApp.StopAsync();
            await _dynamoApp.DisposeAsync();
        }

        if (_tables is not null)
        {
            await _tables.DisposeAsync();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        await _store.FlushAsync();
        await _store.DisposeAsync();
    }
}
