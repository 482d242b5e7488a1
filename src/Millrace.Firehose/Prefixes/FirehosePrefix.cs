using System.Security.Cryptography;
using System.Text;

namespace Millrace.Firehose.Prefixes;

public enum PrefixKind
{
    Prefix,
    ErrorOutputPrefix,
}

/// <summary>A prefix cannot be parsed, is not allowed where it is used, or cannot be evaluated for a record.</summary>
public sealed class PrefixException(string message) : Exception(message);

/// <summary>What a prefix is evaluated with: the (zoned) arrival time of the object's oldest record and the record's partition keys.</summary>
public sealed record PrefixContext(DateTimeOffset Time, TimeZoneInfo Zone)
{
    public IReadOnlyDictionary<string, string>? QueryKeys { get; init; }

    public IReadOnlyDictionary<string, string>? LambdaKeys { get; init; }

    public string? ErrorOutputType { get; init; }

    /// <summary>Random strings evaluate to nothing (used to group records by their partition keys only).</summary>
    public bool Deterministic { get; init; }
}

/// <summary>
/// Firehose's S3 prefix language: literal text and <c>!{namespace:value}</c> expressions (<c>timestamp</c> with a Java
/// DateTimeFormatter pattern, <c>firehose:random-string</c>, <c>firehose:error-output-type</c>,
/// <c>partitionKeyFromQuery:key</c>, <c>partitionKeyFromLambda:key</c>). A prefix without a timestamp (and without
/// partition keys) gets <c>!{timestamp:yyyy/MM/dd/HH/}</c> appended, so an empty prefix is AWS's default layout.
/// </summary>
public sealed class FirehosePrefix
{
    /// <summary>An evaluated prefix may be at most this long.</summary>
    public const int MaxEvaluatedLength = 512;

    private const string RandomAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly JavaTimeFormat DefaultTime = JavaTimeFormat.Parse("yyyy/MM/dd/HH/");

    private abstract record Segment;

    private sealed record Literal(string Text) : Segment;

    private sealed record Timestamp(JavaTimeFormat Format) : Segment;

    private sealed record RandomString : Segment;

    private sealed record ErrorOutputType : Segment;

    private sealed record PartitionKey(bool FromLambda, string Key) : Segment;

    private readonly List<Segment> _segments;

    private FirehosePrefix(List<Segment> segments, bool hasExpressions)
    {
        _segments = segments;
        HasExpressions = hasExpressions;
    }

    /// <summary>Whether the text as given used any expression.</summary>
    public bool HasExpressions { get; }

    public bool UsesPartitionKeys => _segments.Any(s => s is PartitionKey);

    public bool UsesErrorOutputType => _segments.Any(s => s is ErrorOutputType);

    public static FirehosePrefix Parse(string? text, PrefixKind kind)
    {
        text ??= "";
        var segments = new List<Segment>();
        var literal = new StringBuilder();
        var expressions = false;
        var i = 0;
        while (i < text.Length)
        {
            var at = text.IndexOf("!{", i, StringComparison.Ordinal);
            if (at < 0)
            {
                literal.Append(text, i, text.Length - i);
                break;
            }

            literal.Append(text, i, at - i);
            var end = text.IndexOf('}', at + 2);
            if (end < 0)
            {
                throw new PrefixException($"The expression starting at position {at} of '{text}' is not closed with '}}'.");
            }

            var body = text[(at + 2)..end];
            if (body.Contains("!{", StringComparison.Ordinal))
            {
                throw new PrefixException($"Expressions cannot be nested: '{text}'.");
            }

            if (literal.Length > 0)
            {
                segments.Add(new Literal(literal.ToString()));
                literal.Clear();
            }

            segments.Add(Expression(body, kind, text));
            expressions = true;
            i = end + 1;
        }

        if (literal.Length > 0)
        {
            segments.Add(new Literal(literal.ToString()));
        }

        if (!segments.Any(s => s is Timestamp or PartitionKey))
        {
            segments.Add(new Timestamp(DefaultTime));
        }

        return new FirehosePrefix(segments, expressions);
    }

    private static Segment Expression(string body, PrefixKind kind, string text)
    {
        var colon = body.IndexOf(':');
        if (colon <= 0 || colon == body.Length - 1)
        {
            throw new PrefixException($"The expression '!{{{body}}}' in '{text}' must have the form !{{namespace:value}}.");
        }

        var ns = body[..colon];
        var value = body[(colon + 1)..];
        switch (ns)
        {
            case "timestamp":
                return new Timestamp(JavaTimeFormat.Parse(value));
            case "firehose" when value == "random-string":
                return new RandomString();
            case "firehose" when value == "error-output-type":
                return kind == PrefixKind.ErrorOutputPrefix
                    ? new ErrorOutputType()
                    : throw new PrefixException("The expression !{firehose:error-output-type} is only allowed in ErrorOutputPrefix.");
            case "firehose":
                throw new PrefixException($"Unknown firehose expression '!{{{body}}}': the firehose namespace has random-string and error-output-type.");
            case "partitionKeyFromQuery" or "partitionKeyFromLambda":
                return kind == PrefixKind.Prefix
                    ? new PartitionKey(ns == "partitionKeyFromLambda", value)
                    : throw new PrefixException($"The expression '!{{{body}}}' is not allowed in ErrorOutputPrefix.");
            default:
                throw new PrefixException($"Unknown namespace '{ns}' in expression '!{{{body}}}'; the namespaces are timestamp, firehose, partitionKeyFromQuery and partitionKeyFromLambda.");
        }
    }

    /// <summary>
    /// The checks CreateDeliveryStream and UpdateDestination make: both prefixes parse; with expressions in Prefix an
    /// ErrorOutputPrefix is given and contains !{firehose:error-output-type}; partition keys exactly when dynamic
    /// partitioning is enabled.
    /// </summary>
    public static void Validate(string? prefix, string? errorOutputPrefix, bool dynamicPartitioning)
    {
        try
        {
            var main = Parse(prefix, PrefixKind.Prefix);
            var error = string.IsNullOrEmpty(errorOutputPrefix) ? null : Parse(errorOutputPrefix, PrefixKind.ErrorOutputPrefix);
            if (main.HasExpressions && error is null)
            {
                throw new PrefixException("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions.");
            }

            if (main.HasExpressions && !error!.UsesErrorOutputType)
            {
                throw new PrefixException("ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix contains expressions.");
            }

            if (main.UsesPartitionKeys && !dynamicPartitioning)
            {
                throw new PrefixException("The partitionKeyFromQuery and partitionKeyFromLambda namespaces are only allowed when dynamic partitioning is enabled.");
            }

            if (dynamicPartitioning && !main.UsesPartitionKeys)
            {
                throw new PrefixException("When dynamic partitioning is enabled, Prefix must use at least one partitionKeyFromQuery or partitionKeyFromLambda expression.");
            }
        }
        catch (PrefixException e)
        {
            throw FirehoseService.Invalid(e.Message);
        }
    }

    /// <summary>Whether a prefix takes partition keys from a Lambda transformation.</summary>
    public static bool UsesLambdaKeys(string? prefix) => Parse(prefix, PrefixKind.Prefix)._segments.Any(s => s is PartitionKey { FromLambda: true });

    public string Render(PrefixContext context)
    {
        var s = new StringBuilder();
        foreach (var segment in _segments)
        {
            switch (segment)
            {
                case Literal l:
                    s.Append(l.Text);
                    break;
                case Timestamp t:
                    s.Append(t.Format.Format(context.Time));
                    break;
                case RandomString when !context.Deterministic:
                    for (var i = 0; i < 11; i++)
                    {
                        s.Append(RandomAlphabet[RandomNumberGenerator.GetInt32(RandomAlphabet.Length)]);
                    }

                    break;
                case ErrorOutputType:
                    s.Append(context.ErrorOutputType ?? throw new PrefixException("No error output type to evaluate !{firehose:error-output-type} with."));
                    break;
                case PartitionKey k:
                    var keys = k.FromLambda ? context.LambdaKeys : context.QueryKeys;
                    if (keys is null || !keys.TryGetValue(k.Key, out var value))
                    {
                        throw new PrefixException($"The partition key '{k.Key}' ({(k.FromLambda ? "partitionKeyFromLambda" : "partitionKeyFromQuery")}) was not found for the record.");
                    }

                    s.Append(value);
                    break;
            }
        }

        return s.Length <= MaxEvaluatedLength
            ? s.ToString()
            : throw new PrefixException($"The evaluated prefix is {s.Length} characters long; at most {MaxEvaluatedLength} are allowed.");
    }

    /// <summary>An object's name after its prefix: <c>&lt;stream&gt;-&lt;version&gt;-yyyy-MM-dd-HH-mm-ss-&lt;uuid&gt;&lt;extension&gt;</c>.</summary>
    public static string ObjectName(string streamName, int version, DateTimeOffset time, string? extension) =>
        $"{streamName}-{version}-{time:yyyy-MM-dd-HH-mm-ss}-{Guid.NewGuid()}{extension}";

    /// <summary>Where errors go when no ErrorOutputPrefix is set: <c>&lt;prefix&gt;&lt;error-output-type&gt;/yyyy/MM/dd/HH/</c>.</summary>
    public static string DefaultErrorPrefix(string? prefix, string errorOutputType, DateTimeOffset time) =>
        (prefix ?? "") + errorOutputType + "/" + DefaultTime.Format(time);
}
