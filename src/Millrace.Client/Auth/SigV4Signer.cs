using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.Client.Auth;

/// <summary>AWS Signature Version 4 for HTTP requests with a body held in memory (the JSON protocols).</summary>
public static class SigV4Signer
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>Adds X-Amz-Date, X-Amz-Security-Token (if any), X-Amz-Content-Sha256 when asked, and Authorization to
    /// <paramref name="request"/>. Signs host, the x-amz-* headers and content-type.</summary>
    public static void Sign(HttpRequestMessage request, ReadOnlySpan<byte> body, AwsCredentials credentials, string region,
        string service, DateTimeOffset now)
    {
        var amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        request.Headers.Remove("X-Amz-Date");
        request.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        if (credentials.SessionToken is { } token)
        {
            request.Headers.Remove("X-Amz-Security-Token");
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", token);
        }

        var uri = request.RequestUri ?? throw new InvalidOperationException("request has no URI");
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}",
        };
        foreach (var header in request.Headers)
            AddHeader(headers, header.Key, header.Value);
        if (request.Content is not null)
            foreach (var header in request.Content.Headers)
                if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    AddHeader(headers, header.Key, header.Value);

        var payloadHash = Hex(SHA256.HashData(body));
        var canonicalHeaders = new StringBuilder();
        foreach (var (name, value) in headers)
            canonicalHeaders.Append(name).Append(':').Append(value).Append('\n');
        var signedHeaders = string.Join(';', headers.Keys);
        var canonicalRequest = string.Join('\n',
            request.Method.Method,
            CanonicalPath(uri.AbsolutePath),
            CanonicalQuery(uri.Query),
            canonicalHeaders.ToString(),
            signedHeaders,
            payloadHash);

        var scope = $"{date}/{region}/{service}/aws4_request";
        var stringToSign = $"{Algorithm}\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var signature = Hex(HMACSHA256.HashData(SigningKey(credentials.SecretAccessKey, date, region, service),
            Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.Remove("Authorization");
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{Algorithm} Credential={credentials.AccessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
    }

    /// <summary>The derived key: HMAC chain over date, region, service and "aws4_request".</summary>
    public static byte[] SigningKey(string secretAccessKey, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    private static void AddHeader(SortedDictionary<string, string> headers, string name, IEnumerable<string> values)
    {
        var key = name.ToLowerInvariant();
        if (key is "authorization" or "user-agent" or "expect" or "connection" or "transfer-encoding")
            return;
        var value = string.Join(',', values.Select(TrimAll));
        headers[key] = headers.TryGetValue(key, out var existing) ? existing + "," + value : value;
    }

    // Leading/trailing whitespace removed and inner runs of spaces folded, as the canonical form requires.
    private static string TrimAll(string value)
    {
        var trimmed = value.Trim();
        if (!trimmed.Contains("  ", StringComparison.Ordinal))
            return trimmed;
        var sb = new StringBuilder(trimmed.Length);
        var space = false;
        foreach (var c in trimmed)
        {
            if (c == ' ')
            {
                if (!space)
                    sb.Append(c);
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb.ToString();
    }

    private static string CanonicalPath(string path)
    {
        if (path.Length == 0)
            return "/";
        // The path as sent (already percent-encoded once) is encoded once more: every service but S3 double-encodes.
        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
            segments[i] = UriEncode(segments[i], encodeSlash: true);
        return string.Join('/', segments);
    }

    private static string CanonicalQuery(string query)
    {
        if (query.Length <= 1)
            return "";
        var pairs = query[1..].Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p =>
            {
                var eq = p.IndexOf('=');
                var name = Uri.UnescapeDataString(eq < 0 ? p : p[..eq]);
                var value = eq < 0 ? "" : Uri.UnescapeDataString(p[(eq + 1)..]);
                return (Name: UriEncode(name, true), Value: UriEncode(value, true));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal);
        return string.Join('&', pairs.Select(p => p.Name + "=" + p.Value));
    }

    /// <summary>RFC 3986 encoding of everything but the unreserved characters.</summary>
    public static string UriEncode(string value, bool encodeSlash)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or '~' || (c == '/' && !encodeSlash))
                sb.Append(c);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
