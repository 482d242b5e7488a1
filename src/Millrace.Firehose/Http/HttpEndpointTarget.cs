namespace Millrace.Firehose.Http;

/// <summary>How the request body is encoded (the model's <c>ContentEncoding</c>: NONE or GZIP).</summary>
public enum HttpContentEncoding
{
    None,
    Gzip,
}

/// <summary>One HTTP endpoint destination as Firehose sends to it.</summary>
public sealed record HttpEndpointTarget
{
    /// <summary>
    /// The endpoint URL. AWS accepts only https on port 443; Millrace allows any http or https URL so that local
    /// endpoints (for example 127.0.0.1 in tests) work.
    /// </summary>
    public required string Url { get; init; }

    /// <summary>The delivery stream's ARN, sent as <c>X-Amz-Firehose-Source-Arn</c>.</summary>
    public required string SourceArn { get; init; }

    /// <summary>The endpoint's display name (configuration only; never sent).</summary>
    public string? Name { get; init; }

    /// <summary>Copied verbatim into <c>X-Amz-Firehose-Access-Key</c> when set.</summary>
    public string? AccessKey { get; init; }

    /// <summary>Sent as <c>X-Amz-Firehose-Common-Attributes</c> when there is at least one.</summary>
    public IReadOnlyDictionary<string, string> CommonAttributes { get; init; } = new Dictionary<string, string>();

    public HttpContentEncoding ContentEncoding { get; init; } = HttpContentEncoding.None;
}
