using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Millrace.Protocol;

namespace Millrace.Kinesis;

/// <summary>One Kinesis call after the wire layer accepted it: the validated input and where the output goes.</summary>
public sealed class OperationContext(string operation, JsonElement input, Utf8JsonWriter output, string accessKeyId, long nowMs, CancellationToken cancellationToken)
{
    public string Operation { get; } = operation;

    /// <summary>The request body; already checked against the service model's types and constraints.</summary>
    public JsonElement Input { get; } = input;

    /// <summary>Write the response object here; write nothing for operations without output.</summary>
    public Utf8JsonWriter Output { get; } = output;

    /// <summary>The access key id from the request's SigV4 credential.</summary>
    public string AccessKeyId { get; } = accessKeyId;

    /// <summary>The request's arrival time (epoch ms), from the server's clock.</summary>
    public long NowMs { get; } = nowMs;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>Set by operations that answer with a stream of events (SubscribeToShard) instead of a JSON body.
    /// The endpoint calls it after the request document is released, so it must not use <see cref="Input"/>.</summary>
    public StreamingResponse? Streaming { get; private set; }

    public void RespondWithStream(StreamingResponse respond) => Streaming = respond;

    public string? GetString(string name) =>
        Input.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    public int? GetInt32(string name) =>
        Input.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number ? Int32Of(e) : null;

    /// <summary>
    /// An integer member as AWS's JSON deserializer reads it: a fraction is truncated (Jackson coerces floats to ints),
    /// a value beyond Int32 is the client's SerializationException (never an internal failure).
    /// </summary>
    private static int Int32Of(JsonElement e)
    {
        if (e.TryGetInt32(out var exact))
        {
            return exact;
        }

        if (e.TryGetDouble(out var d) && double.IsFinite(d) && d >= int.MinValue && d <= int.MaxValue)
        {
            return (int)Math.Truncate(d);
        }

        throw KinesisException.Serialization($"Numeric value ({e.GetRawText()}) out of range of int");
    }

    public bool? GetBoolean(string name) =>
        Input.TryGetProperty(name, out var e) && e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : null;

    public JsonElement? GetObject(string name) =>
        Input.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Object ? e : null;

    /// <summary>A timestamp member (epoch seconds, possibly fractional) as epoch milliseconds.</summary>
    public long? GetTimestampMs(string name) => GetTimestampMs(Input, name);

    public static long? GetTimestampMs(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var e) && JsonTimestamps.TryReadEpochMilliseconds(e, out var ms) ? ms : null;
}

/// <summary>An operation implementation.</summary>
public delegate ValueTask KinesisOperation(OperationContext context);

/// <summary>Writes a streaming response (status, headers and body) once the request has been accepted.</summary>
public delegate Task StreamingResponse(HttpResponse response, CancellationToken cancellationToken);
