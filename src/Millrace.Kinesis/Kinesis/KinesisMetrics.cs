using System.Collections.Concurrent;
using Millrace.Storage;
using Millrace.Storage.Metrics;

namespace Millrace.Kinesis;

/// <summary>
/// The AWS/Kinesis metrics, under CloudWatch's names and dimensions. Each stream's cells (and each shard's and
/// consumer's) are made once and kept, so recording a call is a dictionary read and a few locked additions.
/// Shard-level metrics are recorded only for the ones the stream's EnableEnhancedMonitoring turned on.
/// </summary>
public sealed class KinesisMetrics(MetricRecorder recorder)
{
    public const string Namespace = "AWS/Kinesis";

    private readonly ConcurrentDictionary<string, StreamMetrics> _streams = new(StringComparer.Ordinal);

    public StreamMetrics For(string streamName) =>
        _streams.TryGetValue(streamName, out var metrics) ? metrics : _streams.GetOrAdd(streamName, name => new StreamMetrics(recorder, name));
}

/// <summary>One stream's stream-level cells, and its shards' and consumers' on demand.</summary>
public sealed class StreamMetrics
{
    private readonly MetricRecorder _recorder;
    private readonly string _streamName;
    private readonly ConcurrentDictionary<int, ShardMetrics> _shards = new();
    private readonly ConcurrentDictionary<string, ConsumerMetrics> _consumers = new(StringComparer.Ordinal);

    internal StreamMetrics(MetricRecorder recorder, string streamName)
    {
        _recorder = recorder;
        _streamName = streamName;
        MetricCell Cell(string name, string unit) => recorder.Cell(KinesisMetrics.Namespace, name, unit, ("StreamName", streamName));
        IncomingBytes = Cell("IncomingBytes", "Bytes");
        IncomingRecords = Cell("IncomingRecords", "Count");
        PutRecordBytes = Cell("PutRecord.Bytes", "Bytes");
        PutRecordLatency = Cell("PutRecord.Latency", "Milliseconds");
        PutRecordSuccess = Cell("PutRecord.Success", "Count");
        PutRecordsBytes = Cell("PutRecords.Bytes", "Bytes");
        PutRecordsLatency = Cell("PutRecords.Latency", "Milliseconds");
        PutRecordsRecords = Cell("PutRecords.Records", "Count");
        PutRecordsSuccess = Cell("PutRecords.Success", "Count");
        PutRecordsSuccessfulRecords = Cell("PutRecords.SuccessfulRecords", "Count");
        PutRecordsFailedRecords = Cell("PutRecords.FailedRecords", "Count");
        PutRecordsThrottledRecords = Cell("PutRecords.ThrottledRecords", "Count");
        GetRecordsBytes = Cell("GetRecords.Bytes", "Bytes");
        GetRecordsIteratorAge = Cell("GetRecords.IteratorAgeMilliseconds", "Milliseconds");
        GetRecordsLatency = Cell("GetRecords.Latency", "Milliseconds");
        GetRecordsRecords = Cell("GetRecords.Records", "Count");
        GetRecordsSuccess = Cell("GetRecords.Success", "Count");
        ReadThrottled = Cell("ReadProvisionedThroughputExceeded", "Count");
        WriteThrottled = Cell("WriteProvisionedThroughputExceeded", "Count");
    }

    public MetricCell IncomingBytes { get; }
    public MetricCell IncomingRecords { get; }
    public MetricCell PutRecordBytes { get; }
    public MetricCell PutRecordLatency { get; }
    public MetricCell PutRecordSuccess { get; }
    public MetricCell PutRecordsBytes { get; }
    public MetricCell PutRecordsLatency { get; }
    public MetricCell PutRecordsRecords { get; }
    public MetricCell PutRecordsSuccess { get; }
    public MetricCell PutRecordsSuccessfulRecords { get; }
    public MetricCell PutRecordsFailedRecords { get; }
    public MetricCell PutRecordsThrottledRecords { get; }
    public MetricCell GetRecordsBytes { get; }
    public MetricCell GetRecordsIteratorAge { get; }
    public MetricCell GetRecordsLatency { get; }
    public MetricCell GetRecordsRecords { get; }
    public MetricCell GetRecordsSuccess { get; }
    public MetricCell ReadThrottled { get; }
    public MetricCell WriteThrottled { get; }

    /// <summary>The shard's cells, when the stream monitors any metric at shard level; null otherwise.</summary>
    public ShardMetrics? Shard(StreamDescription stream, int shardIndex) =>
        stream.ShardLevelMetrics.Count == 0 ? null
        : _shards.TryGetValue(shardIndex, out var shard) ? shard
        : _shards.GetOrAdd(shardIndex, index => new ShardMetrics(_recorder, _streamName, ShardIds.Format(index)));

    public ConsumerMetrics Consumer(string consumerName) =>
        _consumers.TryGetValue(consumerName, out var consumer) ? consumer
        : _consumers.GetOrAdd(consumerName, name => new ConsumerMetrics(_recorder, _streamName, name));

    /// <summary>A PutRecord that wrote its record (or, with <paramref name="throttled"/>, was refused for throughput).</summary>
    public void PutRecord(StreamDescription stream, int shardIndex, int bytes, double latencyMs, bool throttled)
    {
        PutRecordSuccess.Record(throttled ? 0 : 1);
        WriteThrottled.Record(throttled ? 1 : 0);
        var shard = Shard(stream, shardIndex);
        if (throttled)
        {
            shard?.Record(stream, ShardMetrics.WriteThrottledName, 1);
            return;
        }

        PutRecordBytes.Record(bytes);
        PutRecordLatency.Record(latencyMs);
        IncomingBytes.Record(bytes);
        IncomingRecords.Record(1);
        if (shard is not null)
        {
            shard.Record(stream, "IncomingBytes", bytes);
            shard.Record(stream, "IncomingRecords", 1);
        }
    }

    /// <summary>A PutRecords call: how many records it carried, wrote, and refused for throughput, and the bytes it wrote.</summary>
    public void PutRecords(int records, int written, int throttled, long bytes, double latencyMs)
    {
        PutRecordsRecords.Record(records);
        PutRecordsSuccessfulRecords.Record(written);
        PutRecordsFailedRecords.Record(records - written);
        PutRecordsThrottledRecords.Record(throttled);
        PutRecordsSuccess.Record(written > 0 || records == 0 ? 1 : 0);
        PutRecordsBytes.Record(bytes);
        PutRecordsLatency.Record(latencyMs);
        WriteThrottled.Record(throttled);
        if (written > 0)
        {
            IncomingBytes.Record(bytes);
            IncomingRecords.Record(written);
        }
    }

    /// <summary>A GetRecords call that answered (or, with <paramref name="throttled"/>, was refused for throughput).</summary>
    public void GetRecords(StreamDescription stream, int shardIndex, int records, long bytes, long iteratorAgeMs, double latencyMs, bool throttled)
    {
        GetRecordsSuccess.Record(throttled ? 0 : 1);
        ReadThrottled.Record(throttled ? 1 : 0);
        var shard = Shard(stream, shardIndex);
        if (throttled)
        {
            shard?.Record(stream, ShardMetrics.ReadThrottledName, 1);
            return;
        }

        GetRecordsBytes.Record(bytes);
        GetRecordsRecords.Record(records);
        GetRecordsIteratorAge.Record(iteratorAgeMs);
        GetRecordsLatency.Record(latencyMs);
        if (shard is not null)
        {
            shard.Record(stream, "OutgoingBytes", bytes);
            shard.Record(stream, "OutgoingRecords", records);
            shard.Record(stream, "IteratorAgeMilliseconds", iteratorAgeMs);
        }
    }
}

/// <summary>The shard-level metrics (dimensions StreamName and ShardId).</summary>
public sealed class ShardMetrics
{
    internal const string ReadThrottledName = "ReadProvisionedThroughputExceeded";
    internal const string WriteThrottledName = "WriteProvisionedThroughputExceeded";

    private readonly Dictionary<string, MetricCell> _cells = new(StringComparer.Ordinal);

    internal ShardMetrics(MetricRecorder recorder, string streamName, string shardId)
    {
        foreach (var (name, unit) in new[]
                 {
                     ("IncomingBytes", "Bytes"), ("IncomingRecords", "Count"), ("IteratorAgeMilliseconds", "Milliseconds"), ("OutgoingBytes", "Bytes"),
                     ("OutgoingRecords", "Count"), (ReadThrottledName, "Count"), (WriteThrottledName, "Count"),
                 })
        {
            _cells[name] = recorder.Cell(KinesisMetrics.Namespace, name, unit, ("StreamName", streamName), ("ShardId", shardId));
        }
    }

    /// <summary>Records a shard-level metric if the stream's enhanced monitoring has it on.</summary>
    public void Record(StreamDescription stream, string metric, double value)
    {
        var enabled = stream.ShardLevelMetrics;
        for (int i = 0; i < enabled.Count; i++)
        {
            if (string.Equals(enabled[i], metric, StringComparison.Ordinal))
            {
                _cells[metric].Record(value);
                return;
            }
        }
    }
}

/// <summary>An enhanced fan-out consumer's metrics (dimensions StreamName and ConsumerName).</summary>
public sealed class ConsumerMetrics
{
    internal ConsumerMetrics(MetricRecorder recorder, string streamName, string consumerName)
    {
        MetricCell Cell(string name, string unit) =>
            recorder.Cell(KinesisMetrics.Namespace, name, unit, ("StreamName", streamName), ("ConsumerName", consumerName));
        RateExceeded = Cell("SubscribeToShard.RateExceeded", "Count");
        Success = Cell("SubscribeToShard.Success", "Count");
        EventBytes = Cell("SubscribeToShardEvent.Bytes", "Bytes");
        EventMillisBehindLatest = Cell("SubscribeToShardEvent.MillisBehindLatest", "Milliseconds");
        EventRecords = Cell("SubscribeToShardEvent.Records", "Count");
        EventSuccess = Cell("SubscribeToShardEvent.Success", "Count");
    }

    public MetricCell RateExceeded { get; }
    public MetricCell Success { get; }
    public MetricCell EventBytes { get; }
    public MetricCell EventMillisBehindLatest { get; }
    public MetricCell EventRecords { get; }
    public MetricCell EventSuccess { get; }

    public void Event(int records, long bytes, long millisBehindLatest)
    {
        EventSuccess.Record(1);
        EventRecords.Record(records);
        EventBytes.Record(bytes);
        EventMillisBehindLatest.Record(millisBehindLatest);
    }
}
