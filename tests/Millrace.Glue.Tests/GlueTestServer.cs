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
using Millrace.Storage.Catalog;

namespace Millrace.Glue.Tests;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public long NowMs => Now.ToUnixTimeMilliseconds();
}

/// <summary>
/// The Glue service on a real Kestrel at 127.0.0.1:0 behind the one endpoint's router, over a real SQLite store in a
/// scratch directory, with a manual clock. Calls go over HTTP as JSON 1.1 with the AWSGlue target.
/// </summary>
public sealed class GlueTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;

    private GlueTestServer(WebApplication app, Uri endpoint, SqliteCatalogStore store, ManualClock clock, string directory)
    {
        _app = app;
        Store = store;
        Clock = clock;
        Directory = directory;
        _http = new HttpClient { BaseAddress = endpoint };
    }

    public SqliteCatalogStore Store { get; }

    public GlueService Service { get; private init; } = null!;

    public ManualClock Clock { get; }

    public string Directory { get; }

    public static async Task<GlueTestServer> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "millrace-glue-test-" + Guid.NewGuid().ToString("N"));
        var store = SqliteCatalogStore.Open(directory);
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var service = new GlueService(store, new GlueOptions { Region = "us-east-1", AccountId = "123456789012", Clock = clock });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var gateway = new GatewayEndpoint(new ServiceRouter([service.Endpoint]));
        app.Run(gateway.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GlueTestServer(app, new Uri(address), store, clock, directory) { Service = service };
    }

    /// <summary>Calls an operation; returns the HTTP status and the parsed body.</summary>
    public async Task<(HttpStatusCode Status, JsonObject Body)> CallAsync(string operation, JsonObject input)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "AWSGlue." + operation);
        request.Headers.TryAddWithoutValidation("Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/glue/aws4_request, SignedHeaders=host, Signature=00");
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
