using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Millrace.Protocol;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway.Authentication;

/// <summary>
/// Verifies AWS Signature Version 4 in the front door, for every service, as AWS checks it: the header or presigned
/// form, the credential scope's date and service, the clock (15 minutes either way), the presigned expiry, the access
/// key and its session token, and the signature over the canonical request built from what was received (S3's path
/// rules for S3). Non-S3 bodies are hashed here; S3 signs <c>x-amz-content-sha256</c>, whose hex form is checked
/// against the body as it streams and whose <c>aws-chunked</c> forms hand <see cref="ChunkSignatures"/> to the
/// decoder. A verified request carries its <see cref="CallerIdentity"/> in the request features.
/// </summary>
public sealed class RequestAuthenticator(IAccessKeys keys, TimeProvider clock)
{
    /// <summary>How far a request's date may be from the server's clock.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(15);

    /// <summary>Bodies of non-S3 requests are hashed in memory up to this size (the services' own caps are lower).</summary>
    public const int MaxHashedBody = 80 * 1024 * 1024;

    private const string UnsignedPayload = "UNSIGNED-PAYLOAD";

    /// <summary>Null when the request is authentic (its caller is then in <c>http.Features</c>); otherwise the error to answer.</summary>
    public async Task<ServiceException?> AuthenticateAsync(HttpContext http, IAwsService service)
    {
        var style = service.Routes.AuthErrors;
        var request = http.Request;
        var header = request.Headers.Authorization.ToString();
        bool s3 = style == AuthErrorStyle.S3;
        if (s3 && (header.StartsWith("AWS ", StringComparison.Ordinal) || (request.Query.ContainsKey("AWSAccessKeyId") && request.Query.ContainsKey("Signature"))))
        {
            return await S3SigV2.AuthenticateAsync(http, keys, clock);
        }

        if (s3 && header.Length > 0 && !header.StartsWith(SigV4Canonical.Algorithm + " ", StringComparison.Ordinal))
        {
            return AuthErrors.Incomplete(style, "the authorization mechanism must be AWS4-HMAC-SHA256.");
        }

        SigV4Credential credential;
        try
        {
            credential = SigV4Authorization.Parse(
                header.Length > 0 ? header : null,
                name => request.Query.TryGetValue(name, out var v) ? v.ToString() : null,
                request.Headers["X-Amz-Date"].ToString() is { Length: > 0 } amz ? amz : null,
                request.Headers.Date.ToString() is { Length: > 0 } date ? date : null);
        }
        catch (KinesisException e)
        {
            return e.ErrorType switch
            {
                "MissingAuthenticationTokenException" => AuthErrors.Missing(style),
                "InvalidSignatureException" => AuthErrors.Invalid(style, e.ErrorMessage ?? ""),
                _ => AuthErrors.Incomplete(style, e.ErrorMessage ?? ""),
            };
        }

        if (!ServesScope(service, credential.Service))
        {
            return AuthErrors.Invalid(style, $"Credential should be scoped to correct service: '{service.Name}'. ");
        }

        var now = clock.GetUtcNow();
        if (!TryParseRequestDate(credential.RequestDate, out var requestTime, out var amzDate))
        {
            return AuthErrors.Incomplete(style, $"Date must be in ISO-8601 'basic format'. Got '{credential.RequestDate}'. See http://en.wikipedia.org/wiki/ISO_8601");
        }

        if (credential.Date != amzDate[..8])
        {
            return AuthErrors.Invalid(style,
                $"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{credential.Date}' != '{amzDate[..8]}', from '{amzDate}'.");
        }

        if (credential.IsPresigned)
        {
            // S3 checks X-Amz-Expires (0 to 604800) and the expiry itself with its own wording.
            if (!s3)
            {
                var expires = request.Query["X-Amz-Expires"].ToString();
                if (!int.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 604800)
                {
                    return AuthErrors.Incomplete(style, "X-Amz-Expires must be a number of seconds up to 604800 (7 days).");
                }

                if (requestTime + TimeSpan.FromSeconds(seconds) < now)
                {
                    return AuthErrors.Skewed(style, requestTime + TimeSpan.FromSeconds(seconds), now + MaxSkew);
                }
            }

            if (requestTime - now > MaxSkew)
            {
                return AuthErrors.Skewed(style, requestTime, now);
            }
        }
        else if ((requestTime - now).Duration() > MaxSkew)
        {
            return AuthErrors.Skewed(style, requestTime, now);
        }

        var key = await keys.FindAsync(credential.AccessKeyId, http.RequestAborted);
        if (key is null || !key.Active)
        {
            return AuthErrors.UnknownKey(style, credential.AccessKeyId);
        }

        var token = credential.IsPresigned ? request.Query["X-Amz-Security-Token"].ToString() : request.Headers["X-Amz-Security-Token"].ToString();
        if (key.SessionToken is not null)
        {
            if (!ChunkSignatures.FixedTimeEquals(key.SessionToken, token))
            {
                return AuthErrors.BadToken(style);
            }

            if (key.Expiration is { } expiration && expiration <= now)
            {
                return AuthErrors.ExpiredToken(style);
            }
        }
        else if (token.Length > 0)
        {
            return AuthErrors.BadToken(style);
        }

        string payloadHash;
        var contentSha = request.Headers["x-amz-content-sha256"].ToString();
        if (s3)
        {
            if (credential.IsPresigned)
            {
                payloadHash = UnsignedPayload;
            }
            else if (contentSha.Length == 0)
            {
                return new ServiceException("InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400);
            }
            else
            {
                payloadHash = contentSha;
            }
        }
        else
        {
            var bodyHash = await HashBodyAsync(http);
            if (bodyHash is null)
            {
                // Larger than any service takes: refused unread (and never passed on unverified).
                return new ServiceException("RequestEntityTooLargeException", $"Request must be smaller than {MaxHashedBody} bytes.", 413);
            }

            if (contentSha.Length > 0 && contentSha != bodyHash && contentSha != UnsignedPayload)
            {
                return AuthErrors.Mismatch(style, credential.AccessKeyId, "", "", credential.Signature);
            }

            payloadHash = contentSha.Length > 0 ? contentSha : bodyHash;
        }

        var signingKey = SigV4Canonical.SigningKey(key.SecretAccessKey, credential.Date, credential.Region, credential.Service);
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (request.PathBase + request.Path + request.QueryString).ToString();
        int q = raw.IndexOf('?', StringComparison.Ordinal);
        var expected = SigV4Canonical.Compute(request.Method, q < 0 ? raw : raw[..q], q < 0 ? "" : raw[q..],
            SignedHeaderValues(request, credential.SignedHeaders), payloadHash, signingKey, amzDate, credential.Region, credential.Service,
            s3, credential.IsPresigned ? "X-Amz-Signature" : null);
        if (!ChunkSignatures.FixedTimeEquals(expected.Signature, credential.Signature))
        {
            return AuthErrors.Mismatch(style, credential.AccessKeyId, expected.StringToSign, expected.CanonicalRequest, credential.Signature);
        }

        if (s3 && payloadHash.StartsWith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", StringComparison.Ordinal))
        {
            http.Features.Set(new ChunkSignatures(signingKey, amzDate, expected.Scope, expected.Signature,
                trailer: payloadHash.EndsWith("-TRAILER", StringComparison.Ordinal)));
        }
        else if (s3 && payloadHash.Length == 64 && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            request.Body = new ContentHashStream(request.Body, payloadHash);
        }

        http.Features.Set(key.Caller);
        http.Features.Set(new RequestFacts(http.Connection.RemoteIpAddress?.ToString() ?? "127.0.0.1", request.IsHttps, credential.Region, now));
        return null;
    }

    private static bool ServesScope(IAwsService service, string scopeService)
    {
        if (scopeService == service.Name)
        {
            return true;
        }

        foreach (var name in service.Routes.SigningNames)
        {
            if (name == scopeService)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The values of the signed headers as received; a repeated header's values joined by ','. Kestrel shows
    /// HTTP/2's :authority as Host.</summary>
    private static IEnumerable<KeyValuePair<string, string>> SignedHeaderValues(HttpRequest request, IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            // HTTP/2 carries the host as :authority, which some SDKs (JavaScript v3's Kinesis client) sign by that name.
            if (name is "host" or ":authority")
            {
                yield return new(name, request.Host.Value ?? "");
                continue;
            }

            yield return new(name, string.Join(',', request.Headers[name].ToArray()));
        }
    }

    private static bool TryParseRequestDate(string? value, out DateTimeOffset time, out string amzDate)
    {
        amzDate = "";
        time = default;
        if (value is null)
        {
            return false;
        }

        if (DateTimeOffset.TryParseExact(value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
        {
            amzDate = value;
            return true;
        }

        // Only a Date header (RFC 1123): the string to sign carries its ISO-8601 basic form.
        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
        {
            amzDate = AuthErrors.Iso(time);
            return true;
        }

        return false;
    }

    /// <summary>Reads the whole body, puts it back for the service, and returns its hex SHA-256 (null when over <see cref="MaxHashedBody"/>).</summary>
    private static async Task<string?> HashBodyAsync(HttpContext http)
    {
        var request = http.Request;
        if (request.ContentLength is 0 || (request.ContentLength is null && HttpMethods.IsGet(request.Method)))
        {
            return SigV4Canonical.EmptyPayloadHash;
        }

        if (request.ContentLength > MaxHashedBody)
        {
            return null;
        }

        // A body of unknown length (chunked transfer) is read only up to the cap.
        var body = new MemoryStream(request.ContentLength is long n ? (int)n : 256);
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (body.Length + read > MaxHashedBody)
            {
                return null;
            }

            body.Write(chunk, 0, read);
        }

        body.Position = 0;
        request.Body = body;
        return Convert.ToHexStringLower(SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length)));
    }
}
