using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Firehose.Delivery;
using Millrace.Protocol.Wire;
using Millrace.Storage;
using Millrace.Storage.Delivery;

namespace Millrace.Firehose;

/// <summary>
/// Amazon Data Firehose (Firehose_20150804, JSON 1.1): the control plane of delivery streams, PutRecord(Batch) into
/// each stream's durable buffer (a one-shard record log), and the delivery workers that drain the buffers into
/// their destinations. A stream's state is one JSON document in the <see cref="IDeliveryStreamStore"/>.
/// </summary>
public sealed partial class FirehoseService : IAsyncDisposable
{
    internal const string DestinationId = "destinationId-000000000001";

    private readonly IDeliveryStreamStore _store;
    private readonly IStreamStore _buffers;
    private readonly FirehoseOptions _options;
    private readonly DeliveryEngine _engine;
    private readonly SemaphoreSlim _writes = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    public FirehoseService(IDeliveryStreamStore store, IStreamStore buffers, FirehoseOptions options, FirehoseConnections connections)
    {
        _store = store;
        _buffers = buffers;
        _options = options;
        _engine = new DeliveryEngine(store, buffers, options, connections);

        // Local use: plain-HTTP endpoints and PostgreSQL standing in for Redshift (AWS wants https:// and a *.redshift.* host).
        var model = Millrace.Protocol.Models.ServiceModel.Get("firehose");
        model.WidenPattern("HttpEndpointUrl", "https?://.*");
        model.WidenPattern("ClusterJDBCURL", "jdbc:(redshift|postgresql)://.+");
        // Pooled bodies: every handler copies what it keeps (records into the buffer log) before it answers.
        Endpoint = new ModelService("firehose", null, new ModelServiceOptions { ValidationErrorCode = "InvalidArgumentException", PooledRequestBodies = true })
            .OnAsync("CreateDeliveryStream", CreateDeliveryStreamAsync)
            .OnAsync("DescribeDeliveryStream", DescribeDeliveryStreamAsync)
            .OnAsync("ListDeliveryStreams", ListDeliveryStreamsAsync)
            .OnAsync("DeleteDeliveryStream", DeleteDeliveryStreamAsync)
            .OnAsync("UpdateDestination", UpdateDestinationAsync)
            .OnAsync("PutRecord", PutRecordAsync)
            .OnAsync("PutRecordBatch", PutRecordBatchAsync)
            .OnAsync("StartDeliveryStreamEncryption", StartEncryptionAsync)
            .OnAsync("StopDeliveryStreamEncryption", StopEncryptionAsync)
            .OnAsync("TagDeliveryStream", TagDeliveryStreamAsync)
            .OnAsync("UntagDeliveryStream", UntagDeliveryStreamAsync)
            .OnAsync("ListTagsForDeliveryStream", ListTagsForDeliveryStreamAsync);
        Endpoint.Dispatcher.RegisterJsonFastPath("PutRecordBatch", PutRecordBatchFastAsync);
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    /// <summary>Delivery statistics (for tests, benchmarks and metrics).</summary>
    public DeliveryEngine Delivery => _engine;

    private long NowMs => _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    internal string StreamArn(string name) => $"arn:aws:firehose:{_options.Region}:{_options.AccountId}:deliverystream/{name}";

    /// <summary>Reopens every buffer, finishes interrupted transitions and starts the delivery workers.</summary>
    public async Task ResumeAsync(CancellationToken ct)
    {
        var known = new HashSet<long>();
        foreach (var stored in await _store.ListAsync(ct))
        {
            known.Add(stored.BufferStreamId);
            await _buffers.Records.OpenShardAsync(new ShardKey(stored.BufferStreamId, 0), 0, ct);
            var document = JsonNode.Parse(stored.Document)!.AsObject();
            switch (Status(document))
            {
                case "CREATING":
                    ScheduleActivation(stored.Name);
                    _engine.Start(stored.Name, stored.BufferStreamId, document);
                    break;
                case "DELETING":
                    await RemoveAsync(stored.Name, stored.BufferStreamId, ct);
                    break;
                default:
                    _engine.Start(stored.Name, stored.BufferStreamId, document);
                    break;
            }
        }

        // A crash between creating a buffer and storing its stream leaves a buffer nobody owns.
        foreach (var orphan in (await _buffers.Catalog.ListAsync(ct)).Where(b => !known.Contains(b.StreamId)))
        {
            await _buffers.Records.DropStreamAsync(orphan.StreamId, ct);
            await _buffers.Catalog.DeleteAsync(orphan.StreamId, ct);
        }
    }

    // ---- create, describe, list, delete ----

    private async Task<JsonObject?> CreateDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "DeliveryStreamName")!;
        var type = Text(input, "DeliveryStreamType") ?? "DirectPut";
        var now = NowMs;
        var document = new JsonObject
        {
            ["DeliveryStreamName"] = name,
            ["DeliveryStreamARN"] = StreamArn(name),
            ["DeliveryStreamStatus"] = _options.CreateDelay > TimeSpan.Zero ? "CREATING" : "ACTIVE",
            ["DeliveryStreamType"] = type,
            ["VersionId"] = 1,
            ["CreateTimestamp"] = now,
            ["LastUpdateTimestamp"] = now,
            ["Source"] = await SourceOfAsync(input, type, now, ctx.Cancellation),
            ["Destination"] = DestinationConfigurations.FromCreate(input),
            ["Encryption"] = EncryptionOf(input["DeliveryStreamEncryptionConfigurationInput"] as JsonObject, type),
            ["Tags"] = TagsOf(input["Tags"] as JsonArray),
        };

        await _writes.WaitAsync(ctx.Cancellation);
        try
        {
            if (await _store.GetAsync(name, ctx.Cancellation) is not null)
            {
                throw new ServiceException("ResourceInUseException", $"Firehose {name} under accountId {_options.AccountId} already exists");
            }

            if ((await _store.ListAsync(ctx.Cancellation)).Count >= MaxDeliveryStreams)
            {
                throw new ServiceException("LimitExceededException", $"You have already consumed your firehose quota of {MaxDeliveryStreams} hoses. Firehose names: ");
            }

            var buffer = await _buffers.Catalog.CreateAsync(new StreamDescription
            {
                StreamName = $"{name}.{Guid.NewGuid():N}",
                Status = "ACTIVE",
                StreamMode = "PROVISIONED",
                CreatedAtMs = now,
                StatusChangedAtMs = now,
                RetentionPeriodHours = BufferRetentionHours,
                Shards = [new ShardDescription { ShardIndex = 0, StartingHashKey = "0", EndingHashKey = "0", StartingPosition = 0, CreatedAtMs = now }],
                NextShardIndex = 1,
            }, ctx.Cancellation);
            await _buffers.Records.OpenShardAsync(new ShardKey(buffer.StreamId, 0), 0, ctx.Cancellation);
            await _store.CreateAsync(new StoredDeliveryStream(name, document.ToJsonString(), buffer.StreamId), ctx.Cancellation);
            _engine.Start(name, buffer.StreamId, document);
        }
        finally
        {
            _writes.Release();
        }

        if (_options.CreateDelay > TimeSpan.Zero)
        {
            ScheduleActivation(name);
        }

        return new JsonObject { ["DeliveryStreamARN"] = StreamArn(name) };
    }

    /// <summary>The default quota of delivery streams per account and region.</summary>
    internal const int MaxDeliveryStreams = 50;

    /// <summary>Buffers keep a record an hour beyond the 24 hours of retries, so expired data can still go to the error output.</summary>
    private const int BufferRetentionHours = 25;

    private async Task<JsonObject> SourceOfAsync(JsonObject input, string type, long now, CancellationToken ct)
    {
        var kinesis = input["KinesisStreamSourceConfiguration"] as JsonObject;
        switch (type)
        {
            case "DirectPut":
                if (kinesis is not null)
                {
                    throw Invalid("KinesisSourceStreamConfig is only allowed for the KinesisStreamAsSource DeliveryStreamType.");
                }

                var hint = ModelDocument.GetInt64((input["DirectPutSourceConfiguration"] as JsonObject)?["ThroughputHintInMBs"]);
                return new JsonObject { ["DirectPutSourceDescription"] = hint is { } h ? new JsonObject { ["ThroughputHintInMBs"] = h } : new JsonObject() };
            case "KinesisStreamAsSource":
                if (kinesis is null)
                {
                    throw Invalid("KinesisSourceStreamConfig is required for the KinesisStreamAsSource DeliveryStreamType.");
                }

                var arn = Text(kinesis, "KinesisStreamARN")!;
                await _engine.CheckSourceStreamAsync(arn, ct);
                return new JsonObject
                {
                    ["KinesisStreamSourceDescription"] = new JsonObject
                    {
                        ["KinesisStreamARN"] = arn,
                        ["RoleARN"] = Text(kinesis, "RoleARN"),
                        ["DeliveryStartTimestamp"] = now,
                    },
                };
            default:
                throw Invalid($"DeliveryStreamType {type} is not supported by Millrace: only DirectPut and KinesisStreamAsSource sources are.");
        }
    }

    private JsonObject EncryptionOf(JsonObject? requested, string type)
    {
        if (requested is null)
        {
            return new JsonObject { ["Status"] = "DISABLED" };
        }

        if (type != "DirectPut")
        {
            throw Invalid("DeliveryStreamEncryptionConfigurationInput is only allowed for the DirectPut DeliveryStreamType.");
        }

        return EnabledEncryption(requested);
    }

    private JsonObject EnabledEncryption(JsonObject requested)
    {
        var keyType = Text(requested, "KeyType")!;
        var keyArn = Text(requested, "KeyARN");
        if (keyType == "AWS_OWNED_CMK" && keyArn is not null)
        {
            throw Invalid("KeyARN must not be specified when KeyType is AWS_OWNED_CMK.");
        }

        if (keyType == "CUSTOMER_MANAGED_CMK" && keyArn is null)
        {
            throw Invalid("KeyARN must be specified when KeyType is CUSTOMER_MANAGED_CMK.");
        }

        var resolve = _options.ResolveEncryptionKey ?? throw Invalid("Server-side encryption is not available on this server.");
        var keyId = resolve(keyType, keyArn);
        var encryption = new JsonObject { ["KeyType"] = keyType, ["Status"] = "ENABLED", ["KeyId"] = keyId };
        if (keyArn is not null)
        {
            encryption["KeyARN"] = keyArn;
        }

        return encryption;
    }

    private async Task<JsonObject?> DescribeDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var (document, _) = await LoadAsync(Text(input, "DeliveryStreamName")!, ctx.Cancellation);
        var after = Text(input, "ExclusiveStartDestinationId");
        var destinations = new JsonArray();
        if (after is null || string.CompareOrdinal(after, DestinationId) < 0)
        {
            var destination = DestinationConfigurations.Describe(document["Destination"]!.AsObject());
            destination.Insert(0, "DestinationId", DestinationId);
            destinations.Add(destination);
        }

        var encryption = document["Encryption"]!.AsObject();
        var description = new JsonObject
        {
            ["DeliveryStreamName"] = document["DeliveryStreamName"]!.DeepClone(),
            ["DeliveryStreamARN"] = document["DeliveryStreamARN"]!.DeepClone(),
            ["DeliveryStreamStatus"] = Status(document),
            ["DeliveryStreamEncryptionConfiguration"] = new JsonObject
            {
                ["KeyARN"] = encryption["KeyARN"]?.DeepClone(),
                ["KeyType"] = encryption["KeyType"]?.DeepClone(),
                ["Status"] = encryption["Status"]!.DeepClone(),
            },
            ["DeliveryStreamType"] = document["DeliveryStreamType"]!.DeepClone(),
            ["VersionId"] = document["VersionId"]!.GetValue<int>().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CreateTimestamp"] = Time(document["CreateTimestamp"]),
            ["Source"] = Source(document),
            ["Destinations"] = destinations,
            ["HasMoreDestinations"] = false,
        };
        if (document["VersionId"]!.GetValue<int>() > 1)
        {
            description["LastUpdateTimestamp"] = Time(document["LastUpdateTimestamp"]);
        }

        return new JsonObject { ["DeliveryStreamDescription"] = description };
    }

    private static JsonObject Source(JsonObject document)
    {
        var source = document["Source"]!.DeepClone().AsObject();
        if (source["KinesisStreamSourceDescription"] is JsonObject kinesis && kinesis["DeliveryStartTimestamp"] is { } start)
        {
            kinesis["DeliveryStartTimestamp"] = Time(start);
        }

        return source;
    }

    private async Task<JsonObject?> ListDeliveryStreamsAsync(JsonObject input, OperationContext ctx)
    {
        var limit = (int)(ModelDocument.GetInt64(input["Limit"]) ?? 10);
        var type = Text(input, "DeliveryStreamType");
        var after = Text(input, "ExclusiveStartDeliveryStreamName");
        var names = new List<string>();
        foreach (var stored in await _store.ListAsync(ctx.Cancellation))
        {
            if (after is not null && string.CompareOrdinal(stored.Name, after) <= 0)
            {
                continue;
            }

            var document = JsonNode.Parse(stored.Document)!.AsObject();
            if (type is null || Text(document, "DeliveryStreamType") == type)
            {
                names.Add(stored.Name);
            }
        }

        return new JsonObject
        {
            ["DeliveryStreamNames"] = new JsonArray([.. names.Take(limit).Select(n => (JsonNode?)n)]),
            ["HasMoreDeliveryStreams"] = names.Count > limit,
        };
    }

    private async Task<JsonObject?> DeleteDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "DeliveryStreamName")!;
        await _writes.WaitAsync(ctx.Cancellation);
        try
        {
            var (document, bufferId) = await LoadAsync(name, ctx.Cancellation);
            if (_options.CreateDelay <= TimeSpan.Zero)
            {
                await RemoveAsync(name, bufferId, ctx.Cancellation);
                return [];
            }

            document["DeliveryStreamStatus"] = "DELETING";
            await _store.UpdateAsync(name, document.ToJsonString(), ctx.Cancellation);
            await _engine.StopAsync(name);
        }
        finally
        {
            _writes.Release();
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(_options.CreateDelay, _options.Clock, _stopping.Token);
                await _writes.WaitAsync(_stopping.Token);
                try
                {
                    if (await _store.GetAsync(name, _stopping.Token) is { } stored && Status(JsonNode.Parse(stored.Document)!.AsObject()) == "DELETING")
                    {
                        await RemoveAsync(name, stored.BufferStreamId, _stopping.Token);
                    }
                }
                finally
                {
                    _writes.Release();
                }
            }
            catch (OperationCanceledException)
            {
                // Resumed at the next start.
            }
        });
        return [];
    }

    private async Task RemoveAsync(string name, long bufferId, CancellationToken ct)
    {
        await _engine.StopAsync(name);
        await _store.DeleteAsync(name, ct);
        await _buffers.Records.DropStreamAsync(bufferId, ct);
        await _buffers.Catalog.DeleteAsync(bufferId, ct);
    }

    private void ScheduleActivation(string name) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(_options.CreateDelay, _options.Clock, _stopping.Token);
                await UpdateDocumentAsync(name, d =>
                {
                    if (Status(d) == "CREATING")
                    {
                        d["DeliveryStreamStatus"] = "ACTIVE";
                    }
                }, _stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ServiceException)
            {
                // Stopping (resumed at the next start) or deleted meanwhile.
            }
        });

    // ---- UpdateDestination ----

    private async Task<JsonObject?> UpdateDestinationAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "DeliveryStreamName")!;
        var expected = Text(input, "CurrentDeliveryStreamVersionId")!;
        var destinationId = Text(input, "DestinationId")!;
        await UpdateDocumentAsync(name, document =>
        {
            var version = document["VersionId"]!.GetValue<int>();
            if (expected != version.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new ServiceException("ConcurrentModificationException",
                    $"Cannot update firehose: {name} since the current version id: {version} and specified version id: {expected} do not match");
            }

            if (destinationId != DestinationId)
            {
                throw Invalid($"Destination Id {destinationId} not found.");
            }

            if (Status(document) != "ACTIVE")
            {
                throw new ServiceException("ResourceInUseException", $"Firehose {name} is not in the ACTIVE state.");
            }

            document["Destination"] = DestinationConfigurations.Update(document["Destination"]!.AsObject(), input);
            document["VersionId"] = version + 1;
            document["LastUpdateTimestamp"] = NowMs;
        }, ctx.Cancellation, restart: true);
        return [];
    }

    // ---- encryption ----

    private async Task<JsonObject?> StartEncryptionAsync(JsonObject input, OperationContext ctx)
    {
        var requested = input["DeliveryStreamEncryptionConfigurationInput"] as JsonObject ?? new JsonObject { ["KeyType"] = "AWS_OWNED_CMK" };
        await UpdateDocumentAsync(Text(input, "DeliveryStreamName")!, document =>
        {
            if (Text(document, "DeliveryStreamType") != "DirectPut")
            {
                throw Invalid("This operation is not supported for KinesisStreamAsSource delivery stream type. Please use encryption on the Kinesis stream instead.");
            }

            document["Encryption"] = EnabledEncryption(requested);
        }, ctx.Cancellation);
        return [];
    }

    private async Task<JsonObject?> StopEncryptionAsync(JsonObject input, OperationContext ctx)
    {
        await UpdateDocumentAsync(Text(input, "DeliveryStreamName")!, document =>
        {
            if (Text(document, "DeliveryStreamType") != "DirectPut")
            {
                throw Invalid("This operation is not supported for KinesisStreamAsSource delivery stream type. Please use encryption on the Kinesis stream instead.");
            }

            document["Encryption"] = new JsonObject { ["Status"] = "DISABLED" };
        }, ctx.Cancellation);
        return [];
    }

    // ---- tags ----

    private async Task<JsonObject?> TagDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var added = TagsOf(input["Tags"] as JsonArray);
        await UpdateDocumentAsync(Text(input, "DeliveryStreamName")!, document =>
        {
            var tags = document["Tags"]!.AsObject();
            var total = tags.Select(t => t.Key).Union(added.Select(t => t.Key)).Count();
            if (total > 50)
            {
                throw new ServiceException("LimitExceededException", $"A delivery stream cannot have more than 50 tags; this request would leave {total}.");
            }

            foreach (var (key, value) in added)
            {
                tags[key] = value!.DeepClone();
            }
        }, ctx.Cancellation);
        return [];
    }

    private async Task<JsonObject?> UntagDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var keys = (input["TagKeys"] as JsonArray ?? []).Select(k => k!.GetValue<string>()).ToList();
        await UpdateDocumentAsync(Text(input, "DeliveryStreamName")!, document =>
        {
            var tags = document["Tags"]!.AsObject();
            foreach (var key in keys)
            {
                tags.Remove(key);
            }
        }, ctx.Cancellation);
        return [];
    }

    private async Task<JsonObject?> ListTagsForDeliveryStreamAsync(JsonObject input, OperationContext ctx)
    {
        var (document, _) = await LoadAsync(Text(input, "DeliveryStreamName")!, ctx.Cancellation);
        var limit = (int)(ModelDocument.GetInt64(input["Limit"]) ?? 50);
        var after = Text(input, "ExclusiveStartTagKey");
        var tags = document["Tags"]!.AsObject()
            .Where(t => after is null || string.CompareOrdinal(t.Key, after) > 0)
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .ToList();
        return new JsonObject
        {
            ["Tags"] = new JsonArray([.. tags.Take(limit).Select(t => (JsonNode?)new JsonObject { ["Key"] = t.Key, ["Value"] = t.Value!.DeepClone() })]),
            ["HasMoreTags"] = tags.Count > limit,
        };
    }

    private static JsonObject TagsOf(JsonArray? list)
    {
        var tags = new JsonObject();
        foreach (var tag in list ?? [])
        {
            tags[Text(tag!.AsObject(), "Key")!] = Text(tag.AsObject(), "Value") ?? "";
        }

        return tags;
    }

    // ---- documents ----

    private async Task<(JsonObject Document, long BufferId)> LoadAsync(string name, CancellationToken ct)
    {
        var stored = await _store.GetAsync(name, ct) ?? throw NotFound(name);
        return (JsonNode.Parse(stored.Document)!.AsObject(), stored.BufferStreamId);
    }

    private async Task UpdateDocumentAsync(string name, Action<JsonObject> change, CancellationToken ct, bool restart = false)
    {
        await _writes.WaitAsync(ct);
        try
        {
            var (document, bufferId) = await LoadAsync(name, ct);
            change(document);
            await _store.UpdateAsync(name, document.ToJsonString(), ct);
            _engine.Reconfigure(name, document);
            if (restart)
            {
                await _engine.StopAsync(name);
                _engine.Start(name, bufferId, document);
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    internal ServiceException NotFound(string name) =>
        new("ResourceNotFoundException", $"Firehose {name} under account {_options.AccountId} not found.");

    internal static ServiceException Invalid(string message) => new("InvalidArgumentException", message);

    private static string Status(JsonObject document) => document["DeliveryStreamStatus"]!.GetValue<string>();

    private static string? Text(JsonObject input, string name) => ModelDocument.GetString(input[name]);

    private static JsonNode Time(JsonNode? ms) => ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(ms!.GetValue<long>()));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _engine.DisposeAsync();
        _writes.Dispose();
        _stopping.Dispose();
    }
}
