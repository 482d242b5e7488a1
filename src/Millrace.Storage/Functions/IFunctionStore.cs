namespace Millrace.Storage.Functions;

/// <summary>One version of a function: <c>$LATEST</c> or a published number, its configuration document and the hash of its code.</summary>
public sealed record StoredFunctionVersion(string Name, string Version, string Configuration, string CodeSha256);

/// <summary>An alias of a function: its name and its document (FunctionVersion, Description, RoutingConfig, RevisionId).</summary>
public sealed record StoredAlias(string Function, string Name, string Document);

/// <summary>Where an event-source mapping has got to in one shard: the last sequence number processed, and whether the shard is done (a closed shard read to its end).</summary>
/// <summary>A published layer version: its document (Lambda's GetLayerVersion output) and its archive's SHA-256.</summary>
public sealed record StoredLayerVersion(string Name, long Version, string Document, string CodeSha256);

public sealed record StoredCheckpoint(string MappingId, string ShardId, string? SequenceNumber, bool Finished);

/// <summary>An asynchronous invocation waiting to run (InvocationType Event, S3 notifications): durable until it is done.</summary>
public sealed record StoredInvocation(long Id, string Function, string? Qualifier, byte[] Payload, int Attempts, long NotBeforeMs);

/// <summary>
/// Durable state of Lambda functions: versions with their configuration (JSON documents the service owns), code
/// archives by content hash, aliases, and one settings document per function (policy, concurrency, tags, counters).
/// </summary>
public interface IFunctionStore : IDisposable
{
    /// <summary>Stores a code archive under its SHA-256 (base64, as Lambda's CodeSha256); idempotent.</summary>
    ValueTask PutCodeAsync(string sha256, ReadOnlyMemory<byte> archive, CancellationToken cancellationToken = default);

    ValueTask<byte[]?> GetCodeAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>Creates the function's <c>$LATEST</c> and its settings; false when a function of that name exists.</summary>
    ValueTask<bool> CreateFunctionAsync(StoredFunctionVersion latest, string settings, CancellationToken cancellationToken = default);

    /// <summary>Writes a version (replacing <c>$LATEST</c>, or adding a published one).</summary>
    ValueTask PutVersionAsync(StoredFunctionVersion version, CancellationToken cancellationToken = default);

    ValueTask<StoredFunctionVersion?> GetVersionAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Every version of a function, <c>$LATEST</c> first then by number.</summary>
    ValueTask<IReadOnlyList<StoredFunctionVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The <c>$LATEST</c> of functions whose names sort after <paramref name="after"/>, in name order.</summary>
    ValueTask<IReadOnlyList<StoredFunctionVersion>> ListFunctionsAsync(string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Deletes a function with its versions, aliases and settings; false when there is none.</summary>
    ValueTask<bool> DeleteFunctionAsync(string name, CancellationToken cancellationToken = default);

    ValueTask<bool> DeleteVersionAsync(string name, string version, CancellationToken cancellationToken = default);

    ValueTask<string?> GetSettingsAsync(string name, CancellationToken cancellationToken = default);

    ValueTask PutSettingsAsync(string name, string settings, CancellationToken cancellationToken = default);

    ValueTask PutAliasAsync(StoredAlias alias, CancellationToken cancellationToken = default);

    ValueTask<StoredAlias?> GetAliasAsync(string function, string name, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<StoredAlias>> ListAliasesAsync(string function, CancellationToken cancellationToken = default);

    ValueTask<bool> DeleteAliasAsync(string function, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes the next version of a layer: its number is one more than any the layer ever had (numbers are not
    /// reused after a deletion); <paramref name="document"/> makes the stored document from it.
    /// </summary>
    ValueTask<StoredLayerVersion> AddLayerVersionAsync(string name, string codeSha256, Func<long, string> document, CancellationToken cancellationToken = default);

    /// <summary>A layer version; a deleted one only with <paramref name="includeDeleted"/> (functions that use it keep it, as on AWS).</summary>
    ValueTask<StoredLayerVersion?> GetLayerVersionAsync(string name, long version, bool includeDeleted = false, CancellationToken cancellationToken = default);

    /// <summary>A layer's versions, newest first; empty when it has none (left).</summary>
    ValueTask<IReadOnlyList<StoredLayerVersion>> ListLayerVersionsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every layer's versions, by layer name then newest first.</summary>
    ValueTask<IReadOnlyList<StoredLayerVersion>> ListAllLayerVersionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a layer version from the API's view; its archive stays for the functions that use it.</summary>
    ValueTask<bool> DeleteLayerVersionAsync(string name, long version, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces an event-source mapping's document.</summary>
    ValueTask PutMappingAsync(string id, string document, CancellationToken cancellationToken = default);

    ValueTask<string?> GetMappingAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every mapping, by id.</summary>
    ValueTask<IReadOnlyList<(string Id, string Document)>> ListMappingsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a mapping with its checkpoints.</summary>
    ValueTask<bool> DeleteMappingAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Records progress in a shard; durable when it returns.</summary>
    ValueTask PutCheckpointAsync(StoredCheckpoint checkpoint, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<StoredCheckpoint>> ListCheckpointsAsync(string mappingId, CancellationToken cancellationToken = default);

    /// <summary>Queues an asynchronous invocation; durable when it returns. Returns its id.</summary>
    ValueTask<long> EnqueueInvocationAsync(string function, string? qualifier, ReadOnlyMemory<byte> payload, long notBeforeMs, CancellationToken cancellationToken = default);

    /// <summary>Queued invocations due at <paramref name="nowMs"/>, oldest first.</summary>
    ValueTask<IReadOnlyList<StoredInvocation>> DueInvocationsAsync(long nowMs, int limit, CancellationToken cancellationToken = default);

    /// <summary>Records a failed attempt and when to try again.</summary>
    ValueTask RescheduleInvocationAsync(long id, int attempts, long notBeforeMs, CancellationToken cancellationToken = default);

    ValueTask CompleteInvocationAsync(long id, CancellationToken cancellationToken = default);
}
