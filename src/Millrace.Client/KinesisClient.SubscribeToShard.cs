using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Millrace.Protocol.EventStream;

namespace Millrace.Client;

public partial interface IKinesisClient
{
    /// <summary>Enhanced fan-out: opens an HTTP/2 event stream of the shard's records for a registered consumer.
    /// Returns after the initial-response event; read the records from <see cref="SubscribeToShardResponse.Events"/>.
    /// <paramref name="cancellationToken"/> also ends the subscription.</summary>
    Task<SubscribeToShardResponse> SubscribeToShardAsync(SubscribeToShardRequest request, CancellationToken cancellationToken = default);
}

public sealed partial class KinesisClient
{
    /// <inheritdoc />
    public async Task<SubscribeToShardResponse> SubscribeToShardAsync(SubscribeToShardRequest request, CancellationToken cancellationToken = default)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, KinesisJsonContext.Default.SubscribeToShardRequest);
        // Errors before the stream opens (ResourceNotFound, throttling, 5xx) come as ordinary responses and are
        // retried like any call; once the initial-response arrived the subscription is the caller's.
        return await Transport.WithRetriesAsync(ct => OpenSubscriptionAsync(body, ct), cancellationToken).ConfigureAwait(false);
    }

    private async Task<SubscribeToShardResponse> OpenSubscriptionAsync(byte[] body, CancellationToken cancellationToken)
    {
        // The subscription lives until the caller's token, Dispose, or the server ends it; the request timeout only
        // bounds the wait for the first message.
        var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        HttpResponseMessage? response = null;
        try
        {
            // Always HTTP/2 as AWS requires: h2c with prior knowledge on http://, ALPN h2 on https://.
            using var message = await Transport.CreateSignedRequestAsync("SubscribeToShard", body, lifetime.Token, HttpVersion.Version20)
                .ConfigureAwait(false);
            using var firstMessageTimeout = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
            firstMessageTimeout.CancelAfter(Transport.Options.RequestTimeout);
            response = await Transport.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, firstMessageTimeout.Token).ConfigureAwait(false);
            var requestId = AwsJsonTransport.RequestIdOf(response);
            if (!response.IsSuccessStatusCode)
            {
                var error = await response.Content.ReadAsByteArrayAsync(firstMessageTimeout.Token).ConfigureAwait(false);
                throw Transport.ParseError(error, (int)response.StatusCode, requestId);
            }

            var stream = await response.Content.ReadAsStreamAsync(firstMessageTimeout.Token).ConfigureAwait(false);
            var reader = new EventStreamReader(stream);
            var first = await reader.ReadAsync(firstMessageTimeout.Token).ConfigureAwait(false);
            var result = new SubscribeToShardResponse(response, reader, lifetime, requestId)
            {
                RequestId = requestId,
                HttpStatusCode = (int)response.StatusCode,
            };
            // AWS opens with an initial-response event; anything else (an exception event such as
            // ResourceInUseException, or a first record event) is handed to the enumeration.
            if (first is not null && first.GetString(":event-type") != "initial-response")
                result.Pending = first;
            else if (first is null)
                result.EndedEarly = true;
            return result;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            response?.Dispose();
            lifetime.Dispose();
            throw new TimeoutException($"SubscribeToShard got no initial response within {Transport.Options.RequestTimeout} (AwsClientOptions.RequestTimeout).", e);
        }
        catch
        {
            response?.Dispose();
            lifetime.Dispose();
            throw;
        }
    }
}

public sealed partial class SubscribeToShardResponse : IAsyncDisposable, IDisposable
{
    private readonly HttpResponseMessage? _response;
    private readonly EventStreamReader? _reader;
    private readonly CancellationTokenSource? _lifetime;
    private readonly string? _requestId;
    private int _enumerated;
    private int _disposed;

    /// <summary>For deserialization and tests; a response made this way has no events.</summary>
    public SubscribeToShardResponse()
    {
    }

    internal SubscribeToShardResponse(HttpResponseMessage response, EventStreamReader reader, CancellationTokenSource lifetime, string? requestId)
    {
        _response = response;
        _reader = reader;
        _lifetime = lifetime;
        _requestId = requestId;
    }

    internal EventStreamMessage? Pending { get; set; }

    /// <summary>The HTTP version the subscription runs on (always 2.0).</summary>
    internal Version? ProtocolVersion => _response?.Version;

    internal bool EndedEarly { get; set; }

    /// <summary>The shard's events in order: records, the continuation sequence number, how far behind the tip the
    /// consumer is, and (at the end of a closed shard) its child shards. An exception event is thrown as the typed
    /// Kinesis exception; the enumeration ends when the server closes the subscription (after 5 minutes). It can be
    /// enumerated once.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IAsyncEnumerable<SubscribeToShardEvent> Events => ReadEventsAsync();

    private async IAsyncEnumerable<SubscribeToShardEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (_reader is null || _lifetime is null)
            yield break;
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
            throw new InvalidOperationException("SubscribeToShardResponse.Events can be enumerated only once.");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        if (EndedEarly)
            yield break;
        var next = Pending;
        Pending = null;
        while (true)
        {
            if (next is null)
            {
                try
                {
                    next = await _reader.ReadAsync(linked.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or HttpRequestException
                                          && Volatile.Read(ref _disposed) != 0 && !cancellationToken.IsCancellationRequested)
                {
                    throw new ObjectDisposedException(nameof(SubscribeToShardResponse), "The subscription was disposed.");
                }
                if (next is null)
                    yield break; // the server ended the subscription
            }

            var @event = ToEvent(next, _requestId);
            next = null;
            if (@event is not null)
                yield return @event;
        }
    }

    /// <summary>An event's record batch, or null for events this client does not know (skipped, as the SDKs do).</summary>
    private static SubscribeToShardEvent? ToEvent(EventStreamMessage message, string? requestId)
    {
        switch (message.GetString(":message-type"))
        {
            case "event":
                return message.GetString(":event-type") == "SubscribeToShardEvent"
                    ? JsonSerializer.Deserialize(message.Payload.Span, KinesisJsonContext.Default.SubscribeToShardEvent)
                    : null;
            case "exception":
                var type = message.GetString(":exception-type") ?? "UnknownError";
                var text = MessageOf(message.Payload.Span);
                // The stream's HTTP status is 200; the exception carries the status AWS gives the error elsewhere.
                var status = type is "InternalFailureException" or "InternalFailure" ? 500 : 400;
                throw KinesisServiceException.ForCode(type, text, status, requestId) ?? new KinesisServiceException(type, text, status, requestId);
            case "error":
                var code = message.GetString(":error-code") ?? "UnknownError";
                throw new KinesisServiceException(code, message.GetString(":error-message") ?? "", 500, requestId);
            default:
                return null;
        }
    }

    private static string MessageOf(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString();
                    reader.Read();
                    if (name is "message" or "Message" && reader.TokenType == JsonTokenType.String)
                        return reader.GetString()!;
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }
        return System.Text.Encoding.UTF8.GetString(payload);
    }

    /// <summary>Ends the subscription: resets the HTTP/2 stream, so the server frees the consumer's shard slot.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _lifetime?.Cancel();
        _response?.Dispose();
        _reader?.Dispose();
        _lifetime?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Reads whole event-stream messages off a response body with one reused, growing buffer, decoding with
/// the shared <see cref="EventStreamCodec"/>. (Not pooled: Dispose may race a read that still writes into it.)</summary>
internal sealed class EventStreamReader(Stream stream) : IDisposable
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next message, or null at a clean end of the stream.</summary>
    public async ValueTask<EventStreamMessage?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_end > _start && EventStreamCodec.TryDecode(_buffer.AsSpan(_start, _end - _start), out var message, out var consumed))
            {
                _start += consumed;
                if (_start == _end)
                    _start = _end = 0;
                return message;
            }

            MakeRoom();
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return _end == _start ? null : throw new IOException($"The event stream ended inside a message ({_end - _start} bytes left).");
            }
            _end += read;
        }
    }

    private void MakeRoom()
    {
        var pending = _end - _start;
        var needed = pending >= EventStreamCodec.PreludeLength
            ? System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start)) : 0;
        if (_start > 0 && (_end == _buffer.Length || needed > _buffer.Length - _start))
        {
            _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            _start = 0;
            _end = pending;
        }
        if (_end == _buffer.Length || needed > _buffer.Length)
        {
            // A message larger than the buffer (up to the codec's 16 MiB cap, which TryDecode enforces).
            var larger = new byte[Math.Max(_buffer.Length * 2, Math.Min(needed, EventStreamCodec.MaxMessageLength))];
            _buffer.AsSpan(0, _end).CopyTo(larger);
            _buffer = larger;
        }
    }

    public void Dispose() => stream.Dispose();
}
