using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Millrace.Lambda.Mappings;

/// <summary>
/// Lambda's event filtering (FilterCriteria) for Kinesis mappings: each pattern is matched against
/// <c>{"data": &lt;the record's data as JSON&gt;}</c>, Kinesis mappings filtering on the data key only. A record is
/// kept when any pattern matches. Rules: exact values (strings, numbers, booleans, null), <c>prefix</c>,
/// <c>suffix</c>, <c>anything-but</c> (values, or <c>{"prefix"}</c>/<c>{"suffix"}</c>), <c>numeric</c> ranges,
/// <c>exists</c>, <c>equals-ignore-case</c>, <c>wildcard</c> and <c>$or</c>; an array in the data matches when any
/// element does.
/// </summary>
public sealed class EventFilter
{
    private readonly List<JsonObject> _patterns;

    private EventFilter(List<JsonObject> patterns) => _patterns = patterns;

    /// <summary>The filter of a FilterCriteria document, or null when it has no patterns; throws <see cref="FormatException"/> for a bad one.</summary>
    public static EventFilter? Parse(JsonNode? criteria)
    {
        if ((criteria as JsonObject)?["Filters"] is not JsonArray { Count: > 0 } filters)
        {
            return null;
        }

        var patterns = new List<JsonObject>();
        foreach (var filter in filters)
        {
            var text = (filter as JsonObject)?["Pattern"]?.GetValue<string>() ?? throw new FormatException("Invalid filter pattern definition.");
            JsonNode? pattern;
            try
            {
                pattern = JsonNode.Parse(text, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument);
            }
            catch (JsonException)
            {
                throw new FormatException($"Invalid filter pattern definition: {text} is not JSON.");
            }

            if (pattern is not JsonObject obj)
            {
                throw new FormatException($"Invalid filter pattern definition: {text} is not a JSON object.");
            }

            Check(obj);
            patterns.Add(obj);
        }

        return new EventFilter(patterns);
    }

    /// <summary>Whether a record with these data bytes passes (non-JSON data never matches a pattern on data).</summary>
    public bool Matches(ReadOnlySpan<byte> data)
    {
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(data, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument);
        }
        catch (JsonException)
        {
            parsed = null;
        }

        var record = new JsonObject();
        if (parsed is not null)
        {
            record["data"] = parsed;
        }

        return _patterns.Any(p => MatchObject(p, record));
    }

    private static void Check(JsonObject pattern)
    {
        foreach (var (key, value) in pattern)
        {
            switch (value)
            {
                case JsonObject nested:
                    Check(nested);
                    break;
                case JsonArray rules when key == "$or":
                    foreach (var alternative in rules)
                    {
                        Check(alternative as JsonObject ?? throw new FormatException("Invalid filter pattern definition: $or takes objects."));
                    }

                    break;
                case JsonArray:
                    break;
                default:
                    throw new FormatException($"Invalid filter pattern definition: the value of {key} must be an array of rules or an object.");
            }
        }
    }

    private static bool MatchObject(JsonObject pattern, JsonNode? node)
    {
        foreach (var (key, rule) in pattern)
        {
            if (key == "$or")
            {
                if (!rule!.AsArray().Any(alternative => MatchObject(alternative!.AsObject(), node)))
                {
                    return false;
                }

                continue;
            }

            var present = node is JsonObject obj && obj.TryGetPropertyValue(key, out _);
            var value = present ? ((JsonObject)node!)[key] : null;
            var ok = rule switch
            {
                JsonObject nested => present && MatchNested(nested, value),
                JsonArray rules => MatchRules(rules, present, value),
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool MatchNested(JsonObject pattern, JsonNode? value) =>
        value is JsonArray array ? array.Any(v => MatchObject(pattern, v)) : MatchObject(pattern, value);

    private static bool MatchRules(JsonArray rules, bool present, JsonNode? value)
    {
        // An array in the data matches when one of its elements does.
        var candidates = value is JsonArray array ? [.. array] : new List<JsonNode?> { value };
        foreach (var rule in rules)
        {
            if (rule is JsonObject op && op.Count == 1 && op.First() is var (name, arg) && name == "exists")
            {
                if (arg?.GetValue<bool>() == present)
                {
                    return true;
                }

                continue;
            }

            if (present && candidates.Any(c => MatchRule(rule, c)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MatchRule(JsonNode? rule, JsonNode? value)
    {
        if (rule is not JsonObject op)
        {
            return Equal(rule, value);
        }

        var (name, arg) = op.First();
        var text = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        return name switch
        {
            "prefix" => text is not null && arg is JsonValue p && text.StartsWith(p.GetValue<string>(), StringComparison.Ordinal),
            "suffix" => text is not null && arg is JsonValue s && text.EndsWith(s.GetValue<string>(), StringComparison.Ordinal),
            "equals-ignore-case" => text is not null && string.Equals(text, arg?.GetValue<string>(), StringComparison.OrdinalIgnoreCase),
            "wildcard" => text is not null && Regex.IsMatch(text, "^" + Regex.Escape(arg!.GetValue<string>()).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.Singleline),
            "numeric" => IsNumber(value) && Numeric(arg!.AsArray(), value!.GetValue<double>()),
            "anything-but" => AnythingBut(arg, value, text),
            _ => false,
        };
    }

    private static bool AnythingBut(JsonNode? arg, JsonNode? value, string? text) => arg switch
    {
        JsonArray values => !values.Any(x => Equal(x, value)),
        JsonObject { Count: 1 } inner when inner.First() is var (k, v) && k == "prefix" => text is not null && !text.StartsWith(v!.GetValue<string>(), StringComparison.Ordinal),
        JsonObject { Count: 1 } inner when inner.First() is var (k, v) && k == "suffix" => text is not null && !text.EndsWith(v!.GetValue<string>(), StringComparison.Ordinal),
        JsonValue single => !Equal(single, value),
        _ => false,
    };

    private static bool IsNumber(JsonNode? value) => value is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    private static bool Numeric(JsonArray conditions, double x)
    {
        for (var i = 0; i + 1 < conditions.Count; i += 2)
        {
            var bound = conditions[i + 1]!.GetValue<double>();
            var ok = conditions[i]!.GetValue<string>() switch
            {
                "=" => x == bound,
                ">" => x > bound,
                ">=" => x >= bound,
                "<" => x < bound,
                "<=" => x <= bound,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Equal(JsonNode? rule, JsonNode? value)
    {
        if (rule is null || value is null)
        {
            return rule is null && value is null;
        }

        if (rule is JsonValue r && value is JsonValue v)
        {
            return (r.GetValueKind(), v.GetValueKind()) switch
            {
                (JsonValueKind.Number, JsonValueKind.Number) => r.GetValue<double>() == v.GetValue<double>(),
                (JsonValueKind.String, JsonValueKind.String) => r.GetValue<string>() == v.GetValue<string>(),
                (JsonValueKind.True or JsonValueKind.False, JsonValueKind.True or JsonValueKind.False) => r.GetValue<bool>() == v.GetValue<bool>(),
                _ => false,
            };
        }

        return false;
    }
}
