using System.Globalization;
using Millrace.Aggregation;
using Millrace.Client;

namespace Millrace.Consumer.Retrieval;

/// <summary>Turns Kinesis records into user records: KPL aggregates are opened (sub-sequence number = index in the
/// aggregate), anything else passes through with sub-sequence number 0.</summary>
internal static class RecordDeaggregation
{
    public static void Deaggregate(IReadOnlyList<Record> records, string? startingHashKey, string? endingHashKey, bool dropOutsideRange,
        List<KinesisClientRecord> output, Action<string>? log)
    {
        UInt128 low = UInt128.MinValue, high = UInt128.MaxValue;
        var filter = dropOutsideRange && UInt128.TryParse(startingHashKey, NumberStyles.None, CultureInfo.InvariantCulture, out low)
            && UInt128.TryParse(endingHashKey, NumberStyles.None, CultureInfo.InvariantCulture, out high);
        foreach (var record in records)
        {
            var first = output.Count;
            foreach (var r in Deaggregator.Deaggregate(record))
            {
                if (filter && r.Aggregated)
                {
                    var hash = KplHashKey.Effective(r.PartitionKey, r.ExplicitHashKey);
                    if (hash < low || hash > high)
                    {
                        // The KCL's rule: the whole aggregate goes, including the user records already taken from it.
                        output.RemoveRange(first, output.Count - first);
                        log?.Invoke($"dropped aggregate {record.SequenceNumber}: user record {r.SubSequenceNumber} hashes outside the shard");
                        break;
                    }
                }
                output.Add(new KinesisClientRecord(r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey, r.ExplicitHashKey, r.Data,
                    r.ApproximateArrivalTimestamp, r.Aggregated, r.EncryptionType));
            }
        }
    }
}
