namespace Millrace.Consumer;

/// <summary>One user record as handed to a record processor: a plain Kinesis record (sub-sequence number 0,
/// Aggregated false) or one user record out of a KPL aggregate (the aggregate's sequence number, its index as
/// sub-sequence number). The KCL's name.</summary>
public sealed record KinesisClientRecord(
    string SequenceNumber,
    long SubSequenceNumber,
    string PartitionKey,
    string? ExplicitHashKey,
    ReadOnlyMemory<byte> Data,
    DateTime? ApproximateArrivalTimestamp,
    bool Aggregated,
    string? EncryptionType)
{
    public ExtendedSequenceNumber Position => new(SequenceNumber, SubSequenceNumber);
}
