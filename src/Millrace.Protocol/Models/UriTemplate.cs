namespace Millrace.Protocol.Models;

/// <summary>
/// A REST request URI template from the model (<c>/2015-03-31/functions/{FunctionName}</c>, <c>/{Bucket}/{Key+}?tagging</c>):
/// literal and label path segments, then literal query parameters the request must carry.
/// </summary>
internal sealed class UriTemplate
{
    private UriTemplate(Segment[] segments, (string Key, string? Value)[] query)
    {
        Segments = segments;
        Query = query;
        var literal = new List<string>();
        foreach (var s in segments)
        {
            if (s.Label is not null)
            {
                break;
            }

            literal.Add(s.Literal!);
        }

        LiteralPrefix = "/" + string.Join('/', literal);
    }

    public Segment[] Segments { get; }

    public (string Key, string? Value)[] Query { get; }

    /// <summary>The literal path before the first label, e.g. <c>/2015-03-31/functions</c>.</summary>
    public string LiteralPrefix { get; }

    public static UriTemplate Parse(string template)
    {
        var q = template.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? template : template[..q];
        var query = new List<(string, string?)>();
        if (q >= 0)
        {
            foreach (var part in template[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                query.Add(eq < 0 ? (part, null) : (part[..eq], part[(eq + 1)..]));
            }
        }

        var segments = new List<Segment>();
        foreach (var s in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (s.StartsWith('{') && s.EndsWith('}'))
            {
                var name = s[1..^1];
                var greedy = name.EndsWith('+');
                segments.Add(new Segment(null, greedy ? name[..^1] : name, greedy));
            }
            else
            {
                segments.Add(new Segment(s, null, false));
            }
        }

        return new UriTemplate([.. segments], [.. query]);
    }

    /// <summary>
    /// Matches a request path (still percent-encoded) and query; returns a score (higher is more specific) and the
    /// decoded labels, or -1 when the template does not match. <c>x-id</c> query literals are optional (older SDKs omit them).
    /// </summary>
    public int Match(string rawPath, IReadOnlyList<KeyValuePair<string, string>> query, Dictionary<string, string> labels)
    {
        labels.Clear();
        var parts = rawPath.Split('/');
        // parts[0] is the empty text before the leading slash.
        var index = 1;
        var score = 0;
        foreach (var segment in Segments)
        {
            if (segment.Greedy)
            {
                if (index >= parts.Length)
                {
                    return -1;
                }

                var rest = string.Join('/', parts[index..]);
                if (rest.Length == 0)
                {
                    return -1;
                }

                labels[segment.Label!] = Uri.UnescapeDataString(rest);
                index = parts.Length;
                score += 1;
                continue;
            }

            if (index >= parts.Length || parts[index].Length == 0)
            {
                return -1;
            }

            if (segment.Label is not null)
            {
                labels[segment.Label] = Uri.UnescapeDataString(parts[index]);
                score += 1;
            }
            else if (!string.Equals(parts[index], segment.Literal, StringComparison.Ordinal))
            {
                return -1;
            }
            else
            {
                score += 100;
            }

            index++;
        }

        // A trailing slash is tolerated; anything else left over does not match.
        if (index < parts.Length && !(index == parts.Length - 1 && parts[index].Length == 0))
        {
            return -1;
        }

        foreach (var (key, value) in Query)
        {
            if (key == "x-id")
            {
                continue;
            }

            var found = false;
            foreach (var kv in query)
            {
                if (kv.Key == key && (value is null || kv.Value == value))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return -1;
            }

            score += 10;
        }

        return score;
    }

    internal readonly record struct Segment(string? Literal, string? Label, bool Greedy);
}
