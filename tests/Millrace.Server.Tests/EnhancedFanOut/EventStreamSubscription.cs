using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.EventStream;

namespace Millrace.Server.Tests.EnhancedFanOut;

/// <summary>A raw HTTP/2 SubscribeToShard call: the response's event-stream messages, decoded with the codec and
/// also kept as the exact bytes they arrived as.</summary>
public sealed class EventStreamSubscription : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private byte[] _buffer = new byte[64 * 1024];
    private int _length;

    private EventStreamSubscription(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _body = body;
    }

    public HttpResponseMessage Response => _response;

    public static HttpClient NewHttpClient(string endpoint, bool acceptAnyCertificate = false)
    {
        var handler = new SocketsHttpHandler();
        if (acceptAnyCertificate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        return new HttpClient(handler) { BaseAddress = new Uri(endpoint), Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Sends SubscribeToShard over HTTP/2 (prior knowledge on http://, ALPN on https://).</summary>
    public static async Task<(HttpResponseMessage Response, EventStreamSubscription? Stream)> StartAsync(
        HttpClient http, string consumerArn, string shardId, object startingPosition, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new { ConsumerARN = consumerArn, ShardId = shardId, StartingPosition = startingPosition });
        var request = new HttpRequestMessage(HttpMethod.Post, "/")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202.SubscribeToShard");
        var now = DateTime.UtcNow;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDTEST/{now:yyyyMMdd}/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={new string('0', 64)}");
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.Content.Headers.ContentType?.MediaType != EventStreamCodec.ContentType)
        {
            return (response, null);
        }

        return (response, new EventStreamSubscription(response, await response.Content.ReadAsStreamAsync(ct)));
    }

    /// <summary>The next message and its exact bytes; null when the stream ended.</summary>
    public async Task<(EventStreamMessage Message, byte[] Raw)?> NextAsync(CancellationToken ct)
    {
        while (true)
        {
            if (EventStreamCodec.TryDecode(_buffer.AsSpan(0, _length), out var message, out var consumed))
            {
                var raw = _buffer.AsSpan(0, consumed).ToArray();
                _buffer.AsSpan(consumed, _length - consumed).CopyTo(_buffer);
                _length -= consumed;
                return (message!, raw);
            }

            if (_length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int read = await _body.ReadAsync(_buffer.AsMemory(_length), ct);
            if (read == 0)
            {
                Assert.Equal(0, _length); // no partial message at the end
                return null;
            }

            _length += read;
        }
    }

    /// <summary>The next SubscribeToShardEvent's payload (fails on anything else).</summary>
    public async Task<JsonNode> NextEventAsync(CancellationToken ct)
    {
        var next = await NextAsync(ct) ?? throw new Xunit.Sdk.XunitException("the event stream ended");
        Assert.Equal("event", next.Message.GetString(":message-type"));
        Assert.Equal("SubscribeToShardEvent", next.Message.GetString(":event-type"));
        return JsonNode.Parse(next.Message.Payload.Span)!;
    }

    public async ValueTask DisposeAsync()
    {
        await _body.DisposeAsync();
        _response.Dispose();
    }
}
