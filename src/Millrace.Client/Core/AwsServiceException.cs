namespace Millrace.Client;

/// <summary>An error answered by an AWS-compatible service: its error code (the exception type AWS names), HTTP
/// status and request id.</summary>
public class AwsServiceException(string errorCode, string message, int statusCode, string? requestId, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;
    public int StatusCode { get; } = statusCode;
    public string? RequestId { get; } = requestId;

    /// <summary>Throttling and server-side errors, which a retry may cure.</summary>
    public virtual bool IsRetryable =>
        StatusCode >= 500 || ErrorCode is "ProvisionedThroughputExceededException" or "ThrottlingException"
            or "LimitExceededException" or "RequestLimitExceeded" or "Throttling" or "TooManyRequestsException"
            or "KMSThrottlingException";

    public override string ToString() => $"{ErrorCode} ({StatusCode}): {Message}";
}

/// <summary>A Kinesis error; the generated subclasses carry AWS's exception names.</summary>
public partial class KinesisServiceException(string errorCode, string message, int statusCode, string? requestId, Exception? inner = null)
    : AwsServiceException(errorCode, message, statusCode, requestId, inner);

/// <summary>Base of every generated response: the request id AWS answered with.</summary>
public abstract class KinesisResponse
{
    [System.Text.Json.Serialization.JsonIgnore]
    public string? RequestId { get; set; }

    [System.Text.Json.Serialization.JsonIgnore]
    public int HttpStatusCode { get; set; }
}
