using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Millrace.Bench.Load;

/// <summary>
/// The Kinesis JSON 1.1 protocol over keep-alive HTTP/1.1, with request bodies built before the clock starts and
/// responses read into a reused buffer, so the client spends little CPU per call. Any JSON 1.1 service's operations
/// can be sent by naming its X-Amz-Target prefix (Firehose's <c>Firehose_20150804</c>).
/// </summary>
public sealed class KinesisWire : IDisposable
{
    // Servers here do not verify signatures; the header only has to be well formed (and name the service: peers
    // such as moto route by the credential scope's service).
    private const string AuthorizationFormat =
        "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261123/us-east-1/{0}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/x-amz-json-1.1");
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string _targetPrefix;
    private readonly string _authorization;

    public KinesisWire(Uri endpoint, int connections, string targetPrefix = "Kinesis_20131202", string signingName = "kinesis")
    {
        _endpoint = endpoint;
        _targetPrefix = targetPrefix + ".";
        _authorization = string.Format(System.Globalization.CultureInfo.InvariantCulture, AuthorizationFormat, signingName);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            UseCookies = false,
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
    }

    /// <summary>Sends a pre-built body; returns the status and the response bytes in <paramref name="buffer"/>.</summary>
    public async Task<(HttpStatusCode Status, int Length)> SendAsync(string operation, byte[] body, ResponseBuffer buffer, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = JsonContentType;
        request.Headers.TryAddWithoutValidation("X-Amz-Target", _targetPrefix + operation);
        request.Headers.TryAddWithoutValidation("X-Amz-Date", "20261123T000000Z");
        request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        int length = await buffer.FillAsync(stream, ct);
        return (response.StatusCode, length);
    }

    /// <summary>Sends and parses; for the few control-plane calls outside the measurement.</summary>
    public async Task<JsonDocument> CallAsync(string operation, object input, CancellationToken ct)
    {
        var buffer = new ResponseBuffer();
        var (status, length) = await SendAsync(operation, JsonSerializer.SerializeToUtf8Bytes(input), buffer, ct);
        if (status != HttpStatusCode.OK)
        {
            throw new KinesisCallException(operation, status, Encoding.UTF8.GetString(buffer.Span(length)));
        }

        return JsonDocument.Parse(length == 0 ? "{}"u8.ToArray() : buffer.Memory(length));
    }

    public void Dispose() => _http.Dispose();
}

public sealed class KinesisCallException(string operation, HttpStatusCode status, string body)
    : Exception($"{operation}: HTTP {(int)status} {body}")
{
    public bool IsThrottle => body.Contains("ProvisionedThroughputExceeded", StringComparison.Ordinal) || body.Contains("LimitExceeded", StringComparison.Ordinal);
}

/// <summary>A growable response buffer owned by one client loop.</summary>
public sealed class ResponseBuffer
{
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(64 * 1024);

    public ReadOnlySpan<byte> Span(int length) => _bytes.AsSpan(0, length);

    public ReadOnlyMemory<byte> Memory(int length) => _bytes.AsMemory(0, length);

    public async ValueTask<int> FillAsync(Stream stream, CancellationToken ct)
    {
        int length = 0;
        while (true)
        {
            if (length == _bytes.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(_bytes.Length * 2);
                _bytes.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_bytes);
                _bytes = bigger;
            }

            int n = await stream.ReadAsync(_bytes.AsMemory(length), ct);
            if (n == 0)
            {
                return length;
            }

            length += n;
        }
    }
}
