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

/// <summary>
/// Whether a role's policies (and the resource's own policy) allow an action on a resource: Millrace's services act as
/// the roles their configuration names (a delivery stream's RoleARN, a function's execution role), as AWS's do.
/// </summary>
public delegate Task<bool> RoleAuthorization(string roleArn, string action, string resource, CancellationToken cancellationToken);

/// <summary>
/// Kinesis called as a role: every call is authorized as <c>kinesis:&lt;Operation&gt;</c> on the stream (or, for
/// SubscribeToShard and DescribeStreamConsumer, the consumer) first, and refused with Kinesis's AccessDeniedException
/// when the role may not. The role is looked up at each call, so a changed execution role takes effect at once.
/// </summary>
public sealed class RoleKinesisCalls(IKinesisCalls inner, string streamArn, Func<CancellationToken, ValueTask<string?>> roleOf, RoleAuthorization allows) : IKinesisCalls
{
    public async Task<byte[]> CallUtf8Async(string operation, JsonObject input, CancellationToken cancellationToken = default)
    {
        await AuthorizeAsync(operation, input, cancellationToken);
        return await inner.CallUtf8Async(operation, input, cancellationToken);
    }

    public async IAsyncEnumerable<byte[]> SubscribeToShardAsync(JsonObject input, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await AuthorizeAsync("SubscribeToShard", input, cancellationToken);
        await foreach (var e in inner.SubscribeToShardAsync(input, cancellationToken))
        {
            yield return e;
        }
    }

    /// <summary>Throws AccessDeniedException unless the role may run <paramref name="operation"/> on what the input names.</summary>
    public async Task AuthorizeAsync(string operation, JsonObject input, CancellationToken cancellationToken)
    {
        var resource = input["ConsumerARN"]?.GetValue<string>() ?? streamArn;
        var action = "kinesis:" + operation;
        var role = await roleOf(cancellationToken);
        if (role is null || !await allows(role, action, resource, cancellationToken))
        {
            throw new Millrace.Protocol.Wire.ServiceException("AccessDeniedException", Denial(role, action, resource));
        }
    }

    /// <summary>IAM's wording for a role's session refused an action.</summary>
    public static string Denial(string? roleArn, string action, string resource)
    {
        var parts = roleArn?.Split(':') ?? [];
        var who = roleArn is null || parts.Length < 6 ? roleArn ?? "(no role)"
            : $"arn:aws:sts::{parts[4]}:assumed-role/{roleArn[(roleArn.LastIndexOf('/') + 1)..]}/millrace";
        return $"User: {who} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action";
    }
}
