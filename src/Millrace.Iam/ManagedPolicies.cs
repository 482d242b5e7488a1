using System.Collections.Frozen;
using System.Text.Json.Nodes;

namespace Millrace.Iam;

/// <summary>An AWS managed policy Millrace knows: its name, ARN, path, default version, dates and document (JSON text).</summary>
public sealed record ManagedPolicy(string Name, string Arn, string Path, string DefaultVersionId, DateTimeOffset CreateDate, DateTimeOffset UpdateDate,
    string Description, string Document);

/// <summary>The AWS managed policies that can be attached (Policies/managed-policies.json, AWS's own documents).</summary>
public static class ManagedPolicies
{
    private static readonly FrozenDictionary<string, ManagedPolicy> ByArn = Load().ToFrozenDictionary(p => p.Arn, StringComparer.Ordinal);

    public static IEnumerable<ManagedPolicy> All => ByArn.Values.OrderBy(p => p.Name, StringComparer.Ordinal);

    public static ManagedPolicy? Find(string arn) => ByArn.GetValueOrDefault(arn);

    private static IEnumerable<ManagedPolicy> Load()
    {
        using var stream = typeof(ManagedPolicies).Assembly.GetManifestResourceStream("managed-policies.json")
            ?? throw new InvalidOperationException("managed-policies.json is not embedded");
        var root = JsonNode.Parse(stream)!.AsObject();
        foreach (var (name, node) in root)
        {
            var p = node!.AsObject();
            yield return new ManagedPolicy(name, (string)p["Arn"]!, (string?)p["Path"] ?? "/", (string?)p["DefaultVersionId"] ?? "v1",
                DateTimeOffset.Parse((string)p["CreateDate"]!, System.Globalization.CultureInfo.InvariantCulture),
                DateTimeOffset.Parse((string)p["UpdateDate"]!, System.Globalization.CultureInfo.InvariantCulture),
                (string?)p["Description"] ?? "", p["Document"]!.ToJsonString());
        }
    }
}
