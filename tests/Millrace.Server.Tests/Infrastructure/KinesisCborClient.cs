using System.Formats.Cbor;
using System.Net;
using System.Net.Http.Headers;

namespace Millrace.Server.Tests.Infrastructure;

/// <summary>
/// A raw <c>application/x-amz-cbor-1.1</c> client built on <see cref="CborWriter"/>/<see cref="CborReader"/> only
/// (not on Millrace's codec), encoding the way the AWS Java SDK v1 does: indefinite-length maps, blobs as byte
/// strings, timestamps as tag 1 + integer epoch milliseconds.
/// </summary>
public sealed class KinesisCborClient : IDisposable
{
    public const string ContentType = "application/x-amz-cbor-1.1";

    private readonly HttpClient _http;

    public KinesisCborClient(string endpoint) =>
        _http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = new Uri(endpoint), Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A CBOR timestamp as the Java SDK writes and reads it: tag 1 followed by an integer of milliseconds.</summary>
    public sealed record Timestamp(long EpochMilliseconds);

    public sealed record Response(HttpStatusCode Status, byte[] Body, string? MediaType)
    {
        /// <summary>The decoded body: maps as dictionaries, byte strings as byte[], tag 1 integers as <see cref="Timestamp"/>.</summary>
        public Dictionary<string, object?> Map => Body.Length == 0 ? [] : (Dictionary<string, object?>)Decode(Body)!;

        public string? ErrorType => Map.GetValueOrDefault("__type") as string;

        public string? ErrorMessage => Map.GetValueOrDefault("message") as string;

        public override string ToString() => $"{(int)Status} {MediaType} {Convert.ToHexString(Body)}";
    }

    public Task<Response> CallAsync(string operation, IReadOnlyDictionary<string, object?> body, CancellationToken ct = default) =>
        SendRawAsync(operation, Encode(body), ct);

    public async Task<Response> SendRawAsync(string operation, byte[] body, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202." + operation);
        var now = DateTime.UtcNow;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDTEST/{now:yyyyMMdd}/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={new string('0', 64)}");
        using var response = await _http.SendAsync(request, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return new Response(response.StatusCode, bytes, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Calls an operation and returns its decoded output, failing the test on any error.</summary>
    public async Task<Dictionary<string, object?>> OkAsync(string operation, IReadOnlyDictionary<string, object?> body, CancellationToken ct = default)
    {
        var response = await CallAsync(operation, body, ct);
        if (response.Status != HttpStatusCode.OK || (response.Body.Length > 0 && response.MediaType != ContentType))
        {
            throw new Xunit.Sdk.XunitException($"{operation} failed: {response} {(response.Body.Length > 0 ? response.ErrorType + " " + response.ErrorMessage : "")}");
        }

        return response.Map;
    }

    public void Dispose() => _http.Dispose();

    public static byte[] Encode(IReadOnlyDictionary<string, object?> body)
    {
        var writer = new CborWriter(CborConformanceMode.Lax, convertIndefiniteLengthEncodings: false);
        Write(writer, body);
        return writer.Encode();
    }

    public static object? Decode(byte[] cbor)
    {
        var reader = new CborReader(cbor, CborConformanceMode.Strict);
        var value = Read(reader);
        Assert.Equal(0, reader.BytesRemaining);
        return value;
    }

    private static void Write(CborWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNull();
                break;
            case string s:
                writer.WriteTextString(s);
                break;
            case byte[] b:
                writer.WriteByteString(b);
                break;
            case int i:
                writer.WriteInt32(i);
                break;
            case long l:
                writer.WriteInt64(l);
                break;
            case bool b:
                writer.WriteBoolean(b);
                break;
            case Timestamp t:
                writer.WriteTag(CborTag.UnixTimeSeconds);
                writer.WriteInt64(t.EpochMilliseconds);
                break;
            case IReadOnlyDictionary<string, object?> map:
                writer.WriteStartMap(null);
                foreach (var (key, item) in map)
                {
                    writer.WriteTextString(key);
                    Write(writer, item);
                }

                writer.WriteEndMap();
                break;
            case System.Collections.IEnumerable list:
                writer.WriteStartArray(null);
                foreach (var item in list)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"Cannot encode {value.GetType()}");
        }
    }

    private static object? Read(CborReader reader)
    {
        switch (reader.PeekState())
        {
            case CborReaderState.StartMap:
                reader.ReadStartMap();
                var map = new Dictionary<string, object?>();
                while (reader.PeekState() != CborReaderState.EndMap)
                {
                    var key = reader.ReadTextString();
                    map[key] = Read(reader);
                }

                reader.ReadEndMap();
                return map;
            case CborReaderState.StartArray:
                reader.ReadStartArray();
                var list = new List<object?>();
                while (reader.PeekState() != CborReaderState.EndArray)
                {
                    list.Add(Read(reader));
                }

                reader.ReadEndArray();
                return list;
            case CborReaderState.TextString:
                return reader.ReadTextString();
            case CborReaderState.ByteString:
                return reader.ReadByteString();
            case CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger:
                return reader.ReadInt64();
            case CborReaderState.Boolean:
                return reader.ReadBoolean();
            case CborReaderState.Null:
                reader.ReadNull();
                return null;
            case CborReaderState.Tag:
                Assert.Equal(CborTag.UnixTimeSeconds, reader.ReadTag());
                // The Java SDK reads a long here; a float (kinesalite's form) would break it.
                Assert.Equal(CborReaderState.UnsignedInteger, reader.PeekState());
                return new Timestamp(reader.ReadInt64());
            default:
                throw new Xunit.Sdk.XunitException($"Unexpected CBOR item {reader.PeekState()}");
        }
    }
}
