using System.Globalization;
using System.Net;
using Millrace.Protocol.Auth;

namespace Millrace.Iam.Policies;

/// <summary>What a request asks for: the action, the resource ARN, the caller and the condition keys (aws:SourceIp,
/// aws:SecureTransport, s3:prefix…; names compared case-insensitively).</summary>
public sealed record AuthorizationRequest(string Action, string Resource, CallerIdentity Caller, IReadOnlyDictionary<string, IReadOnlyList<string>> Keys);

/// <summary>What a trust policy grants an sts:AssumeRole caller.</summary>
public enum Trust
{
    None,
    Account,
    Principal,
    Denied,
}

/// <summary>The outcome, with the phrase AWS ends its denial message with.</summary>
public enum Decision
{
    Allow,
    ImplicitDeny,
    ExplicitIdentityDeny,
    ExplicitResourceDeny,
    SessionPolicyDeny,
}

/// <summary>
/// IAM's policy evaluation for one account, as the IAM User Guide documents it: an explicit Deny in any policy wins;
/// otherwise an Allow in an identity-based policy (narrowed by a role session's policy) or in a resource-based policy
/// naming the principal allows; otherwise the request is implicitly denied. The root user is allowed whatever its
/// identity policies say, but not past an explicit deny in a resource policy.
/// </summary>
public static class PolicyEvaluator
{
    private static readonly HashSet<string> Operators = new(StringComparer.Ordinal)
    {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
        "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
        "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    };

    public static bool IsKnownOperator(string name) => Operators.Contains(name);

    public static Decision Evaluate(AuthorizationRequest request, IReadOnlyList<PolicyDocument> identityPolicies, PolicyDocument? resourcePolicy,
        PolicyDocument? sessionPolicy = null)
    {
        var (identityDenies, identityAllows) = Scan(identityPolicies, request, principalRequired: false);
        if (identityDenies)
        {
            return Decision.ExplicitIdentityDeny;
        }

        var (resourceDenies, resourceAllows) = Scan(resourcePolicy is null ? [] : [resourcePolicy], request, principalRequired: true);
        if (resourceDenies)
        {
            return Decision.ExplicitResourceDeny;
        }

        var (sessionDenies, sessionAllows) = sessionPolicy is null ? (false, true) : Scan([sessionPolicy], request, principalRequired: false);
        if (sessionDenies)
        {
            return Decision.SessionPolicyDeny;
        }

        if (request.Caller.Kind == PrincipalKind.Root || resourceAllows || (identityAllows && sessionAllows))
        {
            return Decision.Allow;
        }

        return identityAllows ? Decision.SessionPolicyDeny : Decision.ImplicitDeny;
    }

    /// <summary>Whether any statement that applies denies, and whether any allows.</summary>
    private static (bool Denies, bool Allows) Scan(IEnumerable<PolicyDocument> policies, AuthorizationRequest request, bool principalRequired)
    {
        bool allows = false;
        foreach (var statement in policies.SelectMany(p => p.Statements))
        {
            if (Applies(statement, request, principalRequired))
            {
                if (!statement.Allow)
                {
                    return (true, allows);
                }

                allows = true;
            }
        }

        return (false, allows);
    }

    /// <summary>AWS's AccessDenied message for a decision.</summary>
    public static string DenialMessage(AuthorizationRequest request, Decision decision)
    {
        var reason = decision switch
        {
            Decision.ExplicitIdentityDeny => "with an explicit deny in an identity-based policy",
            Decision.ExplicitResourceDeny => "with an explicit deny in a resource-based policy",
            Decision.SessionPolicyDeny => $"because no session policy allows the {request.Action} action",
            _ => $"because no identity-based policy allows the {request.Action} action",
        };
        return $"User: {request.Caller.Arn} is not authorized to perform: {request.Action} on resource: {request.Resource} {reason}";
    }

    /// <summary>
    /// What a role's trust policy says about an sts:AssumeRole request: <see cref="Trust.Principal"/> when it names the
    /// caller (enough by itself), <see cref="Trust.Account"/> when it names the caller's account (the caller's own
    /// policies must then allow sts:AssumeRole), <see cref="Trust.None"/> otherwise, or an explicit deny.
    /// </summary>
    public static Trust TrustOf(PolicyDocument trust, AuthorizationRequest request)
    {
        var result = Trust.None;
        foreach (var statement in trust.Statements)
        {
            if (Applies(statement, request, principalRequired: true))
            {
                if (!statement.Allow)
                {
                    return Trust.Denied;
                }

                result = Trust.Principal;
            }
            else if (statement.Allow && result == Trust.None && statement.Principal is { } principal
                && principal.Aws.Any(a => a == request.Caller.Account || a == $"arn:aws:iam::{request.Caller.Account}:root")
                && Applies(statement with { Principal = new PolicyPrincipal(true, [], []) }, request, principalRequired: true))
            {
                result = Trust.Account;
            }
        }

        return result;
    }

    private static bool Applies(PolicyStatement statement, AuthorizationRequest request, bool principalRequired)
    {
        if (principalRequired)
        {
            if (statement.Principal is { } principal ? !PrincipalMatches(principal, request.Caller)
                : statement.NotPrincipal is not { } notPrincipal || PrincipalMatches(notPrincipal, request.Caller))
            {
                return false;
            }
        }

        if (statement.Actions is { } actions ? !actions.Any(a => Glob(a, request.Action, ignoreCase: true))
            : statement.NotActions!.Any(a => Glob(a, request.Action, ignoreCase: true)))
        {
            return false;
        }

        if (statement.Resources is { } resources)
        {
            if (!resources.Any(r => Glob(Substitute(r, request), request.Resource, ignoreCase: false)))
            {
                return false;
            }
        }
        else if (statement.NotResources is { } notResources)
        {
            if (notResources.Any(r => Glob(Substitute(r, request), request.Resource, ignoreCase: false)))
            {
                return false;
            }
        }
        else if (!principalRequired)
        {
            return false; // an identity-based statement must name resources
        }

        return statement.Conditions.All(c => ConditionHolds(c, request));
    }

    private static bool PrincipalMatches(PolicyPrincipal principal, CallerIdentity caller)
    {
        if (principal.Everyone)
        {
            return true;
        }

        // The account as principal ("000000000000" or its root ARN) means the root user itself; for everyone else in
        // the account it delegates to their identity-based policies, which must then allow the action.
        foreach (var aws in principal.Aws)
        {
            if (aws == caller.Arn || (caller.RoleArn is not null && aws == caller.RoleArn)
                || (caller.Kind == PrincipalKind.Root && (aws == caller.Account || aws == $"arn:aws:iam::{caller.Account}:root")))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ConditionHolds(PolicyCondition condition, AuthorizationRequest request)
    {
        var present = request.Keys.TryGetValue(condition.Key, out var actual) && actual.Count > 0;
        var op = condition.Operator;
        if (op == "Null")
        {
            // "true": the key must be absent.
            return condition.Values.Any(v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase)) != present;
        }

        bool negated = op is "StringNotEquals" or "StringNotEqualsIgnoreCase" or "StringNotLike" or "NumericNotEquals" or "DateNotEquals"
            or "NotIpAddress" or "ArnNotEquals" or "ArnNotLike";
        if (!present)
        {
            return condition.IfExists || negated;
        }

        var values = condition.Values.Select(v => Substitute(v, request)).ToList();
        var positive = negated ? Positive(op) : op;
        bool Matches(string a) => values.Any(v => Compare(positive, a, v));
        if (condition.SetQualifier == "ForAllValues")
        {
            return actual!.All(a => negated ? !Matches(a) : Matches(a));
        }

        // ForAnyValue, or a single-valued key: any value of the request matching any value of the policy.
        bool any = actual!.Any(Matches);
        return negated ? !any : any;
    }

    private static string Positive(string op) => op switch
    {
        "StringNotEquals" => "StringEquals",
        "StringNotEqualsIgnoreCase" => "StringEqualsIgnoreCase",
        "StringNotLike" => "StringLike",
        "NumericNotEquals" => "NumericEquals",
        "DateNotEquals" => "DateEquals",
        "NotIpAddress" => "IpAddress",
        "ArnNotEquals" => "ArnEquals",
        _ => "ArnLike",
    };

    private static bool Compare(string op, string actual, string expected)
    {
        switch (op)
        {
            case "StringEquals" or "ArnEquals" or "BinaryEquals":
                return string.Equals(actual, expected, StringComparison.Ordinal);
            case "StringEqualsIgnoreCase":
                return string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase);
            case "StringLike" or "ArnLike":
                return Glob(expected, actual, ignoreCase: false);
            case "Bool":
                return string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase);
            case "IpAddress":
                return IPAddress.TryParse(actual, out var ip) && TryNetwork(expected, out var network) && network.Contains(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip);
        }

        if (op.StartsWith("Numeric", StringComparison.Ordinal))
        {
            if (!double.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
                || !double.TryParse(expected, NumberStyles.Float, CultureInfo.InvariantCulture, out var e))
            {
                return false;
            }

            return Order(op["Numeric".Length..], a.CompareTo(e));
        }

        if (op.StartsWith("Date", StringComparison.Ordinal))
        {
            if (!TryDate(actual, out var a) || !TryDate(expected, out var e))
            {
                return false;
            }

            return Order(op["Date".Length..], a.CompareTo(e));
        }

        return false;
    }

    private static bool Order(string relation, int comparison) => relation switch
    {
        "Equals" => comparison == 0,
        "LessThan" => comparison < 0,
        "LessThanEquals" => comparison <= 0,
        "GreaterThan" => comparison > 0,
        "GreaterThanEquals" => comparison >= 0,
        _ => false,
    };

    private static bool TryNetwork(string cidr, out IPNetwork network)
    {
        if (IPNetwork.TryParse(cidr, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(cidr, out var single))
        {
            network = new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }

    private static bool TryDate(string text, out DateTimeOffset time)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var epoch))
        {
            time = DateTimeOffset.FromUnixTimeSeconds(epoch);
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
    }

    /// <summary>Policy variables: <c>${aws:username}</c> and any other request key, plus <c>${*}</c>, <c>${?}</c>, <c>${$}</c>.</summary>
    private static string Substitute(string value, AuthorizationRequest request)
    {
        if (!value.Contains("${", StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new System.Text.StringBuilder(value.Length);
        int i = 0;
        while (i < value.Length)
        {
            int start = value.IndexOf("${", i, StringComparison.Ordinal);
            int end = start < 0 ? -1 : value.IndexOf('}', start);
            if (start < 0 || end < 0)
            {
                sb.Append(value, i, value.Length - i);
                break;
            }

            sb.Append(value, i, start - i);
            var name = value[(start + 2)..end];
            sb.Append(name switch
            {
                "*" => "*",
                "?" => "?",
                "$" => "$",
                _ => request.Keys.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : "",
            });
            i = end + 1;
        }

        return sb.ToString();
    }

    /// <summary>IAM's wildcard match: '*' any run of characters, '?' one character.</summary>
    public static bool Glob(string pattern, string text, bool ignoreCase)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || Same(pattern[p], text[t], ignoreCase)))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    private static bool Same(char a, char b, bool ignoreCase) => a == b || (ignoreCase && char.ToLowerInvariant(a) == char.ToLowerInvariant(b));
}
