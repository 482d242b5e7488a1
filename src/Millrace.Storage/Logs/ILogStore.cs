namespace Millrace.Storage.Logs;

/// <summary>A log group as stored: its settings and the bytes its events hold.</summary>
public sealed record LogGroupRecord(
    string Name,
    long CreationTime,
    int? RetentionInDays,
    string? KmsKeyId,
    string LogGroupClass,
    IReadOnlyDictionary<string, string> Tags,
    long StoredBytes);

/// <summary>A log stream as stored. Timestamps are epoch milliseconds; null before the first event.</summary>
public sealed record LogStreamRecord(
    string Name,
    long CreationTime,
    long? FirstEventTimestamp,
    long? LastEventTimestamp,
    long? LastIngestionTime,
    long StoredBytes,
    long UploadSequence);

/// <summary>An event to append: its own timestamp (epoch ms) and message.</summary>
public readonly record struct NewLogEvent(long Timestamp, string Message);

/// <summary>
/// A stored event. <see cref="Id"/> grows with every append, so (Timestamp, Id) is a total order that keeps events of
/// the same millisecond in the order they were put.
/// </summary>
public readonly record struct LogEventRecord(long Id, string StreamName, long Timestamp, long IngestionTime, string Message);

/// <summary>A position between two events in (Timestamp, Id) order.</summary>
public readonly record struct LogPosition(long Timestamp, long Id)
{
    public static readonly LogPosition Start = new(long.MinValue, long.MinValue);
    public static readonly LogPosition End = new(long.MaxValue, long.MaxValue);
}

public enum LogStoreOutcome
{
    Done,
    AlreadyExists,
    NoSuchGroup,
    NoSuchStream,
}

/// <summary>What a group-wide scan reads: the streams to include and the time window (both ends inclusive).</summary>
public sealed record LogScan(IReadOnlyList<string>? StreamNames, string? StreamNamePrefix, long StartTime, long EndTime);

/// <summary>
/// Durable storage of CloudWatch Logs groups, streams and events. A completed append has reached stable storage.
/// Events older than a group's retention are never returned and are deleted by <see cref="ExpireAsync"/>.
/// </summary>
public interface ILogStore : IDisposable
{
    ValueTask<bool> CreateGroupAsync(string name, long creationTime, string? kmsKeyId, string logGroupClass,
        IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken = default);

    ValueTask<bool> DeleteGroupAsync(string name, CancellationToken cancellationToken = default);

    ValueTask<LogGroupRecord?> GetGroupAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Groups in name order after <paramref name="afterName"/>, filtered by prefix or case-insensitive substring.</summary>
    ValueTask<IReadOnlyList<LogGroupRecord>> ListGroupsAsync(string? afterName, string? prefix, string? contains, int limit,
        CancellationToken cancellationToken = default);

    ValueTask<bool> SetRetentionAsync(string name, int? retentionInDays, CancellationToken cancellationToken = default);

    ValueTask<bool> TagGroupAsync(string name, IReadOnlyDictionary<string, string> add, IReadOnlyCollection<string> remove,
        CancellationToken cancellationToken = default);

    ValueTask<LogStoreOutcome> CreateStreamAsync(string group, string stream, long creationTime, CancellationToken cancellationToken = default);

    ValueTask<LogStoreOutcome> DeleteStreamAsync(string group, string stream, CancellationToken cancellationToken = default);

    /// <summary>Streams of a group (null if the group does not exist), by name or by last event time, from an offset.</summary>
    ValueTask<IReadOnlyList<LogStreamRecord>?> ListStreamsAsync(string group, string? prefix, bool orderByLastEventTime, bool descending,
        int offset, int limit, CancellationToken cancellationToken = default);

    /// <summary>Appends events (already checked and in timestamp order) in one durable transaction.</summary>
    ValueTask<(LogStoreOutcome Outcome, long UploadSequence)> AppendAsync(string group, string stream, IReadOnlyList<NewLogEvent> events,
        long ingestionTime, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> events of one stream with StartTime &lt;= timestamp &lt; EndTime, strictly after
    /// (forward) or strictly before (backward) <paramref name="from"/>, in ascending order either way. Events the
    /// group's retention has expired at <paramref name="now"/> are left out.
    /// </summary>
    ValueTask<(LogStoreOutcome Outcome, IReadOnlyList<LogEventRecord> Events)> ReadStreamAsync(string group, string stream,
        long startTime, long endTimeExclusive, LogPosition from, bool forward, int limit, long now, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> events of a group after <paramref name="after"/>, in (timestamp, id) order.</summary>
    ValueTask<(LogStoreOutcome Outcome, IReadOnlyList<LogEventRecord> Events)> ScanGroupAsync(string group, LogScan scan,
        LogPosition after, int limit, long now, CancellationToken cancellationToken = default);

    /// <summary>Deletes every event older than its group's retention at <paramref name="now"/>; returns how many.</summary>
    ValueTask<long> ExpireAsync(long now, CancellationToken cancellationToken = default);
}
