using System.Text.Json;

namespace Millrace.Iam.Policies;

/// <summary>Thrown for a policy document IAM would refuse (MalformedPolicyDocument).</summary>
public sealed class PolicySyntaxException(string message) : Exception(message);

/// <summary>One condition: an operator (with its IfExists and ForAnyValue/ForAllValues qualifiers), a key and its values.</summary>
public sealed record PolicyCondition(string Operator, string Key, IReadOnlyList<string> Values, bool IfExists, string? SetQualifier);

/// <summary>A principal element: <c>"*"</c>, or lists of AWS principals (ARNs or account ids) and service principals.</summary>
public sealed record PolicyPrincipal(bool Everyone, IReadOnlyList<string> Aws, IReadOnlyList<string> Services);

/// <summary>One statement of a policy.</summary>
public sealed record PolicyStatement(
    string? Sid,
    bool Allow,
    PolicyPrincipal? Principal,
    PolicyPrincipal? NotPrincipal,
    IReadOnlyList<string>? Actions,
    IReadOnlyList<string>? NotActions,
    IReadOnlyList<string>? Resources,
    IReadOnlyList<string>? NotResources,
    IReadOnlyList<PolicyCondition> Conditions);

/// <summary>
/// An IAM policy document (identity-based, resource-based or trust policy) parsed as IAM reads it: Version,
/// Statement as one object or a list, Effect, Principal/NotPrincipal, Action/NotAction, Resource/NotResource and
/// Condition, each value a string or a list of strings.
/// </summary>
public sealed class PolicyDocument
{
    private PolicyDocument(string? version, IReadOnlyList<PolicyStatement> statements)
    {
        Version = version;
        Statements = statements;
    }

    public string? Version { get; }

    public IReadOnlyList<PolicyStatement> Statements { get; }

    /// <summary>Parses a document; <see cref="PolicySyntaxException"/> when it is not one.</summary>
    public static PolicyDocument Parse(string text)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException)
        {
            throw Syntax();
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Statement", out var statement))
            {
                throw Syntax();
            }

            string? version = null;
            if (root.TryGetProperty("Version", out var v))
            {
                version = v.ValueKind == JsonValueKind.String ? v.GetString() : throw Syntax();
                if (version is not ("2012-10-17" or "2008-10-17"))
                {
                    throw new PolicySyntaxException("The policy failed legacy parsing");
                }
            }

            var statements = new List<PolicyStatement>();
            if (statement.ValueKind == JsonValueKind.Object)
            {
                statements.Add(ParseStatement(statement));
            }
            else if (statement.ValueKind == JsonValueKind.Array)
            {
                foreach (var s in statement.EnumerateArray())
                {
                    statements.Add(s.ValueKind == JsonValueKind.Object ? ParseStatement(s) : throw Syntax());
                }
            }
            else
            {
                throw Syntax();
            }

            return new PolicyDocument(version, statements);
        }
    }

    private static PolicyStatement ParseStatement(JsonElement s)
    {
        var effect = s.TryGetProperty("Effect", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        if (effect is not ("Allow" or "Deny"))
        {
            throw Syntax();
        }

        var actions = Strings(s, "Action");
        var notActions = Strings(s, "NotAction");
        if ((actions is null) == (notActions is null))
        {
            throw new PolicySyntaxException("Policy statement must contain actions.");
        }

        var conditions = new List<PolicyCondition>();
        if (s.TryGetProperty("Condition", out var condition))
        {
            if (condition.ValueKind != JsonValueKind.Object)
            {
                throw Syntax();
            }

            foreach (var op in condition.EnumerateObject())
            {
                if (op.Value.ValueKind != JsonValueKind.Object)
                {
                    throw Syntax();
                }

                var name = op.Name;
                string? qualifier = null;
                int colon = name.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    qualifier = name[..colon];
                    name = name[(colon + 1)..];
                    if (qualifier is not ("ForAnyValue" or "ForAllValues"))
                    {
                        throw Syntax();
                    }
                }

                bool ifExists = name.EndsWith("IfExists", StringComparison.Ordinal);
                if (ifExists)
                {
                    name = name[..^"IfExists".Length];
                }

                if (!PolicyEvaluator.IsKnownOperator(name))
                {
                    throw Syntax();
                }

                foreach (var key in op.Value.EnumerateObject())
                {
                    conditions.Add(new PolicyCondition(name, key.Name, StringsOf(key.Value) ?? throw Syntax(), ifExists, qualifier));
                }
            }
        }

        return new PolicyStatement(
            s.TryGetProperty("Sid", out var sid) && sid.ValueKind == JsonValueKind.String ? sid.GetString() : null,
            effect == "Allow",
            Principal(s, "Principal"),
            Principal(s, "NotPrincipal"),
            actions,
            notActions,
            Strings(s, "Resource"),
            Strings(s, "NotResource"),
            conditions);
    }

    private static PolicyPrincipal? Principal(JsonElement s, string name)
    {
        if (!s.TryGetProperty(name, out var p))
        {
            return null;
        }

        if (p.ValueKind == JsonValueKind.String)
        {
            return p.GetString() == "*" ? new PolicyPrincipal(true, [], []) : throw Syntax();
        }

        if (p.ValueKind != JsonValueKind.Object)
        {
            throw Syntax();
        }

        IReadOnlyList<string> aws = [], services = [];
        foreach (var member in p.EnumerateObject())
        {
            var values = StringsOf(member.Value) ?? throw Syntax();
            switch (member.Name)
            {
                case "AWS": aws = values; break;
                case "Service": services = values; break;
                case "Federated" or "CanonicalUser": break;
                default: throw Syntax();
            }
        }

        return new PolicyPrincipal(aws.Contains("*"), aws, services);
    }

    private static IReadOnlyList<string>? Strings(JsonElement s, string name) =>
        s.TryGetProperty(name, out var value) ? StringsOf(value) ?? throw Syntax() : null;

    // A string, or a list of strings; condition values may also be numbers or booleans, compared as text.
    private static List<string>? StringsOf(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return [value.GetString()!];
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                return [value.GetRawText()];
            case JsonValueKind.Array:
                var list = new List<string>();
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.String)
                    {
                        list.Add(item.GetString()!);
                    }
                    else if (item.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                    {
                        list.Add(item.GetRawText());
                    }
                    else
                    {
                        return null;
                    }
                }

                return list;
            default:
                return null;
        }
    }

    private static PolicySyntaxException Syntax() => new("Syntax errors in policy.");
}
