using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Millrace.Server.Tests.Infrastructure;

/// <summary>
/// A raw AWS JSON 1.1 client for tests that need to see exactly what goes over the wire (status codes, error
/// bodies, malformed requests). It sends a well-formed SigV4 Authorization header; Millrace parses but does not
/// yet verify signatures.
/// </summary>
public sealed class KinesisJsonClient : IDisposable
{
    private readonly HttpClient _http;

    public KinesisJsonClient(string endpoint, Version? httpVersion = null)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 };
        _http = new HttpClient(handler) { BaseAddress = new Uri(endpoint), Timeout = TimeSpan.FromSeconds(60) };
        if (httpVersion is not null)
        {
            _http.DefaultRequestVersion = httpVersion;
            _http.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
    }

    public sealed record Response(HttpStatusCode Status, string Body, HttpResponseMessage Message)
    {
        public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

        public string? ErrorType => Json?["__type"]?.GetValue<string>();

        public string? ErrorMessage => Json?["message"]?.GetValue<string>();

        public override string ToString() => $"{(int)Status} {Body}";
    }

    public Task<Response> CallAsync(string operation, object body, CancellationToken ct = default) =>
        SendRawAsync(operation, JsonSerializer.Serialize(body), ct: ct);

    public async Task<Response> SendRawAsync(string? operation, string? body, string contentType = "application/x-amz-json-1.1", bool signed = true, string method = "POST", CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/")
        {
            Version = _http.DefaultRequestVersion,
            VersionPolicy = _http.DefaultVersionPolicy,
        };
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (operation is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202." + operation);
        }

        var now = DateTime.UtcNow;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        if (signed)
        {
            request.Headers.TryAddWithoutValidation("Authorization",
                $"AWS4-HMAC-SHA256 Credential=AKIDTEST/{now:yyyyMMdd}/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={new string('0', 64)}");
        }

        var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return new Response(response.StatusCode, text, response);
    }

    /// <summary>Calls an operation and returns its JSON output, failing the test on any error.</summary>
    public async Task<JsonNode> OkAsync(string operation, object body, CancellationToken ct = default)
    {
        var response = await CallAsync(operation, body, ct);
        if (response.Status != HttpStatusCode.OK)
        {
            throw new Xunit.Sdk.XunitException($"{operation} failed: {response}");
        }

        return response.Json ?? new JsonObject();
    }

    public void Dispose() => _http.Dispose();
}
