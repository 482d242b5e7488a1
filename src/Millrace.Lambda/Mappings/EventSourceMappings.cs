using Millrace.Gateway;
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;
using Millrace.Storage.Functions;

namespace Millrace.Lambda.Mappings;

/// <summary>
/// Event-source mappings from Kinesis streams: Create/Get/List/Update/DeleteEventSourceMapping over the function
/// store, and one <see cref="MappingRunner"/> per enabled mapping, resumed at start from the stored checkpoints.
/// </summary>
internal sealed class EventSourceMappings : IAsyncDisposable
{
    private readonly IFunctionStore _store;
    private readonly LambdaService _lambda;
    private readonly IKinesisCalls? _kinesis;
    private readonly LambdaOptions _options;
    private readonly ConcurrentDictionary<string, MappingRunner> _runners = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writes = new(1, 1);

    public EventSourceMappings(IFunctionStore store, LambdaService lambda, IKinesisCalls? kinesis, LambdaOptions options)
    {
        _store = store;
        _lambda = lambda;
        _kinesis = kinesis;
        _options = options;
    }

    internal IFunctionStore Store => _store;

    internal LambdaService Lambda => _lambda;

    internal IKinesisCalls Kinesis => _kinesis ?? throw new InvalidOperationException("no Kinesis service");

    /// <summary>Kinesis as a mapping's function's execution role reads it (--auth sigv4), or as is.</summary>
    internal IKinesisCalls KinesisAs(string functionArn, string streamArn) =>
        _options.RoleAllows is { } allows ? new RoleKinesisCalls(Kinesis, streamArn, ct => _lambda.RoleOfAsync(functionArn, ct), allows) : Kinesis;

    /// <summary>
    /// As AWS checks at creation: the execution role must be able to read the stream (and subscribe through the
    /// consumer), or the mapping is refused rather than left polling nothing.
    /// </summary>
    private async Task CheckRoleReadsAsync(string functionArn, string source, string streamArn, CancellationToken ct)
    {
        if (_options.RoleAllows is null)
        {
            return;
        }

        var calls = (RoleKinesisCalls)KinesisAs(functionArn, streamArn);
        try
        {
            foreach (var operation in new[] { "GetRecords", "GetShardIterator", "DescribeStream", "ListShards" })
            {
                await calls.AuthorizeAsync(operation, [], ct);
            }

            if (source != streamArn)
            {
                await calls.AuthorizeAsync("SubscribeToShard", new JsonObject { ["ConsumerARN"] = source }, ct);
            }
        }
        catch (ServiceException e) when (e.Code == "AccessDeniedException")
        {
            throw Invalid($"Cannot access stream {source}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, ListShards"
                + (source != streamArn ? ", SubscribeToShard" : "") + " Actions on your stream in IAM.");
        }
    }

    internal LambdaOptions Options => _options;

    /// <summary>Starts the runners of every enabled mapping (after a restart they resume from their checkpoints).</summary>
    public async Task ResumeAsync(CancellationToken ct)
    {
        foreach (var (id, text) in await _store.ListMappingsAsync(ct))
        {
            var document = JsonNode.Parse(text)!.AsObject();
            if (document["State"]?.GetValue<string>() is "Enabled" or "Creating" or "Enabling" or "Updating")
            {
                document["State"] = "Enabled";
                Start(id, document);
            }
        }
    }

    public void Register(Gateway.ModelService service) => service
        .OnAsync("CreateEventSourceMapping", CreateAsync)
        .OnAsync("GetEventSourceMapping", GetAsync)
        .OnAsync("ListEventSourceMappings", ListAsync)
        .OnAsync("UpdateEventSourceMapping", UpdateAsync)
        .OnAsync("DeleteEventSourceMapping", DeleteAsync);

    /// <summary>Internal member of the stored document (never shown): when a LATEST mapping was created.</summary>
    internal const string LatestFromMs = "MillraceLatestFromMs";

    private static ServiceException Invalid(string message) => new("InvalidParameterValueException", message);

    private string MappingArn(string id) => $"arn:aws:lambda:{_options.Region}:{_options.AccountId}:event-source-mapping:{id}";

    private static double Epoch(DateTimeOffset t) => Math.Round(t.ToUnixTimeMilliseconds() / 1000.0, 3);

    private async Task<JsonObject?> CreateAsync(JsonObject input, OperationContext ctx)
    {
        var source = ModelDocument.GetString(input["EventSourceArn"]) ?? throw Invalid("EventSourceArn is required for Kinesis event sources.");
        var streamArn = StreamArnOf(source);
        if (_kinesis is null)
        {
            throw Invalid("Unrecognized event source, must be kinesis stream.");
        }

        try
        {
            await _kinesis.CallAsync("DescribeStreamSummary", new JsonObject { ["StreamARN"] = streamArn }, ctx.Cancellation);
            if (source != streamArn)
            {
                // A consumer ARN: records come by SubscribeToShard, through the consumer's dedicated throughput.
                await _kinesis.CallAsync("DescribeStreamConsumer", new JsonObject { ["ConsumerARN"] = source }, ctx.Cancellation);
            }
        }
        catch (ServiceException e) when (e.Code == "ResourceNotFoundException")
        {
            throw Invalid($"Stream or consumer not found: {source}");
        }

        var functionArn = await _lambda.FunctionArnOfAsync(ModelDocument.GetString(input["FunctionName"])!, ctx.Cancellation);
        await CheckRoleReadsAsync(functionArn, source, streamArn, ctx.Cancellation);
        var starting = ModelDocument.GetString(input["StartingPosition"]) ?? throw Invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null");
        if (starting == "AT_TIMESTAMP" && input["StartingPositionTimestamp"] is null)
        {
            throw Invalid("StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP.");
        }

        var batchSize = ModelDocument.GetInt64(input["BatchSize"]) ?? 100; // 1-10,000: the model's range, checked before

        var id = Guid.NewGuid().ToString();
        var document = new JsonObject
        {
            ["UUID"] = id,
            ["StartingPosition"] = starting,
            ["BatchSize"] = batchSize,
            ["MaximumBatchingWindowInSeconds"] = ModelDocument.GetInt64(input["MaximumBatchingWindowInSeconds"]) ?? 0,
            ["ParallelizationFactor"] = ModelDocument.GetInt64(input["ParallelizationFactor"]) ?? 1,
            ["EventSourceArn"] = source,
            ["FunctionArn"] = functionArn,
            ["LastModified"] = Epoch(_options.Clock.GetUtcNow()),
            ["LastProcessingResult"] = "No records processed",
            ["State"] = "Creating",
            ["StateTransitionReason"] = "User action",
            ["DestinationConfig"] = CheckDestination(input["DestinationConfig"]) ?? new JsonObject { ["OnFailure"] = new JsonObject() },
            ["MaximumRecordAgeInSeconds"] = ModelDocument.GetInt64(input["MaximumRecordAgeInSeconds"]) ?? -1,
            ["BisectBatchOnFunctionError"] = ModelDocument.GetBoolean(input["BisectBatchOnFunctionError"]) ?? false,
            ["MaximumRetryAttempts"] = ModelDocument.GetInt64(input["MaximumRetryAttempts"]) ?? -1,
            ["TumblingWindowInSeconds"] = ModelDocument.GetInt64(input["TumblingWindowInSeconds"]) ?? 0,
            ["FunctionResponseTypes"] = input["FunctionResponseTypes"]?.DeepClone() ?? new JsonArray(),
            ["EventSourceMappingArn"] = MappingArn(id),
        };
        if (input["StartingPositionTimestamp"] is { } timestamp)
        {
            document["StartingPositionTimestamp"] = ModelDocument.GetTimestamp(timestamp) is { } t ? Epoch(t) : timestamp.DeepClone();
        }

        if (input["FilterCriteria"] is JsonObject filter)
        {
            CheckFilter(filter);
            document["FilterCriteria"] = filter.DeepClone();
        }

        CheckMaximumRecordAge(document);
        var enabled = ModelDocument.GetBoolean(input["Enabled"]) ?? true;
        var stored = document.DeepClone().AsObject();
        stored["State"] = enabled ? "Enabled" : "Disabled";

        // LATEST means "what arrives from now on": kept as the creation time, so that records put before the pollers
        // take their first iterators, or before a restart that precedes the first checkpoint, are not skipped.
        if (starting == "LATEST")
        {
            stored[LatestFromMs] = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        }
        await _store.PutMappingAsync(id, stored.ToJsonString(), ctx.Cancellation);
        if (enabled)
        {
            Start(id, stored);
        }

        return document;
    }

    private static void CheckFilter(JsonNode? criteria)
    {
        try
        {
            EventFilter.Parse(criteria);
        }
        catch (FormatException e)
        {
            throw Invalid(e.Message);
        }
    }

    private static void CheckMaximumRecordAge(JsonObject document)
    {
        var age = document["MaximumRecordAgeInSeconds"]!.GetValue<long>();
        if (age is >= 0 and < 60)
        {
            throw Invalid("MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800.");
        }
    }

    /// <summary>The stream of a stream ARN or of a registered consumer ARN (<c>.../stream/name/consumer/c:123</c>).</summary>
    private static string StreamArnOf(string arn)
    {
        if (!arn.StartsWith("arn:aws:kinesis:", StringComparison.Ordinal) || !arn.Contains(":stream/", StringComparison.Ordinal))
        {
            throw Invalid($"Unrecognized event source, must be kinesis stream: {arn}. Millrace serves Kinesis event sources only.");
        }

        var consumer = arn.IndexOf("/consumer/", StringComparison.Ordinal);
        return consumer < 0 ? arn : arn[..consumer];
    }

    /// <summary>OnFailure destinations: an S3 bucket ARN. SQS and SNS are refused, since Millrace serves neither.</summary>
    private static JsonObject? CheckDestination(JsonNode? config)
    {
        if (config is not JsonObject destination)
        {
            return null;
        }

        if ((destination["OnFailure"] as JsonObject)?["Destination"]?.GetValue<string>() is { } arn)
        {
            if (arn.StartsWith("arn:aws:sqs:", StringComparison.Ordinal) || arn.StartsWith("arn:aws:sns:", StringComparison.Ordinal))
            {
                throw Invalid($"The destination {arn} cannot be used: Millrace serves neither SQS nor SNS. Use an S3 bucket (arn:aws:s3:::bucket) as the on-failure destination.");
            }

            if (!arn.StartsWith("arn:aws:s3:::", StringComparison.Ordinal))
            {
                throw Invalid($"Unsupported destination {arn}: an on-failure destination of a Kinesis mapping is an S3 bucket ARN here.");
            }
        }

        return destination.DeepClone().AsObject();
    }

    private void Start(string id, JsonObject document)
    {
        var runner = new MappingRunner(this, id, document);
        if (_runners.TryAdd(id, runner))
        {
            runner.Start();
        }
    }

    private async Task StopAsync(string id)
    {
        if (_runners.TryRemove(id, out var runner))
        {
            await runner.DisposeAsync();
        }
    }

    private async Task<JsonObject> RequireAsync(string id, CancellationToken ct)
    {
        var text = await _store.GetMappingAsync(id, ct)
            ?? throw new ServiceException("ResourceNotFoundException", $"The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {Guid.NewGuid()})");
        return View(id, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>The stored document with what the runner knows now (its last processing result).</summary>
    private JsonObject View(string id, JsonObject document)
    {
        document.Remove(LatestFromMs);
        if (_runners.TryGetValue(id, out var runner) && runner.LastProcessingResult is { } result)
        {
            document["LastProcessingResult"] = result;
        }

        return document;
    }

    private async Task<JsonObject?> GetAsync(JsonObject input, OperationContext ctx) =>
        await RequireAsync(ModelDocument.GetString(input["UUID"])!, ctx.Cancellation);

    private async Task<JsonObject?> ListAsync(JsonObject input, OperationContext ctx)
    {
        var source = ModelDocument.GetString(input["EventSourceArn"]);
        var function = ModelDocument.GetString(input["FunctionName"]) is { } name ? await _lambda.FunctionArnOfAsync(name, ctx.Cancellation) : null;
        var limit = (int)(ModelDocument.GetInt64(input["MaxItems"]) ?? 100);
        var marker = ModelDocument.GetString(input["Marker"]);
        var all = new List<JsonObject>();
        foreach (var (id, text) in await _store.ListMappingsAsync(ctx.Cancellation))
        {
            var document = JsonNode.Parse(text)!.AsObject();
            if ((source is null || document["EventSourceArn"]!.GetValue<string>() == source)
                && (function is null || document["FunctionArn"]!.GetValue<string>() == function)
                && (marker is null || string.CompareOrdinal(id, marker) > 0))
            {
                all.Add(View(id, document));
            }
        }

        var output = new JsonObject { ["EventSourceMappings"] = new JsonArray([.. all.Take(limit)]) };
        if (all.Count > limit)
        {
            output["NextMarker"] = all[limit - 1]["UUID"]!.GetValue<string>();
        }

        return output;
    }

    private async Task<JsonObject?> UpdateAsync(JsonObject input, OperationContext ctx)
    {
        var id = ModelDocument.GetString(input["UUID"])!;
        await _writes.WaitAsync(ctx.Cancellation);
        JsonObject document;
        bool enabled;
        try
        {
            var storedText = await _store.GetMappingAsync(id, ctx.Cancellation);
            var latestFrom = storedText is null ? null : JsonNode.Parse(storedText)![LatestFromMs]?.DeepClone();
            document = await RequireAsync(id, ctx.Cancellation);
            if (latestFrom is not null)
            {
                document[LatestFromMs] = latestFrom;
            }

            if (ModelDocument.GetString(input["FunctionName"]) is { } name)
            {
                document["FunctionArn"] = await _lambda.FunctionArnOfAsync(name, ctx.Cancellation);
                var source = document["EventSourceArn"]!.GetValue<string>();
                await CheckRoleReadsAsync(document["FunctionArn"]!.GetValue<string>(), source, StreamArnOf(source), ctx.Cancellation);
            }

            foreach (var key in new[] { "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRecordAgeInSeconds",
                         "BisectBatchOnFunctionError", "MaximumRetryAttempts", "TumblingWindowInSeconds", "FunctionResponseTypes", "FilterCriteria" })
            {
                if (input[key] is { } value)
                {
                    document[key] = value.DeepClone();
                }
            }

            if (input["DestinationConfig"] is { } destination)
            {
                document["DestinationConfig"] = CheckDestination(destination);
            }

            CheckMaximumRecordAge(document);
            CheckFilter(document["FilterCriteria"]);
            enabled = ModelDocument.GetBoolean(input["Enabled"]) ?? document["State"]!.GetValue<string>() != "Disabled";
            document["State"] = enabled ? "Enabled" : "Disabled";
            document["LastModified"] = Epoch(_options.Clock.GetUtcNow());
            await _store.PutMappingAsync(id, document.ToJsonString(), ctx.Cancellation);
        }
        finally
        {
            _writes.Release();
        }

        // The runner restarts with the new settings, from the checkpoints.
        await StopAsync(id);
        if (enabled)
        {
            Start(id, document.DeepClone().AsObject());
        }

        var answer = document.DeepClone().AsObject();
        answer.Remove(LatestFromMs);
        answer["State"] = enabled ? "Updating" : "Disabling";
        return answer;
    }

    private async Task<JsonObject?> DeleteAsync(JsonObject input, OperationContext ctx)
    {
        var id = ModelDocument.GetString(input["UUID"])!;
        var document = await RequireAsync(id, ctx.Cancellation);
        await StopAsync(id);
        await _store.DeleteMappingAsync(id, ctx.Cancellation);
        document["State"] = "Deleting";
        return document;
    }

    /// <summary>Stops every runner; their checkpoints stay, so they resume at the next start.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var id in _runners.Keys.ToList())
        {
            await StopAsync(id);
        }

        _writes.Dispose();
    }
}
