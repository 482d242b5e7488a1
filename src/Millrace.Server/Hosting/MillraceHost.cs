using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Kinesis.Encryption;
using Millrace.Kinesis;
using Millrace.Kinesis.Limits;
using Millrace.DynamoDb;
using Millrace.Firehose;
using Millrace.Gateway;
using Millrace.Gateway.Authentication;
using Millrace.Iam;
using Millrace.Iam.Policies;
using Millrace.Glue;
using Millrace.Lambda;
using Millrace.Lambda.Runtime;
using Millrace.Logs;
using Millrace.CloudWatch;
using Millrace.S3;
using Millrace.Storage;
using Millrace.Storage.Delivery;
using Millrace.Storage.Catalog;
using Millrace.Storage.Functions;
using Millrace.Storage.Identity;
using Millrace.Storage.Logs;
using Millrace.Storage.Metrics;
using Millrace.Storage.Objects;
using Millrace.Storage.Tables;

namespace Millrace.Server.Hosting;

/// <summary>
/// A running Millrace server: the stores, every service (Kinesis, DynamoDB, S3, CloudWatch Logs, Lambda, Firehose, Glue) composed behind the one endpoint's
/// router, and Kestrel listening on one port for HTTP/1.1 and h2c. Start with <see cref="StartAsync"/>; <see cref="DisposeAsync"/> stops accepting requests,
/// lets in-flight ones finish and flushes the store.
/// </summary>
public sealed class MillraceHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IStreamStore _store;
    private readonly HostResources _resources;

    private MillraceHost(WebApplication app, IStreamStore store, Uri endpoint, Uri? tlsEndpoint, HostResources resources, Uri? dynamoEndpoint, IReadOnlyList<IAwsService> services,
        AuthMode auth, RootKey? rootKey)
    {
        Auth = auth;
        RootKey = rootKey;
        _app = app;
        _store = store;
        Endpoint = endpoint;
        TlsEndpoint = tlsEndpoint;
        _resources = resources;
        DynamoDbEndpoint = dynamoEndpoint;
        Services = services;
    }

    /// <summary>The extra DynamoDB-only endpoint, e.g. http://127.0.0.1:4568, when <see cref="MillraceServerOptions.DynamoDbPort"/> is set.</summary>
    public Uri? DynamoDbEndpoint { get; }

    /// <summary>Every service answering on <see cref="Endpoint"/>, in routing order.</summary>
    public IReadOnlyList<IAwsService> Services { get; }

    /// <summary>How requests are authenticated.</summary>
    public AuthMode Auth { get; }

    /// <summary>The account root's access key with <see cref="AuthMode.SigV4"/> (its secret only when it was generated at this start).</summary>
    public RootKey? RootKey { get; }

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

        var auth = options.Auth ?? (IPAddress.IsLoopback(address) ? AuthMode.None
            : throw new AuthConfigurationException(
                $"refusing to listen on {options.Host} without --auth sigv4: anyone who can reach that address could read and change every stream, "
                + "bucket and function. Run with --auth sigv4 (signatures verified, IAM policies enforced), or with --auth none to accept any credentials anyway."));
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
        var resources = new HostResources();
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

            resources.Metrics = SqliteMetricStore.Open(Path.Combine(options.DataDirectory, "cloudwatch"));
            var recorder = new MetricRecorder(resources.Metrics, options.Clock);
            resources.StartBackground(token => recorder.RunFlushAsync(options.MetricsFlushInterval, token));
            var cloudWatch = new CloudWatchService(recorder, new CloudWatchOptions
            {
                Region = options.Region,
                AccountId = options.AccountId,
                Clock = options.Clock,
                Retention = options.MetricsRetention,
                AlarmEvaluationInterval = options.AlarmEvaluationInterval,
            });
            resources.StartBackground(token => cloudWatch.RunRetentionSweepAsync(TimeSpan.FromMinutes(10), token));
            resources.StartBackground(cloudWatch.RunAlarmEvaluationAsync);

            var streams = new StreamService(store, options, tokens, app.Services.GetRequiredService<ILogger<StreamService>>())
            {
                Metrics = new KinesisMetrics(recorder),
            };
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
            var kinesis = new KinesisEndpoint(operations, options.Clock, app.Services.GetRequiredService<ILogger<KinesisEndpoint>>(),
                options.EnforceLimits ? new ControlPlaneLimiter(options.AccountId) : null);
            resources.Tables = SqliteTableStore.Open(Path.Combine(options.DataDirectory, "dynamodb"));
            var dynamo = new DynamoDbEndpoint(
                new DynamoDbService(resources.Tables, options.Region, options.AccountId, options.Clock),
                app.Services.GetRequiredService<ILogger<DynamoDbEndpoint>>());
            resources.Objects = await FileObjectStore.OpenAsync(
                new ObjectStoreOptions { DataDirectory = Path.Combine(options.DataDirectory, "s3"), Clock = options.Clock }, ct);
            var objectEvents = new ObjectEventBridge();
            var s3 = new S3Service(resources.Objects, new S3Options { Region = options.Region, AccountId = options.AccountId, Clock = options.Clock, Events = objectEvents });
            objectEvents.S3 = s3;

            resources.Logs = SqliteLogStore.Open(Path.Combine(options.DataDirectory, "logs"));
            var logs = new LogsService(resources.Logs, new LogsOptions { Region = options.Region, AccountId = options.AccountId, Clock = options.Clock });
            resources.StartBackground(token => logs.RunRetentionSweepAsync(TimeSpan.FromMinutes(10), token));

            resources.Catalog = SqliteCatalogStore.Open(Path.Combine(options.DataDirectory, "glue"));
            var glue = new GlueService(resources.Catalog, new GlueOptions { Region = options.Region, AccountId = options.AccountId, Clock = options.Clock });

            resources.Identities = SqliteIdentityStore.Open(Path.Combine(options.DataDirectory, "iam"));
            var identities = new IdentityDirectory(resources.Identities, new SecretSealer(IdentitySealingKey(keys)), options.AccountId, options.Clock);

            var lambdaDirectory = Path.Combine(options.DataDirectory, "lambda");
            resources.Functions = SqliteFunctionStore.Open(lambdaDirectory);
            // The authorizer needs every service's resource policies, so the services created before it wait for it.
            var roleAuthorizer = new TaskCompletionSource<RequestAuthorizer>(TaskCreationOptions.RunContinuationsAsynchronously);
            RoleAuthorization? roleAllows = auth == AuthMode.SigV4
                ? async (role, action, resource, token) => await (await roleAuthorizer.Task).RoleAllowsAsync(role, action, resource, token)
                : null;
            var lambdaOptions = new LambdaOptions
            {
                Region = options.Region,
                AccountId = options.AccountId,
                Clock = options.Clock,
                WorkDirectory = Path.Combine(lambdaDirectory, "run"),
                Concurrency = options.LambdaConcurrency,
                IdleTimeout = options.LambdaIdleTimeout,
                RoleCredentials = auth == AuthMode.SigV4 ? new RoleSessionBridge(identities).CredentialsAsync : null,
                RoleAllows = roleAllows,
            };
            resources.Executor = await FunctionExecutor.StartAsync(lambdaOptions, new FunctionLogBridge(logs), ct);
            resources.Lambda = new LambdaService(resources.Functions, resources.Executor, lambdaOptions, new BucketObjectBridge(s3),
                new KinesisCallBridge(operations, options.Clock));
            objectEvents.Lambda = resources.Lambda;

            var firehoseDirectory = Path.Combine(options.DataDirectory, "firehose");
            resources.DeliveryStreams = SqliteDeliveryStreamStore.Open(firehoseDirectory);
            resources.Buffers = await EmbeddedStreamStore.OpenAsync(
                new EmbeddedStoreOptions { DataDirectory = Path.Combine(firehoseDirectory, "buffers"), SegmentSizeBytes = options.SegmentSizeBytes, Clock = options.Clock, EncryptionKeys = keys },
                ct);
            var bucketObjects = new BucketObjectBridge(s3);
            resources.Firehose = new FirehoseService(resources.DeliveryStreams, resources.Buffers,
                new FirehoseOptions
                {
                    Region = options.Region,
                    AccountId = options.AccountId,
                    Clock = options.Clock,
                    CreateDelay = options.CreateStreamDelay,
                    HttpResponseTimeout = options.FirehoseHttpTimeout,
                    ResolveEncryptionKey = (_, keyArn) => FirehoseKeys.Resolve(keys, keyArn),
                },
                new FirehoseConnections
                {
                    Objects = options.FirehoseS3Endpoint is { } external ? new Millrace.Firehose.Delivery.ExternalS3Objects(external) : bucketObjects,
                    Functions = resources.Lambda,
                    Kinesis = new KinesisCallBridge(operations, options.Clock),
                    Schemas = glue,
                    RoleAllows = roleAllows,
                });

            RootKey? rootKey = null;
            RequestAuthenticator? authenticator = null;
            RequestAuthorizer? authorizer = null;
            if (auth == AuthMode.SigV4)
            {
                var (rootId, generated) = await identities.EnsureRootKeyAsync(options.RootAccessKeyId, options.RootSecretAccessKey, ct);
                rootKey = new RootKey(rootId, generated, Path.Combine(options.DataDirectory, "iam", "identities.db"), keys.Directory);
                authenticator = new RequestAuthenticator(identities, options.Clock);
                authorizer = new RequestAuthorizer(identities, options.Region,
                    [new StreamResourcePolicies(streams), s3, resources.Lambda]);
                roleAuthorizer.SetResult(authorizer);
            }

            var iam = new IamService(identities);
            var sts = new StsService(identities, (caller, action, resource, token) =>
                authorizer?.IdentityAllowsAsync(caller, action, resource, token) ?? Task.FromResult(true));

            // Kinesis first: its X-Amz-Target is compared before any lookup, so the hot path pays one string compare.
            var gateway = new GatewayEndpoint(
                new ServiceRouter([kinesis, dynamo, s3, logs.Endpoint, resources.Lambda.Endpoint, resources.Firehose.Endpoint, glue.Endpoint, iam.Endpoint, sts.Endpoint, cloudWatch.Endpoint]),
                authenticator, authorizer);
            var prometheus = new PrometheusExposition(recorder);
            app.Run(http => IsUnsignedGet(http.Request, "/metrics") ? prometheus.WriteAsync(http) : gateway.HandleAsync(http));

            await app.StartAsync(ct);
            Uri? tlsEndpoint = null;
            if (options.TlsPort is not null)
            {
                var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                    .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
                var https = new Uri(addresses.First(a => a.StartsWith("https://", StringComparison.Ordinal)));
                tlsEndpoint = new Uri($"https://{options.Host}:{https.Port}");
            }

            var mainEndpoint = new Uri($"http://{options.Host}:{port.Bound!.Port}");
            lambdaOptions.ServiceEndpoint = mainEndpoint.ToString().TrimEnd('/');
            await resources.Lambda.ResumeAsync(ct);
            await resources.Firehose.ResumeAsync(ct);
            Uri? dynamoEndpoint = null;
            try
            {
                if (options.DynamoDbPort is { } requestedPort)
                {
                    (resources.DynamoApp, var dynamoPort) = await StartDynamoDbAsync(address, requestedPort, dynamo, ct);
                    dynamoEndpoint = new Uri($"http://{options.Host}:{dynamoPort}");
                }
            }
            catch
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
                throw;
            }

            return new MillraceHost(app, store, mainEndpoint, tlsEndpoint, resources, dynamoEndpoint, gateway.Router.Services, auth, rootKey);
        }
        catch
        {
            await resources.DisposeAsync();
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A page Millrace serves itself (<c>/metrics</c>): an unsigned GET of exactly that path. A signed request for the
    /// same path is S3's (a bucket of that name), so SDKs and the CLI still reach such a bucket.
    /// </summary>
    private static bool IsUnsignedGet(HttpRequest request, string path) =>
        HttpMethods.IsGet(request.Method) && string.Equals(request.Path.Value, path, StringComparison.Ordinal)
        && !request.Headers.ContainsKey("Authorization") && !request.Query.ContainsKey("X-Amz-Credential");

    /// <summary>The key secret access keys are sealed with: "millrace-iam" in the key directory, created at first use.</summary>
    private static byte[] IdentitySealingKey(KmsKeyStore keys)
    {
        const string KeyId = "millrace-iam";
        var key = new byte[32];
        if (!keys.TryGetKey(KeyId, key))
        {
            keys.CreateKey(KeyId);
            if (!keys.TryGetKey(KeyId, key))
            {
                throw new InvalidOperationException($"cannot read the identity key {KeyId} in {keys.Directory}");
            }
        }

        return key;
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

    /// <summary>The optional DynamoDB-only port: its own Kestrel (HTTP/1.1, as the SDKs talk to DynamoDB) over the same service.</summary>
    private static async Task<(WebApplication App, int Port)> StartDynamoDbAsync(IPAddress address, int port, DynamoDbEndpoint dynamo, CancellationToken ct)
    {
        var builder = QuietBuilder();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(dynamo.HandleAsync);
        await app.StartAsync(ct);
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        return (app, new Uri(addresses.First()).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _resources.StopDynamoAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _resources.DisposeAsync();
        await _store.FlushAsync();
        await _store.DisposeAsync();
    }

    /// <summary>What the host opened besides the stream store, closed in reverse order.</summary>
    private sealed class HostResources : IAsyncDisposable
    {
        public SqliteTableStore? Tables { get; set; }

        public IObjectStore? Objects { get; set; }

        public SqliteLogStore? Logs { get; set; }

        public SqliteMetricStore? Metrics { get; set; }

        public SqliteCatalogStore? Catalog { get; set; }

        public SqliteIdentityStore? Identities { get; set; }

        public SqliteFunctionStore? Functions { get; set; }

        public FunctionExecutor? Executor { get; set; }

        public LambdaService? Lambda { get; set; }

        public SqliteDeliveryStreamStore? DeliveryStreams { get; set; }

        public EmbeddedStreamStore? Buffers { get; set; }

        public FirehoseService? Firehose { get; set; }

        public WebApplication? DynamoApp { get; set; }

        private readonly CancellationTokenSource _background = new();
        private readonly List<Task> _backgroundTasks = [];

        /// <summary>Runs a loop (e.g. a retention sweep) until the host stops; it ends before the stores close.</summary>
        public void StartBackground(Func<CancellationToken, Task> loop) =>
            _backgroundTasks.Add(Task.Run(async () =>
            {
                try
                {
                    await loop(_background.Token);
                }
                catch (OperationCanceledException) when (_background.IsCancellationRequested)
                {
                }
            }));

        public async Task StopDynamoAsync()
        {
            if (DynamoApp is not null)
            {
                await DynamoApp.StopAsync();
                await DynamoApp.DisposeAsync();
                DynamoApp = null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopDynamoAsync();
            await _background.CancelAsync();
            await Task.WhenAll(_backgroundTasks);
            _background.Dispose();

            // Firehose first: its workers write to S3 and invoke Lambda.
            if (Firehose is not null)
            {
                await Firehose.DisposeAsync();
                Firehose = null;
            }

            if (Buffers is not null)
            {
                await Buffers.FlushAsync();
                await Buffers.DisposeAsync();
                Buffers = null;
            }

            DeliveryStreams?.Dispose();
            DeliveryStreams = null;

            // Lambda before the stores its environments log to and read code from.
            if (Lambda is not null)
            {
                await Lambda.DisposeAsync();
                Lambda = null;
            }

            if (Executor is not null)
            {
                await Executor.DisposeAsync();
                Executor = null;
            }

            Functions?.Dispose();
            Functions = null;
            Logs?.Dispose();
            Logs = null;
            Catalog?.Dispose();
            Catalog = null;
            Identities?.Dispose();
            Identities = null;
            Metrics?.Dispose();
            Metrics = null;
            if (Objects is not null)
            {
                await Objects.DisposeAsync();
                Objects = null;
            }

            if (Tables is not null)
            {
                await Tables.DisposeAsync();
                Tables = null;
            }
        }
    }
}

/// <summary>The account root's access key: its id, its secret when it was generated at this start (shown once), and
/// where it is kept (the identity database; the secret sealed with a key of the key directory).</summary>
public sealed record RootKey(string AccessKeyId, string? GeneratedSecret, string StorePath, string KeyDirectory);

/// <summary>A configuration <c>millrace serve</c> refuses to start with (the message says why).</summary>
public sealed class AuthConfigurationException(string message) : Exception(message);
