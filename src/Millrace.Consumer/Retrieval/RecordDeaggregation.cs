using Millrace.Client;

namespace Millrace.Consumer.Retrieval;

/// <summary>Turns Kinesis records into user records: KPL aggregates are opened (sub-sequence number = index in the
/// aggregate), anything else passes through with sub-sequence number 0.</summary>
internal static class RecordDeaggregation
{
    public static void Deaggregate(IReadOnlyList<Record> records, string? startingHashKey, string? endingHashKey, bool dropOutsideRange,
        List<KinesisClientRecord> output, Action<string>? log)
    {
        // TEMPORARY until Millrace.Aggregation is merged: pass through.
        foreach (var r in records)
            output.Add(new KinesisClientRecord(r.SequenceNumber!, 0, r.PartitionKey ?? "", null, r.Data ?? [], r.ApproximateArrivalTimestamp, false, r.EncryptionType));
    }
}
