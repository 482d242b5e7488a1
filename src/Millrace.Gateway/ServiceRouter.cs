using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace Millrace.Gateway;

/// <summary>
/// Picks the service of a request in the order that is cheapest for the hot path and matches how AWS's front
/// ends tell services apart: the X-Amz-Target prefix, the smithy rpc-v2-cbor path, the SigV4 credential scope
/// (Authorization header or presigned X-Amz-Credential), a REST path prefix, a virtual-hosted bucket, and last the
/// object-storage service for REST verbs. Null means no service matches.
/// </summary>
public sealed class ServiceRouter
{
    private readonly FrozenDictionary<string, IAwsService> _byTarget;
    private readonly FrozenDictionary<string, IAwsService> _bySmithyName;
    private readonly FrozenDictionary<string, IAwsService> _bySigningName;
    private readonly (string Prefix, IAwsService Service)[] _byPath;
    private readonly IAwsService? _jsonDefault;
    private readonly IAwsService? _objectStorage;
    // The first target prefix registered (Kinesis): compared before any dictionary lookup.
    private readonly string? _fastTarget;
    private readonly IAwsService? _fastService;

    public ServiceRouter(IEnumerable<IAwsService> services)
    {
        Services = [.. services];
        var byTarget = new Dictionary<string, IAwsService>(StringComparer.Ordinal);
        var bySmithy = new Dictionary<string, IAwsService>(StringComparer.Ordinal);
        var bySigning = new Dictionary<string, IAwsService>(StringComparer.Ordinal);
        var byPath = new List<(string, IAwsService)>();
        foreach (var service in Services)
        {
            foreach (var prefix in service.Routes.TargetPrefixes)
            {
                byTarget.Add(prefix, service);
                if (_fastTarget is null)
                {
                    _fastTarget = prefix + ".";
                    _fastService = service;
                }
            }

            foreach (var name in service.Routes.SmithyServiceNames)
            {
                bySmithy.Add(name, service);
            }

            bySigning.TryAdd(service.Name, service);
            foreach (var name in service.Routes.SigningNames)
            {
                bySigning[name] = service;
            }

            foreach (var path in service.Routes.PathPrefixes)
            {
                byPath.Add((path, service));
            }

            if (service.Routes.DefaultForJsonPosts)
            {
                _jsonDefault ??= service;
            }

            if (service.Routes.ObjectStorage)
            {
                _objectStorage ??= service;
            }
        }

        _byTarget = byTarget.ToFrozenDictionary(StringComparer.Ordinal);
        _bySmithyName = bySmithy.ToFrozenDictionary(StringComparer.Ordinal);
        _bySigningName = bySigning.ToFrozenDictionary(StringComparer.Ordinal);
        _byPath = [.. byPath.OrderByDescending(p => p.Item1.Length)];
    }

    public IReadOnlyList<IAwsService> Services { get; }

    public IAwsService? Route(HttpRequest request)
    {
        var headers = request.Headers;
        var target = headers["X-Amz-Target"];
        if (target.Count > 0)
        {
            var value = target[0] ?? "";
            if (_fastTarget is not null && value.StartsWith(_fastTarget, StringComparison.Ordinal))
            {
                return _fastService;
            }

            int dot = value.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && _byTarget.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(value.AsSpan(0, dot), out var byTarget))
            {
                return byTarget;
            }

            return _jsonDefault is not null && IsJsonPost(request) ? _jsonDefault : null;
        }

        if (headers.ContainsKey("smithy-protocol"))
        {
            return SmithyService(request.Path.Value);
        }

        if (SigningName(request) is { } signingName && _bySigningName.TryGetValue(signingName, out var bySignature))
        {
            return bySignature;
        }

        var path = request.Path.Value ?? "/";
        foreach (var (prefix, service) in _byPath)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] is '/' or '?'))
            {
                return service;
            }
        }

        if (_objectStorage is not null && (VirtualHost.BucketOf(request.Host.Host) is not null || IsObjectStorageShape(request)))
        {
            return _objectStorage;
        }

        return _jsonDefault is not null && IsJsonPost(request) ? _jsonDefault : null;
    }

    private IAwsService? SmithyService(string? path)
    {
        // /service/<name>/operation/<op>
        const string Prefix = "/service/";
        if (path is null || !path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        int end = path.IndexOf('/', Prefix.Length);
        if (end < 0)
        {
            return null;
        }

        return _bySmithyName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(path.AsSpan(Prefix.Length, end - Prefix.Length), out var service) ? service : null;
    }

    /// <summary>The service of the SigV4 credential scope: <c>Credential=key/date/region/service/aws4_request</c>.</summary>
    public static string? SigningName(HttpRequest request)
    {
        var authorization = request.Headers.Authorization;
        string? credential = null;
        if (authorization.Count > 0 && authorization[0] is { } header)
        {
            int at = header.IndexOf("Credential=", StringComparison.Ordinal);
            if (at >= 0)
            {
                int end = header.IndexOfAny([',', ' '], at);
                credential = end < 0 ? header[(at + 11)..] : header[(at + 11)..end];
            }
        }
        else if (request.Query.TryGetValue("X-Amz-Credential", out var query))
        {
            credential = query.ToString();
        }

        if (credential is null)
        {
            return null;
        }

        // key/date/region/service/aws4_request: the service is the fourth part.
        var parts = credential.Split('/');
        return parts.Length >= 5 ? parts[^2] : null;
    }

    private static bool IsJsonPost(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && (request.ContentType ?? "").StartsWith("application/", StringComparison.Ordinal)
        && (request.ContentType!.Contains("json", StringComparison.Ordinal) || request.ContentType.Contains("cbor", StringComparison.Ordinal));

    private static bool IsObjectStorageShape(HttpRequest request)
    {
        var method = request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsPut(method) || HttpMethods.IsHead(method) || HttpMethods.IsDelete(method))
        {
            return true;
        }

        // POST: multipart create/complete (?uploads, ?uploadId), DeleteObjects (?delete), browser form uploads.
        if (!HttpMethods.IsPost(method))
        {
            return false;
        }

        var query = request.Query;
        return query.ContainsKey("uploads") || query.ContainsKey("uploadId") || query.ContainsKey("delete") || query.ContainsKey("restore") || query.ContainsKey("select")
            || (request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.Ordinal);
    }
}
