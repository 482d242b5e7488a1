using Millrace.Gateway.Authentication;
using Millrace.Protocol;

namespace Millrace.Kinesis;

/// <summary>
/// The resource-based policies of streams and consumers (PutResourcePolicy), for the front door's authorizer, read
/// from the catalog (in memory) on each call.
/// </summary>
public sealed class StreamResourcePolicies(StreamService streams) : IResourcePolicies
{
    public string Service => "kinesis";

    public async ValueTask<bool> AnyAsync(CancellationToken cancellationToken = default) =>
        (await streams.Catalog.ListAsync(cancellationToken)).Any(s => s.ResourcePolicy is not null || s.Consumers.Any(c => c.ResourcePolicy is not null));

    /// <summary>GetRecords names its stream only inside the shard iterator.</summary>
    public string? ResourceOf(string operation, System.Text.Json.Nodes.JsonObject input) =>
        operation == "GetRecords" && input["ShardIterator"]?.GetValue<string>() is { } token && streams.Tokens.TryDecodeIterator(token, out var state)
            ? streams.StreamArn(state.StreamName)
            : null;

    public async ValueTask<string?> GetAsync(string resourceArn, CancellationToken cancellationToken = default)
    {
        try
        {
            if (resourceArn.Contains("/consumer/", StringComparison.Ordinal))
            {
                var (_, consumer) = await streams.ResolveConsumerAsync(resourceArn, cancellationToken);
                return consumer.ResourcePolicy;
            }

            if (!resourceArn.StartsWith("arn:", StringComparison.Ordinal))
            {
                return null;
            }

            return (await streams.FindAsync(streams.StreamNameFromArn(resourceArn), cancellationToken))?.ResourcePolicy;
        }
        catch (KinesisException)
        {
            return null; // no such stream or consumer: the operation answers that itself
        }
    }
}
