namespace Millrace.DynamoDb;

/// <summary>An error DynamoDB answers with: its type name (without the namespace prefix), message and HTTP status.</summary>
public sealed class DynamoDbException(string type, string message, int status = 400, string prefix = "com.amazonaws.dynamodb.v20120810#") : Exception(message)
{
    public string Type { get; } = type;

    public int Status { get; } = status;

    /// <summary>The full __type DynamoDB puts on the wire.</summary>
    public string WireType => prefix + Type;

    public static DynamoDbException Validation(string message) => new("ValidationException", message, 400, "com.amazon.coral.validate#");

    public static DynamoDbException ConditionalCheckFailed() => new("ConditionalCheckFailedException", "The conditional request failed");

    public static DynamoDbException ResourceNotFound(string message = "Requested resource not found") => new("ResourceNotFoundException", message);

    public static DynamoDbException TableNotFound(string table) => new("ResourceNotFoundException", $"Requested resource not found: Table: {table} not found");

    public static DynamoDbException ResourceInUse(string message) => new("ResourceInUseException", message);

    public static DynamoDbException Serialization(string message = "Start of structure or map found where not expected.") =>
        new("SerializationException", message, 400, "com.amazon.coral.service#");

    public static DynamoDbException UnknownOperation() => new("UnknownOperationException", "", 400, "com.amazon.coral.service#");

    public static DynamoDbException InternalServerError() => new("InternalServerError", "Internal server error", 500);
}
