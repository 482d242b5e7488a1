namespace Millrace.Storage;

/// <summary>Identifies one shard of one stream incarnation. StreamId is never reused, so a stream that is
/// deleted and created again under the same name gets fresh shards.</summary>
public readonly record struct ShardKey(long StreamId, int ShardIndex);

/// <summary>One record to append. PartitionKey is the UTF-8 bytes of the partition key.</summary>
public readonly record struct AppendEntry(int ShardIndex, ReadOnlyMemory<byte> PartitionKey, ReadOnlyMemory<byte> Data);

/// <summary>What the log assigned to one appended record.</summary>
public readonly record struct AppendedRecord(ulong Position, long ArrivalMs);

/// <summary>A record read back from a shard.</summary>
public readonly record struct StoredRecord(ulong Position, long ArrivalMs, ReadOnlyMemory<byte> PartitionKey, ReadOnlyMemory<byte> Data)
{
    /// <summary>The key the record was encrypted under at rest, or null when it was stored in plaintext.</summary>
    public string? EncryptionKeyId { get; init; }
}

/// <summary>The result of reading a shard from a position.</summary>
/// <param name="Records">Records at or after the requested position, in position order.</param>
/// <param name="NextPosition">Where the next read continues: one past the last returned record, or the requested
/// position (raised to the trim horizon) when nothing was returned.</param>
/// <param name="TipPosition">One past the newest durable record of the shard (where LATEST starts).</param>
/// <param name="TipArrivalMs">Arrival time of the newest durable record, or 0 when the shard is empty.</param>
/// <param name="ShardEnded">True when the shard is sealed and NextPosition is past its last record.</param>
public sealed record ShardReadResult(
    IReadOnlyList<StoredRecord> Records,
    ulong NextPosition,
    ulong TipPosition,
    long TipArrivalMs,
    bool ShardEnded);

/// <summary>Where a shard's retained records begin and end.</summary>
/// <param name="TrimHorizon">Position of the oldest retained record, or TipPosition when none is retained.</param>
/// <param name="TipPosition">One past the newest durable record.</param>
/// <param name="LastPosition">Position of the newest durable record, or null when the shard has none.</param>
/// <param name="Sealed">True once the shard was sealed (closed by resharding).</param>
public sealed record ShardPositions(ulong TrimHorizon, ulong TipPosition, ulong? LastPosition, bool Sealed);

/// <summary>Thrown when appending to a shard that was sealed, or to a stream or shard the log does not know.</summary>
public sealed class ShardUnavailableException(ShardKey shard, string reason)
    : Exception($"Shard {shard.ShardIndex} of stream {shard.StreamId} is unavailable: {reason}")
{
    public ShardKey Shard { get; } = shard;
}

/// <summary>
/// The per-shard record log. Positions are unsigned 64-bit values assigned by the log: strictly increasing per
/// shard, never reused (not even after a crash or restart), and built as <c>max(previous + 1, arrivalMs &lt;&lt; 20)</c>
/// so that they also keep increasing when the state of a fully expired shard is lost.
/// Readers only ever see durable records: an append completes, and becomes visible, after its fsync.
/// </summary>
public interface IRecordLog
{
    /// <summary>Registers a shard so that it accepts appends. Its first record gets a position greater than
    /// <paramref name="startingPosition"/>. Idempotent.</summary>
    ValueTask OpenShardAsync(ShardKey shard, ulong startingPosition, CancellationToken cancellationToken = default);

    /// <summary>Appends records of one stream (any mix of its shards) durably. Completes after the records are on
    /// stable storage; <paramref name="results"/>[i] receives what entry i was assigned. Records of one shard in
    /// one call get consecutive, increasing positions in entry order. Many concurrent calls share one fsync.</summary>
    ValueTask AppendAsync(long streamId, ReadOnlyMemory<AppendEntry> entries, Memory<AppendedRecord> results, CancellationToken cancellationToken = default) =>
        AppendAsync(streamId, entries, results, encryptionKeyId: null, cancellationToken);

    /// <summary>Like <see cref="AppendAsync(long, ReadOnlyMemory{AppendEntry}, Memory{AppendedRecord}, CancellationToken)"/>,
    /// and when <paramref name="encryptionKeyId"/> is not null the records (data and partition keys) are stored
    /// encrypted under that key, which the backend obtains from its <see cref="IEncryptionKeyProvider"/>. Throws
    /// <see cref="EncryptionKeyUnavailableException"/> (nothing written) when the key cannot be had.</summary>
    ValueTask AppendAsync(long streamId, ReadOnlyMemory<AppendEntry> entries, Memory<AppendedRecord> results, string? encryptionKeyId, CancellationToken cancellationToken = default);

    /// <summary>Reads durable records with Position &gt;= <paramref name="fromPosition"/> and ArrivalMs &gt;=
    /// <paramref name="notBeforeMs"/> (the retention cut-off), up to <paramref name="maxRecords"/> records and about
    /// <paramref name="maxBytes"/> bytes of data (at least one record is returned if any is available).</summary>
    ValueTask<ShardReadResult> ReadAsync(ShardKey shard, ulong fromPosition, int maxRecords, long maxBytes, long notBeforeMs, CancellationToken cancellationToken = default);

    /// <summary>The trim horizon and tip of a shard, given the retention cut-off.</summary>
    ValueTask<ShardPositions> GetPositionsAsync(ShardKey shard, long notBeforeMs, CancellationToken cancellationToken = default);

    /// <summary>Position of the first retained record with ArrivalMs &gt;= <paramref name="timestampMs"/>, or the tip
    /// position when there is none. Uses the index, never a scan from the start.</summary>
    ValueTask<ulong> FindPositionByTimestampAsync(ShardKey shard, long timestampMs, long notBeforeMs, CancellationToken cancellationToken = default);

    /// <summary>Closes a shard to appends (resharding). Ordered after every append acknowledged before it.
    /// Returns the position of the shard's last record, or null when it has none.</summary>
    ValueTask<ulong?> SealShardAsync(ShardKey shard, CancellationToken cancellationToken = default);

    /// <summary>Forgets a deleted stream: its records become unreadable at once and their space is reclaimed.</summary>
    ValueTask DropStreamAsync(long streamId, CancellationToken cancellationToken = default);

    /// <summary>Completes when the shard has a durable record at or after <paramref name="position"/> (or is
    /// sealed), or when cancelled. Lets push consumers wake on appends instead of polling.</summary>
    ValueTask WaitForDataAsync(ShardKey shard, ulong position, CancellationToken cancellationToken);
}

/// <summary>
/// Where the storage gets encryption keys from. Storage only knows key ids (opaque strings of at most 255 UTF-8
/// bytes, recorded in every encrypted block) and 256-bit keys; the caller owns naming, aliases and key files.
/// Called from the writer and from readers concurrently, so implementations must be thread-safe (and should cache).
/// </summary>
public interface IEncryptionKeyProvider
{
    /// <summary>Writes the 32-byte AES-256 key of <paramref name="keyId"/> into <paramref name="key"/>; false when
    /// the key does not exist or cannot be used.</summary>
    bool TryGetKey(string keyId, Span<byte> key);
}

/// <summary>Thrown when records must be encrypted or decrypted with a key the <see cref="IEncryptionKeyProvider"/>
/// does not have (or when no provider is configured).</summary>
public sealed class EncryptionKeyUnavailableException(string keyId)
    : Exception($"Encryption key {keyId} is not available.")
{
    public string KeyId { get; } = keyId;
}

/// <summary>
/// Durable stream metadata. Descriptions are immutable snapshots; an update replaces a whole description and
/// succeeds only if its <see cref="StreamDescription.Version"/> still matches what is stored (optimistic
/// concurrency, so that several front ends can share one catalog in cluster mode).
/// </summary>
public interface IStreamCatalog
{
    ValueTask<IReadOnlyList<StreamDescription>> ListAsync(CancellationToken cancellationToken = default);

    ValueTask<StreamDescription?> FindAsync(string streamName, CancellationToken cancellationToken = default);

    /// <summary>Stores a new stream; assigns StreamId and Version 1. Throws <see cref="CatalogConflictException"/>
    /// when a stream of that name exists.</summary>
    ValueTask<StreamDescription> CreateAsync(StreamDescription stream, CancellationToken cancellationToken = default);

    /// <summary>Replaces a stream's description durably if stored.Version == stream.Version; the stored copy gets
    /// Version + 1 and is returned. Throws <see cref="CatalogConflictException"/> otherwise.</summary>
    ValueTask<StreamDescription> UpdateAsync(StreamDescription stream, CancellationToken cancellationToken = default);

    /// <summary>Removes a stream durably. No-op when absent.</summary>
    ValueTask DeleteAsync(long streamId, CancellationToken cancellationToken = default);

    /// <summary>An account-level setting (e.g. MinimumThroughputBillingCommitment) as opaque JSON text, or null.</summary>
    ValueTask<string?> GetAccountSettingAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores (or, with null, removes) an account-level setting durably.</summary>
    ValueTask SetAccountSettingAsync(string key, string? json, CancellationToken cancellationToken = default);
}

/// <summary>Thrown when a catalog write loses a race (name taken, or version moved on).</summary>
public sealed class CatalogConflictException(string message) : Exception(message);

/// <summary>A storage backend: the catalog and the record log that go together.</summary>
public interface IStreamStore : IAsyncDisposable
{
    IStreamCatalog Catalog { get; }

    IRecordLog Records { get; }

    /// <summary>Everything acknowledged is durable; called on clean shutdown.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);
}
