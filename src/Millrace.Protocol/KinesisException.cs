namespace Millrace.Protocol;

/// <summary>
/// An error the way AWS sends it: an exception type name (the <c>__type</c> member), a message and an HTTP
/// status. Every layer that rejects a request throws this; the host turns it into the wire response.
/// </summary>
public sealed class KinesisException(string errorType, string? message, int statusCode = 400) : Exception(message ?? errorType)
{
    /// <summary>The bare exception type name, e.g. <c>ResourceNotFoundException</c>.</summary>
    public string ErrorType { get; } = errorType;

    /// <summary>The message sent to the client; null when AWS sends none.</summary>
    public string? ErrorMessage { get; } = message;

    public int StatusCode { get; } = statusCode;

    public static KinesisException ResourceNotFound(string message) => new("ResourceNotFoundException", message);

    public static KinesisException ResourceInUse(string message) => new("ResourceInUseException", message);

    public static KinesisException InvalidArgument(string message) => new("InvalidArgumentException", message);

    public static KinesisException LimitExceeded(string message) => new("LimitExceededException", message);

    public static KinesisException ExpiredIterator(string message) => new("ExpiredIteratorException", message);

    public static KinesisException ExpiredNextToken(string message) => new("ExpiredNextTokenException", message);

    public static KinesisException Validation(string message) => new("ValidationException", message);

    public static KinesisException Serialization(string? message) => new("SerializationException", message);

    public static KinesisException UnknownOperation() => new("UnknownOperationException", null);

    public static KinesisException InternalFailure(string? message = null) => new("InternalFailure", message, 500);
}
