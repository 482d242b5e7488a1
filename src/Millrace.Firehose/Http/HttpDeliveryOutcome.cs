namespace Millrace.Firehose.Http;

public enum HttpDeliveryStatus
{
    /// <summary>The endpoint answered 200 with a conforming body.</summary>
    Delivered,

    /// <summary>Any other failure: retried until the retry duration runs out, then written to the error output.</summary>
    RetryableFailure,

    /// <summary>413: not retried and, as the AWS response specification says, not written to the error bucket.</summary>
    PermanentFailure,
}

/// <summary>
/// The result of one attempt (<see cref="HttpEndpointClient.SendAsync"/>) or of a whole delivery with retries
/// (<see cref="HttpEndpointDelivery.DeliverWithRetriesAsync"/>).
/// </summary>
public sealed record HttpDeliveryOutcome
{
    public required HttpDeliveryStatus Status { get; init; }

    /// <summary>The <c>X-Amz-Firehose-Request-Id</c> (the same for every attempt of one delivery).</summary>
    public required string RequestId { get; init; }

    /// <summary>The response status, when a response arrived.</summary>
    public int? HttpStatusCode { get; init; }

    /// <summary>Firehose's error code for HTTP endpoints, for example <c>HttpEndpoint.DestinationException</c>.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Firehose's error message, including the status and (truncated) response body when there was one.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>The <c>errorMessage</c> field of the endpoint's JSON response, when it gave one.</summary>
    public string? EndpointErrorMessage { get; init; }

    /// <summary>Attempts made so far (1 for a single <see cref="HttpEndpointClient.SendAsync"/>).</summary>
    public int AttemptsMade { get; init; } = 1;

    /// <summary>When the last attempt ended.</summary>
    public DateTimeOffset AttemptEndingTimestamp { get; init; }

    public bool IsDelivered => Status == HttpDeliveryStatus.Delivered;

    /// <summary>Whether the records go to the <c>http-endpoint-failed</c> error output (only retryable failures do).</summary>
    public bool WritesErrorOutput => Status == HttpDeliveryStatus.RetryableFailure;
}

/// <summary>The error codes Firehose reports for HTTP endpoint destinations (developer guide, "Troubleshooting HTTP Endpoints").</summary>
public static class HttpEndpointErrorCodes
{
    /// <summary>A response arrived, but not a 200 (including other 2xx, 3xx, 413).</summary>
    public const string DestinationException = "HttpEndpoint.DestinationException";

    /// <summary>A 200 whose body or headers do not follow the response specification.</summary>
    public const string InvalidResponseFromDestination = "HttpEndpoint.InvalidResponseFromDestination";

    /// <summary>No response within the response timeout (3 minutes at AWS).</summary>
    public const string RequestTimeout = "HttpEndpoint.RequestTimeout";

    /// <summary>The response body is larger than 1 MiB.</summary>
    public const string ResponseTooLarge = "HttpEndpoint.ResponseTooLarge";

    /// <summary>No connection could be made (refused, unresolvable host).</summary>
    public const string ConnectionFailed = "HttpEndpoint.ConnectionFailed";

    /// <summary>A connection was made but reset or closed before the response was complete.</summary>
    public const string ConnectionReset = "HttpEndpoint.ConnectionReset";

    /// <summary>The TLS handshake failed.</summary>
    public const string SslHandshakeFailure = "HttpEndpoint.SSLHandshakeFailure";
}
