using System.Globalization;
using Millrace.Protocol.Auth;

namespace Millrace.Client.Auth;

/// <summary>The parts of one signature: what was signed and the resulting Authorization header.</summary>
public sealed record SigV4Signature(string CanonicalRequest, string StringToSign, string SignedHeaders, string Authorization);

/// <summary>AWS Signature Version 4 for HTTP requests with a body held in memory (the JSON protocols). Checked
/// against AWS's published test suite (tests/Millrace.Client.Tests/SigV4TestSuite).</summary>
public static class SigV4Signer
{
    public const string Algorithm = SigV4Canonical.Algorithm;

    // Headers a proxy or the HTTP stack may rewrite; signing them would break the signature.
    private static readonly HashSet<string> Unsigned = new(StringComparer.OrdinalIgnoreCase)
    {
        "authorization", "user-agent", "expect", "connection", "transfer-encoding", "content-length", "keep-alive",
        "proxy-connection", "te", "upgrade",
    };

    /// <summary>Adds X-Amz-Date, X-Amz-Security-Token (if any) and Authorization to <paramref name="request"/>.
    /// Signs host and every other header present (content-type, x-amz-*).</summary>
    public static SigV4Signature Sign(HttpRequestMessage request, ReadOnlySpan<byte> body, AwsCredentials credentials, string region,
        string service, DateTimeOffset now)
    {
        var amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        request.Headers.Remove("X-Amz-Date");
        request.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        request.Headers.Remove("X-Amz-Security-Token");
        if (credentials.SessionToken is { } token)
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", token);
        request.Headers.Remove("Authorization");

        var uri = request.RequestUri ?? throw new InvalidOperationException("request has no URI");
        var headers = new List<KeyValuePair<string, string>>(8)
        {
            new("host", uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port}"),
        };
        foreach (var header in request.Headers.NonValidated)
            foreach (var value in header.Value)
                headers.Add(new(header.Key, value));
        if (request.Content is not null)
            foreach (var header in request.Content.Headers.NonValidated)
                foreach (var value in header.Value)
                    headers.Add(new(header.Key, value));

        var signature = Compute(request.Method.Method, uri.AbsolutePath, uri.Query, headers, PayloadHash(body), credentials, region, service, amzDate);
        request.Headers.TryAddWithoutValidation("Authorization", signature.Authorization);
        return signature;
    }

    /// <summary>Hex SHA-256 of the payload.</summary>
    public static string PayloadHash(ReadOnlySpan<byte> body) => SigV4Canonical.PayloadHash(body);

    /// <summary>The signature of a request given as it goes on the wire: <paramref name="path"/> and
    /// <paramref name="query"/> (with or without '?') as sent, the headers in order (the date header
    /// <c>X-Amz-Date</c> and any token among them), and the payload's hex SHA-256.</summary>
    public static SigV4Signature Compute(string method, string path, string query, IEnumerable<KeyValuePair<string, string>> headers,
        string payloadHash, AwsCredentials credentials, string region, string service, string amzDate)
    {
        var signed = SigV4Canonical.Compute(method, path, query, headers.Where(h => !Unsigned.Contains(h.Key)), payloadHash,
            SigningKey(credentials.SecretAccessKey, amzDate[..8], region, service), amzDate, region, service);
        return new SigV4Signature(signed.CanonicalRequest, signed.StringToSign, signed.SignedHeaders,
            $"{Algorithm} Credential={credentials.AccessKeyId}/{signed.Scope}, SignedHeaders={signed.SignedHeaders}, Signature={signed.Signature}");
    }

    /// <summary>The derived key: HMAC chain over date, region, service and "aws4_request".</summary>
    public static byte[] SigningKey(string secretAccessKey, string date, string region, string service) =>
        SigV4Canonical.SigningKey(secretAccessKey, date, region, service);

    /// <summary>RFC 3986 encoding of everything but the unreserved characters (A-Z a-z 0-9 - _ . ~), upper-case hex.</summary>
    public static string UriEncode(string value) => SigV4Canonical.UriEncode(value);
}
