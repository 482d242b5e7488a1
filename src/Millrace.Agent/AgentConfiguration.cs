using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Agent.Processing;

namespace Millrace.Agent;

/// <summary>Where a flow's records go.</summary>
public enum DestinationKind
{
    KinesisStream,
    DeliveryStream,
}

/// <summary>One entry of <c>flows</c>: a file pattern tailed into one stream or delivery stream.</summary>
public sealed class FlowConfiguration
{
    public required int Index { get; init; }

    public required string FilePattern { get; init; }

    public required DestinationKind Kind { get; init; }

    public required string Destination { get; init; }

    /// <summary>The AWS agent's flow id, also the checkpoint key: <c>kinesis:&lt;stream&gt;:&lt;filePattern&gt;</c> or <c>fh:...</c>.</summary>
    public string Id => (Kind == DestinationKind.KinesisStream ? "kinesis:" : "fh:") + Destination + ":" + FilePattern;

    public bool StartAtBeginning { get; init; }

    public Regex? MultiLineStartPattern { get; init; }

    public int SkipHeaderLines { get; init; }

    public byte[] TruncatedRecordTerminator { get; init; } = "\n"u8.ToArray();

    public Regex? FileFooterPattern { get; init; }

    public int MinTimeBetweenFilePollsMillis { get; init; } = 100;

    public int MaxTimeBetweenFileTrackerRefreshMillis { get; init; } = 10_000;

    public int MaxBufferAgeMillis { get; init; } = 60_000;

    public int MaxBufferSizeRecords { get; init; } = 500;

    public int MaxBufferSizeBytes { get; init; }

    public int RetryInitialBackoffMillis { get; init; } = 100;

    public int RetryMaxBackoffMillis { get; init; } = 10_000;

    public int PublishQueueCapacity { get; init; } = 100;

    /// <summary>Partition keys: RANDOM (default) or DETERMINISTIC (hex MD5 of the data).</summary>
    public bool DeterministicPartitionKey { get; init; }

    /// <summary>Firehose only: lines packed into one record up to this size (0: one line a record).</summary>
    public int AggregatedRecordSizeBytes { get; init; }

    /// <summary>Millrace's own key <c>millrace.aggregation</c>: KPL-aggregate Kinesis records (off, as consumers may not deaggregate).</summary>
    public bool KplAggregation { get; init; }

    internal IReadOnlyList<IDataConverter> Converters { get; init; } = [];

    /// <summary>The destination's largest record: 1 MiB for Kinesis, 1,000 KiB for Firehose.</summary>
    public int MaxRecordBytes => Kind == DestinationKind.KinesisStream ? 1024 * 1024 : 1000 * 1024;
}

/// <summary>
/// The AWS Kinesis Agent's <c>agent.json</c>, every global and flow key with the AWS agent's defaults and ranges.
/// Unknown keys and wrong types are errors naming the key, so a typo never silently changes behaviour.
/// </summary>
public sealed class AgentConfiguration
{
    public const string DefaultPath = "/etc/aws-kinesis/agent.json";

    private static readonly HashSet<string> GlobalKeys =
    [
        "checkpointFile", "checkpointTimeToLiveDays", "cloudwatch.emitMetrics", "cloudwatch.endpoint", "cloudwatch.namespace",
        "cloudwatch.tagInstance", "cloudwatch.metricsBufferTimeMillis", "cloudwatch.metricsQueueSize", "kinesis.endpoint", "kinesis.region",
        "firehose.endpoint", "sts.endpoint", "awsAccessKeyId", "awsSecretAccessKey", "awsSessionToken", "assumeRoleARN", "assumeRoleExternalId",
        "userDefinedCredentialsProvider.classname", "userDefinedCredentialsProvider.location", "log.emitMetrics", "log.emitInternalMetrics",
        "log.statusReportingPeriodSeconds", "maxSendingThreads", "maxSendingThreadsPerCore", "sendingThreadsKeepAliveMillis",
        "sendingThreadsMaxQueueSize", "maxConnections", "connectionTimeoutMillis", "connectionTTLMillis", "socketTimeoutMillis",
        "useTcpKeepAlive", "useHttpGzip", "shutdownTimeoutMillis", "flows",
    ];

    private static readonly HashSet<string> FlowKeys =
    [
        "kinesisStream", "deliveryStream", "filePattern", "initialPosition", "multiLineStartPattern", "skipHeaderLines",
        "truncatedRecordTerminator", "fileFooterPattern", "minTimeBetweenFilePollsMillis", "maxTimeBetweenFileTrackerRefreshMillis",
        "maxBufferAgeMillis", "maxBufferSizeRecords", "maxBufferSizeBytes", "waitOnFullPublishQueueMillis", "waitOnEmptyPublishQueueMillis",
        "retryInitialBackoffMillis", "retryMaxBackoffMillis", "publishQueueCapacity", "partitionKeyOption", "aggregatedRecordSizeBytes",
        "dataProcessingOptions", "millrace.aggregation",
    ];

    public string CheckpointFile { get; private init; } = "/var/run/aws-kinesis-agent/checkpoints";

    public int CheckpointTimeToLiveDays { get; private init; } = 7;

    public bool EmitMetrics { get; private init; } = true;

    public string? KinesisEndpoint { get; private init; }

    public string? KinesisRegion { get; private init; }

    public string? FirehoseEndpoint { get; private init; }

    public string? AccessKeyId { get; private init; }

    public string? SecretAccessKey { get; private init; }

    public string? SessionToken { get; private init; }

    public int MaxSendingThreads { get; private init; } = 12 * Environment.ProcessorCount;

    public int ShutdownTimeoutMillis { get; private init; } = 10_000;

    public int MaxConnections { get; private init; } = 50;

    public int StatusReportingPeriodSeconds { get; private init; } = 30;

    public IReadOnlyList<FlowConfiguration> Flows { get; private init; } = [];

    /// <summary>Reads and validates <paramref name="path"/>; every problem is an <see cref="AgentConfigurationException"/> naming the file and key.</summary>
    public static AgentConfiguration Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AgentConfigurationException($"{path}: cannot read the configuration: {e.Message}");
        }

        try
        {
            return Parse(text, Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch (AgentConfigurationException e)
        {
            throw new AgentConfigurationException($"{path}: {e.Message}");
        }
    }

    /// <summary>Parses configuration text; relative paths (checkpointFile, filePattern) are taken from <paramref name="baseDirectory"/>.</summary>
    public static AgentConfiguration Parse(string text, string baseDirectory)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, AllowDuplicateProperties = false }) as JsonObject
                ?? throw new AgentConfigurationException("the configuration must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new AgentConfigurationException($"not valid JSON: {e.Message}");
        }

        Unknown(root, GlobalKeys, "");
        if (root["userDefinedCredentialsProvider.classname"] is not null || root["assumeRoleARN"] is not null)
        {
            throw new AgentConfigurationException("userDefinedCredentialsProvider.classname and assumeRoleARN are not supported by millrace agent; use awsAccessKeyId/awsSecretAccessKey or the standard credential chain");
        }

        var flows = root["flows"] as JsonArray ?? (root["flows"] is null
            ? throw new AgentConfigurationException("flows is required (a list of flows)")
            : throw new AgentConfigurationException("flows must be a list"));
        if (flows.Count == 0)
        {
            throw new AgentConfigurationException("flows is empty: nothing to do");
        }

        var accessKey = Text(root, "awsAccessKeyId", "");
        var secret = Text(root, "awsSecretAccessKey", "");
        if (accessKey is null != secret is null)
        {
            throw new AgentConfigurationException("awsAccessKeyId and awsSecretAccessKey must be given together");
        }

        var config = new AgentConfiguration
        {
            CheckpointFile = Resolve(baseDirectory, Text(root, "checkpointFile", "") ?? "/var/run/aws-kinesis-agent/checkpoints"),
            CheckpointTimeToLiveDays = Int(root, "checkpointTimeToLiveDays", "", 7, 1, 3650),
            EmitMetrics = Bool(root, "cloudwatch.emitMetrics", "", true),
            KinesisEndpoint = Endpoint(root, "kinesis.endpoint"),
            KinesisRegion = Text(root, "kinesis.region", ""),
            FirehoseEndpoint = Endpoint(root, "firehose.endpoint"),
            AccessKeyId = accessKey,
            SecretAccessKey = secret,
            SessionToken = Text(root, "awsSessionToken", ""),
            MaxSendingThreads = Int(root, "maxSendingThreads", "", 12 * Environment.ProcessorCount, 1, 10_000),
            ShutdownTimeoutMillis = Int(root, "shutdownTimeoutMillis", "", 10_000, 0, 3_600_000),
            MaxConnections = Int(root, "maxConnections", "", 50, 1, 10_000),
            StatusReportingPeriodSeconds = Int(root, "log.statusReportingPeriodSeconds", "", 30, 1, 86_400),
            Flows = flows.Select((f, i) => ParseFlow(f, i, baseDirectory)).ToList(),
        };

        // Keys the AWS agent knows and Millrace takes as given: checked for their type only.
        foreach (var key in new[] { "cloudwatch.tagInstance", "log.emitMetrics", "log.emitInternalMetrics", "useTcpKeepAlive", "useHttpGzip" })
        {
            Bool(root, key, "", false);
        }

        foreach (var key in new[] { "cloudwatch.metricsBufferTimeMillis", "cloudwatch.metricsQueueSize", "maxSendingThreadsPerCore", "sendingThreadsKeepAliveMillis",
                     "sendingThreadsMaxQueueSize", "connectionTimeoutMillis", "connectionTTLMillis", "socketTimeoutMillis" })
        {
            Int(root, key, "", 0, 0, int.MaxValue);
        }

        foreach (var key in new[] { "cloudwatch.endpoint", "cloudwatch.namespace", "sts.endpoint", "assumeRoleExternalId", "userDefinedCredentialsProvider.location" })
        {
            Text(root, key, "");
        }

        var ids = config.Flows.GroupBy(f => f.Id).FirstOrDefault(g => g.Count() > 1);
        if (ids is not null)
        {
            throw new AgentConfigurationException($"flows[{ids.Last().Index}] repeats flows[{ids.First().Index}] (the same filePattern and destination)");
        }

        return config;
    }

    private static FlowConfiguration ParseFlow(JsonNode? node, int index, string baseDirectory)
    {
        var at = $"flows[{index}].";
        var f = node as JsonObject ?? throw new AgentConfigurationException($"flows[{index}] must be an object");
        Unknown(f, FlowKeys, at);
        var stream = Text(f, "kinesisStream", at);
        var delivery = Text(f, "deliveryStream", at);
        if (stream is null == delivery is null)
        {
            throw new AgentConfigurationException($"flows[{index}] must name exactly one destination: kinesisStream or deliveryStream");
        }

        var kind = stream is not null ? DestinationKind.KinesisStream : DestinationKind.DeliveryStream;
        var pattern = Text(f, "filePattern", at) ?? throw new AgentConfigurationException($"{at}filePattern is required");
        var initial = Text(f, "initialPosition", at) ?? "END_OF_FILE";
        if (initial is not ("END_OF_FILE" or "START_OF_FILE"))
        {
            throw new AgentConfigurationException($"{at}initialPosition must be END_OF_FILE or START_OF_FILE, not {initial}");
        }

        var partitionKey = Text(f, "partitionKeyOption", at) ?? "RANDOM";
        if (partitionKey is not ("RANDOM" or "DETERMINISTIC"))
        {
            throw new AgentConfigurationException($"{at}partitionKeyOption must be RANDOM or DETERMINISTIC, not {partitionKey}");
        }

        if (kind == DestinationKind.DeliveryStream && f["partitionKeyOption"] is not null)
        {
            throw new AgentConfigurationException($"{at}partitionKeyOption applies to kinesisStream flows only");
        }

        if (kind == DestinationKind.KinesisStream && f["aggregatedRecordSizeBytes"] is not null)
        {
            throw new AgentConfigurationException($"{at}aggregatedRecordSizeBytes applies to deliveryStream flows only");
        }

        if (kind == DestinationKind.DeliveryStream && f["millrace.aggregation"] is not null)
        {
            throw new AgentConfigurationException($"{at}millrace.aggregation (KPL aggregation) applies to kinesisStream flows only");
        }

        var maxBytes = kind == DestinationKind.KinesisStream ? 5 * 1024 * 1024 : 4 * 1024 * 1024;
        var terminator = Text(f, "truncatedRecordTerminator", at) ?? "\n";
        var initialBackoff = Int(f, "retryInitialBackoffMillis", at, 100, 1, 3_600_000);
        var flow = new FlowConfiguration
        {
            Index = index,
            FilePattern = Resolve(baseDirectory, pattern),
            Kind = kind,
            Destination = (stream ?? delivery)!,
            StartAtBeginning = initial == "START_OF_FILE",
            MultiLineStartPattern = Pattern(f, "multiLineStartPattern", at),
            SkipHeaderLines = Int(f, "skipHeaderLines", at, 0, 0, int.MaxValue),
            TruncatedRecordTerminator = System.Text.Encoding.UTF8.GetBytes(terminator),
            FileFooterPattern = Pattern(f, "fileFooterPattern", at),
            MinTimeBetweenFilePollsMillis = Int(f, "minTimeBetweenFilePollsMillis", at, 100, 1, 3_600_000),
            MaxTimeBetweenFileTrackerRefreshMillis = Int(f, "maxTimeBetweenFileTrackerRefreshMillis", at, 10_000, 1, 3_600_000),
            MaxBufferAgeMillis = Int(f, "maxBufferAgeMillis", at, 60_000, 1_000, 900_000),
            MaxBufferSizeRecords = Int(f, "maxBufferSizeRecords", at, 500, 1, 500),
            MaxBufferSizeBytes = Int(f, "maxBufferSizeBytes", at, maxBytes, 1, maxBytes),
            RetryInitialBackoffMillis = initialBackoff,
            RetryMaxBackoffMillis = Int(f, "retryMaxBackoffMillis", at, Math.Max(10_000, initialBackoff), initialBackoff, 3_600_000),
            PublishQueueCapacity = Int(f, "publishQueueCapacity", at, 100, 1, 10_000),
            DeterministicPartitionKey = partitionKey == "DETERMINISTIC",
            AggregatedRecordSizeBytes = Int(f, "aggregatedRecordSizeBytes", at, 0, 0, 1000 * 1024),
            KplAggregation = Bool(f, "millrace.aggregation", at, false),
            Converters = DataProcessing.Parse(f["dataProcessingOptions"] is null ? null
                : f["dataProcessingOptions"] as JsonArray ?? throw new AgentConfigurationException($"{at}dataProcessingOptions must be a list"), at + "dataProcessingOptions"),
        };
        Int(f, "waitOnFullPublishQueueMillis", at, 60_000, 1_000, 900_000);
        Int(f, "waitOnEmptyPublishQueueMillis", at, 60_000, 1_000, 900_000);
        if (flow.TruncatedRecordTerminator.Length >= flow.MaxRecordBytes)
        {
            throw new AgentConfigurationException($"{at}truncatedRecordTerminator is longer than a record may be");
        }

        return flow;
    }

    private static void Unknown(JsonObject o, HashSet<string> known, string at)
    {
        foreach (var (key, _) in o)
        {
            if (!known.Contains(key))
            {
                throw new AgentConfigurationException($"{at}{key} is not a known key of the Kinesis agent's configuration");
            }
        }
    }

    private static string Resolve(string baseDirectory, string path) => Path.IsPathRooted(path) ? path : Path.Combine(baseDirectory, path);

    private static string? Endpoint(JsonObject o, string key)
    {
        var value = Text(o, key, "");
        if (string.IsNullOrEmpty(value))
        {
            return null; // the AWS documentation's examples leave it "" for the default
        }

        // The AWS agent accepts a host name too (https:// then).
        var url = value.Contains("://", StringComparison.Ordinal) ? value : "https://" + value;
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? url
            : throw new AgentConfigurationException($"{key} is not a valid endpoint URL: {value}");
    }

    private static string? Text(JsonObject o, string key, string at) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new AgentConfigurationException($"{at}{key} must be a string"),
    };

    /// <summary>A number, or a string holding one (the AWS agent's configuration reader takes both).</summary>
    private static int Int(JsonObject o, string key, string at, int fallback, int min, int max)
    {
        long value;
        switch (o[key])
        {
            case null:
                return fallback;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n):
                value = n;
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String && long.TryParse(v.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s):
                value = s;
                break;
            default:
                throw new AgentConfigurationException($"{at}{key} must be a whole number");
        }

        return value < min || value > max
            ? throw new AgentConfigurationException($"{at}{key} must be between {min} and {max}, not {value}")
            : (int)value;
    }

    private static bool Bool(JsonObject o, string key, string at, bool fallback) => o[key] switch
    {
        null => fallback,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String && bool.TryParse(v.GetValue<string>(), out var b) => b,
        _ => throw new AgentConfigurationException($"{at}{key} must be true or false"),
    };

    private static Regex? Pattern(JsonObject o, string key, string at)
    {
        var text = Text(o, key, at);
        if (text is null)
        {
            return null;
        }

        try
        {
            return new Regex(text, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new AgentConfigurationException($"{at}{key} is not a valid regular expression: {e.Message}");
        }
    }
}
