using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Millrace.Lambda.Runtime;

/// <summary>
/// The Lambda Runtime API (<c>/2018-06-01/runtime/...</c>) for every execution environment. A runtime knows only
/// <c>AWS_LAMBDA_RUNTIME_API=host:port</c>, so each environment gets a port of its own: the host listens on one
/// loopback port per slot (the server-wide concurrency) and tells environments apart by the port a request came in on.
/// </summary>
internal sealed class RuntimeApiHost : IAsyncDisposable
{
    private const string Base = "/2018-06-01/runtime";
    private const int MaxResponseBytes = 6 * 1024 * 1024;

    private readonly WebApplication _app;
    private readonly ConcurrentBag<int> _free;
    private readonly ConcurrentDictionary<int, ExecutionEnvironment> _bound = new();

    private RuntimeApiHost(WebApplication app, IReadOnlyList<int> ports)
    {
        _app = app;
        Ports = ports;
        _free = new ConcurrentBag<int>(ports);
    }

    public IReadOnlyList<int> Ports { get; }

    public static async Task<RuntimeApiHost> StartAsync(int slots, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxResponseBytes + (1024 * 1024);
            k.AddServerHeader = false;
            for (var i = 0; i < slots; i++)
            {
                k.Listen(IPAddress.Loopback, 0);
            }
        });
        var app = builder.Build();
        RuntimeApiHost? host = null;
        app.Run(ctx => host!.HandleAsync(ctx));
        await app.StartAsync(ct);
        var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).ToList();
        host = new RuntimeApiHost(app, ports);
        return host;
    }

    /// <summary>Takes a free port for a new environment, or none when every slot is in use.</summary>
    public bool TryRent(out int port) => _free.TryTake(out port);

    public void Bind(int port, ExecutionEnvironment environment) => _bound[port] = environment;

    public void Return(int port)
    {
        if (_bound.TryRemove(port, out _))
        {
            _free.Add(port);
        }
    }

    public int FreeSlots => _free.Count;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        if (!_bound.TryGetValue(ctx.Connection.LocalPort, out var env) || env.IsDead)
        {
            await ErrorAsync(ctx, 403, "InvalidRuntimeEnvironment", "No execution environment owns this Runtime API endpoint.");
            return;
        }

        var path = ctx.Request.Path.Value ?? "";
        var method = ctx.Request.Method;
        if (method == "GET" && path == Base + "/invocation/next")
        {
            Invocation invocation;
            try
            {
                invocation = await env.NextAsync(ctx.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                return;
            }

            var headers = ctx.Response.Headers;
            headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
            headers["Lambda-Runtime-Deadline-Ms"] = invocation.DeadlineMs.ToString(CultureInfo.InvariantCulture);
            headers["Lambda-Runtime-Invoked-Function-Arn"] = invocation.InvokedArn;
            headers["Lambda-Runtime-Trace-Id"] = $"Root=1-{invocation.DeadlineMs / 1000:x8}-{invocation.RequestId.Replace("-", "", StringComparison.Ordinal)[..24]};Sampled=0";
            if (invocation.ClientContext is { } clientContext)
            {
                headers["Lambda-Runtime-Client-Context"] = clientContext;
            }

            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength = invocation.Payload.Length;
            await ctx.Response.Body.WriteAsync(invocation.Payload, ctx.RequestAborted);
            return;
        }

        if (method == "POST" && path.StartsWith(Base + "/invocation/", StringComparison.Ordinal))
        {
            var rest = path[(Base.Length + "/invocation/".Length)..];
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && rest[(slash + 1)..] is "response" or "error")
            {
                var requestId = rest[..slash];
                var body = await ReadBodyAsync(ctx);
                bool accepted;
                if (rest.EndsWith("/error", StringComparison.Ordinal))
                {
                    accepted = env.Fail(requestId, body ?? [], ctx.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault());
                }
                else if (body is null)
                {
                    accepted = env.Fail(requestId, Encoding.UTF8.GetBytes(
                        $"{{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size ({MaxResponseBytes} bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}}"),
                        "Function.ResponseSizeTooLarge");
                    await ErrorAsync(ctx, 413, "RequestEntityTooLarge", "Response payload size exceeded maximum allowed payload size.");
                    return;
                }
                else
                {
                    accepted = env.Respond(requestId, body);
                }

                if (!accepted)
                {
                    await ErrorAsync(ctx, 400, "InvalidRequestID", $"Invalid request ID: {requestId}");
                    return;
                }

                await AcceptedAsync(ctx);
                return;
            }
        }

        if (method == "POST" && path == Base + "/init/error")
        {
            env.InitFailed(await ReadBodyAsync(ctx) ?? [], ctx.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault());
            await AcceptedAsync(ctx);
            return;
        }

        await ErrorAsync(ctx, 404, "InvalidRequest", $"No Runtime API route for {method} {path}");
    }

    /// <summary>The body, or null when it is over the 6 MB response limit.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext ctx)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await ctx.Request.Body.ReadAsync(chunk, ctx.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static Task AcceptedAsync(HttpContext ctx)
    {
        ctx.Response.StatusCode = 202;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync("{\"status\":\"OK\"}");
    }

    private static Task ErrorAsync(HttpContext ctx, int status, string type, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["errorMessage"] = message, ["errorType"] = type }));
    }
}
