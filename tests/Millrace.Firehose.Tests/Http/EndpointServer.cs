using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Millrace.Firehose.Tests.Http;

/// <summary>One request as the endpoint saw it: headers and the raw (possibly gzip'd) body.</summary>
internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>A real Kestrel HTTP endpoint on 127.0.0.1 and a free port that records every request.</summary>
internal sealed class EndpointServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EndpointServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Starts a server; <paramref name="respond"/> gets the request and its 0-based index.</summary>
    public static async Task<EndpointServer> StartAsync(Func<HttpContext, RecordedRequest, int, Task> respond)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        EndpointServer? server = null;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var recorded = new RecordedRequest(context.Request.Method, context.Request.Path, headers, body.ToArray());
            server!.Requests.Enqueue(recorded);
            await respond(context, recorded, server.Requests.Count - 1);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new EndpointServer(app, address.TrimEnd('/') + "/ingest?token=abc");
        return server;
    }

    /// <summary>Answers with a status and an exact JSON body.</summary>
    public static async Task Reply(HttpContext context, int status, string json, string contentType = "application/json")
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes);
    }

    /// <summary>The conforming success response for the recorded request.</summary>
    public static Task Ok(HttpContext context, RecordedRequest request) =>
        Reply(context, 200, $$"""{"requestId":"{{request.Header("X-Amz-Firehose-Request-Id")}}","timestamp":1700000000123}""");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A clock that stands still until something sleeps on it, then jumps forward by the sleep and fires at once: backoff
/// runs in no real time and the deadline arithmetic is exact.
/// </summary>
internal sealed class SkippingClock(DateTimeOffset start) : TimeProvider
{
    private readonly object _gate = new();
    private DateTimeOffset _now = start;

    public List<TimeSpan> Sleeps { get; } = [];

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private void Advance(TimeSpan by)
    {
        lock (_gate)
        {
            _now += by;
            Sleeps.Add(by);
        }
    }

    private sealed class Timer(SkippingClock clock, TimerCallback callback, object? state) : ITimer
    {
        private bool _fired;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == Timeout.InfiniteTimeSpan || _fired)
            {
                return true;
            }

            _fired = true;
            clock.Advance(dueTime);
            // Fired off the caller's stack: Task.Delay may still be constructing when its timer is created.
            ThreadPool.QueueUserWorkItem(_ => callback(state));
            return true;
        }

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
