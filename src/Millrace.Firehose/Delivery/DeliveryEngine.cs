using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;
using Millrace.Storage;
using Millrace.Storage.Delivery;

namespace Millrace.Firehose.Delivery;

/// <summary>What the put path needs of a delivery stream without reading its document: kept in memory, changed with it.</summary>
public sealed class LiveStream
{
    internal LiveStream(string name, long bufferId, JsonObject document)
    {
        Name = name;
        BufferId = bufferId;
        Document = document;
    }

    public string Name { get; }

    public long BufferId { get; }

    internal JsonObject Document { get; private set; }

    public string Type => Document["DeliveryStreamType"]!.GetValue<string>();

    public string Status => Document["DeliveryStreamStatus"]!.GetValue<string>();

    /// <summary>The KMS key buffered records are encrypted under, or null without server-side encryption.</summary>
    public string? EncryptionKeyId => Document["Encryption"]?["KeyId"]?.GetValue<string>();

    public DeliveryStatistics Statistics { get; } = new();

    internal CancellationTokenSource? Stop { get; set; }

    internal Task? Worker { get; set; }

    internal void Replace(JsonObject document) => Document = document;
}

/// <summary>Counters of one delivery stream's deliveries, updated by its worker.</summary>
public sealed class DeliveryStatistics
{
    private long _records, _objects, _bytes, _failed, _batches, _maxLagMs, _retries;

    /// <summary>Records written to the destination (after processing; a retried batch counts again).</summary>
    public long DeliveredRecords => Interlocked.Read(ref _records);

    public long DeliveredObjects => Interlocked.Read(ref _objects);

    public long DeliveredBytes => Interlocked.Read(ref _bytes);

    /// <summary>Records sent to the error output.</summary>
    public long FailedRecords => Interlocked.Read(ref _failed);

    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Failed delivery attempts that were retried.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>The largest age a batch's oldest record had when its delivery completed (Firehose's DataFreshness).</summary>
    public long MaxDataFreshnessMs => Interlocked.Read(ref _maxLagMs);

    internal void Delivered(long records, long objects, long bytes)
    {
        Interlocked.Add(ref _records, records);
        Interlocked.Add(ref _objects, objects);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void Failed(long records) => Interlocked.Add(ref _failed, records);

    internal void Retried() => Interlocked.Increment(ref _retries);

    internal void BatchDone(long freshnessMs)
    {
        Interlocked.Increment(ref _batches);
        long current;
        while (freshnessMs > (current = Interlocked.Read(ref _maxLagMs)) && Interlocked.CompareExchange(ref _maxLagMs, freshnessMs, current) != current)
        {
        }
    }
}

/// <summary>Runs one <see cref="DeliveryWorker"/> per delivery stream and keeps the streams' live state.</summary>
public sealed class DeliveryEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, LiveStream> _live = new(StringComparer.Ordinal);
    private readonly IDeliveryStreamStore _store;
    private readonly IStreamStore _buffers;
    private readonly FirehoseOptions _options;
    private readonly FirehoseConnections _connections;

    internal DeliveryEngine(IDeliveryStreamStore store, IStreamStore buffers, FirehoseOptions options, FirehoseConnections connections)
    {
        _store = store;
        _buffers = buffers;
        _options = options;
        _connections = connections;
    }

    public LiveStream? Find(string name) => _live.TryGetValue(name, out var s) ? s : null;

    internal void Start(string name, long bufferId, JsonObject document)
    {
        var live = new LiveStream(name, bufferId, document) { Stop = new CancellationTokenSource() };
        _live[name] = live;
        var worker = new DeliveryWorker(live, _store, _buffers, _options, _connections);
        live.Worker = Task.Run(() => worker.RunAsync(live.Stop.Token));
    }

    internal void Reconfigure(string name, JsonObject document)
    {
        if (_live.TryGetValue(name, out var live))
        {
            live.Replace(document);
        }
    }

    internal async Task StopAsync(string name)
    {
        if (_live.TryRemove(name, out var live) && live.Stop is { } stop)
        {
            await stop.CancelAsync();
            await (live.Worker ?? Task.CompletedTask);
            stop.Dispose();
        }
    }

    /// <summary>CreateDeliveryStream's check that a source stream exists (InvalidArgumentException otherwise, as AWS).</summary>
    internal async Task CheckSourceStreamAsync(string arn, CancellationToken ct)
    {
        var kinesis = _connections.Kinesis ?? throw FirehoseService.Invalid("Kinesis stream sources are not available on this server.");
        try
        {
            await kinesis.CallAsync("DescribeStreamSummary", new JsonObject { ["StreamARN"] = arn }, ct);
        }
        catch (ServiceException e)
        {
            throw FirehoseService.Invalid($"The source Kinesis stream {arn} cannot be read: {e.ErrorMessage ?? e.Code}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _live.Keys.ToList())
        {
            await StopAsync(name);
        }
    }
}
