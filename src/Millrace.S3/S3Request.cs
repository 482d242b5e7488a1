using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Millrace.S3;

/// <summary>One S3 request: the bucket and key (from the Host or the path), the query and the request id.</summary>
internal sealed class S3Request
{
    public required HttpContext Http { get; init; }

    public required string RequestId { get; init; }

    /// <summary>The bucket, or null for service-level requests (ListBuckets).</summary>
    public string? Bucket { get; init; }

    /// <summary>The key, or null for bucket-level requests.</summary>
    public string? Key { get; init; }

    /// <summary>True when the bucket came from the Host (virtual-hosted style).</summary>
    public bool VirtualHosted { get; init; }

    public HttpRequest Request => Http.Request;

    public HttpResponse Response => Http.Response;

    public IQueryCollection Query => Http.Request.Query;

    public IHeaderDictionary Headers => Http.Request.Headers;

    public CancellationToken Aborted => Http.RequestAborted;

    public string Method => Http.Request.Method;

    public bool IsHead => HttpMethods.IsHead(Http.Request.Method);

    public string? Header(string name)
    {
        var values = Http.Request.Headers[name];
        return values.Count == 0 ? null : values.ToString();
    }

    public string? QueryValue(string name) => Http.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null;

    public bool Has(string queryName) => Http.Request.Query.ContainsKey(queryName);

    /// <summary>The resource as S3 names it in errors: <c>/bucket/key</c>.</summary>
    public string Resource => Bucket is null ? "/" : Key is null ? "/" + Bucket : "/" + Bucket + "/" + Key;

    public string RequireBucket() => Bucket ?? throw S3Errors.MethodNotAllowed(Method, "SERVICE");

    public string RequireKey() => Key ?? throw S3Errors.MethodNotAllowed(Method, "BUCKET");

    public static S3Request Parse(HttpContext http, string requestId)
    {
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        string path;
        if (string.IsNullOrEmpty(raw))
        {
            path = http.Request.PathBase.Value + http.Request.Path.Value;
        }
        else
        {
            int q = raw.IndexOf('?', StringComparison.Ordinal);
            path = q >= 0 ? raw[..q] : raw;
            if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                // absolute-form: drop the scheme and authority.
                int slash = path.IndexOf('/', path.IndexOf("//", StringComparison.Ordinal) + 2);
                path = slash < 0 ? "/" : path[slash..];
            }
        }

        if (path.Length == 0 || path[0] != '/')
        {
            path = "/" + path;
        }

        var hostBucket = Millrace.Gateway.VirtualHost.BucketOf(http.Request.Host.Host);
        if (hostBucket is not null)
        {
            var key = path.Length > 1 ? Decode(path[1..]) : null;
            return new S3Request { Http = http, RequestId = requestId, Bucket = hostBucket, Key = key, VirtualHosted = true };
        }

        if (path.Length == 1)
        {
            return new S3Request { Http = http, RequestId = requestId };
        }

        int end = path.IndexOf('/', 1);
        var bucket = Decode(end < 0 ? path[1..] : path[1..end]);
        string? objectKey = end < 0 || end == path.Length - 1 ? null : Decode(path[(end + 1)..]);
        return new S3Request { Http = http, RequestId = requestId, Bucket = bucket, Key = objectKey };
    }

    /// <summary>Percent-decodes a path segment as UTF-8 (a '+' stays a '+').</summary>
    public static string Decode(string value) => value.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(value) : value;

    /// <summary>Rejects keys over 1024 UTF-8 bytes.</summary>
    public static void CheckKey(string key)
    {
        int bytes = Encoding.UTF8.GetByteCount(key);
        if (bytes > S3Limits.MaxKeyBytes)
        {
            throw S3Errors.KeyTooLong(bytes);
        }
    }
}
