using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway;

/// <summary>
/// A service declared by its operations: the AWS model (embedded in Millrace.Protocol) supplies routing, parsing,
/// validation and serialization for every protocol the model lists; the service supplies one handler per operation.
/// Operations without a handler answer the protocol's unknown-operation error.
/// </summary>
/// <example>
/// <code>
/// var sts = new ModelService("sts", new Dictionary&lt;string, OperationHandler&gt;
/// {
///     ["GetCallerIdentity"] = (input, ctx) =&gt; Task.FromResult&lt;JsonObject?&gt;(new JsonObject
///     {
///         ["Account"] = "000000000000", ["Arn"] = "arn:aws:iam::000000000000:root", ["UserId"] = "AKID",
///     }),
/// });
/// </code>
/// </example>
public sealed class ModelService : IAwsService
{
    /// <summary>Request bodies above this size are refused (413).</summary>
    public const int MaxBodyBytes = 64 * 1024 * 1024;

    public ModelService(string modelName, IReadOnlyDictionary<string, OperationHandler>? handlers = null, ModelServiceOptions? options = null)
        : this(ServiceModel.Get(modelName), handlers, options)
    {
    }

    public ModelService(ServiceModel model, IReadOnlyDictionary<string, OperationHandler>? handlers = null, ModelServiceOptions? options = null)
    {
        Dispatcher = new ModelDispatcher(model, handlers ?? new Dictionary<string, OperationHandler>(), options);
        Routes = RoutesOf(model);
    }

    public ModelDispatcher Dispatcher { get; }

    public ServiceModel Model => Dispatcher.Model;

    public string Name => Model.SigningName;

    public ServiceRoutes Routes { get; }

    /// <summary>Adds an asynchronous handler (before serving).</summary>
    public ModelService OnAsync(string operation, OperationHandler handler)
    {
        Dispatcher.Register(operation, handler);
        return this;
    }

    /// <summary>Adds a synchronous handler (before serving).</summary>
    public ModelService On(string operation, Func<JsonObject, OperationContext, JsonObject?> handler) =>
        OnAsync(operation, (input, ctx) => Task.FromResult(handler(input, ctx)));

    /// <summary>
    /// The routes a model implies: its X-Amz-Target prefix (JSON), its rpc-v2-cbor service name, its signing names and,
    /// for rest-json, the literal path prefixes of its request URIs (e.g. <c>/2015-03-31/functions</c>).
    /// </summary>
    public static ServiceRoutes RoutesOf(ServiceModel model)
    {
        var protocols = model.Protocols;
        var targets = protocols.Contains(ProtocolCodec.Json) && model.TargetPrefix is { } prefix ? new[] { prefix } : [];
        var smithy = protocols.Contains(ProtocolCodec.RpcV2Cbor) ? new[] { new RpcV2CborCodec(model).ServiceName } : [];
        var signing = new List<string> { model.SigningName };
        if (model.EndpointPrefix.Length > 0 && model.EndpointPrefix != model.SigningName)
        {
            signing.Add(model.EndpointPrefix);
        }

        var paths = new List<string>();
        if (protocols.Contains(ProtocolCodec.RestJson))
        {
            var all = model.Operations.Values.Select(o => o.LiteralPathPrefix).Where(p => p.Length > 1).Distinct(StringComparer.Ordinal).ToList();
            paths.AddRange(all.Where(p => !all.Any(q => q != p && p.StartsWith(q + "/", StringComparison.Ordinal))).Order(StringComparer.Ordinal));
        }

        var errors = protocols.All(p => p == ProtocolCodec.Query) ? AuthErrorStyle.Query
            : protocols.Contains(ProtocolCodec.RestJson) ? AuthErrorStyle.RestJson : AuthErrorStyle.AwsJson;
        return new ServiceRoutes { TargetPrefixes = targets, SmithyServiceNames = smithy, SigningNames = signing, PathPrefixes = paths, AuthErrors = errors };
    }

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        if (request.ContentLength > MaxBodyBytes)
        {
            response.StatusCode = 413;
            return;
        }

        ProtocolResponse result;
        byte[]? pooled = null;
        try
        {
            try
            {
                ProtocolRequest protocolRequest;
                if (Dispatcher.Options.PooledRequestBodies && request.ContentLength is long length and > 0 && !request.Headers.ContainsKey("Content-Encoding"))
                {
                    pooled = System.Buffers.ArrayPool<byte>.Shared.Rent((int)length);
                    await request.Body.ReadExactlyAsync(pooled.AsMemory(0, (int)length), http.RequestAborted);
                    protocolRequest = ToProtocolRequest(http, pooled.AsMemory(0, (int)length));
                }
                else
                {
                    protocolRequest = await ToProtocolRequestAsync(http);
                }

                result = await Dispatcher.DispatchAsync(protocolRequest, http.RequestAborted);
            }
            finally
            {
                if (pooled is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
                }
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (EndOfStreamException)
        {
            // The client sent less than its Content-Length.
            response.StatusCode = 400;
            return;
        }
        catch (InvalidDataException)
        {
            // A body that claims gzip and is not.
            response.StatusCode = 400;
            return;
        }

        response.StatusCode = result.Status;
        foreach (var (name, value) in result.Headers)
        {
            response.Headers[name] = value;
        }

        // HEAD keeps a Content-Length the operation bound (HeadObject's object size); everything else sends its body.
        if (!(HttpMethods.IsHead(request.Method) && result.Headers.ContainsKey("Content-Length")))
        {
            response.ContentLength = result.Body.Length;
        }

        if (!HttpMethods.IsHead(request.Method) && result.Body.Length > 0)
        {
            await response.Body.WriteAsync(result.Body, http.RequestAborted);
        }
    }

    /// <inheritdoc/>
    public async Task WriteErrorAsync(HttpContext http, ServiceException error)
    {
        var request = ToProtocolRequest(http, ReadOnlyMemory<byte>.Empty);
        var codec = Dispatcher.PickCodec(request);
        var operation = codec.ResolveOperation(request, out _);
        var result = codec.WriteError(operation, request, error, Dispatcher.Options.RequestIds());
        var response = http.Response;
        response.StatusCode = result.Status;
        foreach (var (name, value) in result.Headers)
        {
            response.Headers[name] = value;
        }

        response.ContentLength = result.Body.Length;
        if (!HttpMethods.IsHead(http.Request.Method) && result.Body.Length > 0)
        {
            await response.Body.WriteAsync(result.Body, http.RequestAborted);
        }
    }

    /// <summary>The transport-neutral view of an ASP.NET request: raw path, decoded query, headers, whole body (gunzipped).</summary>
    public static async Task<ProtocolRequest> ToProtocolRequestAsync(HttpContext http)
    {
        var request = http.Request;

        // Sized from Content-Length and not copied again: data-plane bodies are megabytes.
        var buffer = new MemoryStream(request.ContentLength is long n and > 0 and <= MaxBodyBytes ? (int)n : 0);
        await request.Body.CopyToAsync(buffer, http.RequestAborted);
        ReadOnlyMemory<byte> body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase) && body.Length > 0)
        {
            using var gzip = new GZipStream(new MemoryStream(buffer.GetBuffer(), 0, (int)buffer.Length), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            await gzip.CopyToAsync(plain, http.RequestAborted);
            body = plain.ToArray();
        }

        return ToProtocolRequest(http, body);
    }

    /// <summary>The request as the protocol layer sees it, with <paramref name="body"/>; <paramref name="pathOverride"/>
    /// replaces the path (a virtual-hosted S3 request seen in path style).</summary>
    public static ProtocolRequest ToProtocolRequest(HttpContext http, ReadOnlyMemory<byte> body, string? pathOverride = null)
    {
        var request = http.Request;
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        string path;
        if (pathOverride is not null)
        {
            path = pathOverride;
        }
        else if (!string.IsNullOrEmpty(raw) && raw[0] == '/')
        {
            var q = raw.IndexOf('?', StringComparison.Ordinal);
            path = q < 0 ? raw : raw[..q];
        }
        else
        {
            path = request.PathBase.Add(request.Path).ToUriComponent();
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name] = values.ToString();
        }

        return new ProtocolRequest
        {
            Method = request.Method,
            Path = path,
            Query = ProtocolRequest.ParseQuery(request.QueryString.Value),
            Headers = headers,
            Body = body,
            Caller = http.Features.Get<CallerIdentity>(),
            Facts = http.Features.Get<RequestFacts>(),
        };
    }
}
