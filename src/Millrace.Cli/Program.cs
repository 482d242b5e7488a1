using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Millrace.Server;
using Millrace.Gateway.Authentication;
using Millrace.Server.Hosting;
using Millrace.Kinesis.Limits;

namespace Millrace.Cli;

/// <summary>The `millrace` command line.</summary>
public static class Program
{
    public static Task<int> Main(string[] args)
    {
        var root = new RootCommand("Millrace: a self-hosted, wire-compatible Amazon Kinesis, with DynamoDB, S3, CloudWatch Logs and Lambda on the same endpoint.");
        root.Subcommands.Add(ServeCommand());
        root.Subcommands.Add(AgentCommand());
        return root.Parse(args).InvokeAsync();
    }

    private static Command ServeCommand()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => 4567 };
        var dynamoPort = new Option<int?>("--dynamodb-port") { Description = "Also serve DynamoDB alone on this port (it is always on --port); 0 picks a free one." };
        var dataDir = new Option<string>("--data-dir") { Description = "Where streams and records are stored.", DefaultValueFactory = _ => "./millrace-data" };
        var region = new Option<string>("--region") { Description = "Region used in ARNs.", DefaultValueFactory = _ => "us-east-1" };
        var account = new Option<string>("--account-id") { Description = "12-digit account id used in ARNs and messages.", DefaultValueFactory = _ => "000000000000" };
        var createDelay = new Option<int>("--create-stream-ms") { Description = "How long a new stream stays CREATING.", DefaultValueFactory = _ => 0 };
        var deleteDelay = new Option<int>("--delete-stream-ms") { Description = "How long a deleted stream stays DELETING.", DefaultValueFactory = _ => 0 };
        var updateDelay = new Option<int>("--update-stream-ms") { Description = "How long a resharded stream stays UPDATING.", DefaultValueFactory = _ => 0 };
        var shardLimit = new Option<int>("--shard-limit") { Description = "Open shards allowed per account (0: no limit; 500 with --enforce-limits).", DefaultValueFactory = _ => 0 };
        var kmsKeyDir = new Option<string?>("--kms-key-dir") { Description = "Directory of encryption keys and aliases.json (default: <data-dir>/keys)." };
        var onDemandLimit = new Option<int>("--on-demand-stream-limit") { Description = "On-demand streams allowed per account (0: no limit).", DefaultValueFactory = _ => 50 };
        var defaults = new ThroughputLimits();
        var enforceLimits = new Option<bool>("--enforce-limits") { Description = "Throttle as AWS does: per-shard throughput, control-plane rates and the shard quota." };
        var writeBytes = new Option<long>("--shard-write-bytes-per-sec") { Description = "With --enforce-limits: bytes written per shard per second.", DefaultValueFactory = _ => defaults.ShardWriteBytesPerSecond };
        var writeRecords = new Option<long>("--shard-write-records-per-sec") { Description = "With --enforce-limits: records written per shard per second.", DefaultValueFactory = _ => defaults.ShardWriteRecordsPerSecond };
        var readBytes = new Option<long>("--shard-read-bytes-per-sec") { Description = "With --enforce-limits: bytes read per shard per second.", DefaultValueFactory = _ => defaults.ShardReadBytesPerSecond };
        var getRecords = new Option<long>("--shard-get-records-per-sec") { Description = "With --enforce-limits: GetRecords calls per shard per second.", DefaultValueFactory = _ => defaults.ShardGetRecordsPerSecond };
        var readPenalty = new Option<long>("--read-penalty-bytes") { Description = "With --enforce-limits: a GetRecords response this large throttles the shard's reads for 5 s.", DefaultValueFactory = _ => defaults.ReadPenaltyBytes };

        var tlsPort = new Option<int?>("--tls-port") { Description = "Also serve TLS (h2 by ALPN, HTTP/1.1) on this port; 0 picks a free one." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "TLS certificate: PEM (with --tls-key) or a PFX without password (default: self-signed, in <data-dir>/server/tls.pfx)." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var lambdaConcurrency = new Option<int>("--lambda-concurrency") { Description = "Lambda execution environments (processes) that may run at once, over all functions.", DefaultValueFactory = _ => 16 };
        var lambdaIdle = new Option<int>("--lambda-idle-seconds") { Description = "How long an idle Lambda execution environment stays warm.", DefaultValueFactory = _ => 300 };
        var firehoseHttpTimeout = new Option<int>("--firehose-http-timeout-seconds") { Description = "How long a Firehose HTTP endpoint has to answer (AWS: 180).", DefaultValueFactory = _ => 180 };
        var firehoseS3 = new Option<string?>("--firehose-s3-endpoint") { Description = "Deliver Firehose's S3 destinations to this S3-compatible endpoint (e.g. MinIO; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) instead of Millrace's own S3." };

        var metricsRetention = new Option<int>("--metrics-retention-days") { Description = "How long CloudWatch keeps 1-minute metric data (AWS: 15).", DefaultValueFactory = _ => 15 };
        var alarmInterval = new Option<int>("--alarm-evaluation-seconds") { Description = "How often CloudWatch alarms are evaluated.", DefaultValueFactory = _ => 10 };

        var auth = new Option<string?>("--auth")
        {
            Description = "none: any credentials, signatures not checked (the default on loopback); sigv4: SigV4 verified and IAM policies enforced (required off loopback).",
        };
        auth.AcceptOnlyFromAmong("none", "sigv4");
        var rootKeyId = new Option<string?>("--root-access-key-id") { Description = "With --auth sigv4: the account root's access key id (or MILLRACE_ROOT_ACCESS_KEY_ID); default: generated at first start." };
        var rootSecret = new Option<string?>("--root-secret-access-key") { Description = "With --auth sigv4: the root key's secret (or MILLRACE_ROOT_SECRET_ACCESS_KEY)." };
        var serve = new Command("serve", "Run the server: Kinesis Data Streams, DynamoDB, S3, CloudWatch metrics and Logs, Lambda and Firehose on one endpoint.")
        {
            host, port, dynamoPort, dataDir, region, account, createDelay, deleteDelay, updateDelay, shardLimit, kmsKeyDir, onDemandLimit,
            enforceLimits, writeBytes, writeRecords, readBytes, getRecords, readPenalty, tlsPort, tlsCert, tlsKey, lambdaConcurrency, lambdaIdle, firehoseS3, firehoseHttpTimeout,
            metricsRetention, alarmInterval, auth, rootKeyId, rootSecret,
        };
        serve.SetAction(async (parse, ct) =>
        {
            var options = new MillraceServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                DynamoDbPort = parse.GetValue(dynamoPort),
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                Region = parse.GetValue(region)!,
                AccountId = parse.GetValue(account)!,
                CreateStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(createDelay)),
                DeleteStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(deleteDelay)),
                UpdateStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(updateDelay)),
                ShardLimit = parse.GetValue(shardLimit),
                KmsKeyDirectory = parse.GetValue(kmsKeyDir) is { } keyDir ? Path.GetFullPath(keyDir) : null,
                OnDemandStreamCountLimit = parse.GetValue(onDemandLimit),
                EnforceLimits = parse.GetValue(enforceLimits),
                TlsPort = parse.GetValue(tlsPort),
                TlsCertificatePath = parse.GetValue(tlsCert) is { } cert ? Path.GetFullPath(cert) : null,
                TlsKeyPath = parse.GetValue(tlsKey) is { } key ? Path.GetFullPath(key) : null,
                LambdaConcurrency = Math.Max(1, parse.GetValue(lambdaConcurrency)),
                LambdaIdleTimeout = TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(lambdaIdle))),
                FirehoseHttpTimeout = TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(firehoseHttpTimeout))),
                MetricsRetention = TimeSpan.FromDays(Math.Max(1, parse.GetValue(metricsRetention))),
                AlarmEvaluationInterval = TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(alarmInterval))),
                FirehoseS3Endpoint = parse.GetValue(firehoseS3) is { } s3Endpoint ? new Uri(s3Endpoint) : null,
                Auth = parse.GetValue(auth) switch { "sigv4" => AuthMode.SigV4, "none" => AuthMode.None, _ => null },
                RootAccessKeyId = parse.GetValue(rootKeyId) ?? NonEmpty(Environment.GetEnvironmentVariable("MILLRACE_ROOT_ACCESS_KEY_ID")),
                RootSecretAccessKey = parse.GetValue(rootSecret) ?? NonEmpty(Environment.GetEnvironmentVariable("MILLRACE_ROOT_SECRET_ACCESS_KEY")),
                Limits = new ThroughputLimits
                {
                    ShardWriteBytesPerSecond = parse.GetValue(writeBytes),
                    ShardWriteRecordsPerSecond = parse.GetValue(writeRecords),
                    ShardReadBytesPerSecond = parse.GetValue(readBytes),
                    ShardGetRecordsPerSecond = parse.GetValue(getRecords),
                    ReadPenaltyBytes = parse.GetValue(readPenalty),
                },
            };
            if (options.EnforceLimits && parse.GetResult(shardLimit) is null or { Implicit: true })
            {
                options.ShardLimit = ThroughputLimits.DefaultShardLimit; // AWS's quota unless --shard-limit says otherwise
            }

            if ((options.RootAccessKeyId is null) != (options.RootSecretAccessKey is null))
            {
                await Console.Error.WriteLineAsync("millrace serve: give the root access key id and its secret together (--root-access-key-id and --root-secret-access-key).");
                return 2;
            }

            return await ServeAsync(options, ct);
        });
        return serve;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static Command AgentCommand()
    {
        var config = new Option<string>("--config")
        {
            Description = "The Kinesis agent's agent.json (relative paths in it are taken from its directory).",
            DefaultValueFactory = _ => Millrace.Agent.AgentConfiguration.DefaultPath,
        };
        var agent = new Command("agent", "Tail files across rotation and ship their lines to Kinesis streams or Firehose delivery streams, configured by the AWS Kinesis agent's agent.json.")
        {
            config,
        };
        agent.SetAction(async (parse, ct) =>
        {
            Millrace.Agent.AgentConfiguration configuration;
            try
            {
                configuration = Millrace.Agent.AgentConfiguration.Load(parse.GetValue(config)!);
            }
            catch (Millrace.Agent.Processing.AgentConfigurationException e)
            {
                await Console.Error.WriteLineAsync("millrace agent: " + e.Message);
                return 2;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true; // flush, checkpoint and exit 0
                stop.Cancel();
            }

            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            await new Millrace.Agent.AgentHost(configuration, Console.Out).RunAsync(stop.Token);
            return 0;
        });
        return agent;
    }

    private static async Task<int> ServeAsync(MillraceServerOptions options, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // stop cleanly below instead of being torn down
            stop.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        MillraceHost started;
        try
        {
            started = await MillraceHost.StartAsync(options, stop.Token);
        }
        catch (AuthConfigurationException e)
        {
            await Console.Error.WriteLineAsync("millrace serve: " + e.Message);
            return 2;
        }

        await using var server = started;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Millrace listening on {server.Endpoint.ToString().TrimEnd('/')} (data in {options.DataDirectory})"));
        if (server.RootKey is { } root)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Auth: sigv4 (signatures verified, IAM policies enforced); root access key {root.AccessKeyId}"));
            if (root.GeneratedSecret is { } secret)
            {
                // Shown this once: the store keeps it sealed under a key of the key directory.
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  generated root secret access key: {secret}\n  (shown once; kept encrypted in {root.StorePath} with a key in {root.KeyDirectory})"));
            }
        }
        else
        {
            Console.Out.WriteLine("Auth: none (any credentials; signatures are not checked)");
        }
        if (server.TlsEndpoint is { } tls)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Millrace TLS on {tls.ToString().TrimEnd('/')}"));
        }

        var main = server.Endpoint.ToString().TrimEnd('/');
        foreach (var service in server.Services)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {service.Name,-10} {main}{ServiceHint(service.Name, server.Endpoint.Port)}"));
        }

        if (server.DynamoDbEndpoint is { } dynamo)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DynamoDB listening on {dynamo.ToString().TrimEnd('/')}"));
        }

        Console.Out.WriteLine("Millrace ready");
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Console.Out.WriteLine("Millrace stopping: finishing requests and flushing");
        return 0;
    }

    private static string ServiceHint(string service, int port) => service switch
    {
        "s3" => string.Create(CultureInfo.InvariantCulture, $"  (path style; virtual-hosted: http://<bucket>.localhost:{port})"),
        _ => "",
    };
}
