namespace Millrace.Client.DynamoDb;

/// <summary>A DynamoDB error; the subclasses carry DynamoDB's exception names.</summary>
public class DynamoDbServiceException(string errorCode, string message, int statusCode, string? requestId)
    : AwsServiceException(errorCode, message, statusCode, requestId)
{
    public override bool IsRetryable => base.IsRetryable || ErrorCode is "InternalServerError" or "TransactionConflictException";

    /// <summary>The typed exception for a DynamoDB error code.</summary>
    public static DynamoDbServiceException ForCode(string code, string message, int statusCode, string? requestId) => code switch
    {
        "ConditionalCheckFailedException" => new ConditionalCheckFailedException(message, statusCode, requestId),
        "ResourceNotFoundException" => new ResourceNotFoundException(message, statusCode, requestId),
        "ResourceInUseException" => new ResourceInUseException(message, statusCode, requestId),
        "ValidationException" => new ValidationException(message, statusCode, requestId),
        "ProvisionedThroughputExceededException" => new ProvisionedThroughputExceededException(message, statusCode, requestId),
        "ThrottlingException" => new ThrottlingException(message, statusCode, requestId),
        "LimitExceededException" => new LimitExceededException(message, statusCode, requestId),
        "InternalServerError" => new InternalServerErrorException(message, statusCode, requestId),
        _ => new DynamoDbServiceException(code, message, statusCode, requestId),
    };
}

/// <summary>A ConditionExpression evaluated to false; nothing was written.</summary>
public sealed class ConditionalCheckFailedException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ConditionalCheckFailedException", message, statusCode, requestId);

/// <summary>The table (or index) does not exist or is not ACTIVE yet.</summary>
public sealed class ResourceNotFoundException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ResourceNotFoundException", message, statusCode, requestId);

/// <summary>The table already exists, or is being created or deleted.</summary>
public sealed class ResourceInUseException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ResourceInUseException", message, statusCode, requestId);

public sealed class ValidationException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ValidationException", message, statusCode, requestId);

public sealed class ProvisionedThroughputExceededException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ProvisionedThroughputExceededException", message, statusCode, requestId);

public sealed class ThrottlingException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("ThrottlingException", message, statusCode, requestId);

public sealed class LimitExceededException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("LimitExceededException", message, statusCode, requestId);

/// <summary>DynamoDB's InternalServerError (HTTP 500).</summary>
public sealed class InternalServerErrorException(string message, int statusCode, string? requestId)
    : DynamoDbServiceException("InternalServerError", message, statusCode, requestId);
