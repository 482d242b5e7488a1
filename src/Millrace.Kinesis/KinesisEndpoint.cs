using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Millrace.Gateway;
using Millrace.Protocol;
using Millrace.Protocol.Wire;
using Millrace.Kinesis;
using Millrace.Kinesis.Limits;

namespace Millrace.Kinesis;

/// <summary>
/// The AWS JSON 1.1 front door: method, content type, target, SigV4 header, body parsing and model validation,
/// in the order AWS checks them, then dispatch to an operation; every failure leaves as AWS's error shape.
/// CBOR requests (the Java SDK's default) take the same path: the body is translated to JSON first and the
/// response (or error) back to CBOR.
/// </summary>
public sealed class KinesisEndpoint(
    IReadOnlyDictionary<string, KinesisOperation> operations, TimeProvider clock, ILogger<KinesisEndpoint> logger, ControlPlaneLimiter? controlPlane = null) : IAwsService
{
    private const string TargetPrefix = "Kinesis_20131202.";
    private const string JsonContentType = "application/x-amz-json-1.1";
    // A 10 MiB record (UpdateMaxRecordSize) is about 13.4 MiB in base64, and partition keys may be \u-escaped.
    private const int MaxBodyBytes = 20 * 1024 * 1024;

    public string Name => "kinesis";

    /// <summary>
    /// Kinesis keeps the JSON POSTs no other service claims (no or an unknown X-Amz-Target), so they get its
    /// UnknownOperationException as before the one endpoint.
    /// </summary>
    public ServiceRoutes Routes { get; } = new()
    {
        TargetPrefixes = [TargetPrefix.TrimEnd('.')],
        SigningNames = ["kinesis"],
        DefaultForJsonPosts = true,
    };

    /// <inheritdoc/>
    public async Task WriteErrorAsync(HttpContext http, ServiceException error)
    {
        http.Response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        using var output = new PooledBufferWriter();
        await WriteErrorAsync(http.Response, new KinesisException(error.Code, error.ErrorMessage, error.Status ?? 400), output,
            http.Request.ContentType == KinesisCbor.ContentType);
    }

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        response.Headers["x-amz-id-2"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

        if (!HttpMethods.IsPost(request.Method))
        {
            await WriteXmlErrorAsync(response, 403, "AccessDeniedException", "Unable to determine service/operation name to be authorized");
            return;
        }

        var contentType = (request.ContentType ?? "").Split(';')[0].Trim();
        var target = request.Headers["X-Amz-Target"].ToString();
        var operation = target.StartsWith(TargetPrefix, StringComparison.Ordinal) ? target[TargetPrefix.Length..] : null;
        bool knownOperation = operation is not null && ModelValidator.Kinesis.IsKnownOperation(operation);

        if (request.ContentLength > MaxBodyBytes)
        {
            response.StatusCode = 413;
            return;
        }

        byte[]? body = null;
        int length = 0;
        try
        {
            (body, length) = await ReadBodyAsync(request, http.RequestAborted);
            if (body is null)
            {
                response.StatusCode = 413;
                return;
            }

            bool cbor = contentType == KinesisCbor.ContentType;
            if (contentType != JsonContentType && contentType != "application/json" && !cbor)
            {
                if (operation is null)
                {
                    await WriteXmlErrorAsync(response, 403, "AccessDeniedException", "Unable to determine service/operation name to be authorized");
                }
                else
                {
                    await WriteXmlErrorAsync(response, 404, "UnknownOperationException", null);
                }

                return;
            }

            await DispatchAsync(http, operation, knownOperation, body.AsMemory(0, length), cbor);
        }
        finally
        {
            if (body is not null)
            {
                ArrayPool<byte>.Shared.Return(body);
            }
        }
    }

    private async Task DispatchAsync(HttpContext http, string? operation, bool knownOperation, ReadOnlyMemory<byte> body, bool cbor)
    {
        using var output = new PooledBufferWriter();
        using var translated = cbor ? new PooledBufferWriter() : null;
        StreamingResponse? streaming = null;
        try
        {
            if (body.IsEmpty)
            {
                throw knownOperation ? KinesisException.Serialization(null) : KinesisException.UnknownOperation();
            }

            if (translated is not null)
            {
                KinesisCbor.ToJson(body, knownOperation ? ModelValidator.Kinesis.GetInputShape(operation!) : null, translated);
                body = translated.WrittenMemory;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            }
            catch (JsonException)
            {
                throw KinesisException.Serialization(null);
            }

            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw KinesisException.Serialization(null);
                }

                if (!knownOperation)
                {
                    throw KinesisException.UnknownOperation();
                }

                var credential = SigV4Authorization.Parse(
                    http.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null,
                    name => http.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null,
                    http.Request.Headers["X-Amz-Date"].ToString() is { Length: > 0 } date ? date : http.Request.Headers.Date.ToString() is { Length: > 0 } d ? d : null);

                if (ModelValidator.Kinesis.Validate(operation!, document.RootElement) is { } invalid)
                {
                    throw invalid;
                }

                if (!operations.TryGetValue(operation!, out var handler))
                {
                    throw new KinesisException("UnknownOperationException", $"Millrace does not implement {operation} yet.");
                }

                long nowMs = clock.GetUtcNow().ToUnixTimeMilliseconds();
                controlPlane?.Admit(operation!, document.RootElement, nowMs); // --enforce-limits: control-plane TPS
                await using var writer = new Utf8JsonWriter(output);
                var context = new OperationContext(operation!, document.RootElement, writer, credential.AccessKeyId, nowMs, http.RequestAborted);
                await handler(context);
                streaming = context.Streaming;
                await writer.FlushAsync();
            }

            if (streaming is not null)
            {
                // Errors from here on are the stream's own (exception events); JSON errors only before it starts.
                await streaming(http.Response, http.RequestAborted);
                return;
            }

            if (translated is not null)
            {
                translated.Reset();
                KinesisCbor.FromJson(output.WrittenMemory.Span, ModelValidator.Kinesis.GetOutputShape(operation!), translated);
                await WriteBodyAsync(http.Response, 200, KinesisCbor.ContentType, translated.WrittenMemory);
            }
            else
            {
                await WriteBodyAsync(http.Response, 200, JsonContentType, output.WrittenMemory);
            }
        }
        catch (KinesisException ex)
        {
            output.Reset();
            await WriteErrorAsync(http.Response, ex, output, cbor);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception ex) when (JsonText.IsUndecodableString(ex))
        {
            output.Reset();
            await WriteErrorAsync(http.Response, KinesisException.Serialization(JsonText.UndecodableString), output, cbor);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "{Operation} failed", operation);
            output.Reset();
            await WriteErrorAsync(http.Response, KinesisException.InternalFailure(), output, cbor);
        }
    }

    /// <summary>Reads the whole body into a pooled array; null when it is over the size cap.</summary>
    private static async Task<(byte[]? Buffer, int Length)> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        var reader = request.BodyReader;
        int capacity = (int)Math.Min(request.ContentLength ?? 4096, MaxBodyBytes);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 16));
        int length = 0;
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            foreach (var segment in result.Buffer)
            {
                if (length + segment.Length > MaxBodyBytes)
                {
                    reader.AdvanceTo(result.Buffer.End);
                    ArrayPool<byte>.Shared.Return(buffer);
                    return (null, 0);
                }

                if (length + segment.Length > buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + segment.Length));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                segment.Span.CopyTo(buffer.AsSpan(length));
                length += segment.Length;
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return (buffer, length);
            }
        }
    }

    private static async Task WriteErrorAsync(HttpResponse response, KinesisException ex, PooledBufferWriter output, bool cbor)
    {
        if (cbor)
        {
            KinesisCbor.WriteError(ex, output);
            await WriteBodyAsync(response, ex.StatusCode, KinesisCbor.ContentType, output.WrittenMemory);
            return;
        }

        await using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteString("__type", ex.ErrorType);
            if (ex.ErrorMessage is not null)
            {
                w.WriteString("message", ex.ErrorMessage);
            }

            w.WriteEndObject();
        }

        await WriteBodyAsync(response, ex.StatusCode, JsonContentType, output.WrittenMemory);
    }

    private static async Task WriteBodyAsync(HttpResponse response, int status, string contentType, ReadOnlyMemory<byte> body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        if (!body.IsEmpty)
        {
            await response.Body.WriteAsync(body);
        }
    }

    private static async Task WriteXmlErrorAsync(HttpResponse response, int status, string type, string? message)
    {
        response.StatusCode = status;
        var text = message is null ? $"<{type}/>\n" : $"<{type}>\n  <Message>{message}</Message>\n</{type}>\n";
        await response.WriteAsync(text);
    }
}
