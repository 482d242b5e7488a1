using System.Text.Json.Nodes;

namespace Millrace.Protocol.Wire;

/// <summary>
/// A request as the protocol layer sees it, free of any HTTP server: method, the path still percent-encoded,
/// the decoded query parameters in order, headers (case-insensitive names) and the whole body.
/// </summary>
public sealed class ProtocolRequest
{
    public string Method { get; init; } = "POST";

    /// <summary>The request path as sent (percent-encoded), without the query string.</summary>
    public string Path { get; init; } = "/";

    public IReadOnlyList<KeyValuePair<string, string>> Query { get; init; } = [];

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>The principal whose signature the front door verified; null when signatures are not checked.</summary>
    public Millrace.Protocol.Auth.CallerIdentity? Caller { get; init; }

    /// <summary>The verified request's source address, transport, region and time; null when signatures are not checked.</summary>
    public Millrace.Protocol.Auth.RequestFacts? Facts { get; init; }

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

    public string ContentType => Header("Content-Type") ?? "";

    /// <summary>Parses a query string ("a=1&amp;b" without the leading '?') into decoded pairs.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseQuery(string? query)
    {
        var list = new List<KeyValuePair<string, string>>();
        if (string.IsNullOrEmpty(query))
        {
            return list;
        }

        if (query[0] == '?')
        {
            query = query[1..];
        }

        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : part[(eq + 1)..];
            list.Add(new(Decode(key), Decode(value)));
        }

        return list;
    }

    /// <summary>Form/query decoding: '+' is a space, then percent-decoding.</summary>
    public static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}

/// <summary>What a codec writes back: status, headers and body (Content-Type among the headers).</summary>
public sealed class ProtocolResponse
{
    public int Status { get; set; } = 200;

    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public byte[] Body { get; set; } = [];

    public string? ContentType
    {
        get => Headers.TryGetValue("Content-Type", out var v) ? v : null;
        set
        {
            if (value is null)
            {
                Headers.Remove("Content-Type");
            }
            else
            {
                Headers["Content-Type"] = value;
            }
        }
    }
}

/// <summary>
/// An AWS error raised by a handler or by the protocol layer. <see cref="Code"/> is the error shape's name
/// (<c>ResourceNotFoundException</c>) or its query code (<c>InvalidParameterValue</c>); the codec writes whichever
/// its protocol uses, with the status and fault side from the model's error shape unless given here.
/// </summary>
public class ServiceException(string code, string? message, int? status = null) : Exception(message ?? code)
{
    public string Code { get; } = code;

    public string? ErrorMessage { get; } = message;

    /// <summary>The HTTP status; null takes the model's <c>httpStatusCode</c> (else 400, or 500 for faults).</summary>
    public int? Status { get; } = status;

    /// <summary>Sender (client) or Receiver (server) side; null takes the model's.</summary>
    public bool? SenderFault { get; init; }

    /// <summary>Extra members of the error shape to send (e.g. S3's <c>BucketName</c>).</summary>
    public JsonObject? Fields { get; init; }

    public static ServiceException Validation(string message) => new("ValidationException", message);

    public static ServiceException Serialization(string? message) => new("SerializationException", message);

    public static ServiceException UnknownOperation(string? message = null) => new("UnknownOperationException", message);

    public static ServiceException InternalFailure(string? message = null) => new("InternalFailure", message, 500) { SenderFault = false };
}
