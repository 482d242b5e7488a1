using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Gateway;

namespace Millrace.Tests.Shared;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public long NowMs => Now.ToUnixTimeMilliseconds();
}

/// <summary>
/// A JSON-protocol service on a real Kestrel at 127.0.0.1:0 behind the one endpoint's router, over a real store in a
/// scratch directory, with a manual clock. Calls go over HTTP as JSON 1.1 with the service's target prefix.
/// Compiled into the service test projects that need it (Logs, Glue), which do not reference the whole server.
/// </summary>
public sealed class JsonServiceTestServer<TStore, TService> : IAsyncDisposable
    where TStore : IDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;
    private readonly string _target;
    private readonly string _signingName;

    private JsonServiceTestServer(WebApplication app, Uri endpoint, TStore store, TService service, ManualClock clock, string directory, string target, string signingName)
    {
        _app = app;
        Store = store;
        Service = service;
        Clock = clock;
        Directory = directory;
        _target = target;
        _signingName = signingName;
        _http = new HttpClient { BaseAddress = endpoint };
    }

    public TStore Store { get; }

    public TService Service { get; }

    public ManualClock Clock { get; }

    public string Directory { get; }

    /// <param name="name">the service's signing name (logs, glue), also in the scratch directory's name</param>
    /// <param name="target">the X-Amz-Target prefix (Logs_20140328, AWSGlue)</param>
    /// <param name="open">opens the store in a directory</param>
    /// <param name="create">builds the service over the store and the clock, and says which endpoint serves it</param>
    public static async Task<JsonServiceTestServer<TStore, TService>> StartAsync(string name, string target, Func<string, TStore> open,
        Func<TStore, ManualClock, (TService Service, IAwsService Endpoint)> create)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"millrace-{name}-test-" + Guid.NewGuid().ToString("N"));
        var store = open(directory);
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var (service, endpoint) = create(store, clock);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var gateway = new GatewayEndpoint(new ServiceRouter([endpoint]));
        app.Run(gateway.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new JsonServiceTestServer<TStore, TService>(app, new Uri(address), store, service, clock, directory, target, name);
    }

    /// <summary>Calls an operation; returns the HTTP status and the parsed body.</summary>
    public async Task<(HttpStatusCode Status, JsonObject Body)> CallAsync(string operation, JsonObject input)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", _target + "." + operation);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/{_signingName}/aws4_request, SignedHeaders=host, Signature=00");
        request.Content = new StringContent(input.ToJsonString(), Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Calls an operation that must succeed.</summary>
    public async Task<JsonObject> OkAsync(string operation, JsonObject input)
    {
        var (status, body) = await CallAsync(operation, input);
        Assert.True(status == HttpStatusCode.OK, $"{operation} answered {(int)status}: {body.ToJsonString()}");
        return body;
    }

    /// <summary>Calls an operation that must fail; returns the error type (without namespace) and message.</summary>
    public async Task<(int Status, string Type, string Message)> ErrorAsync(string operation, JsonObject input)
    {
        var (status, body) = await CallAsync(operation, input);
        Assert.True(status != HttpStatusCode.OK, $"{operation} should have failed: {body.ToJsonString()}");
        var type = body["__type"]!.GetValue<string>();
        return ((int)status, type[(type.LastIndexOf('#') + 1)..], body["message"]?.GetValue<string>() ?? string.Empty);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
