using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.Client.Auth;

/// <summary>The parts of one signature: what was signed and the resulting Authorization header.</summary>
public sealed record SigV4Signature(string CanonicalRequest, string StringToSign, string SignedHeaders, string Authorization);

/// <summary>AWS Signature Version 4 for HTTP requests with a body held in memory (the JSON protocols). Checked
/// against AWS's published test suite (tests/Millrace.Client.Tests/SigV4TestSuite).</summary>
public static class SigV4Signer
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

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
    public static string PayloadHash(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The signature of a request given as it goes on the wire: <paramref name="path"/> and
    /// <paramref name="query"/> (with or without '?') as sent, the headers in order (the date header
    /// <c>X-Amz-Date</c> and any token among them), and the payload's hex SHA-256.</summary>
    public static SigV4Signature Compute(string method, string path, string query, IEnumerable<KeyValuePair<string, string>> headers,
        string payloadHash, AwsCredentials credentials, string region, string service, string amzDate)
    {
        // Canonical headers: lower-case names sorted, values trimmed with inner whitespace runs folded, repeated
        // headers joined by ',' in the order they appear.
        var byName = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            if (Unsigned.Contains(name))
                continue;
            var key = name.ToLowerInvariant();
            if (byName.TryGetValue(key, out var existing))
                AppendTrimmed(existing.Append(','), value);
            else
                byName[key] = AppendTrimmed(new StringBuilder(value.Length), value);
        }

        var canonical = new StringBuilder(256);
        canonical.Append(method).Append('\n');
        AppendCanonicalPath(canonical, path);
        canonical.Append('\n');
        AppendCanonicalQuery(canonical, query);
        canonical.Append('\n');
        foreach (var (name, value) in byName)
            canonical.Append(name).Append(':').Append(value).Append('\n');
        canonical.Append('\n');
        var signedHeaders = string.Join(';', byName.Keys);
        canonical.Append(signedHeaders).Append('\n').Append(payloadHash);
        var canonicalRequest = canonical.ToString();

        var date = amzDate[..8];
        var scope = $"{date}/{region}/{service}/aws4_request";
        var stringToSign = $"{Algorithm}\n{amzDate}\n{scope}\n{PayloadHash(Encoding.UTF8.GetBytes(canonicalRequest))}";
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(SigningKey(credentials.SecretAccessKey, date, region, service),
            Encoding.UTF8.GetBytes(stringToSign)));
        return new SigV4Signature(canonicalRequest, stringToSign, signedHeaders,
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

    // Leading/trailing whitespace removed and inner runs of spaces folded to one, as the canonical form requires.
    private static StringBuilder AppendTrimmed(StringBuilder sb, string value)
    {
        var span = value.AsSpan().Trim();
        var space = false;
        foreach (var c in span)
        {
            if (c is ' ' or '\t')
            {
                if (!space)
                    sb.Append(' ');
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb;
    }

    /// <summary>Every service but S3: the path with dot segments and empty segments removed, each segment encoded
    /// (again — the path as sent is already encoded once, so "%20" signs as "%2520").</summary>
    private static void AppendCanonicalPath(StringBuilder sb, string path)
    {
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".")
                continue;
            if (segment == "..")
            {
                if (segments.Count > 0)
                    segments.RemoveAt(segments.Count - 1);
                continue;
            }
            segments.Add(segment);
        }
        sb.Append('/');
        for (var i = 0; i < segments.Count; i++)
        {
            if (i > 0)
                sb.Append('/');
            UriEncode(sb, segments[i]);
        }
        var last = path.AsSpan().TrimEnd('.');
        if (segments.Count > 0 && (path.EndsWith('/') || (last.Length < path.Length && last.EndsWith("/"))))
            sb.Append('/');
    }

    /// <summary>Parameters decoded and re-encoded (so either encoding of the same query signs the same), sorted by
    /// name then value; a parameter without '=' has an empty value.</summary>
    private static void AppendCanonicalQuery(StringBuilder sb, string query)
    {
        var q = query.AsSpan();
        if (q.StartsWith("?"))
            q = q[1..];
        if (q.IsEmpty)
            return;
        var pairs = new List<(string Name, string Value)>();
        foreach (var range in q.Split('&'))
        {
            var p = q[range];
            if (p.IsEmpty)
                continue;
            var eq = p.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? p : p[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(p[(eq + 1)..]);
            pairs.Add((UriEncode(name), UriEncode(value)));
        }
        pairs.Sort((a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.Value, b.Value);
        });
        for (var i = 0; i < pairs.Count; i++)
        {
            if (i > 0)
                sb.Append('&');
            sb.Append(pairs[i].Name).Append('=').Append(pairs[i].Value);
        }
    }

    /// <summary>RFC 3986 encoding of everything but the unreserved characters (A-Z a-z 0-9 - _ . ~), upper-case hex.</summary>
    public static string UriEncode(string value) => UriEncode(new StringBuilder(value.Length + 8), value).ToString();

    private static StringBuilder UriEncode(StringBuilder sb, string value)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or '~')
            {
                sb.Append(c);
                continue;
            }
            var length = char.IsHighSurrogate(c) && i + 1 < value.Length
                ? Encoding.UTF8.GetBytes(value.AsSpan(i++, 2), utf8)
                : Encoding.UTF8.GetBytes(value.AsSpan(i, 1), utf8);
            foreach (var b in utf8[..length])
                sb.Append('%').Append(HexUpper[b >> 4]).Append(HexUpper[b & 0xF]);
        }
        return sb;
    }

    private const string HexUpper = "0123456789ABCDEF";
}
