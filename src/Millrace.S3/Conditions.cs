using System.Globalization;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>S3's conditional request headers (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since).</summary>
internal static class Conditions
{
    public enum Outcome
    {
        Proceed,
        NotModified,
        PreconditionFailed,
    }

    /// <summary>
    /// GET/HEAD: If-Match (412) then If-Unmodified-Since (412, ignored when If-Match held), then If-None-Match (304)
    /// then If-Modified-Since (304, ignored when If-None-Match was given and did not match).
    /// </summary>
    public static (Outcome Outcome, string? Condition) Evaluate(S3Request request, ObjectRecord record,
        string ifMatch = "If-Match", string ifNoneMatch = "If-None-Match", string ifModifiedSince = "If-Modified-Since", string ifUnmodifiedSince = "If-Unmodified-Since")
    {
        var etag = S3Service.Unquote(record.ETag);
        var lastModified = TruncateToSeconds(record.LastModified);

        var match = request.Header(ifMatch);
        if (match is not null)
        {
            if (!Matches(match, etag))
            {
                return (Outcome.PreconditionFailed, ifMatch);
            }
        }
        else if (ParseDate(request.Header(ifUnmodifiedSince)) is { } unmodifiedSince && lastModified > unmodifiedSince)
        {
            return (Outcome.PreconditionFailed, ifUnmodifiedSince);
        }

        var noneMatch = request.Header(ifNoneMatch);
        if (noneMatch is not null)
        {
            if (Matches(noneMatch, etag))
            {
                return (Outcome.NotModified, ifNoneMatch);
            }
        }
        else if (ParseDate(request.Header(ifModifiedSince)) is { } modifiedSince && lastModified <= modifiedSince)
        {
            return (Outcome.NotModified, ifModifiedSince);
        }

        return (Outcome.Proceed, null);
    }

    /// <summary>True when an If-Match / If-None-Match list names the ETag (or is *).</summary>
    public static bool Matches(string header, string etag)
    {
        foreach (var part in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var candidate = part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part;
            if (candidate == "*" || S3Service.Unquote(candidate) == etag)
            {
                return true;
            }
        }

        return false;
    }

    public static DateTimeOffset TruncateToSeconds(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    public static DateTimeOffset? ParseDate(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        string[] formats = ["r", "ddd, d MMM yyyy HH:mm:ss 'GMT'", "dddd, dd-MMM-yy HH:mm:ss 'GMT'", "ddd MMM d HH:mm:ss yyyy", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK"];
        return DateTimeOffset.TryParseExact(value.Trim(), formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed
            : null;
    }

    /// <summary>Last-Modified / Date header format (RFC 1123).</summary>
    public static string HttpDate(DateTimeOffset value) => value.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);
}
