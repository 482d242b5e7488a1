using System.Globalization;
using Millrace.Protocol.Auth;

namespace Millrace.Iam.Policies;

/// <summary>The global condition keys of a request (names case-insensitive, as IAM compares them).</summary>
public static class RequestKeys
{
    public static Dictionary<string, IReadOnlyList<string>> Of(CallerIdentity caller, RequestFacts? facts)
    {
        var keys = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase)
        {
            ["aws:PrincipalArn"] = [caller.RoleArn ?? caller.Arn],
            ["aws:PrincipalAccount"] = [caller.Account],
            ["aws:userid"] = [caller.UserId],
            ["aws:PrincipalType"] = [caller.Kind switch { PrincipalKind.Root => "Account", PrincipalKind.User => "User", _ => "AssumedRole" }],
        };
        if (caller.Kind == PrincipalKind.User)
        {
            keys["aws:username"] = [caller.Name];
        }

        if (facts is not null)
        {
            keys["aws:SourceIp"] = [facts.SourceIp];
            keys["aws:SecureTransport"] = [facts.SecureTransport ? "true" : "false"];
            keys["aws:RequestedRegion"] = [facts.Region];
            keys["aws:CurrentTime"] = [facts.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)];
            keys["aws:EpochTime"] = [facts.Time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)];
        }

        return keys;
    }
}
