namespace Millrace.Aggregation;

/// <summary>
/// One user record as a consumer sees it (the KCL's <c>KinesisClientRecord</c>): the envelope's sequence number and
/// arrival time, its own keys, and its 0-based index in the aggregate as <paramref name="SubSequenceNumber"/>.
/// A record that is not a valid aggregate comes through unchanged with sub-sequence 0 and <paramref name="Aggregated"/> false.
/// </summary>
public sealed record DeaggregatedRecord(
    string SequenceNumber,
    long SubSequenceNumber,
    string PartitionKey,
    string? ExplicitHashKey,
    ReadOnlyMemory<byte> Data,
    DateTime? ApproximateArrivalTimestamp,
    bool Aggregated,
    string? EncryptionType);
