using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway.Authentication;

/// <summary>
/// S3's legacy Signature Version 2, which S3 still takes and boto3 still makes for presigned URLs by default: the
/// <c>Authorization: AWS key:signature</c> header or the <c>AWSAccessKeyId</c>/<c>Signature</c>/<c>Expires</c> query,
/// HMAC-SHA1 over the verb, Content-MD5, Content-Type, date (or Expires), the x-amz- headers and the resource with
/// its sub-resources. The expiry of a presigned URL is S3Service's to check.
/// </summary>
internal static class S3SigV2
{
    // The query parameters that are part of the signed resource (the rest are not signed).
    private static readonly HashSet<string> SubResources = new(StringComparer.Ordinal)
    {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website", "select", "select-type",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires",
    };

    public static async Task<ServiceException?> AuthenticateAsync(HttpContext http, IAccessKeys keys, TimeProvider clock)
    {
        var request = http.Request;
        var header = request.Headers.Authorization.ToString();
        string accessKeyId, signature, date;
        bool presigned = header.Length == 0;
        if (presigned)
        {
            accessKeyId = request.Query["AWSAccessKeyId"].ToString();
            signature = request.Query["Signature"].ToString();
            date = request.Query["Expires"].ToString();
        }
        else if (request.Query.ContainsKey("AWSAccessKeyId") || !header.StartsWith("AWS ", StringComparison.Ordinal))
        {
            // Found by fuzzing (sigv4-verify): a query signature next to some other Authorization header.
            return new ServiceException("InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified", 400);
        }
        else
        {
            var credential = header["AWS ".Length..];
            int colon = credential.LastIndexOf(':');
            if (colon <= 0)
            {
                return AuthErrors.Incomplete(AuthErrorStyle.S3, "the Authorization header must be 'AWS AccessKeyId:Signature'.");
            }

            accessKeyId = credential[..colon];
            signature = credential[(colon + 1)..];
            date = request.Headers["x-amz-date"].Count > 0 ? "" : request.Headers.Date.ToString();
            if (!TryParseDate(request.Headers["x-amz-date"].Count > 0 ? request.Headers["x-amz-date"].ToString() : date, out var sent))
            {
                return new ServiceException("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403);
            }

            if ((sent - clock.GetUtcNow()).Duration() > RequestAuthenticator.MaxSkew)
            {
                return AuthErrors.Skewed(AuthErrorStyle.S3, sent, clock.GetUtcNow());
            }
        }

        var key = await keys.FindAsync(accessKeyId, http.RequestAborted);
        if (key is null || !key.Active)
        {
            return AuthErrors.UnknownKey(AuthErrorStyle.S3, accessKeyId);
        }

        var token = presigned ? request.Query["x-amz-security-token"].ToString() : request.Headers["x-amz-security-token"].ToString();
        if ((key.SessionToken ?? "") != token)
        {
            return AuthErrors.BadToken(AuthErrorStyle.S3);
        }

        if (key.Expiration is { } expiration && expiration <= clock.GetUtcNow())
        {
            return AuthErrors.ExpiredToken(AuthErrorStyle.S3);
        }

        var stringToSign = StringToSign(http, date);
        var expected = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(key.SecretAccessKey), Encoding.UTF8.GetBytes(stringToSign)));
        if (!ChunkSignatures.FixedTimeEquals(expected, signature))
        {
            var failure = AuthErrors.Mismatch(AuthErrorStyle.S3, accessKeyId, stringToSign, "", signature);
            failure.Fields?.Remove("CanonicalRequest");
            failure.Fields?.Remove("CanonicalRequestBytes");
            return failure;
        }

        http.Features.Set(key.Caller);
        http.Features.Set(new RequestFacts(http.Connection.RemoteIpAddress?.ToString() ?? "127.0.0.1", request.IsHttps, "us-east-1", clock.GetUtcNow()));
        return null;
    }

    private static string StringToSign(HttpContext http, string date)
    {
        var request = http.Request;
        var sb = new StringBuilder();
        sb.Append(request.Method).Append('\n');
        sb.Append(request.Headers["Content-MD5"].ToString()).Append('\n');
        sb.Append(request.Headers.ContentType.ToString()).Append('\n');
        sb.Append(date).Append('\n');
        foreach (var (name, values) in request.Headers
            .Where(h => h.Key.StartsWith("x-amz-", StringComparison.OrdinalIgnoreCase))
            .Select(h => (Name: h.Key.ToLowerInvariant(), Values: h.Value))
            .OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            sb.Append(name).Append(':').Append(string.Join(',', values.Select(v => v?.Trim()))).Append('\n');
        }

        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.ToUriComponent();
        int q = raw.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? raw : raw[..q];
        if (VirtualHost.BucketOf(request.Host.Host) is { } bucket)
        {
            path = "/" + bucket + path;
        }

        sb.Append(path);
        var signed = request.Query.Where(p => SubResources.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        for (int i = 0; i < signed.Count; i++)
        {
            sb.Append(i == 0 ? '?' : '&').Append(signed[i].Key);
            if (signed[i].Value.ToString() is { Length: > 0 } value)
            {
                sb.Append('=').Append(value);
            }
        }

        return sb.ToString();
    }

    private static bool TryParseDate(string text, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(text, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time)
        || DateTimeOffset.TryParseExact(text, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
}
