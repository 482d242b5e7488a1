namespace Millrace.Storage.Objects;

/// <summary>
/// Durable buckets of immutable objects (the storage behind the S3 API). Keys are compared and listed in UTF-8
/// binary order. Object bytes are streamed: a write goes to a private file through <see cref="IObjectWriter"/> and
/// becomes visible only when committed, after its bytes and its index row are fsynced. The store knows nothing of
/// HTTP, XML or S3 headers: object and upload metadata are opaque bytes the caller defines.
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>Creates a bucket; false when one of that name already exists.</summary>
    ValueTask<bool> CreateBucketAsync(string bucket, string region, DateTimeOffset createdAt, CancellationToken ct = default);

    ValueTask<BucketRecord?> GetBucketAsync(string bucket, CancellationToken ct = default);

    /// <summary>Every bucket, by name (binary order).</summary>
    ValueTask<IReadOnlyList<BucketRecord>> ListBucketsAsync(CancellationToken ct = default);

    /// <summary>Deletes an empty bucket (no objects and no multipart uploads in progress).</summary>
    ValueTask<DeleteBucketOutcome> DeleteBucketAsync(string bucket, CancellationToken ct = default);

    /// <summary>Stores (or with null removes) one named bucket setting, e.g. "tagging" or "notification".</summary>
    ValueTask<bool> SetBucketConfigAsync(string bucket, string name, ReadOnlyMemory<byte>? value, CancellationToken ct = default);

    /// <summary>A bucket setting, or null when unset. Throws <see cref="NoSuchBucketException"/> for a missing bucket.</summary>
    ValueTask<byte[]?> GetBucketConfigAsync(string bucket, string name, CancellationToken ct = default);

    /// <summary>
    /// Starts writing a new object's bytes into a private file of the bucket. Nothing is visible until
    /// <see cref="IObjectWriter.CommitAsync"/>; disposing an uncommitted writer deletes its file.
    /// Throws <see cref="NoSuchBucketException"/>.
    /// </summary>
    ValueTask<IObjectWriter> BeginObjectAsync(string bucket, CancellationToken ct = default);

    /// <summary>The current object under a key, or null.</summary>
    ValueTask<ObjectRecord?> GetObjectAsync(string bucket, string key, CancellationToken ct = default);

    /// <summary>
    /// Opens an object's bytes for reading (all part files are opened at once, so a concurrent delete or overwrite
    /// does not disturb the read). Null when the key does not exist.
    /// </summary>
    ValueTask<IObjectReader?> OpenObjectAsync(string bucket, string key, CancellationToken ct = default);

    /// <summary>Replaces an existing object's metadata (e.g. its tags) without touching its bytes; false if absent.</summary>
    ValueTask<bool> UpdateObjectMetadataAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, CancellationToken ct = default);

    /// <summary>Deletes an object; false when it did not exist.</summary>
    ValueTask<bool> DeleteObjectAsync(string bucket, string key, CancellationToken ct = default);

    /// <summary>
    /// One page of keys after <see cref="ListObjectsQuery.StartAfter"/>, in binary order, read from the index by
    /// seeking (keys rolled up into a common prefix are skipped in one seek, not read one by one).
    /// </summary>
    ValueTask<ListObjectsPage> ListObjectsAsync(string bucket, ListObjectsQuery query, CancellationToken ct = default);

    /// <summary>Registers a multipart upload and returns its id. Throws <see cref="NoSuchBucketException"/>.</summary>
    ValueTask<string> CreateMultipartUploadAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, DateTimeOffset initiated, CancellationToken ct = default);

    ValueTask<MultipartUploadRecord?> GetMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default);

    /// <summary>
    /// Starts writing one part's bytes; <see cref="IObjectWriter.CommitPartAsync"/> makes it (or its replacement,
    /// for a part number uploaded twice) a part of the upload. Throws <see cref="NoSuchUploadException"/>.
    /// </summary>
    ValueTask<IObjectWriter> BeginPartAsync(string bucket, string uploadId, int partNumber, CancellationToken ct = default);

    /// <summary>The committed parts of an upload by part number, after <paramref name="partNumberMarker"/>.</summary>
    ValueTask<IReadOnlyList<PartRecord>> ListPartsAsync(string bucket, string uploadId, int partNumberMarker = 0, int maxParts = 10_000, CancellationToken ct = default);

    /// <summary>Uploads in progress in key order, then by initiation (after the key/upload-id markers).</summary>
    ValueTask<IReadOnlyList<MultipartUploadRecord>> ListMultipartUploadsAsync(string bucket, string? prefix, string? keyMarker, string? uploadIdMarker, int maxUploads, CancellationToken ct = default);

    /// <summary>Aborts an upload and deletes its parts; false when it did not exist.</summary>
    ValueTask<bool> AbortMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default);

    /// <summary>
    /// Makes the object of an upload out of the named parts (already validated by the caller), in the given order,
    /// atomically replacing any object under the key; the upload and its unused parts are gone afterwards.
    /// </summary>
    ValueTask<ObjectRecord> CompleteMultipartUploadAsync(string bucket, string uploadId, IReadOnlyList<int> partNumbers, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, CancellationToken ct = default);
}

/// <summary>Bytes being written to a private file; committed as an object or as a part, or discarded on dispose.</summary>
public interface IObjectWriter : IAsyncDisposable
{
    /// <summary>Where the caller writes the content (buffered; the store fsyncs it on commit).</summary>
    Stream Content { get; }

    /// <summary>Bytes written so far.</summary>
    long Length { get; }

    /// <summary>
    /// Fsyncs the bytes and atomically makes them the object under <paramref name="key"/> (replacing an older one).
    /// With <paramref name="onlyIfAbsent"/> (If-None-Match: *), returns null and keeps the existing object when
    /// the key already exists.
    /// </summary>
    ValueTask<ObjectRecord?> CommitAsync(string key, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, bool onlyIfAbsent = false, CancellationToken ct = default);

    /// <summary>Fsyncs the bytes and records them as a part of the upload the writer was begun for.</summary>
    ValueTask<PartRecord> CommitPartAsync(string etag, ReadOnlyMemory<byte> metadata, DateTimeOffset lastModified, CancellationToken ct = default);
}

/// <summary>An open object: its record and its bytes, readable in any range while the reader lives.</summary>
public interface IObjectReader : IAsyncDisposable
{
    ObjectRecord Object { get; }

    /// <summary>Copies <paramref name="length"/> bytes from <paramref name="offset"/> to <paramref name="destination"/>.</summary>
    Task CopyToAsync(Stream destination, long offset, long length, CancellationToken ct = default);

    /// <summary>A read-only stream over a range (for copies into another writer).</summary>
    Stream OpenRange(long offset, long length);
}

public sealed record BucketRecord(string Name, string Region, DateTimeOffset CreatedAt);

/// <summary>An object's index row: its size, ETag, time and the caller's opaque metadata; PartCount is 0 for single-part objects.</summary>
public sealed record ObjectRecord(string Key, long Size, string ETag, DateTimeOffset LastModified, byte[] Metadata, int PartCount);

public sealed record PartRecord(int PartNumber, long Size, string ETag, DateTimeOffset LastModified, byte[] Metadata);

public sealed record MultipartUploadRecord(string UploadId, string Key, DateTimeOffset Initiated, byte[] Metadata);

/// <summary>A ListObjects page request. StartAfter is exclusive (a marker, a start-after or a decoded continuation token).</summary>
public sealed record ListObjectsQuery(string? Prefix, string? Delimiter, string? StartAfter, int MaxKeys);

/// <summary>
/// Contents and CommonPrefixes together count towards MaxKeys, as S3 counts them. NextMarker is the last key or
/// common prefix returned when the page is truncated.
/// </summary>
public sealed record ListObjectsPage(IReadOnlyList<ObjectRecord> Contents, IReadOnlyList<string> CommonPrefixes, bool IsTruncated, string? NextMarker);

public enum DeleteBucketOutcome
{
    Deleted,
    NoSuchBucket,
    NotEmpty,
}

public sealed class NoSuchBucketException(string bucket) : Exception($"The bucket {bucket} does not exist")
{
    public string Bucket { get; } = bucket;
}

public sealed class NoSuchUploadException(string uploadId) : Exception($"The multipart upload {uploadId} does not exist")
{
    public string UploadId { get; } = uploadId;
}
