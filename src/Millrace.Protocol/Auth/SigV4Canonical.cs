using System.Security.Cryptography;
using System.Text;

namespace Millrace.Protocol.Auth;

/// <summary>What one SigV4 computation produced: the canonical request, the string to sign, the signed header
/// names (';'-joined), the credential scope and the hex signature.</summary>
public sealed record SigV4Computation(string CanonicalRequest, string StringToSign, string SignedHeaders, string Scope, string Signature);

/// <summary>
/// The canonical form of AWS Signature Version 4, shared by the client's signer and the server's verifier so both
/// sign the same bytes: canonical request, string to sign, signing key, and the chunk and trailer signatures of
/// <c>aws-chunked</c> bodies. Checked against AWS's published test suite.
/// </summary>
public static class SigV4Canonical
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>The hex SHA-256 of an empty payload.</summary>
    public const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>Hex SHA-256 of the payload.</summary>
    public static string PayloadHash(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// The signature of a request as it was sent: <paramref name="path"/> and <paramref name="query"/> (with or
    /// without '?') as on the wire, the headers to sign (any order; repeated names are joined by ','), the payload
    /// hash that goes in the canonical request, and the signing key's parts. <paramref name="s3"/>: S3's rules (the
    /// path is neither normalised nor encoded again). <paramref name="skipQuery"/> is a query parameter left out
    /// (X-Amz-Signature of a presigned URL).
    /// </summary>
    public static SigV4Computation Compute(string method, string path, string query, IEnumerable<KeyValuePair<string, string>> headers,
        string payloadHash, byte[] signingKey, string amzDate, string region, string service, bool s3 = false, string? skipQuery = null)
    {
        // Canonical headers: lower-case names sorted, values trimmed with inner whitespace runs folded, repeated
        // headers joined by ',' in the order they appear.
        var byName = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            var key = name.ToLowerInvariant();
            if (byName.TryGetValue(key, out var existing))
                AppendTrimmed(existing.Append(','), value);
            else
                byName[key] = AppendTrimmed(new StringBuilder(value.Length), value);
        }

        var canonical = new StringBuilder(256);
        canonical.Append(method).Append('\n');
        AppendCanonicalPath(canonical, path, s3);
        canonical.Append('\n');
        AppendCanonicalQuery(canonical, query, skipQuery);
        canonical.Append('\n');
        foreach (var (name, value) in byName)
            canonical.Append(name).Append(':').Append(value).Append('\n');
        canonical.Append('\n');
        var signedHeaders = string.Join(';', byName.Keys);
        canonical.Append(signedHeaders).Append('\n').Append(payloadHash);
        var canonicalRequest = canonical.ToString();

        var scope = Scope(amzDate, region, service);
        var stringToSign = $"{Algorithm}\n{amzDate}\n{scope}\n{PayloadHash(Encoding.UTF8.GetBytes(canonicalRequest))}";
        return new SigV4Computation(canonicalRequest, stringToSign, signedHeaders, scope, Sign(signingKey, stringToSign));
    }

    /// <summary><c>yyyyMMdd/region/service/aws4_request</c> of a request dated <paramref name="amzDate"/>.</summary>
    public static string Scope(string amzDate, string region, string service) => $"{amzDate[..8]}/{region}/{service}/aws4_request";

    /// <summary>The hex HMAC-SHA256 of <paramref name="stringToSign"/> under the derived key.</summary>
    public static string Sign(byte[] signingKey, string stringToSign) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    /// <summary>The string to sign of one <c>aws-chunked</c> chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): it chains
    /// the previous chunk's signature (the request's own for the first chunk) to the chunk's hash.</summary>
    public static string ChunkStringToSign(string amzDate, string scope, string previousSignature, string chunkHash) =>
        $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{previousSignature}\n{EmptyPayloadHash}\n{chunkHash}";

    /// <summary>The string to sign of the trailer of a <c>…-PAYLOAD-TRAILER</c> body; <paramref name="trailerHash"/>
    /// is the hash of the trailer lines, each <c>name:value\n</c>.</summary>
    public static string TrailerStringToSign(string amzDate, string scope, string previousSignature, string trailerHash) =>
        $"AWS4-HMAC-SHA256-TRAILER\n{amzDate}\n{scope}\n{previousSignature}\n{trailerHash}";

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
    private static void AppendCanonicalPath(StringBuilder sb, string path, bool s3)
    {
        if (s3)
        {
            // S3 signs the path exactly as sent: no normalisation, no second encoding.
            sb.Append(path.Length == 0 ? "/" : path);
            return;
        }

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
    /// name then value; a parameter without '=' has an empty value. <paramref name="skip"/> (the presigned
    /// X-Amz-Signature) is left out.</summary>
    private static void AppendCanonicalQuery(StringBuilder sb, string query, string? skip)
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
            if (name == skip)
                continue;
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
