using System.Runtime.CompilerServices;

namespace Millrace.Client.DynamoDb;

/// <summary>DynamoDB over AWS JSON 1.0: the subset a KCL-style lease table needs (tables, items, scans, queries).
/// Works against Amazon DynamoDB and against Millrace's DynamoDB endpoint.</summary>
public sealed class DynamoDbClient : IDisposable
{
    public const string ServiceName = "dynamodb";
    public const string TargetPrefix = "DynamoDB_20120810";

    public DynamoDbClient(AwsClientOptions options)
    {
        Transport = new AwsJsonTransport(options, ServiceName, TargetPrefix, "1.0", DynamoDbServiceException.ForCode);
    }

    public AwsJsonTransport Transport { get; }

    private static DynamoDbJsonContext Json => DynamoDbJsonContext.Default;

    public Task<CreateTableResponse> CreateTableAsync(CreateTableRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("CreateTable", request, Json.CreateTableRequest, Json.CreateTableResponse, cancellationToken);

    public Task<DescribeTableResponse> DescribeTableAsync(DescribeTableRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("DescribeTable", request, Json.DescribeTableRequest, Json.DescribeTableResponse, cancellationToken);

    public Task<DeleteTableResponse> DeleteTableAsync(DeleteTableRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("DeleteTable", request, Json.DeleteTableRequest, Json.DeleteTableResponse, cancellationToken);

    public Task<ListTablesResponse> ListTablesAsync(ListTablesRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("ListTables", request, Json.ListTablesRequest, Json.ListTablesResponse, cancellationToken);

    public Task<GetItemResponse> GetItemAsync(GetItemRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("GetItem", request, Json.GetItemRequest, Json.GetItemResponse, cancellationToken);

    public Task<PutItemResponse> PutItemAsync(PutItemRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("PutItem", request, Json.PutItemRequest, Json.PutItemResponse, cancellationToken);

    public Task<UpdateItemResponse> UpdateItemAsync(UpdateItemRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("UpdateItem", request, Json.UpdateItemRequest, Json.UpdateItemResponse, cancellationToken);

    public Task<DeleteItemResponse> DeleteItemAsync(DeleteItemRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("DeleteItem", request, Json.DeleteItemRequest, Json.DeleteItemResponse, cancellationToken);

    public Task<ScanResponse> ScanAsync(ScanRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("Scan", request, Json.ScanRequest, Json.ScanResponse, cancellationToken);

    public Task<QueryResponse> QueryAsync(QueryRequest request, CancellationToken cancellationToken = default) =>
        Transport.InvokeAsync("Query", request, Json.QueryRequest, Json.QueryResponse, cancellationToken);

    /// <summary>Every item of a scan, following LastEvaluatedKey page by page (the request's ExclusiveStartKey is
    /// overwritten).</summary>
    public async IAsyncEnumerable<Dictionary<string, AttributeValue>> ScanAllAsync(ScanRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        do
        {
            var page = await ScanAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items ?? [])
                yield return item;
            request.ExclusiveStartKey = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (request.ExclusiveStartKey is not null);
    }

    /// <summary>Every item of a query, following LastEvaluatedKey.</summary>
    public async IAsyncEnumerable<Dictionary<string, AttributeValue>> QueryAllAsync(QueryRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        do
        {
            var page = await QueryAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items ?? [])
                yield return item;
            request.ExclusiveStartKey = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (request.ExclusiveStartKey is not null);
    }

    public void Dispose() => Transport.Dispose();
}
