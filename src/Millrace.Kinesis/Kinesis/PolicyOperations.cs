using System.Text.Json;
using Millrace.Protocol;

namespace Millrace.Kinesis;

/// <summary>PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy on streams. The document is stored as
/// given and returned verbatim; with --auth sigv4 the front door evaluates it (<see cref="StreamResourcePolicies"/>).</summary>
public sealed class PolicyOperations(StreamService streams)
{
    /// <summary>What GetResourcePolicy answers for a stream without a policy (Policy is required in the output).</summary>
    private const string NoPolicy = "{}";

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["PutResourcePolicy"] = PutAsync;
        operations["GetResourcePolicy"] = GetAsync;
        operations["DeleteResourcePolicy"] = DeleteAsync;
    }

    private async ValueTask PutAsync(OperationContext ctx)
    {
        var name = ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!);
        var policy = ctx.GetString("Policy")!;
        await ControlPlane.ChangeActiveStreamAsync(streams, name, ctx.CancellationToken, s =>
        {
            if (!IsJsonObject(policy))
            {
                throw KinesisException.InvalidArgument("Policy is not a valid JSON document.");
            }

            return s with { ResourcePolicy = policy };
        });
    }

    private async ValueTask GetAsync(OperationContext ctx)
    {
        var name = ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!);
        var stream = await streams.FindAsync(name, ctx.CancellationToken) ?? throw streams.StreamNotFound(name);
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("Policy", stream.ResourcePolicy ?? NoPolicy);
        w.WriteEndObject();
    }

    private async ValueTask DeleteAsync(OperationContext ctx)
    {
        var name = ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!);
        await ControlPlane.ChangeActiveStreamAsync(streams, name, ctx.CancellationToken,
            s => s.ResourcePolicy is null ? null : s with { ResourcePolicy = null });
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
