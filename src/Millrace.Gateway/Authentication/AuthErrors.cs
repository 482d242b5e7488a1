using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway.Authentication;

/// <summary>
/// The SigV4 errors each family of AWS front ends answers with: the JSON services (Kinesis, Firehose, DynamoDB, Logs,
/// Glue) with 400, rest-json (Lambda) with 403, the query services (IAM, STS) with their own codes, and S3 with its
/// codes and the extra elements it adds (the canonical request and string to sign of a mismatch).
/// </summary>
public static class AuthErrors
{
    private const string BadSignature =
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

    private const string InvalidToken = "The security token included in the request is invalid.";

    private static int Status(AuthErrorStyle style, int json = 400) => style switch
    {
        AuthErrorStyle.AwsJson => json,
        _ => 403,
    };

    public static ServiceException Missing(AuthErrorStyle style) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("AccessDenied", "Access Denied", 403),
        AuthErrorStyle.Query => new ServiceException("MissingAuthenticationToken", "Request is missing Authentication Token", 403),
        _ => new ServiceException("MissingAuthenticationTokenException", "Missing Authentication Token", Status(style)),
    };

    public static ServiceException Incomplete(AuthErrorStyle style, string message) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("AuthorizationHeaderMalformed", "The authorization header is malformed; " + message, 400),
        AuthErrorStyle.Query => new ServiceException("IncompleteSignature", message, 400),
        _ => new ServiceException("IncompleteSignatureException", message, Status(style)),
    };

    /// <summary>A malformed or contradictory signature that is not a mismatch (both auth forms, wrong service scope).</summary>
    public static ServiceException Invalid(AuthErrorStyle style, string message) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("AuthorizationHeaderMalformed", "The authorization header is malformed; " + message, 400),
        AuthErrorStyle.Query => new ServiceException("SignatureDoesNotMatch", message, 403),
        _ => new ServiceException("InvalidSignatureException", message, Status(style)),
    };

    public static ServiceException UnknownKey(AuthErrorStyle style, string accessKeyId) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403)
        {
            Fields = new JsonObject { ["AWSAccessKeyId"] = accessKeyId },
        },
        AuthErrorStyle.Query => new ServiceException("InvalidClientTokenId", InvalidToken, 403),
        _ => new ServiceException("UnrecognizedClientException", InvalidToken, Status(style)),
    };

    /// <summary>A session token that does not belong to the key (or a token on a long-term key).</summary>
    public static ServiceException BadToken(AuthErrorStyle style) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("InvalidToken", "The provided token is malformed or otherwise invalid.", 400),
        AuthErrorStyle.Query => new ServiceException("InvalidClientTokenId", InvalidToken, 403),
        _ => new ServiceException("UnrecognizedClientException", InvalidToken, Status(style)),
    };

    public static ServiceException ExpiredToken(AuthErrorStyle style) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("ExpiredToken", "The provided token has expired.", 400),
        AuthErrorStyle.Query => new ServiceException("ExpiredToken", "The security token included in the request is expired", 403),
        _ => new ServiceException("ExpiredTokenException", "The security token included in the request is expired", Status(style)),
    };

    public static ServiceException Mismatch(AuthErrorStyle style, string accessKeyId, string stringToSign, string canonicalRequest, string provided) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.", 403)
        {
            Fields = new JsonObject
            {
                ["AWSAccessKeyId"] = accessKeyId,
                ["StringToSign"] = stringToSign,
                ["SignatureProvided"] = provided,
                ["StringToSignBytes"] = SpacedHex(stringToSign),
                ["CanonicalRequest"] = canonicalRequest,
                ["CanonicalRequestBytes"] = SpacedHex(canonicalRequest),
            },
        },
        AuthErrorStyle.Query => new ServiceException("SignatureDoesNotMatch", BadSignature, 403),
        _ => new ServiceException("InvalidSignatureException", BadSignature, Status(style)),
    };

    /// <summary>A request dated more than 15 minutes from the server's clock.</summary>
    public static ServiceException Skewed(AuthErrorStyle style, DateTimeOffset requestTime, DateTimeOffset now)
    {
        if (style == AuthErrorStyle.S3)
        {
            return new ServiceException("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", 403)
            {
                Fields = new JsonObject
                {
                    ["RequestTime"] = Iso(requestTime),
                    ["ServerTime"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                    ["MaxAllowedSkewMilliseconds"] = "900000",
                },
            };
        }

        var message = requestTime < now
            ? $"Signature expired: {Iso(requestTime)} is now earlier than {Iso(now - RequestAuthenticator.MaxSkew)} ({Iso(now)} - 15 min.)"
            : $"Signature not yet current: {Iso(requestTime)} is still later than {Iso(now + RequestAuthenticator.MaxSkew)} ({Iso(now)} + 15 min.)";
        return style == AuthErrorStyle.Query
            ? new ServiceException("SignatureDoesNotMatch", message, 403)
            : new ServiceException("InvalidSignatureException", message, Status(style));
    }

    /// <summary>S3: the body does not hash to the <c>x-amz-content-sha256</c> the request signed.</summary>
    public static ServiceException ContentHashMismatch(string claimed, string computed) =>
        new("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
        {
            Fields = new JsonObject { ["ClientComputedContentSHA256"] = claimed, ["S3ComputedContentSHA256"] = computed },
        };

    public static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    // S3 shows the bytes it signed as space-separated hex pairs.
    private static string SpacedHex(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
