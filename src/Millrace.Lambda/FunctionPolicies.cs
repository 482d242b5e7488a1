using System.Text.Json.Nodes;
using Millrace.Gateway.Authentication;

namespace Millrace.Lambda;

/// <summary>Functions' resource-based policies (AddPermission statements) for the front door's authorizer.</summary>
public sealed partial class LambdaService : IResourcePolicies
{
    string IResourcePolicies.Service => "lambda";

    // Lambda's request rates are low: root requests are always parsed rather than tracking whether any policy exists.
    ValueTask<bool> IResourcePolicies.AnyAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    /// <summary>The policy of the function an ARN names (<c>arn:aws:lambda:region:account:function:name[:qualifier]</c>).</summary>
    async ValueTask<string?> IResourcePolicies.GetAsync(string resourceArn, CancellationToken cancellationToken)
    {
        var parts = resourceArn.Split(':');
        if (parts.Length < 7 || parts[2] != "lambda" || parts[5] != "function")
        {
            return null;
        }

        var text = await _store.GetSettingsAsync(parts[6], cancellationToken);
        if (text is null || JsonNode.Parse(text)?["Policy"] is not JsonArray { Count: > 0 } statements)
        {
            return null;
        }

        return new JsonObject { ["Version"] = "2012-10-17", ["Id"] = "default", ["Statement"] = statements.DeepClone() }.ToJsonString();
    }
}
