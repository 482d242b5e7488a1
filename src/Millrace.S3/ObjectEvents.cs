namespace Millrace.S3;

/// <summary>A committed change to an object, as S3 event notifications name them.</summary>
/// <param name="EventName">e.g. <c>ObjectCreated:Put</c>, <c>ObjectCreated:Copy</c>, <c>ObjectCreated:CompleteMultipartUpload</c>, <c>ObjectRemoved:Delete</c>.</param>
/// <param name="Bucket">The bucket.</param>
/// <param name="Key">The object key.</param>
/// <param name="Size">The new object's size (0 for removals).</param>
/// <param name="ETag">The new object's ETag without quotes (null for removals).</param>
/// <param name="Time">When the change was committed (service clock).</param>
/// <param name="RequestId">The x-amz-request-id of the request that made it.</param>
public sealed record ObjectEvent(string EventName, string Bucket, string Key, long Size, string? ETag, DateTimeOffset Time, string RequestId);

/// <summary>Told of each committed object change after it is durable (S3 event notifications, Lambda triggers).</summary>
public interface IObjectEventSink
{
    ValueTask OnObjectEventAsync(ObjectEvent objectEvent, CancellationToken ct = default);
}

/// <summary>The default sink: does nothing.</summary>
public sealed class NoObjectEvents : IObjectEventSink
{
    public static NoObjectEvents Instance { get; } = new();

    public ValueTask OnObjectEventAsync(ObjectEvent objectEvent, CancellationToken ct = default) => ValueTask.CompletedTask;
}

/// <summary>Reads a bucket's stored notification configuration (the XML given to PutBucketNotificationConfiguration).</summary>
public interface IBucketNotificationSource
{
    /// <summary>The stored NotificationConfiguration XML, or null when unset (or the bucket does not exist).</summary>
    ValueTask<string?> GetNotificationConfigurationAsync(string bucket, CancellationToken ct = default);
}
