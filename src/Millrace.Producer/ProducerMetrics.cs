using System.Diagnostics.Metrics;

namespace Millrace.Producer;

/// <summary>
/// The KPL's metrics (<c>metrics_constants.cc</c>, <c>metrics.md</c>) as .NET instruments of a <see cref="Meter"/>
/// named "Millrace.Producer", one meter per producer. Tags are the KPL's dimensions: StreamName, ShardId and
/// ErrorCode. Per-record figures are recorded per Kinesis record or per call where the KPL sums them anyway.
/// </summary>
public sealed class ProducerMetrics : IDisposable
{
    public const string MeterName = "Millrace.Producer";

    internal ProducerMetrics(Func<long> pending)
    {
        Meter = new Meter(MeterName);
        UserRecordsReceived = Meter.CreateCounter<long>("UserRecordsReceived", "{record}", "User records accepted by AddUserRecordAsync.");
        Meter.CreateObservableGauge("UserRecordsPending", pending, "{record}", "User records accepted and not yet completed.");
        UserRecordsPut = Meter.CreateCounter<long>("UserRecordsPut", "{record}", "User records put (0 is added for failures, as the KPL does).");
        UserRecordsDataPut = Meter.CreateCounter<long>("UserRecordsDataPut", "By", "Bytes of user record data put.");
        KinesisRecordsPut = Meter.CreateCounter<long>("KinesisRecordsPut", "{record}", "Kinesis records put (0 for failures).");
        KinesisRecordsDataPut = Meter.CreateCounter<long>("KinesisRecordsDataPut", "By", "Bytes of Kinesis record data put.");
        ErrorsByCode = Meter.CreateCounter<long>("ErrorsByCode", "{error}", "Errors, tagged with ErrorCode.");
        AllErrors = Meter.CreateCounter<long>("AllErrors", "{error}", "Errors of any code.");
        RetriesPerRecord = Meter.CreateHistogram<long>("RetriesPerRecord", "{retry}", "Retries a user record took before it completed.");
        UserRecordExpired = Meter.CreateCounter<long>("UserRecordExpired", "{record}", "User records failed for their RecordTtl.");
        BufferingTime = Meter.CreateHistogram<double>("BufferingTime", "ms", "From arrival to the first attempt, and between attempts.");
        RequestTime = Meter.CreateHistogram<double>("RequestTime", "ms", "Duration of PutRecords calls.");
        UserRecordsPerKinesisRecord = Meter.CreateHistogram<long>("UserRecordsPerKinesisRecord", "{record}", "User records in one Kinesis record.");
        KinesisRecordsPerPutRecordsRequest = Meter.CreateHistogram<long>("KinesisRecordsPerPutRecordsRequest", "{record}", "Kinesis records in one PutRecords call.");
        UserRecordsPerPutRecordsRequest = Meter.CreateHistogram<long>("UserRecordsPerPutRecordsRequest", "{record}", "User records in one PutRecords call.");
    }

    public Meter Meter { get; }

    internal Counter<long> UserRecordsReceived { get; }
    internal Counter<long> UserRecordsPut { get; }
    internal Counter<long> UserRecordsDataPut { get; }
    internal Counter<long> KinesisRecordsPut { get; }
    internal Counter<long> KinesisRecordsDataPut { get; }
    internal Counter<long> ErrorsByCode { get; }
    internal Counter<long> AllErrors { get; }
    internal Histogram<long> RetriesPerRecord { get; }
    internal Counter<long> UserRecordExpired { get; }
    internal Histogram<double> BufferingTime { get; }
    internal Histogram<double> RequestTime { get; }
    internal Histogram<long> UserRecordsPerKinesisRecord { get; }
    internal Histogram<long> KinesisRecordsPerPutRecordsRequest { get; }
    internal Histogram<long> UserRecordsPerPutRecordsRequest { get; }

    public void Dispose() => Meter.Dispose();
}
