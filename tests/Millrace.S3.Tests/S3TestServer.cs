using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Storage.Objects;

namespace Millrace.S3.Tests;

/// <summary>A settable clock for presigned-URL expiry.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Records the object events the service emits.</summary>
internal sealed class RecordingSink : IObjectEventSink
{
    private readonly List<ObjectEvent> _events = [];

    public IReadOnlyList<ObjectEvent> Events { get { lock (_events) { return [.. _events]; } } }

    public ValueTask OnObjectEventAsync(ObjectEvent objectEvent, CancellationToken ct = default)
    {
        lock (_events)
        {
            _events.Add(objectEvent);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The S3 service in-process on Kestrel (127.0.0.1, an ephemeral port) over a FileObjectStore in a temp directory
/// (or the in-memory store when the file store is not available in this build).
/// </summary>
internal sealed class S3TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private S3TestServer(WebApplication app, string directory, S3Service service, Uri address, ManualClock clock, RecordingSink sink)
    {
        _app = app;
        _directory = directory;
        Service = service;
        Address = address;
        Clock = clock;
        Sink = sink;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public S3Service Service { get; }

    public Uri Address { get; }

    public int Port => Address.Port;

    public ManualClock Clock { get; }

    public RecordingSink Sink { get; }

    public HttpClient Client { get; }

    public static async Task<S3TestServer> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "millrace-s3-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var store = await FileObjectStore.OpenAsync(new ObjectStoreOptions { DataDirectory = Path.Combine(directory, "s3"), Clock = clock });

        var sink = new RecordingSink();
        var service = new S3Service(store, new S3Options { Clock = clock, Events = sink });
        return await StartWithAsync(service, directory, clock, sink);
    }

    /// <summary>Hosts a given service (its own store) on Kestrel.</summary>
    public static async Task<S3TestServer> StartWithAsync(S3Service service, string? directory = null, ManualClock? clock = null, RecordingSink? sink = null)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "millrace-s3-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        clock ??= new ManualClock(DateTimeOffset.UtcNow);
        sink ??= new RecordingSink();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.Run(service.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new S3TestServer(app, directory, service, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)), clock, sink);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, HttpContent? content = null, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, pathAndQuery) { Content = content };
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return await Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> PutAsync(string path, byte[] body, params (string Name, string Value)[] headers) =>
        SendAsync(HttpMethod.Put, path, new ByteArrayContent(body), headers);

    public Task<HttpResponseMessage> PutAsync(string path, string body, params (string Name, string Value)[] headers) =>
        PutAsync(path, Encoding.UTF8.GetBytes(body), headers);

    public Task<HttpResponseMessage> GetAsync(string path, params (string Name, string Value)[] headers) =>
        SendAsync(HttpMethod.Get, path, null, headers);

    public async Task CreateBucketAsync(string bucket)
    {
        using var response = await SendAsync(HttpMethod.Put, "/" + bucket);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Sends an exact request over a socket (no client-side normalisation) and reads the response.</summary>
    public async Task<RawResponse> RawAsync(string requestHead, byte[]? body = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requestHead));
        if (body is not null)
        {
            await stream.WriteAsync(body);
        }

        await stream.FlushAsync();
        return await RawResponse.ReadAsync(stream);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Service.Store.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public static async Task<RawResponse> ReadAsync(Stream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        // Headers, byte by byte up to CRLFCRLF (bounded).
        while (buffer.Count < 64 * 1024)
        {
            int n = await stream.ReadAsync(one);
            if (n == 0)
            {
                break;
            }

            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^1] == '\n' && buffer[^2] == '\r' && buffer[^3] == '\n' && buffer[^4] == '\r')
            {
                break;
            }
        }

        var head = Encoding.ASCII.GetString([.. buffer]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        int status = int.Parse(head[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var body = Array.Empty<byte>();
        if (headers.TryGetValue("Content-Length", out var lengthText) && int.TryParse(lengthText, out int length) && length > 0)
        {
            body = new byte[length];
            await stream.ReadExactlyAsync(body);
        }

        return new RawResponse(status, headers, body);
    }
}

internal static class Xml
{
    public static readonly XNamespace S3 = "http://s3.amazonaws.com/doc/2006-03-01/";

    public static async Task<XElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return XElement.Parse(text);
    }

    public static string? Value(this XElement element, string name) => element.Element(S3 + name)?.Value ?? element.Element(name)?.Value;

    public static IEnumerable<XElement> All(this XElement element, string name) => element.Elements(S3 + name).Concat(element.Elements(name));

    public static async Task<(string Code, XElement Error)> ErrorAsync(HttpResponseMessage response)
    {
        var error = await ReadAsync(response);
        Assert.Equal("Error", error.Name.LocalName);
        Assert.NotNull(error.Element("RequestId"));
        Assert.NotNull(error.Element("HostId"));
        Assert.True(response.Headers.Contains("x-amz-request-id"));
        Assert.True(response.Headers.Contains("x-amz-id-2"));
        return (error.Element("Code")!.Value, error);
    }
}
