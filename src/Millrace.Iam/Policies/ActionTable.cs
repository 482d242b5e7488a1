using System.Collections.Frozen;
using System.Text.Json.Nodes;

namespace Millrace.Iam.Policies;

/// <summary>The IAM action and resource of one operation (Policies/actions.json, from the Service Authorization Reference).</summary>
/// <param name="Action">e.g. <c>kinesis:PutRecord</c>; null for operations that need no permission (sts:GetCallerIdentity).</param>
/// <param name="Resource">An ARN template: <c>{Region}</c>, <c>{Account}</c> and <c>{Member}</c> (a top-level input member; <c>{Member.*}</c> each key of a map member), or <c>*</c>.</param>
/// <param name="ArnMembers">Input members that may carry the resource's full ARN instead.</param>
/// <param name="Also">Further permissions the operation needs (CopyObject's s3:GetObject on its source).</param>
public sealed record ActionEntry(string? Action, string Resource, IReadOnlyList<string> ArnMembers, IReadOnlyList<ActionEntry> Also);

/// <summary>Every operation of every served service mapped to its IAM action and resource ARN.</summary>
public static class ActionTable
{
    private static readonly FrozenDictionary<string, FrozenDictionary<string, ActionEntry>> Services = Load();

    /// <summary>The entry of <paramref name="operation"/> of the service model <paramref name="service"/>, or null.</summary>
    public static ActionEntry? Find(string service, string operation) =>
        Services.TryGetValue(service, out var operations) && operations.TryGetValue(operation, out var entry) ? entry : null;

    public static IEnumerable<string> Operations(string service) => Services.TryGetValue(service, out var ops) ? ops.Keys : [];

    private static FrozenDictionary<string, FrozenDictionary<string, ActionEntry>> Load()
    {
        using var stream = typeof(ActionTable).Assembly.GetManifestResourceStream("actions.json")
            ?? throw new InvalidOperationException("actions.json is not embedded");
        var root = JsonNode.Parse(stream)!.AsObject();
        return root.ToFrozenDictionary(
            s => s.Key,
            s => s.Value!.AsObject().ToFrozenDictionary(o => o.Key, o => Entry(o.Value!.AsObject()), StringComparer.Ordinal),
            StringComparer.Ordinal);
    }

    private static ActionEntry Entry(JsonObject o) => new(
        (string?)o["action"],
        (string?)o["resource"] ?? "*",
        o["arnMembers"] is JsonArray members ? [.. members.Select(m => (string)m!)] : [],
        o["also"] is JsonArray also ? [.. also.Select(a => Entry(a!.AsObject()))] : []);
}
