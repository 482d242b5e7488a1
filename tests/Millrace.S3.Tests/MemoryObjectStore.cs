using System.Text;
using Millrace.Storage.Objects;

namespace Millrace.S3.Tests;

/// <summary>
/// A small in-memory <see cref="IObjectStore"/> for unit tests that do not need durability (and for the service
/// tests while the file store is not available). Keys are ordered by their UTF-8 bytes, as the real store orders them.
/// </summary>
public sealed class MemoryObjectStore : IObjectStore
{
    private readonly object _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private int _nextUpload;

    private sealed class Bucket(BucketRecord record)
    {
        public BucketRecord Record { get; } = record;

        public SortedDictionary<string, (ObjectRecord Record, byte[][] Parts)> Objects { get; } = new(Utf8Comparer.Instance);

        public Dictionary<string, byte[]> Config { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Upload> Uploads { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Upload(MultipartUploadRecord record)
    {
        public MultipartUploadRecord Record { get; } = record;

        public SortedDictionary<int, (PartRecord Record, byte[] Data)> Parts { get; } = [];
    }

    internal sealed class Utf8Comparer : IComparer<string>
    {
        public static Utf8Comparer Instance { get; } = new();

        public int Compare(string? x, string? y) => Encoding.UTF8.GetBytes(x!).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y!));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public ValueTask<bool> CreateBucketAsync(string bucket, string region, DateTimeOffset createdAt, CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_buckets.TryAdd(bucket, new Bucket(new BucketRecord(bucket, region, createdAt))));
        }
    }

    public ValueTask<BucketRecord?> GetBucketAsync(string bucket, CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_buckets.TryGetValue(bucket, out var b) ? b.Record : null);
        }
    }

    public ValueTask<IReadOnlyList<BucketRecord>> ListBucketsAsync(CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult<IReadOnlyList<BucketRecord>>([.. _buckets.Values.Select(b => b.Record).OrderBy(b => b.Name, Utf8Comparer.Instance)]);
        }
    }

    public ValueTask<DeleteBucketOutcome> DeleteBucketAsync(string bucket, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(bucket, out var b))
            {
                return ValueTask.FromResult(DeleteBucketOutcome.NoSuchBucket);
            }

            if (b.Objects.Count > 0 || b.Uploads.Count > 0)
            {
                return ValueTask.FromResult(DeleteBucketOutcome.NotEmpty);
            }

            _buckets.Remove(bucket);
            return ValueTask.FromResult(DeleteBucketOutcome.Deleted);
        }
    }

    public ValueTask<bool> SetBucketConfigAsync(string bucket, string name, ReadOnlyMemory<byte>? value, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(bucket, out var b))
            {
                return ValueTask.FromResult(false);
            }

            if (value is { } v)
            {
                b.Config[name] = v.ToArray();
            }
            else
            {
                b.Config.Remove(name);
            }

            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<byte[]?> GetBucketConfigAsync(string bucket, string name, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var b = Get(bucket);
            return ValueTask.FromResult(b.Config.TryGetValue(name, out var v) ? v : null);
        }
    }

    private Bucket Get(string bucket) => _buckets.TryGetValue(bucket, out var b) ? b : throw new NoSuchBucketException(bucket);

    public ValueTask<IObjectWriter> BeginObjectAsync(string bucket, CancellationToken ct = default)
    {
        lock (_lock)
        {
            Get(bucket);
        }

        return ValueTask.FromResult<IObjectWriter>(new Writer(this, bucket, null, 0));
    }

    public ValueTask<ObjectRecord?> GetObjectAsync(string bucket, string key, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(bucket, out var b))
            {
                return ValueTask.FromResult<ObjectRecord?>(null);
            }

            return ValueTask.FromResult(b.Objects.TryGetValue(key, out var o) ? o.Record : null);
        }
    }

    public ValueTask<IObjectReader?> OpenObjectAsync(string bucket, string key, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(bucket, out var b) || !b.Objects.TryGetValue(key, out var o))
            {
                return ValueTask.FromResult<IObjectReader?>(null);
            }

            return ValueTask.FromResult<IObjectReader?>(new Reader(o.Record, [.. o.Parts.SelectMany(p => p)]));
        }
    }

    public ValueTask<bool> UpdateObjectMetadataAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var b = Get(bucket);
            if (!b.Objects.TryGetValue(key, out var o))
            {
                return ValueTask.FromResult(false);
            }

            b.Objects[key] = (o.Record with { Metadata = metadata.ToArray() }, o.Parts);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> DeleteObjectAsync(string bucket, string key, CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(Get(bucket).Objects.Remove(key));
        }
    }

    public ValueTask<ListObjectsPage> ListObjectsAsync(string bucket, ListObjectsQuery query, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var b = Get(bucket);
            var contents = new List<ObjectRecord>();
            var prefixes = new List<string>();
            bool truncated = false;
            string? last = null;
            foreach (var (key, o) in b.Objects)
            {
                if (query.StartAfter is not null && Utf8Comparer.Instance.Compare(key, query.StartAfter) <= 0)
                {
                    continue;
                }

                if (query.Prefix is not null && !key.StartsWith(query.Prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                string? common = null;
                if (query.Delimiter is not null)
                {
                    int at = key.IndexOf(query.Delimiter, query.Prefix?.Length ?? 0, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        common = key[..(at + query.Delimiter.Length)];
                    }
                }

                if (common is not null && prefixes.Count > 0 && prefixes[^1] == common)
                {
                    continue;
                }

                if (contents.Count + prefixes.Count == query.MaxKeys)
                {
                    truncated = true;
                    break;
                }

                if (common is not null)
                {
                    prefixes.Add(common);
                    last = common;
                }
                else
                {
                    contents.Add(o.Record);
                    last = key;
                }
            }

            return ValueTask.FromResult(new ListObjectsPage(contents, prefixes, truncated, truncated ? last : null));
        }
    }

    public ValueTask<string> CreateMultipartUploadAsync(string bucket, string key, ReadOnlyMemory<byte> metadata, DateTimeOffset initiated, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var id = "upload-" + (++_nextUpload).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Get(bucket).Uploads[id] = new Upload(new MultipartUploadRecord(id, key, initiated, metadata.ToArray()));
            return ValueTask.FromResult(id);
        }
    }

    public ValueTask<MultipartUploadRecord?> GetMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(Get(bucket).Uploads.TryGetValue(uploadId, out var u) ? u.Record : null);
        }
    }

    public ValueTask<IObjectWriter> BeginPartAsync(string bucket, string uploadId, int partNumber, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!Get(bucket).Uploads.ContainsKey(uploadId))
            {
                throw new NoSuchUploadException(uploadId);
            }
        }

        return ValueTask.FromResult<IObjectWriter>(new Writer(this, bucket, uploadId, partNumber));
    }

    public ValueTask<IReadOnlyList<PartRecord>> ListPartsAsync(string bucket, string uploadId, int partNumberMarker = 0, int maxParts = 10000, CancellationToken ct = default)
    {
        lock (_lock)
        {
            if (!Get(bucket).Uploads.TryGetValue(uploadId, out var u))
            {
                throw new NoSuchUploadException(uploadId);
            }

            return ValueTask.FromResult<IReadOnlyList<PartRecord>>([.. u.Parts.Values.Select(p => p.Record).Where(p => p.PartNumber > partNumberMarker).Take(maxParts)]);
        }
    }

    public ValueTask<IReadOnlyList<MultipartUploadRecord>> ListMultipartUploadsAsync(string bucket, string? prefix, string? keyMarker, string? uploadIdMarker, int maxUploads, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var all = Get(bucket).Uploads.Values.Select(u => u.Record)
                .Where(u => prefix is null || u.Key.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(u => u.Key, Utf8Comparer.Instance).ThenBy(u => u.Initiated).ThenBy(u => u.UploadId, StringComparer.Ordinal)
                .ToList();
            if (keyMarker is not null)
            {
                all = all.Where(u =>
                {
                    int c = Utf8Comparer.Instance.Compare(u.Key, keyMarker);
                    return c > 0 || (c == 0 && uploadIdMarker is not null && string.CompareOrdinal(u.UploadId, uploadIdMarker) > 0);
                }).ToList();
            }

            return ValueTask.FromResult<IReadOnlyList<MultipartUploadRecord>>([.. all.Take(maxUploads)]);
        }
    }

    public ValueTask<bool> AbortMultipartUploadAsync(string bucket, string uploadId, CancellationToken ct = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(Get(bucket).Uploads.Remove(uploadId));
        }
    }

    public ValueTask<ObjectRecord> CompleteMultipartUploadAsync(string bucket, string uploadId, IReadOnlyList<int> partNumbers, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var b = Get(bucket);
            if (!b.Uploads.Remove(uploadId, out var u))
            {
                throw new NoSuchUploadException(uploadId);
            }

            var parts = partNumbers.Select(n => u.Parts[n].Data).ToArray();
            var record = new ObjectRecord(u.Record.Key, parts.Sum(p => (long)p.Length), etag, lastModified, metadata.ToArray(), parts.Length);
            b.Objects[u.Record.Key] = (record, parts);
            return ValueTask.FromResult(record);
        }
    }

    private sealed class Writer(MemoryObjectStore store, string bucket, string? uploadId, int partNumber) : IObjectWriter
    {
        private readonly MemoryStream _content = new();

        public Stream Content => _content;

        public long Length => _content.Length;

        public ValueTask<ObjectRecord?> CommitAsync(string key, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, bool onlyIfAbsent = false, CancellationToken ct = default)
        {
            lock (store._lock)
            {
                var b = store.Get(bucket);
                if (onlyIfAbsent && b.Objects.ContainsKey(key))
                {
                    return ValueTask.FromResult<ObjectRecord?>(null);
                }

                var record = new ObjectRecord(key, _content.Length, etag, lastModified, metadata.ToArray(), 0);
                b.Objects[key] = (record, [_content.ToArray()]);
                return ValueTask.FromResult<ObjectRecord?>(record);
            }
        }

        public ValueTask<PartRecord> CommitPartAsync(string etag, ReadOnlyMemory<byte> metadata, DateTimeOffset lastModified, CancellationToken ct = default)
        {
            lock (store._lock)
            {
                if (!store.Get(bucket).Uploads.TryGetValue(uploadId!, out var u))
                {
                    throw new NoSuchUploadException(uploadId!);
                }

                var record = new PartRecord(partNumber, _content.Length, etag, lastModified, metadata.ToArray());
                u.Parts[partNumber] = (record, _content.ToArray());
                return ValueTask.FromResult(record);
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Reader(ObjectRecord record, byte[] data) : IObjectReader
    {
        public ObjectRecord Object => record;

        public Task CopyToAsync(Stream destination, long offset, long length, CancellationToken ct = default) =>
            destination.WriteAsync(data.AsMemory((int)offset, (int)length), ct).AsTask();

        public Stream OpenRange(long offset, long length) => new MemoryStream(data, (int)offset, (int)length, writable: false);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
