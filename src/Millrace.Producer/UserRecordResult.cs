namespace Millrace.Producer;

/// <summary>One PutRecords attempt of a user record (the KPL's <c>Attempt</c>): the wait before it, how long the
/// call took, and the error code and message when it failed.</summary>
public sealed record Attempt(TimeSpan Delay, TimeSpan Duration, string? ErrorCode, string? ErrorMessage, bool Success);

/// <summary>
/// The outcome of one user record (the KPL's <c>UserRecordResult</c>). On success: the shard, the Kinesis record's
/// sequence number, and the user record's index within the aggregate as <see cref="SubSequenceNumber"/> (0 when it
/// went raw), which is what a deaggregating consumer sees.
/// </summary>
public sealed class UserRecordResult
{
    internal UserRecordResult(IReadOnlyList<Attempt> attempts, bool successful, string? shardId, string? sequenceNumber, long subSequenceNumber)
    {
        Attempts = attempts;
        Successful = successful;
        ShardId = shardId;
        SequenceNumber = sequenceNumber;
        SubSequenceNumber = subSequenceNumber;
    }

    public IReadOnlyList<Attempt> Attempts { get; }

    public bool Successful { get; }

    public string? ShardId { get; }

    public string? SequenceNumber { get; }

    public long SubSequenceNumber { get; }

    public override string ToString() => Successful
        ? $"{ShardId} {SequenceNumber}/{SubSequenceNumber} after {Attempts.Count} attempt(s)"
        : $"failed after {Attempts.Count} attempt(s): {Attempts.LastOrDefault()?.ErrorCode} {Attempts.LastOrDefault()?.ErrorMessage}";
}

/// <summary>A user record that was not put: its attempts, the last of which names the error (e.g. <c>Expired</c>
/// after RecordTtl).</summary>
public sealed class UserRecordFailedException(UserRecordResult result)
    : Exception($"User record failed: {result.Attempts.LastOrDefault()?.ErrorCode}: {result.Attempts.LastOrDefault()?.ErrorMessage}")
{
    public UserRecordResult Result { get; } = result;

    /// <summary>The last attempt's error code.</summary>
    public string? ErrorCode => Result.Attempts.LastOrDefault()?.ErrorCode;
}
