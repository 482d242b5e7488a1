using System.Text.Json.Serialization;

namespace Millrace.Client.DynamoDb;

// Request and response shapes of the DynamoDB operations a lease table needs, with the DynamoDB API's names.

public sealed class AttributeDefinition
{
    public string? AttributeName { get; set; }
    /// <summary>S, N or B.</summary>
    public string? AttributeType { get; set; }
}

public sealed class KeySchemaElement
{
    public string? AttributeName { get; set; }
    /// <summary>HASH or RANGE.</summary>
    public string? KeyType { get; set; }
}

public sealed class ProvisionedThroughput
{
    public long? ReadCapacityUnits { get; set; }
    public long? WriteCapacityUnits { get; set; }
}

public sealed class BillingModeSummary
{
    public string? BillingMode { get; set; }
}

public sealed class TableDescription
{
    public string? TableName { get; set; }
    public string? TableArn { get; set; }
    /// <summary>CREATING, UPDATING, DELETING, ACTIVE, ...</summary>
    public string? TableStatus { get; set; }
    public List<AttributeDefinition>? AttributeDefinitions { get; set; }
    public List<KeySchemaElement>? KeySchema { get; set; }
    public long? ItemCount { get; set; }
    public long? TableSizeBytes { get; set; }
    public BillingModeSummary? BillingModeSummary { get; set; }
    [JsonConverter(typeof(EpochSecondsConverter))]
    public DateTime? CreationDateTime { get; set; }
}

public static class TableStatus
{
    public const string CREATING = "CREATING";
    public const string UPDATING = "UPDATING";
    public const string DELETING = "DELETING";
    public const string ACTIVE = "ACTIVE";
}

public static class BillingMode
{
    public const string PAY_PER_REQUEST = "PAY_PER_REQUEST";
    public const string PROVISIONED = "PROVISIONED";
}

public static class ReturnValue
{
    public const string NONE = "NONE";
    public const string ALL_OLD = "ALL_OLD";
    public const string UPDATED_OLD = "UPDATED_OLD";
    public const string ALL_NEW = "ALL_NEW";
    public const string UPDATED_NEW = "UPDATED_NEW";
}

public sealed class CreateTableRequest
{
    public string? TableName { get; set; }
    public List<AttributeDefinition>? AttributeDefinitions { get; set; }
    public List<KeySchemaElement>? KeySchema { get; set; }
    public string? BillingMode { get; set; }
    public ProvisionedThroughput? ProvisionedThroughput { get; set; }
}

public sealed class CreateTableResponse
{
    public TableDescription? TableDescription { get; set; }
}

public sealed class DescribeTableRequest
{
    public string? TableName { get; set; }
}

public sealed class DescribeTableResponse
{
    public TableDescription? Table { get; set; }
}

public sealed class DeleteTableRequest
{
    public string? TableName { get; set; }
}

public sealed class DeleteTableResponse
{
    public TableDescription? TableDescription { get; set; }
}

public sealed class ListTablesRequest
{
    public string? ExclusiveStartTableName { get; set; }
    public int? Limit { get; set; }
}

public sealed class ListTablesResponse
{
    public List<string>? TableNames { get; set; }
    public string? LastEvaluatedTableName { get; set; }
}

public sealed class GetItemRequest
{
    public string? TableName { get; set; }
    public Dictionary<string, AttributeValue>? Key { get; set; }
    public bool? ConsistentRead { get; set; }
    public string? ProjectionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
}

public sealed class GetItemResponse
{
    /// <summary>Null when there is no such item.</summary>
    public Dictionary<string, AttributeValue>? Item { get; set; }
}

public sealed class PutItemRequest
{
    public string? TableName { get; set; }
    public Dictionary<string, AttributeValue>? Item { get; set; }
    public string? ConditionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
    public Dictionary<string, AttributeValue>? ExpressionAttributeValues { get; set; }
    public string? ReturnValues { get; set; }
}

public sealed class PutItemResponse
{
    public Dictionary<string, AttributeValue>? Attributes { get; set; }
}

public sealed class UpdateItemRequest
{
    public string? TableName { get; set; }
    public Dictionary<string, AttributeValue>? Key { get; set; }
    public string? UpdateExpression { get; set; }
    public string? ConditionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
    public Dictionary<string, AttributeValue>? ExpressionAttributeValues { get; set; }
    public string? ReturnValues { get; set; }
}

public sealed class UpdateItemResponse
{
    public Dictionary<string, AttributeValue>? Attributes { get; set; }
}

public sealed class DeleteItemRequest
{
    public string? TableName { get; set; }
    public Dictionary<string, AttributeValue>? Key { get; set; }
    public string? ConditionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
    public Dictionary<string, AttributeValue>? ExpressionAttributeValues { get; set; }
    public string? ReturnValues { get; set; }
}

public sealed class DeleteItemResponse
{
    public Dictionary<string, AttributeValue>? Attributes { get; set; }
}

public sealed class ScanRequest
{
    public string? TableName { get; set; }
    public string? IndexName { get; set; }
    public int? Limit { get; set; }
    public Dictionary<string, AttributeValue>? ExclusiveStartKey { get; set; }
    public bool? ConsistentRead { get; set; }
    public string? FilterExpression { get; set; }
    public string? ProjectionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
    public Dictionary<string, AttributeValue>? ExpressionAttributeValues { get; set; }
}

public sealed class ScanResponse
{
    public List<Dictionary<string, AttributeValue>>? Items { get; set; }
    public int? Count { get; set; }
    public int? ScannedCount { get; set; }
    /// <summary>Set when there are more items: pass it as the next request's ExclusiveStartKey.</summary>
    public Dictionary<string, AttributeValue>? LastEvaluatedKey { get; set; }
}

public sealed class QueryRequest
{
    public string? TableName { get; set; }
    public string? IndexName { get; set; }
    public string? KeyConditionExpression { get; set; }
    public string? FilterExpression { get; set; }
    public string? ProjectionExpression { get; set; }
    public Dictionary<string, string>? ExpressionAttributeNames { get; set; }
    public Dictionary<string, AttributeValue>? ExpressionAttributeValues { get; set; }
    public int? Limit { get; set; }
    public Dictionary<string, AttributeValue>? ExclusiveStartKey { get; set; }
    public bool? ConsistentRead { get; set; }
    public bool? ScanIndexForward { get; set; }
}

public sealed class QueryResponse
{
    public List<Dictionary<string, AttributeValue>>? Items { get; set; }
    public int? Count { get; set; }
    public int? ScannedCount { get; set; }
    public Dictionary<string, AttributeValue>? LastEvaluatedKey { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateTableRequest))]
[JsonSerializable(typeof(CreateTableResponse))]
[JsonSerializable(typeof(DescribeTableRequest))]
[JsonSerializable(typeof(DescribeTableResponse))]
[JsonSerializable(typeof(DeleteTableRequest))]
[JsonSerializable(typeof(DeleteTableResponse))]
[JsonSerializable(typeof(ListTablesRequest))]
[JsonSerializable(typeof(ListTablesResponse))]
[JsonSerializable(typeof(GetItemRequest))]
[JsonSerializable(typeof(GetItemResponse))]
[JsonSerializable(typeof(PutItemRequest))]
[JsonSerializable(typeof(PutItemResponse))]
[JsonSerializable(typeof(UpdateItemRequest))]
[JsonSerializable(typeof(UpdateItemResponse))]
[JsonSerializable(typeof(DeleteItemRequest))]
[JsonSerializable(typeof(DeleteItemResponse))]
[JsonSerializable(typeof(ScanRequest))]
[JsonSerializable(typeof(ScanResponse))]
[JsonSerializable(typeof(QueryRequest))]
[JsonSerializable(typeof(QueryResponse))]
internal sealed partial class DynamoDbJsonContext : JsonSerializerContext
{
}
