using System.Text.Json.Nodes;

namespace Millrace.Gateway;

/// <summary>Millrace's S3, in process (Lambda's code archives and on-failure records, Firehose's deliveries): no HTTP between services.</summary>
public interface IBucketObjects
{
    /// <summary>The object's bytes, or null when the bucket or key does not exist.</summary>
    ValueTask<byte[]?> ReadAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>Writes an object durably; false when the bucket does not exist.</summary>
    ValueTask<bool> WriteAsync(string bucket, string key, ReadOnlyMemory<byte> body, string contentType, CancellationToken cancellationToken = default);
}

/// <summary>
/// Kinesis Data Streams, in process: an operation's JSON input and output exactly as the Kinesis API defines them
/// (ListShards, GetShardIterator, GetRecords, DescribeStreamSummary, DescribeStreamConsumer). Errors are thrown as
/// <see cref="Millrace.Protocol.Wire.ServiceException"/> with Kinesis's exception type.
/// </summary>
public interface IKinesisCalls
{
    /// <summary>The operation's output as UTF-8 JSON (GetRecords pages are read without building a document).</summary>
    Task<byte[]> CallUtf8Async(string operation, JsonObject input, CancellationToken cancellationToken = default);

    /// <summary>
    /// SubscribeToShard for a registered consumer: each SubscribeToShardEvent's JSON as it is pushed. The sequence
    /// ends when the subscription does (after its 5 minutes, or when the shard's end was sent).
    /// </summary>
    IAsyncEnumerable<byte[]> SubscribeToShardAsync(JsonObject input, CancellationToken cancellationToken = default);

    async Task<JsonObject> CallAsync(string operation, JsonObject input, CancellationToken cancellationToken = default)
    {
        var output = await CallUtf8Async(operation, input, cancellationToken);
        return output.Length == 0 ? [] : JsonNode.Parse(output)!.AsObject();
    }
}

/// <summary>What a synchronous function invocation answered: its payload, and Lambda's FunctionError when the function failed.</summary>
public sealed record FunctionResponse(byte[] Payload, string? FunctionError);

/// <summary>Lambda, in process: synchronous (RequestResponse) invocations by other services, e.g. Firehose's transformations.</summary>
public interface IFunctionInvocations
{
    /// <summary>
    /// Invokes a function by name or ARN, with an optional version or alias qualifier, and waits for its answer.
    /// Errors of the Invoke API (ResourceNotFoundException, TooManyRequestsException...) are thrown as
    /// <see cref="Millrace.Protocol.Wire.ServiceException"/>.
    /// </summary>
    Task<FunctionResponse> InvokeAsync(string function, byte[] payload, CancellationToken cancellationToken = default);
}

/// <summary>One column of a catalog table: its name and its Hive type string (e.g. <c>struct&lt;a:int&gt;</c>).</summary>
public sealed record TableColumn(string Name, string Type);

/// <summary>The columns (in order) of one version of a catalog table, as Firehose's record format conversion reads them.</summary>
public sealed record TableSchema(string CatalogId, string Database, string Table, string VersionId, IReadOnlyList<TableColumn> Columns);

/// <summary>The Glue Data Catalog, in process: where Firehose's format conversion finds a table's schema.</summary>
public interface ITableSchemas
{
    /// <summary>
    /// The columns of a table's version (<paramref name="versionId"/> null or <c>LATEST</c>: the current one), or null
    /// when the database, table or version does not exist. <paramref name="catalogId"/> null is this account's catalog.
    /// </summary>
    ValueTask<TableSchema?> GetTableSchemaAsync(string? catalogId, string database, string table, string? versionId, CancellationToken cancellationToken = default);
}
