namespace Millrace.Protocol;

/// <summary>The parts of a SigV4 signature, from the <c>Authorization</c> header or the presigned query string.</summary>
/// <param name="AccessKeyId">The access key id of the credential scope.</param>
/// <param name="Date">The credential scope date, <c>yyyyMMdd</c>.</param>
/// <param name="Region">The credential scope region.</param>
/// <param name="Service">The credential scope service (normally <c>kinesis</c>).</param>
/// <param name="SignedHeaders">The signed header names, lower case, in the order given.</param>
/// <param name="Signature">The hex signature.</param>
/// <param name="RequestDate">The <c>X-Amz-Date</c> (or <c>Date</c>) value the request carried, if any.</param>
/// <param name="IsPresigned">True for the query-string form.</param>
public sealed record SigV4Credential(
    string AccessKeyId,
    string Date,
    string Region,
    string Service,
    IReadOnlyList<string> SignedHeaders,
    string Signature,
    string? RequestDate,
    bool IsPresigned);

/// <summary>
/// Parses (does not verify) SigV4 request authentication the way the Kinesis front end checks it: no
/// authentication gives <c>MissingAuthenticationTokenException</c>, both forms at once gives
/// <c>InvalidSignatureException</c>, missing pieces give <c>IncompleteSignatureException</c> with AWS's wording.
/// </summary>
public static class SigV4Authorization
{
    private static readonly string[] HeaderParams = ["Credential", "Signature", "SignedHeaders"];
    private static readonly string[] QueryParams = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"];

    public static SigV4Credential Parse(string? authorizationHeader, IReadOnlyDictionary<string, string?> queryParameters, string? amzDateHeader, string? dateHeader = null) =>
        Parse(authorizationHeader, name => queryParameters.TryGetValue(name, out var v) ? v : null, queryParameters.ContainsKey("X-Amz-Algorithm"), amzDateHeader, dateHeader);

    /// <param name="authorizationHeader">The <c>Authorization</c> header, or null.</param>
    /// <param name="queryParameter">Looks up a query-string parameter (null when absent).</param>
    /// <param name="amzDateHeader">The <c>X-Amz-Date</c> header, or null.</param>
    /// <param name="dateHeader">The <c>Date</c> header, or null.</param>
    public static SigV4Credential Parse(string? authorizationHeader, Func<string, string?> queryParameter, string? amzDateHeader, string? dateHeader = null) =>
        Parse(authorizationHeader, queryParameter, queryParameter("X-Amz-Algorithm") is not null, amzDateHeader, dateHeader);

    private static SigV4Credential Parse(string? header, Func<string, string?> query, bool hasQueryAuth, string? amzDate, string? date)
    {
        var hasHeader = !string.IsNullOrEmpty(header);
        if (hasHeader && hasQueryAuth)
        {
            throw new KinesisException("InvalidSignatureException",
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
        }

        if (!hasHeader && !hasQueryAuth)
        {
            throw new KinesisException("MissingAuthenticationTokenException", "Missing Authentication Token");
        }

        return hasHeader ? ParseHeader(header!, amzDate, date) : ParseQuery(query);
    }

    private static SigV4Credential ParseHeader(string header, string? amzDate, string? date)
    {
        // "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=a;b, Signature=hex"
        string? credential = null, signedHeaders = null, signature = null;
        var tokens = header.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 1; i < tokens.Length; i++)
        {
            var eq = tokens[i].IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            var key = tokens[i][..eq];
            var value = tokens[i][(eq + 1)..];
            if (value.Length == 0)
            {
                continue;
            }

            switch (key)
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signedHeaders = value; break;
                case "Signature": signature = value; break;
            }
        }

        var message = string.Empty;
        string?[] found = [credential, signature, signedHeaders];
        for (var i = 0; i < HeaderParams.Length; i++)
        {
            if (found[i] is null)
            {
                message += "Authorization header requires '" + HeaderParams[i] + "' parameter. ";
            }
        }

        if (string.IsNullOrEmpty(amzDate) && string.IsNullOrEmpty(date))
        {
            message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
        }

        if (message.Length > 0)
        {
            throw Incomplete(message + "Authorization=" + header);
        }

        var scope = ParseScope(credential!, "Authorization=" + header);
        return new SigV4Credential(scope[0], scope[1], scope[2], scope[3], signedHeaders!.Split(';'), signature!,
            string.IsNullOrEmpty(amzDate) ? date : amzDate, IsPresigned: false);
    }

    private static SigV4Credential ParseQuery(Func<string, string?> query)
    {
        var message = string.Empty;
        var values = new string?[QueryParams.Length];
        for (var i = 0; i < QueryParams.Length; i++)
        {
            values[i] = query(QueryParams[i]);
            if (string.IsNullOrEmpty(values[i]))
            {
                message += "AWS query-string parameters must include '" + QueryParams[i] + "'. ";
            }
        }

        if (message.Length > 0)
        {
            throw Incomplete(message + "Re-examine the query-string parameters.");
        }

        var scope = ParseScope(values[1]!, "Re-examine the query-string parameters.");
        return new SigV4Credential(scope[0], scope[1], scope[2], scope[3], values[3]!.Split(';'), values[2]!, values[4], IsPresigned: true);
    }

    private static string[] ParseScope(string credential, string suffix)
    {
        // AKID/yyyyMMdd/region/service/aws4_request
        var parts = credential.Split('/');
        if (parts.Length != 5 || parts[4] != "aws4_request")
        {
            throw Incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" + parts[^1] + "'. " + suffix);
        }

        if (parts[1].Length != 8 || !parts[1].All(char.IsAsciiDigit))
        {
            throw Incomplete("Credential should be scoped to a valid date, not '" + parts[1] + "'. " + suffix);
        }

        return parts;
    }

    private static KinesisException Incomplete(string message) => new("IncompleteSignatureException", message);
}
