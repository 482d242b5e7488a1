using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Millrace.Consumer;

/// <summary>The consumer's metrics, on a <see cref="Meter"/> named "Millrace.Consumer" (one per scheduler, tagged with
/// the worker id): what the KCL publishes to CloudWatch, for any OpenTelemetry/dotnet-counters listener.</summary>
public sealed class ConsumerMetrics : IDisposable
{
    public const string MeterName = "Millrace.Consumer";

    private readonly Meter _meter;
    private readonly Counter<long> _recordsProcessed;
    private readonly Counter<long> _bytesProcessed;
    private readonly Histogram<long> _millisBehindLatest;
    private readonly Histogram<double> _processingTime;
    private readonly Counter<long> _leasesTaken;
    private readonly Counter<long> _leasesLost;
    private readonly Counter<long> _checkpoints;
    private readonly KeyValuePair<string, object?> _worker;

    public ConsumerMetrics(string workerId, Func<int> currentLeases)
    {
        _worker = new("workerId", workerId);
        _meter = new Meter(MeterName);
        _recordsProcessed = _meter.CreateCounter<long>("RecordsProcessed", "{record}", "user records handed to ProcessRecords");
        _bytesProcessed = _meter.CreateCounter<long>("BytesProcessed", "By", "data bytes handed to ProcessRecords");
        _millisBehindLatest = _meter.CreateHistogram<long>("MillisBehindLatest", "ms", "how far the last read was behind the tip of the shard");
        _processingTime = _meter.CreateHistogram<double>("RecordProcessor.processRecords.Time", "ms", "time spent in ProcessRecords");
        _leasesTaken = _meter.CreateCounter<long>("LeasesTaken", "{lease}", "leases taken (expired or stolen)");
        _leasesLost = _meter.CreateCounter<long>("LeasesLost", "{lease}", "leases lost to other workers");
        _checkpoints = _meter.CreateCounter<long>("Checkpoints", "{checkpoint}", "checkpoints written");
        _meter.CreateObservableGauge("CurrentLeases", () => new Measurement<int>(currentLeases(), _worker), "{lease}", "leases held by this worker");
    }

    internal void Processed(string shardId, int records, long bytes, long? millisBehindLatest, TimeSpan elapsed)
    {
        var tags = new TagList { _worker, { "shardId", shardId } };
        if (records > 0)
        {
            _recordsProcessed.Add(records, tags);
            _bytesProcessed.Add(bytes, tags);
            _processingTime.Record(elapsed.TotalMilliseconds, tags);
        }
        if (millisBehindLatest is { } behind)
            _millisBehindLatest.Record(behind, tags);
    }

    internal void LeaseTaken(bool stolen) => _leasesTaken.Add(1, _worker, new("stolen", stolen));

    internal void LeaseLost() => _leasesLost.Add(1, _worker);

    internal void Checkpointed() => _checkpoints.Add(1, _worker);

    public void Dispose() => _meter.Dispose();
}
