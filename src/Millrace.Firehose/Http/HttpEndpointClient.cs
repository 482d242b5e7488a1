using System.Buffers;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;

namespace Millrace.Firehose.Http;

/// <summary>
/// Sends one Firehose HTTP endpoint request (protocol version 1.0) and judges the response by the AWS request and
/// response specification. Wraps one <see cref="HttpClient"/>: HTTP/1.1 only, redirects never followed, no proxy,
/// no automatic decompression (a compressed response is itself non-conforming).
/// </summary>
public sealed class HttpEndpointClient : IDisposable
{
    /// <summary>The User-Agent Firehose sends to HTTP endpoints (as recorded from real Firehose requests).</summary>
    public const string UserAgent = "Amazon Kinesis Data Firehose Agent/1.0";

    /// <summary>The response body limit of the specification (1 MiB).</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    /// <summary>How long AWS waits for a response.</summary>
    public static readonly TimeSpan DefaultResponseTimeout = TimeSpan.FromMinutes(3);

    // How much of a response body an error message quotes.
    private const int QuotedBodyChars = 1024;

    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    private readonly HttpClient _http;
    private readonly TimeProvider _clock;

    public HttpEndpointClient(TimeProvider? clock = null)
        : this(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        }, clock)
    {
    }

    /// <summary>Uses <paramref name="handler"/> (owned and disposed by this client).</summary>
    public HttpEndpointClient(HttpMessageHandler handler, TimeProvider? clock = null)
    {
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _clock = clock ?? TimeProvider.System;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Makes one attempt. Never throws for endpoint behaviour (every failure is an outcome); throws
    /// <see cref="OperationCanceledException"/> only when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<HttpDeliveryOutcome> SendAsync(HttpEndpointTarget target, string requestId, IReadOnlyList<ReadOnlyMemory<byte>> records, TimeSpan responseTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        ArgumentNullException.ThrowIfNull(records);
        if (!Uri.TryCreate(target.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, null, HttpEndpointErrorCodes.ConnectionFailed,
                "The endpoint URL is not a valid http or https URL.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = BuildContent(target, requestId, records, _clock.GetUtcNow()),
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation("User-Agent", UserAgent);
        headers.TryAddWithoutValidation("X-Amz-Firehose-Protocol-Version", "1.0");
        headers.TryAddWithoutValidation("X-Amz-Firehose-Request-Id", requestId);
        headers.TryAddWithoutValidation("X-Amz-Firehose-Source-Arn", target.SourceArn);
        if (target.AccessKey is not null)
        {
            headers.TryAddWithoutValidation("X-Amz-Firehose-Access-Key", target.AccessKey);
        }

        if (target.CommonAttributes.Count > 0)
        {
            headers.TryAddWithoutValidation("X-Amz-Firehose-Common-Attributes", CommonAttributesHeader(target.CommonAttributes));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(responseTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var (body, tooLarge) = await ReadLimitedAsync(response, timeout.Token);
            var status = (int)response.StatusCode;
            if (tooLarge)
            {
                return Failure(HttpDeliveryStatus.RetryableFailure, requestId, status, HttpEndpointErrorCodes.ResponseTooLarge,
                    $"The response received from the endpoint is too large. The response must be at most {MaxResponseBytes} bytes.");
            }

            return Judge(response, status, body, requestId);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, null, HttpEndpointErrorCodes.RequestTimeout,
                $"The endpoint did not respond within {responseTimeout.TotalSeconds:0.###} seconds.");
        }
        catch (HttpRequestException ex)
        {
            var (code, message) = Classify(ex);
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, null, code, message);
        }
        catch (IOException ex)
        {
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, null, HttpEndpointErrorCodes.ConnectionReset,
                "The connection to the endpoint was reset or closed before the response was complete: " + ex.Message);
        }
    }

    private HttpDeliveryOutcome Judge(HttpResponseMessage response, int status, byte[] body, string requestId)
    {
        var endpointMessage = TryReadErrorMessage(body);
        if (status == 413)
        {
            return Failure(HttpDeliveryStatus.PermanentFailure, requestId, status, HttpEndpointErrorCodes.DestinationException,
                ReceivedMessage(status, body), endpointMessage);
        }

        if (status != 200)
        {
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, status, HttpEndpointErrorCodes.DestinationException,
                ReceivedMessage(status, body), endpointMessage);
        }

        var problem = ValidateSuccessBody(response, body, requestId);
        if (problem is not null)
        {
            return Failure(HttpDeliveryStatus.RetryableFailure, requestId, status, HttpEndpointErrorCodes.InvalidResponseFromDestination,
                "The response received from the specified endpoint is invalid. Contact the owner of the endpoint to resolve the issue. " +
                $"Response for request {requestId} {problem}. Raw response received: 200 {Quote(body)}", endpointMessage);
        }

        return new HttpDeliveryOutcome
        {
            Status = HttpDeliveryStatus.Delivered,
            RequestId = requestId,
            HttpStatusCode = status,
            AttemptEndingTimestamp = _clock.GetUtcNow(),
        };
    }

    /// <summary>The checks of the developer guide's "Invalid Response" section; null when the 200 conforms.</summary>
    private static string? ValidateSuccessBody(HttpResponseMessage response, byte[] body, string requestId)
    {
        if (response.Content.Headers.ContentType?.MediaType is not { } mediaType || !mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return "does not have the content type application/json";
        }

        if (response.Content.Headers.ContentEncoding.Count > 0)
        {
            return "is content-encoded";
        }

        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "is not recognized as valid JSON or has unexpected fields";
            }

            string? echoed = null;
            var hasTimestamp = false;
            // Bounded by the body (at most 1 MiB): every Read consumes at least one token.
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isRequestId = reader.ValueTextEquals("requestId"u8);
                var isTimestamp = reader.ValueTextEquals("timestamp"u8);
                reader.Read();
                if (isRequestId)
                {
                    echoed = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (isTimestamp)
                {
                    // The guide: "The timestamp field must be a number and not a string".
                    hasTimestamp = reader.TokenType == JsonTokenType.Number;
                }

                // Other fields (errorMessage, extensions) are allowed; nested values are skipped whole.
                reader.Skip();
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return "is not recognized as valid JSON or has unexpected fields";
            }

            if (echoed is null)
            {
                return "does not contain a requestId";
            }

            if (echoed != requestId)
            {
                return $"has a requestId ({echoed}) that does not match the request";
            }

            return hasTimestamp ? null : "does not contain a numeric timestamp";
        }
        catch (JsonException)
        {
            return "is not recognized as valid JSON or has unexpected fields";
        }
    }

    private static string? TryReadErrorMessage(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("errorMessage", out var m) && m.ValueKind == JsonValueKind.String
                ? m.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static (string Code, string Message) Classify(HttpRequestException ex)
    {
        if (ex.InnerException is AuthenticationException)
        {
            return (HttpEndpointErrorCodes.SslHandshakeFailure, "The TLS handshake with the endpoint failed: " + ex.Message);
        }

        return ex.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError when !IsReset(ex) =>
                (HttpEndpointErrorCodes.ConnectionFailed, "A connection could not be established with the endpoint: " + ex.Message),
            HttpRequestError.SecureConnectionError =>
                (HttpEndpointErrorCodes.SslHandshakeFailure, "The TLS handshake with the endpoint failed: " + ex.Message),
            _ => (HttpEndpointErrorCodes.ConnectionReset, "The connection to the endpoint was reset or closed before the response was complete: " + ex.Message),
        };
    }

    private static bool IsReset(Exception ex)
    {
        for (var e = ex.InnerException; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted })
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<(byte[] Body, bool TooLarge)> ReadLimitedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is > MaxResponseBytes)
        {
            return ([], true);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            // Bounded: stops one byte past the limit.
            while (buffer.Length <= MaxResponseBytes)
            {
                var n = await stream.ReadAsync(chunk, cancellationToken);
                if (n == 0)
                {
                    break;
                }

                buffer.Write(chunk, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.Length > MaxResponseBytes ? ([], true) : (buffer.ToArray(), false);
    }

    private static ByteArrayContent BuildContent(HttpEndpointTarget target, string requestId, IReadOnlyList<ReadOnlyMemory<byte>> records, DateTimeOffset now)
    {
        var json = WriteBody(requestId, now.ToUnixTimeMilliseconds(), records);
        byte[] bytes;
        if (target.ContentEncoding == HttpContentEncoding.Gzip)
        {
            var compressed = new MemoryStream(json.WrittenCount / 4 + 64);
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(json.WrittenSpan);
            }

            bytes = compressed.ToArray();
        }
        else
        {
            bytes = json.WrittenSpan.ToArray();
        }

        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = s_json;
        if (target.ContentEncoding == HttpContentEncoding.Gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        return content;
    }

    /// <summary>The request body; record data is base64-encoded straight into the output, without strings.</summary>
    internal static ArrayBufferWriter<byte> WriteBody(string requestId, long timestampMillis, IReadOnlyList<ReadOnlyMemory<byte>> records)
    {
        var size = 64;
        foreach (var r in records)
        {
            size += (r.Length + 2) / 3 * 4 + 12;
        }

        var output = new ArrayBufferWriter<byte>(size);
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        writer.WriteStartObject();
        writer.WriteString("requestId"u8, requestId);
        writer.WriteNumber("timestamp"u8, timestampMillis);
        writer.WriteStartArray("records"u8);
        foreach (var r in records)
        {
            writer.WriteStartObject();
            writer.WriteBase64String("data"u8, r.Span);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return output;
    }

    private static string CommonAttributesHeader(IReadOnlyDictionary<string, string> attributes)
    {
        var output = new ArrayBufferWriter<byte>();
        // The default encoder escapes non-ASCII, so the header value stays ASCII.
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("commonAttributes"u8);
            foreach (var (name, value) in attributes)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static string ReceivedMessage(int status, byte[] body) =>
        $"The following response was received from the endpoint destination. {status}: {Quote(body)}";

    private static string Quote(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= QuotedBodyChars ? text : text[..QuotedBodyChars] + "...";
    }

    private HttpDeliveryOutcome Failure(HttpDeliveryStatus status, string requestId, int? httpStatus, string code, string message, string? endpointMessage = null) =>
        new()
        {
            Status = status,
            RequestId = requestId,
            HttpStatusCode = httpStatus,
            ErrorCode = code,
            ErrorMessage = message,
            EndpointErrorMessage = endpointMessage,
            AttemptEndingTimestamp = _clock.GetUtcNow(),
        };
}
